/* buf.c: growable byte buffers, separator framing and non-blocking I/O. */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Make an empty buffer; it allocates nothing until bytes are added. */
void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof *b);
}

/*
 * Make an empty buffer that uses size bytes at home, lent by its owner, until
 * it must grow beyond them; memory it then takes from the heap is given back
 * when the buffer is freed, and home is used again.
 */
void
buf_init_home(struct buf *b, char *home, size_t size)
{
	buf_init(b);
	b->home = b->data = home;
	b->home_cap = b->cap = size;
	home[0] = '\0';
}

/* Free a buffer's heap memory and leave it empty and reusable. */
void
buf_free(struct buf *b)
{
	if (b->data != b->home) {
		free(b->data);
		b->data = b->home;
		b->cap = b->home_cap;
	}
	buf_reset(b);
}

/* Drop the contents, keeping the memory. */
void
buf_reset(struct buf *b)
{
	b->off = b->len = b->scan = 0;
	if (b->cap > 0)
		b->data[0] = '\0';
}

/* Make room for n more bytes (plus the terminating NUL) after len. */
void
buf_reserve(struct buf *b, size_t n)
{
	size_t	 used = b->len - b->off, want;

	if (b->cap - b->len > n)
		return;
	/* Move the unconsumed bytes down before growing. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, used);
		b->scan -= b->off;
		b->len = used;
		b->off = 0;
		b->data[b->len] = '\0';
		if (b->cap - b->len > n)
			return;
	}
	want = b->cap < 256 ? 256 : b->cap;
	while (want - b->len <= n)
		want *= 2;
	if (b->data != NULL && b->data == b->home) {
		b->data = xmalloc(want);
		memcpy(b->data, b->home, b->len);
	} else
		b->data = xreallocarray(b->data, want, 1);
	b->cap = want;
	b->data[b->len] = '\0';
}

/* Append n bytes: the slow path of buf_add, when room must be made. */
void
buf_add_slow(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a NUL-terminated string. */
void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * Write an unsigned integer in decimal, two digits at a time, to out (room
 * for 20 bytes, not NUL-terminated).  Return how many bytes it took.
 */
size_t
buf_uint_text(char *out, uint64_t v)
{
	static const char	 pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "62636465666768697071727374757677787980818283848586878889909192"
	    "939495969798990";
	char			 tmp[24], *p = tmp + sizeof tmp;
	size_t			 n;

	if (v < 10) {
		/* attempts, and the whole milliseconds of most tasks */
		out[0] = '0' + (char)v;
		return 1;
	}
	while (v >= 100) {
		p -= 2;
		memcpy(p, pairs + (v % 100) * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + v * 2, 2);
	} else
		*--p = '0' + v;
	n = tmp + sizeof tmp - p;
	memcpy(out, p, n);
	return n;
}

/* Append an unsigned integer in decimal. */
void
buf_add_uint(struct buf *b, uint64_t v)
{
	char	 text[24];

	buf_add(b, text, buf_uint_text(text, v));
}

/* Append printf-formatted text. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/*
 * Append len bytes of text on one line: newlines, tabs and the other
 * control characters written as \n, \t and \xHH.
 */
void
buf_add_line(struct buf *b, const char *text, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (c == '\n')
			buf_add(b, "\\n", 2);
		else if (c == '\t')
			buf_add(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
}

/* Mark n unconsumed bytes as consumed. */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->scan < b->off)
		b->scan = b->off;
	if (b->off == b->len)
		buf_reset(b);
}

/* Free the memory of an empty buffer that grew beyond limit bytes. */
void
buf_shrink(struct buf *b, size_t limit)
{
	if (b->cap > limit && b->len == b->off)
		buf_free(b);
}

/*
 * Find the next record ended by sep among the unconsumed bytes.  Return its
 * start and set *len to its length without sep, consuming it and sep; or
 * return NULL when no complete record is buffered yet.  The search resumes
 * where the last one stopped, so a long record is scanned once.
 */
char *
buf_frame(struct buf *b, int sep, size_t *len)
{
	char	*start, *end;

	if (b->scan < b->off)
		b->scan = b->off;
	if (b->scan >= b->len)
		return NULL;
	end = memchr(b->data + b->scan, sep, b->len - b->scan);
	if (end == NULL) {
		b->scan = b->len;
		return NULL;
	}
	start = b->data + b->off;
	*len = end - start;
	b->off += *len + 1;
	b->scan = b->off;
	/* Keep the memory, but let the next read start at the beginning. */
	if (b->off == b->len)
		b->off = b->len = b->scan = 0;
	return start;
}

/*
 * Read up to max bytes from fd after the buffered ones.  Return the count,
 * 0 at end of file, or -1 with errno (EAGAIN when nothing is ready).
 */
ssize_t
buf_read(struct buf *b, int fd, size_t max)
{
	ssize_t	 n;

	buf_reserve(b, max);
	do
		n = read(fd, b->data + b->len, max);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		b->len += n;
		b->data[b->len] = '\0';
	}
	return n;
}

/*
 * Write unconsumed bytes to fd, consuming what was written.  Return the
 * count written, or -1 with errno (EAGAIN when fd is full, EPIPE when its
 * reader is gone).
 */
ssize_t
buf_write(struct buf *b, int fd)
{
	ssize_t	 n;

	if (buf_used(b) == 0)
		return 0;
	do
		n = write(fd, buf_head(b), buf_used(b));
	while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_consume(b, n);
	return n;
}
