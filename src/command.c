/* command.c: one process or pipeline per task: start, capture, time out, finish. */

#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Bytes asked of one read() of a command's output. */
#define COMMAND_CHUNK	(64 * 1024)

/* The value of PATH the task's command is looked up in. */
static const char *
command_path(const struct job *job)
{
	const char	*path;
	size_t		 i;

	for (i = 0; i < job->env_names.n; i++) {
		if (strcmp(job->env_names.v[i], "PATH") == 0)
			return job->env_values.v[i];
	}
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	return path;
}

/*
 * Look a program up as execvp would, into file.  Return 0, or 127 (not
 * found) or 126 (found, not executable).
 */
static int
command_lookup(const char *name, const char *path, const char *cwd,
    char *file, size_t size)
{
	const char	*dir, *end;
	char		 at[PATH_MAX];
	struct stat	 sb;
	int		 found = 0;
	size_t		 n;

	if (strchr(name, '/') != NULL) {
		if (name[0] != '/' && cwd != NULL)
			snprintf(file, size, "%s/%s", cwd, name);
		else
			snprintf(file, size, "%s", name);
		if (stat(file, &sb) == -1)
			return 127;
		return S_ISREG(sb.st_mode) && access(file, X_OK) == 0 ? 0 : 126;
	}
	for (dir = path; ; dir = end + 1) {
		end = strchr(dir, ':');
		n = end != NULL ? (size_t)(end - dir) : strlen(dir);
		/* An empty entry is the current directory, as in a shell. */
		if (n == 0) {
			dir = ".";
			n = 1;
		}
		/*
		 * file is what the child execs, in the task's cwd; a relative
		 * one is looked at from there.
		 */
		snprintf(file, size, "%.*s/%s", (int)n, dir, name);
		if (dir[0] != '/' && cwd != NULL)
			snprintf(at, sizeof at, "%s/%s", cwd, file);
		else
			snprintf(at, sizeof at, "%s", file);
		if (stat(at, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(at, X_OK) == 0)
				return 0;
			found = 1;
		}
		if (end == NULL)
			break;
	}
	return found ? 126 : 127;
}

/* Whether PATH has an entry that is relative (or empty, the cwd). */
static int
command_path_relative(const char *path)
{
	const char	*p;

	for (p = path; ; p++) {
		if (*p != '/')
			return 1;
		if ((p = strchr(p, ':')) == NULL)
			return 0;
	}
}

/*
 * Find the program to execute, remembering the last answers for a bare name
 * and PATH: most runs start the same program thousands of times, and the
 * child then execs the file directly instead of trying every directory.
 */
static int
command_find(const char *name, const char *path, const char *cwd,
    char *file, size_t size)
{
	static struct {
		char	*name;
		char	*path;
		char	*file;
		int	 code;
	}		 cache[8];
	static unsigned	 next;
	unsigned	 i;
	int		 code;

	if (strchr(name, '/') != NULL)
		return command_lookup(name, path, cwd, file, size);
	for (i = 0; i < 8; i++) {
		if (cache[i].name != NULL && cache[i].code == 0 &&
		    strcmp(cache[i].name, name) == 0 &&
		    strcmp(cache[i].path, path) == 0) {
			snprintf(file, size, "%s", cache[i].file);
			return 0;
		}
	}
	if ((code = command_lookup(name, path, cwd, file, size)) != 0)
		return code;
	/* With a relative entry in PATH, what is found depends on the cwd. */
	if (command_path_relative(path))
		return 0;
	i = next++ % 8;
	free(cache[i].name);
	free(cache[i].path);
	free(cache[i].file);
	cache[i].name = xstrdup(name);
	cache[i].path = xstrdup(path);
	cache[i].file = xstrdup(file);
	cache[i].code = 0;
	return 0;
}

/*
 * The stdin a command reads: the task's "stdin" text, /dev/null, or with
 * --pipe a pipe whose other end, put in *feed, ppool writes the block to.
 */
static int
command_stdin(const struct job *job, const struct config *cfg, int *feed)
{
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd, p[2];

	*feed = -1;
	if (cfg->pipe) {
		if (spawn_pipe(p, 1) == -1)
			return -1;
		/*
		 * A bigger pipe means fewer wake-ups on both sides; where it
		 * is refused (pipe-max-size, the user's pipe pages) the
		 * default serves.
		 */
		(void)fcntl(p[1], F_SETPIPE_SZ, BLOCK_PIPE_SIZE);
		*feed = p[1];
		return p[0];
	}
	if (!job->has_stdin)
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((fd = memfd_create("ppool-stdin", MFD_CLOEXEC)) == -1)
		return -1;
	len = job->stdin_text.len;
	while (off < len) {
		n = write(fd, job->stdin_text.data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			return -1;
		}
		off += n;
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Make the libpipeline pipeline for a job. */
static pipeline *
command_pipeline(const struct job *job)
{
	pipeline	*p = pipeline_new();
	pipecmd		*cmd;
	size_t		 i, k;

	for (i = 0; i < job->nstages; i++) {
		/*
		 * A stage whose program was found execs the job's own argv
		 * (spawn_start's hook): a copy of its arguments here would be
		 * made, and freed after the fork, for nothing (100,000 under
		 * -X).  A shell's stage is run by libpipeline, with them.
		 */
		cmd = pipecmd_new(job->stages[i].v[0]);
		for (k = 1; i >= job->files.n && k < job->stages[i].n; k++)
			pipecmd_arg(cmd, job->stages[i].v[k]);
		for (k = 0; k < job->env_names.n; k++)
			pipecmd_setenv(cmd, job->env_names.v[k],
			    job->env_values.v[k]);
		if (job->cwd != NULL)
			pipecmd_chdir(cmd, job->cwd);
		pipeline_command(p, cmd);
	}
	return p;
}

/*
 * Fail a task before anything ran, with exit status code (or -1 for
 * none), leaving the slot done for the caller to report.
 */
static void __attribute__((format(printf, 3, 4)))
command_refuse(struct slot *s, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	task_fail(s, "%s", msg);
	s->no_retry = 1;
	s->exit_code = code;
	s->has_result = code != -1;
}

/*
 * Check what can be checked before starting: the cwd, and the programs,
 * whose files found go to job->files; argv[0] stays as the task gave it.
 */
static int
command_check(struct slot *s, struct job *job)
{
	struct stat	 sb;
	char		 file[4096];
	size_t		 i;
	int		 code;

	if (job->cwd != NULL && stat(job->cwd, &sb) == -1) {
		command_refuse(s, -1, "cwd '%s': %s", job->cwd,
		    strerror(errno));
		return -1;
	}
	if (job->cwd != NULL && !S_ISDIR(sb.st_mode)) {
		command_refuse(s, -1, "cwd '%s': not a directory", job->cwd);
		return -1;
	}
	if (job->kind == JOB_SHELL)
		return 0;
	for (i = 0; i < job->nstages; i++) {
		code = command_find(job->stages[i].v[0], command_path(job),
		    job->cwd, file, sizeof file);
		if (code == 127) {
			/* parallel runs COMMAND through a shell; ppool does not. */
			command_refuse(s, 127, "%s: command not found%s",
			    job->stages[i].v[0],
			    strpbrk(job->stages[i].v[0], " \t|;&<>$`") != NULL ?
			    " (a shell command line as one word? run it with "
			    "sh -c)" : "");
			return -1;
		}
		if (code == 126) {
			command_refuse(s, 126, "%s: permission denied",
			    job->stages[i].v[0]);
			return -1;
		}
		/* A path is relative to the cwd the child is already in. */
		argv_add(&job->files, xstrdup(strchr(job->stages[i].v[0],
		    '/') != NULL ? job->stages[i].v[0] : file));
	}
	return 0;
}

/* Make the pipeline that runs a job on a remote host. */
static pipeline *
command_remote(const struct job *job, const struct host *h,
    const struct config *cfg)
{
	struct buf	 text;
	pipeline	*p;

	buf_init(&text);
	host_job_text(&text, job);
	p = host_pipeline(h, text.data, cfg->kill_after);
	buf_free(&text);
	return p;
}

/*
 * Send the task to a channel of host h (channel.c) instead of starting a
 * process for it: the command's process is the channel's, its output what
 * the channel gives back until the task's end.  Return as command_start.
 */
static enum command_start
command_in_channel(struct slot *s, const struct config *cfg, double now,
    struct host *h, struct job *job, int res[2], int may_wait,
    struct host *was, struct command **out)
{
	struct command	*c;
	struct channel	*ch;
	struct buf	 text;
	int		 saved, i;

	if ((ch = channel_get(h, cfg)) == NULL) {
		saved = errno;
		for (i = 0; i < 2; i++) {
			if (res[i] != -1)
				close(res[i]);
		}
		resolve_free(job);
		if (may_wait && (saved == EMFILE || saved == ENFILE)) {
			s->attempts--;
			s->host = was;
			return COMMAND_LATER;
		}
		command_refuse(s, -1, "cannot start a channel to %s: %s",
		    h->name, strerror(saved));
		return COMMAND_DONE;
	}
	c = xcalloc(1, sizeof *c);
	c->slot = s;
	c->chan = ch;
	/* The greeting is the channel's, taken once. */
	host_link(&c->link, h);
	c->link.ready = 1;
	c->nproc = 1;
	c->pids = xcalloc(1, sizeof *c->pids);
	c->pidfds = xcalloc(1, sizeof *c->pidfds);
	c->alive = xcalloc(1, sizeof *c->alive);
	c->pids[0] = c->pgid = ch->pid;
	c->pidfds[0] = ch->pidfd;
	c->alive[0] = 1;
	c->out_fd = c->err_fd = c->in_fd = -1;
	c->res_fd[0] = res[0];
	c->res_fd[1] = res[1];
	c->timeout = job->timeout > 0 ? job->timeout : cfg->timeout;
	/*
	 * The runner kills the task when told (command_kill); the channel's
	 * own way out is for a channel that no longer listens.
	 */
	term_init(&c->term, ch->pidfd, ch->pid, cfg->kill_after);
	if (c->timeout > 0)
		c->kill_due = now + c->timeout;
	buf_init(&text);
	host_job_text(&text, job);
	channel_send(ch, text.data, job->has_stdin ? &job->stdin_text : NULL);
	buf_free(&text);
	s->state = SLOT_RUNNING;
	resolve_free(job);
	*out = c;
	return COMMAND_STARTED;
}

/*
 * Start the task's command on host h.  Return COMMAND_STARTED with the
 * running command in *out; COMMAND_DONE when the task is done without
 * running: it could not run (its slot has the error), or --dry-run only
 * described it; COMMAND_LATER when may_wait is set and ppool is out of
 * descriptors, with the task untouched: it can start once another command
 * is gone.
 */
enum command_start
command_start(struct slot *s, const struct config *cfg, double now,
    struct host *h, int may_wait, struct command **out)
{
	struct command	*c;
	struct host	*was = s->host;
	struct job	 job;
	char		 err[512];
	int		 outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, in = -1;
	int		 res[2] = { -1, -1 }, feed = -1;
	int		 n, saved;

	*out = NULL;
	s->attempts++;
	s->start = now;
	if (resolve_job(s, cfg, &job, err, sizeof err) == -1) {
		s->attempts--;
		command_refuse(s, -1, "%s", err);
		return COMMAND_DONE;
	}
	if (cfg->dry_run) {
		buf_reset(&s->reply);
		resolve_print(&s->reply, &job);
		s->dry = 1;
		s->ok = 1;
		resolve_free(&job);
		return COMMAND_DONE;
	}
	s->host = h;
	/* A remote host looks its programs and directory up itself. */
	if (h->local && command_check(s, &job) == -1) {
		resolve_free(&job);
		return COMMAND_DONE;
	}
	/* --results: each attempt's output replaces the one before. */
	if (cfg->results != NULL && results_open(cfg->results, s->seq, res,
	    err, sizeof err) == -1) {
		resolve_free(&job);
		command_refuse(s, -1, "%s", err);
		return COMMAND_DONE;
	}

	if (channel_wanted(cfg, h))
		return command_in_channel(s, cfg, now, h, &job, res, may_wait,
		    was, out);

	/*
	 * Its pipes and stdin; then room for a pidfd a stage, and for the
	 * pipe libpipeline makes between two stages.
	 */
	if (spawn_pipe(outp, 0) == -1 || spawn_pipe(errp, 0) == -1 ||
	    (in = command_stdin(&job, cfg, &feed)) == -1 ||
	    spawn_reserve((int)job.nstages + (job.nstages > 1 ? 2 : 0)) == -1)
		goto fail;

	c = xcalloc(1, sizeof *c);
	c->slot = s;
	host_link(&c->link, h);
	c->pl = h->local ? command_pipeline(&job) :
	    command_remote(&job, h, cfg);
	n = pipeline_get_ncommands(c->pl);
	c->nproc = n;
	c->pids = xcalloc(n, sizeof *c->pids);
	c->pidfds = xcalloc(n, sizeof *c->pidfds);
	c->alive = xcalloc(n, sizeof *c->alive);
	if (spawn_start(c->pl, in, outp[1], errp[1], h->local ? &job : NULL,
	    c->pids, c->pidfds) == -1) {
		saved = errno;
		pipeline_free(c->pl);
		free(c->pids);
		free(c->pidfds);
		free(c->alive);
		free(c);
		in = outp[1] = -1;
		errno = saved;
		goto fail;
	}
	close(errp[1]);
	for (n = 0; n < (int)c->nproc; n++)
		c->alive[n] = 1;
	c->pgid = c->pids[0];
	c->out_fd = outp[0];
	c->err_fd = errp[0];
	c->res_fd[0] = res[0];
	c->res_fd[1] = res[1];
	c->in_fd = feed;
	c->timeout = job.timeout > 0 ? job.timeout : cfg->timeout;
	term_init(&c->term, c->pidfds[0], c->pgid, cfg->kill_after);
	if (c->timeout > 0)
		term_at(&c->term, now + c->timeout);
	s->state = SLOT_RUNNING;
	resolve_free(&job);
	*out = c;
	command_feed(c, cfg);
	return COMMAND_STARTED;

fail:
	saved = errno;
	for (n = 0; n < 2; n++) {
		if (outp[n] != -1)
			close(outp[n]);
		if (errp[n] != -1)
			close(errp[n]);
	}
	if (in != -1)
		close(in);
	if (feed != -1)
		close(feed);
	for (n = 0; n < 2; n++) {
		if (res[n] != -1)
			close(res[n]);
	}
	resolve_free(&job);
	if (may_wait && (saved == EMFILE || saved == ENFILE)) {
		s->attempts--;
		s->host = was;
		return COMMAND_LATER;
	}
	command_refuse(s, -1, "cannot start the command: %s",
	    strerror(saved));
	return COMMAND_DONE;
}

/*
 * Read what fd has into one chunk: set *data and *n.  Return IO_READ
 * after reading, IO_WAIT when nothing was ready, IO_END at end of file.
 */
static enum io_status
command_pull(int fd, char **data, size_t *n)
{
	static char	*chunk;
	ssize_t		 r;

	/*
	 * One chunk, keeping only what came: a slot's buffer grown to the
	 * chunk size for every task would send most tasks to the heap.  The
	 * chunk is in memory children never get, and not on the stack,
	 * where the pages it spans would fault after each fork.
	 */
	if (chunk == NULL)
		chunk = xcalloc_nofork(1, COMMAND_CHUNK);
	do
		r = read(fd, chunk, COMMAND_CHUNK);
	while (r == -1 && errno == EINTR);
	if (r == -1 && errno == EAGAIN)
		return IO_WAIT;
	if (r <= 0)
		return IO_END;
	*data = chunk;
	*n = (size_t)r;
	return IO_READ;
}

/*
 * --results: write bytes to the task's file; a write that fails (a full
 * disk) stops the command, as its output would be lost.
 */
static void
command_spill(struct command *c, int which, const char *p, size_t n,
    double now)
{
	char	 why[128];

	if (n == 0 || results_write(c->res_fd[which - 1], p, n) == 0)
		return;
	snprintf(why, sizeof why, "--results: cannot write its %s: %s",
	    which == 1 ? "stdout" : "stderr", strerror(errno));
	command_kill(c, now, why);
}

/*
 * Take bytes of the command's stdout (which = 1) or stderr (which = 2).  A
 * remote host's greeting comes first on stdout, and is not the command's: a
 * host that writes something else first is not to be trusted with tasks,
 * and the command is stopped.  With --results the bytes go to files, with
 * --line-buffer each complete stdout line to stdout at once; else they are
 * kept, up to the --max-output cap on what the buffer holds (a greeting
 * taken from its head no longer counts), past which they are dropped.
 */
static void
command_take(struct command *c, const struct config *cfg, int which,
    const char *data, size_t n, double now)
{
	struct buf	*b = which == 1 ? &c->slot->reply : &c->slot->errout;
	size_t		 cap = cfg->max_output, room;

	if (c->res_fd[which - 1] != -1 && (which == 2 || c->link.ready)) {
		command_spill(c, which, data, n, now);
		return;
	}
	if (which == 1 && !c->link.ready)
		cap += sizeof HOST_HELLO;
	room = cap > buf_used(b) ? cap - buf_used(b) : 0;
	if (n > room) {
		*(which == 1 ? &c->slot->out_trunc : &c->slot->err_trunc) = 1;
		n = room;
	}
	buf_add(b, data, n);
	if (which == 2)
		return;
	if (host_greet(&c->link, b, c->lost, sizeof c->lost) == HOST_BAD)
		command_kill(c, now, c->lost);
	else if (c->link.ready && c->res_fd[0] != -1) {
		/* What came with the greeting is the command's. */
		command_spill(c, 1, buf_head(b), buf_used(b), now);
		buf_reset(b);
	} else if (c->link.ready && cfg->line_buffer)
		output_lines(c->slot, b, 0);
}

/*
 * Take what the channel of a command has for it: a bounded number of reads
 * (a flood of output waits for the next poll), then whatever they left in
 * the channel's buffers, which no poll would wake ppool for (the token
 * behind the task's last bytes).  Return as command_read.
 */
static enum io_status
command_read_channel(struct command *c, const struct config *cfg, double now)
{
	enum io_status	 rc;
	char		*data;
	size_t		 n;
	int		 which, reads = 0;

	for (;;) {
		rc = channel_pull(c->chan, reads < 16, &which, &data, &n,
		    c->lost, sizeof c->lost);
		reads++;
		if (c->chan->link.bad) {
			command_kill(c, now, c->lost);
			return IO_WAIT;
		}
		if (rc != IO_READ)
			return rc == IO_WAIT && reads > 16 ? IO_READ : rc;
		command_take(c, cfg, which, data, n, now);
	}
}

/*
 * Read the command's stdout (which = 1) or stderr (which = 2), closing it at
 * end of file; a command in a channel, what the channel has for either.
 * Return IO_READ after reading, IO_WAIT when nothing was ready, IO_END at
 * the end.
 */
enum io_status
command_read(struct command *c, const struct config *cfg, int which,
    double now)
{
	int		*fd = which == 1 ? &c->out_fd : &c->err_fd;
	enum io_status	 rc;
	char		*data;
	size_t		 n;

	if (c->chan != NULL)
		return command_read_channel(c, cfg, now);
	if (*fd == -1)
		return IO_END;
	if ((rc = command_pull(*fd, &data, &n)) == IO_READ)
		command_take(c, cfg, which, data, n, now);
	else if (rc == IO_END) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* Close the command's stdin: the end of its input. */
static void
command_close_in(struct command *c)
{
	close(c->in_fd);
	c->in_fd = -1;
}

/*
 * --pipe: write what the command's stdin takes of its task's block; at
 * the block's end close its stdin, or with --round-robin go on with the
 * next block, closing only at the end of the input.  A failed write (the
 * command closed its stdin) closes it too, and the task fails when the
 * command exits (command_exited).
 */
void
command_feed(struct command *c, const struct config *cfg)
{
	struct slot	*s = c->slot;
	ssize_t		 n;

	while (c->in_fd != -1) {
		if (s->block == NULL) {
			if ((s->block = block_cut()) == NULL) {
				if (block_done())
					command_close_in(c);
				return;
			}
			c->in_sent = 0;
		}
		n = block_write(s->block, &c->in_sent, c->in_fd);
		if (n > 0) {
			c->in_total += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			c->in_error = errno;
		else if (cfg->round_robin) {
			/* Written: the next block may be cut in its place. */
			block_release(s->block);
			s->block = NULL;
			continue;
		}
		command_close_in(c);
	}
}

/*
 * Whether the command's stdin was left short of its input: it exited, or
 * closed stdin, before ppool had written it all.  Say so in s.
 */
static int
command_short_in(struct command *c, const struct config *cfg)
{
	struct slot	*s = c->slot;

	if (c->in_fd == -1 && c->in_error == 0)
		return 0;
	if (c->in_error != 0 && c->in_error != EPIPE)
		task_fail(s, "cannot write its input to its stdin: %s",
		    strerror(c->in_error));
	else if (cfg->round_robin)
		task_fail(s, "its stdin was closed before the input ended "
		    "(%llu bytes written to it)",
		    (unsigned long long)c->in_total);
	else
		task_fail(s, "its stdin was closed before it took its block "
		    "(%llu of %llu bytes written)",
		    (unsigned long long)c->in_sent,
		    (unsigned long long)s->block->len);
	return 1;
}

/*
 * The next step of stopping a command in a channel: its runner sends its
 * process group SIGTERM at the first "k" line, SIGKILL at the second,
 * --kill-after seconds later; a channel that has not sent the task's end
 * CHANNEL_GRACE seconds after that is ended itself.
 */
static void
command_kill_in_channel(struct command *c, double now)
{
	if (c->kills == 2) {
		c->kill_due = 0;
		term_now(&c->term, now);
		return;
	}
	channel_kill_task(c->chan);
	c->kills++;
	c->kill_due = now + c->term.kill_after +
	    (c->kills == 2 ? CHANNEL_GRACE : 0);
}

/*
 * Stop the command for a reason: SIGTERM to its process group now, SIGKILL
 * after --kill-after seconds (term.c, or in a channel its runner).
 */
void
command_kill(struct command *c, double now, const char *why)
{
	int	 first = c->why[0] == '\0' && !c->timed_out;

	/* The first reason holds, cut to fit. */
	if (c->why[0] == '\0')
		snprintf(c->why, sizeof c->why, "%.*s",
		    (int)sizeof c->why - 1, why);
	if (c->chan == NULL)
		term_now(&c->term, now);
	else if (first && c->kills == 0)
		command_kill_in_channel(c, now);
}

/* Run the command's timer; return when it wants to run next, or 0. */
double
command_timer(struct command *c, double now)
{
	double	 next;

	if (c->chan != NULL && c->kill_due > 0 && now >= c->kill_due) {
		if (c->kills == 0 && c->why[0] == '\0')
			c->timed_out = 1;
		command_kill_in_channel(c, now);
	}
	if (term_timer(&c->term, now, &next) == TERM_FIRED)
		c->timed_out = 1;
	if (c->chan != NULL && c->kill_due > 0 && (next == 0 ||
	    c->kill_due < next))
		next = c->kill_due;
	return next;
}

/*
 * Add the line ssh wrote on stderr (why it failed) to c->lost: the first,
 * or after a task's own output in a channel, the last.  srun's line is in
 * c->lost already.
 */
static void
command_lost_why(struct command *c, int last)
{
	struct buf	*e = &c->slot->errout;
	size_t		 len = strlen(c->lost), n;
	const char	*p, *nl;

	if (buf_used(e) == 0 || c->link.bad || c->link.host->slurm)
		return;
	p = buf_head(e);
	n = buf_used(e);
	if (last) {
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		if ((nl = memrchr(p, '\n', n)) != NULL) {
			n -= nl + 1 - p;
			p = nl + 1;
		}
	} else if ((nl = memchr(p, '\n', n)) != NULL)
		n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;	/* ssh ends its messages with CR LF */
	if (n > 0)
		snprintf(c->lost + len, sizeof c->lost - len, " (%.*s)",
		    (int)n, p);
}

/*
 * How to tell whether a command's host failed when it ended: a task that
 * ended in its channel ran; a channel that ended under a task did as a
 * worker's ssh does (status 255 is a lost connection); a command of its
 * own has its exit status, 255 included.
 */
enum command_lost {
	LOST_NEVER,
	LOST_CHANNEL,
	LOST_COMMAND
};

/* Read what the command's output holds, to its end or to EAGAIN. */
static void
command_drain(struct command *c, const struct config *cfg, double now)
{
	while (command_read(c, cfg, 1, now) == IO_READ)
		;
	while (command_read(c, cfg, 2, now) == IO_READ)
		;
}

/*
 * The command ended with wait status status: finish the task's record,
 * unless its host failed, as lost_rule tells.  Return as command_exited.
 */
static enum command_end
command_result(struct command *c, const struct config *cfg, int status,
    enum command_lost lost_rule)
{
	struct slot	*s = c->slot;
	char		 how[96];
	int		 sig;

	if (lost_rule != LOST_NEVER && host_lost(&c->link, term_sent(&c->term),
	    lost_rule == LOST_CHANNEL ? 2 : 0, status, &s->errout, c->lost,
	    sizeof c->lost)) {
		/* The host failed, not the task: it runs elsewhere. */
		command_lost_why(c, lost_rule == LOST_CHANNEL);
		term_gone(&c->term);
		return COMMAND_HOST_LOST;
	}
	if (c->again) {
		term_gone(&c->term);
		return COMMAND_AGAIN;
	}
	s->has_result = 1;
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	s->term_sig = sig;
	s->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    !c->timed_out && c->why[0] == '\0';
	if (!c->link.host->local && (c->timed_out || c->why[0] != '\0')) {
		/* ssh's status, not the remote command's, which is unknown. */
		s->exit_code = -1;
		s->term_sig = 0;
	}
	if (c->timed_out)
		task_timed_out(s, c->timeout);
	else if (c->why[0] != '\0' && !s->ok)
		task_fail(s, "%s", c->why);
	else if (!s->ok) {
		spawn_describe(status, how, sizeof how);
		task_fail(s, "%s", how);
	} else if (command_short_in(c, cfg))
		s->ok = 0;
	if (c->in_fd != -1)
		command_close_in(c);
	s->state = SLOT_DONE;
	term_gone(&c->term);
	return COMMAND_FINISHED;
}

/*
 * A task sent to a channel ended, or the channel did.  A task's end is its
 * runner's status: a shell reports a death by signal N as 128 + N, and so
 * is it read here.  A channel that ended first takes the task with it: its
 * host failed (host_lost), or ppool stopped it (a timeout ends the
 * channel), or it failed by itself.  Return as command_exited.
 */
static enum command_end
command_channel_ended(struct command *c, const struct config *cfg,
    double now)
{
	struct channel	*ch = c->chan;
	struct slot	*s = c->slot;
	enum command_end end;
	char		 how[96];
	int		 status, e;

	if (!channel_done(ch))
		command_drain(c, cfg, now);
	s->ms = (now - s->start) * 1000.0;
	if (channel_done(ch)) {
		e = ch->status;
		status = e > 128 && e < 128 + NSIG ? e - 128 : (e & 0xff) << 8;
		channel_release(ch);
		c->chan = NULL;
		c->pidfds[0] = -1;
		return command_result(c, cfg, status, LOST_NEVER);
	}
	/* The channel is gone: its wait status is the command's. */
	c->pidfds[0] = -1;
	c->term.pidfd = -1;
	c->link = ch->link;
	c->chan = NULL;
	status = channel_end(ch, 0);
	if (c->why[0] == '\0' && !term_sent(&c->term)) {
		spawn_describe(status, how, sizeof how);
		snprintf(c->why, sizeof c->why, "its channel to %.64s ended before "
		    "the task did (%s %s)", c->link.host->name,
		    c->link.host->slurm ? "srun" : "ssh", how);
	}
	end = command_result(c, cfg, status, LOST_CHANNEL);
	return end;
}

/*
 * Process i of the command exited.  When all have: end what they left
 * behind in their process group, read the rest of the output, and finish
 * the task's record.  Return COMMAND_RUNNING while a process is left,
 * COMMAND_FINISHED when the task is done (its slot has the outcome, for
 * the caller to report), COMMAND_HOST_LOST when its host failed, not the
 * task (c->lost says how; the slot is left for the caller to run
 * elsewhere).  Either way no signal is sent to the command after this.
 */
enum command_end
command_exited(struct command *c, const struct config *cfg, size_t i,
    double now)
{
	struct slot	*s = c->slot;
	int		 status;

	if (c->chan != NULL)
		return command_channel_ended(c, cfg, now);
	if (c->alive[i]) {
		if (c->pidfds[i] != -1)
			close(c->pidfds[i]);
		c->pidfds[i] = -1;
		if (i == 0)
			c->term.pidfd = -1;
		c->alive[i] = 0;
		c->nexited++;
	}
	if (c->nexited < c->nproc)
		return COMMAND_RUNNING;

	/* No process outlives its task: descendants go with it. */
	spawn_signal(-1, c->pgid, SIGKILL);
	/* The writers are gone: read to EOF, or to EAGAIN if a stray holds on. */
	command_drain(c, cfg, now);
	if (c->out_fd != -1)
		close(c->out_fd);
	if (c->err_fd != -1)
		close(c->err_fd);
	c->out_fd = c->err_fd = -1;

	status = spawn_wait(c->pl);
	s->ms = (now - s->start) * 1000.0;
	return command_result(c, cfg, status, LOST_COMMAND);
}

/* Free a finished command. */
void
command_free(struct command *c)
{
	size_t	 i;

	for (i = 0; i < c->nproc; i++) {
		if (c->pidfds[i] != -1)
			close(c->pidfds[i]);
	}
	if (c->out_fd != -1)
		close(c->out_fd);
	if (c->err_fd != -1)
		close(c->err_fd);
	if (c->in_fd != -1)
		close(c->in_fd);
	for (i = 0; i < 2; i++) {
		if (c->res_fd[i] != -1)
			close(c->res_fd[i]);
	}
	if (c->pl != NULL)
		pipeline_free(c->pl);
	free(c->pids);
	free(c->pidfds);
	free(c->alive);
	free(c);
}
