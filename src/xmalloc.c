/* xmalloc.c: allocators that end the program when memory runs out. */

#include "config.h"

#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* Allocate size bytes or exit. */
void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		err(EXIT_FATAL, "out of memory allocating %zu bytes", size);
	return p;
}

/* Allocate a zeroed array or exit. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		err(EXIT_FATAL, "out of memory allocating %zu x %zu bytes", n,
		    size);
	return p;
}

/* Resize an array of n elements of size bytes or exit. */
void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if ((p = reallocarray(old, n == 0 ? 1 : n, size == 0 ? 1 : size)) ==
	    NULL)
		err(EXIT_FATAL, "out of memory allocating %zu x %zu bytes", n,
		    size);
	return p;
}

/* Copy a string or exit. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(EXIT_FATAL, "out of memory copying a string");
	return p;
}
