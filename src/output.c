/* output.c: records and payloads to stdout, batched, with backpressure and a drain deadline. */

#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Stop formatting records while this many bytes wait for stdout. */
#define OUTPUT_HIGH_WATER	(64 * 1024)
/* Seconds records may wait for more before they are written out. */
#define OUTPUT_DELAY		0.001

static struct {
	const struct config	*cfg;
	struct buf		 buf;
	int			 flags;		/* stdout's flags to restore */
	int			 changed;	/* O_NONBLOCK was added */
	int			 sock;		/* stdout is a socket */
	pid_t			 pid;		/* the process that changed them */
	int			 gone;		/* stdout's reader is gone */
	uint64_t		 written;	/* bytes written in all */
	double			 since;		/* when unwritten output began */
	double			 drain_at;	/* the rest has --kill-after from */
	uint64_t		 seq;		/* the last seq printed, as text: */
	char			 seq_text[24];
	size_t			 seq_len;
	struct {
		pid_t		 pid;
		char		 text[24];
		size_t		 len;
	}			 pids[8];	/* worker pids as text, by pid % 8 */
	struct buf		 tag;		/* --tag: the task's, scratch */
	struct buf		 rec;		/* --results: a record, scratch */
} out;

/* Give stdout back its blocking mode, in ppool only (not a forked child). */
void
output_restore(void)
{
	if (out.changed && getpid() == out.pid) {
		fcntl(STDOUT_FILENO, F_SETFL, out.flags);
		out.changed = 0;
	}
}

/*
 * Make stdout a non-blocking description of ppool's own of the same file.
 * Return 0, or -1 when it cannot be opened anew.
 */
static int
output_reopen(void)
{
	int	 fd;

	if ((fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1)
		return -1;
	if (dup2(fd, STDOUT_FILENO) == -1)
		err(EXIT_FATAL, "cannot replace stdout");
	close(fd);
	return 0;
}

/*
 * Prepare stdout.  Writing to a pipe or socket must not block, so that a
 * slow reader stalls only the writing, never the loop.  O_NONBLOCK on the
 * description ppool was given would reach whoever shares it (stderr after
 * 2>&1, workers, the shell), whose writes would then fail with EAGAIN: a
 * socket (systemd's journal) is written with MSG_DONTWAIT instead, and a
 * pipe or a terminal is opened anew through /proc for a description of
 * ppool's own (a terminal waits on its reader too: Ctrl-S, a stalled ssh).
 * Only a pipe without /proc (or '1<>fifo') gets the flag on the shared
 * description, removed at exit; a terminal without it stays blocking, as
 * a file does, whose writes wait on no other program.
 */
void
output_init(const struct config *cfg)
{
	struct stat	 sb;

	out.cfg = cfg;
	buf_init(&out.buf);
	buf_init(&out.tag);
	buf_init(&out.rec);
	if (fstat(STDOUT_FILENO, &sb) == -1)
		err(EXIT_FATAL, "stdout is not open");
	if (S_ISSOCK(sb.st_mode))
		out.sock = 1;
	if (isatty(STDOUT_FILENO)) {
		(void)output_reopen();
		return;
	}
	if (!S_ISFIFO(sb.st_mode))
		return;
	if ((out.flags = fcntl(STDOUT_FILENO, F_GETFL)) == -1)
		err(EXIT_FATAL, "cannot read the flags of stdout");
	/* Not '1<>fifo': ppool's own end may be the fifo's only reader. */
	if ((out.flags & O_ACCMODE) == O_WRONLY && output_reopen() == 0)
		return;
	if (fcntl(STDOUT_FILENO, F_SETFL, out.flags | O_NONBLOCK) == -1)
		err(EXIT_FATAL, "cannot make stdout non-blocking");
	out.changed = 1;
	out.pid = getpid();
	atexit(output_restore);
}

/* The descriptor the loop polls for output. */
int
output_fd(void)
{
	return STDOUT_FILENO;
}

/* Return 1 when no more records should be formatted until stdout drains. */
int
output_full(void)
{
	return buf_used(&out.buf) >= OUTPUT_HIGH_WATER;
}

/* Return 1 when bytes wait for stdout. */
int
output_pending(void)
{
	return buf_used(&out.buf) != 0;
}

/* Write milliseconds with three decimals to p (room for 24 bytes). */
static size_t
output_ms_text(char *p, double ms)
{
	uint64_t	 us;
	size_t		 n;

	if (ms <= 0) {
		p[0] = '0';
		return 1;
	}
	us = (uint64_t)(ms * 1000.0 + 0.5);
	n = buf_uint_text(p, us / 1000);
	p[n] = '.';
	p[n + 1] = '0' + us / 100 % 10;
	p[n + 2] = '0' + us / 10 % 10;
	p[n + 3] = '0' + us % 10;
	return n + 4;
}

/* Append the task's error as a JSON string. */
static void
output_add_error(struct buf *b, const struct slot *s)
{
	const char	*text = s->error.data + s->error.off;
	size_t		 len = buf_used(&s->error);

	if (s->error_json)
		buf_add(b, text, len);
	else if (json_utf8_valid(text, len))
		json_add_string(b, text, len);
	else
		json_add_base64(b, text, len);
}

/* Append a captured stream as "name" (UTF-8) or "name_base64". */
static void
output_stream(struct buf *b, const char *name, const struct buf *data,
    int truncated)
{
	const char	*text = data->data + data->off;
	size_t		 len = buf_used(data);

	buf_printf(b, ",\"%s%s\":", name,
	    json_utf8_valid(text, len) ? "" : "_base64");
	if (json_utf8_valid(text, len))
		json_add_string(b, text, len);
	else
		json_add_base64(b, text, len);
	if (truncated)
		buf_printf(b, ",\"%s_truncated\":true", name);
}

/* Append a command-mode task's exit, signal, stdout and stderr. */
static void
output_command(struct buf *b, const struct slot *s)
{
	char	 name[SIGNAME_MAX];

	buf_add(b, ",\"exit\":", 8);
	if (s->exit_code >= 0)
		buf_add_uint(b, (uint64_t)s->exit_code);
	else
		buf_add(b, "null", 4);
	buf_add(b, ",\"signal\":", 10);
	if (s->term_sig > 0) {
		spawn_signame(s->term_sig, name, sizeof name);
		buf_printf(b, "\"%s\"", name);
	} else
		buf_add(b, "null", 4);
	if (out.cfg->results != NULL) {
		buf_add(b, ",\"results\":", 11);
		results_add_dir(b, out.cfg->results, s->seq);
		return;
	}
	output_stream(b, "stdout", &s->reply, s->out_trunc);
	output_stream(b, "stderr", &s->errout, s->err_trunc);
}

/*
 * Write a record's seq to p (room for 24 bytes).  In order, a seq is the
 * last one plus one: incrementing the last one's text beats printing it.
 */
static size_t
output_seq_text(char *p, uint64_t seq)
{
	size_t	 i;

	if (seq != out.seq + 1 || out.seq_len == 0)
		out.seq_len = buf_uint_text(out.seq_text, seq);
	else {
		for (i = out.seq_len; i > 0 && out.seq_text[i - 1] == '9'; i--)
			out.seq_text[i - 1] = '0';
		if (i > 0)
			out.seq_text[i - 1]++;
		else {
			memmove(out.seq_text + 1, out.seq_text, out.seq_len++);
			out.seq_text[0] = '1';
		}
	}
	out.seq = seq;
	memcpy(p, out.seq_text, out.seq_len);
	return out.seq_len;
}

/* Write a worker's pid to p, from its text when it was written before. */
static size_t
output_pid_text(char *p, pid_t pid)
{
	unsigned	 i = (unsigned)pid % 8;

	if (out.pids[i].pid != pid) {
		out.pids[i].len = buf_uint_text(out.pids[i].text, pid);
		out.pids[i].pid = pid;
	}
	memcpy(p, out.pids[i].text, out.pids[i].len);
	return out.pids[i].len;
}

/*
 * Append the fields every record ends with: "worker", "host", "attempts"
 * and "ms".  They are composed on the stack and added at once, as they
 * are written for every task.
 */
static void
output_add_tail(struct buf *b, const struct slot *s)
{
	char	 t[128], *p = t;

	if (s->worker > 0) {
		memcpy(p, ",\"worker\":", 10);
		p += 10;
		p += output_pid_text(p, s->worker);
	}
	if (out.cfg->ssh && s->host != NULL) {
		buf_add(b, t, p - t);
		p = t;
		buf_add(b, ",\"host\":", 8);
		json_add_text(b, s->host->name, strlen(s->host->name));
	}
	memcpy(p, ",\"attempts\":", 12);
	p += 12;
	p += buf_uint_text(p, s->attempts);
	memcpy(p, ",\"ms\":", 6);
	p += 6;
	p += output_ms_text(p, s->ms);
	*p++ = '}';
	*p++ = '\n';
	buf_add(b, t, p - t);
}

/* Append one JSON record. */
static void
output_json(struct buf *b, const struct slot *s)
{
	const char	*res = s->reply.data + s->res_off;
	char		 head[32];

	memcpy(head, "{\"seq\":", 7);
	buf_add(b, head, 7 + output_seq_text(head + 7, s->seq));
	if (s->id_len > 0) {
		buf_add(b, ",\"id\":", 6);
		buf_add(b, s->task.data + s->task.off + s->id_off, s->id_len);
	}
	if (s->dry) {
		/* --dry-run: the job's own fields, already JSON. */
		buf_add(b, buf_head(&s->reply), buf_used(&s->reply));
		buf_add(b, "}\n", 2);
		return;
	}
	if (s->ok)
		buf_add(b, ",\"ok\":true", 10);
	else {
		buf_add(b, ",\"ok\":false,\"error\":", 20);
		output_add_error(b, s);
	}
	if (s->has_result && out.cfg->worker_cmd == NULL)
		output_command(b, s);
	else if (s->has_result) {
		switch (s->res_kind) {
		case RESULT_JSON:
			buf_add(b, ",\"result\":", 10);
			buf_add(b, res, s->res_len);
			break;
		case RESULT_STRING:
			buf_add(b, ",\"result\":", 10);
			json_add_string(b, res, s->res_len);
			break;
		case RESULT_BASE64:
			buf_add(b, ",\"result_base64\":", 17);
			json_add_base64(b, res, s->res_len);
			break;
		}
	}
	output_add_tail(b, s);
}

/*
 * Tell stderr why a task failed, for raw output, on one line: a worker's
 * error string (--envelope) as the string itself, without its JSON quotes,
 * its control characters written as \n, \t or \xHH; then more, unless
 * NULL or empty, after a semicolon.
 */
void
output_warn_task(const struct slot *s, const char *more)
{
	struct buf	 b, line;

	buf_init(&b);
	buf_init(&line);
	if (s->error_json)
		json_decode_string(buf_head(&s->error), buf_used(&s->error),
		    &b);
	else
		buf_add(&b, buf_head(&s->error), buf_used(&s->error));
	buf_add_line(&line, buf_head(&b), buf_used(&b));
	if (more != NULL && *more != '\0')
		buf_printf(&line, "; %s", more);
	fprintf(stderr, "ppool: task %llu: %.*s\n",
	    (unsigned long long)s->seq, (int)buf_used(&line), buf_head(&line));
	buf_free(&line);
	buf_free(&b);
}

/*
 * Queue output bytes of a task for -o raw: as they are, or with --tag
 * each line after the task's arguments and a tab.
 */
static void
output_tagged(const struct slot *s, const char *p, size_t n)
{
	const char	*nl;
	size_t		 k;

	if (!out.cfg->tag) {
		buf_add(&out.buf, p, n);
		return;
	}
	buf_reset(&out.tag);
	task_tag(&out.tag, s, out.cfg);
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		buf_add(&out.buf, buf_head(&out.tag), buf_used(&out.tag));
		buf_addc(&out.buf, '\t');
		buf_add(&out.buf, p, k);
		p += k;
		n -= k;
	}
}

/*
 * --line-buffer: queue the complete lines a running command wrote so far
 * (all of it when last is set), and drop them from data.
 */
void
output_lines(const struct slot *s, struct buf *data, int last)
{
	const char	*p = buf_head(data), *nl;
	size_t		 n = buf_used(data);

	if (!last) {
		nl = memrchr(p, '\n', n);
		n = nl != NULL ? (size_t)(nl - p) + 1 : 0;
	}
	if (n == 0)
		return;
	output_tagged(s, p, n);
	buf_consume(data, n);
}

/* Queue the record (or the payload) of a finished task. */
void
output_record(struct slot *s)
{
	char	 cut[96] = "";

	if (s->skip)
		return;
	if (out.cfg->results != NULL && !out.cfg->dry_run) {
		buf_reset(&out.rec);
		output_json(&out.rec, s);
		results_record(out.cfg->results, s->seq, buf_head(&out.rec),
		    buf_used(&out.rec));
		buf_add(&out.buf, buf_head(&out.rec), buf_used(&out.rec));
		return;
	}
	if (out.cfg->output_format == OUTPUT_JSON || out.cfg->dry_run) {
		output_json(&out.buf, s);
		return;
	}
	if (out.cfg->worker_cmd == NULL) {
		/* One line of ppool's for the task, whatever went wrong. */
		if (s->out_trunc || s->err_trunc)
			snprintf(cut, sizeof cut, "%s cut at --max-output (%zu "
			    "bytes)", s->out_trunc ? (s->err_trunc ?
			    "stdout and stderr" : "stdout") : "stderr",
			    out.cfg->max_output);
		/* A command's own stderr goes to ppool's, as with xargs. */
		if (buf_used(&s->errout) > 0)
			fwrite(buf_head(&s->errout), 1, buf_used(&s->errout),
			    stderr);
		/* ppool's lines start a line of their own after cut stderr. */
		if (s->err_trunc && buf_used(&s->errout) > 0 &&
		    buf_head(&s->errout)[buf_used(&s->errout) - 1] != '\n')
			fputc('\n', stderr);
		if (!s->ok)
			output_warn_task(s, cut);
		else {
			output_tagged(s, buf_head(&s->reply),
			    buf_used(&s->reply));
			if (*cut != '\0')
				fprintf(stderr, "ppool: task %llu: %s\n",
				    (unsigned long long)s->seq, cut);
		}
		return;
	}
	if (!s->ok) {
		output_warn_task(s, NULL);
		return;
	}
	/* A reply is one line: its newline comes after any --tag. */
	output_tagged(s, s->reply.data + s->res_off, s->res_len);
	buf_addc(&out.buf, '\n');
}

/* Write some of the records to stdout without blocking (see output_init). */
static ssize_t
output_write(void)
{
	ssize_t	 n;

	if (!out.sock)
		return buf_write(&out.buf, STDOUT_FILENO);
	do
		n = send(STDOUT_FILENO, buf_head(&out.buf), buf_used(&out.buf),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_consume(&out.buf, n);
	return n;
}

/*
 * Write what stdout takes now.  Return the count of bytes written, or -1
 * with errno when stdout is gone (EPIPE) or broken.
 */
static ssize_t
output_flush(void)
{
	ssize_t	 n, total = 0;

	while (buf_used(&out.buf) > 0) {
		if ((n = output_write()) == -1) {
			if (errno == EAGAIN)
				return total;
			return -1;
		}
		total += n;
		out.written += n;
	}
	buf_shrink(&out.buf, 4 * OUTPUT_HIGH_WATER);
	return total;
}

/*
 * Whether records waiting for stdout wait for company: while tasks run
 * (running of them), small output waits up to OUTPUT_DELAY for more, so
 * that a busy pool makes one write for many records instead of one each.
 */
static int
output_waits(double now, unsigned running)
{
	return out.since > 0 && !output_full() &&
	    now - out.since < OUTPUT_DELAY && running > 0;
}

/*
 * Write records to stdout, unless they wait for company.  Return
 * OUTPUT_WROTE when bytes left the buffer, OUTPUT_IDLE when none did;
 * OUTPUT_GONE when the reader is gone, OUTPUT_FAILED (with errno) when a
 * write failed otherwise, such as on a full disk: output is over either
 * way.
 */
enum output_status
output_drain(double now, unsigned running)
{
	ssize_t	 n;

	if (out.gone || !output_pending()) {
		out.since = 0;
		return OUTPUT_IDLE;
	}
	if (out.since == 0)
		out.since = now;
	if (output_waits(now, running))
		return OUTPUT_IDLE;
	if ((n = output_flush()) == -1) {
		out.gone = 1;
		return errno == EPIPE ? OUTPUT_GONE : OUTPUT_FAILED;
	}
	if (!output_pending())
		out.since = 0;
	return n > 0 ? OUTPUT_WROTE : OUTPUT_IDLE;
}

/* How many bytes stdout will have taken once what is queued is written. */
uint64_t
output_mark(void)
{
	return out.written + buf_used(&out.buf);
}

/* How many bytes stdout has taken: write(2) returned for them. */
uint64_t
output_written(void)
{
	return out.written;
}

/* stdout's reader is gone (poll said so): nothing more is written. */
void
output_lost(void)
{
	out.gone = 1;
}

/* Whether stdout's reader is gone. */
int
output_gone(void)
{
	return out.gone;
}

/*
 * The poll events stdout waits for: POLLOUT while records wait for it, but
 * not while they wait for company, which must not wake poll.
 */
short
output_events(double now, unsigned running)
{
	return output_pending() && !output_waits(now, running) ? POLLOUT : 0;
}

/*
 * The last records after a second signal: once the children are gone,
 * stdout has --kill-after seconds from now to take them, and a stalled
 * reader is not waited for.
 */
void
output_hurry(double now)
{
	if (out.drain_at == 0)
		out.drain_at = now;
}

/* Whether output_hurry's time is up. */
int
output_drained(double now)
{
	return out.drain_at > 0 && now >= out.drain_at + out.cfg->kill_after;
}

/* When output wants the loop to wake up, or 0: a drain or a batch is due. */
double
output_due(double now, unsigned running)
{
	double	 next = 0;

	if (out.gone)
		return 0;
	if (out.drain_at > 0 && output_pending())
		next = out.drain_at + out.cfg->kill_after;
	/* Output blocked by a slow reader waits on POLLOUT, not a timer. */
	if (output_waits(now, running) &&
	    (next == 0 || out.since + OUTPUT_DELAY < next))
		next = out.since + OUTPUT_DELAY;
	return next;
}
