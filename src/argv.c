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
	for (i = 0; i < av->n; i++)
		free(av->v[i]);
	free(av->v);
	av->v = NULL;
	av->n = av->cap = 0;
}
