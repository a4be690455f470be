/* argv.c: growable NULL-terminated arrays of strings, such as a command's argv. */

#include "config.h"

#include <stdlib.h>

#include "ppool.h"

/* Make an empty array. */
void
argv_init(struct argv *av)
{
	av->v = xcalloc(1, sizeof *av->v);
	av->n = 0;
	av->cap = 1;
	av->block = NULL;
	av->block_len = av->block_used = 0;
}

/*
 * Give the array one block of size bytes for its strings, or return NULL
 * when it has one.  Strings in the block are freed with it, at once: a
 * command of -X has 100,000 arguments, and freeing them one by one after
 * a fork writes to every page they share with the child.
 */
char *
argv_block(struct argv *av, size_t size)
{
	if (av->block != NULL)
		return NULL;
	av->block = xmalloc(size);
	av->block_len = size;
	av->block_used = 0;
	return av->block;
}

/* Whether s is a string in the array's block. */
static int
argv_in_block(const struct argv *av, const char *s)
{
	return av->block != NULL && s >= av->block &&
	    s < av->block + av->block_len;
}

/*
 * Move the block of from to av, which has none, with the strings of it
 * that were moved to av (from's own become NULL).
 */
void
argv_adopt(struct argv *av, struct argv *from)
{
	if (from->block == NULL || av->block != NULL)
		return;
	av->block = from->block;
	av->block_len = from->block_len;
	av->block_used = from->block_used;
	from->block = NULL;
	from->block_len = from->block_used = 0;
}

/* Append a string; the array takes ownership of it. */
void
argv_add(struct argv *av, char *s)
{
	if (av->n + 1 >= av->cap) {
		av->cap *= 2;
		av->v = xreallocarray(av->v, av->cap, sizeof *av->v);
	}
	av->v[av->n++] = s;
	av->v[av->n] = NULL;
}

/* Free the array and its strings. */
void
argv_free(struct argv *av)
{
	size_t	 i;

	if (av->v == NULL)
		return;
	for (i = 0; i < av->n; i++) {
		if (!argv_in_block(av, av->v[i]))
			free(av->v[i]);
	}
	free(av->v);
	free(av->block);
	av->block = NULL;
	av->block_len = av->block_used = 0;
	av->v = NULL;
	av->n = av->cap = 0;
}
