/* worker.c: a persistent worker: start, send, receive, retire, kill, reap. */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Bytes asked of one read() of replies. */
#define WORKER_CHUNK	(64 * 1024)

/*
 * The text /bin/sh -c runs for the -w command: "exec COMMAND" when it is
 * one simple command, so that the worker is the program itself and not a
 * shell waiting for it (dash does not exec the last command by itself).
 * Then ppool's SIGTERM reaches the program, which gets its --kill-after
 * grace, dies with ppool (PR_SET_PDEATHSIG), and is named in its record
 * by the signal that killed it.  Plain assignments first stay first
 * ("LANG=C exec COMMAND": dash exports them to the program).  Anything
 * else (a list, a pipeline, a compound command, quotes or expansions in
 * an assignment, a builtin) is left as it is.
 */
static const char *
worker_text(const char *cmd)
{
	static const char *const keep[] = {
		"!", ".", ":", "[", "[[", "alias", "bg", "break", "case", "cd",
		"command", "continue", "do", "done", "elif", "else", "esac",
		"eval", "exec", "exit", "export", "false", "fg", "fi", "for",
		"function", "getopts", "hash", "if", "jobs", "kill", "local",
		"printf", "pwd", "read", "readonly", "return", "select", "set",
		"shift", "test", "then", "time", "times", "trap", "true",
		"type", "ulimit", "umask", "unalias", "unset", "until", "wait",
		"while", "echo", "{", "}"
	};
#define WORD	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
		"0123456789_./+-"
	static const char word[] = WORD, value[] = WORD ":=,@%";
#undef WORD
	static char	*text;
	static const char *made_for;
	const char	*p = cmd, *name;
	size_t		 n, i;

	if (made_for == cmd)
		return text;
	if (strpbrk(p, ";&|()\n") != NULL)
		return cmd;
	while (*p == ' ' || *p == '\t')
		p++;
	name = p;
	for (;;) {
		n = strspn(p, word);
		if (p[n] != '=')
			break;
		/* NAME=VALUE, with nothing the shell would expand. */
		if (n == 0 || strspn(p, "0123456789") > 0 ||
		    strcspn(p, "-./+") < n)
			return cmd;
		n++;
		n += strspn(p + n, value);
		if (p[n] != ' ' && p[n] != '\t')
			return cmd;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (n == 0 || (p[n] != '\0' && p[n] != ' ' && p[n] != '\t'))
		return cmd;
	for (i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		if (strlen(keep[i]) == n && strncmp(p, keep[i], n) == 0)
			return cmd;
	}
	free(text);
	text = xmalloc(strlen(name) + 6);
	memcpy(text, name, p - name);
	memcpy(text + (p - name), "exec ", 5);
	strcpy(text + (p - name) + 5, p);
	made_for = cmd;
	return text;
}

/*
 * Start a worker running the -w command under /bin/sh -c on host h.
 * Return it, or NULL with errno when pipes or a pidfd could not be made.
 * Only ppool's ends of the pipes are non-blocking: the worker's are
 * ordinary.
 */
struct worker *
worker_start(const struct config *cfg, struct host *h)
{
	struct worker	*w;
	int		 to[2], from[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int		 saved;

	if (spawn_pipe(to, 1) == -1)
		return NULL;
	if (spawn_pipe(from, 0) == -1 ||
	    (h->slurm && spawn_pipe(errp, 0) == -1)) {
		saved = errno;
		close(to[0]);
		close(to[1]);
		/* from is open only when errp failed. */
		if (from[0] != -1) {
			close(from[0]);
			close(from[1]);
		}
		errno = saved;
		return NULL;
	}

	w = xcalloc(1, sizeof *w);
	w->err_fd = errp[0];
	w->pl = host_pipeline(h, worker_text(cfg->worker_cmd),
	    cfg->kill_after);
	if (spawn_start(w->pl, to[0], from[1], errp[1], NULL, &w->pid,
	    &w->pidfd) == -1) {
		saved = errno;
		pipeline_free(w->pl);
		free(w);
		close(to[1]);
		close(from[0]);
		if (errp[0] != -1) {
			close(errp[0]);
			close(errp[1]);
		}
		errno = saved;
		return NULL;
	}
	if (errp[1] != -1)
		close(errp[1]);
	w->state = WORKER_RUNNING;
	host_link(&w->link, h);
	term_init(&w->term, w->pidfd, w->pid, cfg->kill_after);
	w->to_fd = to[1];
	w->from_fd = from[0];
	buf_init(&w->out);
	buf_init(&w->in);
	buf_init(&w->errtail);
	w->qcap = cfg->inflight;
	w->queue = xcalloc(w->qcap, sizeof *w->queue);
	w->unread = -1;
	return w;
}

/* Return 1 when the worker can take one more task now. */
int
worker_accepts(const struct worker *w, const struct config *cfg)
{
	return w->state == WORKER_RUNNING && w->qlen < w->qcap &&
	    (cfg->max_reqs == 0 || w->sent < cfg->max_reqs);
}

/* Queue a task's line for the worker; worker_flush writes it. */
void
worker_send(struct worker *w, struct slot *s, double now)
{
	buf_add(&w->out, buf_head(&s->task), buf_used(&s->task));
	buf_addc(&w->out, '\n');
	w->queue[(w->qhead + w->qlen++) % w->qcap] = s;
	w->sent++;
	s->state = SLOT_RUNNING;
	s->attempts++;
	s->worker = w->pid;
	s->host = w->link.host;
	s->start = now;
}

/* Close the worker's stdin now: it gets no more tasks. */
static void
worker_close_stdin(struct worker *w)
{
	int	 n;

	/*
	 * Note how many bytes of its tasks the worker left unread, still in
	 * the pipe or not yet written there, for worker_give_back.  Closed
	 * by ppool (end of input, -r), this is the last look: a task unread
	 * now and read later counts as unread.
	 */
	if (w->to_fd != -1 && ioctl(w->to_fd, FIONREAD, &n) == 0)
		w->unread = n + (ssize_t)buf_used(&w->out);
	if (w->to_fd != -1)
		close(w->to_fd);
	w->to_fd = -1;
	buf_reset(&w->out);
	buf_shrink(&w->out, 0);
}

/*
 * The worker closed its stdin or stdout but may still run: it gets no more
 * tasks, and WORKER_GRACE seconds to exit on its own before it is killed.
 */
static void
worker_lost_pipe(struct worker *w, double now, const char *what)
{
	if (w->why[0] == '\0')
		snprintf(w->why, sizeof w->why, "it closed its %s", what);
	w->state = WORKER_CLOSING;
	worker_close_stdin(w);
	term_at(&w->term, now + WORKER_GRACE);
}

/*
 * Write queued task lines.  A worker that no longer reads its stdin is
 * closing: the tasks it holds fail when it is gone.
 */
void
worker_flush(struct worker *w, double now)
{
	while (w->to_fd != -1 && buf_used(&w->out) > 0) {
		if (buf_write(&w->out, w->to_fd) != -1)
			continue;
		if (errno != EAGAIN)
			worker_lost_pipe(w, now, "stdin");
		return;
	}
	if (w->state == WORKER_CLOSING && w->to_fd != -1)
		worker_close_stdin(w);
}

/* Take the oldest task the worker holds, or NULL. */
struct slot *
worker_pop(struct worker *w)
{
	struct slot	*s = w->queue[w->qhead];

	if (w->qlen == 0)
		return NULL;
	w->qhead = (w->qhead + 1) % w->qcap;
	w->qlen--;
	return s;
}

/* A protocol error: say so on stderr, then kill the worker. */
static void __attribute__((format(printf, 4, 5)))
worker_protocol(struct worker *w, const struct config *cfg, double now,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 why[128];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	warnx("worker %ld ('%s'): protocol error: %s; killing and replacing "
	    "it", (long)w->pid, cfg->worker_cmd, why);
	worker_kill(w, now, "%s", why);
}

/*
 * Hand one reply line to the oldest task, which goes to done.  Return -1
 * on a protocol error.
 */
static int
worker_reply(struct worker *w, const struct config *cfg, const char *line,
    size_t len, double now, struct tasklist *done)
{
	struct slot	*s;

	if (w->qlen == 0) {
		worker_protocol(w, cfg, now, "reply with no task waiting");
		return -1;
	}
	s = worker_pop(w);
	s->ms = (now - s->start) * 1000.0;
	/* The next task queued here starts now: the worker is on to it. */
	if (w->qlen > 0)
		w->queue[w->qhead]->start = now;
	task_reply(s, cfg, line, len);
	w->answered++;
	queue_list_add(done, s);
	return 0;
}

/*
 * Read replies; the tasks they finish go to done.  Return IO_READ when
 * bytes were read, IO_WAIT when none were ready, IO_END at end of file
 * (the worker closed its stdout; a worker still holding tasks is killed)
 * or on a protocol error.
 */
enum io_status
worker_read(struct worker *w, const struct config *cfg, double now,
    struct tasklist *done)
{
	char	*line, why[sizeof w->why];
	size_t	 len;
	ssize_t	 n;

	if (w->from_fd == -1)
		return IO_END;
	n = buf_read(&w->in, w->from_fd, WORKER_CHUNK);
	if (n == -1 && errno == EAGAIN)
		return IO_WAIT;
	if (n <= 0) {
		/*
		 * A last reply without a newline counts if the worker then
		 * exits with status 0 (worker_reap): one cut short by a crash
		 * is no reply.
		 */
		if (buf_used(&w->in) > 0 && !w->broken && w->link.ready)
			w->partial = 1;
		else
			buf_free(&w->in);
		close(w->from_fd);
		w->from_fd = -1;
		if (!w->exited)
			worker_lost_pipe(w, now, "stdout");
		return IO_END;
	}
	if (w->broken) {
		/* Killed for a protocol error: what it says is ignored. */
		buf_reset(&w->in);
		return IO_READ;
	}
	switch (host_greet(&w->link, &w->in, why, sizeof why)) {
	case HOST_WAIT:
		return IO_READ;
	case HOST_BAD:
		/* Its host is not to be trusted with tasks. */
		worker_kill(w, now, "%s", why);
		buf_reset(&w->in);
		return IO_END;
	case HOST_READY:
		break;
	}
	while ((line = buf_frame(&w->in, '\n', &len)) != NULL) {
		if (len > cfg->max_line)
			break;
		if (worker_reply(w, cfg, line, len, now, done) == -1) {
			buf_reset(&w->in);
			return IO_END;
		}
	}
	if (line != NULL || buf_used(&w->in) > cfg->max_line) {
		worker_protocol(w, cfg, now, "reply longer than --max-line "
		    "(%zu bytes)", cfg->max_line);
		buf_reset(&w->in);
		return IO_END;
	}
	buf_shrink(&w->in, 4 * WORKER_CHUNK);
	return IO_READ;
}

/* Retire the worker: no more tasks; stdin closes once the queue is sent. */
void
worker_close(struct worker *w, double now)
{
	if (w->state != WORKER_RUNNING)
		return;
	w->state = WORKER_CLOSING;
	worker_flush(w, now);
}

/*
 * Kill the worker for the reason given: SIGTERM now, SIGKILL --kill-after
 * seconds later (term.c).  Its tasks fail with the first reason given when
 * it is reaped.
 */
void
worker_kill(struct worker *w, double now, const char *fmt, ...)
{
	va_list	 ap;

	if (w->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(w->why, sizeof w->why, fmt, ap);
		va_end(ap);
		w->killed = 1;
	}
	w->broken = 1;
	w->state = WORKER_CLOSING;
	worker_close_stdin(w);
	term_now(&w->term, now);
}

/*
 * Run the worker's timers: the -t timeout of the oldest task it holds, and
 * for a closing worker, WORKER_GRACE seconds to exit once it holds no task,
 * then SIGTERM, then SIGKILL.  Return the time the timers want to run
 * next, or 0.
 */
double
worker_timer(struct worker *w, const struct config *cfg, double now)
{
	struct slot	*head;
	double		 due = 0, next;

	if (cfg->timeout > 0 && w->qlen > 0 && w->timed_out == NULL) {
		head = w->queue[w->qhead];
		due = head->start + cfg->timeout;
		if (now >= due) {
			w->timed_out = head;
			worker_kill(w, now, "task %llu " TIMED_OUT_FMT,
			    (unsigned long long)head->seq, cfg->timeout);
			due = 0;
		}
	}
	if (w->state != WORKER_CLOSING)
		return due;
	/* A closing worker's grace starts once it holds no task. */
	if (!term_armed(&w->term)) {
		if (w->qlen > 0)
			return due;
		term_at(&w->term, now + WORKER_GRACE);
	}
	(void)term_timer(&w->term, now, &next);
	/* The earlier of the timeout and the closing worker's deadline. */
	return due > 0 && (next == 0 || due < next) ? due : next;
}

/*
 * Give the tasks the worker holds to unread, newest first, since each goes
 * back to the front of the queue: those behind the oldest, which a worker
 * that answers in order had not started, and the oldest only when its
 * line is still unread (unread bytes at the end of its stdin cover every
 * held line).  One it read may be the very task that made it exit, and is
 * not run again beyond --retries.
 */
static void
worker_give_back(struct worker *w, size_t unread, struct tasklist *back)
{
	size_t	 i, held = 0;

	for (i = 0; i < w->qlen; i++)
		held += buf_used(&w->queue[(w->qhead + i) % w->qcap]->task) + 1;
	while (w->qlen > (held <= unread ? 0 : 1)) {
		w->qlen--;
		w->sent--;
		queue_list_add(back, w->queue[(w->qhead + w->qlen) % w->qcap]);
	}
}

/*
 * A worker on a Slurm node: pass what srun and the worker write on stderr
 * on to ppool's, keeping the last of it, where srun says whether the node
 * or its step failed (host_lost).  Return as worker_read.
 */
enum io_status
worker_read_err(struct worker *w)
{
	char	 chunk[4096];
	ssize_t	 n;

	if (w->err_fd == -1)
		return IO_END;
	do
		n = read(w->err_fd, chunk, sizeof chunk);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return IO_WAIT;
	if (n <= 0) {
		close(w->err_fd);
		w->err_fd = -1;
		return IO_END;
	}
	(void)write(STDERR_FILENO, chunk, (size_t)n);
	if (buf_used(&w->errtail) > WORKER_ERR_TAIL)
		buf_consume(&w->errtail, buf_used(&w->errtail) -
		    WORKER_ERR_TAIL / 2);
	buf_add(&w->errtail, chunk, (size_t)n);
	return IO_READ;
}

/*
 * The worker's process has exited: read the replies left in the pipe, learn
 * its status (*status), and end the tasks it holds.  Tasks it answered or
 * that fail with it go to done; tasks it never started go to unread, for
 * the caller to put back at the front of the queue in that order, before it
 * handles done.  Return WORKER_HOST_LOST when its host failed, not the
 * worker (the tasks stay in its queue, to run elsewhere; why says what
 * happened), WORKER_EARLY when it died before its first reply on its own,
 * holding a task on its first attempt (a retry that kills it says more of
 * the task), WORKER_GONE otherwise.
 */
enum worker_end
worker_reap(struct worker *w, const struct config *cfg, double now,
    int *status, struct tasklist *done, struct tasklist *unread)
{
	struct slot	*s;
	char		 how[96];
	int		 sig, early;
	enum worker_end	 end;

	/* The writer is dead: what it wrote is in the pipe, or never comes. */
	w->exited = 1;
	while (worker_read(w, cfg, now, done) == IO_READ)
		;
	worker_close_stdin(w);
	*status = spawn_wait(w->pl);
	/* Whatever it started dies with it: no process outlives its worker. */
	spawn_signal(-1, w->pid, SIGKILL);
	while (worker_read_err(w) == IO_READ)
		;
	if (host_lost(&w->link, term_sent(&w->term), 1, *status,
	    &w->errtail, w->why, sizeof w->why)) {
		/* The host failed, not the worker: its tasks go elsewhere. */
		end = WORKER_HOST_LOST;
		goto out;
	}
	if (w->partial && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
		(void)worker_reply(w, cfg, buf_head(&w->in), buf_used(&w->in),
		    now, done);
	/*
	 * A worker that answered and then exited 0 by itself (it retires
	 * after so many tasks, as a pool's maxtasksperchild) gives back the
	 * tasks it had not started.  No loop comes of it: each such exit
	 * follows an answer.
	 */
	if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0 &&
	    w->answered > 0 && !term_sent(&w->term) && !w->broken)
		worker_give_back(w, w->unread < 0 ? 0 : (size_t)w->unread,
		    unread);
	spawn_describe(*status, how, sizeof how);
	sig = WIFSIGNALED(*status) ? WTERMSIG(*status) : 0;
	early = w->answered == 0 && w->sent > 0 && !term_sent(&w->term);
	/*
	 * A task that failed before, killing a fresh worker, is the cause;
	 * not when the command cannot run at all.
	 */
	if (early && w->qlen > 0 && w->queue[w->qhead]->attempts -
	    w->queue[w->qhead]->lost > 1 && !spawn_not_found(*status))
		early = 0;
	end = early ? WORKER_EARLY : WORKER_GONE;
	/*
	 * A worker ppool set out to kill (worker_kill) before it showed a
	 * sign of ending fails its tasks for that reason, however it ended:
	 * its stdin is closed first, and one that exits at end of input may
	 * be gone before the signal.  One that closed a pipe first, or took
	 * too long to exit, says so only when the signal killed it; else its
	 * own status.  A remote worker ppool signalled shows ssh's 255, not
	 * the signal.
	 */
	while (w->qlen > 0) {
		s = worker_pop(w);
		s->ms = (now - s->start) * 1000.0;
		if (s == w->timed_out)
			task_timed_out(s, cfg->timeout);
		else if (w->killed || (term_sent(&w->term) && (sig == SIGTERM ||
		    sig == SIGKILL || !w->link.host->local)))
			task_fail(s, "worker killed: %s", w->why);
		else
			task_fail(s, "worker %s", how);
		queue_list_add(done, s);
	}
out:
	term_gone(&w->term);
	buf_free(&w->in);
	buf_free(&w->errtail);
	if (w->err_fd != -1)
		close(w->err_fd);
	w->err_fd = -1;
	if (w->from_fd != -1)
		close(w->from_fd);
	w->from_fd = -1;
	if (w->pidfd != -1)
		close(w->pidfd);
	w->pidfd = -1;
	w->state = WORKER_DEAD;
	return end;
}

/* Free a reaped worker. */
void
worker_free(struct worker *w)
{
	buf_free(&w->out);
	buf_free(&w->in);
	free(w->queue);
	pipeline_free(w->pl);
	free(w);
}
