/* run.c: the poll loop: one poll() a pass over stdin, stdout, signals and children; timers; when to stop. */

#include "config.h"

#include <sys/resource.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ppool.h"

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

/* The loop's own entries at the head of the poll table. */
enum {
	RUN_SIGNALS,
	RUN_STDIN,
	RUN_STDOUT,
	RUN_OWN
};

/*
 * The state of one run that is the loop's own: what the signals and
 * stdout decided.  The tasks are queue.c's, the children pool.c's or
 * cmdpool.c's.
 */
static struct {
	const struct config	*cfg;
	int			 workers;	/* worker mode, not command mode */
	int			 signo;		/* the first signal that stopped us */
	int			 hurry;		/* a second one came */
	int			 gone_first;	/* stdout went before any signal */
	int			 output_failed;	/* ... with an error, not EPIPE */
	int			 check_children; /* no pidfds: a SIGCHLD came */
	double			 child_event;	/* when a child last had news */
	double			 now;
} R;

/* Seconds on the monotonic clock. */
static double
run_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Keep -j within the descriptors this process may open: raise the soft
 * limit if the hard one allows, else run fewer workers and say so.
 * Return the -j to run with.
 */
static unsigned
run_fd_budget(unsigned jobs)
{
	struct rlimit	 rl;
	rlim_t		 want = (rlim_t)jobs * FD_PER_WORKER + FD_RESERVE;
	unsigned	 fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return jobs;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return jobs;
	}
	if (rl.rlim_cur < FD_RESERVE + FD_PER_WORKER)
		errx(EXIT_FATAL, "only %llu file descriptors may be open: "
		    "raise 'ulimit -n'", (unsigned long long)rl.rlim_cur);
	fit = (rl.rlim_cur - FD_RESERVE) / FD_PER_WORKER;
	warnx("only %llu file descriptors may be open: running %u %s at "
	    "once instead of %u (raise 'ulimit -n' for more)",
	    (unsigned long long)rl.rlim_cur, fit,
	    R.workers ? "workers" : "commands", jobs);
	return fit;
}

/* How many tasks are running now. */
static unsigned
run_running(void)
{
	return R.workers ? pool_running() : cmdpool_running();
}

/* How many children hold a place now. */
static size_t
run_children(void)
{
	return R.workers ? pool_children() : cmdpool_running();
}

/* Kill every worker or command; their tasks fail with the reason. */
static void
run_kill_all(const char *why)
{
	if (R.workers)
		pool_kill_all(R.now, why);
	else
		cmdpool_kill_all(R.now, why);
}

/* Send sig to the process group of every worker or command. */
static void
run_signal_all(int sig)
{
	if (R.workers)
		pool_signal_all(sig);
	else
		cmdpool_signal_all(sig);
}

/* The reader of stdout is gone: stop quietly, children included. */
static void
run_stdout_gone(void)
{
	if (R.signo == 0 && !R.gone_first)
		R.gone_first = 1;
	output_lost();
	queue_stop(QUEUE_CALM);
	run_kill_all("ppool's stdout was closed");
}

/*
 * Act on the notes the modules left: --halt now kills the running tasks,
 * after the module that reported the failure has returned.
 */
static void
run_notes(void)
{
	if (queue_take_kill())
		run_kill_all("stopped by --halt now");
}

/*
 * Write records to stdout; return 1 when bytes left.  A failure other than
 * a reader gone (a full disk) is said once and fails the run.
 */
static int
run_flush(void)
{
	switch (output_drain(R.now, run_running())) {
	case OUTPUT_WROTE:
		return 1;
	case OUTPUT_IDLE:
		return 0;
	case OUTPUT_FAILED:
		warnx("cannot write records to stdout: %s; stopping",
		    strerror(errno));
		R.output_failed = 1;
		break;
	case OUTPUT_GONE:
		break;
	}
	run_stdout_gone();
	return 0;
}

/*
 * Ctrl-Z: the children run in process groups of their own, which the
 * terminal does not reach.  Pass the stop on to them, stop, and once
 * continued (fg, bg), continue them.
 */
static void
run_pause(void)
{
	run_signal_all(SIGTSTP);
	sig_suspend();
	run_signal_all(SIGCONT);
}

/*
 * React to the signals that arrived: the first stop signal reads and
 * starts nothing more; a second kills the running tasks.
 */
static void
run_signals(void)
{
	enum sig_event	 what;
	char		 why[64], name[SIGNAME_MAX];
	int		 sig;

	while ((sig = sig_next(&what)) != 0) {
		switch (what) {
		case SIG_CHILD:
			R.check_children = 1;
			break;
		case SIG_PAUSE:
			run_pause();
			break;
		case SIG_STOP:
			if (R.signo == 0) {
				R.signo = sig;
				queue_stop(QUEUE_CALM);
				break;
			}
			R.hurry = 1;
			spawn_signame(sig, name, sizeof name);
			snprintf(why, sizeof why,
			    "ppool got a second signal (%s)", name);
			run_kill_all(why);
			break;
		}
	}
}

/* Without pidfds: after a SIGCHLD, reap the children that are gone. */
static void
run_check_children(void)
{
	if (!R.check_children)
		return;
	R.check_children = 0;
	if (R.workers)
		pool_check_children(R.now);
	else
		cmdpool_check_children(R.now);
}

/* Run the timers; return the poll timeout in milliseconds. */
static int
run_timers(void)
{
	double	 next, t;

	next = R.workers ? pool_timers(R.now) : cmdpool_timers(R.now);
	t = progress_due();
	if (t > 0 && (next == 0 || t < next))
		next = t;
	if (gate_on) {
		t = gate_due(R.now, queue_head() != NULL, run_running() > 0);
		if (t > 0 && (next == 0 || t < next))
			next = t;
	}
	/* After a second signal, once the children are gone: a drain. */
	if (R.hurry && run_children() == 0)
		output_hurry(R.now);
	t = output_due(R.now, run_running());
	if (t > 0 && (next == 0 || t < next))
		next = t;
	if (next == 0)
		return -1;
	t = (next - R.now) * 1000.0 + 1;
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

/* Return 1 when the run is over. */
static int
run_finished(void)
{
	if (run_children() > 0)
		return 0;
	if (output_gone() || output_drained(R.now))
		return 1;
	return (input_eof() || queue_stopping()) && queue_empty() &&
	    !output_pending();
}

/* The exit status the run earned. */
static int
run_exit_status(void)
{
	unsigned long	 finished, failed;

	queue_counts(&finished, &failed, NULL);
	if (queue_fatal() || R.output_failed || input_failed() ||
	    joblog_failed())
		return EXIT_FATAL;
	if (output_gone() && R.gone_first)
		return 128 + SIGPIPE;
	if (R.signo != 0)
		return 128 + R.signo;
	if (failed > FAILED_COUNT_MAX)
		return EXIT_MANY_FAILED;
	return (int)failed;
}

/*
 * Whether poll should not sleep.  Fast workers answer within microseconds:
 * right after news of a child, more is likely to follow, and polling
 * without sleeping for SPIN_TIME saves a wake-up per round trip.  Slow
 * tasks cost at most that much CPU each.  A retired worker's exit gets
 * SPIN_EXIT_TIME when its place is wanted: with -r, both workers of a pair
 * often retire together, and a wake-up for each exit made 1000 restarts
 * cost 0.36 s more (1.24 s against 0.88 s).  A command's news comes a fork
 * and an exec apart at best: no spinning for it (it cost 60 us of CPU a
 * command).
 */
static int
run_spins(void)
{
	double	 since = R.now - R.child_event;

	return R.workers && ((since < SPIN_TIME && pool_running() > 0) ||
	    (since < SPIN_EXIT_TIME && pool_exit_awaited()));
}

/*
 * Do all that can be done without waiting.  Printing frees room in the
 * window and taking fills it: repeat until neither moves, so that poll()
 * is reached only when an event is needed (at most a window's worth of
 * work).
 */
static void
run_work(void)
{
	unsigned long	 finished, failed;
	size_t		 moved;

	do {
		moved = queue_fill();
		if (R.workers)
			pool_dispatch(R.now);
		else
			cmdpool_dispatch(R.now);
		run_notes();
		moved += queue_print(output_gone());
		moved += run_flush();
		joblog_commit(output_written());
	} while (moved > 0);
	if (R.workers) {
		pool_flush(R.now);
		pool_close_idle(R.now);
	}
	queue_counts(&finished, &failed, NULL);
	progress_update(R.now, finished, failed, run_running(), 0);
}

/* Set an entry of the poll table. */
static void
run_watch(struct pollfd *pfd, int fd, short events)
{
	pfd->fd = fd;
	pfd->events = events;
	pfd->revents = 0;
}

/* Run the whole pool; return the exit status. */
int
run_pool(const struct config *cfg)
{
	struct pollfd	*pfd = NULL;
	size_t		 n, cap = 0, want;
	unsigned long	 finished, failed, retried;
	unsigned	 jobs;
	short		 rev;
	int		 timeout;

	R.cfg = cfg;
	R.workers = cfg->worker_cmd != NULL;
	jobs = host_slots() < SLOTS_MAX ? host_slots() : SLOTS_MAX;
	jobs = run_fd_budget(jobs);
	/*
	 * Opening -a FIFO waits for a writer, and reading a joblog may take
	 * long: till they are done, nothing runs, and a signal's default
	 * action ends ppool (a handler would only note it, and open() would
	 * go on waiting).
	 */
	input_open(cfg, jobs);
	output_init(cfg);
	joblog_open(cfg);
	sig_init();
	spawn_init(sig_wake_fd());
	progress_init(cfg, run_now(), cfg->progress ? input_count() : 0);
	order_init(cfg->window, cfg->unordered);
	queue_init(cfg);
	gate_init(cfg);
	if (R.workers)
		pool_init(cfg, jobs);
	else
		cmdpool_init(cfg, jobs);

	for (;;) {
		R.now = run_now();
		run_work();
		timeout = run_timers();
		if (run_finished())
			break;

		want = RUN_OWN + (R.workers ? pool_watch_max() :
		    cmdpool_watch_max());
		if (cap < want) {
			cap = want;
			pfd = xreallocarray(pfd, cap, sizeof *pfd);
		}
		run_watch(&pfd[RUN_SIGNALS], sig_fd(), POLLIN);
		run_watch(&pfd[RUN_STDIN], queue_wants_input() ? input_fd() :
		    -1, POLLIN);
		run_watch(&pfd[RUN_STDOUT], output_gone() ? -1 : output_fd(),
		    output_events(R.now, run_running()));
		n = R.workers ? pool_watch(pfd + RUN_OWN) :
		    cmdpool_watch(pfd + RUN_OWN);
		if (timeout != 0 && run_spins())
			timeout = 0;
		if (poll(pfd, RUN_OWN + n, timeout) == -1) {
			if (errno != EINTR)
				err(EXIT_FATAL, "poll");
			/*
			 * Before the next dispatch: a stop starts nothing.
			 * Without pidfds the signal is SIGCHLD's news: reap.
			 */
			R.now = run_now();
			run_signals();
			run_check_children();
			run_notes();
			continue;
		}
		R.now = run_now();
		if (pfd[RUN_SIGNALS].revents != 0)
			run_signals();
		if (pfd[RUN_STDIN].revents != 0)
			input_read();
		rev = pfd[RUN_STDOUT].revents;
		if ((rev & (POLLERR | POLLHUP)) && !(rev & POLLOUT))
			run_stdout_gone();
		if ((R.workers ? pool_events(pfd + RUN_OWN, n, R.now) :
		    cmdpool_events(pfd + RUN_OWN, n, R.now)) > 0)
			R.child_event = R.now;
		run_check_children();
		run_notes();
	}

	free(pfd);
	if (R.workers)
		pool_free();
	else
		cmdpool_free();
	host_free();
	queue_counts(&finished, &failed, &retried);
	queue_free();
	R.now = run_now();
	progress_update(R.now, finished, failed, 0, 1);
	progress_end();
	if (cfg->verbose)
		progress_summary(R.now, finished, failed, retried);
	joblog_close();
	order_free();
	input_close();
	output_restore();
	sig_close();
	return run_exit_status();
}
