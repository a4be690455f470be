/*
 * fault.c: an LD_PRELOAD shim that makes one chosen call of a C library
 * function fail, so that a test can reach an error path of ppool on demand.
 *
 * Build (inside a test, into its own directory, so that it works from an
 * out-of-tree build as well):
 *
 *	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/fault.so" \
 *	    "$PPOOL_SRCDIR/tests/fault.c" -ldl
 *
 * Use:
 *
 *	LD_PRELOAD=$BATS_TEST_TMPDIR/fault.so PPOOL_FAULT_PIPE2=4 ppool ...
 *
 * Environment, read once when the library is loaded:
 *
 *	PPOOL_FAULT_PIPE2=N	the Nth call to pipe2() in the process (counting
 *				from 1) fails with EMFILE ("Too many open
 *				files"), without making a pipe; the other
 *				calls go through.  Unset or 0: none fails.
 *	PPOOL_FAULT_LOG=FILE	append one line per call to FILE: the function,
 *				the call's number and "fail" or "ok", e.g.
 *				"pipe2 4 fail"; to count a program's calls.
 *
 * Only the process started with LD_PRELOAD is affected: the constructor
 * removes LD_PRELOAD from the environment, so that its children (workers,
 * commands) neither load the shim nor count their own calls.
 *
 * Under AddressSanitizer, ASan refuses to start when a preloaded library
 * comes before its runtime; add verify_asan_link_order=0 to ASAN_OPTIONS.
 *
 * To fail another function, add a row to faults[] (its environment
 * variable and errno) and a wrapper like pipe2's below that calls
 * fault_hit() first.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fault {
	const char	*name;		/* the function */
	const char	*env;		/* the variable that says which call */
	int		 error;		/* the errno the failing call sets */
	unsigned long	 fail_at;	/* the call to fail, 0: none */
	unsigned long	 calls;		/* calls so far */
};

enum { FAULT_PIPE2 };

static struct fault	 faults[] = {
	[FAULT_PIPE2] = { "pipe2", "PPOOL_FAULT_PIPE2", EMFILE, 0, 0 },
};

static char	 fault_log[4096];

/* Read the environment once, and keep the children out of it. */
__attribute__((constructor)) static void
fault_init(void)
{
	const char	*v;
	size_t		 i;

	for (i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		if ((v = getenv(faults[i].env)) != NULL)
			faults[i].fail_at = strtoul(v, NULL, 10);
	}
	if ((v = getenv("PPOOL_FAULT_LOG")) != NULL)
		snprintf(fault_log, sizeof fault_log, "%s", v);
	unsetenv("LD_PRELOAD");
}

/* Count a call of faults[which]; return 1 when this one must fail. */
static int
fault_hit(int which)
{
	struct fault	*f = &faults[which];
	char		 line[128];
	int		 fail, fd, n, saved = errno;

	f->calls++;
	fail = f->fail_at != 0 && f->calls == f->fail_at;
	if (fault_log[0] != '\0' &&
	    (fd = open(fault_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) != -1) {
		n = snprintf(line, sizeof line, "%s %lu %s\n", f->name,
		    f->calls, fail ? "fail" : "ok");
		if (n > 0)
			(void)write(fd, line, (size_t)n);
		close(fd);
	}
	errno = saved;
	return fail;
}

int
pipe2(int fds[2], int flags)
{
	static int	(*real)(int [2], int);

	if (fault_hit(FAULT_PIPE2)) {
		errno = faults[FAULT_PIPE2].error;
		return -1;
	}
	if (real == NULL &&
	    (real = (int (*)(int [2], int))dlsym(RTLD_NEXT, "pipe2")) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fds, flags);
}
