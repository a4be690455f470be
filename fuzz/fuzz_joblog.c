/* fuzz_joblog.c: a libFuzzer target for the --resume reader of an earlier joblog. */

#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* The lines of one input looked up after reading it. */
#define FUZZ_LOOKUPS	32

/* What a plain reading of one whole line says ppool should remember. */
struct fuzz_line {
	int		 valid;		/* a task's line, not the header */
	uint64_t	 seq;
	int		 ok;		/* exit 0, signal 0 */
	int		 clean;		/* its task field is as ppool writes it */
	struct buf	 task;		/* the task field, unescaped */
};

/* Undo the joblog's escapes of \t, \n, \r and \\ (others stay as they are). */
static void
fuzz_unescape(struct buf *b, const char *p, size_t len)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '\\' && i + 1 < len) {
			switch (p[i + 1]) {
			case 't':
				c = '\t';
				i++;
				break;
			case 'n':
				c = '\n';
				i++;
				break;
			case 'r':
				c = '\r';
				i++;
				break;
			case '\\':
				i++;
				break;
			}
		}
		buf_addc(b, c);
	}
}

/* Return 1 when escaping text gives back the len bytes at p. */
static int
fuzz_roundtrip(const struct buf *text, const char *p, size_t len)
{
	struct buf	 b;
	size_t		 i;
	char		 c;
	int		 same;

	buf_init(&b);
	for (i = 0; i < text->len; i++) {
		c = text->data[i];
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			buf_addc(&b, '\\');
			c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ?
			    'r' : '\\';
		}
		buf_addc(&b, c);
	}
	same = b.len == len && (len == 0 || memcmp(b.data, p, len) == 0);
	buf_free(&b);
	return same;
}

/*
 * Read one whole line as the joblog's format says: up to 9 tab-separated
 * fields (8 before the Host column), the last one the escaped task, a
 * first one a seq from 1 to 2^40.
 */
static void
fuzz_line(struct fuzz_line *l, const char *p, size_t len)
{
	char		*copy, *field[9], *end, *q, *tab;
	unsigned long long seq;
	size_t		 n = 0;

	memset(l, 0, sizeof *l);
	buf_init(&l->task);
	copy = malloc(len + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, p, len);
	copy[len] = '\0';
	end = copy + len;
	q = copy;
	for (;;) {
		field[n++] = q;
		if (n == 9 || (tab = memchr(q, '\t', end - q)) == NULL)
			break;
		*tab = '\0';
		q = tab + 1;
	}
	if (n >= 8) {
		errno = 0;
		seq = strtoull(field[0], NULL, 10);
		if (seq != 0 && errno == 0 && seq <= (1ULL << 40)) {
			l->valid = 1;
			l->seq = seq;
			l->ok = strcmp(field[3], "0") == 0 &&
			    strcmp(field[4], "0") == 0;
			fuzz_unescape(&l->task, field[n - 1],
			    end - field[n - 1]);
			l->clean = fuzz_roundtrip(&l->task, field[n - 1],
			    end - field[n - 1]);
		}
	}
	free(copy);
}

/* Ask the reader whether the task of seq with text is finished. */
static int
fuzz_skip(uint64_t seq, const struct buf *text)
{
	struct slot	 s;
	int		 skip;

	memset(&s, 0, sizeof s);
	buf_init(&s.task);
	if (text != NULL)
		buf_add(&s.task, text->data, text->len);
	s.seq = seq;
	skip = joblog_skip(&s);
	buf_free(&s.task);
	return skip;
}

/*
 * Read the log in pieces of chunk bytes (0: at once), as --resume reads a
 * file, then look up each line's seq and task: set skip[i] for line i.
 * Return what joblog_parse returned.
 */
static int
fuzz_read(struct config *cfg, const char *data, size_t size, size_t chunk,
    struct fuzz_line *lines, size_t nlines, int *skip)
{
	struct buf	 b;
	char		 msg[256];
	size_t		 at = 0, n, i;
	int		 rc = 0;

	cfg->joblog = NULL;
	joblog_open(cfg);
	/* Named only now: joblog_open would open it. */
	cfg->joblog = "fuzz.joblog";
	buf_init(&b);
	if (chunk == 0)
		chunk = size;
	do {
		n = size - at < chunk ? size - at : chunk;
		buf_add(&b, data + at, n);
		at += n;
		msg[0] = '\0';
		rc = joblog_parse(&b, at == size, cfg->max_line, msg,
		    sizeof msg);
		if (rc == -1 && msg[0] == '\0')
			abort();
	} while (rc == 0 && at < size);
	if (rc == 0) {
		for (i = 0; i < nlines; i++)
			skip[i] = lines[i].valid ?
			    fuzz_skip(lines[i].seq, &lines[i].task) : 0;
		/* Seq 0 and seqs past 2^40 are never a task's. */
		if (fuzz_skip(0, NULL) || fuzz_skip((1ULL << 40) + 1, NULL))
			abort();
	}
	joblog_close();
	buf_free(&b);
	return rc;
}

/*
 * Read one input at once and in pieces: both must agree, and a line as
 * ppool writes it, the last of its seq, must be found finished (with
 * --resume-failed: when it succeeded).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		 cfg;
	struct fuzz_line	 lines[FUZZ_LOOKUPS];
	int			 whole[FUZZ_LOOKUPS], parts[FUZZ_LOOKUPS];
	const char		*text, *nl;
	size_t			 len, nlines = 0, i, j, chunk;
	uint8_t			 mode;
	int			 rc;

	if (size == 0)
		return 0;
	mode = data[0];
	text = (const char *)data + 1;
	len = size - 1;
	memset(&cfg, 0, sizeof cfg);
	cfg.resume = 1;
	cfg.resume_failed = mode & 1;
	/* A small --max-line reaches the "is it a joblog?" refusal. */
	cfg.max_line = (mode & 2) ? 16 : 1 << 20;
	chunk = mode >> 2;

	/* The whole lines: a torn last one is not read. */
	for (i = 0; i < len && nlines < FUZZ_LOOKUPS; i = nl - text + 1) {
		if ((nl = memchr(text + i, '\n', len - i)) == NULL)
			break;
		fuzz_line(&lines[nlines++], text + i, nl - (text + i));
	}

	rc = fuzz_read(&cfg, text, len, 0, lines, nlines, whole);
	if (rc == 0) {
		for (i = 0; i < nlines; i++) {
			if (!lines[i].valid || !lines[i].clean)
				continue;
			for (j = i + 1; j < nlines; j++)
				if (lines[j].valid &&
				    lines[j].seq == lines[i].seq)
					break;
			/* Beyond the lines looked at, a later one may count. */
			if (j < nlines || nlines == FUZZ_LOOKUPS)
				continue;
			if (whole[i] != (cfg.resume_failed ? lines[i].ok : 1))
				abort();
		}
	}
	/* In pieces, a long line may be refused before its end comes. */
	if (chunk > 0 && fuzz_read(&cfg, text, len, chunk, lines, nlines,
	    parts) == 0 && rc == 0 && memcmp(whole, parts,
	    nlines * sizeof *whole) != 0)
		abort();

	for (i = 0; i < nlines; i++)
		buf_free(&lines[i].task);
	return 0;
}
