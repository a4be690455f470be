/* host.c: the machines tasks run on (-S), their ssh command lines, and which are usable. */

#include "config.h"

#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/*
 * What runs first on a remote host, under /bin/sh, with the command to run
 * as $1 and --kill-after as $2.  sshd does not signal a tty-less session's
 * processes when the connection closes: it exits and leaves them running;
 * and while a background child holds the session's stdout, the session
 * does not end when the command does.  So a watchdog waits for the sshd
 * process (the shell's parent) or the command (which takes the shell's
 * pid) to go, then ends the session's process group, which sshd made for
 * it, as ppool does here: what a finished command left behind is killed
 * at once; a command still running when its connection went gets SIGTERM,
 * then SIGKILL --kill-after seconds later.  The greeting tells ppool that
 * ssh got through, before the command runs.
 */
#define HOST_WRAPPER							\
	"p=$PPID; "							\
	"(trap '' TERM; while kill -0 $p && kill -0 $$; do sleep 1; done; " \
	"if kill -0 $$; then kill -TERM 0; sleep $2; fi; kill -KILL 0) "	\
	"</dev/null >/dev/null 2>&1 & " HOST_STEP

/*
 * What runs first in a job step, and last in the wrapper: the greeting,
 * then the command ($1).  A step needs no watchdog: Slurm ends every
 * process of a step when the step ends, and a step ends with srun, which
 * dies with ppool.
 */
#define HOST_STEP	"echo " HOST_HELLO "; exec /bin/sh -c \"$1\""

/* What srun writes when the node or its step failed, not the command. */
static const char *const host_srun_failures[] = {
	"Node failure",
	"io error with slurmstepd",
	"Unable to create step",
	"Unable to launch step",
	"step creation",
	"Nodes required for job are DOWN",
	"launch failed",
};

static struct {
	struct host	*v;
	size_t		 n;
	unsigned long	 slots;		/* of the hosts not retired */
	struct argv	 ssh;		/* --ssh-command words */
	int		 have_ssh;
	int		 slurm;		/* --slurm: the hosts are nodes */
} hosts;

/* Say what is wrong into err and return -1. */
static int __attribute__((format(printf, 3, 4)))
host_error(char *err, size_t size, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* Add one host, written [N/]login or ':' (n bytes at p). */
static int
host_add(const char *p, size_t n, char *err, size_t size)
{
	struct host	*h;
	const char	*slash;
	unsigned long	 slots = 0;
	char		*end;

	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r'))
		n--;
	if (n == 0)
		return host_error(err, size, "an empty host name");
	if ((slash = memchr(p, '/', n)) != NULL) {
		errno = 0;
		slots = strtoul(p, &end, 10);
		if (end != slash || p[0] < '0' || p[0] > '9' || slots == 0 ||
		    slots > JOBS_MAX || errno != 0)
			return host_error(err, size, "'%.*s': the slots before "
			    "'/' must be a number from 1 to %d", (int)n, p,
			    JOBS_MAX);
		n -= slash + 1 - p;
		p = slash + 1;
		if (n == 0)
			return host_error(err, size, "'%lu/': a host name must "
			    "follow the slots", slots);
	}
	if (memchr(p, ' ', n) != NULL || memchr(p, '\t', n) != NULL ||
	    p[0] == '-')
		return host_error(err, size, "'%.*s' is not a host name (ssh "
		    "options go in --ssh-command)", (int)n, p);
	hosts.v = xreallocarray(hosts.v, hosts.n + 1, sizeof *hosts.v);
	h = &hosts.v[hosts.n++];
	memset(h, 0, sizeof *h);
	h->name = xmalloc(n + 1);
	memcpy(h->name, p, n);
	h->name[n] = '\0';
	h->slots = slots;
	h->local = strcmp(h->name, ":") == 0;
	return 0;
}

/* Add the hosts of a comma-separated list (-S).  Return 0, or -1 and err. */
int
host_add_list(const char *list, char *err, size_t size)
{
	const char	*comma;

	for (;;) {
		comma = strchr(list, ',');
		if (host_add(list, comma != NULL ? (size_t)(comma - list) :
		    strlen(list), err, size) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		list = comma + 1;
	}
}

/*
 * Add the hosts of a file, one a line; blank lines and lines starting with
 * '#' are skipped.  Return 0, or -1 and err.
 */
int
host_add_file(const char *path, char *err, size_t size)
{
	FILE	*f;
	char	*line = NULL, *p;
	size_t	 cap = 0, before = hosts.n;
	ssize_t	 n;
	int	 rc = 0;

	if ((f = fopen(path, "re")) == NULL)
		return host_error(err, size, "--ssh-file %s: %s", path,
		    strerror(errno));
	while (rc == 0 && (n = getline(&line, &cap, f)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#' || *p == '\r')
			continue;
		rc = host_add(p, strlen(p), err, size);
	}
	free(line);
	fclose(f);
	if (rc == 0 && hosts.n == before)
		return host_error(err, size, "--ssh-file %s names no host",
		    path);
	return rc;
}

/*
 * Split CMD into words as a POSIX shell would: blanks separate words,
 * single quotes keep everything, double quotes keep all but \\ \" \$ \`,
 * a backslash outside quotes keeps the next character.  No expansion.
 * Return 0, or -1 and err.
 */
int
host_set_command(const char *cmd, char *err, size_t size)
{
	struct buf	 word;
	const char	*p = cmd;
	int		 inword = 0;
	char		 q;

	argv_free(&hosts.ssh);
	argv_init(&hosts.ssh);
	buf_init(&word);
	buf_reserve(&word, 64);
	for (;;) {
		if (*p == '\0' || *p == ' ' || *p == '\t' || *p == '\n') {
			if (inword)
				argv_add(&hosts.ssh, xstrdup(word.data));
			buf_reset(&word);
			inword = 0;
			if (*p++ == '\0')
				break;
			continue;
		}
		inword = 1;
		if (*p == '\\') {
			if (p[1] != '\0' && p[1] != '\n')
				buf_addc(&word, p[1]);
			p += p[1] != '\0' ? 2 : 1;
			continue;
		}
		if (*p != '\'' && *p != '"') {
			buf_addc(&word, *p++);
			continue;
		}
		q = *p++;
		while (*p != q) {
			if (*p == '\0') {
				buf_free(&word);
				return host_error(err, size, "--ssh-command: "
				    "unterminated %s quote in '%s'", q == '"' ?
				    "double" : "single", cmd);
			}
			if (q == '"' && *p == '\\' && strchr("\\\"$`",
			    p[1]) != NULL && p[1] != '\0')
				p++;
			buf_addc(&word, *p++);
		}
		p++;
	}
	buf_free(&word);
	if (hosts.ssh.n == 0)
		return host_error(err, size, "--ssh-command wants a command, "
		    "not '%s'", cmd);
	hosts.have_ssh = 1;
	return 0;
}

/*
 * The slots SLURM_TASKS_PER_NODE gives node i: the list is counts, each
 * maybe repeated, "2(x3),1" being 2, 2, 2, 1.  Return 0 when it has none.
 */
static unsigned long
host_slurm_slots(const char *list, size_t i)
{
	unsigned long	 count, times;
	char		*end;

	while (list != NULL && *list != '\0') {
		count = strtoul(list, &end, 10);
		times = 1;
		if (strncmp(end, "(x", 2) == 0)
			times = strtoul(end + 2, &end, 10), end++;
		if (end == list || (*end != ',' && *end != '\0'))
			return 0;
		if (i < times)
			return count;
		i -= times;
		list = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/*
 * --slurm: the nodes of the allocation ppool runs in.  Slurm's own
 * `scontrol show hostnames` expands the node list ("n[1-3,7],gpu01"): it is
 * there wherever srun is, and its syntax is Slurm's to define; linking
 * libslurm for it would tie ppool's build to one Slurm version.  Each node
 * gets the slots SLURM_TASKS_PER_NODE gives it, or jobs when jobs is not 0
 * (-j given).  Return 0, or -1 and err.
 */
int
host_add_slurm(unsigned jobs, char *err, size_t size)
{
	const char	*list, *tasks, *line;
	pipeline	*p;
	size_t		 before = hosts.n;
	unsigned long	 slots;
	int		 status;

	if (getenv("SLURM_JOB_ID") == NULL)
		return host_error(err, size, "--slurm runs inside a Slurm "
		    "allocation, and SLURM_JOB_ID is not set: run ppool under "
		    "salloc (salloc -N2 ppool --slurm ...) or in an sbatch "
		    "script");
	if ((list = getenv("SLURM_JOB_NODELIST")) == NULL &&
	    (list = getenv("SLURM_NODELIST")) == NULL)
		return host_error(err, size, "--slurm: SLURM_JOB_ID is set but "
		    "SLURM_JOB_NODELIST is not: which nodes are allocated?");
	tasks = getenv("SLURM_TASKS_PER_NODE");
	p = pipeline_new_command_args("scontrol", "show", "hostnames", list,
	    (void *)NULL);
	pipeline_want_out(p, -1);
	pipeline_start(p);
	while ((line = pipeline_readline(p)) != NULL) {
		size_t	 n = strcspn(line, "\r\n");

		if (n == 0)
			continue;
		if (host_add(line, n, err, size) == -1) {
			pipeline_wait(p);
			pipeline_free(p);
			return -1;
		}
		slots = host_slurm_slots(tasks, hosts.n - before - 1);
		hosts.v[hosts.n - 1].slots = jobs != 0 ? jobs :
		    slots > JOBS_MAX ? JOBS_MAX : slots;
		hosts.v[hosts.n - 1].slurm = 1;
	}
	status = pipeline_wait(p);
	pipeline_free(p);
	if (status != 0 || hosts.n == before)
		return host_error(err, size, "--slurm: `scontrol show hostnames "
		    "%s` failed (status %d): is Slurm's scontrol on PATH?",
		    list, status);
	hosts.slurm = 1;
	return 0;
}

/*
 * After the command line: hosts without a slot count get -j; without -S
 * there is one host, this machine, with -j slots.  Return whether -S was
 * given.
 */
int
host_finish(unsigned jobs)
{
	size_t	 i;
	int	 given = hosts.n > 0;

	if (!given)
		host_add(":", 1, NULL, 0);
	for (i = 0; i < hosts.n; i++) {
		if (hosts.v[i].slots == 0)
			hosts.v[i].slots = jobs;
		hosts.slots += hosts.v[i].slots;
	}
	if (!hosts.have_ssh)
		host_set_command("ssh", NULL, 0);
	return given;
}

/* The slots of the hosts not retired. */
unsigned long
host_slots(void)
{
	return hosts.slots;
}

/*
 * The host with the most free slots, or NULL when every slot of every host
 * still in use is taken.
 */
struct host *
host_pick(void)
{
	struct host	*h, *best = NULL;
	size_t		 i;
	long		 room, most = 0;

	for (i = 0; i < hosts.n; i++) {
		h = &hosts.v[i];
		room = (long)h->slots - (long)h->busy;
		if (!h->retired && room > most) {
			best = h;
			most = room;
		}
	}
	return best;
}

/* A worker or command takes one of h's slots, until host_give. */
void
host_take(struct host *h)
{
	h->busy++;
}

/* A worker or command gives its slot of h back. */
void
host_give(struct host *h)
{
	h->busy--;
}

/*
 * Retire a host for the reason given, once, saying so.  Return how many
 * hosts are left: with none, the run must stop.
 */
size_t
host_retire(struct host *h, const char *why)
{
	size_t	 i, left = 0;
	int	 was = h->retired;

	h->retired = 1;
	for (i = 0; i < hosts.n; i++)
		left += !hosts.v[i].retired;
	if (was)
		return left;
	hosts.slots -= h->slots;
	warnx("host %s: %s; retiring it: no more tasks go there (%zu host%s "
	    "left)", h->name, why, left, left == 1 ? "" : "s");
	if (left == 0)
		warnx("no host left to run tasks on: every %s was retired; "
		    "stopping", hosts.slurm ? "node of the allocation" :
		    "host given to -S");
	return left;
}

/* Append a word quoted for a POSIX shell: '...', with ' as '\''. */
void
host_quote(struct buf *b, const char *s)
{
	const char	*q;

	buf_addc(b, '\'');
	while ((q = strchr(s, '\'')) != NULL) {
		buf_add(b, s, q - s);
		buf_add(b, "'\\''", 4);
		s = q + 1;
	}
	buf_addstr(b, s);
	buf_addc(b, '\'');
}

/* Append env(1) with the job's variables and a space, if it has any. */
static void
host_env_words(struct buf *b, const struct job *job)
{
	size_t	 i;

	if (job->env_names.n == 0)
		return;
	/* env(1), not export: a variable's name need not suit the shell. */
	buf_addstr(b, "env");
	for (i = 0; i < job->env_names.n; i++) {
		/* 'NAME'='VALUE' is one word to the shell: NAME=VALUE. */
		buf_addc(b, ' ');
		host_quote(b, job->env_names.v[i]);
		buf_addc(b, '=');
		host_quote(b, job->env_values.v[i]);
	}
	buf_addc(b, ' ');
}

/*
 * Append shell text that runs a command-mode job as it would run here:
 * its environment set, in its directory, its stages piped.  A program
 * gets its variables from env(1) directly: a shell between them would drop
 * those whose names are no shell names, as one does here.
 */
void
host_job_text(struct buf *b, const struct job *job)
{
	struct buf	 rest;
	size_t		 i, k;

	buf_init(&rest);
	buf_reserve(&rest, 256);
	if (job->cwd != NULL) {
		buf_addstr(&rest, "cd ");
		host_quote(&rest, job->cwd);
		buf_addstr(&rest, " || exit 1\n");
	}
	if (job->kind == JOB_SHELL) {
		/* The "cmd" text, as sh -c is given it here. */
		buf_addstr(&rest, job->stages[0].v[2]);
		if (job->env_names.n == 0) {
			buf_addstr(b, rest.data);
		} else {
			buf_addstr(b, "exec ");
			host_env_words(b, job);
			buf_addstr(b, "/bin/sh -c ");
			host_quote(b, rest.data);
		}
		buf_free(&rest);
		return;
	}
	if (job->nstages == 1)
		buf_addstr(&rest, "exec ");
	for (i = 0; i < job->nstages; i++) {
		if (i > 0)
			buf_addstr(&rest, " | ");
		host_env_words(&rest, job);
		for (k = 0; k < job->stages[i].n; k++) {
			if (k > 0)
				buf_addc(&rest, ' ');
			host_quote(&rest, job->stages[i].v[k]);
		}
	}
	buf_addstr(b, rest.data);
	buf_free(&rest);
}

/*
 * Make the pipeline that runs shell text on a host: /bin/sh -c TEXT here,
 * or through ssh under the wrapper there.
 */
pipeline *
host_pipeline(const struct host *h, const char *text, double kill_after)
{
	pipeline	*p = pipeline_new();
	pipecmd		*cmd;
	struct buf	 remote;
	size_t		 i;
	char		 secs[32];

	if (h->local) {
		pipeline_command(p, pipecmd_new_args("/bin/sh", "-c", text,
		    (void *)NULL));
		return p;
	}
	if (h->slurm) {
		/*
		 * One task on one node, whatever the allocation's SLURM_NTASKS
		 * says; --overlap shares the allocation's CPUs with the other
		 * steps instead of waiting for them.
		 */
		pipeline_command(p, pipecmd_new_args("srun", "--overlap",
		    "-N1", "-n1", "-w", h->name, "--quiet", "--", "/bin/sh",
		    "-c", HOST_STEP, "ppool-srun", text, (void *)NULL));
		return p;
	}
	buf_init(&remote);
	buf_addstr(&remote, "exec /bin/sh -c ");
	host_quote(&remote, HOST_WRAPPER);
	buf_addstr(&remote, " ppool-ssh ");
	host_quote(&remote, text);
	snprintf(secs, sizeof secs, " %g", kill_after);
	buf_addstr(&remote, secs);

	cmd = pipecmd_new(hosts.ssh.v[0]);
	for (i = 1; i < hosts.ssh.n; i++)
		pipecmd_arg(cmd, hosts.ssh.v[i]);
	/* No tty (it would mangle the bytes), and no prompt to hang on. */
	pipecmd_args(cmd, "-T", "-o", "BatchMode=yes", h->name, "--",
	    remote.data, (void *)NULL);
	pipeline_command(p, cmd);
	buf_free(&remote);
	return p;
}

/*
 * Take the greeting of a remote host from the start of b once it is all
 * there.  Return 1 when it was taken, 0 while more is needed, -1 when b
 * starts with something else (a login script that prints?), which why
 * then quotes.
 */
static int
host_hello(struct buf *b, char *why, size_t size)
{
	size_t	 n = sizeof HOST_HELLO;		/* with its newline */
	size_t	 used = buf_used(b);

	if (used == 0)
		return 0;
	if (memcmp(buf_head(b), HOST_HELLO "\n", used < n ? used : n) == 0) {
		if (used < n)
			return 0;
		buf_consume(b, n);
		return 1;
	}
	for (n = 0; n < used && n < 40 && buf_head(b)[n] != '\n'; n++)
		;
	snprintf(why, size, "the remote shell wrote '%.*s' to stdout before "
	    "running ppool's wrapper (a login script that prints?)", (int)n,
	    buf_head(b));
	return -1;
}

/* Tie a child to the host it runs on: a local one needs no greeting. */
void
host_link(struct hostlink *l, struct host *h)
{
	l->host = h;
	l->ready = h->local;
	l->bad = 0;
}

/*
 * A remote child's stdout starts with the wrapper's greeting: take it from
 * b.  Return HOST_READY once it is taken (at once for a local child),
 * HOST_WAIT while it is incomplete (or after it went bad), HOST_BAD when
 * the host wrote something else first, which why then quotes: the child
 * must be stopped, and its host is not to be trusted with tasks.
 */
enum host_greeting
host_greet(struct hostlink *l, struct buf *b, char *why, size_t size)
{
	if (l->ready)
		return HOST_READY;
	if (l->bad)
		return HOST_WAIT;
	switch (host_hello(b, why, size)) {
	case 1:
		l->ready = 1;
		return HOST_READY;
	case -1:
		l->bad = 1;
		return HOST_BAD;
	default:
		return HOST_WAIT;
	}
}

/* Free the hosts. */
void
host_free(void)
{
	size_t	 i;

	for (i = 0; i < hosts.n; i++)
		free(hosts.v[i].name);
	free(hosts.v);
	hosts.v = NULL;
	hosts.n = 0;
	argv_free(&hosts.ssh);
}

/*
 * Whether srun's messages in t (its lines start "srun: ") say the node or
 * its step failed: put the line in why.
 */
static int
host_srun_failed(const struct buf *t, char *why, size_t size)
{
	const char	*p, *end, *nl;
	size_t		 i, n;

	if (t == NULL)
		return 0;
	end = buf_head(t) + buf_used(t);
	for (p = buf_head(t); p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (n < 6 || memcmp(p, "srun: ", 6) != 0)
			continue;
		for (i = 0; i < sizeof host_srun_failures /
		    sizeof host_srun_failures[0]; i++) {
			if (memmem(p, n, host_srun_failures[i],
			    strlen(host_srun_failures[i])) != NULL) {
				snprintf(why, size, "%.*s", (int)n, p);
				return 1;
			}
		}
	}
	return 0;
}

/*
 * Decide whether a child that ran on its host ended because of the host
 * rather than its command: the host wrote something else than the
 * greeting; or, unless ppool signalled the child, ssh or srun ended before
 * the greeting (it could not connect, log in, start a shell or a step);
 * srun's messages (errtext, what the child wrote on stderr, or NULL) say
 * the node or its step failed; or, for a long-lived child (a worker, a
 * channel: lasting is its job), ssh exited with 255, its status for a lost
 * connection.  Fill why and return 1 if so (why is left alone for a bad
 * greeting, which said it already).  A command's own exit status 255 is
 * its result, as with ssh itself.
 */
int
host_lost(const struct hostlink *l, int signalled, int lasting, int status,
    const struct buf *errtext, char *why, size_t size)
{
	char	 how[96];

	if (l->bad)
		return 1;
	if (l->host->local || signalled)
		return 0;
	if (!l->ready) {
		spawn_describe(status, how, sizeof how);
		snprintf(why, size, "%s %s before the remote shell answered",
		    l->host->slurm ? "srun" : "ssh", how);
		return 1;
	}
	if (l->host->slurm)
		return host_srun_failed(errtext, why, size);
	if (lasting && WIFEXITED(status) && WEXITSTATUS(status) == 255) {
		snprintf(why, size, "ssh exited with status 255 while the "
		    "%s ran (connection lost?)", lasting == 1 ? "worker" :
		    "task");
		return 1;
	}
	return 0;
}
