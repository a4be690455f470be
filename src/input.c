/* input.c: reading task input and cutting it into tasks. */

#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
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
} in = { .fd = -1 };

/* Open the input named by -a, or take stdin. */
void
input_open(const struct config *cfg)
{
	in.cfg = cfg;
	in.sep = cfg->input_format == INPUT_NUL ? '\0' : '\n';
	buf_init(&in.buf);
	if (cfg->input_path == NULL) {
		/*
		 * stdin stays blocking: its open file description may be
		 * shared with the shell.  The loop reads it once per POLLIN,
		 * which does not block.
		 */
		in.fd = STDIN_FILENO;
		return;
	}
	in.fd = open(cfg->input_path, O_RDONLY | O_CLOEXEC);
	if (in.fd == -1)
		err(EXIT_FATAL, "cannot open input file %s", cfg->input_path);
}

/* Close the input and free its buffer. */
void
input_close(void)
{
	if (in.fd > STDIN_FILENO)
		close(in.fd);
	in.fd = -1;
	buf_free(&in.buf);
}

/* The descriptor to poll, or -1 once the input is finished. */
int
input_fd(void)
{
	return in.eof ? -1 : in.fd;
}

/* Return 1 when all input was read and cut into tasks. */
int
input_eof(void)
{
	return in.eof && buf_used(&in.buf) == 0;
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
	return in.failed;
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
 * Cut the next task out of the buffered input into s.  Return 1 when s
 * holds a task (pending, or done with an error), 0 when more input is
 * needed or the input is finished.
 */
int
input_next(struct slot *s)
{
	char	*line;
	size_t	 len;
	int	 failed;

	for (;;) {
		line = buf_frame(&in.buf, in.sep, &len);
		if (line == NULL) {
			len = buf_used(&in.buf);
			if (!in.discarding && len > in.cfg->max_line) {
				in.discarding = 1;
				in.long_blank = 1;
			}
			if (in.discarding) {
				failed = input_drop(s, buf_head(&in.buf), len);
				buf_consume(&in.buf, len);
				if (in.eof)
					in.discarding = 0;
				return failed;
			}
			if (!in.eof || len == 0)
				return 0;
			/* The last task has no separator after it. */
			line = buf_head(&in.buf);
			in.buf.off = in.buf.len;
		} else if (in.discarding) {
			/* The end of the over-long task. */
			in.discarding = 0;
			if (input_drop(s, line, len))
				return 1;
			continue;
		}
		if (input_blank(line, len))
			continue;
		if (len > in.cfg->max_line) {
			input_too_long(s);
			return 1;
		}
		buf_add(&s->task, line, len);
		task_parse(s, in.cfg);
		return 1;
	}
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

	if (fstat(in.fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
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
