/* xmalloc.c: allocators that end the program when memory runs out. */

#include "config.h"

#include <sys/mman.h>

#include <err.h>
#include <stdint.h>
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

/* Copy n bytes into a new NUL-terminated string, or exit. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * Allocate a zeroed array that child processes never get a copy of, or exit.
 * fork() then neither copies its page tables nor makes its pages
 * copy-on-write, so the parent writes to it after a fork without faults.
 * No child may touch it between fork and exec.  Like malloc'd memory, its
 * pages take memory only once touched.  Free with xfree_nofork.
 */
void *
xcalloc_nofork(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0 || n > SIZE_MAX / size)
		errx(EXIT_FATAL, "cannot allocate %zu x %zu bytes", n, size);
	p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		err(EXIT_FATAL, "out of memory allocating %zu x %zu bytes", n,
		    size);
	/* Without it, children get a copy: slower, never wrong. */
	(void)madvise(p, n * size, MADV_DONTFORK);
	return p;
}

/* Free what xcalloc_nofork(n, size) returned. */
void
xfree_nofork(void *p, size_t n, size_t size)
{
	if (p != NULL)
		munmap(p, n * size);
}
