/*
 * fault.c: an LD_PRELOAD shim that makes one chosen call of a C library
 * function fail, so that a test can reach an error path of ppool on demand,
 * and that shows ppool files of the test's own in place of /proc/loadavg and
 * /proc/meminfo, so that a test sets the load and memory a run sees.
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
 *	PPOOL_FAKE_LOADAVG=FILE	open() and open64() of exactly the path
 *				"/proc/loadavg" open FILE instead (gate.c
 *				reads it with open(); a fortified build
 *				calls open() too, as its flags are
 *				constant), so that a
 *				test sets the load average (--load) that
 *				ppool sees, and changes it during a run.
 *				FILE is opened anew at each call: replace it
 *				with rename(2) (write a new file, then mv it
 *				over FILE) for a reader never to see it half
 *				written.  Give an absolute path.
 *	PPOOL_FAKE_MEMINFO=FILE	the same for "/proc/meminfo" (--memfree):
 *				FILE holds lines such as
 *				"MemAvailable:    123456 kB".
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
 * fault_hit() first.  To fake another file, add a row to fakes[].
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

struct fake {
	const char	*path;		/* the path a program opens */
	const char	*env;		/* the variable naming the file instead */
	char		 file[4096];	/* that file, "" when unset */
};

static struct fake	 fakes[] = {
	{ "/proc/loadavg", "PPOOL_FAKE_LOADAVG", "" },
	{ "/proc/meminfo", "PPOOL_FAKE_MEMINFO", "" },
};

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
	for (i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
		if ((v = getenv(fakes[i].env)) != NULL)
			snprintf(fakes[i].file, sizeof fakes[i].file, "%s", v);
	}
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

/* The path to open instead of path: its fake file, or path itself. */
static const char *
fake_path(const char *path)
{
	size_t	 i;

	if (path == NULL)
		return path;
	for (i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
		if (fakes[i].file[0] != '\0' && strcmp(path, fakes[i].path) == 0)
			return fakes[i].file;
	}
	return path;
}

/* The next definition of function name (the C library's), or NULL. */
static void *
real_fn(const char *name)
{
	void	*fn;

	if ((fn = dlsym(RTLD_NEXT, name)) == NULL)
		errno = ENOSYS;
	return fn;
}

/* open's third argument, there only when flags create a file. */
#define OPEN_MODE(flags, ap, mode) do {					\
	(mode) = 0;							\
	if (((flags) & O_CREAT) != 0 ||					\
	    ((flags) & O_TMPFILE) == O_TMPFILE) {				\
		va_start((ap), (flags));				\
		(mode) = (mode_t)va_arg((ap), int);			\
		va_end((ap));						\
	}								\
} while (0)

/* open() and open64() (the same call on 64-bit Linux), faked alike. */
#define FAKE_OPEN(name)							\
int									\
name(const char *path, int flags, ...)					\
{									\
	static int	(*real)(const char *, int, ...);		\
	va_list		 ap;						\
	mode_t		 mode;						\
									\
	OPEN_MODE(flags, ap, mode);					\
	if (real == NULL &&						\
	    (real = (int (*)(const char *, int, ...))			\
	    real_fn(#name)) == NULL)					\
		return -1;						\
	return real(fake_path(path), flags, mode);			\
}

FAKE_OPEN(open)
FAKE_OPEN(open64)
