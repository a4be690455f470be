/* main.c: the command line, the help text and the exit status. */

#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Long options without a short form. */
enum {
	OPT_BLOCK = 256,
	OPT_CSV,
	OPT_DELAY,
	OPT_DRY_RUN,
	OPT_ENVELOPE,
	OPT_HALT,
	OPT_HEADER,
	OPT_INFLIGHT,
	OPT_JOBLOG,
	OPT_KILL_AFTER,
	OPT_LINE_BUFFER,
	OPT_LINK,
	OPT_LOAD,
	OPT_MAX_LINE,
	OPT_MAX_OUTPUT,
	OPT_MEMFREE,
	OPT_PIPE,
	OPT_PIPEPART,
	OPT_PROGRESS,
	OPT_RECEND,
	OPT_RECSTART,
	OPT_RESULTS,
	OPT_RESUME,
	OPT_RESUME_FAILED,
	OPT_RETRIES,
	OPT_ROUND_ROBIN,
	OPT_SSH_COMMAND,
	OPT_SLURM,
	OPT_SSH_FILE,
	OPT_TAG,
	OPT_WINDOW
};

/* One alphabetical table; usage() and the man page follow it. */
static const struct option longopts[] = {
	{ "block",	required_argument,	NULL,	OPT_BLOCK },
	{ "colsep",	required_argument,	NULL,	'C' },
	{ "csv",	no_argument,		NULL,	OPT_CSV },
	{ "delay",	required_argument,	NULL,	OPT_DELAY },
	{ "dry-run",	no_argument,		NULL,	OPT_DRY_RUN },
	{ "envelope",	no_argument,		NULL,	OPT_ENVELOPE },
	{ "halt",	required_argument,	NULL,	OPT_HALT },
	{ "header",	required_argument,	NULL,	OPT_HEADER },
	{ "help",	no_argument,		NULL,	'h' },
	{ "inflight",	required_argument,	NULL,	OPT_INFLIGHT },
	{ "input",	required_argument,	NULL,	'a' },
	{ "joblog",	required_argument,	NULL,	OPT_JOBLOG },
	{ "jobs",	required_argument,	NULL,	'j' },
	{ "kill-after",	required_argument,	NULL,	OPT_KILL_AFTER },
	{ "line-buffer", no_argument,		NULL,	OPT_LINE_BUFFER },
	{ "lines",	no_argument,		NULL,	'L' },
	{ "link",	no_argument,		NULL,	OPT_LINK },
	{ "load",	required_argument,	NULL,	OPT_LOAD },
	{ "max-args",	required_argument,	NULL,	'n' },
	{ "max-line",	required_argument,	NULL,	OPT_MAX_LINE },
	{ "max-output",	required_argument,	NULL,	OPT_MAX_OUTPUT },
	{ "max-reqs",	required_argument,	NULL,	'r' },
	{ "memfree",	required_argument,	NULL,	OPT_MEMFREE },
	{ "null",	no_argument,		NULL,	'0' },
	{ "output",	required_argument,	NULL,	'o' },
	{ "pipe",	no_argument,		NULL,	OPT_PIPE },
	{ "pipepart",	no_argument,		NULL,	OPT_PIPEPART },
	{ "progress",	no_argument,		NULL,	OPT_PROGRESS },
	{ "recend",	required_argument,	NULL,	OPT_RECEND },
	{ "recstart",	required_argument,	NULL,	OPT_RECSTART },
	{ "resume",	no_argument,		NULL,	OPT_RESUME },
	{ "results",	required_argument,	NULL,	OPT_RESULTS },
	{ "resume-failed", no_argument,		NULL,	OPT_RESUME_FAILED },
	{ "retries",	required_argument,	NULL,	OPT_RETRIES },
	{ "round-robin", no_argument,		NULL,	OPT_ROUND_ROBIN },
	{ "ssh",	required_argument,	NULL,	'S' },
	{ "ssh-command", required_argument,	NULL,	OPT_SSH_COMMAND },
	{ "slurm",	no_argument,		NULL,	OPT_SLURM },
	{ "ssh-file",	required_argument,	NULL,	OPT_SSH_FILE },
	{ "tag",	no_argument,		NULL,	OPT_TAG },
	{ "timeout",	required_argument,	NULL,	't' },
	{ "unordered",	no_argument,		NULL,	'u' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ "window",	required_argument,	NULL,	OPT_WINDOW },
	{ "worker",	required_argument,	NULL,	'w' },
	{ NULL,		0,			NULL,	0 }
};

/* Print the help text, which mirrors the man page's synopsis. */
static void
usage(FILE *f)
{
	fputs(
"usage: ppool [-0Luv] [-a file] [-C regex] [-j jobs] [-o format] [-r max-reqs]\n"
"             [-S hosts] [-t secs] [--csv] [--delay secs] [--envelope]\n"
"             [--halt when] [--header :] [--inflight K] [--joblog file]\n"
"             [--kill-after secs] [--line-buffer] [--link] [--load N]\n"
"             [--max-line bytes] [--memfree size] [--progress]\n"
"             [--resume | --resume-failed] [--retries N] [--slurm]\n"
"             [--ssh-command cmd] [--ssh-file file] [--tag] [--window N]\n"
"             -w worker-command [::: arg ... | :::: file ...]\n"
"       ppool [-0LuvX] [-a file] [-C regex] [-j jobs] [-n N] [-o format]\n"
"             [-S hosts] [-t secs] [--block size] [--csv] [--delay secs]\n"
"             [--dry-run] [--halt when] [--header :] [--joblog file]\n"
"             [--kill-after secs] [--line-buffer] [--link] [--load N]\n"
"             [--max-line bytes] [--max-output bytes] [--memfree size]\n"
"             [--pipe | --pipepart] [--progress] [--recend str]\n"
"             [--recstart str] [--results dir] [--resume | --resume-failed]\n"
"             [--retries N] [--round-robin] [--slurm] [--ssh-command cmd]\n"
"             [--ssh-file file] [--tag] [--window N]\n"
"             [--] [command [arg ...]] [::: arg ... | :::: file ...]\n"
"       ppool -h | -V\n"
"\n"
"Run JSON-lines tasks from stdin through a pool of persistent workers (-w),\n"
"or one process per task (command mode), and print one result per task,\n"
"in input order.  Tasks may come from the command line instead: ::: A B\n"
"(values), :::: FILE (a value a line); :::+ and ::::+ pair a source with\n"
"the one before; several sources give every combination.\n"
"\n"
"  -a, --input=FILE       read tasks from FILE instead of stdin\n"
"  -0, --null             plain-text tasks separated by NUL bytes\n"
"  -C, --colsep=REGEX     split each plain-text task into columns {1} {2}...\n"
"                         (a POSIX extended regex; implies -L unless -0)\n"
"  -L, --lines            plain-text tasks, one per line (no JSON parsing)\n"
"  -h, --help             print this help and exit\n"
"  -j, --jobs=N           at most N processes at once (default: online CPUs);\n"
"                         -P N is the same\n"
"  -n, --max-args=N       give each command up to N tasks' arguments; -N N is\n"
"                         the same\n"
"  -o, --output=FORMAT    json (one record per task, default) or raw\n"
"  -r, --max-reqs=N       retire a worker after N tasks (default 0: never)\n"
"  -S, --ssh=HOSTS        run on these hosts through ssh: [N/]host,... (N\n"
"                         slots there, default -j; ':' is this machine)\n"
"  -t, --timeout=SECS     fail a task after SECS seconds, ending its process\n"
"  -u, --unordered        print records in completion order\n"
"  -v, --verbose          a summary line on stderr at exit\n"
"  -V, --version          print the version and exit\n"
"  -w, --worker=CMD       persistent workers running CMD under /bin/sh -c\n"
"  -X                     give each command as many arguments as fit in one\n"
"                         command line (as xargs)\n"
"      --block=SIZE       with --pipe: blocks of about SIZE bytes (default 1M)\n"
"      --csv              read the input as CSV (RFC 4180): a row is a task,\n"
"                         its fields {1} {2}...\n"
"      --delay=SECS       at least SECS between two starts\n"
"      --dry-run          command mode: print each task's command, run nothing\n"
"      --envelope         replies are {\"result\": V} or {\"error\": V}\n"
"      --halt=WHEN        never (default), soon,fail=N or now,fail=N (or P%)\n"
"      --header=:         the first row (or each source's first value) names\n"
"                         the columns: {name}\n"
"      --inflight=K       up to K tasks queued in one worker (default 1)\n"
"      --joblog=FILE      a tab-separated line per finished task\n"
"      --kill-after=SECS  SIGKILL this long after SIGTERM (default 2)\n"
"      --line-buffer      -o raw: print each output line as soon as it is read\n"
"      --link             pair the ::: sources (shorter ones start over)\n"
"                         instead of combining them\n"
"      --load=N           start nothing while the 1-minute load average >= N\n"
"      --max-line=BYTES   longest task or reply line (default 64M)\n"
"      --max-output=BYTES command mode: stdout and stderr kept per task\n"
"                         (default 64M)\n"
"      --memfree=SIZE     start nothing while MemAvailable < SIZE; kill the\n"
"                         youngest task (and queue it again) under SIZE/2\n"
"      --pipe             command mode: stdin is one stream, cut into blocks\n"
"                         of whole records, each the stdin of one command\n"
"      --pipepart         --pipe for a regular file (-a FILE), cut by seeking\n"
"      --progress         a live progress line on stderr (a terminal)\n"
"      --recend=STR       with --pipe: a record ends with STR (default \\n)\n"
"      --recstart=STR     with --pipe: a record starts with STR (default none)\n"
"      --results=DIR      command mode: stdout, stderr and record of each task\n"
"                         in DIR/SEQ/\n"
"      --resume           with --joblog: skip tasks it records as finished\n"
"      --resume-failed    with --joblog: skip tasks it records as succeeded\n"
"      --retries=N        run a failed task up to N more times (default 0)\n"
"      --round-robin      with --pipe: -j long-lived commands share the blocks\n"
"      --slurm            inside a Slurm allocation: run on its nodes, one job\n"
"                         step per worker or command slot (srun)\n"
"      --ssh-command=CMD  run CMD instead of ssh (split like a shell would)\n"
"      --ssh-file=FILE    the hosts of -S, one a line\n"
"      --tag              -o raw: prefix each output line with the task's\n"
"                         arguments and a tab\n"
"      --window=N         at most N tasks read but not printed (default 1024)\n"
"\n"
"Command mode: with COMMAND, each task gives its arguments ({} {1} {.} {/}\n"
"{//} {/.} as in GNU parallel, else appended); without, each task is an\n"
"object with \"cmd\" or \"pipeline\" (-L, -0: each task is a shell command).\n"
"Sizes (BYTES, SIZE) take K, M, G, T (powers of 1024) or k, m, g, t (of 1000).\n"
"Worker protocol: ppool writes each task as one line to a worker's stdin;\n"
"the worker writes exactly one line per task to its stdout, in order.\n"
"Exit status: 0 all tasks ok, 1-100 that many failed, 101 more than 100,\n"
"128+N stopped by signal N, 255 usage or fatal error.\n"
"See ppool(1).\n", f);
}

/* Say what is wrong with the command line and exit. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("ppool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ppool --help' for more information.\n", stderr);
	exit(EXIT_FATAL);
}

/* The text of the size suffixes, for messages. */
#define SIZE_SUFFIXES	" (K, M, G, T after it for powers of 1024; k, m, g, t " \
			"for powers of 1000)"

/*
 * Parse a whole number from min to max for option name; when suffix is
 * set, a size with an optional K, M, G or T (powers of 1024) or k, m, g
 * or t (powers of 1000), as GNU parallel reads sizes.
 */
static unsigned long long
parse_number(const char *name, const char *arg, unsigned long long min,
    unsigned long long max, int suffix)
{
	static const char	 units[] = "kmgt";
	unsigned long long	 v, mult = 1;
	const char		*u;
	char			*end;
	int			 i;

	errno = 0;
	if (arg[0] < '0' || arg[0] > '9')
		usage_error("%s wants a whole number%s, not '%s'", name,
		    suffix ? SIZE_SUFFIXES : "", arg);
	v = strtoull(arg, &end, 10);
	if (suffix && *end != '\0' && end[1] == '\0' &&
	    (u = strchr(units, *end | 0x20)) != NULL) {
		for (i = 0; i <= u - units; i++)
			mult *= (*end >= 'a') ? 1000 : 1024;
		end++;
	}
	if (*end != '\0')
		usage_error("%s wants a whole number%s, not '%s'", name,
		    suffix ? SIZE_SUFFIXES : "", arg);
	if (errno == ERANGE || v > max / mult || v * mult < min || v * mult > max)
		usage_error("%s must be from %llu to %llu, not '%s'", name, min,
		    max, arg);
	return v * mult;
}

/*
 * Read a decimal number above 0 into *v: digits with at most one decimal
 * point, no sign, blank, exponent or hexadecimal.  Return -1 when arg is
 * not one.
 */
static int
parse_decimal(const char *arg, double *v)
{
	const char	*dot = strchr(arg, '.');
	char		*end;

	errno = 0;
	*v = strtod(arg, &end);
	if (arg[strspn(arg, "0123456789.")] != '\0' ||
	    (dot != NULL && strchr(dot + 1, '.') != NULL) ||
	    end == arg || *end != '\0' || !(*v > 0) ||
	    (errno == ERANGE && *v < 1))
		return -1;
	return 0;
}

/* Parse a number of seconds above 0 for option name. */
static double
parse_seconds(const char *name, const char *arg)
{
	double	 v;

	if (parse_decimal(arg, &v) == -1)
		usage_error("%s wants a number of seconds above 0, not '%s'",
		    name, arg);
	if (v > SECONDS_MAX)
		usage_error("%s wants at most 1000000000 seconds (31 years), "
		    "not '%s'", name, arg);
	return v;
}

/* Parse --load: a load average above 0. */
static double
parse_load(const char *arg)
{
	double	 v;

	if (parse_decimal(arg, &v) == -1 || v > 1e6)
		usage_error("--load wants a load average above 0, such as 1.5 "
		    "or 4, not '%s'", arg);
	return v;
}

/* Make the --results directory, and its parents, or say why not. */
static void
make_results_dir(const char *dir)
{
	char	*path = xstrdup(dir), *p;

	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) == -1 && errno != EEXIST)
			err(EXIT_FATAL, "--results: cannot make directory %s",
			    path);
		if (dir[p - path] == '\0')
			break;
		*p = '/';
	}
	free(path);
	if (access(dir, W_OK | X_OK) == -1)
		err(EXIT_FATAL, "--results: cannot write in %s", dir);
}

/* The longest --recend and --recstart together. */
#define RECORD_SEP_MAX	1024
/* The largest --block, as GNU parallel's. */
#define BLOCK_MAX	((1ULL << 31) - 1)

/*
 * Decode --recend or --recstart in place, as GNU parallel reads them: \0
 * \n \r \t \' \" and \\ are the bytes they name, any other byte is itself.
 * Return the number of bytes (a NUL may be one of them).
 */
static size_t
parse_escapes(char *s)
{
	static const char	 from[] = "0nrt'\"\\", to[] = "\0\n\r\t'\"\\";
	const char		*e;
	char			*in = s;
	size_t			 n = 0;

	for (; *in != '\0'; in++) {
		if (in[0] == '\\' && in[1] != '\0' &&
		    (e = strchr(from, in[1])) != NULL) {
			s[n++] = to[e - from];
			in++;
		} else
			s[n++] = *in;
	}
	return n;
}

/*
 * Check --pipe and --pipepart against the rest of the command line and
 * settle the record separators: recend and recstart as given, or NULL.
 */
static void
check_pipe(struct config *cfg, char *recend, char *recstart,
    const char *pipe_only)
{
	static char	 newline[] = "\n", none[] = "";
	const char	*lines = NULL;

	if (!cfg->pipe) {
		if (pipe_only != NULL)
			usage_error("%s is for --pipe and --pipepart: give one "
			    "of them", pipe_only);
		return;
	}
	if (cfg->worker_cmd != NULL)
		usage_error("--pipe is for command mode: a worker answers one "
		    "line per task line, and a block is many lines (without "
		    "--pipe each line is a task for -w)");
	if (cfg->command == NULL)
		usage_error("--pipe gives each block to a COMMAND's stdin: "
		    "give one (ppool --pipe wc -l)");
	if (cfg->sources)
		usage_error("--pipe cuts stdin or -a FILE into blocks; ::: "
		    "values have no place in it");
	if (cfg->colsep != NULL)
		lines = "--colsep";
	else if (cfg->header)
		lines = "--header";
	else if (cfg->input_format == INPUT_LINES)
		lines = "-L";
	else if (cfg->input_format == INPUT_NUL)
		lines = "-0";
	else if (cfg->input_format == INPUT_CSV)
		lines = "--csv";
	else if (cfg->max_args > 0 || cfg->xargs)
		lines = cfg->xargs ? "-X" : "-n (-N)";
	if (lines != NULL)
		usage_error("%s cuts the input into tasks; --pipe cuts it into "
		    "blocks (--recend, --recstart): give one of them", lines);
	if (cfg->tag)
		usage_error("--tag shows a task's arguments; a --pipe block "
		    "gives none");
	if (cfg->pipepart && cfg->input_path == NULL)
		usage_error("--pipepart cuts a file by seeking in it: name it "
		    "with -a FILE (use --pipe for stdin)");
	if (cfg->round_robin && cfg->retries > 0)
		usage_error("--round-robin feeds the input to long-lived "
		    "commands once: it cannot be used with --retries");
	if (cfg->round_robin && cfg->memfree > 0)
		usage_error("--round-robin feeds the input to long-lived "
		    "commands once: it cannot be used with --memfree");
	if (cfg->round_robin && cfg->resume)
		usage_error("--round-robin feeds the input to long-lived "
		    "commands once: it cannot be used with %s",
		    cfg->resume_failed ? "--resume-failed" : "--resume");
	if (cfg->block_size == 0)
		cfg->block_size = 1024 * 1024;
	/* --recstart alone: records end where one starts, as GNU parallel. */
	if (recend == NULL)
		recend = recstart != NULL ? none : newline;
	if (recstart == NULL)
		recstart = none;
	cfg->recend_len = parse_escapes(recend);
	cfg->recend = recend;
	cfg->recstart_len = parse_escapes(recstart);
	cfg->recstart = recstart;
	if (cfg->recend_len + cfg->recstart_len > RECORD_SEP_MAX)
		usage_error("--recend and --recstart may be %d bytes together, "
		    "not %zu", RECORD_SEP_MAX,
		    cfg->recend_len + cfg->recstart_len);
	cfg->task_format = INPUT_BLOCK;
}

/* Parse --halt: never, or soon|now,fail=N or soon|now,fail=P%. */
static void
parse_halt(struct config *cfg, const char *arg)
{
	const char	*p;
	char		 num[32];
	size_t		 n;

	if (strcmp(arg, "never") == 0) {
		cfg->halt = HALT_NEVER;
		return;
	}
	if (strncmp(arg, "soon,fail=", 10) == 0) {
		cfg->halt = HALT_SOON;
		p = arg + 10;
	} else if (strncmp(arg, "now,fail=", 9) == 0) {
		cfg->halt = HALT_NOW;
		p = arg + 9;
	} else
		usage_error("--halt wants never, soon,fail=N, now,fail=N or "
		    "fail=P%% in place of fail=N, not '%s'", arg);
	n = strlen(p);
	cfg->halt_percent = n > 0 && p[n - 1] == '%';
	if (cfg->halt_percent)
		n--;
	if (n == 0 || n >= sizeof num)
		usage_error("--halt wants a count or a percentage after "
		    "fail=, not '%s'", arg);
	memcpy(num, p, n);
	num[n] = '\0';
	cfg->halt_fail = parse_number("--halt fail=", num, 1,
	    cfg->halt_percent ? 100 : ULONG_MAX, 0);
}

/* Online CPUs, the default for -j. */
static unsigned
online_cpus(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

/*
 * Put /dev/null on any of fds 0, 1 and 2 that is closed, so that no pipe
 * or file of ppool's lands there; return a bit per fd that was closed.
 */
static int
open_std_fds(void)
{
	int	 fd, closed = 0;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		closed |= 1 << fd;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(EXIT_FATAL);
	}
	return closed;
}

/*
 * The exit status once --help or --version has printed: a closed or
 * failing stdout (>&-, a full disk) is an error, as with coreutils.
 */
static int
printed(int closed)
{
	if (closed & 2)
		errno = EBADF;
	else if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_ALL_OK;
	warn("cannot write to stdout");
	return EXIT_FATAL;
}

int
main(int argc, char **argv)
{
	struct config	 cfg;
	char		 msg[512];
	const char	*worker_only = NULL, *command_only = NULL;
	const char	*pipe_only = NULL;
	char		*recend = NULL, *recstart = NULL;
	int		 ch, closed, max_output_given = 0, output_given = 0;
	int		 src, window_given = 0, jobs_given = 0, slurm = 0;
	int		 ssh_given = 0;

	/* err(3) and warn(3) speak as ppool, whatever the binary is called. */
	program_invocation_short_name = "ppool";
	/*
	 * Big buffers (-X commands, captured output) get pages of their own,
	 * given back whole when freed: glibc's moving threshold would soon put
	 * them in the heap, where freeing them after a fork writes to pages
	 * the child still shares.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	program_invocation_name = "ppool";
	closed = open_std_fds();
	memset(&cfg, 0, sizeof cfg);
	cfg.input_format = INPUT_JSON;
	cfg.output_format = OUTPUT_JSON;
	cfg.jobs = online_cpus();
	cfg.inflight = 1;
	cfg.window = 1024;
	cfg.max_line = 64 << 20;
	cfg.max_output = 64 << 20;
	cfg.kill_after = KILL_AFTER;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:0a:C:hj:Ln:N:o:P:r:S:t:uVvw:X", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '0':
			if (cfg.input_format == INPUT_CSV)
				usage_error("-0 and --csv exclude each other");
			cfg.input_format = INPUT_NUL;
			break;
		case 'a':
			/* "-" is stdin, as with xargs and parallel. */
			cfg.input_path = strcmp(optarg, "-") == 0 ? NULL :
			    optarg;
			break;
		case 'C':
			cfg.colsep = optarg;
			break;
		case 'h':
			usage(stdout);
			return printed(closed);
		case 'n':
		case 'N':
			command_only = ch == 'n' ? "-n" : "-N";
			cfg.max_args = parse_number(ch == 'n' ? "-n" : "-N",
			    optarg, 1, 100000, 0);
			break;
		case 'X':
			command_only = "-X";
			cfg.xargs = 1;
			break;
		case OPT_BLOCK:
			pipe_only = "--block";
			cfg.block_size = parse_number("--block", optarg, 1,
			    BLOCK_MAX, 1);
			break;
		case OPT_CSV:
			cfg.input_format = INPUT_CSV;
			break;
		case OPT_PIPEPART:
			cfg.pipepart = 1;
			/* FALLTHROUGH */
		case OPT_PIPE:
			cfg.pipe = 1;
			break;
		case OPT_RECEND:
			pipe_only = "--recend";
			recend = optarg;
			break;
		case OPT_RECSTART:
			pipe_only = "--recstart";
			recstart = optarg;
			break;
		case OPT_ROUND_ROBIN:
			pipe_only = "--round-robin";
			cfg.round_robin = 1;
			break;
		case OPT_DELAY:
			cfg.delay = parse_seconds("--delay", optarg);
			break;
		case OPT_HEADER:
			if (strcmp(optarg, ":") != 0)
				usage_error("--header takes ':' (the first row "
				    "names the columns), not '%s'", optarg);
			cfg.header = 1;
			break;
		case OPT_LINE_BUFFER:
			cfg.line_buffer = 1;
			break;
		case OPT_LINK:
			cfg.link = 1;
			break;
		case OPT_LOAD:
			cfg.load = parse_load(optarg);
			break;
		case OPT_MEMFREE:
			cfg.memfree = parse_number("--memfree", optarg, 1,
			    1ULL << 50, 1);
			break;
		case OPT_RESULTS:
			command_only = "--results";
			if (optarg[0] == '\0')
				usage_error("--results wants a directory, not "
				    "an empty string");
			cfg.results = optarg;
			break;
		case OPT_TAG:
			cfg.tag = 1;
			break;
		case 'j':
		case 'P':
			cfg.jobs = parse_number(ch == 'j' ? "-j" : "-P", optarg,
			    1, JOBS_MAX, 0);
			jobs_given = 1;
			break;
		case 'L':
			if (cfg.input_format == INPUT_CSV)
				usage_error("-L and --csv exclude each other");
			cfg.input_format = INPUT_LINES;
			break;
		case 'o':
			output_given = 1;
			if (strcmp(optarg, "json") == 0)
				cfg.output_format = OUTPUT_JSON;
			else if (strcmp(optarg, "raw") == 0)
				cfg.output_format = OUTPUT_RAW;
			else
				usage_error("-o wants json or raw, not '%s'",
				    optarg);
			break;
		case 'r':
			worker_only = "-r";
			cfg.max_reqs = parse_number("-r", optarg, 0, ULONG_MAX,
			    0);
			break;
		case 'S':
			ssh_given = 1;
			if (host_add_list(optarg, msg, sizeof msg) == -1)
				usage_error("-S: %s", msg);
			break;
		case OPT_SLURM:
			slurm = 1;
			break;
		case OPT_SSH_FILE:
			ssh_given = 1;
			if (host_add_file(optarg, msg, sizeof msg) == -1)
				usage_error("%s", msg);
			break;
		case OPT_SSH_COMMAND:
			if (host_set_command(optarg, msg, sizeof msg) == -1)
				usage_error("%s", msg);
			break;
		case 't':
			cfg.timeout = parse_seconds("-t", optarg);
			break;
		case 'u':
			cfg.unordered = 1;
			break;
		case 'V':
			printf("ppool %s\n", PACKAGE_VERSION);
			return printed(closed);
		case 'v':
			cfg.verbose = 1;
			break;
		case OPT_JOBLOG:
			cfg.joblog = optarg;
			break;
		case OPT_PROGRESS:
			cfg.progress = 1;
			break;
		case OPT_RESUME:
			if (cfg.resume_failed)
				usage_error("--resume and --resume-failed "
				    "exclude each other");
			cfg.resume = 1;
			break;
		case OPT_RESUME_FAILED:
			if (cfg.resume && !cfg.resume_failed)
				usage_error("--resume and --resume-failed "
				    "exclude each other");
			cfg.resume = cfg.resume_failed = 1;
			break;
		case 'w':
			cfg.worker_cmd = optarg;
			break;
		case OPT_HALT:
			parse_halt(&cfg, optarg);
			break;
		case OPT_RETRIES:
			cfg.retries = parse_number("--retries", optarg, 0,
			    1000000, 0);
			break;
		case OPT_DRY_RUN:
			cfg.dry_run = 1;
			break;
		case OPT_KILL_AFTER:
			cfg.kill_after = parse_seconds("--kill-after", optarg);
			break;
		case OPT_MAX_OUTPUT:
			max_output_given = 1;
			cfg.max_output = parse_number("--max-output", optarg, 1,
			    (1ULL << 40), 1);
			break;
		case OPT_ENVELOPE:
			worker_only = "--envelope";
			cfg.envelope = 1;
			break;
		case OPT_INFLIGHT:
			worker_only = "--inflight";
			cfg.inflight = parse_number("--inflight", optarg, 1,
			    65536, 0);
			break;
		case OPT_MAX_LINE:
			cfg.max_line = parse_number("--max-line", optarg, 1,
			    (1ULL << 40), 1);
			break;
		case OPT_WINDOW:
			window_given = 1;
			cfg.window = parse_number("--window", optarg, 1,
			    1 << 24, 0);
			break;
		case ':':
			usage_error("option '%s' wants an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;

	/* COMMAND ends where the first input source starts. */
	src = source_find(argc, argv);
	if (src < argc) {
		if (cfg.input_path != NULL)
			usage_error("-a and ::: both give the tasks: give one");
		if (cfg.input_format == INPUT_CSV)
			usage_error("--csv reads stdin or -a FILE, not ::: "
			    "values");
		if (src == 0 && cfg.worker_cmd == NULL)
			usage_error("%s gives the arguments of a COMMAND: put "
			    "one before it (ppool echo ::: a b), or use -w",
			    argv[0]);
		source_init(argc - src, argv + src, optind + src,
		    cfg.input_format == INPUT_NUL, cfg.link);
		cfg.sources = 1;
		argv[src] = NULL;
		argc = src;
	} else if (cfg.link)
		usage_error("--link pairs ::: sources; there are none");
	if (argc > 0)
		cfg.command = argv;
	if (cfg.resume && cfg.joblog == NULL)
		usage_error("--resume and --resume-failed need --joblog=FILE");
	if (cfg.worker_cmd != NULL) {
		if (argc > 0)
			usage_error("unexpected argument '%s' with -w (quote "
			    "the worker command as one argument)", argv[0]);
		if (cfg.worker_cmd[0] == '\0')
			usage_error("-w wants a command, not an empty string");
		if (cfg.dry_run)
			usage_error("--dry-run is for command mode; it cannot "
			    "be used with -w");
		if (max_output_given)
			usage_error("--max-output is for command mode (a "
			    "worker's reply is bounded by --max-line); it "
			    "cannot be used with -w");
		if (command_only != NULL)
			usage_error("%s is for command mode; it cannot be used "
			    "with -w", command_only);
	} else if (worker_only != NULL)
		usage_error("%s is for worker mode: give -w CMD, or leave it "
		    "out", worker_only);
	if ((cfg.max_args > 0 || cfg.xargs) && cfg.command == NULL)
		usage_error("%s groups the arguments of a COMMAND: give one",
		    cfg.xargs ? "-X" : "-n");
	if (cfg.xargs && cfg.max_args == 0)
		cfg.max_args = ULONG_MAX;
	/*
	 * A command of -X holds up to the argument limit (megabytes), one of
	 * --pipe often a block's worth of output: a window of 1024 of them
	 * would be gigabytes.  Enough to keep -j busy.
	 */
	if ((cfg.xargs || cfg.pipe) && !window_given &&
	    cfg.window > 2 * cfg.jobs + 2)
		cfg.window = 2 * cfg.jobs + 2;
	if (cfg.colsep != NULL && cfg.input_format == INPUT_CSV)
		usage_error("--colsep and --csv exclude each other (--csv "
		    "cuts at commas)");
	/* Columns are cut from plain-text lines: -L unless -0. */
	if ((cfg.colsep != NULL || cfg.header) &&
	    cfg.input_format == INPUT_JSON)
		cfg.input_format = INPUT_LINES;
	cfg.task_format = cfg.input_format;
	if (cfg.sources || cfg.colsep != NULL || cfg.header ||
	    cfg.input_format == INPUT_CSV || cfg.max_args > 0)
		cfg.task_format = INPUT_JSON;
	check_pipe(&cfg, recend, recstart, pipe_only);
	column_init(cfg.colsep);
	if (cfg.header && cfg.sources) {
		struct argv	 names;

		argv_init(&names);
		source_names(&names);
		column_take_names(&names);
		argv_free(&names);
		template_check_names(cfg.command);
	}
	if (cfg.tag || cfg.line_buffer) {
		if (output_given && cfg.output_format != OUTPUT_RAW)
			usage_error("%s shapes raw output; it cannot be used "
			    "with -o json", cfg.tag ? "--tag" : "--line-buffer");
		cfg.output_format = OUTPUT_RAW;
		/* Lines are printed as they come, so tasks mix. */
		if (cfg.line_buffer)
			cfg.unordered = 1;
	}
	if (cfg.results != NULL) {
		if (cfg.output_format == OUTPUT_RAW)
			usage_error("--results writes each task's output to "
			    "files; -o raw would print nothing: use -o json");
		if (!cfg.dry_run)
			make_results_dir(cfg.results);
	}
	if (closed & 2)
		errx(EXIT_FATAL, "stdout is closed: ppool writes a record per "
		    "task there; redirect it (>/dev/null to drop them)");
	if ((closed & 1) && cfg.input_path == NULL && !cfg.sources)
		errx(EXIT_FATAL, "stdin is closed: give the tasks on it, or "
		    "with -a FILE");
	if (cfg.window < cfg.inflight)
		cfg.window = cfg.inflight;
	if (slurm) {
		if (ssh_given)
			usage_error("--slurm runs on the allocation's nodes; it "
			    "cannot be used with -S or --ssh-file");
		if (host_add_slurm(jobs_given ? cfg.jobs : 0, msg,
		    sizeof msg) == -1)
			usage_error("%s", msg);
	}
	cfg.ssh = host_finish(cfg.jobs);
	return run_pool(&cfg);
}
