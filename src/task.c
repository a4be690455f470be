/* task.c: a line to a task and a reply to a result, without any I/O. */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ppool.h"

/* Make a zeroed slot ready for its first task. */
void
task_init(struct slot *s)
{
	buf_init_home(&s->task, s->task_home, sizeof s->task_home);
	buf_init_home(&s->reply, s->reply_home, sizeof s->reply_home);
	buf_init(&s->error);
	buf_init(&s->errout);
	task_clear(s);
}

/*
 * Forget the previous task's state so the slot can hold a new one.  Memory
 * a big task or output took from the heap is given back.
 */
void
task_clear(struct slot *s)
{
	buf_free(&s->task);
	buf_free(&s->reply);
	buf_free(&s->error);
	buf_free(&s->errout);
	s->exit_code = -1;
	s->term_sig = 0;
	s->out_trunc = s->err_trunc = 0;
	s->dry = 0;
	s->block = NULL;
	s->id_off = s->id_len = 0;
	s->res_off = s->res_len = 0;
	s->res_kind = RESULT_STRING;
	s->has_result = 0;
	s->ok = 0;
	s->skip = 0;
	s->no_retry = 0;
	s->error_json = 0;
	s->attempts = 0;
	s->lost = 0;
	s->worker = 0;
	s->start = 0;
	s->ms = 0;
}

/* Forget a failed run's outcome, keeping the task and its attempts. */
void
task_retry(struct slot *s)
{
	buf_reset(&s->reply);
	buf_reset(&s->error);
	buf_reset(&s->errout);
	s->res_off = s->res_len = 0;
	s->has_result = 0;
	s->ok = 0;
	s->error_json = 0;
	s->exit_code = -1;
	s->term_sig = 0;
	s->out_trunc = s->err_trunc = 0;
	s->ms = 0;
	s->state = SLOT_PENDING;
}

/* Mark a task failed with a message, and done. */
void
task_fail(struct slot *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line, though a name or a path in it holds a newline. */
	buf_reset(&s->error);
	buf_add_line(&s->error, msg, strlen(msg));
	s->error_json = 0;
	s->ok = 0;
	s->state = SLOT_DONE;
}

/*
 * Check the task in s->task as format wants it.  A task that cannot run is
 * marked done with its error; otherwise it is pending.
 */
void
task_parse(struct slot *s, const struct config *cfg, enum input_format format)
{
	static const char *const task_id[] = { "id", NULL };
	const char	*text = s->task.data + s->task.off;
	size_t		 len = buf_used(&s->task), erroff, dup;

	s->state = SLOT_PENDING;
	if (format != INPUT_NUL && memchr(text, '\0', len) != NULL) {
		task_fail(s, "task holds a NUL byte");
		return;
	}
	switch (format) {
	case INPUT_JSON:
		switch (json_check(text, len, &erroff)) {
		case -1:
			task_fail(s, "invalid JSON at byte %zu", erroff + 1);
			return;
		case -2:
			task_fail(s, "JSON nested deeper than %d levels at "
			    "byte %zu (ppool's limit)", JSON_DEPTH_MAX,
			    erroff + 1);
			return;
		}
		if (json_members(text, len, task_id, &s->id_off, &s->id_len,
		    NULL, &dup) == -1) {
			s->id_off = s->id_len = 0;
			task_fail(s, "ambiguous task: it names \"id\" twice");
			return;
		}
		break;
	case INPUT_NUL:
		if (cfg->worker_cmd != NULL && memchr(text, '\n', len) != NULL)
			task_fail(s, "task holds a newline (a worker reads one "
			    "line per task)");
		break;
	case INPUT_LINES:
	case INPUT_CSV:
	case INPUT_BLOCK:
		break;
	}
}

/* Decide how a record shows the span [off, off+len) of the reply. */
static void
task_result(struct slot *s, size_t off, size_t len)
{
	const char	*text = s->reply.data + off;
	size_t		 a, n;

	if (json_check(text, len, NULL) == 0) {
		json_trim(text, len, &a, &n);
		s->res_off = off + a;
		s->res_len = n;
		s->res_kind = RESULT_JSON;
		return;
	}
	s->res_off = off;
	s->res_len = len;
	s->res_kind = json_utf8_valid(text, len) ? RESULT_STRING :
	    RESULT_BASE64;
}

/*
 * Find the member of an --envelope reply, an object with one "result" or
 * one "error" (other members are the worker's own), names compared after
 * their escapes are decoded: set *error to 0 or 1, and *off and *n to its
 * value.  Return -1 when the reply has neither, or more than one.
 */
static int
task_envelope(const char *text, size_t len, int *error, size_t *off,
    size_t *n)
{
	static const char *const names[] = { "result", "error", NULL };
	size_t	 o[2], vl[2], dup;

	if (json_check(text, len, NULL) != 0 ||
	    json_members(text, len, names, o, vl, NULL, &dup) == -1)
		return -1;
	/* A value is never empty: vl 0 means the member is not there. */
	if ((vl[0] > 0) == (vl[1] > 0))
		return -1;
	*error = vl[1] > 0;
	*off = *error ? o[1] : o[0];
	*n = *error ? vl[1] : vl[0];
	return 0;
}

/*
 * Take a worker's reply line for the task: the result, or with --envelope
 * the result or error inside it.  Raw output needs no JSON checks.
 */
void
task_reply(struct slot *s, const struct config *cfg, const char *line,
    size_t len)
{
	const char	*text;
	size_t		 off, n;
	int		 error;

	buf_reset(&s->reply);
	buf_add(&s->reply, line, len);
	s->state = SLOT_DONE;
	s->ok = 1;
	s->has_result = 1;
	s->res_off = 0;
	s->res_len = len;
	s->res_kind = RESULT_JSON;
	if (!cfg->envelope) {
		if (cfg->output_format == OUTPUT_JSON)
			task_result(s, 0, len);
		return;
	}

	text = s->reply.data;
	if (task_envelope(text, len, &error, &off, &n) == 0) {
		if (!error) {
			s->res_off = off;
			s->res_len = n;
			return;
		}
		s->ok = 0;
		buf_reset(&s->error);
		buf_add(&s->error, text + off, n);
		s->error_json = (text[off] == '"');
		s->has_result = 0;
		return;
	}
	task_fail(s, "reply is not an envelope ({\"result\": V} or "
	    "{\"error\": V})");
	s->has_result = 1;
	task_result(s, 0, len);
}

/* Append one JSON scalar as --tag shows it: a string decoded, else its text. */
static void
task_tag_word(struct buf *b, const char *text, size_t len)
{
	if (len > 0 && text[0] == '"')
		json_decode_string(text, len, b);
	else
		buf_add(b, text, len);
}

/* Append the words of a JSON array, joined by spaces. */
static void
task_tag_words(struct buf *b, const char *text, size_t len)
{
	size_t	 pos = 0, off, n;
	int	 first = 1;

	while (json_array_next(text, len, &pos, &off, &n)) {
		if (!first)
			buf_addc(b, ' ');
		first = 0;
		task_tag_word(b, text + off, n);
	}
}

/*
 * Append what --tag puts before a task's output lines: its arguments
 * joined by spaces, as GNU parallel does; a plain-text task is its text;
 * an object gives its "args", or its "cmd", or else its own text.
 */
void
task_tag(struct buf *b, const struct slot *s, const struct config *cfg)
{
	static const char *const names[] = { "args", "cmd", NULL };
	const char	*text = buf_head(&s->task);
	size_t		 len = buf_used(&s->task), a, n, off[2], vl[2], dup;

	if (cfg->task_format != INPUT_JSON) {
		buf_add(b, text, len);
		return;
	}
	json_trim(text, len, &a, &n);
	text += a;
	if (n > 0 && text[0] == '{' &&
	    json_members(text, n, names, off, vl, NULL, &dup) == 0) {
		if (vl[0] > 0 && text[off[0]] == '[') {
			task_tag_words(b, text + off[0], vl[0]);
			return;
		}
		if (vl[1] > 0) {
			if (text[off[1]] == '[')
				task_tag_words(b, text + off[1], vl[1]);
			else
				task_tag_word(b, text + off[1], vl[1]);
			return;
		}
	}
	if (n > 0 && text[0] == '[')
		task_tag_words(b, text, n);
	else
		task_tag_word(b, text, n);
}

/* Mark a task failed for running past its timeout of secs seconds. */
void
task_timed_out(struct slot *s, double secs)
{
	task_fail(s, TIMED_OUT_FMT, secs);
}
