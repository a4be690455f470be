/* joblog.c: --joblog lines once their records are out, and --resume from an earlier log. */

#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppool.h"

#define JOBLOG_HEADER	"Seq\tStart\tRuntime\tExit\tSignal\tAttempts\tWorker\tHost\tTask\n"

/* What an earlier run's log says of one seq. */
struct joblog_entry {
	uint64_t	 seq;
	uint64_t	 hash;		/* of the escaped task text */
	size_t		 line;		/* the later line of a seq counts */
	int		 ok;
};

static struct {
	const struct config	*cfg;
	int			 fd;
	struct joblog_entry	*old;		/* by seq, once read */
	size_t			 nold;
	size_t			 oldcap;
	int			 warned;	/* about a changed input */
	int			 failed;	/* a line could not be written */
	off_t			 end;		/* after its last whole line */
	struct buf		 line;
	/*
	 * Lines whose records are not all out yet: each waits till stdout
	 * has taken the bytes before its mark (output_mark).
	 */
	struct buf		 held;
	uint64_t		 held_in;	/* bytes ever added to held */
	uint64_t		 held_out;	/* ... and written from it */
	struct {
		uint64_t	 mark;
		uint64_t	 end;		/* held_in after its line */
	}			*waits;		/* [whead, nwaits) wait */
	size_t			 whead;
	size_t			 nwaits;
	size_t			 capwaits;
} jl = { .fd = -1 };

/* Append the task text with tabs, newlines and backslashes escaped. */
static void
joblog_escape(struct buf *b, const char *text, size_t len)
{
	size_t	 i, run = 0;

	for (i = 0; i < len; i++) {
		if (text[i] != '\\' && text[i] != '\t' && text[i] != '\n' &&
		    text[i] != '\r')
			continue;
		buf_add(b, text + run, i - run);
		run = i + 1;
		buf_addc(b, '\\');
		buf_addc(b, text[i] == '\t' ? 't' : text[i] == '\n' ? 'n' :
		    text[i] == '\r' ? 'r' : '\\');
	}
	buf_add(b, text + run, len - run);
}

/* FNV-1a: enough to tell a changed task from the logged one. */
static uint64_t
joblog_hash(const char *p, size_t len)
{
	uint64_t	 h = 14695981039346656037ULL;

	while (len-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Remember one complete line of an earlier log. */
static void
joblog_remember(char *line, size_t len)
{
	struct joblog_entry *e;
	char		*field[9], *end = line + len, *p = line, *tab;
	unsigned long long seq;
	size_t		 n = 0, want;

	/* Tabs in the task are escaped: the last field is the task. */
	for (;;) {
		field[n++] = p;
		if (n == 9 || (tab = memchr(p, '\t', end - p)) == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	/* 9 fields; 8 in logs written before the Host column. */
	if (n < 8)
		return;
	errno = 0;
	seq = strtoull(field[0], NULL, 10);
	if (seq == 0 || errno != 0 || seq > (1ULL << 40))
		return;	/* the header, or not ppool's */
	/* As many entries as lines, whatever the seqs say. */
	if (jl.nold == jl.oldcap) {
		want = jl.oldcap == 0 ? 1024 : jl.oldcap * 2;
		jl.old = xreallocarray(jl.old, want, sizeof *jl.old);
		jl.oldcap = want;
	}
	e = &jl.old[jl.nold];
	e->seq = seq;
	e->line = jl.nold++;
	e->ok = strcmp(field[3], "0") == 0 && strcmp(field[4], "0") == 0;
	e->hash = joblog_hash(field[n - 1], end - field[n - 1]);
}

/* Order entries by seq, and a seq's by line. */
static int
joblog_compare(const void *a, const void *b)
{
	const struct joblog_entry	*x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Sort the entries read, and keep the last line of each seq. */
static void
joblog_index(void)
{
	size_t	 i, n = 0;

	/* A log with its header alone (killed before a task ended): none. */
	if (jl.nold == 0)
		return;
	qsort(jl.old, jl.nold, sizeof *jl.old, joblog_compare);
	for (i = 0; i < jl.nold; i++) {
		if (n > 0 && jl.old[n - 1].seq == jl.old[i].seq)
			n--;
		jl.old[n++] = jl.old[i];
	}
	jl.nold = n;
}

/* The entry of seq, or NULL. */
static const struct joblog_entry *
joblog_find(uint64_t seq)
{
	size_t	 lo = 0, hi = jl.nold, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (jl.old[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < jl.nold && jl.old[lo].seq == seq ? &jl.old[lo] : NULL;
}

/*
 * Remember the whole lines among the unconsumed bytes of b, the next bytes
 * of an earlier log, and consume them; at the log's end (eof), index what
 * was read: a torn last line (no newline) is ignored.  A line holds a task,
 * escaped, and some figures: longer than that, the file is not a joblog
 * (or not ppool's), and reading on would take all memory.  Return 0, or -1
 * with why in msg.
 */
int
joblog_parse(struct buf *b, int eof, size_t max_line, char *msg,
    size_t msglen)
{
	char	*line;
	size_t	 len, cap = 2 * max_line + 256;

	while ((line = buf_frame(b, '\n', &len)) != NULL) {
		joblog_remember(line, len);
		jl.end += len + 1;
	}
	if (buf_used(b) > cap) {
		snprintf(msg, msglen, "has a line longer than %zu bytes: is it "
		    "a joblog? (give --resume another file)", cap);
		return -1;
	}
	if (eof)
		joblog_index();
	return 0;
}

/* Read an earlier log, 64 KiB at a time, for --resume. */
static void
joblog_read(const char *path, size_t max_line)
{
	struct buf	 b;
	char		 msg[256];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return;	/* the first run: nothing to resume */
		err(EXIT_FATAL, "cannot read joblog %s", path);
	}
	buf_init(&b);
	do {
		n = buf_read(&b, fd, 64 * 1024);
		if (n == -1 && errno != EINTR)
			err(EXIT_FATAL, "cannot read joblog %s", path);
		if (joblog_parse(&b, n == 0, max_line, msg, sizeof msg) == -1)
			errx(EXIT_FATAL, "joblog %s %s", path, msg);
	} while (n != 0);
	close(fd);
	buf_free(&b);
}

/*
 * Open the joblog: afresh, or after reading it for --resume.  It is opened
 * for reading too, to see whether a crash left its last line torn.
 */
void
joblog_open(const struct config *cfg)
{
	int	 flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC;
	off_t	 size;

	/* A fresh state, though an earlier open and close came before. */
	memset(&jl, 0, sizeof jl);
	jl.fd = -1;
	jl.cfg = cfg;
	buf_init(&jl.line);
	buf_init(&jl.held);
	if (cfg->joblog == NULL)
		return;
	if (cfg->resume)
		joblog_read(cfg->joblog, cfg->max_line);
	else
		flags |= O_TRUNC;
	if ((jl.fd = open(cfg->joblog, flags, 0666)) == -1)
		err(EXIT_FATAL, "cannot open joblog %s", cfg->joblog);
	if ((size = lseek(jl.fd, 0, SEEK_END)) == -1)
		err(EXIT_FATAL, "cannot seek in joblog %s", cfg->joblog);
	/*
	 * A line torn by a crash (--resume read the log up to its last
	 * newline) is cut off, so that the next line starts clean and no
	 * later --resume reads the torn one as a task's.
	 */
	if (cfg->resume && size > jl.end) {
		if (ftruncate(jl.fd, jl.end) == -1)
			err(EXIT_FATAL, "cannot cut the torn last line of "
			    "joblog %s", cfg->joblog);
		size = jl.end;
	}
	if (size == 0 && write(jl.fd, JOBLOG_HEADER,
	    sizeof JOBLOG_HEADER - 1) != sizeof JOBLOG_HEADER - 1)
		err(EXIT_FATAL, "cannot write joblog %s", cfg->joblog);
}

/* Close the joblog. */
void
joblog_close(void)
{
	if (jl.fd != -1)
		close(jl.fd);
	jl.fd = -1;
	free(jl.old);
	jl.old = NULL;
	free(jl.waits);
	jl.waits = NULL;
	buf_free(&jl.line);
	buf_free(&jl.held);
}

/*
 * With --resume, return 1 when the earlier log says the task is finished
 * (--resume-failed: succeeded) and it is the same task text.
 */
int
joblog_skip(const struct slot *s)
{
	const struct joblog_entry	*e;

	if (!jl.cfg->resume || (e = joblog_find(s->seq)) == NULL)
		return 0;
	buf_reset(&jl.line);
	joblog_escape(&jl.line, buf_head(&s->task), buf_used(&s->task));
	if (e->hash != joblog_hash(jl.line.data, jl.line.len)) {
		if (!jl.warned)
			warnx("task %llu differs from the one in %s: the input "
			    "changed, so it runs again (and so may others)",
			    (unsigned long long)s->seq, jl.cfg->joblog);
		jl.warned = 1;
		return 0;
	}
	return jl.cfg->resume_failed ? e->ok : 1;
}

/*
 * Note when a task that finished for good started, by the wall clock, while
 * its ms are fresh: its line is written later (joblog_hold).
 */
void
joblog_finish(struct slot *s)
{
	struct timespec	 ts;

	if (jl.fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->wall_start = ts.tv_sec + ts.tv_nsec / 1e9 - s->ms / 1000.0;
}

/*
 * Make the line of a task whose record was just given to output.c, which
 * will have written it once mark bytes are out; joblog_commit writes the
 * line then, never before.  So after a crash at any moment, every task the
 * joblog names has its record on stdout, and --resume runs the others
 * again.  A failed command that exited 0 (it timed out, or was stopped,
 * and exited on SIGTERM) logs exit -1, so that --resume-failed runs it
 * again.
 */
void
joblog_hold(const struct slot *s, uint64_t mark)
{
	int	 code;

	if (jl.fd == -1 || jl.failed || s->skip || s->dry)
		return;
	if (jl.cfg->worker_cmd != NULL)
		code = s->attempts == 0 ? -1 : !s->ok;
	else
		code = !s->ok && s->exit_code == 0 ? -1 : s->exit_code;
	buf_printf(&jl.held, "%llu\t%.3f\t%.3f\t%d\t%d\t%u\t",
	    (unsigned long long)s->seq, s->wall_start, s->ms / 1000.0, code,
	    s->term_sig, s->attempts);
	if (s->worker > 0)
		buf_printf(&jl.held, "%ld", (long)s->worker);
	else
		buf_addc(&jl.held, '-');
	buf_addc(&jl.held, '\t');
	joblog_escape(&jl.held, s->host != NULL ? s->host->name : ":",
	    s->host != NULL ? strlen(s->host->name) : 1);
	buf_addc(&jl.held, '\t');
	joblog_escape(&jl.held, buf_head(&s->task), buf_used(&s->task));
	buf_addc(&jl.held, '\n');
	jl.held_in = jl.held_out + buf_used(&jl.held);
	if (jl.nwaits == jl.capwaits) {
		jl.capwaits = jl.capwaits == 0 ? 64 : 2 * jl.capwaits;
		jl.waits = xreallocarray(jl.waits, jl.capwaits,
		    sizeof *jl.waits);
	}
	jl.waits[jl.nwaits].mark = mark;
	jl.waits[jl.nwaits].end = jl.held_in;
	jl.nwaits++;
}

/*
 * Write the held lines whose records are out: stdout has taken written
 * bytes in all.  One write for all of them; a short write says why only
 * when the rest is tried.
 */
void
joblog_commit(uint64_t written)
{
	size_t	 k;
	ssize_t	 n;

	for (k = jl.whead; k < jl.nwaits && jl.waits[k].mark <= written; k++)
		;
	if (k == jl.whead || jl.failed)
		return;
	while (jl.held_out < jl.waits[k - 1].end) {
		n = write(jl.fd, buf_head(&jl.held),
		    jl.waits[k - 1].end - jl.held_out);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			warnx("cannot write joblog %s: %s; it records no more "
			    "tasks, so --resume would run those that finish "
			    "from now on again", jl.cfg->joblog,
			    strerror(errno));
			jl.failed = 1;
			return;
		}
		buf_consume(&jl.held, n);
		jl.held_out += n;
	}
	jl.whead = k;
	if (jl.whead == jl.nwaits) {
		jl.whead = jl.nwaits = 0;
		buf_shrink(&jl.held, 64 * 1024);
	}
}

/* Return 1 when a line could not be written to the joblog. */
int
joblog_failed(void)
{
	return jl.failed;
}
