/*
 * rawpipe: the plain-C anchor for ppool's worker-mode benchmarks.
 *
 *   rawpipe -j J -k K -n N
 *
 * Starts J `cat` processes (fork/exec, one pipe each way), sends the lines
 * "1\n" .. "N\n" (the same bytes as `seq N`), spread round-robin over the
 * cats (line i goes to cat (i-1) % J), with at most K lines in flight per
 * cat, and reads the echoes back.  One poll() loop, non-blocking pipes,
 * writes batched (every free slot of a cat filled with one write), reads in
 * 64 KiB chunks.  Every echoed line is checked: cat c must echo exactly the
 * lines it was sent, in order.  Exit 1 on any missing, extra or wrong line.
 *
 * Prints one line on stdout:
 *   rawpipe j=J k=K n=N elapsed_s=S lines_per_s=R
 * Elapsed time is CLOCK_MONOTONIC from before the first fork to after the
 * last cat is reaped.
 *
 * Build: cc -O2 -Wall -Wextra -o rawpipe rawpipe.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536

struct cat {
	pid_t pid;
	int in;			/* write end: cat's stdin, -1 once closed */
	int out;		/* read end: cat's stdout, -1 at EOF */
	uint64_t next_send;	/* next line number to queue for this cat */
	uint64_t next_recv;	/* line number the next echo must carry */
	uint64_t inflight;	/* queued or written, not yet echoed */
	char *wbuf;		/* bytes queued for writing */
	size_t wlen, woff, wcap;
	uint64_t cur;		/* number being parsed from the echo */
	int curlen;		/* digits seen in the current echo line */
};

static void die(const char *what)
{
	fprintf(stderr, "rawpipe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: rawpipe -j J -k K -n N\n");
	exit(2);
}

static uint64_t parse_num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || s[0] == '-')
		usage();
	return v;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Append decimal v and '\n' to buf; return bytes written (at most 21). */
static size_t fmt_line(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\n';
	return n + 1;
}

int main(int argc, char **argv)
{
	uint64_t J = 0, K = 0, N = 0;
	int opt;

	while ((opt = getopt(argc, argv, "j:k:n:")) != -1) {
		switch (opt) {
		case 'j': J = parse_num(optarg); break;
		case 'k': K = parse_num(optarg); break;
		case 'n': N = parse_num(optarg); break;
		default: usage();
		}
	}
	if (!J || !K || !N || optind != argc || J > 4096)
		usage();

	signal(SIGPIPE, SIG_IGN);

	struct cat *cats = calloc(J, sizeof *cats);
	struct pollfd *pfd = calloc(2 * J, sizeof *pfd);
	int *pfd_cat = calloc(2 * J, sizeof *pfd_cat);
	if (!cats || !pfd || !pfd_cat)
		die("calloc");

	double t0 = now();

	for (uint64_t c = 0; c < J; c++) {
		int to[2], from[2];
		if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
			die("pipe2");
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
				_exit(127);
			execlp("cat", "cat", (char *)NULL);
			_exit(127);
		}
		close(to[0]);
		close(from[1]);
		set_nonblock(to[1]);
		set_nonblock(from[0]);
		struct cat *ct = &cats[c];
		ct->pid = pid;
		ct->in = to[1];
		ct->out = from[0];
		ct->next_send = c + 1;
		ct->next_recv = c + 1;
		/* K lines of at most 21 bytes each */
		ct->wcap = K * 21 < RBUF ? RBUF : K * 21;
		ct->wbuf = malloc(ct->wcap);
		if (!ct->wbuf)
			die("malloc");
	}

	static char rbuf[RBUF];
	uint64_t received = 0;
	int bad = 0;
	uint64_t open_outs = J;

	while (open_outs) {
		/* Queue new lines into free slots, try to write them at once. */
		for (uint64_t c = 0; c < J; c++) {
			struct cat *ct = &cats[c];
			if (ct->in < 0)
				continue;
			if (ct->woff == ct->wlen) {
				ct->woff = ct->wlen = 0;
				while (ct->inflight < K && ct->next_send <= N) {
					ct->wlen += fmt_line(ct->wbuf + ct->wlen, ct->next_send);
					ct->next_send += J;
					ct->inflight++;
				}
			}
			if (ct->woff < ct->wlen) {
				ssize_t w = write(ct->in, ct->wbuf + ct->woff, ct->wlen - ct->woff);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					die("write");
				if (w > 0)
					ct->woff += (size_t)w;
			}
			if (ct->woff == ct->wlen && ct->next_send > N) {
				close(ct->in);
				ct->in = -1;
			}
		}

		nfds_t n = 0;
		for (uint64_t c = 0; c < J; c++) {
			struct cat *ct = &cats[c];
			if (ct->in >= 0 && ct->woff < ct->wlen) {
				pfd[n] = (struct pollfd){ .fd = ct->in, .events = POLLOUT };
				pfd_cat[n++] = (int)c;
			}
			if (ct->out >= 0) {
				pfd[n] = (struct pollfd){ .fd = ct->out, .events = POLLIN };
				pfd_cat[n++] = (int)c;
			}
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (nfds_t i = 0; i < n; i++) {
			struct cat *ct = &cats[pfd_cat[i]];
			if (!pfd[i].revents || pfd[i].fd != ct->out)
				continue;	/* writes are retried at the loop top */
			ssize_t r = read(ct->out, rbuf, sizeof rbuf);
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				die("read");
			}
			if (r == 0) {
				close(ct->out);
				ct->out = -1;
				open_outs--;
				if (ct->curlen) {
					fprintf(stderr, "rawpipe: cat %d: unterminated last line\n",
						pfd_cat[i]);
					bad = 1;
				}
				continue;
			}
			for (ssize_t p = 0; p < r; p++) {
				unsigned char ch = (unsigned char)rbuf[p];
				if (ch >= '0' && ch <= '9') {
					ct->cur = ct->cur * 10 + (ch - '0');
					ct->curlen++;
				} else if (ch == '\n') {
					if (!ct->curlen || ct->cur != ct->next_recv || !ct->inflight) {
						if (!bad)
							fprintf(stderr, "rawpipe: cat %d: echoed %" PRIu64
								", expected %" PRIu64 "\n", pfd_cat[i],
								ct->cur, ct->next_recv);
						bad = 1;
					}
					ct->next_recv += J;
					if (ct->inflight)
						ct->inflight--;
					received++;
					ct->cur = 0;
					ct->curlen = 0;
				} else {
					if (!bad)
						fprintf(stderr, "rawpipe: cat %d: bad byte 0x%02x\n",
							pfd_cat[i], ch);
					bad = 1;
				}
			}
		}
	}

	for (uint64_t c = 0; c < J; c++) {
		int st;
		if (waitpid(cats[c].pid, &st, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "rawpipe: cat %" PRIu64 " ended badly (status 0x%x)\n", c, st);
			bad = 1;
		}
	}
	double el = now() - t0;

	if (received != N) {
		fprintf(stderr, "rawpipe: %" PRIu64 " lines echoed, %" PRIu64 " sent\n",
			received, N);
		bad = 1;
	}
	printf("rawpipe j=%" PRIu64 " k=%" PRIu64 " n=%" PRIu64
	       " elapsed_s=%.6f lines_per_s=%.0f\n", J, K, N, el, N / el);
	return bad ? 1 : 0;
}
