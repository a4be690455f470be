/*
 * rawspawn: the plain-C floor for ppool's command-mode benchmark.
 *
 *   rawspawn -j J -n N PROGRAM [ARG...]
 *
 * Runs PROGRAM [ARG...] I for I = 1 .. N (the argument `seq N | xargs -n1`
 * and `seq N | ppool -- PROGRAM` add), at most J at a time, each with what
 * ppool gives a command: stdin from /dev/null, stdout and stderr captured
 * through two pipes, a process group of its own, SIGKILL when the parent
 * dies.  One poll() loop over the pipes and a pidfd per child; output is
 * read in 64 KiB chunks and thrown away; a child is reaped when its pidfd
 * says it exited.  No JSON, no records, no libpipeline: what is left is
 * the price of the processes themselves.  Exit 1 when a child does not
 * exit with status 0.
 *
 * Prints one line on stdout:
 *   rawspawn j=J n=N elapsed_s=S runs_per_s=R
 * Elapsed time is CLOCK_MONOTONIC from before the first fork to after the
 * last child is reaped.
 *
 * Build: cc -O2 -Wall -Wextra -o rawspawn rawspawn.c
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

struct child {
	pid_t	pid;		/* 0: a free place */
	int	pidfd;
	int	out;		/* read ends, -1 at EOF */
	int	err;
};

static char	rbuf[RBUF];

static void
die(const char *what)
{
	fprintf(stderr, "rawspawn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rawspawn -j J -n N PROGRAM [ARG...]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A pipe whose ends close on exec; the parent's (read) end non-blocking. */
static void
capture_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		die("pipe2");
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
}

static void
start(struct child *c, char **argv, int argc, unsigned long i)
{
	char	num[32];
	int	out[2], err[2], in;

	snprintf(num, sizeof num, "%lu", i);
	argv[argc] = num;
	capture_pipe(out);
	capture_pipe(err);
	if ((in = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		die("/dev/null");
	if ((c->pid = fork()) == -1)
		die("fork");
	if (c->pid == 0) {
		if (dup2(in, 0) == -1 || dup2(out[1], 1) == -1 ||
		    dup2(err[1], 2) == -1)
			_exit(127);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in);
	close(out[1]);
	close(err[1]);
	c->out = out[0];
	c->err = err[0];
	if ((c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) == -1)
		die("pidfd_open");
}

/* Read what is there; close at EOF. */
static void
drain(int *fd)
{
	ssize_t	n;

	while ((n = read(*fd, rbuf, sizeof rbuf)) > 0)
		;
	if (n == 0) {
		close(*fd);
		*fd = -1;
	} else if (errno != EAGAIN && errno != EINTR)
		die("read");
}

/* The child exited: read what it left, reap it; return its wait status. */
static int
finish(struct child *c)
{
	int	status;

	if (c->out != -1)
		drain(&c->out);
	if (c->err != -1)
		drain(&c->err);
	if (c->out != -1)
		close(c->out);
	if (c->err != -1)
		close(c->err);
	c->out = c->err = -1;
	while (waitpid(c->pid, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid");
	close(c->pidfd);
	c->pid = 0;
	return status;
}

int
main(int argc, char **argv)
{
	struct child	*kids;
	struct pollfd	*pfd;
	char		**cmd;
	unsigned long	 n = 0, started = 0, done = 0;
	size_t		 i, k, np, *who;
	int		 j = 0, opt, bad = 0, status;
	double		 t0;

	while ((opt = getopt(argc, argv, "+j:n:")) != -1) {
		switch (opt) {
		case 'j':
			j = atoi(optarg);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (j < 1 || n < 1 || optind >= argc)
		usage();
	argc -= optind;
	argv += optind;
	if ((cmd = calloc(argc + 2, sizeof *cmd)) == NULL ||
	    (kids = calloc(j, sizeof *kids)) == NULL ||
	    (pfd = calloc(3 * j, sizeof *pfd)) == NULL ||
	    (who = calloc(3 * j, sizeof *who)) == NULL)
		die("calloc");
	memcpy(cmd, argv, argc * sizeof *cmd);

	t0 = now();
	while (done < n) {
		for (k = 0; k < (size_t)j && started < n; k++) {
			if (kids[k].pid == 0)
				start(&kids[k], cmd, argc, ++started);
		}
		np = 0;
		for (k = 0; k < (size_t)j; k++) {
			if (kids[k].pid == 0)
				continue;
			pfd[np] = (struct pollfd){ kids[k].pidfd, POLLIN, 0 };
			who[np++] = k;
			if (kids[k].out != -1) {
				pfd[np] = (struct pollfd){ kids[k].out, POLLIN, 0 };
				who[np++] = k;
			}
			if (kids[k].err != -1) {
				pfd[np] = (struct pollfd){ kids[k].err, POLLIN, 0 };
				who[np++] = k;
			}
		}
		if (poll(pfd, np, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* Output first, then exits, as ppool does. */
		for (i = 0; i < np; i++) {
			if (pfd[i].revents == 0 || pfd[i].fd == kids[who[i]].pidfd)
				continue;
			drain(pfd[i].fd == kids[who[i]].out ? &kids[who[i]].out :
			    &kids[who[i]].err);
		}
		for (i = 0; i < np; i++) {
			k = who[i];
			if (pfd[i].revents == 0 || kids[k].pid == 0 ||
			    pfd[i].fd != kids[k].pidfd)
				continue;
			status = finish(&kids[k]);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bad++;
			done++;
		}
	}
	t0 = now() - t0;
	printf("rawspawn j=%d n=%lu elapsed_s=%.6f runs_per_s=%.0f\n", j, n, t0,
	    n / t0);
	free(cmd);
	free(kids);
	free(pfd);
	free(who);
	if (bad) {
		fprintf(stderr, "rawspawn: %d runs did not exit with status 0\n",
		    bad);
		return 1;
	}
	return 0;
}
