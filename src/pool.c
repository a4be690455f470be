/* pool.c: the worker scheduler: start workers lazily, give each task to the least busy, retire, replace. */

#include "config.h"

#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/*
 * A worker's place in the pool, held from its start until it is reaped
 * (so -j N never runs more than N worker processes, nor opens more
 * descriptors than -j allows for), and its rung: the workers that take one
 * more task are filed by how many tasks they hold, so that the least busy
 * is found without a look at every worker.
 */
struct place {
	struct worker	*w;
	size_t		 index;		/* in P.places */
	int		 rung;		/* tasks held when filed, or -1 */
	struct place	*prev;
	struct place	*next;
};

/* What a pollfd entry of the pool stands for. */
enum watch {
	WATCH_READ,
	WATCH_WRITE,
	WATCH_ERR,
	WATCH_EXIT
};

struct pollref {
	struct place	*p;
	enum watch	 what;
};

static struct {
	const struct config	*cfg;
	unsigned		 jobs;		/* -j, within the descriptors */
	struct place		**places;
	size_t			 n;
	struct place		**rungs;	/* who takes a task, by tasks held */
	unsigned		 low;		/* the rungs below it are empty */
	unsigned		 early_deaths;
	int			 replied;	/* a worker has answered */
	struct tasklist		 done;		/* what a worker reported */
	struct tasklist		 unread;
	struct pollref		*refs;		/* what pool_watch watched */
	size_t			 nrefs;
} P;

/* Prepare to run up to jobs workers. */
void
pool_init(const struct config *cfg, unsigned jobs)
{
	P.cfg = cfg;
	P.jobs = jobs;
	P.rungs = xcalloc(cfg->inflight, sizeof *P.rungs);
}

/* Free what the pool holds; every worker is gone by now. */
void
pool_free(void)
{
	free(P.places);
	free(P.rungs);
	free(P.refs);
	queue_list_free(&P.done);
	queue_list_free(&P.unread);
}

/* How many workers may hold a place now: -j, and the hosts' slots. */
static unsigned
pool_jobs(void)
{
	unsigned long	 slots = host_slots();

	return P.jobs < slots ? P.jobs : (unsigned)slots;
}

/*
 * Hand what a worker reported to the queue: the tasks it never started
 * first, back to the front in the order given, then the finished ones.
 */
static void
pool_report(void)
{
	size_t	 i;

	for (i = 0; i < P.unread.n; i++)
		queue_unread(P.unread.v[i]);
	for (i = 0; i < P.done.n; i++)
		queue_done(P.done.v[i]);
	P.unread.n = P.done.n = 0;
}

/* Take p off its rung, if it is on one. */
static void
pool_unfile(struct place *p)
{
	if (p->rung < 0)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		P.rungs[p->rung] = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->rung = -1;
}

/*
 * File p first on the rung of the tasks it holds while it takes one more,
 * off every rung when it takes none.  Called whenever its count changes
 * (a task sent, answers read, the worker started), so a worker on rung q
 * holds q tasks; one that stops taking tasks otherwise (closed, killed,
 * dead) is dropped from its rung when dispatch next meets it, and taken
 * off before it is freed.
 */
static void
pool_file(struct place *p)
{
	unsigned	 q = p->w->qlen;

	pool_unfile(p);
	if (!worker_accepts(p->w, P.cfg))
		return;
	p->rung = q;
	p->next = P.rungs[q];
	if (p->next != NULL)
		p->next->prev = p;
	P.rungs[q] = p;
	if (q < P.low)
		P.low = q;
}

/*
 * The least busy worker that takes one more task, or NULL.  The worker
 * that failed s is no choice for its retry: it is put in *same instead.
 */
static struct place *
pool_least_busy(const struct slot *s, struct place **same)
{
	struct place	*p, *next;
	unsigned	 q;

	*same = NULL;
	for (q = P.low; q < P.cfg->inflight; q++) {
		for (p = P.rungs[q]; p != NULL; p = next) {
			next = p->next;
			if (!worker_accepts(p->w, P.cfg)) {
				pool_unfile(p);
				continue;
			}
			if (s->attempts > 0 && p->w->pid == s->worker) {
				*same = p;
				continue;
			}
			return p;
		}
		if (q == P.low && P.rungs[q] == NULL)
			P.low = q + 1;
	}
	return NULL;
}

/*
 * Start one more worker on host h, or return NULL.  A start that fails
 * while no worker holds a place stops the run (nothing would ever run its
 * tasks); otherwise a later one is tried when a task waits again.
 */
static struct place *
pool_start(struct host *h)
{
	struct worker	*w;
	struct place	*p;

	if ((w = worker_start(P.cfg, h)) == NULL) {
		if (P.n == 0) {
			warnx("cannot start worker '%s': %s; stopping",
			    P.cfg->worker_cmd, strerror(errno));
			queue_stop(QUEUE_FATAL);
		}
		return NULL;
	}
	host_take(h);
	p = xcalloc(1, sizeof *p);
	p->w = w;
	p->rung = -1;
	p->index = P.n;
	P.places = xreallocarray(P.places, P.n + 1, sizeof *P.places);
	P.places[P.n++] = p;
	pool_file(p);
	return p;
}

/* Whether a worker other than w is running, to take tasks later. */
static int
pool_other_running(const struct worker *w)
{
	size_t	 i;

	for (i = 0; i < P.n; i++) {
		if (P.places[i]->w != w &&
		    P.places[i]->w->state == WORKER_RUNNING)
			return 1;
	}
	return 0;
}

/*
 * Let the task behind the retry at the head of the queue go first, when w,
 * the worker the retry may not go to, may take it.  Return 1 if it did.
 */
static int
pool_pass_retry(const struct worker *w)
{
	struct slot	*s = queue_second();

	if (s == NULL || (s->attempts > 0 && s->worker == w->pid))
		return 0;
	queue_swap_head();
	return 1;
}

/*
 * Give pending tasks to workers: to the least busy worker that takes one,
 * but to a new worker instead while every worker is busy and -j allows.
 */
void
pool_dispatch(double now)
{
	struct place	*best, *same, *p;
	struct host	*h;
	struct slot	*s;

	while ((s = queue_head()) != NULL && gate_open(now)) {
		/* A retry goes to another worker, or a fresh one. */
		best = pool_least_busy(s, &same);
		if ((best == NULL || best->w->qlen > 0) && P.n < pool_jobs() &&
		    (h = host_pick()) != NULL) {
			if ((p = pool_start(h)) != NULL)
				best = p;
			else if (queue_stopping())
				return;
		}
		if (best == NULL) {
			/*
			 * A retry waits for another worker, and meanwhile the
			 * one that failed it takes the next task; when only
			 * that one is left, it is replaced.
			 */
			if (same == NULL)
				return;
			if (!pool_other_running(same->w)) {
				worker_close(same->w, now);
				return;
			}
			if (!pool_pass_retry(same->w))
				return;
			continue;
		}
		queue_pop();
		worker_send(best->w, s, now);
		gate_started();
		if (P.cfg->max_reqs != 0 && best->w->sent >= P.cfg->max_reqs)
			worker_close(best->w, now);
		pool_file(best);
	}
}

/* Write the task lines waiting for each worker. */
void
pool_flush(double now)
{
	size_t	 i;

	for (i = 0; i < P.n; i++)
		worker_flush(P.places[i]->w, now);
}

/*
 * Once input is over and no task waits, close every worker's stdin (after
 * the tasks queued to it): a worker that reads tasks in batches sees the
 * end of its last batch, and one that flushes only at exit exits.
 */
void
pool_close_idle(double now)
{
	size_t	 i;

	if (!(input_eof() || queue_stopping()) || queue_pending() > 0)
		return;
	for (i = 0; i < P.n; i++)
		worker_close(P.places[i]->w, now);
}

/* Kill every worker; their tasks fail with the reason. */
void
pool_kill_all(double now, const char *why)
{
	size_t	 i;

	for (i = 0; i < P.n; i++)
		worker_kill(P.places[i]->w, now, "%s", why);
}

/* Send sig to the process group of every worker (Ctrl-Z and after). */
void
pool_signal_all(int sig)
{
	size_t	 i;

	for (i = 0; i < P.n; i++)
		kill(-P.places[i]->w->pid, sig);
}

/*
 * A host failed (why says how): retire it and let its workers finish what
 * they hold.  With no host left, the run stops.
 */
static void
pool_retire_host(struct host *h, const char *why, double now)
{
	size_t	 i;

	if (h->retired)
		return;
	for (i = 0; i < P.n; i++) {
		if (P.places[i]->w->link.host == h)
			worker_close(P.places[i]->w, now);
	}
	if (host_retire(h, why) == 0)
		queue_stop(QUEUE_FATAL);
}

/*
 * A worker's death before its first reply: several in a row (-j in a row
 * when -j is more, as the first -j tasks may each kill a fresh worker, but
 * EARLY_DEATHS_MAX for a command that is not found) stop the run instead
 * of a respawn loop.
 */
static void
pool_early_death(int status, double now)
{
	char	 how[96];

	if (P.replied || ++P.early_deaths < EARLY_DEATHS_MAX ||
	    queue_fatal() || (P.early_deaths < pool_jobs() &&
	    !spawn_not_found(status)))
		return;
	spawn_describe(status, how, sizeof how);
	warnx("worker '%s' %s before its first reply, %u times in a row%s",
	    P.cfg->worker_cmd, how, P.early_deaths, (WIFEXITED(status) &&
	    WEXITSTATUS(status) == 127) ? " (command not found?)" : "");
	queue_stop(QUEUE_FATAL);
	pool_kill_all(now, "ppool is stopping");
}

/* A worker's process is gone: account for it and its tasks, forget it. */
static void
pool_reap(struct place *p, double now)
{
	struct worker	*w = p->w;
	struct slot	*s;
	int		 status;
	enum worker_end	 end;

	end = worker_reap(w, P.cfg, now, &status, &P.done, &P.unread);
	pool_unfile(p);
	host_give(w->link.host);
	P.places[p->index] = P.places[--P.n];
	P.places[p->index]->index = p->index;
	pool_report();
	switch (end) {
	case WORKER_HOST_LOST:
		/* Its host failed, not the worker: its tasks go elsewhere. */
		pool_retire_host(w->link.host, w->why, now);
		while ((s = worker_pop(w)) != NULL)
			queue_lost(s, w->why, now);
		break;
	case WORKER_EARLY:
		pool_early_death(status, now);
		break;
	case WORKER_GONE:
		if (w->answered > 0) {
			P.early_deaths = 0;
			P.replied = 1;
		}
		break;
	}
	worker_free(w);
	free(p);
}

/* Run the workers' timers; return when they want to run next, or 0. */
double
pool_timers(double now)
{
	double	 next = 0, t;
	size_t	 i;

	for (i = 0; i < P.n; i++) {
		t = worker_timer(P.places[i]->w, P.cfg, now);
		if (t > 0 && (next == 0 || t < next))
			next = t;
	}
	return next;
}

/* How many tasks the workers hold. */
unsigned
pool_running(void)
{
	unsigned	 n = 0;
	size_t		 i;

	for (i = 0; i < P.n; i++)
		n += P.places[i]->w->qlen;
	return n;
}

/* How many workers hold a place (until they are reaped). */
size_t
pool_children(void)
{
	return P.n;
}

/*
 * Whether a task waits for the place of a retired worker that holds no
 * task: its exit, and then its successor's start, are due.
 */
int
pool_exit_awaited(void)
{
	size_t	 i;

	if (queue_pending() == 0 || queue_stopping())
		return 0;
	for (i = 0; i < P.n; i++) {
		if (P.places[i]->w->state == WORKER_CLOSING &&
		    P.places[i]->w->qlen == 0)
			return 1;
	}
	return 0;
}

/* The most pollfd entries pool_watch may fill. */
size_t
pool_watch_max(void)
{
	return 4 * P.n;
}

/* Add an entry to the table being filled; return the next index. */
static size_t
pool_add(struct pollfd *pfd, size_t k, int fd, short events, struct place *p,
    enum watch what)
{
	pfd[k].fd = fd;
	pfd[k].events = events;
	pfd[k].revents = 0;
	P.refs[k].p = p;
	P.refs[k].what = what;
	return k + 1;
}

/* Fill pfd with the workers' descriptors to poll; return how many. */
size_t
pool_watch(struct pollfd *pfd)
{
	struct worker	*w;
	size_t		 i, k = 0;

	if (P.nrefs < pool_watch_max()) {
		P.nrefs = pool_watch_max();
		P.refs = xreallocarray(P.refs, P.nrefs, sizeof *P.refs);
	}
	for (i = 0; i < P.n; i++) {
		w = P.places[i]->w;
		if (w->from_fd != -1)
			k = pool_add(pfd, k, w->from_fd, POLLIN, P.places[i],
			    WATCH_READ);
		if (w->to_fd != -1 && buf_used(&w->out) > 0)
			k = pool_add(pfd, k, w->to_fd, POLLOUT, P.places[i],
			    WATCH_WRITE);
		if (w->err_fd != -1)
			k = pool_add(pfd, k, w->err_fd, POLLIN, P.places[i],
			    WATCH_ERR);
		if (w->pidfd != -1)
			k = pool_add(pfd, k, w->pidfd, POLLIN, P.places[i],
			    WATCH_EXIT);
	}
	return k;
}

/*
 * Handle what poll reported for the n entries pool_watch filled.  Return
 * how many had news.
 */
size_t
pool_events(const struct pollfd *pfd, size_t n, double now)
{
	struct place	*p;
	unsigned long	 answered;
	size_t		 k, news = 0;

	/* Read and write first, so a dying worker's last replies count. */
	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		news++;
		p = P.refs[k].p;
		if (P.refs[k].what == WATCH_READ) {
			answered = p->w->answered;
			(void)worker_read(p->w, P.cfg, now, &P.done);
			pool_report();
			/* A reply: the workers can start; no death in a row. */
			if (p->w->answered > answered) {
				P.early_deaths = 0;
				P.replied = 1;
			}
			pool_file(p);
		} else if (P.refs[k].what == WATCH_WRITE)
			worker_flush(p->w, now);
		else if (P.refs[k].what == WATCH_ERR)
			(void)worker_read_err(p->w);
	}
	/* Then exits: a place is freed only after all its entries were read. */
	for (k = 0; k < n; k++) {
		if (pfd[k].revents != 0 && P.refs[k].what == WATCH_EXIT)
			pool_reap(P.refs[k].p, now);
	}
	return news;
}

/*
 * Without pidfds: after a SIGCHLD, find the workers that are gone, as
 * their pidfds would have said.
 */
void
pool_check_children(double now)
{
	size_t	 i;

	for (i = P.n; i > 0; i--) {
		if (P.places[i - 1]->w->pidfd == -1 &&
		    !spawn_alive(P.places[i - 1]->w->pid))
			pool_reap(P.places[i - 1], now);
	}
}
