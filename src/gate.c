/* gate.c: whether the machine can take another start: --delay, --load, --memfree. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppool.h"

/* Seconds between two looks at /proc/loadavg and /proc/meminfo. */
#define GATE_RECHECK	1.0

static struct {
	const struct config	*cfg;
	double			 last_start;	/* 0: nothing started yet */
	double			 next_look;	/* when /proc is read again */
	int			 loaded;	/* the load is at --load or more */
	int			 short_mem;	/* MemAvailable under --memfree */
	int			 squeezed;	/* ... under half of it */
	int			 warned;	/* a /proc file could not be read */
} G;

/* Whether any limit is set: gate_open is then asked (see ppool.h). */
int	gate_on;

/* Start watching the machine for the run's limits. */
void
gate_init(const struct config *cfg)
{
	memset(&G, 0, sizeof G);
	G.cfg = cfg;
	gate_on = cfg->delay > 0 || cfg->load > 0 || cfg->memfree > 0;
}

/* Read a small /proc file into b (NUL-terminated); return -1 on failure. */
static int
gate_read(const char *path, char *b, size_t size)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	do
		n = read(fd, b, size - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	b[n] = '\0';
	return 0;
}

/*
 * Say once that a limit cannot be checked; the run goes on as if the
 * machine could take the work, as a limit is a courtesy to the machine.
 */
static void
gate_warn(const char *path, const char *option)
{
	if (G.warned)
		return;
	G.warned = 1;
	fprintf(stderr, "ppool: cannot read %s: %s; %s is not checked\n",
	    path, strerror(errno), option);
}

/* Look at the load and the memory, at most once a GATE_RECHECK. */
static void
gate_look(double now)
{
	char		 b[4096], *p, *end;
	double		 load;
	unsigned long long kb;

	if (now < G.next_look)
		return;
	G.next_look = now + GATE_RECHECK;
	if (G.cfg->load > 0) {
		if (gate_read("/proc/loadavg", b, sizeof b) == -1)
			gate_warn("/proc/loadavg", "--load");
		else {
			load = strtod(b, &end);
			G.loaded = end != b && load >= G.cfg->load;
		}
	}
	if (G.cfg->memfree > 0) {
		errno = 0;
		if (gate_read("/proc/meminfo", b, sizeof b) == -1 ||
		    (p = strstr(b, "MemAvailable:")) == NULL) {
			if (errno == 0)
				errno = ENOENT;
			gate_warn("/proc/meminfo", "--memfree");
			return;
		}
		kb = strtoull(p + strlen("MemAvailable:"), NULL, 10);
		/* /proc says kB, and means KiB. */
		G.short_mem = kb * 1024 < G.cfg->memfree;
		G.squeezed = kb * 1024 < G.cfg->memfree / 2;
	}
}

/* Return 1 when a command (or a task to a worker) may start now. */
int
gate_check(double now)
{
	const struct config	*cfg = G.cfg;

	if (cfg->delay > 0 && G.last_start > 0 &&
	    now < G.last_start + cfg->delay)
		return 0;
	if (cfg->load > 0 || cfg->memfree > 0)
		gate_look(now);
	return !G.loaded && !G.short_mem;
}

/*
 * Note a start, for --delay: its time is taken now, after the fork, as
 * the loop's clock was read before it.
 */
void
gate_started(void)
{
	struct timespec	 ts;

	if (!gate_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	G.last_start = ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Return 1 when memory is so short (under half of --memfree) that the
 * youngest running task should make room.  One look at the memory says
 * so once: the next kill waits for the next look.
 */
int
gate_squeezed(double now)
{
	int	 squeezed;

	if (!gate_on || G.cfg->memfree == 0)
		return 0;
	gate_look(now);
	squeezed = G.squeezed;
	G.squeezed = 0;
	return squeezed;
}

/*
 * When the gate wants to be asked again (0: never), given whether work
 * waits for it: the end of --delay, or the next look at /proc.
 */
double
gate_due(double now, int waiting, int running)
{
	const struct config	*cfg = G.cfg;
	double			 next = 0;

	if (waiting && cfg->delay > 0 && G.last_start > 0 &&
	    now < G.last_start + cfg->delay)
		next = G.last_start + cfg->delay;
	if ((waiting && (cfg->load > 0 || cfg->memfree > 0)) ||
	    (running && cfg->memfree > 0)) {
		if (next == 0 || G.next_look < next)
			next = G.next_look > now ? G.next_look : now;
	}
	return next;
}
