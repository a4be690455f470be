/* results.c: --results DIR: a task's output and record in files of DIR/SEQ/. */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* Write the path DIR/SEQ[/name] of a task into b. */
static void
results_path(struct buf *b, const char *dir, uint64_t seq, const char *name)
{
	buf_reset(b);
	buf_printf(b, "%s/%llu%s%s", dir, (unsigned long long)seq,
	    name != NULL ? "/" : "", name != NULL ? name : "");
}

/* Append the task's directory, DIR/SEQ, as a JSON string. */
void
results_add_dir(struct buf *b, const char *dir, uint64_t seq)
{
	struct buf	 path;

	buf_init(&path);
	results_path(&path, dir, seq, NULL);
	json_add_text(b, path.data, path.len);
	buf_free(&path);
}

/*
 * Open (create, or empty) DIR/SEQ/stdout and DIR/SEQ/stderr for a run of
 * the task into fds.  Return 0, or -1 with a message in err.
 */
int
results_open(const char *dir, uint64_t seq, int fds[2], char *err,
    size_t size)
{
	static const char *const names[2] = { "stdout", "stderr" };
	struct buf	 path;
	int		 i;

	fds[0] = fds[1] = -1;
	buf_init(&path);
	results_path(&path, dir, seq, NULL);
	if (mkdir(path.data, 0777) == -1 && errno != EEXIST) {
		snprintf(err, size, "--results: cannot make directory %s: %s",
		    path.data, strerror(errno));
		buf_free(&path);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		results_path(&path, dir, seq, names[i]);
		fds[i] = open(path.data, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0666);
		if (fds[i] == -1) {
			snprintf(err, size, "--results: cannot open %s: %s",
			    path.data, strerror(errno));
			if (i == 1)
				close(fds[0]);
			fds[0] = -1;
			buf_free(&path);
			return -1;
		}
	}
	buf_free(&path);
	return 0;
}

/* Write all of [p, p+n) to fd; return 0, or -1 with errno. */
int
results_write(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write a task's record (one line) to DIR/SEQ/record.json, replacing an
 * earlier one whole: written aside, then renamed over it.  A failure is
 * told on stderr; the record still goes to stdout.
 */
void
results_record(const char *dir, uint64_t seq, const char *rec, size_t len)
{
	struct buf	 path, tmp;
	int		 fd, rc = -1;

	buf_init(&path);
	buf_init(&tmp);
	/* A task that never started has no directory yet. */
	results_path(&tmp, dir, seq, NULL);
	(void)mkdir(tmp.data, 0777);
	results_path(&path, dir, seq, "record.json");
	results_path(&tmp, dir, seq, ".record.json.tmp");
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd != -1) {
		rc = results_write(fd, rec, len);
		if (close(fd) == -1)
			rc = -1;
		if (rc == 0)
			rc = rename(tmp.data, path.data);
		if (rc == -1)
			(void)unlink(tmp.data);
	}
	if (rc == -1)
		fprintf(stderr, "ppool: --results: cannot write %s: %s\n",
		    path.data, strerror(errno));
	buf_free(&path);
	buf_free(&tmp);
}
