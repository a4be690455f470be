/* queue.c: every task from read to print: slots, the pending queue, outcomes, counters and --halt. */

#include "config.h"

#include <err.h>
#include <stdlib.h>

#include "ppool.h"

/*
 * Every task read is in exactly one place: the pending FIFO, a worker's
 * queue or a running command, or done and waiting in the order window;
 * Q.inuse counts them all and never exceeds the window.  A task whose
 * outcome calls for action elsewhere (--halt now kills the running tasks)
 * leaves a note here that run.c takes, after the module that reported the
 * outcome has returned.
 */
static struct {
	const struct config	*cfg;
	struct slot		*slots;		/* the window, touched as used: */
	size_t			 fresh;		/* slots ever used */
	struct slot		*free;
	size_t			 inuse;
	uint64_t		 nread;
	int			 want_input;

	struct slot		**pending;	/* a ring of window entries */
	size_t			 phead;
	size_t			 plen;

	unsigned long		 finished;	/* tasks done for good */
	unsigned long		 failed;
	unsigned long		 retried;
	int			 halted;
	int			 kill_due;	/* --halt now tripped: kill */
	int			 stopping;	/* read and start nothing more */
	int			 fatal;		/* the run failed: exit 255 */
} Q;

static void	queue_halt_check(void);

/* Make the window of slots and the pending queue. */
void
queue_init(const struct config *cfg)
{
	Q.cfg = cfg;
	Q.slots = xcalloc_nofork(cfg->window, sizeof *Q.slots);
	Q.pending = xcalloc_nofork(cfg->window, sizeof *Q.pending);
}

/* Free every slot and the queue. */
void
queue_free(void)
{
	size_t	 i;

	for (i = 0; i < Q.fresh; i++)
		task_clear(&Q.slots[i]);
	xfree_nofork(Q.slots, Q.cfg->window, sizeof *Q.slots);
	xfree_nofork(Q.pending, Q.cfg->window, sizeof *Q.pending);
	Q.slots = NULL;
	Q.pending = NULL;
}

/* Append a task to a list of tasks. */
void
queue_list_add(struct tasklist *l, struct slot *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : 2 * l->cap;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	l->v[l->n++] = s;
}

/* Free a list of tasks (not the tasks). */
void
queue_list_free(struct tasklist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Put a task back at the front of the queue, to run next. */
static void
queue_requeue(struct slot *s)
{
	Q.phead = (Q.phead + Q.cfg->window - 1) % Q.cfg->window;
	Q.pending[Q.phead] = s;
	Q.plen++;
}

/*
 * A task is done, whatever its outcome.  A task that failed while running
 * goes back to the front of the queue while it has --retries left.
 */
void
queue_done(struct slot *s)
{
	if (!s->ok && !s->skip && !s->no_retry && s->attempts > 0 &&
	    s->attempts - s->lost <= Q.cfg->retries && !Q.stopping) {
		task_retry(s);
		Q.retried++;
		queue_requeue(s);
		return;
	}
	s->state = SLOT_DONE;
	if (s->block != NULL) {
		/* Kept till now for a retry; the next block may be cut. */
		block_release(s->block);
		s->block = NULL;
	}
	if (!s->skip) {
		Q.finished++;
		if (!s->ok)
			Q.failed++;
		joblog_finish(s);
	}
	order_done(s);
	if (!s->ok && !s->skip)
		queue_halt_check();
}

/*
 * A pending task the stopping run will not start: one that never ran
 * prints no record; one waiting for a retry has failed, and says so.
 */
static void
queue_drop(struct slot *s)
{
	if (s->attempts == 0)
		s->skip = 1;
	else {
		task_fail(s, "not retried: ppool is stopping");
		s->no_retry = 1;
	}
	queue_done(s);
}

/*
 * Read and start nothing more; fatal: the run failed (exit 255).  The
 * pending tasks are dropped (see queue_drop).
 */
void
queue_stop(enum queue_stop how)
{
	struct slot	*s;

	if (how == QUEUE_FATAL)
		Q.fatal = 1;
	Q.stopping = 1;
	while (Q.plen > 0) {
		s = Q.pending[Q.phead];
		Q.phead = (Q.phead + 1) % Q.cfg->window;
		Q.plen--;
		queue_drop(s);
	}
}

/* Stop the run when --halt says enough tasks failed. */
static void
queue_halt_check(void)
{
	const struct config	*cfg = Q.cfg;
	int			 trip;

	if (cfg->halt == HALT_NEVER || Q.halted)
		return;
	if (cfg->halt_percent)
		trip = Q.finished >= 3 &&
		    Q.failed * 100 >= cfg->halt_fail * Q.finished;
	else
		trip = Q.failed >= cfg->halt_fail;
	if (!trip)
		return;
	Q.halted = 1;
	warnx("--halt: %lu of %lu finished tasks failed; %s", Q.failed,
	    Q.finished, cfg->halt == HALT_NOW ? "killing the running ones" :
	    "waiting for the running ones, starting no more");
	queue_stop(QUEUE_CALM);
	if (cfg->halt == HALT_NOW)
		Q.kill_due = 1;
}

/*
 * A task its worker or host never started (it exited by itself, or its
 * host failed first): back to the front of the queue as if it had not
 * been sent, or dropped when the run is stopping.
 */
void
queue_unread(struct slot *s)
{
	s->attempts--;
	task_retry(s);
	if (Q.stopping)
		queue_drop(s);
	else
		queue_requeue(s);
}

/*
 * A task's host failed before or while running it: run it on another
 * host, without using up a retry (its attempt still counts), or fail it
 * when no host is left or the run is stopping.
 */
void
queue_lost(struct slot *s, const char *why, double now)
{
	s->ms = (now - s->start) * 1000.0;
	if (Q.stopping || host_slots() == 0) {
		task_fail(s, "host %s: %s", s->host->name, why);
		s->no_retry = 1;
		queue_done(s);
		return;
	}
	s->lost++;
	task_retry(s);
	queue_requeue(s);
}

/*
 * Put a task that ppool stopped to make room (--memfree) back at the front
 * of the queue, as if it had not started: the attempt is not counted.
 */
void
queue_again(struct slot *s)
{
	if (Q.stopping) {
		task_fail(s, "stopped to free memory (--memfree), and the run "
		    "is stopping");
		s->no_retry = 1;
		queue_done(s);
		return;
	}
	s->attempts--;
	task_retry(s);
	queue_requeue(s);
}

/*
 * Take tasks from the buffered input while the window has room; note
 * whether more input must be read.  Return how many were taken.
 */
size_t
queue_fill(void)
{
	struct slot	*s;
	size_t		 n = 0;

	Q.want_input = 0;
	while (!Q.stopping && Q.inuse < Q.cfg->window) {
		if (Q.free == NULL) {
			/*
			 * Every slot used so far is held or free: a slot never
			 * used is left, and its memory is touched only now.
			 */
			s = &Q.slots[Q.fresh++];
			task_init(s);
			s->next = NULL;
			Q.free = s;
		}
		s = Q.free;
		if (input_next(s) == 0) {
			Q.want_input = input_fd() != -1;
			return n;
		}
		n++;
		Q.free = s->next;
		Q.inuse++;
		s->seq = ++Q.nread;
		order_add(s);
		if (joblog_skip(s)) {
			/* --resume: done in an earlier run; no record here. */
			s->skip = 1;
			progress_skip();
			queue_done(s);
		} else
			Q.pending[(Q.phead + Q.plen++) % Q.cfg->window] = s;
	}
	return n;
}

/*
 * Whether the input should be polled for more tasks.  --pipe reads while
 * block.c has room, which taking a block (--round-robin's commands take
 * them after queue_fill) may have made.
 */
int
queue_wants_input(void)
{
	if (Q.cfg->pipe)
		return !Q.stopping && input_fd() != -1;
	return Q.want_input && !Q.stopping;
}

/*
 * The task to start next, or NULL.  Lines at the head of the queue that
 * are no task (invalid JSON, a NUL, too long) are done first: when their
 * turn comes, in input order, as parallel would, so that --halt never
 * stops the tasks read before them.
 */
struct slot *
queue_head(void)
{
	struct slot	*s;

	while (Q.plen > 0 && !Q.stopping) {
		s = Q.pending[Q.phead];
		if (s->state != SLOT_DONE)
			return s;
		queue_pop();
		queue_done(s);
	}
	return NULL;
}

/* The task behind the head, or NULL. */
struct slot *
queue_second(void)
{
	return Q.plen < 2 ? NULL :
	    Q.pending[(Q.phead + 1) % Q.cfg->window];
}

/* Let the task behind the head go first. */
void
queue_swap_head(void)
{
	size_t		 next = (Q.phead + 1) % Q.cfg->window;
	struct slot	*s = Q.pending[next];

	Q.pending[next] = Q.pending[Q.phead];
	Q.pending[Q.phead] = s;
}

/* Take the head of the queue off it: it is being started. */
void
queue_pop(void)
{
	Q.phead = (Q.phead + 1) % Q.cfg->window;
	Q.plen--;
}

/* How many tasks wait to start. */
size_t
queue_pending(void)
{
	return Q.plen;
}

/*
 * Give the records that may be printed to output.c, while stdout keeps up,
 * and their joblog lines to joblog.c, to be written once the records are
 * out; gone: stdout's reader is gone, the records are dropped, and their
 * tasks are not logged (--resume runs them again).  Return how many tasks
 * left the window.
 */
size_t
queue_print(int gone)
{
	struct slot	*s;
	size_t		 n = 0;

	while (!output_full() && (s = order_next()) != NULL) {
		n++;
		if (!gone) {
			output_record(s);
			joblog_hold(s, output_mark());
		}
		task_clear(s);
		s->state = SLOT_FREE;
		s->next = Q.free;
		Q.free = s;
		Q.inuse--;
	}
	return n;
}

/* Whether no task is held: every one read was printed. */
int
queue_empty(void)
{
	return Q.inuse == 0;
}

/* Whether the run reads and starts nothing more. */
int
queue_stopping(void)
{
	return Q.stopping;
}

/* Whether the run failed as a whole (exit 255). */
int
queue_fatal(void)
{
	return Q.fatal;
}

/* Take the note that --halt now wants the running tasks killed. */
int
queue_take_kill(void)
{
	int	 due = Q.kill_due;

	Q.kill_due = 0;
	return due;
}

/* The counts of the run: finished for good, failed, retried. */
void
queue_counts(unsigned long *finished, unsigned long *failed,
    unsigned long *retried)
{
	*finished = Q.finished;
	*failed = Q.failed;
	if (retried != NULL)
		*retried = Q.retried;
}
