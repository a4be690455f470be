/*
 * rawrecycle: the plain-C floor for ppool's recycling benchmark (-r).
 *
 *   rawrecycle -j J [-r R] [-s USEC] [-x USEC] [-v] -n N COMMAND
 *
 * Runs COMMAND under /bin/sh -c as up to J workers, as ppool -w does: a
 * pipe on each worker's stdin and stdout, its stderr inherited, a process
 * group of its own, SIGKILL when the parent dies, started only when there
 * is a line for it.  Sends the lines "1\n" .. "N\n" (the bytes of `seq N`)
 * one at a time to whichever worker holds none (ppool's --inflight 1), and
 * checks that each worker echoes exactly the line it was sent.  With -r R,
 * a worker's stdin is closed once it has been sent R lines; like ppool's,
 * it keeps its place among the J until it has exited and been reaped (a
 * pidfd), and only then does a fresh worker take the place.  At the end
 * of the input every worker's stdin is closed.  No JSON, no records, no
 * reorder window, no libpipeline: what is left is the price of the pipe
 * round trips and of the restarts themselves.  Exit 1 on a missing, extra
 * or wrong line, or a worker that does not exit with status 0.
 *
 * -s USEC: after news from a worker, poll without sleeping for USEC
 * microseconds, as ppool does for 50 (its SPIN_TIME): a round trip then
 * costs no wake-up.  -x USEC: the same while a retired worker that holds
 * no line has not exited and lines are left for its successor, as ppool
 * does for 500 (SPIN_EXIT_TIME).  -v: start workers with vfork instead of
 * fork, the cheapest start there is (no copy of the parent's page
 * tables).
 *
 * Prints one line on stdout:
 *   rawrecycle j=J r=R n=N starts=S elapsed_s=T lines_per_s=X
 * Elapsed time is CLOCK_MONOTONIC from before the first fork to after the
 * last worker is reaped.
 *
 * Build: cc -O2 -Wall -Wextra -o rawrecycle rawrecycle.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RBUF	65536

struct worker {
	pid_t		 pid;		/* 0: a free place */
	int		 pidfd;
	int		 in;		/* write end of its stdin, -1 once closed */
	int		 out;		/* read end of its stdout, -1 at EOF */
	unsigned long	 sent;		/* lines sent to this worker */
	unsigned long	 held;		/* the line it holds, 0 when none */
	unsigned long	 cur;		/* the number being read back */
	int		 curlen;	/* its digits so far */
};

static char	rbuf[RBUF];
static int	bad;
static int	use_vfork;	/* -v */

static void
die(const char *what)
{
	fprintf(stderr, "rawrecycle: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rawrecycle -j J [-r R] [-s USEC] [-x USEC] [-v] -n N COMMAND\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
start(struct worker *w, const char *cmd)
{
	int	to[2], from[2];

	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1)
		die("pipe2");
	/* The vfork child only makes system calls, then execs or exits. */
	if ((w->pid = use_vfork ? vfork() : fork()) == -1)
		die("fork");
	if (w->pid == 0) {
		if (dup2(to[0], 0) == -1 || dup2(from[1], 1) == -1)
			_exit(127);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	if (fcntl(from[0], F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	w->in = to[1];
	w->out = from[0];
	w->sent = w->held = w->cur = 0;
	w->curlen = 0;
	if ((w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0)) == -1)
		die("pidfd_open");
}

static void
close_stdin(struct worker *w)
{
	if (w->in != -1)
		close(w->in);
	w->in = -1;
}

/*
 * Send line i.  With one line held at a time, at most 21 bytes are in the
 * pipe: the write never blocks.
 */
static void
send_line(struct worker *w, unsigned long i, unsigned long r)
{
	char	line[32];
	int	n;

	n = snprintf(line, sizeof line, "%lu\n", i);
	if (write(w->in, line, n) != n)
		die("write");
	w->held = i;
	if (++w->sent == r)
		close_stdin(w);
}

/* Read what the worker wrote; check each line.  Return lines read. */
static unsigned long
receive(struct worker *w)
{
	unsigned long	 got = 0;
	ssize_t		 n, p;

	while ((n = read(w->out, rbuf, sizeof rbuf)) > 0) {
		for (p = 0; p < n; p++) {
			if (rbuf[p] >= '0' && rbuf[p] <= '9') {
				w->cur = w->cur * 10 + (rbuf[p] - '0');
				w->curlen++;
				continue;
			}
			if (rbuf[p] != '\n' || w->curlen == 0 ||
			    w->cur != w->held) {
				if (!bad)
					fprintf(stderr, "rawrecycle: worker %d:"
					    " a wrong line, %lu held\n",
					    (int)w->pid, w->held);
				bad = 1;
			}
			w->held = w->cur = 0;
			w->curlen = 0;
			got++;
		}
	}
	if (n == 0) {
		close(w->out);
		w->out = -1;
	} else if (errno != EAGAIN && errno != EINTR)
		die("read");
	return got;
}

/* The worker exited: read what it left and reap it. */
static unsigned long
finish(struct worker *w)
{
	unsigned long	got = 0;
	int		status;

	if (w->out != -1)
		got = receive(w);
	if (w->out != -1)
		close(w->out);
	close_stdin(w);
	while (waitpid(w->pid, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || w->held != 0) {
		fprintf(stderr, "rawrecycle: worker %d: status 0x%x, line %lu"
		    " unanswered\n", (int)w->pid, status, w->held);
		bad = 1;
	}
	close(w->pidfd);
	w->pid = 0;
	w->out = -1;
	return got;
}

int
main(int argc, char **argv)
{
	struct worker	*ws, *w;
	struct pollfd	*pfd;
	unsigned long	 n = 0, r = 0, next = 1, received = 0, starts = 0;
	size_t		 i, k, np, *who;
	int		 j = 0, opt, nready, wait_ms;
	double		 t0, spin = 0, spin_exit = 0, news = 0;

	while ((opt = getopt(argc, argv, "+j:n:r:s:vx:")) != -1) {
		switch (opt) {
		case 'j':
			j = atoi(optarg);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			r = strtoul(optarg, NULL, 10);
			break;
		case 's':
			spin = strtod(optarg, NULL) / 1e6;
			break;
		case 'v':
			use_vfork = 1;
			break;
		case 'x':
			spin_exit = strtod(optarg, NULL) / 1e6;
			break;
		default:
			usage();
		}
	}
	if (j < 1 || n < 1 || optind != argc - 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((ws = calloc(j, sizeof *ws)) == NULL ||
	    (pfd = calloc(2 * j, sizeof *pfd)) == NULL ||
	    (who = calloc(2 * j, sizeof *who)) == NULL)
		die("calloc");

	t0 = now();
	for (;;) {
		/* Lines to workers that hold none; a fresh one in a free place. */
		for (k = 0; k < (size_t)j && next <= n; k++) {
			w = &ws[k];
			if (w->pid == 0) {
				start(w, argv[optind]);
				starts++;
			}
			if (w->in != -1 && w->held == 0)
				send_line(w, next++, r);
		}
		if (next > n) {
			for (k = 0; k < (size_t)j; k++)
				if (ws[k].pid != 0)
					close_stdin(&ws[k]);
		}
		np = 0;
		for (k = 0; k < (size_t)j; k++) {
			if (ws[k].pid == 0)
				continue;
			if (ws[k].out != -1) {
				pfd[np] = (struct pollfd){ ws[k].out, POLLIN, 0 };
				who[np++] = k;
			}
			pfd[np] = (struct pollfd){ ws[k].pidfd, POLLIN, 0 };
			who[np++] = k;
		}
		if (np == 0)
			break;
		wait_ms = spin > 0 && now() - news < spin ? 0 : -1;
		if (wait_ms != 0 && spin_exit > 0 && next <= n &&
		    now() - news < spin_exit) {
			for (k = 0; k < (size_t)j; k++)
				if (ws[k].pid != 0 && ws[k].in == -1 &&
				    ws[k].held == 0)
					wait_ms = 0;
		}
		if ((nready = poll(pfd, np, wait_ms)) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (nready > 0)
			news = now();
		/* Replies first, then exits, as ppool does. */
		for (i = 0; i < np; i++) {
			w = &ws[who[i]];
			if (pfd[i].revents != 0 && pfd[i].fd == w->out)
				received += receive(w);
		}
		for (i = 0; i < np; i++) {
			w = &ws[who[i]];
			if (pfd[i].revents != 0 && w->pid != 0 &&
			    pfd[i].fd == w->pidfd)
				received += finish(w);
		}
	}
	t0 = now() - t0;
	if (received != n) {
		fprintf(stderr, "rawrecycle: %lu lines echoed, %lu sent\n",
		    received, n);
		bad = 1;
	}
	printf("rawrecycle j=%d r=%lu n=%lu starts=%lu elapsed_s=%.6f"
	    " lines_per_s=%.0f\n", j, r, n, starts, t0, n / t0);
	free(ws);
	free(pfd);
	free(who);
	return bad;
}
