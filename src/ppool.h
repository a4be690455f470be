/*
 * ppool.h: declarations shared by ppool's files, grouped by the file that
 * owns them.
 *
 * A task's way from stdin to stdout, file by file: main.c reads the options
 * and calls run.c, whose poll loop drives the rest; input.c reads bytes and
 * cuts them into lines (or takes rows of source.c and column.c, and groups
 * them for -n/-X), task.c makes a line a task in a slot of queue.c,
 * which keeps it pending; pool.c gives it to a worker (worker.c) or, in
 * command mode, cmdpool.c starts a command for it (command.c, resolve.c,
 * spawn.c), on a host of host.c; their replies and exits are reported back
 * to pool.c and cmdpool.c, which hand the finished task to queue.c (retries,
 * --halt, joblog.c); order.c says when its turn has come, and output.c
 * writes its record (results.c, into files with --results).  gate.c says
 * when a start may happen; sig.c and term.c signal and end; progress.c
 * reports.
 *
 * Ownership: a struct is created and destroyed by the file that declares its
 * functions (buf_init/buf_free, worker_start/worker_free, ...).  Slots are
 * owned by queue.c; the other files borrow them for the life of one task.
 * worker.c and command.c never call up: they return what happened (tasks
 * finished or given back, a host lost) and their caller acts on it.
 * Closed file descriptors are -1.
 */

#ifndef PPOOL_H
#define PPOOL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pipeline.h>

/* Exit statuses other than the count of failed tasks. */
enum {
	EXIT_ALL_OK = 0,
	EXIT_MANY_FAILED = 101,		/* more than 100 tasks failed */
	EXIT_FATAL = 255		/* usage or fatal error */
};

/* How many tasks may fail before the exit status stops counting them. */
#define FAILED_COUNT_MAX	100

/* Seconds a worker may take to exit after its stdin is closed. */
#define WORKER_GRACE		2.0
/* Seconds between SIGTERM and SIGKILL. */
#define KILL_AFTER		2.0
/* The one text of a timeout, given its seconds. */
#define TIMED_OUT_FMT		"timed out after %g s"
/*
 * Workers that die before their first reply this many times in a row, and
 * -j times when -j is more (the first -j tasks may each kill a fresh
 * worker), stop the run.
 */
#define EARLY_DEATHS_MAX	3
/* The most processes -j, or N/host for one host, may ask for. */
#define JOBS_MAX		65536
/* The most slots all hosts of -S together are given. */
#define SLOTS_MAX		(16 * JOBS_MAX)

enum input_format {
	INPUT_JSON,		/* one JSON value a line */
	INPUT_LINES,		/* -L: one plain-text task a line */
	INPUT_NUL,		/* -0: plain-text tasks ended by NUL */
	INPUT_CSV,		/* --csv: a CSV row a task (input only) */
	INPUT_BLOCK		/* --pipe: a block of the stream a task */
};

enum output_format {
	OUTPUT_JSON,		/* one record a task */
	OUTPUT_RAW		/* payloads only */
};

/* When --halt stops a run. */
enum halt_when {
	HALT_NEVER,
	HALT_SOON,		/* start nothing new, let running tasks finish */
	HALT_NOW		/* and kill the running ones */
};

/* Everything the command line decides; read-only after main.c fills it. */
struct config {
	const char		*worker_cmd;	/* -w, or NULL */
	char			**command;	/* COMMAND words, or NULL */
	const char		*input_path;	/* -a, or NULL for stdin */
	enum input_format	 input_format;	/* how the input is cut */
	enum input_format	 task_format;	/* what a task is: JSON when
						   made of columns or sources */
	int			 sources;	/* ::: sources give the tasks */
	int			 link;		/* --link */
	const char		*colsep;	/* --colsep, or NULL */
	int			 header;	/* --header : */
	unsigned long		 max_args;	/* -n, or -X's count: 0 = one */
	int			 xargs;		/* -X: as many as fit */
	int			 pipe;		/* --pipe or --pipepart */
	int			 pipepart;	/* --pipepart */
	int			 round_robin;	/* --round-robin */
	size_t			 block_size;	/* --block */
	const char		*recend;	/* --recend, escapes decoded */
	size_t			 recend_len;
	const char		*recstart;	/* --recstart, the same */
	size_t			 recstart_len;
	const char		*results;	/* --results, or NULL */
	int			 tag;		/* --tag */
	int			 line_buffer;	/* --line-buffer */
	double			 delay;		/* --delay, 0: none */
	double			 load;		/* --load, 0: none */
	uint64_t		 memfree;	/* --memfree, 0: none */
	enum output_format	 output_format;
	int			 envelope;	/* --envelope */
	int			 unordered;	/* -u */
	unsigned		 jobs;		/* -j */
	unsigned		 inflight;	/* --inflight */
	unsigned long		 max_reqs;	/* -r, 0 = never retire */
	size_t			 window;	/* --window */
	size_t			 max_line;	/* --max-line */
	size_t			 max_output;	/* --max-output */
	double			 timeout;	/* -t, 0 = none */
	double			 kill_after;	/* --kill-after */
	int			 dry_run;	/* --dry-run */
	unsigned		 retries;	/* --retries */
	enum halt_when		 halt;		/* --halt */
	unsigned long		 halt_fail;	/* --halt ...,fail=N or P% */
	int			 halt_percent;	/* halt_fail is a percentage */
	const char		*joblog;	/* --joblog, or NULL */
	int			 resume;	/* --resume or --resume-failed */
	int			 resume_failed;	/* --resume-failed */
	int			 progress;	/* --progress */
	int			 verbose;	/* -v */
	int			 ssh;		/* -S or --ssh-file given */
};

struct slot;
struct host;

/* What one read of a child's pipe did. */
enum io_status {
	IO_READ,		/* bytes came */
	IO_WAIT,		/* none are ready yet */
	IO_END			/* end of file, or the pipe is done with */
};

/* buf.c */
/*
 * A byte buffer: bytes [off, len) are unconsumed, [len, cap) are free.
 * data is NUL-terminated at len whenever cap > 0, for the convenience of
 * parsers; the NUL is not part of the contents.
 */
struct buf {
	char	*data;
	size_t	 off;
	size_t	 len;
	size_t	 cap;
	size_t	 scan;	/* bytes before this were searched for a separator */
	char	*home;	/* storage lent by the owner, or NULL */
	size_t	 home_cap;
};
void	 buf_init(struct buf *);
void	 buf_init_home(struct buf *, char *, size_t);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_add_slow(struct buf *, const void *, size_t);
void	 buf_addstr(struct buf *, const char *);
void	 buf_add_uint(struct buf *, uint64_t);
size_t	 buf_uint_text(char *, uint64_t);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_add_line(struct buf *, const char *, size_t);
void	 buf_consume(struct buf *, size_t);
void	 buf_shrink(struct buf *, size_t);
char	*buf_frame(struct buf *, int, size_t *);
ssize_t	 buf_read(struct buf *, int, size_t);
ssize_t	 buf_write(struct buf *, int);
#define buf_used(b)	((b)->len - (b)->off)
#define buf_head(b)	((b)->data + (b)->off)

/* Append n bytes; inline, as records are built from many small pieces. */
static inline void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > 0 && b->cap - b->len > n) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else
		buf_add_slow(b, p, n);
}

/* Append one byte. */
static inline void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* argv.c */
/* A NULL-terminated array of strings it owns. */
struct argv {
	char	**v;
	size_t	  n;
	size_t	  cap;
	char	 *block;	/* one allocation of strings, or NULL */
	size_t	  block_len;
	size_t	  block_used;
};
void	 argv_init(struct argv *);
void	 argv_add(struct argv *, char *);
char	*argv_block(struct argv *, size_t);
void	 argv_adopt(struct argv *, struct argv *);
void	 argv_free(struct argv *);

/* joblog.c */
void	 joblog_open(const struct config *);
void	 joblog_close(void);
int	 joblog_skip(const struct slot *);
void	 joblog_finish(struct slot *);
void	 joblog_hold(const struct slot *, uint64_t);
void	 joblog_commit(uint64_t);
int	 joblog_failed(void);
int	 joblog_parse(struct buf *, int, size_t, char *, size_t);

/* json.c */
#define JSON_DEPTH_MAX	512	/* deeper nesting is refused */
int	 json_check(const char *, size_t, size_t *);
int	 json_members(const char *, size_t, const char *const *, size_t *,
	    size_t *, size_t *, size_t *);
void	 json_trim(const char *, size_t, size_t *, size_t *);
int	 json_array_next(const char *, size_t, size_t *, size_t *, size_t *);
int	 json_object_next(const char *, size_t, size_t *, size_t *, size_t *,
	    size_t *, size_t *);
int	 json_decode_string(const char *, size_t, struct buf *);
int	 json_utf8_valid(const char *, size_t);
void	 json_add_string(struct buf *, const char *, size_t);
void	 json_add_base64(struct buf *, const char *, size_t);
void	 json_add_text(struct buf *, const char *, size_t);
void	 json_add_bytes(struct buf *, const char *, size_t);

/* task.c */
enum slot_state {
	SLOT_FREE,
	SLOT_PENDING,		/* read, waiting for a worker */
	SLOT_RUNNING,		/* sent to a worker */
	SLOT_DONE		/* has its result or error; waiting to print */
};

/* How a record shows a reply. */
enum result_kind {
	RESULT_JSON,		/* valid JSON: spliced in as it is */
	RESULT_STRING,		/* UTF-8 text: a JSON string */
	RESULT_BASE64		/* other bytes: "result_base64" */
};

/*
 * One task from the moment it is read until its record is printed.  Slots
 * live in memory that children never get (xcalloc_nofork), with room of
 * their own for a short task and its reply: the tasks of a running pool
 * then cost no copy-on-write faults after each fork of a worker or command.
 */
#define SLOT_HOME	192
struct slot {
	enum slot_state	 state;
	uint64_t	 seq;
	struct buf	 task;		/* the task's bytes, separator removed */
	size_t		 id_off;	/* span of the task's "id" value */
	size_t		 id_len;	/* 0: no id */
	struct buf	 reply;		/* the worker's reply line, or stdout */
	struct buf	 errout;	/* command mode: stderr */
	int		 exit_code;	/* command mode: -1 = none */
	int		 term_sig;	/* command mode: 0 = none */
	int		 out_trunc;	/* stdout passed --max-output */
	int		 err_trunc;	/* stderr passed --max-output */
	int		 dry;		/* --dry-run: reply holds the job */
	size_t		 res_off;	/* span of the result within reply */
	size_t		 res_len;
	enum result_kind res_kind;
	int		 has_result;	/* the record shows the reply */
	int		 ok;
	int		 skip;		/* never ran: print no record */
	int		 no_retry;	/* failed before running: retrying is useless */
	struct buf	 error;		/* why it failed, when !ok */
	int		 error_json;	/* error holds a JSON string token */
	unsigned	 attempts;
	unsigned	 lost;		/* attempts a retired host took */
	pid_t		 worker;
	struct host	*host;		/* where it ran last */
	double		 start;		/* when sent, seconds on CLOCK_MONOTONIC */
	double		 ms;		/* elapsed milliseconds */
	double		 wall_start;	/* the same since the epoch (joblog) */
	struct slot	*next;		/* free list */
	struct block	*block;		/* --pipe: its stdin, lent by block.c */
	/* Where task and reply live unless they outgrow it. */
	char		 task_home[SLOT_HOME];
	char		 reply_home[SLOT_HOME];
};
void	 task_parse(struct slot *, const struct config *, enum input_format);
void	 task_fail(struct slot *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 task_reply(struct slot *, const struct config *, const char *,
	    size_t);
void	 task_init(struct slot *);
void	 task_clear(struct slot *);
void	 task_retry(struct slot *);
void	 task_timed_out(struct slot *, double);
void	 task_tag(struct buf *, const struct slot *, const struct config *);

/* queue.c */
/* Tasks a worker or command reports back to its caller. */
struct tasklist {
	struct slot	**v;
	size_t		  n;
	size_t		  cap;
};
enum queue_stop {
	QUEUE_CALM,		/* a signal or --halt: the run may still succeed */
	QUEUE_FATAL		/* the run failed: exit 255 */
};
void	 queue_init(const struct config *);
void	 queue_free(void);
void	 queue_list_add(struct tasklist *, struct slot *);
void	 queue_list_free(struct tasklist *);
void	 queue_done(struct slot *);
void	 queue_unread(struct slot *);
void	 queue_lost(struct slot *, const char *, double);
void	 queue_again(struct slot *);
void	 queue_stop(enum queue_stop);
size_t	 queue_fill(void);
int	 queue_wants_input(void);
struct slot *queue_head(void);
struct slot *queue_second(void);
void	 queue_swap_head(void);
void	 queue_pop(void);
size_t	 queue_pending(void);
size_t	 queue_print(int);
int	 queue_empty(void);
int	 queue_stopping(void);
int	 queue_fatal(void);
int	 queue_take_kill(void);
void	 queue_counts(unsigned long *, unsigned long *, unsigned long *);

/* gate.c */
extern int gate_on;	/* --delay, --load or --memfree is given */
void	 gate_init(const struct config *);
int	 gate_check(double);
/* Whether a start may happen now; nothing to ask when no limit is set. */
#define gate_open(now)	(!gate_on || gate_check(now))
void	 gate_started(void);
int	 gate_squeezed(double);
double	 gate_due(double, int, int);

/* block.c */
/*
 * The room --pipe asks for in the pipes blocks pass through (its stdin,
 * each command's): fewer wake-ups on both sides of each.
 */
#define BLOCK_PIPE_SIZE	(1024 * 1024)
/* A piece of a stream cut at a record end: its bytes, or a span of a file. */
struct block {
	uint64_t	 off;		/* where it starts in the input */
	uint64_t	 len;		/* its bytes */
	char		*data;		/* read from a pipe: the bytes; NULL:
					   they are in the file */
	size_t		 cap;
	int		 lent;		/* a task holds it */
};
void	 block_init(const struct config *, int, unsigned);
void	 block_free(void);
int	 block_fd(void);
int	 block_read(void);
int	 block_failed(void);
struct block *block_cut(void);
void	 block_release(struct block *);
int	 block_done(void);
void	 block_describe(struct buf *, const struct block *);
ssize_t	 block_write(const struct block *, uint64_t *, int);

/* input.c */
void	 input_open(const struct config *, unsigned);
void	 input_close(void);
int	 input_fd(void);
int	 input_eof(void);
int	 input_failed(void);
int	 input_read(void);
int	 input_next(struct slot *);
uint64_t input_count(void);

/* order.c */
void	 order_init(size_t, int);
void	 order_free(void);
void	 order_add(struct slot *);
void	 order_done(struct slot *);
struct slot *order_next(void);

/* output.c */
/* What output_drain did. */
enum output_status {
	OUTPUT_IDLE,		/* nothing written: nothing waits, or it waits */
	OUTPUT_WROTE,		/* bytes left the buffer */
	OUTPUT_GONE,		/* stdout's reader is gone (EPIPE) */
	OUTPUT_FAILED		/* a write failed otherwise (errno) */
};
void	 output_init(const struct config *);
void	 output_restore(void);
int	 output_full(void);
int	 output_pending(void);
void	 output_record(struct slot *);
void	 output_lines(const struct slot *, struct buf *, int);
uint64_t output_mark(void);
uint64_t output_written(void);
enum output_status output_drain(double, unsigned);
void	 output_lost(void);
int	 output_gone(void);
short	 output_events(double, unsigned);
double	 output_due(double, unsigned);
void	 output_hurry(double);
int	 output_drained(double);
int	 output_fd(void);
void	 output_warn_task(const struct slot *, const char *);

/* progress.c */
void	 progress_init(const struct config *, double, uint64_t);
double	 progress_due(void);
void	 progress_skip(void);
void	 progress_update(double, uint64_t, uint64_t, unsigned, int);
void	 progress_end(void);
void	 progress_summary(double, uint64_t, uint64_t, uint64_t);

/* resolve.c */
enum job_kind {
	JOB_ARGV,		/* one command, no shell */
	JOB_SHELL,		/* "cmd" text under /bin/sh -c */
	JOB_PIPELINE		/* stages connected by pipes, no shell */
};

/* What one task runs in command mode. */
struct job {
	enum job_kind	 kind;
	struct argv	*stages;
	size_t		 nstages;
	struct argv	 files;		/* each stage's program, found (local) */
	struct argv	 env_names;
	struct argv	 env_values;
	char		*cwd;
	struct buf	 stdin_text;	/* may hold NUL bytes */
	int		 has_stdin;
	double		 timeout;	/* seconds, 0: the -t default */
};
void	 resolve_init(struct job *);
int	 resolve_job(const struct slot *, const struct config *, struct job *,
	    char *, size_t);
void	 resolve_free(struct job *);
void	 resolve_print(struct buf *, const struct job *);

/* host.c */
/* The greeting a remote wrapper prints before the command runs. */
#define HOST_HELLO	"ppool-ssh-ready"

/*
 * A machine tasks run on: this one (":"), one reached through ssh, or a
 * node of the Slurm allocation ppool runs in, reached through srun.
 */
struct host {
	char		*name;		/* ssh destination, node, or ":" */
	unsigned	 slots;		/* workers or commands at once */
	unsigned	 busy;		/* slots taken (host_take) */
	int		 local;
	int		 slurm;		/* a node, reached by srun */
	int		 retired;	/* it failed: no more tasks */
};

/* A child's tie to its host: whether the host's greeting came. */
struct hostlink {
	struct host	*host;
	int		 ready;		/* the greeting came (or local) */
	int		 bad;		/* the host wrote something else first */
};
enum host_greeting {
	HOST_WAIT,		/* more bytes are needed (or it went bad) */
	HOST_READY,		/* taken: what follows is the child's */
	HOST_BAD		/* something else came: stop the child */
};
int	 host_add_list(const char *, char *, size_t);
int	 host_add_file(const char *, char *, size_t);
int	 host_set_command(const char *, char *, size_t);
int	 host_add_slurm(unsigned, char *, size_t);
int	 host_finish(unsigned);
unsigned long host_slots(void);
struct host *host_pick(void);
void	 host_take(struct host *);
void	 host_give(struct host *);
size_t	 host_retire(struct host *, const char *);
void	 host_quote(struct buf *, const char *);
pipeline *host_pipeline(const struct host *, const char *, double);
void	 host_link(struct hostlink *, struct host *);
enum host_greeting host_greet(struct hostlink *, struct buf *, char *,
	    size_t);
int	 host_lost(const struct hostlink *, int, int, int, const struct buf *,
	    char *, size_t);
void	 host_job_text(struct buf *, const struct job *);
void	 host_free(void);

/* channel.c */
#define CHANNEL_TOKEN	32	/* hex digits */
/* Seconds a channel has to end a killed task before it is ended itself. */
#define CHANNEL_GRACE	10
/* A long-lived shell on a remote host that runs tasks one at a time. */
struct channel {
	struct host	*host;
	struct hostlink	 link;		/* its greeting */
	pipeline	*pl;
	pid_t		 pid;		/* ssh's or srun's, its group's too */
	int		 pidfd;
	int		 to_fd;		/* the runner's stdin */
	int		 fd[2];		/* its stdout and stderr */
	struct buf	 send;		/* frames not yet written */
	struct buf	 rd[2];		/* read from fd[], not yet given out */
	size_t		 given[2];	/* of rd, given out by channel_pull */
	char		 token[CHANNEL_TOKEN + 1];
	enum {
		CHANNEL_OUT,		/* the task's stdout comes */
		CHANNEL_ERR,		/* its stderr, after its status */
		CHANNEL_DONE		/* it ended */
	}		 state;
	int		 status;	/* the task's, as the runner's sh saw it */
	int		 busy;		/* a task was sent and is not done */
	struct channel	*next;		/* in the list of all */
};
int	 channel_wanted(const struct config *, const struct host *);
struct channel *channel_get(struct host *, const struct config *);
int	 channel_flush(struct channel *);
void	 channel_send(struct channel *, const char *, const struct buf *);
enum io_status channel_pull(struct channel *, int, int *, char **, size_t *,
	    char *, size_t);
int	 channel_done(const struct channel *);
void	 channel_kill_task(struct channel *);
void	 channel_release(struct channel *);
int	 channel_end(struct channel *, int);
void	 channel_close_idle(void);
void	 channel_signal_all(int);

/* term.c */
/* How a child is ended: SIGTERM, then SIGKILL after --kill-after. */
struct term {
	int		 pidfd;		/* the child's, or -1 */
	pid_t		 pgid;		/* its process group */
	double		 kill_after;
	double		 due;		/* when the next signal goes, 0: none */
	int		 next;		/* SIGTERM, SIGKILL, 0: no more */
};
enum term_event {
	TERM_WAIT,		/* nothing, or the SIGKILL, was sent */
	TERM_FIRED		/* the SIGTERM set by term_at was sent */
};
void	 term_init(struct term *, int, pid_t, double);
int	 term_sent(const struct term *);
int	 term_armed(const struct term *);
void	 term_at(struct term *, double);
void	 term_now(struct term *, double);
void	 term_gone(struct term *);
enum term_event term_timer(struct term *, double, double *);

/* command.c */
/* A running command-mode task: its processes and their output pipes. */
struct command {
	struct slot	*slot;
	pipeline	*pl;
	size_t		 nproc;
	pid_t		*pids;
	int		*pidfds;	/* -1: exited, or no pidfds */
	int		*alive;		/* that process has not been seen to exit */
	size_t		 nexited;
	pid_t		 pgid;
	int		 out_fd;
	int		 err_fd;
	double		 timeout;	/* -t or the task's, 0: none */
	struct term	 term;		/* its process group's way out */
	int		 timed_out;
	char		 why[256];	/* why ppool stopped it, or "" */
	struct hostlink	 link;		/* where it runs */
	struct channel	*chan;		/* the channel it runs in, or NULL */
	int		 kills;		/* "k" lines sent to its channel */
	double		 kill_due;	/* when the next one goes, or 0 */
	char		 lost[384];	/* how its host failed, or "" */
	int		 res_fd[2];	/* --results: stdout, stderr files */
	int		 again;		/* --memfree stopped it: run it again */
	int		 in_fd;		/* --pipe: its stdin's pipe, or -1 */
	uint64_t	 in_sent;	/* bytes of the slot's block written */
	uint64_t	 in_total;	/* bytes of all its blocks written */
	int		 in_error;	/* errno of a failed write, or 0 */
	unsigned long	 order;		/* starts before it, for "youngest" */
};
enum command_start {
	COMMAND_STARTED,	/* running */
	COMMAND_DONE,		/* done without running: refused, --dry-run */
	COMMAND_LATER		/* out of descriptors: try once one is free */
};
enum command_end {
	COMMAND_RUNNING,	/* a process of it is left */
	COMMAND_FINISHED,	/* its task is done */
	COMMAND_HOST_LOST,	/* its host failed: the task runs elsewhere */
	COMMAND_AGAIN		/* --memfree stopped it: it runs again */
};
enum command_start command_start(struct slot *, const struct config *,
	    double, struct host *, int, struct command **);
enum io_status command_read(struct command *, const struct config *, int,
	    double);
void	 command_feed(struct command *, const struct config *);
void	 command_kill(struct command *, double, const char *);
double	 command_timer(struct command *, double);
enum command_end command_exited(struct command *, const struct config *,
	    size_t, double);
void	 command_free(struct command *);

/* main.c, resolve.c: the most seconds -t, --kill-after or "timeout" take */
#define SECONDS_MAX	1e9

/* spawn.c */
#define SIGNAME_MAX	16	/* "SIGRTMIN+NN" and its NUL */
int	 spawn_pipe(int [2], int);
int	 spawn_reserve(int);
int	 spawn_start(pipeline *, int, int, int, const struct job *, pid_t *,
	    int *);
int	 spawn_signal(int, pid_t, int);
int	 spawn_wait(pipeline *);
int	 spawn_not_found(int);
void	 spawn_describe(int, char *, size_t);
void	 spawn_signame(int, char *, size_t);
void	 spawn_init(int);
int	 spawn_alive(pid_t);

/* column.c */
void	 column_init(const char *);
void	 column_free(void);
void	 column_split(struct buf *, const char *, size_t, int *);
int	 column_csv_next(struct buf *, int, struct buf *, char *, size_t);
void	 column_set_names(const char *, size_t);
void	 column_take_names(struct argv *);
int	 column_named(void);
size_t	 column_count(void);
size_t	 column_index(const char *, size_t);
void	 column_list(struct buf *);

/* results.c */
void	 results_add_dir(struct buf *, const char *, uint64_t);
int	 results_open(const char *, uint64_t, int [2], char *, size_t);
int	 results_write(int, const char *, size_t);
void	 results_record(const char *, uint64_t, const char *, size_t);

/* source.c */
int	 source_find(int, char **);
void	 source_init(int, char **, int, int, int);
int	 source_any(void);
void	 source_names(struct argv *);
int	 source_next(struct buf *);
int	 source_done(void);
void	 source_free(void);

/* template.c */
int	 template_has_repl(char **, int);
size_t	 template_uses(char **);
void	 template_check_names(char **);
int	 template_expand(char **, char **, size_t, const char *, size_t, int,
	    struct argv *, char *, size_t);

/* worker.c */
enum worker_state {
	WORKER_RUNNING,		/* takes tasks */
	WORKER_CLOSING,		/* takes no more tasks; stdin closed or broken */
	WORKER_DEAD		/* exited and reaped: free it */
};

/* The most of a worker's stderr kept to tell why its node failed. */
#define WORKER_ERR_TAIL	8192

/* A persistent worker process and its two pipes. */
struct worker {
	enum worker_state state;
	pipeline	*pl;
	pid_t		 pid;
	int		 pidfd;		/* POLLIN when the process exits */
	int		 to_fd;		/* its stdin */
	int		 from_fd;	/* its stdout */
	int		 err_fd;	/* its stderr on a Slurm node, or -1 */
	struct buf	 errtail;	/* the last of what came on err_fd */
	struct buf	 out;		/* task lines not yet written */
	struct buf	 in;		/* reply bytes not yet framed */
	struct slot	**queue;	/* tasks sent, oldest first */
	unsigned	 qhead;
	unsigned	 qlen;
	unsigned	 qcap;
	unsigned long	 sent;
	unsigned long	 answered;
	struct term	 term;		/* its way out, once closing */
	char		 why[128];	/* why ppool ended it, or "" */
	int		 killed;	/* why is worker_kill's: ppool's decision */
	int		 broken;	/* protocol error: its output is ignored */
	int		 partial;	/* in: a last reply with no newline */
	ssize_t		 unread;	/* task bytes it left unread, or -1 */
	int		 exited;	/* its process is gone */
	struct slot	*timed_out;	/* the task that ran past -t */
	struct hostlink	 link;		/* where it runs */
};
/* How a reaped worker ended. */
enum worker_end {
	WORKER_GONE,		/* exited or was killed; its tasks are done */
	WORKER_EARLY,		/* ... by itself, before its first reply */
	WORKER_HOST_LOST	/* its host failed: its tasks run elsewhere */
};
struct worker *worker_start(const struct config *, struct host *);
struct slot *worker_pop(struct worker *);
int	 worker_accepts(const struct worker *, const struct config *);
void	 worker_send(struct worker *, struct slot *, double);
void	 worker_flush(struct worker *, double);
enum io_status worker_read(struct worker *, const struct config *, double,
	    struct tasklist *);
enum io_status worker_read_err(struct worker *);
void	 worker_close(struct worker *, double);
void	 worker_kill(struct worker *, double, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
double	 worker_timer(struct worker *, const struct config *, double);
enum worker_end worker_reap(struct worker *, const struct config *, double,
	    int *, struct tasklist *, struct tasklist *);
void	 worker_free(struct worker *);

/* pool.c */
struct pollfd;
void	 pool_init(const struct config *, unsigned);
void	 pool_free(void);
void	 pool_dispatch(double);
void	 pool_flush(double);
void	 pool_close_idle(double);
void	 pool_kill_all(double, const char *);
void	 pool_signal_all(int);
double	 pool_timers(double);
unsigned pool_running(void);
int	 pool_exit_awaited(void);
size_t	 pool_children(void);
size_t	 pool_watch_max(void);
size_t	 pool_watch(struct pollfd *);
size_t	 pool_events(const struct pollfd *, size_t, double);
void	 pool_check_children(double);

/* cmdpool.c */
void	 cmdpool_init(const struct config *, unsigned);
void	 cmdpool_free(void);
void	 cmdpool_dispatch(double);
void	 cmdpool_kill_all(double, const char *);
void	 cmdpool_signal_all(int);
double	 cmdpool_timers(double);
unsigned cmdpool_running(void);
size_t	 cmdpool_watch_max(void);
size_t	 cmdpool_watch(struct pollfd *);
size_t	 cmdpool_events(const struct pollfd *, size_t, double);
void	 cmdpool_check_children(double);

/* sig.c */
/* The signals ppool handles, which its children get back at exec. */
#define SIG_HANDLED	{ SIGINT, SIGTERM, SIGHUP, SIGTSTP }
/* What a signal that arrived asks of the loop. */
enum sig_event {
	SIG_CHILD,		/* a child exited (no pidfds): look */
	SIG_PAUSE,		/* Ctrl-Z: stop, with the children */
	SIG_STOP		/* SIGINT, SIGTERM, SIGHUP: stop the run */
};
void	 sig_init(void);
void	 sig_close(void);
int	 sig_fd(void);
int	 sig_wake_fd(void);
int	 sig_next(enum sig_event *);
void	 sig_suspend(void);

/* run.c */
int	 run_pool(const struct config *);

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xcalloc_nofork(size_t, size_t);
void	 xfree_nofork(void *, size_t, size_t);

#endif /* PPOOL_H */
