/* channel.c: one long-lived shell per remote slot (an ssh connection, a Slurm step) that runs command-mode tasks one after another. */

#include "config.h"

#include <sys/random.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/*
 * The runner: what a channel runs on the far side, under /bin/sh (after
 * host.c's wrapper, which greets).  It needs a POSIX shell, head -c and
 * mktemp; setsid where there is one.
 *
 * Its first line is a token, random, known only to ppool and this shell
 * (never in a command line or the environment, where a task could see
 * it).  Then each task is a frame: "T LINES BYTES", LINES lines of shell
 * text (host_job_text's, joined by newlines: none is added), and BYTES
 * bytes of stdin ("-": /dev/null).  The
 * task's stdout goes straight to the channel's; then come the token and
 * "STATUS 0\n", or "STATUS 1\n", the task's stderr and the token again.
 * That is how ppool knows where each ends, byte for byte, from one stream:
 * a second stream's last bytes would come in a TCP segment of their own,
 * which srun's and sshd's links hold back for the first one's ACK (40 ms).
 * stderr waits in a file meanwhile, sent (by cat) only when not empty.
 * Through srun (P_b=1) stdout waits in a file too and all goes in one
 * write (cat's), for the same reason: the runner's status line, written
 * after the task's output was sent, waited 15 to 40 ms for that ACK.
 *
 * Its variables are its own (unset first: one exported by the far side's
 * environment would stay exported, to every task).  With setsid, a task is
 * a session of its own: what it leaves behind is killed when it ends, as
 * here.  While a task runs, a reader waits on the runner's stdin: each
 * "k" line ppool sends kills the task (SIGTERM, then SIGKILL), and the
 * empty line ppool sends once it has the task's end lets the runner go on
 * to the next frame.  So a timeout ends the task, not the channel.  When
 * the channel ends (ssh's watchdog or Slurm signal the runner) the running
 * task gets SIGTERM, and SIGKILL --kill-after seconds later, from a process
 * outside the runner's group.
 */
#define CHANNEL_RUNNER_FMT						\
	"unset P_a P_b P_t P_d P_s P_p P_w P_m P_n P_c P_i P_l P_f P_e P_k "	\
	"P_g P_r\n"							\
	"P_a=%g; P_b=%d; IFS= read -r P_t || exit 0\n"			\
	"P_d=$(mktemp -d \"${TMPDIR:-/tmp}/ppool.XXXXXX\") || exit 1\n"	\
	"P_s=setsid; command -v setsid >/dev/null 2>&1 || P_s=\n"	\
	"exec 3<&0 4>&1\n"						\
	"trap 'rm -rf \"$P_d\"' EXIT\n"					\
	"trap '[ -n \"$P_p\" ] && { kill -TERM -$P_p || kill -TERM $P_p; " \
	"$P_s /bin/sh -c \"sleep $P_a; kill -KILL -$P_p\" </dev/null "	\
	">/dev/null 2>&1 & }; exit 1' HUP TERM\n"			\
	"while read -r P_w P_m P_n; do\n"				\
	"[ \"$P_w\" = T ] || continue\n"				\
	"IFS= read -r P_c || exit 0; P_i=1\n"				\
	"while [ $P_i -lt $P_m ]; do IFS= read -r P_l || exit 0; "	\
	"P_c=\"$P_c\n$P_l\"; P_i=$((P_i+1)); done\n"			\
	"P_f=/dev/null\n"						\
	"if [ \"$P_n\" != - ]; then head -c \"$P_n\" >\"$P_d/i\" || "	\
	"exit 0; P_f=$P_d/i; fi\n"					\
	"[ $P_b = 1 ] && exec 4>\"$P_d/o\"\n"				\
	"$P_s /bin/sh -c \"$P_c\" <\"$P_f\" >&4 2>\"$P_d/e\" 3<&- 4>&- & "	\
	"P_p=$!\n"							\
	"{ P_g=TERM; while IFS= read -r P_k && [ \"$P_k\" = k ]; do "	\
	"kill -$P_g -$P_p 2>/dev/null || kill -$P_g $P_p 2>/dev/null; "	\
	"P_g=KILL; done; } <&3 4>&- & P_r=$!\n"				\
	"wait $P_p 2>/dev/null; P_e=$?\n"				\
	"[ -n \"$P_s\" ] && kill -KILL -$P_p 2>/dev/null\n"		\
	"P_p=\n"							\
	"if [ -s \"$P_d/e\" ]; then printf '%%s %%s 1\\n' \"$P_t\" "	\
	"\"$P_e\"; cat \"$P_d/e\"; printf '%%s\\n' \"$P_t\"; "		\
	"else printf '%%s %%s 0\\n' \"$P_t\" \"$P_e\"; fi >&4\n"	\
	"[ $P_b = 1 ] && exec 4>&1 && cat \"$P_d/o\"\n"			\
	"wait $P_r\n"							\
	"done\n"

/* Bytes asked of one read() of a channel. */
#define CHANNEL_CHUNK	(64 * 1024)

static struct channel	*channels;	/* every one alive, busy or idle */

/* Make the token: 32 hex digits from the kernel's random bytes. */
static void
channel_token(char *t)
{
	unsigned char	 r[CHANNEL_TOKEN / 2];
	size_t		 i;
	ssize_t		 n;

	do
		n = getrandom(r, sizeof r, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof r)
		err(EXIT_FATAL, "getrandom");
	for (i = 0; i < sizeof r; i++)
		snprintf(t + 2 * i, 3, "%02x", r[i]);
}

/*
 * Whether command-mode tasks on h go through channels: remote hosts, except
 * with --pipe (whose blocks stream into a command's stdin as it takes them).
 * PPOOL_CHANNELS=0 gives one connection per task instead, to compare.
 */
int
channel_wanted(const struct config *cfg, const struct host *h)
{
	const char	*v = getenv("PPOOL_CHANNELS");

	return !h->local && !cfg->pipe && (v == NULL || strcmp(v, "0") != 0);
}

/* Start a channel to h.  Return it, or NULL with errno. */
static struct channel *
channel_open(struct host *h, const struct config *cfg)
{
	struct channel	*ch;
	char		 runner[sizeof CHANNEL_RUNNER_FMT + 32];
	int		 to[2], out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int		 saved, i;

	if (spawn_pipe(to, 1) == -1)
		return NULL;
	if (spawn_pipe(out, 0) == -1 || spawn_pipe(errp, 0) == -1 ||
	    spawn_reserve(1) == -1)
		goto fail;
	ch = xcalloc(1, sizeof *ch);
	snprintf(runner, sizeof runner, CHANNEL_RUNNER_FMT, cfg->kill_after,
	    h->slurm);
	ch->pl = host_pipeline(h, runner, cfg->kill_after);
	if (spawn_start(ch->pl, to[0], out[1], errp[1], NULL, &ch->pid,
	    &ch->pidfd) == -1) {
		saved = errno;
		pipeline_free(ch->pl);
		free(ch);
		close(to[1]);
		close(out[0]);
		close(errp[0]);
		close(errp[1]);
		errno = saved;
		return NULL;
	}
	close(errp[1]);
	ch->host = h;
	host_link(&ch->link, h);
	ch->to_fd = to[1];
	ch->fd[0] = out[0];
	ch->fd[1] = errp[0];
	for (i = 0; i < 2; i++)
		buf_init(&ch->rd[i]);
	buf_init(&ch->send);
	channel_token(ch->token);
	buf_add(&ch->send, ch->token, CHANNEL_TOKEN);
	buf_addc(&ch->send, '\n');
	ch->next = channels;
	channels = ch;
	return ch;

fail:
	saved = errno;
	for (i = 0; i < 2; i++) {
		if (to[i] != -1)
			close(to[i]);
		if (out[i] != -1)
			close(out[i]);
		if (errp[i] != -1)
			close(errp[i]);
	}
	errno = saved;
	return NULL;
}

/* Whether the channel's process is still there, as far as poll says. */
static int
channel_alive(const struct channel *ch)
{
	struct pollfd	 pfd;

	if (ch->pidfd == -1)
		return spawn_alive(ch->pid);
	pfd.fd = ch->pidfd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 0;
}

/* Take ch out of the list of channels. */
static void
channel_unlink(struct channel *ch)
{
	struct channel	**pp;

	for (pp = &channels; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			return;
		}
	}
}

/*
 * End a channel and free it: its stdin closed (the runner exits at the
 * end of it), or with sig, its process group signalled first.  Return
 * the channel process's wait status.
 */
int
channel_end(struct channel *ch, int sig)
{
	int	 status, i;

	channel_unlink(ch);
	if (ch->to_fd != -1)
		close(ch->to_fd);
	if (sig != 0)
		spawn_signal(ch->pidfd, ch->pid, sig);
	for (i = 0; i < 2; i++) {
		if (ch->fd[i] != -1)
			close(ch->fd[i]);
		buf_free(&ch->rd[i]);
	}
	status = spawn_wait(ch->pl);
	/* No process outlives its channel. */
	spawn_signal(-1, ch->pid, SIGKILL);
	if (ch->pidfd != -1)
		close(ch->pidfd);
	buf_free(&ch->send);
	pipeline_free(ch->pl);
	free(ch);
	return status;
}

/*
 * A channel to h for one task: an idle one, or a new one while h has a
 * slot for it (the caller took it).  Return NULL with errno when one cannot
 * be started.
 */
struct channel *
channel_get(struct host *h, const struct config *cfg)
{
	struct channel	*ch, *next;

	for (ch = channels; ch != NULL; ch = next) {
		next = ch->next;
		if (ch->busy || ch->host != h)
			continue;
		if (!channel_alive(ch)) {
			/* It ended while idle (a dropped connection). */
			(void)channel_end(ch, SIGKILL);
			continue;
		}
		ch->busy = 1;
		return ch;
	}
	if ((ch = channel_open(h, cfg)) != NULL)
		ch->busy = 1;
	return ch;
}

/*
 * Write what the channel has to send, as far as its pipe takes it.  Return
 * 0, or -1 with errno when the channel's stdin is broken.
 */
int
channel_flush(struct channel *ch)
{
	ssize_t	 n;

	while (buf_used(&ch->send) > 0) {
		n = write(ch->to_fd, buf_head(&ch->send), buf_used(&ch->send));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1)
			return -1;
		buf_consume(&ch->send, (size_t)n);
	}
	return 0;
}

/*
 * Send a task: its shell text (no NUL in it) and its stdin, or none for
 * /dev/null.  Its output comes back through channel_pull.
 */
void
channel_send(struct channel *ch, const char *text, const struct buf *in)
{
	const char	*p;
	char		 head[64];
	size_t		 lines = 1;

	/* Its lines joined by newlines: the last one may be empty. */
	for (p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	if (in != NULL)
		snprintf(head, sizeof head, "T %zu %zu\n", lines, in->len);
	else
		snprintf(head, sizeof head, "T %zu -\n", lines);
	buf_addstr(&ch->send, head);
	buf_addstr(&ch->send, text);
	buf_addc(&ch->send, '\n');
	if (in != NULL)
		buf_add(&ch->send, in->data, in->len);
	ch->state = CHANNEL_OUT;
	ch->status = 0;
	(void)channel_flush(ch);
}

/*
 * How many bytes at the end of b (n of them at p) may be the start of the
 * token: they wait for what comes next.
 */
static size_t
channel_token_start(const struct channel *ch, const char *p, size_t n)
{
	size_t	 k = n < CHANNEL_TOKEN - 1 ? n : CHANNEL_TOKEN - 1;

	for (; k > 0; k--) {
		if (memcmp(p + n - k, ch->token, k) == 0)
			return k;
	}
	return 0;
}

/* Read what fd has into b; close it at its end.  Return 1 if bytes came. */
static int
channel_fill(int *fd, struct buf *b)
{
	static char	*chunk;
	ssize_t		 r;

	if (*fd == -1)
		return 0;
	if (chunk == NULL)
		chunk = xcalloc_nofork(1, CHANNEL_CHUNK);
	do
		r = read(*fd, chunk, CHANNEL_CHUNK);
	while (r == -1 && errno == EINTR);
	if (r > 0) {
		buf_add(b, chunk, (size_t)r);
		return 1;
	}
	if (r == 0 || errno != EAGAIN) {
		close(*fd);
		*fd = -1;
	}
	return 0;
}

/*
 * The runner's line after a token, at p (n bytes): " STATUS MORE\n" after
 * stdout, "\n" after stderr.  Return its length with the newline, 0 while
 * it is not all there.
 */
static size_t
channel_line(struct channel *ch, const char *p, size_t n)
{
	const char	*nl = memchr(p, '\n', n);
	char		*end;

	if (nl == NULL)
		return 0;
	if (ch->state == CHANNEL_OUT) {
		ch->status = (int)strtol(p, &end, 10);
		ch->state = strtol(end, NULL, 10) == 1 ? CHANNEL_ERR :
		    CHANNEL_DONE;
	} else
		ch->state = CHANNEL_DONE;
	return (size_t)(nl - p) + 1;
}

/*
 * The next bytes of the task sent on ch, reading its pipes first when
 * may_read: set *which (1: its stdout, 2: its stderr), *data and *n; they
 * stay valid until the next call.  What ssh or
 * srun write on the channel's own stderr goes to the task's.  Return
 * IO_READ with bytes, IO_WAIT when more must come first, IO_END once the
 * task ended (channel_done) or the channel did.  The greeting comes first;
 * a host that writes something else is not to be trusted (ch->link.bad,
 * and why says so).
 */
enum io_status
channel_pull(struct channel *ch, int may_read, int *which, char **data,
    size_t *n, char *why, size_t size)
{
	struct buf	*b = &ch->rd[0];
	const char	*tok;
	size_t		 line, give;

	*n = 0;
	buf_consume(&ch->rd[0], ch->given[0]);
	buf_consume(&ch->rd[1], ch->given[1]);
	ch->given[0] = ch->given[1] = 0;
	if (buf_used(&ch->rd[1]) == 0 && may_read)
		(void)channel_fill(&ch->fd[1], &ch->rd[1]);
	if (buf_used(&ch->rd[1]) > 0) {
		*which = 2;
		*data = buf_head(&ch->rd[1]);
		*n = ch->given[1] = buf_used(&ch->rd[1]);
		return IO_READ;
	}
	if (ch->state == CHANNEL_DONE)
		return IO_END;
	if (may_read)
		(void)channel_fill(&ch->fd[0], b);
	if (!ch->link.ready &&
	    host_greet(&ch->link, b, why, size) != HOST_READY)
		return ch->fd[0] == -1 ? IO_END : IO_WAIT;
	*which = ch->state == CHANNEL_ERR ? 2 : 1;
	tok = buf_used(b) >= CHANNEL_TOKEN ? memmem(buf_head(b), buf_used(b),
	    ch->token, CHANNEL_TOKEN) : NULL;
	if (tok != NULL) {
		give = (size_t)(tok - buf_head(b));
		if (give > 0) {
			/* The stream's last bytes; the token next time. */
			*data = buf_head(b);
			*n = ch->given[0] = give;
			return IO_READ;
		}
		line = channel_line(ch, buf_head(b) + CHANNEL_TOKEN,
		    buf_used(b) - CHANNEL_TOKEN);
		if (line == 0)
			return ch->fd[0] == -1 ? IO_END : IO_WAIT;
		buf_consume(b, CHANNEL_TOKEN + line);
		return channel_pull(ch, 0, which, data, n, why, size);
	}
	give = buf_used(b);
	if (ch->fd[0] != -1)
		give -= channel_token_start(ch, buf_head(b), buf_used(b));
	*data = buf_head(b);
	*n = ch->given[0] = give;
	if (give > 0)
		return IO_READ;
	return ch->fd[0] == -1 ? IO_END : IO_WAIT;
}

/*
 * Kill the task sent on ch: SIGTERM to its process group the first time,
 * SIGKILL after.  Its end comes back as any other.
 */
void
channel_kill_task(struct channel *ch)
{
	buf_add(&ch->send, "k\n", 2);
	(void)channel_flush(ch);
}

/* Whether the task sent on ch is done: its token and status came. */
int
channel_done(const struct channel *ch)
{
	return ch->state == CHANNEL_DONE;
}

/*
 * The task is done: ch waits for the next one of its host.  The empty line
 * that lets the runner's reader go is sent with the next frame, in one
 * write: two would be two TCP segments, the second held back for the
 * first's ACK (40 ms).  Until then the runner has nothing to do anyway.
 */
void
channel_release(struct channel *ch)
{
	ch->busy = 0;
	buf_addc(&ch->send, '\n');
	buf_consume(&ch->rd[0], ch->given[0]);
	buf_consume(&ch->rd[1], ch->given[1]);
	ch->given[0] = ch->given[1] = 0;
}

/* End every idle channel: the run is over.  Busy ones end with their task. */
void
channel_close_idle(void)
{
	struct channel	*ch, *next;

	/* All are told first, then waited for: they end side by side. */
	for (ch = channels; ch != NULL; ch = ch->next) {
		if (!ch->busy && ch->to_fd != -1) {
			close(ch->to_fd);
			ch->to_fd = -1;
		}
	}
	for (ch = channels; ch != NULL; ch = next) {
		next = ch->next;
		if (!ch->busy)
			(void)channel_end(ch, 0);
	}
}

/* Signal every channel's process group (Ctrl-Z and after). */
void
channel_signal_all(int sig)
{
	struct channel	*ch;

	for (ch = channels; ch != NULL; ch = ch->next)
		kill(-ch->pid, sig);
}
