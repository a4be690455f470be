/* input.c: reading task input and cutting it into tasks. */

#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Bytes asked of one read(). */
#define INPUT_CHUNK	(64 * 1024)

static struct {
	const struct config	*cfg;
	int			 fd;
	int			 sep;		/* '\n' or '\0' */
	int			 eof;
	int			 failed;	/* a read failed: exit 255 */
	int			 discarding;	/* inside an over-long task */
	int			 long_blank;	/* ... all blank so far */
	struct buf		 buf;
	/* -n and -X: the group being built, and a task held for the next. */
	struct slot		 part;
	int			 held;
	struct buf		 group;
	size_t			 gtasks;
	size_t			 gbytes;
	size_t			 arg_room;	/* -X: bytes of arguments */
	unsigned		 jobs;		/* commands at once */
	unsigned		 rr_made;	/* --round-robin: commands made */
} in = { .fd = -1 };

/*
 * -X: the bytes a command's arguments may take, as xargs counts them
 * (each string, its NUL and its pointer): the system's limit less the
 * environment, the command's own words and some headroom.  Each argument
 * is counted once per replacement string that takes all of them.
 */
static size_t
input_arg_room(const struct config *cfg)
{
	extern char	**environ;
	long		  max = sysconf(_SC_ARG_MAX);
	size_t		  used = 4096, uses, i;

	if (max <= 0)
		max = 128 * 1024;
	for (i = 0; environ[i] != NULL; i++)
		used += strlen(environ[i]) + 1 + sizeof(char *);
	for (i = 0; cfg->command != NULL && cfg->command[i] != NULL; i++)
		used += strlen(cfg->command[i]) + 1 + sizeof(char *);
	if ((size_t)max <= used + 4096)
		return 4096;
	uses = cfg->command != NULL ? template_uses(cfg->command) : 1;
	return ((size_t)max - used) / (uses > 0 ? uses : 1);
}

/* --pipe, --pipepart: the input is cut into blocks (block.c). */
static void
input_open_blocks(const struct config *cfg, unsigned jobs)
{
	struct stat	 sb;

	if (cfg->pipepart && (fstat(in.fd, &sb) == -1 ||
	    !S_ISREG(sb.st_mode)))
		errx(EXIT_FATAL, "--pipepart: %s is not a regular file; it "
		    "cuts a file by seeking in it: use --pipe to read a pipe",
		    cfg->input_path);
	block_init(cfg, in.fd, jobs);
	in.jobs = jobs;
}

/*
 * Open the input named by -a, or take stdin; jobs commands run at once
 * (--pipe lends blocks to that many, and --round-robin starts that many).
 */
void
input_open(const struct config *cfg, unsigned jobs)
{
	in.cfg = cfg;
	in.sep = cfg->input_format == INPUT_NUL ? '\0' : '\n';
	buf_init(&in.buf);
	buf_init(&in.group);
	task_init(&in.part);
	in.arg_room = input_arg_room(cfg);
	if (cfg->sources) {
		/* The tasks are made, not read: stdin is left alone. */
		in.eof = 1;
		return;
	}
	if (cfg->input_path == NULL) {
		/*
		 * stdin stays blocking: its open file description may be
		 * shared with the shell.  The loop reads it once per POLLIN,
		 * which does not block.
		 */
		in.fd = STDIN_FILENO;
	} else if ((in.fd = open(cfg->input_path, O_RDONLY | O_CLOEXEC |
	    (cfg->pipepart ? O_NONBLOCK : 0))) == -1)
		/* --pipepart: a fifo is refused, not waited for (below). */
		err(EXIT_FATAL, "cannot open input file %s", cfg->input_path);
	if (cfg->pipe)
		input_open_blocks(cfg, jobs);
}

/* Close the input and free its buffer. */
void
input_close(void)
{
	if (in.fd > STDIN_FILENO)
		close(in.fd);
	in.fd = -1;
	if (in.cfg->pipe)
		block_free();
	buf_free(&in.buf);
	buf_free(&in.group);
	task_clear(&in.part);
}

/* The descriptor to poll, or -1 once the input is finished. */
int
input_fd(void)
{
	if (in.cfg->pipe)
		return block_fd();
	return in.eof ? -1 : in.fd;
}

/* Return 1 when no row is left to cut: the input or the sources are done. */
static int
input_rows_done(void)
{
	if (in.cfg->sources)
		return source_done();
	if (in.cfg->pipe)
		return block_done() ||
		    (in.cfg->round_robin && in.rr_made == in.jobs);
	return in.eof && buf_used(&in.buf) == 0;
}

/* Return 1 when all input was read and cut into tasks. */
int
input_eof(void)
{
	return input_rows_done() && !in.held && in.gtasks == 0;
}

/*
 * Read one chunk of input.  Return 1 after a read, 0 at end of input or when
 * nothing was ready.  A read error ends the input with a message: the tasks
 * already read still run, and input_failed makes the exit status 255.
 */
int
input_read(void)
{
	ssize_t	 n;

	if (in.cfg->pipe)
		return block_read();
	if (in.eof)
		return 0;
	n = buf_read(&in.buf, in.fd, INPUT_CHUNK);
	if (n > 0)
		return 1;
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n == -1) {
		warnx("cannot read tasks from %s: %s; the tasks read before "
		    "run, then ppool exits 255", in.cfg->input_path != NULL ?
		    in.cfg->input_path : "stdin", strerror(errno));
		in.failed = 1;
	}
	in.eof = 1;
	return 0;
}

/* Return 1 when reading the input failed before its end. */
int
input_failed(void)
{
	return in.failed || (in.cfg->pipe && block_failed());
}

/*
 * Return 1 when byte c leaves a task blank: JSON's white space; with -L
 * spaces, tabs and carriage returns, as xargs ignores a blank line; with
 * -0 none, since a file name may be all spaces.
 */
static int
input_space(char c)
{
	switch (in.cfg->input_format) {
	case INPUT_JSON:
		return c == ' ' || c == '\t' || c == '\r' || c == '\n';
	case INPUT_LINES:
		return c == ' ' || c == '\t' || c == '\r';
	default:
		return 0;
	}
}

/* Return 1 when a task of len bytes is blank and so not a task at all. */
static int
input_blank(const char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (!input_space(line[i]))
			return 0;
	}
	return 1;
}

/* Fill s with a task that is longer than --max-line. */
static void
input_too_long(struct slot *s)
{
	task_fail(s, "task longer than --max-line (%zu bytes)",
	    in.cfg->max_line);
}

/*
 * Drop len more bytes of a task longer than --max-line, which is never held
 * whole.  It fails in s at its first byte that is not blank: a blank line
 * is skipped whatever its length, as when it arrives in one read.  Return
 * 1 when s was failed.
 */
static int
input_drop(struct slot *s, const char *p, size_t len)
{
	if (!in.long_blank || input_blank(p, len))
		return 0;
	in.long_blank = 0;
	input_too_long(s);
	return 1;
}

/*
 * Cut the next line (or NUL-ended task) out of the buffered input.  Return
 * 1 with it in *line and *len, 1 with s failed when it is too long, 0 when
 * more input is needed or the input is finished.
 */
static int
input_line(struct slot *s, char **line, size_t *len)
{
	int	 failed;

	for (;;) {
		*line = buf_frame(&in.buf, in.sep, len);
		if (*line == NULL) {
			*len = buf_used(&in.buf);
			if (!in.discarding && *len > in.cfg->max_line) {
				in.discarding = 1;
				in.long_blank = 1;
			}
			if (in.discarding) {
				failed = input_drop(s, buf_head(&in.buf), *len);
				buf_consume(&in.buf, *len);
				if (in.eof)
					in.discarding = 0;
				return failed;
			}
			if (!in.eof || *len == 0)
				return 0;
			/* The last task has no separator after it. */
			*line = buf_head(&in.buf);
			in.buf.off = in.buf.len;
		} else if (in.discarding) {
			/* The end of the over-long task. */
			in.discarding = 0;
			if (input_drop(s, *line, *len))
				return 1;
			continue;
		}
		if (input_blank(*line, *len))
			continue;
		if (*len > in.cfg->max_line) {
			input_too_long(s);
			return 1;
		}
		return 1;
	}
}

/*
 * Put the next row's text in s->task: a line, a CSV row, a combination of
 * ::: sources, or a line cut at --colsep; the last three as a JSON array.
 * Return 1 with the text (or with s failed), 0 when there is none yet.
 */
static int
input_row(struct slot *s)
{
	char	*line, msg[256];
	size_t	 len;
	int	 rc, first = 1;

	if (in.cfg->sources)
		return source_next(&s->task);
	if (in.cfg->input_format == INPUT_CSV) {
		rc = column_csv_next(&in.buf, in.eof, &s->task, msg,
		    sizeof msg);
		if (rc == 0 && buf_used(&in.buf) > in.cfg->max_line) {
			/* A row that never ends: refused, not held. */
			buf_consume(&in.buf, buf_used(&in.buf));
			input_too_long(s);
			return 1;
		}
		if (rc == -1)
			task_fail(s, "%s", msg);
		return rc != 0;
	}
	if (input_line(s, &line, &len) == 0)
		return 0;
	if (s->state == SLOT_DONE)
		return 1;
	if (in.cfg->colsep == NULL && !in.cfg->header) {
		buf_add(&s->task, line, len);
		return 1;
	}
	buf_addc(&s->task, '[');
	column_split(&s->task, line, len, &first);
	buf_addc(&s->task, ']');
	return 1;
}

/* The format of a row: JSON when made of columns or sources. */
static enum input_format
input_row_format(void)
{
	const struct config	*cfg = in.cfg;

	if (cfg->sources || cfg->colsep != NULL || cfg->header ||
	    cfg->input_format == INPUT_CSV)
		return INPUT_JSON;
	return cfg->input_format;
}

/*
 * Check a row's fields against the header: the first row is the header
 * (return 0: no task), a row with fewer fields fails.
 */
static int
input_header(struct slot *s)
{
	const char	*text = buf_head(&s->task);
	size_t		 len = buf_used(&s->task), pos = 0, off, n, count = 0;

	if (!column_named()) {
		column_set_names(text, len);
		template_check_names(in.cfg->command);
		return 0;
	}
	while (json_array_next(text, len, &pos, &off, &n))
		count++;
	if (count < column_count())
		task_fail(s, "the row has %zu field%s, the header %zu",
		    count, count == 1 ? "" : "s", column_count());
	return 1;
}

/*
 * Cut the next task into s, as a row is one task.  Return 1 when s holds
 * a task (pending, or done with an error), 0 when none is ready.
 */
static int
input_take(struct slot *s)
{
	for (;;) {
		s->state = SLOT_PENDING;
		if (input_row(s) == 0)
			return 0;
		if (s->state == SLOT_DONE)
			return 1;
		if (in.cfg->header && !in.cfg->sources &&
		    input_header(s) == 0) {
			buf_reset(&s->task);
			continue;
		}
		if (s->state == SLOT_DONE)
			return 1;
		task_parse(s, in.cfg, input_row_format());
		return 1;
	}
}

/*
 * Add one argument to the group being built (unless NULL) as a JSON array
 * element: plain text is written as a JSON string, JSON is copied; count
 * its size in a command line (the string, its NUL, its pointer).
 */
static void
input_arg(struct buf *group, const char *p, size_t n, int plain,
    size_t *bytes)
{
	*bytes += n + 1 + sizeof(char *);
	if (group == NULL)
		return;
	if (buf_used(group) > 0)
		buf_addc(group, ',');
	if (plain)
		json_add_bytes(group, p, n);
	else
		buf_add(group, p, n);
}

/*
 * Add a task's arguments to the group being built (unless NULL) and their
 * size to *bytes.  Return -1 when the task gives no arguments of that kind
 * (an object, null).
 */
static int
input_args(const struct slot *p, struct buf *group, size_t *bytes)
{
	const char	*text = buf_head(&p->task);
	size_t		 len = buf_used(&p->task), off, n, pos = 0, a, an;

	if (input_row_format() != INPUT_JSON) {
		input_arg(group, text, len, 1, bytes);
		return 0;
	}
	json_trim(text, len, &off, &n);
	if (n == 0 || text[off] == '{' || text[off] == 'n')
		return -1;
	if (text[off] != '[') {
		input_arg(group, text + off, n, 0, bytes);
		return 0;
	}
	while (json_array_next(text + off, n, &pos, &a, &an))
		input_arg(group, text + off + a, an, 0, bytes);
	return 0;
}

/*
 * -n and -X: put up to -n tasks' arguments, or as many as fit in one
 * command line, in s as one JSON array.  A task that fails, or gives no
 * arguments, is a task of its own: the group before it ends there.  A
 * group is given only when full, or when the input is finished.
 */
static int
input_group(struct slot *s)
{
	struct slot	*p = &in.part;
	size_t		 bytes;

	for (;;) {
		if (!in.held) {
			task_clear(p);
			if (input_take(p) == 0) {
				if (!input_rows_done() || in.gtasks == 0)
					return 0;
				break;
			}
		}
		in.held = 0;
		if (p->state != SLOT_DONE && in.gtasks > 0) {
			bytes = 0;
			input_args(p, NULL, &bytes);
			if (in.gbytes + bytes > in.arg_room) {
				in.held = 1;
				break;
			}
		}
		if (p->state != SLOT_DONE &&
		    input_args(p, &in.group, &in.gbytes) == -1)
			task_fail(p, "with -n or -X a task must be a string, a "
			    "number or an array, not an object or null");
		if (p->state == SLOT_DONE) {
			if (in.gtasks > 0) {
				in.held = 1;
				break;
			}
			buf_add(&s->task, buf_head(&p->task),
			    buf_used(&p->task));
			task_fail(s, "%.*s", (int)buf_used(&p->error),
			    buf_head(&p->error));
			return 1;
		}
		if (++in.gtasks == in.cfg->max_args)
			break;
	}
	buf_addc(&s->task, '[');
	buf_add(&s->task, buf_head(&in.group), buf_used(&in.group));
	buf_addc(&s->task, ']');
	buf_reset(&in.group);
	in.gtasks = in.gbytes = 0;
	/* Valid JSON by construction, of checked parts, with no "id". */
	s->state = SLOT_PENDING;
	return 1;
}

/*
 * --pipe: lend the next block to s, described as where it is in the input;
 * with --round-robin the first of a command's blocks, for the first -j.
 */
static int
input_block(struct slot *s)
{
	if (in.cfg->round_robin && in.rr_made == in.jobs)
		return 0;
	if ((s->block = block_cut()) == NULL)
		return 0;
	if (in.cfg->round_robin) {
		buf_addstr(&s->task, "{\"round_robin\":");
		buf_add_uint(&s->task, ++in.rr_made);
		buf_addc(&s->task, '}');
	} else
		block_describe(&s->task, s->block);
	s->state = SLOT_PENDING;
	return 1;
}

/*
 * Cut the next task out of the buffered input into s.  Return 1 when s
 * holds a task (pending, or done with an error), 0 when more input is
 * needed or the input is finished.
 */
int
input_next(struct slot *s)
{
	if (in.cfg->pipe)
		return input_block(s);
	if (in.cfg->max_args == 0)
		return input_take(s);
	return input_group(s);
}

/*
 * Count the tasks ahead when the input is a regular file (for --progress),
 * blank ones left out as input_next leaves them, without moving the read
 * offset; return 0 when it cannot be known.
 */
uint64_t
input_count(void)
{
	struct stat	 sb;
	char		 chunk[64 * 1024];
	off_t		 off;
	ssize_t		 n, k;
	uint64_t	 count = 0;
	int		 blank = 1;

	if (in.cfg->pipe || fstat(in.fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (off = lseek(in.fd, 0, SEEK_CUR)) == -1)
		return 0;
	while ((n = pread(in.fd, chunk, sizeof chunk, off)) > 0) {
		for (k = 0; k < n; k++) {
			if (chunk[k] == in.sep) {
				count += !blank;
				blank = 1;
			} else if (!input_space(chunk[k]))
				blank = 0;
		}
		off += n;
	}
	return count + !blank;
}
