/* order.c: the reorder window: which finished task may be printed next. */

#include "config.h"

#include <stdlib.h>

#include "ppool.h"

/*
 * Ordered: ring[seq % size] holds the task of that seq, and next is the seq
 * to print next.  Tasks read but not printed never number more than the
 * window, so two live tasks never share a ring entry.
 * Unordered: ring is a FIFO of finished tasks, in finishing order.
 */
static struct {
	struct slot	**ring;
	size_t		  size;
	int		  unordered;
	uint64_t	  next;		/* ordered: seq to print next */
	size_t		  head;		/* unordered: FIFO start */
	size_t		  count;	/* unordered: FIFO length */
} order;

/* Make a window of size tasks. */
void
order_init(size_t size, int unordered)
{
	order.ring = xcalloc_nofork(size, sizeof *order.ring);
	order.size = size;
	order.unordered = unordered;
	order.next = 1;
	order.head = order.count = 0;
}

/* Free the window. */
void
order_free(void)
{
	xfree_nofork(order.ring, order.size, sizeof *order.ring);
	order.ring = NULL;
}

/* Note a task that was just read. */
void
order_add(struct slot *s)
{
	if (!order.unordered)
		order.ring[s->seq % order.size] = s;
}

/* Note a task that is done (or will never run). */
void
order_done(struct slot *s)
{
	if (order.unordered)
		order.ring[(order.head + order.count++) % order.size] = s;
}

/* Take the next task whose record may be printed, or NULL. */
struct slot *
order_next(void)
{
	struct slot	*s;

	if (order.unordered) {
		if (order.count == 0)
			return NULL;
		s = order.ring[order.head];
		order.head = (order.head + 1) % order.size;
		order.count--;
		return s;
	}
	s = order.ring[order.next % order.size];
	if (s == NULL || s->seq != order.next || s->state != SLOT_DONE)
		return NULL;
	order.ring[order.next % order.size] = NULL;
	order.next++;
	return s;
}
