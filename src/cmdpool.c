/* cmdpool.c: command mode's running commands: started while -j and the descriptors allow, finished as they exit. */

#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>

#include "ppool.h"

/* What a pollfd entry of a command stands for. */
enum watch {
	WATCH_IN,		/* --pipe: its stdin takes more of the block */
	WATCH_OUT,
	WATCH_ERR,
	WATCH_EXIT
};

struct pollref {
	size_t		 i;		/* the command's index */
	enum watch	 what;
	size_t		 stage;		/* WATCH_EXIT: which process */
};

static struct {
	const struct config	*cfg;
	unsigned		 jobs;		/* -j, within the descriptors */
	struct command		**cmds;		/* running, in no order */
	size_t			 n;
	struct pollref		*refs;		/* what cmdpool_watch watched */
	size_t			 nrefs;
	unsigned long		 starts;	/* commands started so far */
} C;

/* Prepare to run up to jobs commands at once. */
void
cmdpool_init(const struct config *cfg, unsigned jobs)
{
	C.cfg = cfg;
	C.jobs = jobs;
	C.cmds = xcalloc(jobs, sizeof *C.cmds);
}

/* Free what the pool holds; every command is gone by now. */
void
cmdpool_free(void)
{
	channel_close_idle();
	free(C.cmds);
	free(C.refs);
}

/*
 * Start pending tasks while fewer than -j run and a host has a free slot.
 * Out of descriptors, a task waits for a running command to end (with none
 * running, it fails instead: nothing would free one).
 */
/*
 * --memfree: memory is under half the limit, so the youngest command
 * makes room; it runs again later.  One at a time: the next is chosen
 * only once that one is gone and memory was looked at again.
 */
static void
cmdpool_squeeze(double now)
{
	struct command	*young = NULL;
	size_t		 i;

	for (i = 0; i < C.n; i++) {
		if (C.cmds[i]->again)
			return;
		if (young == NULL || C.cmds[i]->order > young->order)
			young = C.cmds[i];
	}
	if (young == NULL)
		return;
	young->again = 1;
	command_kill(young, now, "stopped to free memory: MemAvailable under "
	    "half of --memfree");
}

void
cmdpool_dispatch(double now)
{
	struct command	*c;
	struct host	*h;
	struct slot	*s;
	size_t		 i;

	if (C.n > 0 && gate_squeezed(now))
		cmdpool_squeeze(now);
	/* --round-robin: a block was cut, or the input ended, for the idle. */
	for (i = 0; C.cfg->round_robin && i < C.n; i++) {
		if (C.cmds[i]->in_fd != -1 && C.cmds[i]->slot->block == NULL)
			command_feed(C.cmds[i], C.cfg);
	}
	while ((s = queue_head()) != NULL && C.n < C.jobs &&
	    C.n < host_slots() && gate_open(now) &&
	    (h = host_pick()) != NULL) {
		switch (command_start(s, C.cfg, now, h, C.n > 0, &c)) {
		case COMMAND_LATER:
			return;
		case COMMAND_DONE:
			queue_pop();
			queue_done(s);
			break;
		case COMMAND_STARTED:
			queue_pop();
			host_take(h);
			gate_started();
			c->order = C.starts++;
			C.cmds[C.n++] = c;
			break;
		}
	}
}

/* Kill every command; their tasks fail with the reason. */
void
cmdpool_kill_all(double now, const char *why)
{
	size_t	 i;

	for (i = 0; i < C.n; i++)
		command_kill(C.cmds[i], now, why);
}

/* Send sig to the process group of every command (Ctrl-Z and after). */
void
cmdpool_signal_all(int sig)
{
	size_t	 i;

	for (i = 0; i < C.n; i++) {
		if (C.cmds[i]->chan == NULL)
			kill(-C.cmds[i]->pgid, sig);
	}
	/* Busy or idle: a stopped channel must go on with ppool. */
	channel_signal_all(sig);
}

/* Run the commands' timers; return when they want to run next, or 0. */
double
cmdpool_timers(double now)
{
	double	 next = 0, t;
	size_t	 i;

	for (i = 0; i < C.n; i++) {
		t = command_timer(C.cmds[i], now);
		if (t > 0 && (next == 0 || t < next))
			next = t;
	}
	return next;
}

/* How many commands run. */
unsigned
cmdpool_running(void)
{
	return C.n;
}

/*
 * Process stage of command i exited.  When that was the last, the command
 * leaves the list (the last one takes its place) and its task is handed
 * on: done, or, when its host failed, to run elsewhere.  No signal reaches
 * it after this.  Return 1 when it left the list.
 */
static int
cmdpool_exited(size_t i, size_t stage, double now)
{
	struct command	*c = C.cmds[i];
	struct host	*h = c->link.host;

	switch (command_exited(c, C.cfg, stage, now)) {
	case COMMAND_RUNNING:
		return 0;
	case COMMAND_FINISHED:
		C.cmds[i] = C.cmds[--C.n];
		host_give(h);
		queue_done(c->slot);
		break;
	case COMMAND_HOST_LOST:
		/* Its host failed, not the task: run it elsewhere. */
		C.cmds[i] = C.cmds[--C.n];
		host_give(h);
		if (host_retire(h, c->lost) == 0)
			queue_stop(QUEUE_FATAL);
		queue_lost(c->slot, c->lost, now);
		break;
	case COMMAND_AGAIN:
		C.cmds[i] = C.cmds[--C.n];
		host_give(h);
		queue_again(c->slot);
		break;
	}
	command_free(c);
	return 1;
}

/* The most pollfd entries cmdpool_watch may fill. */
size_t
cmdpool_watch_max(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < C.n; i++)
		n += 3 + C.cmds[i]->nproc;
	return n;
}

/* Add an entry to the table being filled; return the next index. */
static size_t
cmdpool_add(struct pollfd *pfd, size_t k, int fd, size_t i, enum watch what,
    size_t stage)
{
	pfd[k].fd = fd;
	pfd[k].events = what == WATCH_IN ? POLLOUT : POLLIN;
	pfd[k].revents = 0;
	C.refs[k].i = i;
	C.refs[k].what = what;
	C.refs[k].stage = stage;
	return k + 1;
}

/* Add the entries of the channel a command runs in; return the next index. */
static size_t
cmdpool_watch_channel(struct pollfd *pfd, size_t k, struct channel *ch,
    size_t i)
{
	if (buf_used(&ch->send) > 0 && ch->to_fd != -1)
		k = cmdpool_add(pfd, k, ch->to_fd, i, WATCH_IN, 0);
	if (ch->fd[0] != -1)
		k = cmdpool_add(pfd, k, ch->fd[0], i, WATCH_OUT, 0);
	if (ch->fd[1] != -1)
		k = cmdpool_add(pfd, k, ch->fd[1], i, WATCH_ERR, 0);
	if (ch->pidfd != -1)
		k = cmdpool_add(pfd, k, ch->pidfd, i, WATCH_EXIT, 0);
	return k;
}

/* Fill pfd with the commands' descriptors to poll; return how many. */
size_t
cmdpool_watch(struct pollfd *pfd)
{
	struct command	*c;
	size_t		 i, j, k = 0, max = cmdpool_watch_max();

	if (C.nrefs < max) {
		C.nrefs = max;
		C.refs = xreallocarray(C.refs, C.nrefs, sizeof *C.refs);
	}
	for (i = 0; i < C.n; i++) {
		c = C.cmds[i];
		if (c->chan != NULL) {
			k = cmdpool_watch_channel(pfd, k, c->chan, i);
			continue;
		}
		/* A --round-robin command between blocks waits for a cut. */
		if (c->in_fd != -1 && c->slot->block != NULL)
			k = cmdpool_add(pfd, k, c->in_fd, i, WATCH_IN, 0);
		if (c->out_fd != -1)
			k = cmdpool_add(pfd, k, c->out_fd, i, WATCH_OUT, 0);
		if (c->err_fd != -1)
			k = cmdpool_add(pfd, k, c->err_fd, i, WATCH_ERR, 0);
		for (j = 0; j < c->nproc; j++) {
			if (c->pidfds[j] != -1)
				k = cmdpool_add(pfd, k, c->pidfds[j], i,
				    WATCH_EXIT, j);
		}
	}
	return k;
}

/*
 * Handle what poll reported for the n entries cmdpool_watch filled.
 * Return how many had news.
 */
size_t
cmdpool_events(const struct pollfd *pfd, size_t n, double now)
{
	struct pollref	*r;
	size_t		 k, news = 0;

	/* Output first, so a dying command's last bytes count. */
	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		news++;
		r = &C.refs[k];
		if (r->what == WATCH_IN && C.cmds[r->i]->chan != NULL)
			(void)channel_flush(C.cmds[r->i]->chan);
		else if (r->what == WATCH_IN)
			command_feed(C.cmds[r->i], C.cfg);
		else if (r->what == WATCH_OUT)
			(void)command_read(C.cmds[r->i], C.cfg, 1, now);
		else if (r->what == WATCH_ERR)
			(void)command_read(C.cmds[r->i], C.cfg, 2, now);
	}
	/*
	 * Then exits, from the last entry back: removing a command moves the
	 * last one into its place, whose entries were already handled; and a
	 * command, whose entries are together, can finish only at the first
	 * of them with news, the last of them looked at.
	 */
	for (k = n; k > 0; k--) {
		r = &C.refs[k - 1];
		if (pfd[k - 1].revents == 0 || (r->what != WATCH_EXIT &&
		    (C.cmds[r->i]->chan == NULL ||
		    !channel_done(C.cmds[r->i]->chan))))
			continue;
		/* A task ended in its channel is done as if it exited. */
		if (cmdpool_exited(r->i, r->stage, now)) {
			/* Its other entries stand for it: skip them. */
			while (k > 1 && C.refs[k - 2].i == r->i)
				k--;
		}
	}
	return news;
}

/*
 * Without pidfds: after a SIGCHLD, find the processes that are gone, as
 * their pidfds would have said.
 */
void
cmdpool_check_children(double now)
{
	struct command	*c;
	size_t		 i, k;

	for (i = C.n; i > 0; i--) {
		c = C.cmds[i - 1];
		for (k = 0; k < c->nproc; k++) {
			if (!c->alive[k] || c->pidfds[k] != -1 ||
			    spawn_alive(c->pids[k]))
				continue;
			if (cmdpool_exited(i - 1, k, now))
				break;
		}
	}
}
