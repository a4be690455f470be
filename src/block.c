/* block.c: a stream cut into blocks at record ends (--pipe, --pipepart), and a block written to a command's stdin. */

#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/*
 * Two ways to cut.  A pipe (or a terminal, a socket) is read into the
 * block being filled, which is lent to a task whole once cut; the bytes
 * after its last record end are copied to the next one.  A regular file
 * is never read through ppool: a block is a span of it, found by reading
 * a little around its ends, and splice(2) moves it from the file to the
 * command's pipe.
 *
 * Where a block ends, as GNU parallel cuts: --pipe ends a block at the
 * last record end within --block bytes; --pipepart at the first record end
 * after --block bytes.  A record end is --recend followed by --recstart;
 * the cut falls between the two.  With --pipe, a record longer than
 * --block makes its block as long as the record (said once on stderr).
 * With both strings empty, records end anywhere: blocks of exactly --block
 * bytes.
 *
 * At most limit blocks are lent at once (-j + 1: one ready for the next
 * command to start), and --pipe fills one more: memory stays about
 * (-j + 2) x --block, whatever the input.
 */

/* The first bytes read when looking for a record end in a file. */
#define BLOCK_PEEK	4096
/* The most read at once when the record end is further. */
#define BLOCK_PEEK_MAX	(1024 * 1024)
/*
 * What one copy moves where splice cannot: a pipe takes at least this
 * much once it is writable, so little is read twice.
 */
#define BLOCK_COPY	(64 * 1024)

static struct {
	const struct config	*cfg;
	int			 fd;
	int			 seek;		/* fd is a regular file */
	int			 part;		/* --pipepart's cut */
	size_t			 size;		/* --block */
	char			*sep;		/* recend then recstart */
	size_t			 seplen;
	size_t			 endlen;	/* recend's part of sep */
	struct block		*pool;		/* limit + 1 blocks */
	size_t			 npool;
	size_t			 limit;
	size_t			 lent;
	int			 warned;	/* said that a block grew */
	int			 failed;	/* reading failed: exit 255 */
	int			 eof;
	/* Reading a pipe. */
	struct block		*cur;		/* being filled */
	size_t			 cut;		/* where cur ends, 0: unknown */
	size_t			 scan;		/* cur searched forward to here */
	int			 growing;	/* no record end in --block */
	/* Seeking a file. */
	uint64_t		 pos;		/* where the next block starts */
	uint64_t		 end;		/* the file's size */
	int			 splice;	/* splice(2) works on fd */
	char			*peek;		/* BLOCK_PEEK_MAX + seplen */
} B = { .fd = -1 };

/*
 * The first record end (the cut it makes) in p[from..n), or -1.  Unless
 * zero_ok, a cut must leave bytes before it (p is where the block starts):
 * with --recstart alone, one at 0 is not one.
 */
static ssize_t
block_first(const char *p, size_t n, size_t from, int zero_ok)
{
	const char	*q;

	if (B.seplen == 0)
		return -1;
	while (from + B.seplen <= n) {
		q = memchr(p + from, B.sep[0], n - from - B.seplen + 1);
		if (q == NULL)
			return -1;
		from = (size_t)(q - p);
		if (memcmp(q, B.sep, B.seplen) == 0 &&
		    (zero_ok || from + B.endlen > 0))
			return (ssize_t)(from + B.endlen);
		from++;
	}
	return -1;
}

/* The last record end (the cut it makes) in p[0..n), or -1; as above. */
static ssize_t
block_last(const char *p, size_t n, int zero_ok)
{
	const char	*q;
	size_t		 hi;

	if (B.seplen == 0 || n < B.seplen)
		return -1;
	hi = n - B.seplen + 1;	/* where a record end may start, exclusive */
	while (hi > 0) {
		q = memrchr(p, B.sep[0], hi);
		if (q == NULL)
			return -1;
		hi = (size_t)(q - p);
		if (memcmp(q, B.sep, B.seplen) == 0 &&
		    (zero_ok || hi + B.endlen > 0))
			return (ssize_t)(hi + B.endlen);
	}
	return -1;
}

/* Give b's memory back. */
static void
block_unroom(struct block *b)
{
	xfree_nofork(b->data, 1, b->cap);
	b->data = NULL;
	b->cap = 0;
}

/* A block of the pool that no task holds and that is not being filled. */
static struct block *
block_free_one(void)
{
	size_t	 i;

	for (i = 0; i < B.npool; i++) {
		if (!B.pool[i].lent && &B.pool[i] != B.cur)
			return &B.pool[i];
	}
	abort();	/* lent < limit leaves one */
}

/*
 * Make room for n bytes in b, keeping its contents.  Children never get a
 * copy of a block's memory: after each fork, refilling a copy-on-write
 * buffer faulted every page (146,000 faults for 512 MB, two thirds of the
 * time).
 */
static void
block_room(struct block *b, size_t n)
{
	char	*data;

	if (b->cap >= n)
		return;
	data = xcalloc_nofork(1, n);
	if (b->data != NULL)
		memcpy(data, b->data, b->len);
	block_unroom(b);
	b->data = data;
	b->cap = n;
}

/* Say once that a record is longer than --block. */
static void
block_grew(void)
{
	if (B.warned)
		return;
	B.warned = 1;
	warnx("a record is longer than --block (%zu bytes): its block "
	    "grows to hold it whole (raise --block to avoid this)", B.size);
}

/*
 * Start cutting the input on fd as cfg says; lend at most jobs + 1 blocks
 * at once.
 */
void
block_init(const struct config *cfg, int fd, unsigned jobs)
{
	struct stat	 sb;
	off_t		 at;

	B.cfg = cfg;
	B.fd = fd;
	B.part = cfg->pipepart;
	B.size = cfg->block_size;
	B.endlen = cfg->recend_len;
	B.seplen = cfg->recend_len + cfg->recstart_len;
	B.sep = xmalloc(B.seplen + 1);
	memcpy(B.sep, cfg->recend, cfg->recend_len);
	memcpy(B.sep + B.endlen, cfg->recstart, cfg->recstart_len);
	B.limit = (size_t)jobs + 1;
	B.npool = B.limit + 1;
	B.pool = xcalloc(B.npool, sizeof *B.pool);
	if (fstat(fd, &sb) == -1)
		sb.st_mode = 0;
	if (S_ISREG(sb.st_mode) &&
	    (at = lseek(fd, 0, SEEK_CUR)) != -1) {
		B.seek = 1;
		/* PPOOL_NO_SPLICE: test the copy splice falls back to. */
		B.splice = getenv("PPOOL_NO_SPLICE") == NULL;
		B.pos = (uint64_t)at;
		B.end = (uint64_t)sb.st_size;
		B.peek = xmalloc(BLOCK_PEEK_MAX + B.seplen);
		return;
	}
	/*
	 * A pipe's default 64 KiB made a wake-up of ppool, and one of the
	 * writer, per 64 KiB; refused (pipe-max-size), the default serves.
	 */
	if (S_ISFIFO(sb.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, BLOCK_PIPE_SIZE);
	B.cur = &B.pool[0];
	block_room(B.cur, B.size);
}

/* Free the blocks; any a task still holds go too. */
void
block_free(void)
{
	size_t	 i;

	for (i = 0; i < B.npool; i++)
		block_unroom(&B.pool[i]);
	free(B.pool);
	free(B.sep);
	free(B.peek);
	memset(&B, 0, sizeof B);
	B.fd = -1;
}

/* The descriptor to poll for reading, or -1: none, or no room now. */
int
block_fd(void)
{
	return B.seek || B.eof || B.cut > 0 ? -1 : B.fd;
}

/* Return 1 when reading the input failed before its end. */
int
block_failed(void)
{
	return B.failed;
}

/*
 * Reading the input failed (errno): say so; the blocks cut before run,
 * then input_failed makes the exit status 255.
 */
static void
block_lost(void)
{
	warnx("cannot read %s: %s; the blocks cut before it run, then ppool "
	    "exits 255", B.cfg->input_path != NULL ? B.cfg->input_path :
	    "stdin", strerror(errno));
	B.failed = 1;
}

/* Find where the block being filled ends, if it can be known yet. */
static void
block_scan(void)
{
	struct block	*b = B.cur;
	ssize_t		 c;

	B.cut = 0;
	if (b->len == 0 || (!B.eof && b->len < B.size))
		return;
	/*
	 * Exactly --block bytes are cut at a record end even when nothing
	 * follows, as GNU parallel (which cannot know that yet) does.
	 */
	if (B.eof && b->len < B.size) {
		B.cut = b->len;
		return;
	}
	if (!B.growing) {
		if (B.seplen == 0) {
			B.cut = B.size;
			return;
		}
		if ((c = block_last(b->data, B.size, 0)) != -1) {
			B.cut = (size_t)c;
			return;
		}
		B.growing = 1;
		B.scan = B.size >= B.seplen ? B.size - B.seplen + 1 : 0;
	}
	if ((c = block_first(b->data, b->len, B.scan, 0)) != -1) {
		block_grew();
		B.cut = (size_t)c;
		return;
	}
	B.scan = b->len >= B.seplen ? b->len - B.seplen + 1 : 0;
	if (B.eof) {
		block_grew();
		B.cut = b->len;
	}
}

/*
 * Read once into the block being filled.  Return 1 after a read, 0 at the
 * end of the input or when nothing was ready.  A read error ends the
 * input with a message; input_failed makes the exit status 255.
 */
int
block_read(void)
{
	struct block	*b = B.cur;
	size_t		 want;
	ssize_t		 n;

	if (block_fd() == -1)
		return 0;
	if (b->len < B.size)
		want = B.size - b->len;
	else {
		/* A record longer than --block: read on until it ends. */
		if (b->cap - b->len < BLOCK_PEEK_MAX)
			block_room(b, b->cap * 2);
		want = b->cap - b->len;
	}
	n = read(B.fd, b->data + b->len, want);
	if (n > 0) {
		b->len += (size_t)n;
		block_scan();
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1)
		block_lost();
	B.eof = 1;
	block_scan();
	return 0;
}

/*
 * Read the file at off into B.peek, up to n bytes; return how many, or -1
 * after saying why (the input then ends, and the exit status is 255).
 */
static ssize_t
block_peek(uint64_t off, size_t n)
{
	ssize_t	 r;

	while ((r = pread(B.fd, B.peek, n, (off_t)off)) == -1 &&
	    errno == EINTR)
		;
	if (r == -1) {
		block_lost();
		B.end = off;
		B.eof = 1;
	}
	return r;
}

/*
 * In the file: the cut of the first record end at or after from, or B.end;
 * the block starts at lo.
 */
static uint64_t
block_file_first(uint64_t lo, uint64_t from)
{
	size_t		 want = BLOCK_PEEK;
	ssize_t		 n, c;

	if (B.seplen == 0)
		return from < B.end ? from : B.end;
	while (from < B.end) {
		if ((n = block_peek(from, want)) <= 0)
			break;
		if ((c = block_first(B.peek, (size_t)n, 0, from > lo)) != -1)
			return from + (uint64_t)c;
		if ((size_t)n < B.seplen)
			break;
		/* A record end may straddle the two reads. */
		from += (uint64_t)n - B.seplen + 1;
		if (want < BLOCK_PEEK_MAX)
			want *= 2;
	}
	return B.end;
}

/*
 * In the file: the last record end in (lo, hi), or 0 when there is none.
 * Reads grow backwards from hi.
 */
static uint64_t
block_file_last(uint64_t lo, uint64_t hi)
{
	size_t		 want = BLOCK_PEEK;
	uint64_t	 at;
	ssize_t		 n, c;

	while (hi > lo && hi - lo >= B.seplen) {
		at = hi - lo > want ? hi - want : lo;
		if ((n = block_peek(at, (size_t)(hi - at))) <= 0)
			return 0;
		if ((c = block_last(B.peek, (size_t)n, at > lo)) != -1)
			return at + (uint64_t)c;
		if (at == lo)
			return 0;
		hi = at + B.seplen - 1;
		if (want < BLOCK_PEEK_MAX)
			want *= 2;
	}
	return 0;
}

/* Where the block of the file that starts at pos ends. */
static uint64_t
block_file_end(uint64_t pos)
{
	uint64_t	 w = pos + B.size, c;

	/* As block_scan: exactly --block bytes left are still cut (--pipe). */
	if (w > B.end || (w == B.end && B.part))
		return B.end;
	if (B.seplen == 0)
		return w;
	if (B.part)
		return block_file_first(pos, w);
	if ((c = block_file_last(pos, w)) != 0)
		return c;
	block_grew();
	return block_file_first(pos, w >= pos + B.seplen ? w - B.seplen + 1 :
	    pos);
}

/* Whether the file has bytes past B.end now (it grew): take them too. */
static int
block_file_more(void)
{
	struct stat	 sb;

	if (B.eof || fstat(B.fd, &sb) == -1 || (uint64_t)sb.st_size <= B.end) {
		if (!B.eof && B.pos >= B.end)
			/* As a reader that took it all would leave it. */
			(void)lseek(B.fd, (off_t)B.end, SEEK_SET);
		B.eof = 1;
		return 0;
	}
	B.end = (uint64_t)sb.st_size;
	return 1;
}

/*
 * The next block, lent to the caller until block_release; NULL when none
 * is ready: more input is needed, the input is finished, or limit blocks
 * are lent.
 */
struct block *
block_cut(void)
{
	struct block	*b, *next;
	size_t		 tail;

	if (B.lent >= B.limit)
		return NULL;
	if (B.seek) {
		if (B.pos >= B.end && !block_file_more())
			return NULL;
		b = block_free_one();
		b->off = B.pos;
		b->len = block_file_end(B.pos);
		if (b->len <= B.pos)
			return NULL;	/* reading the file failed */
		b->len -= B.pos;
		B.pos += b->len;
	} else {
		if (B.cut == 0)
			return NULL;
		b = B.cur;
		next = block_free_one();
		tail = b->len - B.cut;
		/* A block that grew for a long record is not kept grown. */
		if (next->cap > 2 * B.size)
			block_unroom(next);
		next->len = 0;
		block_room(next, tail > B.size ? tail : B.size);
		memcpy(next->data, b->data + B.cut, tail);
		next->len = tail;
		next->off = b->off + B.cut;
		b->len = B.cut;
		B.cur = next;
		B.growing = 0;
		B.scan = 0;
		block_scan();
	}
	b->lent = 1;
	B.lent++;
	return b;
}

/* Take back a block a task held. */
void
block_release(struct block *b)
{
	b->lent = 0;
	B.lent--;
}

/* Return 1 when the whole input was cut and lent. */
int
block_done(void)
{
	if (B.seek)
		return B.eof || (B.pos >= B.end && !block_file_more());
	return B.eof && B.cur->len == 0;
}

/* Describe b as the text of its task: where it is in the input. */
void
block_describe(struct buf *text, const struct block *b)
{
	buf_addstr(text, "{\"offset\":");
	buf_add_uint(text, b->off);
	buf_addstr(text, ",\"bytes\":");
	buf_add_uint(text, b->len);
	buf_addc(text, '}');
}

/* Copy what splice would move, through a buffer: its fallback. */
static ssize_t
block_copy(uint64_t off, size_t n, int fd)
{
	ssize_t	 r;

	if (n > BLOCK_COPY)
		n = BLOCK_COPY;
	while ((r = pread(B.fd, B.peek, n, (off_t)off)) == -1 &&
	    errno == EINTR)
		;
	if (r == 0)
		errno = ENODATA;
	if (r <= 0)
		return -1;
	/* What the pipe does not take is read again next time. */
	return write(fd, B.peek, (size_t)r);
}

/*
 * Write more of b, of which *sent bytes are written, to the non-blocking
 * pipe fd.  Return how many bytes went (and add them to *sent), 0 when all
 * of b is written, or -1 with errno: EAGAIN when the pipe is full, EPIPE
 * when its reader is gone, ENODATA when the file ended before the block.
 */
ssize_t
block_write(const struct block *b, uint64_t *sent, int fd)
{
	uint64_t	 left = b->len - *sent;
	size_t		 n = left > (1U << 30) ? (1U << 30) : (size_t)left;
	loff_t		 off;
	ssize_t		 r;

	if (left == 0)
		return 0;
	if (b->data != NULL)
		r = write(fd, b->data + *sent, n);
	else if (B.splice) {
		off = (loff_t)(b->off + *sent);
		r = splice(B.fd, &off, fd, NULL, n, SPLICE_F_NONBLOCK |
		    SPLICE_F_MOVE);
		if (r == 0) {
			errno = ENODATA;
			r = -1;
		} else if (r == -1 && (errno == EINVAL || errno == ENOSYS)) {
			/* This file system cannot splice: copy instead. */
			B.splice = 0;
			r = block_copy(b->off + *sent, n, fd);
		}
	} else
		r = block_copy(b->off + *sent, n, fd);
	if (r > 0)
		*sent += (uint64_t)r;
	return r;
}
