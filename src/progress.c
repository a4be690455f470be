/* progress.c: the live --progress line on stderr and the -v summary at exit. */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Redraw at most this often, in seconds. */
#define PROGRESS_INTERVAL	0.1
/* Width of the bar, in characters. */
#define PROGRESS_BAR		20

static struct {
	int	 on;		/* --progress and stderr is a terminal */
	int	 drawn;		/* a line is on the screen */
	double	 started;
	double	 last;		/* when it was last drawn */
	uint64_t total;		/* tasks in the input, or 0 when unknown */
} pg;

/* Start the clock; the line is drawn only when stderr is a terminal. */
void
progress_init(const struct config *cfg, double now, uint64_t total)
{
	pg.on = cfg->progress && isatty(STDERR_FILENO);
	pg.started = now;
	pg.total = total;
}

/* A task of the input will not run (--resume): one fewer to wait for. */
void
progress_skip(void)
{
	if (pg.total > 0)
		pg.total--;
}

/* Return the time the next redraw is due, or 0 when there is none. */
double
progress_due(void)
{
	return pg.on ? pg.last + PROGRESS_INTERVAL : 0;
}

/* Format minutes and seconds. */
static void
progress_clock(char *out, size_t size, double secs)
{
	unsigned long	 s = secs < 0 ? 0 : (unsigned long)(secs + 0.5);

	if (s >= 3600)
		snprintf(out, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(out, size, "%lu:%02lu", s / 60, s % 60);
}

/* Redraw the line if it is due (or force is set). */
void
progress_update(double now, uint64_t done, uint64_t failed, unsigned running,
    int force)
{
	char	 line[256], eta[32], bar[PROGRESS_BAR + 1];
	double	 rate, elapsed = now - pg.started;
	size_t	 n, fill;

	if (!pg.on || (!force && now < pg.last + PROGRESS_INTERVAL))
		return;
	pg.last = now;
	rate = elapsed > 0 ? done / elapsed : 0;
	n = snprintf(line, sizeof line, "ppool: %llu done, %llu failed, %u "
	    "running, %.1f/s", (unsigned long long)done,
	    (unsigned long long)failed, running, rate);
	if (pg.total > 0 && n < sizeof line) {
		fill = done >= pg.total ? PROGRESS_BAR :
		    (size_t)(PROGRESS_BAR * done / pg.total);
		memset(bar, '#', fill);
		memset(bar + fill, '.', PROGRESS_BAR - fill);
		bar[PROGRESS_BAR] = '\0';
		if (done >= pg.total)
			progress_clock(eta, sizeof eta, 0);
		else if (rate > 0)
			progress_clock(eta, sizeof eta,
			    (pg.total - done) / rate);
		else
			snprintf(eta, sizeof eta, "--:--");
		snprintf(line + n, sizeof line - n, " [%s] %llu/%llu ETA %s",
		    bar, (unsigned long long)done,
		    (unsigned long long)pg.total, eta);
	}
	/* \r and erase to the end of line: one line, redrawn in place. */
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	pg.drawn = 1;
}

/* Leave the last line on the screen, ended, so later output starts clean. */
void
progress_end(void)
{
	if (pg.drawn)
		fputc('\n', stderr);
	pg.drawn = 0;
}

/* Print the -v summary line. */
void
progress_summary(double now, uint64_t tasks, uint64_t failed,
    uint64_t retried)
{
	double	 elapsed = now - pg.started;

	fprintf(stderr, "ppool: %llu tasks, %llu failed, %llu retried, "
	    "%.3f s, %.1f tasks/s\n", (unsigned long long)tasks,
	    (unsigned long long)failed, (unsigned long long)retried, elapsed,
	    elapsed > 0 ? tasks / elapsed : 0.0);
}
