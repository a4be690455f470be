/* loop.c: the poll loop: read tasks, dispatch them to workers, print results. */

#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppool.h"

/* Seconds records may wait for more before they are written out. */
#define FLUSH_DELAY	0.001

/*
 * Seconds within which the same signal again is the same signal: timeout(1)
 * sends its SIGTERM to ppool and then to its own process group.
 */
#define SIGNAL_ECHO	0.05

/* Seconds poll() spins, not sleeping, after the last event of a child. */
#define SPIN_TIME	0.00005
/*
 * The same while a task waits for the place of a retired worker that is
 * about to exit (a shell takes some 150 us from its last reply).
 */
#define SPIN_EXIT_TIME	0.0005

/* Descriptors ppool keeps for itself besides the workers'. */
#define FD_RESERVE	16
/* Descriptors one worker or command costs ppool: pipes, pidfd, stdin. */
#define FD_PER_WORKER	4

/* What a pollfd entry stands for. */
enum ref_kind {
	REF_NONE,
	REF_WORKER_READ,
	REF_WORKER_WRITE,
	REF_WORKER_EXIT,
	REF_COMMAND_OUT,
	REF_COMMAND_ERR,
	REF_COMMAND_EXIT
};

struct pollref {
	enum ref_kind	 kind;
	size_t		 i;		/* worker or command index */
	size_t		 sub;		/* command: which process */
};

/*
 * The state of one run.  Every task read is in exactly one place: the
 * pending FIFO, a worker's queue, or done and waiting in the order window;
 * L.inuse counts them all and never exceeds the window.
 */
static struct {
	const struct config	*cfg;
	unsigned		 jobs;
	struct slot		*slots;		/* the window, touched as used: */
	size_t			 fresh;		/* slots ever used */
	struct slot		*free;
	size_t			 inuse;
	uint64_t		 nread;
	int			 want_input;

	struct slot		**pending;
	size_t			 phead;
	size_t			 plen;

	struct worker		**workers;
	size_t			 nworkers;
	struct worker		**rungs;	/* who takes a task, by tasks held */
	unsigned		 low;		/* the rungs below it are empty */
	struct command		**cmds;		/* command mode: running tasks */
	size_t			 ncmds;
	unsigned		*busy;		/* slots taken, by host index */

	unsigned		 early_deaths;
	int			 early_status;
	int			 replied;	/* a worker has answered */
	unsigned long		 finished;	/* tasks done for good */
	unsigned long		 failed;
	unsigned long		 retried;
	int			 halted;
	int			 check_children;	/* no pidfds: a SIGCHLD came */
	double			 out_since;	/* when unwritten output began */
	double			 child_event;	/* when a child last had news */

	int			 sigpipe[2];
	int			 signo;		/* the first signal that stopped us */
	int			 hurry;		/* a second one came */
	double			 drain_at;	/* ... and the children were gone */
	int			 stopping;	/* read and start nothing more */
	int			 fatal;
	int			 stdout_gone;
	int			 gone_first;	/* ... before any signal */
	double			 now;
} L;

static void	loop_kill_all(const char *);
static unsigned	loop_running(void);
static void	loop_stop(void);
static int	loop_command_exited(size_t, size_t);

/* Seconds on the monotonic clock. */
double
loop_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A signal only writes its number into the self-pipe, once for the same
 * signal within SIGNAL_ECHO seconds of its arrival.  The stop signals
 * block each other while this runs.
 */
static void
loop_signal(int sig)
{
	static int		 last;
	static struct timespec	 last_at;
	struct timespec		 ts;
	unsigned char		 c = (unsigned char)sig;
	int			 saved = errno;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (sig != last || (ts.tv_sec - last_at.tv_sec) +
	    (ts.tv_nsec - last_at.tv_nsec) / 1e9 >= SIGNAL_ECHO) {
		last = sig;
		last_at = ts;
		(void)write(L.sigpipe[1], &c, 1);
	}
	errno = saved;
}

/*
 * Install signal handling before any child starts.  A stop signal ignored
 * when ppool started stays ignored, as nohup(1) and a script's background
 * job (SIGINT) expect.
 */
static void
loop_signals(void)
{
	static const int	 stops[] = LOOP_SIGNALS;
	struct sigaction	 sa, old;
	size_t			 i;

	if (pipe2(L.sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_FATAL, "cannot make the signal pipe");
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof stops / sizeof stops[0]; i++)
		sigaddset(&sa.sa_mask, stops[i]);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = loop_signal;
	for (i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		if (sigaction(stops[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(stops[i], &sa, NULL);
	}
	/* A failed write says why, rather than ending ppool; not in tasks. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
}

/*
 * Keep -j within the descriptors this process may open: raise the soft
 * limit if the hard one allows, else run fewer workers and say so.
 */
static void
loop_fd_budget(void)
{
	struct rlimit	 rl;
	rlim_t		 want = (rlim_t)L.jobs * FD_PER_WORKER + FD_RESERVE;
	unsigned	 asked = L.jobs;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
	}
	if (rl.rlim_cur < FD_RESERVE + FD_PER_WORKER)
		errx(EXIT_FATAL, "only %llu file descriptors may be open: "
		    "raise 'ulimit -n'", (unsigned long long)rl.rlim_cur);
	L.jobs = (rl.rlim_cur - FD_RESERVE) / FD_PER_WORKER;
	warnx("only %llu file descriptors may be open: running %u %s at "
	    "once instead of %u (raise 'ulimit -n' for more)",
	    (unsigned long long)rl.rlim_cur, L.jobs,
	    L.cfg->worker_cmd != NULL ? "workers" : "commands", asked);
}

/* Stop the run when --halt says enough tasks failed. */
static void
loop_halt_check(void)
{
	const struct config	*cfg = L.cfg;
	int			 trip;

	if (cfg->halt == HALT_NEVER || L.halted)
		return;
	if (cfg->halt_percent)
		trip = L.finished >= 3 &&
		    L.failed * 100 >= cfg->halt_fail * L.finished;
	else
		trip = L.failed >= cfg->halt_fail;
	if (!trip)
		return;
	L.halted = 1;
	warnx("--halt: %lu of %lu finished tasks failed; %s", L.failed,
	    L.finished, cfg->halt == HALT_NOW ? "killing the running ones" :
	    "waiting for the running ones, starting no more");
	loop_stop();
	if (cfg->halt == HALT_NOW)
		loop_kill_all("stopped by --halt now");
}

/* Put a task back at the front of the queue, to run next. */
static void
loop_requeue(struct slot *s)
{
	L.phead = (L.phead + L.cfg->window - 1) % L.cfg->window;
	L.pending[L.phead] = s;
	L.plen++;
}

/*
 * Called by the other files when a task is done, whatever its outcome.  A
 * task that failed while running goes back to the front of the queue while
 * it has --retries left.
 */
void
loop_task_done(struct slot *s)
{
	if (!s->ok && !s->skip && !s->no_retry && s->attempts > 0 &&
	    s->attempts - s->lost <= L.cfg->retries && !L.stopping) {
		task_retry(s);
		L.retried++;
		loop_requeue(s);
		return;
	}
	s->state = SLOT_DONE;
	if (!s->skip) {
		L.finished++;
		if (!s->ok)
			L.failed++;
		if (!s->dry)
			joblog_write(s);
	}
	order_done(s);
	if (!s->ok && !s->skip)
		loop_halt_check();
}

/*
 * A pending task the stopping run will not start: one that never ran
 * prints no record; one waiting for a retry has failed, and says so.
 */
static void
loop_drop(struct slot *s)
{
	if (s->attempts == 0)
		s->skip = 1;
	else {
		task_fail(s, "not retried: ppool is stopping");
		s->no_retry = 1;
	}
	loop_task_done(s);
}

/*
 * Take tasks from the buffered input while the window has room; note
 * whether more input must be read.  Return how many were taken.
 */
static size_t
loop_take_tasks(void)
{
	struct slot	*s;
	size_t		 n = 0;

	L.want_input = 0;
	while (!L.stopping && L.inuse < L.cfg->window) {
		if (L.free == NULL) {
			/*
			 * Every slot used so far is held or free: a slot never
			 * used is left, and its memory is touched only now.
			 */
			s = &L.slots[L.fresh++];
			task_init(s);
			s->next = NULL;
			L.free = s;
		}
		s = L.free;
		if (input_next(s) == 0) {
			L.want_input = input_fd() != -1;
			return n;
		}
		n++;
		L.free = s->next;
		L.inuse++;
		s->seq = ++L.nread;
		order_add(s);
		if (joblog_skip(s)) {
			/* --resume: done in an earlier run; no record here. */
			s->skip = 1;
			progress_skip();
			loop_task_done(s);
		} else
			L.pending[(L.phead + L.plen++) % L.cfg->window] = s;
	}
	return n;
}

/*
 * Whether a worker holds a place among the -j (and a slot of its host):
 * until it is reaped.  A retired worker still counts while it answers its
 * last tasks and while it takes its time to exit, so -j N never runs more
 * than N worker processes, nor opens more descriptors than -j allows for.
 */
static int
loop_holds_place(const struct worker *w)
{
	return w->state != WORKER_DEAD;
}

/* Count the workers that hold a place among the -j. */
static unsigned
loop_active(void)
{
	unsigned	 n = 0;
	size_t		 i;

	for (i = 0; i < L.nworkers; i++)
		n += loop_holds_place(L.workers[i]);
	return n;
}

/*
 * The host with the most free slots, or NULL when every slot of every host
 * still in use is taken.
 */
static struct host *
loop_pick_host(void)
{
	struct host	*h, *best = NULL;
	size_t		 i, n = host_count();
	long		 room, most = 0;

	for (i = 0; i < n; i++)
		L.busy[i] = 0;
	for (i = 0; i < L.nworkers; i++) {
		if (loop_holds_place(L.workers[i]))
			L.busy[L.workers[i]->host - host_get(0)]++;
	}
	for (i = 0; i < L.ncmds; i++)
		L.busy[L.cmds[i]->host - host_get(0)]++;
	for (i = 0; i < n; i++) {
		h = host_get(i);
		room = (long)h->slots - (long)L.busy[i];
		if (!h->retired && room > most) {
			best = h;
			most = room;
		}
	}
	return best;
}

/*
 * A host failed (why says how): retire it, let its workers finish what
 * they hold, and stop the run when no host is left.
 */
static void
loop_retire_host(struct host *h, const char *why)
{
	size_t	 i;

	if (h->retired)
		return;
	for (i = 0; i < L.nworkers; i++) {
		if (L.workers[i]->host == h)
			worker_close(L.workers[i], L.now);
	}
	if (host_retire(h, why) > 0) {
		L.jobs = L.jobs < host_slots() ? L.jobs : host_slots();
		return;
	}
	warnx("no host left to run tasks on: every host given to -S was "
	    "retired; stopping");
	L.fatal = 1;
	loop_stop();
}

/*
 * A task's host failed before or while running it: run it on another
 * host, without using up a retry (its attempt still counts), or fail it
 * when no host is left or the run is stopping.
 */
static void
loop_task_lost(struct slot *s, const char *why)
{
	s->ms = (L.now - s->start) * 1000.0;
	if (L.stopping || host_slots() == 0) {
		task_fail(s, "host %s: %s", s->host->name, why);
		s->no_retry = 1;
		loop_task_done(s);
		return;
	}
	s->lost++;
	task_retry(s);
	loop_requeue(s);
}

/*
 * A task its worker did not start because it exited by itself: back to
 * the front of the queue, as if it had not been sent.
 */
void
loop_task_unread(struct slot *s)
{
	s->attempts--;
	task_retry(s);
	if (L.stopping)
		loop_drop(s);
	else
		loop_requeue(s);
}

/* Take w off its rung, if it is on one. */
static void
loop_unfile(struct worker *w)
{
	if (w->rung < 0)
		return;
	if (w->rung_prev != NULL)
		w->rung_prev->rung_next = w->rung_next;
	else
		L.rungs[w->rung] = w->rung_next;
	if (w->rung_next != NULL)
		w->rung_next->rung_prev = w->rung_prev;
	w->rung_prev = w->rung_next = NULL;
	w->rung = -1;
}

/*
 * File w first on the rung of the tasks it holds while it takes one more,
 * off every rung when it takes none.  Called whenever its count changes
 * (a task sent, answers read, the worker started), so a worker on rung q
 * holds q tasks; one that stops taking tasks otherwise (closed, killed,
 * dead) is dropped from its rung when dispatch next meets it, and taken
 * off before it is freed.
 */
static void
loop_file(struct worker *w)
{
	loop_unfile(w);
	if (!worker_accepts(w, L.cfg))
		return;
	w->rung = w->qlen;
	w->rung_next = L.rungs[w->qlen];
	if (w->rung_next != NULL)
		w->rung_next->rung_prev = w;
	L.rungs[w->qlen] = w;
	if (w->qlen < L.low)
		L.low = w->qlen;
}

/*
 * The least busy worker that takes one more task, or NULL.  The worker
 * that failed s is no choice for its retry: it is put in *same instead.
 * Finding one costs the rungs passed, not a look at every worker.
 */
static struct worker *
loop_least_busy(const struct slot *s, struct worker **same)
{
	struct worker	*w, *next;
	unsigned	 q;

	*same = NULL;
	for (q = L.low; q < L.cfg->inflight; q++) {
		for (w = L.rungs[q]; w != NULL; w = next) {
			next = w->rung_next;
			if (!worker_accepts(w, L.cfg)) {
				loop_unfile(w);
				continue;
			}
			if (s->attempts > 0 && w->pid == s->worker) {
				*same = w;
				continue;
			}
			return w;
		}
		if (q == L.low && L.rungs[q] == NULL)
			L.low = q + 1;
	}
	return NULL;
}

/*
 * Fail the lines at the head of the queue that are no task (invalid JSON,
 * a NUL, too long): when their turn comes, in input order, as parallel
 * would, so that --halt never stops the tasks read before them.
 */
static void
loop_fail_bad_head(void)
{
	struct slot	*s;

	while (L.plen > 0 && !L.stopping &&
	    (s = L.pending[L.phead])->state == SLOT_DONE) {
		L.phead = (L.phead + 1) % L.cfg->window;
		L.plen--;
		loop_task_done(s);
	}
}

/* Start one more worker on host h, or return NULL after saying why. */
static struct worker *
loop_start_worker(struct host *h)
{
	struct worker	*w;

	if ((w = worker_start(L.cfg, h)) == NULL) {
		if (loop_active() == 0)
			err(EXIT_FATAL, "cannot start worker '%s'",
			    L.cfg->worker_cmd);
		return NULL;
	}
	L.workers = xreallocarray(L.workers, L.nworkers + 1,
	    sizeof *L.workers);
	L.workers[L.nworkers++] = w;
	w->rung = -1;
	loop_file(w);
	return w;
}

/* Whether a worker other than w is running, to take tasks later. */
static int
loop_other_running(const struct worker *w)
{
	size_t	 i;

	for (i = 0; i < L.nworkers; i++) {
		if (L.workers[i] != w &&
		    L.workers[i]->state == WORKER_RUNNING)
			return 1;
	}
	return 0;
}

/*
 * Let the task behind the retry at the head of the queue go first, when w,
 * the worker the retry may not go to, may take it.  Return 1 if it did.
 */
static int
loop_pass_retry(const struct worker *w)
{
	size_t		 next = (L.phead + 1) % L.cfg->window;
	struct slot	*s;

	if (L.plen < 2)
		return 0;
	s = L.pending[next];
	if (s->attempts > 0 && s->worker == w->pid)
		return 0;
	L.pending[next] = L.pending[L.phead];
	L.pending[L.phead] = s;
	return 1;
}

/*
 * Give pending tasks to workers: to the least busy worker that takes one,
 * but to a new worker instead while every worker is busy and -j allows.
 */
static void
loop_dispatch(void)
{
	struct worker	*w, *best, *same;
	struct host	*h;
	struct slot	*s;
	unsigned	 active = loop_active();

	for (;;) {
		loop_fail_bad_head();
		if (L.plen == 0 || L.stopping)
			break;
		s = L.pending[L.phead];
		/* A retry goes to another worker, or a fresh one. */
		best = loop_least_busy(s, &same);
		if ((best == NULL || best->qlen > 0) && active < L.jobs &&
		    (h = loop_pick_host()) != NULL) {
			if ((w = loop_start_worker(h)) != NULL) {
				best = w;
				active++;
			}
		}
		if (best == NULL) {
			/*
			 * A retry waits for another worker, and meanwhile the
			 * one that failed it takes the next task; when only
			 * that one is left, it is replaced.
			 */
			if (same == NULL)
				return;
			if (!loop_other_running(same)) {
				worker_close(same, L.now);
				return;
			}
			if (!loop_pass_retry(same))
				return;
			continue;
		}
		L.phead = (L.phead + 1) % L.cfg->window;
		L.plen--;
		worker_send(best, s, L.now);
		if (L.cfg->max_reqs != 0 && best->sent >= L.cfg->max_reqs)
			worker_close(best, L.now);
		loop_file(best);
	}
}

/* Command mode: start pending tasks while fewer than -j run. */
static void
loop_dispatch_commands(void)
{
	struct command	*c;
	struct host	*h;
	struct slot	*s;
	int		 later = 0;

	for (;;) {
		loop_fail_bad_head();
		if (L.plen == 0 || L.stopping || L.ncmds >= L.jobs ||
		    (h = loop_pick_host()) == NULL)
			break;
		s = L.pending[L.phead];
		/* Out of descriptors: wait for a running command to end. */
		c = command_start(s, L.cfg, L.now, h,
		    L.ncmds > 0 ? &later : NULL);
		if (later)
			break;
		L.phead = (L.phead + 1) % L.cfg->window;
		L.plen--;
		if (c != NULL)
			L.cmds[L.ncmds++] = c;
	}
}

/*
 * Format the records that may be printed, while stdout keeps up.  Return
 * how many tasks left the window.
 */
static size_t
loop_print(void)
{
	struct slot	*s;
	size_t		 n = 0;

	while (!output_full() && (s = order_next()) != NULL) {
		n++;
		if (!L.stdout_gone)
			output_record(s);
		task_clear(s);
		s->state = SLOT_FREE;
		s->next = L.free;
		L.free = s;
		L.inuse--;
	}
	return n;
}

/* The reader of stdout is gone: stop quietly, children included. */
static void
loop_stdout_gone(void)
{
	if (!L.stdout_gone && L.signo == 0)
		L.gone_first = 1;
	L.stdout_gone = 1;
	loop_stop();
	loop_kill_all("ppool's stdout was closed");
}

/*
 * Whether records waiting for stdout wait for company: while tasks run,
 * small output waits up to FLUSH_DELAY for more, so that a busy pool makes
 * one write for many records instead of one each.
 */
static int
loop_output_waits(void)
{
	return L.out_since > 0 && !output_full() &&
	    L.now - L.out_since < FLUSH_DELAY && loop_running() > 0;
}

/*
 * Write records to stdout, unless they wait for company; return 1 when
 * bytes left the buffer.
 */
static int
loop_flush_stdout(void)
{
	ssize_t	 n;

	if (L.stdout_gone || !output_pending()) {
		L.out_since = 0;
		return 0;
	}
	if (L.out_since == 0)
		L.out_since = L.now;
	if (loop_output_waits())
		return 0;
	if ((n = output_flush()) == -1) {
		if (errno != EPIPE) {
			/* Not a reader gone but a failure, such as a full disk. */
			warnx("cannot write records to stdout: %s; stopping",
			    strerror(errno));
			L.fatal = 1;
		}
		loop_stdout_gone();
		return 0;
	}
	if (!output_pending())
		L.out_since = 0;
	return n > 0;
}

/* Send sig to the process group of every worker and command. */
static void
loop_signal_children(int sig)
{
	size_t	 i;

	for (i = 0; i < L.nworkers; i++)
		kill(-L.workers[i]->pid, sig);
	for (i = 0; i < L.ncmds; i++)
		kill(-L.cmds[i]->pgid, sig);
}

/*
 * SIGTSTP (Ctrl-Z): the children run in process groups of their own,
 * which the terminal does not reach.  Pass it on to them, stop, and once
 * continued (fg, bg), continue them.  In an orphaned process group the
 * kernel drops the stop, and the children go on at once.
 */
static void
loop_pause(void)
{
	struct sigaction	 dfl, old;
	sigset_t		 tstp, mask;

	loop_signal_children(SIGTSTP);
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, &old);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, &mask);
	raise(SIGTSTP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigaction(SIGTSTP, &old, NULL);
	loop_signal_children(SIGCONT);
}

/* Stop reading and starting tasks (see loop_drop for those pending). */
static void
loop_stop(void)
{
	struct slot	*s;

	L.stopping = 1;
	while (L.plen > 0) {
		s = L.pending[L.phead];
		L.phead = (L.phead + 1) % L.cfg->window;
		L.plen--;
		loop_drop(s);
	}
}

/* Kill every worker and command; their tasks fail with the reason. */
static void
loop_kill_all(const char *why)
{
	size_t	 i;

	for (i = 0; i < L.nworkers; i++)
		worker_kill(L.workers[i], L.now, "%s", why);
	for (i = 0; i < L.ncmds; i++)
		command_kill(L.cmds[i], L.now, why);
}

/* React to the signals that arrived through the self-pipe. */
static void
loop_read_signals(void)
{
	unsigned char	 c;
	char		 why[64], name[SIGNAME_MAX];

	while (read(L.sigpipe[0], &c, 1) == 1) {
		if (c == SIGCHLD) {
			L.check_children = 1;
			continue;
		}
		if (c == SIGTSTP) {
			loop_pause();
			continue;
		}
		if (L.signo == 0) {
			L.signo = c;
			loop_stop();
			continue;
		}
		L.hurry = 1;
		spawn_signame(c, name, sizeof name);
		snprintf(why, sizeof why, "ppool got a second signal (%s)",
		    name);
		loop_kill_all(why);
	}
}

/* A worker's process is gone: account for it and forget it. */
static void
loop_reap(size_t i)
{
	struct worker	*w = L.workers[i];
	struct slot	*s;
	char		 how[96];
	int		 status, early;

	early = worker_reap(w, L.cfg, L.now, &status);
	if (w->host_lost) {
		/* Its host failed, not the worker: its tasks go elsewhere. */
		loop_retire_host(w->host, w->why);
		while ((s = worker_pop(w)) != NULL)
			loop_task_lost(s, w->why);
	} else if (early && !L.replied) {
		L.early_status = status;
		if (++L.early_deaths >= EARLY_DEATHS_MAX && !L.fatal &&
		    (L.early_deaths >= L.jobs || spawn_not_found(status))) {
			spawn_describe(status, how, sizeof how);
			warnx("worker '%s' %s before its first reply, %u times "
			    "in a row%s", L.cfg->worker_cmd, how,
			    L.early_deaths, (WIFEXITED(status) &&
			    WEXITSTATUS(status) == 127) ?
			    " (command not found?)" : "");
			L.fatal = 1;
			loop_stop();
			loop_kill_all("ppool is stopping");
		}
	} else if (w->answered > 0) {
		L.early_deaths = 0;
		L.replied = 1;
	}
	loop_unfile(w);
	worker_free(w);
	L.workers[i] = L.workers[--L.nworkers];
}

/*
 * Once input is over and no task waits, close every worker's stdin (after
 * the tasks queued to it): a worker that reads tasks in batches sees the
 * end of its last batch, and one that flushes only at exit exits.
 */
static void
loop_close_idle(void)
{
	size_t	 i;

	if (!(input_eof() || L.stopping) || L.plen > 0)
		return;
	for (i = 0; i < L.nworkers; i++)
		worker_close(L.workers[i], L.now);
}

/* Run the workers' timers; return the poll timeout in milliseconds. */
static int
loop_timers(void)
{
	double	 next = 0, t;
	size_t	 i;

	for (i = 0; i < L.nworkers; i++) {
		t = worker_timer(L.workers[i], L.cfg, L.now);
		if (t > 0 && (next == 0 || t < next))
			next = t;
	}
	for (i = 0; i < L.ncmds; i++) {
		t = command_timer(L.cmds[i], L.now);
		if (t > 0 && (next == 0 || t < next))
			next = t;
	}
	t = progress_due();
	if (t > 0 && (next == 0 || t < next))
		next = t;
	/*
	 * After a second signal, once the children are gone, stdout has
	 * --kill-after seconds to take the rest: a stalled reader is not
	 * waited for.
	 */
	if (L.hurry && L.drain_at == 0 && L.nworkers == 0 &&
	    L.ncmds == 0)
		L.drain_at = L.now;
	if (L.drain_at > 0 && output_pending() && !L.stdout_gone &&
	    (next == 0 || L.drain_at + L.cfg->kill_after < next))
		next = L.drain_at + L.cfg->kill_after;
	/* Output blocked by a slow reader waits on POLLOUT, not a timer. */
	if (loop_output_waits() && !L.stdout_gone &&
	    (next == 0 || L.out_since + FLUSH_DELAY < next))
		next = L.out_since + FLUSH_DELAY;
	if (next == 0)
		return -1;
	t = (next - L.now) * 1000.0 + 1;
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

/* How many tasks are running now. */
static unsigned
loop_running(void)
{
	unsigned	 n = L.ncmds;
	size_t		 i;

	for (i = 0; i < L.nworkers; i++)
		n += L.workers[i]->qlen;
	return n;
}

/*
 * Whether a task waits for the place of a retired worker that holds no
 * task: its exit, and then its successor's start, are due.
 */
static int
loop_exit_awaited(void)
{
	size_t	 i;

	if (L.plen == 0 || L.stopping)
		return 0;
	for (i = 0; i < L.nworkers; i++) {
		if (L.workers[i]->state == WORKER_CLOSING &&
		    L.workers[i]->qlen == 0)
			return 1;
	}
	return 0;
}

/* Return 1 when the run is over. */
static int
loop_finished(void)
{
	if (L.nworkers > 0 || L.ncmds > 0)
		return 0;
	if (L.stdout_gone)
		return 1;
	if (L.drain_at > 0 && L.now >= L.drain_at + L.cfg->kill_after)
		return 1;
	return (input_eof() || L.stopping) && L.inuse == 0 &&
	    !output_pending();
}

/* The exit status the run earned. */
static int
loop_exit_status(void)
{
	if (L.fatal || input_failed() || joblog_failed())
		return EXIT_FATAL;
	if (L.stdout_gone && L.gone_first)
		return 128 + SIGPIPE;
	if (L.signo != 0)
		return 128 + L.signo;
	if (L.failed > FAILED_COUNT_MAX)
		return EXIT_MANY_FAILED;
	return (int)L.failed;
}

/*
 * Handle what poll reported for workers and commands.  Return how many of
 * their descriptors had news.
 */
static size_t
loop_child_events(struct pollfd *pfd, struct pollref *ref, size_t n)
{
	struct pollref	*r;
	struct worker	*w;
	unsigned long	 answered;
	size_t		 k, news = 0;

	/* Read and write first, so a dying child's last output counts. */
	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		news++;
		r = &ref[k];
		switch (r->kind) {
		case REF_WORKER_READ:
			w = L.workers[r->i];
			answered = w->answered;
			worker_read(w, L.cfg, L.now);
			/* A reply: the workers can start; no death in a row. */
			if (w->answered > answered) {
				L.early_deaths = 0;
				L.replied = 1;
			}
			loop_file(w);
			break;
		case REF_WORKER_WRITE:
			worker_flush(L.workers[r->i], L.now);
			break;
		case REF_COMMAND_OUT:
			command_read(L.cmds[r->i], L.cfg, 1);
			break;
		case REF_COMMAND_ERR:
			command_read(L.cmds[r->i], L.cfg, 2);
			break;
		default:
			break;
		}
	}
	/*
	 * Then exits, from the last entry back: removing a child moves the
	 * last one into its place, whose entries were already handled.
	 */
	for (k = n; k > 0; k--) {
		if (pfd[k - 1].revents == 0)
			continue;
		r = &ref[k - 1];
		if (r->kind == REF_WORKER_EXIT)
			loop_reap(r->i);
		else if (r->kind == REF_COMMAND_EXIT)
			loop_command_exited(r->i, r->sub);
	}
	return news;
}

/*
 * Process k of command i exited.  Return 1 when the command is finished
 * and gone from the list (the last one took its place).
 */
static int
loop_command_exited(size_t i, size_t k)
{
	struct command	*c = L.cmds[i];
	int		 rc;

	if ((rc = command_exited(c, L.cfg, k, L.now)) == 0)
		return 0;
	L.cmds[i] = L.cmds[--L.ncmds];
	if (rc == 2) {
		/* Its host failed, not the task: run it elsewhere. */
		loop_retire_host(c->host, c->lost);
		loop_task_lost(c->slot, c->lost);
	}
	command_free(c);
	return 1;
}

/*
 * Without pidfds: after a SIGCHLD, find the children that are gone, as
 * their pidfds would have said.
 */
static void
loop_check_children(void)
{
	struct command	*c;
	size_t		 i, k;

	L.check_children = 0;
	for (i = L.nworkers; i > 0; i--) {
		if (L.workers[i - 1]->pidfd == -1 &&
		    !spawn_alive(L.workers[i - 1]->pid))
			loop_reap(i - 1);
	}
	for (i = L.ncmds; i > 0; i--) {
		c = L.cmds[i - 1];
		for (k = 0; k < c->nproc; k++) {
			if (!c->alive[k] || c->pidfds[k] != -1 ||
			    spawn_alive(c->pids[k]))
				continue;
			if (loop_command_exited(i - 1, k))
				break;
		}
	}
}

/* Add a pollfd entry; return its index. */
static size_t
loop_watch(struct pollfd *pfd, struct pollref *ref, size_t n, int fd,
    short events, enum ref_kind kind, size_t i, size_t sub)
{
	pfd[n].fd = fd;
	pfd[n].events = events;
	pfd[n].revents = 0;
	ref[n].kind = kind;
	ref[n].i = i;
	ref[n].sub = sub;
	return n;
}

/* Run the whole pool; return the exit status. */
int
loop_run(const struct config *cfg)
{
	struct pollfd	*pfd = NULL;
	struct pollref	*ref = NULL;
	size_t		 n, i, k, first, cap = 0, want, progress;
	struct worker	*w;
	struct command	*c;
	int		 timeout, stdin_slot, stdout_slot;

	L.cfg = cfg;
	L.jobs = host_slots() < SLOTS_MAX ? host_slots() : SLOTS_MAX;
	L.busy = xcalloc(host_count(), sizeof *L.busy);
	/*
	 * Opening -a FIFO waits for a writer, and reading a joblog may take
	 * long: till they are done, nothing runs, and a signal's default
	 * action ends ppool (a handler would only note it, and open() would
	 * go on waiting).
	 */
	input_open(cfg);
	output_init(cfg);
	joblog_open(cfg);
	loop_signals();
	loop_fd_budget();
	spawn_init(L.sigpipe[1]);
	progress_init(cfg, loop_now(), cfg->progress ? input_count() : 0);
	order_init(cfg->window, cfg->unordered);
	L.slots = xcalloc_nofork(cfg->window, sizeof *L.slots);
	L.pending = xcalloc_nofork(cfg->window, sizeof *L.pending);
	L.cmds = xcalloc(L.jobs, sizeof *L.cmds);
	if (cfg->worker_cmd != NULL)
		L.rungs = xcalloc(cfg->inflight, sizeof *L.rungs);

	for (;;) {
		/*
		 * Printing frees room in the window and taking fills it:
		 * repeat until neither moves, so that poll() is reached only
		 * when an event is needed (at most a window's worth of work).
		 */
		L.now = loop_now();
		do {
			progress = loop_take_tasks();
			if (cfg->worker_cmd != NULL)
				loop_dispatch();
			else
				loop_dispatch_commands();
			progress += loop_print();
			progress += loop_flush_stdout();
		} while (progress > 0);
		for (i = 0; i < L.nworkers; i++)
			worker_flush(L.workers[i], L.now);
		loop_close_idle();
		progress_update(L.now, L.finished, L.failed, loop_running(), 0);
		timeout = loop_timers();
		if (loop_finished())
			break;

		want = 3 + 3 * L.nworkers;
		for (i = 0; i < L.ncmds; i++)
			want += 2 + L.cmds[i]->nproc;
		if (cap < want) {
			cap = want;
			pfd = xreallocarray(pfd, cap, sizeof *pfd);
			ref = xreallocarray(ref, cap, sizeof *ref);
		}
		n = 0;
		loop_watch(pfd, ref, n++, L.sigpipe[0], POLLIN, REF_NONE, 0, 0);
		stdin_slot = stdout_slot = -1;
		if (L.want_input && !L.stopping)
			stdin_slot = loop_watch(pfd, ref, n++, input_fd(),
			    POLLIN, REF_NONE, 0, 0);
		/* Records waiting for company must not wake poll: no POLLOUT. */
		if (!L.stdout_gone)
			stdout_slot = loop_watch(pfd, ref, n++, output_fd(),
			    output_pending() && !loop_output_waits() ? POLLOUT :
			    0, REF_NONE, 0, 0);
		first = n;
		for (i = 0; i < L.nworkers; i++) {
			w = L.workers[i];
			if (w->from_fd != -1)
				loop_watch(pfd, ref, n++, w->from_fd, POLLIN,
				    REF_WORKER_READ, i, 0);
			if (w->to_fd != -1 && buf_used(&w->out) > 0)
				loop_watch(pfd, ref, n++, w->to_fd, POLLOUT,
				    REF_WORKER_WRITE, i, 0);
			if (w->pidfd != -1)
				loop_watch(pfd, ref, n++, w->pidfd, POLLIN,
				    REF_WORKER_EXIT, i, 0);
		}
		for (i = 0; i < L.ncmds; i++) {
			c = L.cmds[i];
			if (c->out_fd != -1)
				loop_watch(pfd, ref, n++, c->out_fd, POLLIN,
				    REF_COMMAND_OUT, i, 0);
			if (c->err_fd != -1)
				loop_watch(pfd, ref, n++, c->err_fd, POLLIN,
				    REF_COMMAND_ERR, i, 0);
			for (k = 0; k < c->nproc; k++) {
				if (c->pidfds[k] != -1)
					loop_watch(pfd, ref, n++, c->pidfds[k],
					    POLLIN, REF_COMMAND_EXIT, i, k);
			}
		}

		/*
		 * Fast workers answer within microseconds: right after news
		 * of a child, more is likely to follow, and polling without
		 * sleeping for SPIN_TIME saves a wake-up per round trip.
		 * Slow tasks cost at most that much CPU each.  A retired
		 * worker's exit gets SPIN_EXIT_TIME when its place is wanted:
		 * with -r, both workers of a pair often retire together, and
		 * a wake-up for each exit made 1000 restarts cost 0.36 s more
		 * (1.24 s against 0.88 s).
		 * A command's news comes a fork and an exec apart at best: no
		 * spinning for it (it cost 60 us of CPU a command).
		 */
		if (timeout != 0 && cfg->worker_cmd != NULL &&
		    ((L.now - L.child_event < SPIN_TIME && loop_running() > 0) ||
		    (L.now - L.child_event < SPIN_EXIT_TIME &&
		    loop_exit_awaited())))
			timeout = 0;
		if (poll(pfd, n, timeout) == -1) {
			if (errno != EINTR)
				err(EXIT_FATAL, "poll");
			/*
			 * Before the next dispatch: a stop starts nothing.
			 * Without pidfds the signal is SIGCHLD's news: reap.
			 */
			L.now = loop_now();
			loop_read_signals();
			if (L.check_children)
				loop_check_children();
			continue;
		}
		L.now = loop_now();
		if (pfd[0].revents != 0)
			loop_read_signals();
		if (stdin_slot != -1 && pfd[stdin_slot].revents != 0)
			input_read();
		if (stdout_slot != -1 &&
		    (pfd[stdout_slot].revents & (POLLERR | POLLHUP)) &&
		    !(pfd[stdout_slot].revents & POLLOUT))
			loop_stdout_gone();
		if (loop_child_events(pfd + first, ref + first, n - first) > 0)
			L.child_event = L.now;
		if (L.check_children)
			loop_check_children();
	}

	free(pfd);
	free(ref);
	free(L.workers);
	free(L.rungs);
	free(L.cmds);
	free(L.busy);
	host_free();
	for (i = 0; i < L.fresh; i++)
		task_clear(&L.slots[i]);
	xfree_nofork(L.slots, cfg->window, sizeof *L.slots);
	xfree_nofork(L.pending, cfg->window, sizeof *L.pending);
	L.now = loop_now();
	progress_update(L.now, L.finished, L.failed, 0, 1);
	progress_end();
	if (cfg->verbose)
		progress_summary(L.now, L.finished, L.failed, L.retried);
	joblog_close();
	order_free();
	input_close();
	output_restore();
	close(L.sigpipe[0]);
	close(L.sigpipe[1]);
	return loop_exit_status();
}
