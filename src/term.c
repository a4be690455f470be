/* term.c: ending a child, written once: SIGTERM, then SIGKILL --kill-after seconds later. */

#include "config.h"

#include <signal.h>

#include "ppool.h"

/*
 * A child's way out: nothing sent yet (next is SIGTERM, due 0 or a time
 * it is due at), SIGTERM sent (next is SIGKILL, due --kill-after seconds
 * after it), or done (next is 0: SIGKILL sent, or the child is gone).  A
 * signal once sent is never sent again and its deadline never moves.
 */

/* Prepare to end the process with pidfd, and its process group pgid. */
void
term_init(struct term *t, int pidfd, pid_t pgid, double kill_after)
{
	t->pidfd = pidfd;
	t->pgid = pgid;
	t->kill_after = kill_after;
	t->due = 0;
	t->next = SIGTERM;
}

/* Send the next signal and arm the one after it. */
static void
term_fire(struct term *t, double now)
{
	spawn_signal(t->pidfd, t->pgid, t->next);
	if (t->next == SIGTERM) {
		t->next = SIGKILL;
		t->due = now + t->kill_after;
	} else {
		t->next = 0;
		t->due = 0;
	}
}

/* Whether SIGTERM was sent (or the child is gone). */
int
term_sent(const struct term *t)
{
	return t->next != SIGTERM;
}

/* Whether a SIGTERM is due at some time, or was sent. */
int
term_armed(const struct term *t)
{
	return t->next != SIGTERM || t->due > 0;
}

/* SIGTERM at when, unless it is due sooner or was sent. */
void
term_at(struct term *t, double when)
{
	if (t->next == SIGTERM && (t->due == 0 || when < t->due))
		t->due = when;
}

/*
 * SIGTERM now, SIGKILL --kill-after seconds later.  Once SIGTERM was
 * sent, asking again changes nothing: the SIGKILL's deadline holds.
 */
void
term_now(struct term *t, double now)
{
	if (t->next == SIGTERM)
		term_fire(t, now);
}

/* The child is gone: no signal may follow, its pid may be reused. */
void
term_gone(struct term *t)
{
	t->next = 0;
	t->due = 0;
	t->pidfd = -1;
}

/*
 * Send the signal that is due.  Return TERM_FIRED when this sent the
 * SIGTERM set by term_at, TERM_WAIT otherwise; *next is when to run
 * again, or 0.
 */
enum term_event
term_timer(struct term *t, double now, double *next)
{
	enum term_event	 ev = TERM_WAIT;

	if (t->due > 0 && now >= t->due) {
		if (t->next == SIGTERM)
			ev = TERM_FIRED;
		term_fire(t, now);
	}
	*next = t->due;
	return ev;
}
