/* sig.c: the signals ppool handles, turned into bytes on a self-pipe that the poll loop reads. */

#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppool.h"

/*
 * Seconds within which the same signal again is the same signal: timeout(1)
 * sends its SIGTERM to ppool and then to its own process group.
 */
#define SIGNAL_ECHO	0.05

static int	sig_pipe[2] = { -1, -1 };

/*
 * A signal only writes its number into the self-pipe, once for the same
 * signal within SIGNAL_ECHO seconds of its arrival.  The stop signals
 * block each other while this runs.
 */
static void
sig_handler(int sig)
{
	static int		 last;
	static struct timespec	 last_at;
	struct timespec		 ts;
	unsigned char		 c = (unsigned char)sig;
	int			 saved = errno;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (sig != last || (ts.tv_sec - last_at.tv_sec) +
	    (ts.tv_nsec - last_at.tv_nsec) / 1e9 >= SIGNAL_ECHO) {
		last = sig;
		last_at = ts;
		(void)write(sig_pipe[1], &c, 1);
	}
	errno = saved;
}

/*
 * Install signal handling before any child starts.  A stop signal ignored
 * when ppool started stays ignored, as nohup(1) and a script's background
 * job (SIGINT) expect.
 */
void
sig_init(void)
{
	static const int	 stops[] = SIG_HANDLED;
	struct sigaction	 sa, old;
	size_t			 i;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_FATAL, "cannot make the signal pipe");
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof stops / sizeof stops[0]; i++)
		sigaddset(&sa.sa_mask, stops[i]);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = sig_handler;
	for (i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		if (sigaction(stops[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(stops[i], &sa, NULL);
	}
	/* A failed write says why, rather than ending ppool; not in tasks. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
}

/* Close the self-pipe. */
void
sig_close(void)
{
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}

/* The descriptor the loop polls for signals. */
int
sig_fd(void)
{
	return sig_pipe[0];
}

/* The descriptor a handler writes a signal's number to (spawn.c's SIGCHLD). */
int
sig_wake_fd(void)
{
	return sig_pipe[1];
}

/*
 * Take the next signal that arrived, or 0 when none is waiting; *what says
 * what the loop is to make of it.
 */
int
sig_next(enum sig_event *what)
{
	unsigned char	 c;

	if (read(sig_pipe[0], &c, 1) != 1)
		return 0;
	if (c == SIGCHLD)
		*what = SIG_CHILD;
	else if (c == SIGTSTP)
		*what = SIG_PAUSE;
	else
		*what = SIG_STOP;
	return c;
}

/*
 * SIGTSTP (Ctrl-Z): stop ppool itself, as the default action would, and
 * return once continued (fg, bg).  The caller passes the stop on to the
 * children first and continues them after.  In an orphaned process group
 * the kernel drops the stop, and this returns at once.
 */
void
sig_suspend(void)
{
	struct sigaction	 dfl, old;
	sigset_t		 tstp, mask;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, &old);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, &mask);
	raise(SIGTSTP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigaction(SIGTSTP, &old, NULL);
}
