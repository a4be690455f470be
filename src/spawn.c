/* spawn.c: starting children through libpipeline and learning how they ended. */

#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <err.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Below this RLIMIT_NPROC, starts are preceded by a fork probe. */
#define SPAWN_PROBE_NPROC	65536

static pid_t	spawn_parent;	/* ppool's pid, for the child's check */
static int	spawn_quiet_set;	/* we set PIPELINE_QUIET ourselves */
static int	spawn_no_pidfd;	/* pidfd_open is missing: watch SIGCHLD */
static int	spawn_wake_fd = -1;	/* where SIGCHLD is told, then */
static struct sigaction spawn_old_chld;	/* libpipeline's SIGCHLD handler */
static int	spawn_probe;	/* check that fork works before starting */

/*
 * Without pidfds, SIGCHLD is the only news of an exit: let libpipeline's
 * handler reap first, then write the signal's number to the loop's pipe.
 */
static void
spawn_sigchld(int sig, siginfo_t *info, void *ctx)
{
	unsigned char	 c = SIGCHLD;
	int		 saved = errno;

	if (spawn_old_chld.sa_flags & SA_SIGINFO)
		spawn_old_chld.sa_sigaction(sig, info, ctx);
	else if (spawn_old_chld.sa_handler != SIG_IGN &&
	    spawn_old_chld.sa_handler != SIG_DFL)
		spawn_old_chld.sa_handler(sig);
	(void)write(spawn_wake_fd, &c, 1);
	errno = saved;
}

/* Put spawn_sigchld in front of libpipeline's handler, once. */
static void
spawn_chain_sigchld(void)
{
	static int		 chained;
	struct sigaction	 sa;

	if (chained || spawn_wake_fd == -1)
		return;
	chained = 1;
	sigaction(SIGCHLD, NULL, &spawn_old_chld);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = spawn_sigchld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

/* Return 1 while a child without a pidfd has not been reaped. */
int
spawn_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/*
 * Prepare for starting children: keep libpipeline from printing statuses;
 * wake_fd is written a byte when a child exits and there are no pidfds.
 */
void
spawn_init(int wake_fd)
{
	struct rlimit	 rl;

	spawn_parent = getpid();
	spawn_wake_fd = wake_fd;
	/* A limit set by hand ('ulimit -u'), not the kernel's default. */
	spawn_probe = geteuid() != 0 &&
	    getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < SPAWN_PROBE_NPROC;
	/* For valgrind, which lacks pidfd_open, and for testing the fallback. */
	if (getenv("PPOOL_NO_PIDFD") != NULL)
		spawn_no_pidfd = 1;
	if (getenv("PIPELINE_QUIET") == NULL) {
		setenv("PIPELINE_QUIET", "1", 1);
		spawn_quiet_set = 1;
	}
}

/*
 * Return 0 when n more descriptors can be opened now, or -1 with errno
 * (EMFILE, ENFILE).  libpipeline exits the whole program when it cannot
 * make the pipe between two stages: a pipeline starts only after this.
 */
int
spawn_reserve(int n)
{
	int	 some[64], *fds = some, i, got = 0, saved = 0;

	if (n > (int)(sizeof some / sizeof some[0]))
		fds = xcalloc(n, sizeof *fds);
	while (got < n) {
		if ((fds[got] = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)) == -1) {
			saved = errno;
			break;
		}
		got++;
	}
	for (i = 0; i < got; i++)
		close(fds[i]);
	if (fds != some)
		free(fds);
	if (saved == 0)
		return 0;
	errno = saved;
	return -1;
}

/*
 * Make a pipe for a child: both ends close on exec, and ppool's end (0:
 * ppool reads, 1: ppool writes) is non-blocking; the child's end stays
 * blocking, as ordinary programs expect.  Return 0, or -1 with errno.
 */
int
spawn_pipe(int fds[2], int ours)
{
	int	 saved;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	/* A new pipe's status flags are known: only O_NONBLOCK is added. */
	if (fcntl(fds[ours], F_SETFL, O_NONBLOCK) != -1)
		return 0;
	saved = errno;
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
	errno = saved;
	return -1;
}

/* How many times to yield while a pipeline's stages join one group. */
#define SPAWN_SPIN	1000000L

/*
 * Return 0 when a child process can be made now, or -1 with errno as fork
 * would set it.  The vfork child shares ppool's memory and only exits.
 */
static int
spawn_probe_fork(void)
{
	pid_t	 pid;
	int	 status;

	if ((pid = vfork()) == -1)
		return -1;
	if (pid == 0) {
		/* Its own copy of ppool's descriptors: valgrind counts them. */
		close_range(3, ~0U, 0);
		_exit(0);
	}
	/* libpipeline's handler may reap it first: ECHILD is fine. */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return 0;
}

/* What the child of one pipeline stage needs to know before exec. */
struct spawn_hook {
	pipeline	*p;
	int		 stage;
	int		 errfd;		/* becomes stderr, or -1 */
	const char	*file;		/* exec this ourselves, or NULL */
	char *const	*argv;		/* with this argv, argv[0] as given */
};

/*
 * In the child: run the program found for a command with its argv as the
 * task gave it, as xargs does (libpipeline would make argv[0] the file's
 * base name, and a program such as a virtualenv's python finds its home
 * through it).  When exec fails (a bad #! interpreter, an argument list
 * too long, a program gone since it was found), say why on the command's
 * stderr and exit 127 or 126, as a shell does, instead of libpipeline's
 * 255.  execvp runs a file without #! through /bin/sh, as xargs does.
 */
static void __attribute__((noreturn))
spawn_exec(const char *file, char *const *argv)
{
	int	 e;

	execvp(file, argv);
	e = errno;
	dprintf(STDERR_FILENO, "ppool: %s: cannot execute: %s\n", argv[0],
	    strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * In the child, just before exec: only fds 0, 1 and 2 stay open, signals
 * are as a fresh program expects them, all stages of a pipeline share one
 * process group led by the first (so ppool can end a task's descendants
 * too, and a Ctrl-C meant for ppool reaches only ppool), and the child dies
 * with ppool even when ppool is killed by SIGKILL.
 */
static void
spawn_child_setup(void *data)
{
	static const int	 stops[] = SIG_HANDLED;
	struct spawn_hook	*h = data;
	struct sigaction	 old;
	sigset_t		 none;
	pid_t			 pgid;
	long			 tries;
	size_t			 i;

	/*
	 * ppool's handlers must not run here (they write to its self-pipe);
	 * a stop signal ignored when ppool started stays ignored, as with
	 * xargs (nohup).  SIGPIPE and SIGXFSZ, which ppool ignores, are
	 * the task's to die of.
	 */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	for (i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		if (sigaction(stops[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			signal(stops[i], SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (spawn_quiet_set)
		unsetenv("PIPELINE_QUIET");
	if (h->stage == 0)
		setpgid(0, 0);
	else {
		/*
		 * Stage 0 may not have made its group yet; it cannot be gone,
		 * since ppool reaps nothing until every stage has joined.
		 */
		pgid = pipeline_get_pid(h->p, 0);
		for (tries = 0; setpgid(0, pgid) == -1 && errno == EPERM &&
		    tries < SPAWN_SPIN; tries++)
			sched_yield();
	}
	if (h->errfd != -1 && dup2(h->errfd, STDERR_FILENO) == -1)
		_exit(127);
	/* First, so that no exit below holds ppool's descriptors. */
	close_range(3, ~0U, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != spawn_parent)
		_exit(127);
	if (h->file != NULL)
		spawn_exec(h->file, h->argv);
}

/*
 * Start the commands of p with infd as the first one's stdin, outfd as the
 * last one's stdout (both are closed here, in the parent) and errfd, unless
 * -1, as every stage's stderr.  With job (a local command, checked), each
 * stage execs the file found for it with the task's own argv.  Fill pids
 * and pidfds, one per stage.  Return 0, or -1 with errno when no child
 * can be made now (infd and outfd are closed all the same) or a pidfd
 * could not be made, in which case the children are killed and reaped.
 */
int
spawn_start(pipeline *p, int infd, int outfd, int errfd,
    const struct job *job, pid_t *pids, int *pidfds)
{
	static const int	 stops[] = SIG_HANDLED;
	struct spawn_hook	*hooks;
	sigset_t		 chld, old;
	long			 tries;
	int			 i, n = pipeline_get_ncommands(p), saved = 0;

	/*
	 * The children read their hook's data right after fork, inside
	 * pipeline_start; libpipeline never frees it in ppool, so it is
	 * freed here once the children exist.
	 */
	/*
	 * libpipeline exits the whole program when fork fails.  Where a
	 * per-user process limit can bite, a vfork first turns that failure
	 * into one task's error instead.  It costs a process, so it is not
	 * paid where no such limit applies (root, or no small limit).
	 */
	if (spawn_probe && spawn_probe_fork() == -1) {
		/* The child's ends are closed here, as a start would. */
		saved = errno;
		if (infd != -1)
			close(infd);
		if (outfd != -1)
			close(outfd);
		errno = saved;
		return -1;
	}

	hooks = xcalloc(n, sizeof *hooks);
	for (i = 0; i < n; i++) {
		hooks[i].p = p;
		hooks[i].stage = i;
		hooks[i].errfd = errfd;
		if (job != NULL && (size_t)i < job->files.n) {
			hooks[i].file = job->files.v[i];
			hooks[i].argv = job->stages[i].v;
		}
		pipecmd_pre_exec(pipeline_get_command(p, i), spawn_child_setup,
		    NULL, &hooks[i]);
	}
	pipeline_want_in(p, infd);
	pipeline_want_out(p, outfd);

	/*
	 * libpipeline's SIGCHLD handler reaps any child that exits; with
	 * SIGCHLD blocked the children stay zombies until their pidfds exist.
	 * Without pidfds, spawn_sigchld is chained in front of it, after the
	 * first start has installed it.  ppool's own signals are blocked too:
	 * until spawn_child_setup resets them, a child would run ppool's
	 * handler and write into its self-pipe (timeout(1) signals the whole
	 * process group).
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (i = 0; i < (int)(sizeof stops / sizeof stops[0]); i++)
		sigaddset(&chld, stops[i]);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pipeline_start(p);
	if (spawn_no_pidfd)
		spawn_chain_sigchld();
	free(hooks);
	for (i = 0; i < n; i++) {
		pipecmd_pre_exec(pipeline_get_command(p, i), NULL, NULL, NULL);
		pids[i] = pipeline_get_pid(p, i);
		/*
		 * Stage 0's group is made here too, as a shell does for a job:
		 * the child may not have made it yet, and a signal to the
		 * group (a timeout's SIGTERM, without pidfds the only one)
		 * would find no group.  EACCES: it has exec'd, with its group.
		 */
		if (i == 0)
			(void)setpgid(pids[0], pids[0]);
		pidfds[i] = -1;
		if (spawn_no_pidfd)
			continue;
		pidfds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (pidfds[i] == -1 && errno == ENOSYS) {
			/* Linux before 5.3, or valgrind: fall back to SIGCHLD. */
			spawn_no_pidfd = 1;
			spawn_chain_sigchld();
			continue;
		}
		if (pidfds[i] == -1 && saved == 0)
			saved = errno;
	}
	/*
	 * Keep SIGCHLD blocked until every later stage has joined stage 0's
	 * group: a stage 0 reaped too soon takes its group with it, and a
	 * stage left outside would outlive a kill of the task.
	 */
	for (i = 1; i < n; i++) {
		for (tries = 0; getpgid(pids[i]) != pids[0] &&
		    tries < SPAWN_SPIN; tries++)
			sched_yield();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (saved == 0)
		return 0;
	for (i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		if (pidfds[i] != -1)
			close(pidfds[i]);
		pidfds[i] = -1;
	}
	spawn_wait(p);
	errno = saved;
	return -1;
}

/*
 * Send a signal to a child (through its pidfd, which cannot hit a recycled
 * pid) and to the rest of its process group.  Processes already gone are
 * no error.  As timeout(1) does, a SIGCONT follows, so that a stopped
 * process (one that read the terminal and got SIGTTIN) acts on it now
 * rather than at the SIGKILL.
 */
int
spawn_signal(int pidfd, pid_t pgid, int sig)
{
	int	 rc = 0;

	if (pidfd != -1 && syscall(SYS_pidfd_send_signal, pidfd, sig, NULL,
	    0) == -1 && errno != ESRCH)
		rc = -1;
	if (kill(-pgid, sig) == -1 && errno != ESRCH && errno != EPERM)
		rc = -1;
	if (sig != SIGKILL && sig != SIGCONT &&
	    spawn_signal(pidfd, pgid, SIGCONT) == -1)
		rc = -1;
	return rc;
}

/*
 * Wait for a pipeline whose processes have exited and return the wait
 * status of its last command.  libpipeline raises SIGINT or SIGQUIT in
 * ppool when a child died of one; that echo is swallowed here so that only
 * a signal really sent to ppool counts.
 */
int
spawn_wait(pipeline *p)
{
	sigset_t	 echo, old, pending;
	struct timespec	 zero = { 0, 0 };
	int		*statuses = NULL, n = 0, i, status, sig;

	sigemptyset(&echo);
	sigaddset(&echo, SIGINT);
	sigaddset(&echo, SIGQUIT);
	sigprocmask(SIG_BLOCK, &echo, &old);
	pipeline_wait_all(p, &statuses, &n);
	status = n > 0 ? statuses[n - 1] : 0;
	/* Any stage's death raises it, not only the last one's. */
	for (i = 0; i < n; i++) {
		if (!WIFSIGNALED(statuses[i]))
			continue;
		sig = WTERMSIG(statuses[i]);
		if ((sig == SIGINT || sig == SIGQUIT) &&
		    sigpending(&pending) == 0 && sigismember(&pending, sig)) {
			sigemptyset(&echo);
			sigaddset(&echo, sig);
			sigtimedwait(&echo, NULL, &zero);
		}
	}
	free(statuses);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

/* Whether a wait status says the command cannot run at all (127, 126). */
int
spawn_not_found(int status)
{
	return WIFEXITED(status) && (WEXITSTATUS(status) == 127 ||
	    WEXITSTATUS(status) == 126);
}

/*
 * Name a signal as "SIGKILL"; a real-time one as bash's kill -l does:
 * "SIGRTMIN", "SIGRTMIN+n" in the lower half, "SIGRTMAX-n" above,
 * "SIGRTMAX".
 */
void
spawn_signame(int sig, char *out, size_t size)
{
	const char	*name = sigabbrev_np(sig);

	if (name != NULL)
		snprintf(out, size, "SIG%s", name);
	else if (sig == SIGRTMIN)
		snprintf(out, size, "SIGRTMIN");
	else if (sig == SIGRTMAX)
		snprintf(out, size, "SIGRTMAX");
	else if (sig > SIGRTMIN && sig - SIGRTMIN <=
	    (SIGRTMAX - SIGRTMIN) / 2)
		snprintf(out, size, "SIGRTMIN+%d", sig - SIGRTMIN);
	else if (sig > SIGRTMIN && sig < SIGRTMAX)
		snprintf(out, size, "SIGRTMAX-%d", SIGRTMAX - sig);
	else
		snprintf(out, size, "SIG%d", sig);
}

/* Describe a wait status: "exited with status 1", "killed by SIGKILL". */
void
spawn_describe(int status, char *out, size_t size)
{
	char	 name[SIGNAME_MAX];

	if (WIFEXITED(status)) {
		snprintf(out, size, "exited with status %d",
		    WEXITSTATUS(status));
		return;
	}
	if (WIFSIGNALED(status)) {
		spawn_signame(WTERMSIG(status), name, sizeof name);
		snprintf(out, size, "killed by %s", name);
		return;
	}
	snprintf(out, size, "ended with wait status %d", status);
}
