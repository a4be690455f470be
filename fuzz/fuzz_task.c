/* fuzz_task.c: a libFuzzer target for the task parser, the job resolver and the template expander. */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* The COMMAND words the templates are expanded into. */
static char	*words[] = {
	"echo", "{}", "x{.}y", "{/}", "{//}", "{/.}", "{1}", "{12}", "{", "}{",
	NULL
};

/* Abort when ppool's own JSON output is not valid JSON. */
static void
fuzz_check_json(const struct buf *b)
{
	if (json_check(b->data, b->len, NULL) != 0)
		abort();
}

/* Run one input through parsing, resolving and record building. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	struct slot	 s;
	struct job	 job;
	struct buf	 out;
	char		 err[512];
	uint8_t		 mode;

	if (size == 0)
		return 0;
	mode = data[0];
	memset(&cfg, 0, sizeof cfg);
	cfg.input_format = mode % 3 == 0 ? INPUT_JSON : mode % 3 == 1 ?
	    INPUT_LINES : INPUT_NUL;
	cfg.task_format = cfg.input_format;
	cfg.output_format = OUTPUT_JSON;
	cfg.command = (mode & 4) ? words : NULL;
	cfg.worker_cmd = (mode & 8) ? "cat" : NULL;
	cfg.envelope = (mode & 16) != 0;
	cfg.max_line = 1 << 20;

	memset(&s, 0, sizeof s);
	task_clear(&s);
	buf_add(&s.task, data + 1, size - 1);
	task_parse(&s, &cfg, cfg.input_format);

	/* The task's id, when found, must be a valid JSON value. */
	buf_init(&out);
	if (s.id_len > 0) {
		buf_add(&out, s.task.data + s.id_off, s.id_len);
		fuzz_check_json(&out);
	}

	if (s.state == SLOT_PENDING && cfg.worker_cmd == NULL &&
	    resolve_job(&s, &cfg, &job, err, sizeof err) == 0) {
		/* What --dry-run prints must be valid JSON. */
		buf_reset(&out);
		buf_addstr(&out, "{\"seq\":1");
		resolve_print(&out, &job);
		buf_addc(&out, '}');
		fuzz_check_json(&out);
		resolve_free(&job);
	}

	/* The same bytes as a worker's reply. */
	task_reply(&s, &cfg, (const char *)data + 1, size - 1);
	if (s.has_result && s.res_kind == RESULT_JSON) {
		buf_reset(&out);
		buf_add(&out, s.reply.data + s.res_off, s.res_len);
		fuzz_check_json(&out);
	}
	buf_reset(&out);
	if (json_utf8_valid((const char *)data + 1, size - 1))
		json_add_string(&out, (const char *)data + 1, size - 1);
	else
		json_add_base64(&out, (const char *)data + 1, size - 1);
	fuzz_check_json(&out);
	buf_reset(&out);
	json_add_text(&out, (const char *)data + 1, size - 1);
	fuzz_check_json(&out);

	buf_free(&out);
	buf_free(&s.task);
	buf_free(&s.reply);
	buf_free(&s.error);
	buf_free(&s.errout);
	return 0;
}
