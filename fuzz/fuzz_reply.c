/* fuzz_reply.c: a libFuzzer target for a worker's replies, plain and --envelope. */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* The task every reply answers: it has an id, as the record shows. */
#define FUZZ_TASK	"{\"id\":[1,\"\\u00e9\"],\"n\":2}"

/* Abort when the len bytes at p are not one valid JSON value. */
static void
fuzz_check_json(const char *p, size_t len)
{
	if (json_check(p, len, NULL) != 0)
		abort();
}

/*
 * Build the record output.c would print for a worker's task (its fields
 * up to the result) and check that it is valid JSON.
 */
static void
fuzz_record(const struct slot *s, struct buf *b)
{
	const char	*res = s->reply.data + s->res_off, *err;
	size_t		 elen;

	buf_reset(b);
	buf_addstr(b, "{\"seq\":1");
	if (s->id_len > 0) {
		buf_addstr(b, ",\"id\":");
		buf_add(b, s->task.data + s->task.off + s->id_off, s->id_len);
	}
	if (s->ok)
		buf_addstr(b, ",\"ok\":true");
	else {
		buf_addstr(b, ",\"ok\":false,\"error\":");
		err = buf_head(&s->error);
		elen = buf_used(&s->error);
		if (s->error_json)
			buf_add(b, err, elen);
		else if (json_utf8_valid(err, elen))
			json_add_string(b, err, elen);
		else
			json_add_base64(b, err, elen);
	}
	if (s->has_result) {
		switch (s->res_kind) {
		case RESULT_JSON:
			buf_addstr(b, ",\"result\":");
			buf_add(b, res, s->res_len);
			break;
		case RESULT_STRING:
			buf_addstr(b, ",\"result\":");
			json_add_string(b, res, s->res_len);
			break;
		case RESULT_BASE64:
			buf_addstr(b, ",\"result_base64\":");
			json_add_base64(b, res, s->res_len);
			break;
		}
	}
	buf_addc(b, '}');
	fuzz_check_json(b->data, b->len);
}

/* Check what task_reply made of one reply line. */
static void
fuzz_reply(struct slot *s, const struct config *cfg, const char *line,
    size_t len, struct buf *b)
{
	task_reply(s, cfg, line, len);
	if (s->state != SLOT_DONE || buf_used(&s->reply) != len ||
	    s->res_off + s->res_len > len)
		abort();
	/* Without --envelope every reply is a result. */
	if (!cfg->envelope && (!s->ok || !s->has_result))
		abort();
	/* A worker's error is shown instead of a result, ppool's with it. */
	if (!s->ok && s->has_result && s->error_json)
		abort();
	if (s->error_json) {
		if (buf_used(&s->error) < 2 || buf_head(&s->error)[0] != '"')
			abort();
		fuzz_check_json(buf_head(&s->error), buf_used(&s->error));
		/* What raw output's warning decodes. */
		buf_reset(b);
		json_decode_string(buf_head(&s->error), buf_used(&s->error), b);
	}
	/* A JSON result is spliced into a record as it is. */
	if (s->has_result && s->res_kind == RESULT_JSON &&
	    (cfg->output_format == OUTPUT_JSON || cfg->envelope))
		fuzz_check_json(s->reply.data + s->res_off, s->res_len);
	if (cfg->output_format == OUTPUT_JSON)
		fuzz_record(s, b);
}

/*
 * Each line of the input after its first byte (the mode) is a reply to
 * the same slot, retried in between, as a worker's replies reach one
 * task that fails and runs again.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	struct slot	 s;
	struct buf	 b;
	const char	*text, *nl;
	size_t		 len, i, n;
	uint8_t		 mode;

	if (size == 0)
		return 0;
	mode = data[0];
	text = (const char *)data + 1;
	len = size - 1;
	memset(&cfg, 0, sizeof cfg);
	cfg.input_format = cfg.task_format = INPUT_JSON;
	cfg.output_format = (mode & 2) ? OUTPUT_RAW : OUTPUT_JSON;
	cfg.worker_cmd = "cat";
	cfg.envelope = (mode & 1) != 0;
	cfg.max_line = 1 << 20;

	memset(&s, 0, sizeof s);
	task_init(&s);
	buf_add(&s.task, FUZZ_TASK, sizeof FUZZ_TASK - 1);
	task_parse(&s, &cfg, INPUT_JSON);
	if (s.state != SLOT_PENDING || s.id_len == 0)
		abort();
	buf_init(&b);
	for (i = 0; i <= len; i += n + 1) {
		nl = memchr(text + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (text + i)) : len - i;
		if (i > 0)
			task_retry(&s);
		fuzz_reply(&s, &cfg, text + i, n, &b);
		if (nl == NULL)
			break;
	}
	buf_free(&b);
	task_clear(&s);
	return 0;
}
