/* json.c: a strict RFC 8259 scanner over raw bytes: check, find, trim, escape. */

#include "config.h"

#include <string.h>

#include "ppool.h"

struct scan {
	const unsigned char	*p;
	const unsigned char	*end;
	int			 depth;
};

static int	json_scan_value(struct scan *);

/* Skip JSON whitespace. */
static void
json_scan_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/*
 * Length of the valid UTF-8 sequence at p (1 to 4), or 0 when it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are refused.
 */
static size_t
json_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char	 c = p[0];
	size_t		 n, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

/* Scan a string token starting at its opening quote. */
static int
json_scan_string(struct scan *s)
{
	size_t	 n;
	int	 i;

	s->p++;
	for (;;) {
		/* The common case: a run of plain ASCII. */
		while (s->p < s->end && *s->p >= 0x20 && *s->p < 0x80 &&
		    *s->p != '"' && *s->p != '\\')
			s->p++;
		if (s->p >= s->end)
			return -1;
		if (*s->p == '"') {
			s->p++;
			return 0;
		}
		if (*s->p == '\\') {
			if (++s->p >= s->end)
				return -1;
			switch (*s->p) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				s->p++;
				break;
			case 'u':
				s->p++;
				for (i = 0; i < 4; i++, s->p++) {
					if (s->p >= s->end ||
					    strchr("0123456789abcdefABCDEF",
					    *s->p) == NULL || *s->p == '\0')
						return -1;
				}
				break;
			default:
				return -1;
			}
			continue;
		}
		if (*s->p < 0x20)
			return -1;
		if ((n = json_utf8_seq(s->p, s->end)) == 0)
			return -1;
		s->p += n;
	}
}

/* Scan one or more decimal digits. */
static int
json_scan_digits(struct scan *s)
{
	const unsigned char	*start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p == start ? -1 : 0;
}

/* Scan a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
json_scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return -1;
	if (*s->p == '0')
		s->p++;
	else if (json_scan_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (json_scan_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (json_scan_digits(s) == -1)
			return -1;
	}
	return 0;
}

/* Scan a literal word such as true. */
static int
json_scan_word(struct scan *s, const char *word)
{
	size_t	 n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* Scan an object or an array starting at its opening bracket. */
static int
json_scan_container(struct scan *s)
{
	int	 object = (*s->p == '{');
	char	 close = object ? '}' : ']';

	if (++s->depth > JSON_DEPTH_MAX)
		return -1;
	s->p++;
	json_scan_space(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"' ||
			    json_scan_string(s) == -1)
				return -1;
			json_scan_space(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
			json_scan_space(s);
		}
		if (json_scan_value(s) == -1)
			return -1;
		json_scan_space(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
		json_scan_space(s);
	}
}

/* Scan one value; leading whitespace must already be skipped. */
static int
json_scan_value(struct scan *s)
{
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return json_scan_string(s);
	case '{':
	case '[':
		return json_scan_container(s);
	case 't':
		return json_scan_word(s, "true");
	case 'f':
		return json_scan_word(s, "false");
	case 'n':
		return json_scan_word(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return json_scan_number(s);
		return -1;
	}
}

/*
 * Check that s holds exactly one JSON value with optional whitespace around
 * it.  Return 0, or -1 with *erroff set to the 0-based offset of the first
 * byte that cannot be part of a valid text, or -2 with *erroff at the
 * bracket that nests deeper than JSON_DEPTH_MAX.
 */
int
json_check(const char *text, size_t len, size_t *erroff)
{
	struct scan	 s;
	size_t		 i;

	/* The commonest text, a bare positive integer, needs no scanner. */
	if (len > 0 && text[0] >= '1' && text[0] <= '9') {
		for (i = 1; i < len && text[i] >= '0' && text[i] <= '9'; i++)
			;
		if (i == len)
			return 0;
	}
	s.p = (const unsigned char *)text;
	s.end = s.p + len;
	s.depth = 0;
	json_scan_space(&s);
	if (json_scan_value(&s) == 0) {
		json_scan_space(&s);
		if (s.p == s.end)
			return 0;
	}
	if (erroff != NULL)
		*erroff = (const char *)s.p - text;
	/* Only a refused bracket leaves the depth above the limit. */
	return s.depth > JSON_DEPTH_MAX ? -2 : -1;
}

/*
 * Step through the elements of a checked JSON array, or the members of a
 * checked JSON object (when key is not NULL), held in text: *pos starts at
 * 0.  Return 1 with the span of the next value, and of its key with its
 * quotes, or 0 at the end.
 */
static int
json_next(const char *text, size_t len, size_t *pos, size_t *key,
    size_t *klen, size_t *off, size_t *vlen)
{
	struct scan		 s;
	const unsigned char	*value;
	int			 object = key != NULL;

	s.p = (const unsigned char *)text + *pos;
	s.end = (const unsigned char *)text + len;
	s.depth = 0;
	json_scan_space(&s);
	if (s.p >= s.end)
		return 0;
	if (*s.p == (object ? '{' : '[') || *s.p == ',')
		s.p++;
	json_scan_space(&s);
	if (object) {
		*key = (const char *)s.p - text;
		if (s.p >= s.end || *s.p != '"' || json_scan_string(&s) == -1)
			return 0;
		*klen = (const char *)s.p - text - *key;
		json_scan_space(&s);
		if (s.p >= s.end || *s.p != ':')
			return 0;
		s.p++;
		json_scan_space(&s);
	}
	if (s.p >= s.end || *s.p == ']')
		return 0;
	value = s.p;
	if (json_scan_value(&s) == -1)
		return 0;
	*off = (const char *)value - text;
	*vlen = s.p - value;
	*pos = (const char *)s.p - text;
	return 1;
}

/* Step through the elements of a checked JSON array (see json_next). */
int
json_array_next(const char *text, size_t len, size_t *pos, size_t *off,
    size_t *vlen)
{
	return json_next(text, len, pos, NULL, NULL, off, vlen);
}

/* Step through the members of a checked JSON object (see json_next). */
int
json_object_next(const char *text, size_t len, size_t *pos, size_t *key,
    size_t *klen, size_t *off, size_t *vlen)
{
	return json_next(text, len, pos, key, klen, off, vlen);
}

/*
 * In a checked JSON text whose value is an object, find the members named
 * by names, a NULL-terminated list, comparing keys after decoding their
 * escapes: set off[i] and vlen[i] to the span of the value of names[i], or
 * both to 0 when there is none, and, when idx is not NULL, idx[i] to its
 * place among the object's members (0 for the first), the index of its item
 * in a parser's tree of the same text.  Return 0, or -1 with *dup the index
 * of a name the object gives more than once.
 */
int
json_members(const char *text, size_t len, const char *const *names,
    size_t *off, size_t *vlen, size_t *idx, size_t *dup)
{
	struct buf	 name;
	char		 home[64];
	const char	*key;
	size_t		 pos = 0, k, klen, o, n, i, m;
	int		 rc = 0;

	for (i = 0; names[i] != NULL; i++) {
		off[i] = vlen[i] = 0;
		if (idx != NULL)
			idx[i] = 0;
	}
	/* Most tasks of a pool are no object (a number, a string): no look. */
	while (pos < len && (text[pos] == ' ' || text[pos] == '\t' ||
	    text[pos] == '\r' || text[pos] == '\n'))
		pos++;
	if (pos == len || text[pos] != '{')
		return 0;
	pos = 0;
	buf_init_home(&name, home, sizeof home);
	for (m = 0; json_object_next(text, len, &pos, &k, &klen, &o, &n);
	    m++) {
		/* The key without its quotes; decoded only when it must be. */
		key = text + k + 1;
		klen -= 2;
		if (memchr(key, '\\', klen) != NULL) {
			buf_reset(&name);
			json_decode_string(text + k, klen + 2, &name);
			key = name.data;
			klen = name.len;
		}
		for (i = 0; names[i] != NULL; i++) {
			if (strlen(names[i]) == klen &&
			    memcmp(names[i], key, klen) == 0)
				break;
		}
		if (names[i] == NULL)
			continue;
		/* A value is never empty: vlen 0 means not seen yet. */
		if (vlen[i] > 0) {
			*dup = i;
			rc = -1;
			break;
		}
		off[i] = o;
		vlen[i] = n;
		if (idx != NULL)
			idx[i] = m;
	}
	buf_free(&name);
	return rc;
}

/* The value of one hexadecimal digit. */
static unsigned
json_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/* Append a code point as UTF-8 (a lone surrogate as U+FFFD). */
static void
json_add_utf8(struct buf *b, unsigned cp)
{
	char	 u[4];

	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		buf_add(b, u, 3);
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		buf_add(b, u, 4);
	}
}

/*
 * Decode a checked JSON string token (quotes included) into its bytes,
 * NUL bytes included.  Return 1 when the text holds a NUL byte, else 0.
 */
int
json_decode_string(const char *tok, size_t len, struct buf *b)
{
	const char	*esc;
	size_t		 i, end, run;
	unsigned	 cp, lo;
	int		 nul = 0;

	/* Not a token: nothing to decode (and no end to wrap below 0). */
	if (len < 2)
		return 0;
	end = len - 1;
	for (i = 1; i < end; i++) {
		if (tok[i] != '\\') {
			/* The bytes up to the next escape, at once. */
			esc = memchr(tok + i, '\\', end - i);
			run = esc != NULL ? (size_t)(esc - tok) - i : end - i;
			buf_add(b, tok + i, run);
			i += run - 1;
			continue;
		}
		switch (tok[++i]) {
		case 'b':
			buf_addc(b, '\b');
			break;
		case 'f':
			buf_addc(b, '\f');
			break;
		case 'n':
			buf_addc(b, '\n');
			break;
		case 'r':
			buf_addc(b, '\r');
			break;
		case 't':
			buf_addc(b, '\t');
			break;
		case 'u':
			cp = json_hex(tok[i + 1]) << 12 | json_hex(tok[i + 2]) << 8 |
			    json_hex(tok[i + 3]) << 4 | json_hex(tok[i + 4]);
			i += 4;
			/* A surrogate pair is one code point. */
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < end &&
			    tok[i + 1] == '\\' && tok[i + 2] == 'u') {
				lo = json_hex(tok[i + 3]) << 12 |
				    json_hex(tok[i + 4]) << 8 |
				    json_hex(tok[i + 5]) << 4 | json_hex(tok[i + 6]);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp == 0)
				nul = 1;
			/* A lone \udc80..\udcff is the byte 80..ff (json_add_bytes). */
			if (cp >= 0xdc80 && cp <= 0xdcff)
				buf_addc(b, (char)(cp & 0xff));
			else
				json_add_utf8(b, cp);
			break;
		default:
			buf_addc(b, tok[i]);
			break;
		}
	}
	return nul;
}

/* Narrow [0, len) of text to the span without surrounding whitespace. */
void
json_trim(const char *text, size_t len, size_t *off, size_t *vlen)
{
	size_t	 a = 0, b = len;

	while (a < b && (text[a] == ' ' || text[a] == '\t' ||
	    text[a] == '\r' || text[a] == '\n'))
		a++;
	while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
	    text[b - 1] == '\r' || text[b - 1] == '\n'))
		b--;
	*off = a;
	*vlen = b - a;
}

/* Return 1 when the bytes are valid UTF-8. */
int
json_utf8_valid(const char *text, size_t len)
{
	const unsigned char	*p = (const unsigned char *)text, *end = p + len;
	size_t			 n;

	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((n = json_utf8_seq(p, end)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

/* Append bytes as a JSON string; the bytes must be valid UTF-8. */
void
json_add_string(struct buf *b, const char *text, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)text;
	size_t			 i, run = 0;
	char			 esc[6];

	buf_reserve(b, len + 2);
	buf_addc(b, '"');
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
			continue;
		buf_add(b, text + run, i - run);
		run = i + 1;
		switch (p[i]) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[p[i] >> 4];
			esc[5] = hex[p[i] & 0xf];
			buf_add(b, esc, 6);
			break;
		}
	}
	buf_add(b, text + run, len - run);
	buf_addc(b, '"');
}

/* Append bytes as a JSON string of their base64 (RFC 4648) encoding. */
void
json_add_base64(struct buf *b, const char *text, size_t len)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = (const unsigned char *)text;
	size_t			 i;
	char			 q[4];
	unsigned		 v;

	buf_reserve(b, (len + 2) / 3 * 4 + 2);
	buf_addc(b, '"');
	for (i = 0; i + 2 < len; i += 3) {
		v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = tab[(v >> 6) & 63];
		q[3] = tab[v & 63];
		buf_add(b, q, 4);
	}
	if (i < len) {
		v = p[i] << 16 | (i + 1 < len ? p[i + 1] << 8 : 0);
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		q[3] = '=';
		buf_add(b, q, 4);
	}
	buf_addc(b, '"');
}

/*
 * Append text as a JSON string for display; bytes that are not valid UTF-8
 * become U+FFFD.  Use json_add_string or json_add_base64 where every byte
 * matters.
 */
void
json_add_text(struct buf *b, const char *text, size_t len)
{
	struct buf		 clean;
	const unsigned char	*p = (const unsigned char *)text;
	const unsigned char	*end = p + len;
	size_t			 n;

	if (json_utf8_valid(text, len)) {
		json_add_string(b, text, len);
		return;
	}
	buf_init(&clean);
	while (p < end) {
		if ((n = json_utf8_seq(p, end)) == 0) {
			buf_add(&clean, "\xef\xbf\xbd", 3);
			p++;
			continue;
		}
		buf_add(&clean, p, n);
		p += n;
	}
	json_add_string(b, clean.data, clean.len);
	buf_free(&clean);
}

/*
 * Append bytes as a JSON string that decodes to them exactly: a byte that
 * is not part of valid UTF-8 is written as a lone surrogate escape,
 * \udc80 to \udcff, which json_decode_string turns back into the byte
 * (Python's "surrogateescape").  File names need not be UTF-8.
 */
void
json_add_bytes(struct buf *b, const char *text, size_t len)
{
	struct buf		 run;
	const unsigned char	*p = (const unsigned char *)text;
	const unsigned char	*end = p + len, *start;
	size_t			 n;

	if (json_utf8_valid(text, len)) {
		json_add_string(b, text, len);
		return;
	}
	buf_init(&run);
	buf_addc(b, '"');
	while (p < end) {
		for (start = p; p < end && (n = json_utf8_seq(p, end)) != 0; p += n)
			;
		if (p > start) {
			buf_reset(&run);
			json_add_string(&run, (const char *)start, p - start);
			buf_add(b, run.data + 1, run.len - 2);
		}
		if (p < end)
			buf_printf(b, "\\udc%02x", *p++);
	}
	buf_addc(b, '"');
	buf_free(&run);
}
