/* fuzz_blocks.c: a libFuzzer target for block.c: --pipe and --pipepart cuts, read from a pipe and sought in a file, against a plain reference. */

#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* stderr while block.c runs (its warning goes to /dev/null), or -1. */
static int	fuzz_stderr = -1;

/* Stop with the line of the check that failed, on the real stderr. */
static void __attribute__((noreturn))
fuzz_fail(int line)
{
	if (fuzz_stderr != -1)
		dup2(fuzz_stderr, STDERR_FILENO);
	dprintf(STDERR_FILENO, "fuzz_blocks.c:%d: check failed\n", line);
	abort();
}
#define FUZZ_CHECK(cond)	do { if (!(cond)) fuzz_fail(__LINE__); } while (0)

/* The separator recend + recstart: the cut falls after endlen bytes. */
struct fuzz_sep {
	const char	*sep;
	size_t		 len;
	size_t		 endlen;
};

/* Whether a record end starts at p (wholly inside n bytes). */
static int
fuzz_sep_at(const char *d, size_t n, size_t p, const struct fuzz_sep *s)
{
	return p + s->len <= n && memcmp(d + p, s->sep, s->len) == 0;
}

/*
 * Where the block starting at pos ends, by the rules as the man page
 * states them, the slow way: --pipe: the last record end within size
 * bytes, else (a long record) the first one after; --pipepart: the first
 * record end at or after size bytes.  A cut leaves bytes before it.
 */
static size_t
fuzz_ref_end(const char *d, size_t n, size_t pos, size_t size, int part,
    const struct fuzz_sep *s)
{
	size_t	 w = pos + size, p, from;

	/* --pipe cuts exactly size bytes left too, as GNU parallel does. */
	if (w > n || (w == n && part))
		return n;
	if (s->len == 0)
		return w;
	if (!part) {
		for (p = w - s->len + 1; s->len <= w - pos && p-- > pos; ) {
			if (fuzz_sep_at(d, w, p, s) && p + s->endlen > pos)
				return p + s->endlen;
		}
		from = w - pos >= s->len ? w - s->len + 1 : pos;
	} else
		from = w;
	for (p = from; p < n; p++) {
		if (fuzz_sep_at(d, n, p, s) && p + s->endlen > pos)
			return p + s->endlen;
	}
	return n;
}

/* Read back what block_write put in a pipe: it must be the block's bytes. */
static void
fuzz_check_write(const struct block *b, const char *d)
{
	char		 got[8192];
	uint64_t	 sent = 0;
	size_t		 have = 0;
	ssize_t		 r;
	int		 p[2];

	FUZZ_CHECK(b->len <= sizeof got && pipe2(p, O_NONBLOCK) == 0);
	while ((r = block_write(b, &sent, p[1])) > 0) {
		FUZZ_CHECK((size_t)r <= sizeof got - have);
		/* Drain as it goes: the pipe holds less than a block. */
		while ((r = read(p[0], got + have, sizeof got - have)) > 0)
			have += (size_t)r;
	}
	FUZZ_CHECK(r == 0 && sent == b->len);
	while ((r = read(p[0], got + have, sizeof got - have)) > 0)
		have += (size_t)r;
	FUZZ_CHECK(have == b->len && memcmp(got, d + b->off, have) == 0);
	close(p[0]);
	close(p[1]);
}

/* Cut all of d[0..n) from fd; every block must be the reference's. */
static void
fuzz_cut(struct config *cfg, int fd, const char *d, size_t n,
    const struct fuzz_sep *s)
{
	struct block	*b;
	size_t		 pos = 0, end, spins = 0;

	block_init(cfg, fd, 1);
	while (!block_done()) {
		if ((b = block_cut()) == NULL) {
			/* Nothing to cut: the pipe must have bytes to read. */
			FUZZ_CHECK(block_fd() != -1 && ++spins < 100000);
			block_read();
			continue;
		}
		end = fuzz_ref_end(d, n, pos, cfg->block_size, cfg->pipepart,
		    s);
		FUZZ_CHECK(b->off == pos && b->len == end - pos && b->len > 0);
		FUZZ_CHECK(b->data == NULL ||
		    memcmp(b->data, d + pos, b->len) == 0);
		fuzz_check_write(b, d);
		block_release(b);
		pos = end;
	}
	FUZZ_CHECK(pos == n && !block_failed());
	block_free();
}

/*
 * Byte 0: the block size (1 to 256); byte 1: the mode (bit 0 --pipepart),
 * recend's length (bits 1-2) and recstart's (bits 3-4), their bytes next;
 * the rest is the input.  It is cut read from a pipe (--pipe only: a pipe
 * cannot be sought) and sought in a file; both must agree with the
 * reference.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	struct fuzz_sep	 s;
	const char	*d;
	size_t		 n, endlen, startlen;
	int		 p[2], fd, null;

	if (size < 2)
		return 0;
	memset(&cfg, 0, sizeof cfg);
	cfg.block_size = 1 + data[0];
	cfg.pipepart = data[1] & 1;
	endlen = (data[1] >> 1) & 3;
	startlen = (data[1] >> 3) & 3;
	if (size < 2 + endlen + startlen)
		return 0;
	cfg.recend = (const char *)data + 2;
	cfg.recend_len = endlen;
	cfg.recstart = (const char *)data + 2 + endlen;
	cfg.recstart_len = startlen;
	s.sep = (const char *)data + 2;
	s.len = endlen + startlen;
	s.endlen = endlen;
	d = (const char *)data + 2 + endlen + startlen;
	n = size - 2 - endlen - startlen;

	/* The long-record warning is expected: keep it off the log. */
	fuzz_stderr = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO);
	close(null);

	fd = memfd_create("fuzz-blocks", 0);
	FUZZ_CHECK(fd != -1 && (n == 0 || write(fd, d, n) == (ssize_t)n) &&
	    lseek(fd, 0, SEEK_SET) == 0);
	fuzz_cut(&cfg, fd, d, n, &s);
	close(fd);
	if (!cfg.pipepart) {
		/* A pipe holds 64 KiB: the whole input fits before reading. */
		FUZZ_CHECK(pipe(p) == 0 &&
		    (n == 0 || write(p[1], d, n) == (ssize_t)n));
		close(p[1]);
		fuzz_cut(&cfg, p[0], d, n, &s);
		close(p[0]);
	}

	dup2(fuzz_stderr, STDERR_FILENO);
	close(fuzz_stderr);
	fuzz_stderr = -1;
	return 0;
}
