/* resolve.c: a task's JSON to the job it runs: argv stages, env, cwd, stdin. */

#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ppool.h"

/* Say why a task cannot run; return -1. */
static int __attribute__((format(printf, 3, 4)))
resolve_error(char *err, size_t size, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Decode a string value from its raw text; a NUL byte, which no argv,
 * environment or path can hold, is refused with a message naming what.
 */
static char *
resolve_string(const char *raw, size_t len, const char *what, char *err,
    size_t size)
{
	struct buf	 b;

	buf_init(&b);
	buf_reserve(&b, len);
	if (json_decode_string(raw, len, &b)) {
		buf_free(&b);
		resolve_error(err, size, "%s holds a NUL byte", what);
		return NULL;
	}
	return b.data;
}

/*
 * One JSON scalar as a command-line word, from its checked text: a
 * string's text, a number's own digits (never re-printed, so big numbers
 * stay exact), true or false.  The first byte tells which.
 */
static char *
resolve_word(const char *raw, size_t len, char *err, size_t size)
{
	switch (len > 0 ? raw[0] : '\0') {
	case '"':
		return resolve_string(raw, len, "an argument", err, size);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
	case 't': case 'f':
		return xstrndup(raw, len);
	}
	resolve_error(err, size, "arguments must be strings, numbers or "
	    "booleans, not %.*s", (int)(len > 40 ? 40 : len), raw);
	return NULL;
}

/*
 * Decode a string word into av's block (which has room: a word never
 * decodes longer than its text), or return NULL to take resolve_word's
 * way (a NUL byte in it, which that way refuses with its message).
 */
static char *
resolve_string_in_block(struct argv *av, const char *raw, size_t n)
{
	struct buf	 b;
	char		*w = av->block + av->block_used;

	buf_init_home(&b, w, av->block_len - av->block_used);
	if (json_decode_string(raw, n, &b) != 0 || b.data != w) {
		buf_free(&b);
		return NULL;
	}
	av->block_used += b.len + 1;
	return w;
}

/*
 * Append the words of a checked JSON array, [raw, raw+len), to av: the
 * strings in one block of memory (argv_block) when av has none yet, as
 * their decoded text is never longer than the array's.
 */
static int
resolve_words(const char *raw, size_t len, struct argv *av, char *err,
    size_t size)
{
	size_t	 pos = 0, off, n;
	int	 block = argv_block(av, len + 1) != NULL;
	char	*w;

	while (json_array_next(raw, len, &pos, &off, &n)) {
		if (block && raw[off] == '"' && (w =
		    resolve_string_in_block(av, raw + off, n)) != NULL) {
			argv_add(av, w);
			continue;
		}
		if ((w = resolve_word(raw + off, n, err, size)) == NULL)
			return -1;
		argv_add(av, w);
	}
	return 0;
}

/* ppool's fields of a task object, in the order of resolve_names. */
enum resolve_field {
	FIELD_ARGS,
	FIELD_CMD,
	FIELD_CWD,
	FIELD_ENV,
	FIELD_PIPELINE,
	FIELD_STDIN,
	FIELD_TIMEOUT,
	FIELD_COUNT
};

/* Their names; "id" is task.c's (task_parse). */
static const char *const resolve_names[FIELD_COUNT + 1] = {
	"args", "cmd", "cwd", "env", "pipeline", "stdin", "timeout", NULL
};

/*
 * A task object's fields, each as its item in cJSON's tree and as the raw
 * text of its value.  One scan of the text (json_members, which decodes
 * names) finds them and gives each one's place among the members; the item
 * is taken by that place, never by name, so both are the same member.
 */
struct fields {
	const cJSON	*item[FIELD_COUNT];	/* NULL: the task has none */
	const char	*raw[FIELD_COUNT];
	size_t		 len[FIELD_COUNT];
};

/* Whether a cJSON item is of the type its raw text's first byte says. */
static int
resolve_same(const cJSON *item, const char *raw)
{
	switch (raw[0]) {
	case '"':
		return cJSON_IsString(item);
	case '[':
		return cJSON_IsArray(item);
	case '{':
		return cJSON_IsObject(item);
	case 't':
		return cJSON_IsTrue(item);
	case 'f':
		return cJSON_IsFalse(item);
	case 'n':
		return cJSON_IsNull(item);
	}
	return cJSON_IsNumber(item);
}

/*
 * Find ppool's fields in a task: root is cJSON's tree of it, or NULL when
 * it is no object (then it has none), and [text, text+len) its checked
 * text, trimmed.  A field named twice is refused, as it is ambiguous.
 */
static int
resolve_fields(const cJSON *root, const char *text, size_t len,
    struct fields *f, char *err, size_t size)
{
	size_t	 off[FIELD_COUNT], n[FIELD_COUNT], idx[FIELD_COUNT], dup, i;

	memset(f, 0, sizeof *f);
	if (root == NULL)
		return 0;
	if (!resolve_same(root, text))
		return resolve_error(err, size, "invalid JSON");
	if (json_members(text, len, resolve_names, off, n, idx, &dup) == -1)
		return resolve_error(err, size, "ambiguous task: it names "
		    "\"%s\" twice", resolve_names[dup]);
	for (i = 0; i < FIELD_COUNT; i++) {
		if (n[i] == 0)
			continue;
		f->raw[i] = text + off[i];
		f->len[i] = n[i];
		if (idx[i] <= INT_MAX)
			f->item[i] = cJSON_GetArrayItem(root, (int)idx[i]);
		/* Both parsers read one text: they agree, or it is refused. */
		if (f->item[i] == NULL || !resolve_same(f->item[i], f->raw[i]))
			return resolve_error(err, size, "invalid JSON");
	}
	return 0;
}

/* Add one stage to the job. */
static struct argv *
resolve_stage(struct job *job)
{
	job->stages = xreallocarray(job->stages, job->nstages + 1,
	    sizeof *job->stages);
	argv_init(&job->stages[job->nstages]);
	return &job->stages[job->nstages++];
}

/*
 * Read the optional fields: stdin, env, cwd, timeout.  Strings are decoded
 * from the task's own text, since cJSON cuts them at a NUL byte.
 */
static int
resolve_options(const struct fields *f, struct job *job, char *err,
    size_t size)
{
	const cJSON	*item, *var;
	const char	*raw;
	size_t		 rawlen, pos = 0, key, klen, off, n;
	char		*name, *value, what[128];

	if ((item = f->item[FIELD_STDIN]) != NULL) {
		if (!cJSON_IsString(item))
			return resolve_error(err, size,
			    "\"stdin\" must be a string");
		json_decode_string(f->raw[FIELD_STDIN], f->len[FIELD_STDIN],
		    &job->stdin_text);
		job->has_stdin = 1;
	}
	if ((item = f->item[FIELD_CWD]) != NULL) {
		if (!cJSON_IsString(item))
			return resolve_error(err, size,
			    "\"cwd\" must be a string");
		if ((job->cwd = resolve_string(f->raw[FIELD_CWD],
		    f->len[FIELD_CWD], "\"cwd\"", err, size)) == NULL)
			return -1;
	}
	if ((item = f->item[FIELD_TIMEOUT]) != NULL) {
		if (!cJSON_IsNumber(item) || !(item->valuedouble > 0) ||
		    item->valuedouble > SECONDS_MAX)
			return resolve_error(err, size, "\"timeout\" must be "
			    "a number of seconds above 0, at most 1000000000");
		job->timeout = item->valuedouble;
	}
	if ((item = f->item[FIELD_ENV]) != NULL) {
		raw = f->raw[FIELD_ENV];
		rawlen = f->len[FIELD_ENV];
		if (!cJSON_IsObject(item))
			return resolve_error(err, size,
			    "\"env\" must be an object of strings");
		cJSON_ArrayForEach(var, item) {
			if (!cJSON_IsString(var) || var->string[0] == '\0' ||
			    strchr(var->string, '=') != NULL)
				return resolve_error(err, size, "\"env\" must "
				    "map variable names to strings");
			/* The raw member: cJSON cuts its key at a NUL. */
			if (json_object_next(raw, rawlen, &pos, &key, &klen,
			    &off, &n) == 0)
				return resolve_error(err, size,
				    "malformed \"env\"");
			snprintf(what, sizeof what, "\"env\" name %s",
			    var->string);
			if ((name = resolve_string(raw + key, klen, what, err,
			    size)) == NULL)
				return -1;
			snprintf(what, sizeof what, "\"env\" value of %s",
			    var->string);
			if ((value = resolve_string(raw + off, n, what, err,
			    size)) == NULL) {
				free(name);
				return -1;
			}
			argv_add(&job->env_names, name);
			argv_add(&job->env_values, value);
		}
	}
	return 0;
}

/* A task without COMMAND: an object with "cmd" or "pipeline". */
static int
resolve_object(const struct fields *f, struct job *job, char *err,
    size_t size)
{
	const cJSON	*cmd, *pl, *stage;
	const char	*raw;
	size_t		 rawlen, pos = 0, off, n;
	struct argv	*av;
	char		*shell;

	cmd = f->item[FIELD_CMD];
	pl = f->item[FIELD_PIPELINE];
	if (cmd != NULL && pl != NULL)
		return resolve_error(err, size, "a task gives both \"cmd\" "
		    "and \"pipeline\": give one");
	if (cmd == NULL && pl == NULL)
		return resolve_error(err, size, "a task needs one of \"cmd\" "
		    "or \"pipeline\" when no COMMAND is given");
	if (cmd != NULL && cJSON_IsString(cmd)) {
		if ((shell = resolve_string(f->raw[FIELD_CMD],
		    f->len[FIELD_CMD], "\"cmd\"", err, size)) == NULL)
			return -1;
		job->kind = JOB_SHELL;
		av = resolve_stage(job);
		argv_add(av, xstrdup("/bin/sh"));
		argv_add(av, xstrdup("-c"));
		argv_add(av, shell);
		return 0;
	}
	if (cmd != NULL) {
		if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) == 0)
			return resolve_error(err, size, "\"cmd\" must be a "
			    "string or a non-empty array");
		job->kind = JOB_ARGV;
		return resolve_words(f->raw[FIELD_CMD], f->len[FIELD_CMD],
		    resolve_stage(job), err, size);
	}
	raw = f->raw[FIELD_PIPELINE];
	rawlen = f->len[FIELD_PIPELINE];
	if (!cJSON_IsArray(pl) || cJSON_GetArraySize(pl) == 0)
		return resolve_error(err, size, "\"pipeline\" must be a "
		    "non-empty array of commands");
	job->kind = JOB_PIPELINE;
	cJSON_ArrayForEach(stage, pl) {
		if (!json_array_next(raw, rawlen, &pos, &off, &n))
			return resolve_error(err, size, "malformed pipeline");
		if (!cJSON_IsArray(stage) || cJSON_GetArraySize(stage) == 0)
			return resolve_error(err, size, "each stage of "
			    "\"pipeline\" must be a non-empty array");
		if (resolve_words(raw + off, n, resolve_stage(job), err,
		    size) == -1)
			return -1;
	}
	return 0;
}

/*
 * Check that every stage names a program: COMMAND's replacement strings
 * may expand to nothing, or to an empty first word, for some tasks.
 */
static int
resolve_check_names(const struct job *job, char *err, size_t size)
{
	size_t	 i;

	for (i = 0; i < job->nstages; i++) {
		if (job->stages[i].n == 0)
			return resolve_error(err, size, "the command is empty: "
			    "COMMAND's replacement strings gave no word for "
			    "this task");
		if (job->stages[i].v[0][0] == '\0')
			return resolve_error(err, size, "the command name is "
			    "an empty string");
	}
	return 0;
}

/*
 * A task with COMMAND: its arguments, from its checked text, trimmed: a
 * scalar is one, an array's elements are one each, and an object's "args"
 * array (f has its fields) gives them.
 */
static int
resolve_args(const struct fields *f, const char *text, size_t len,
    struct argv *args, char *err, size_t size)
{
	const cJSON	*item;
	char		*w;

	if (text[0] == '[')
		return resolve_words(text, len, args, err, size);
	if (text[0] != '{') {
		if ((w = resolve_word(text, len, err, size)) == NULL)
			return -1;
		argv_add(args, w);
		return 0;
	}
	if ((item = f->item[FIELD_ARGS]) == NULL)
		return 0;
	if (!cJSON_IsArray(item))
		return resolve_error(err, size, "\"args\" must be an array");
	return resolve_words(f->raw[FIELD_ARGS], f->len[FIELD_ARGS], args,
	    err, size);
}

/* Make an empty job. */
void
resolve_init(struct job *job)
{
	memset(job, 0, sizeof *job);
	argv_init(&job->files);
	argv_init(&job->env_names);
	argv_init(&job->env_values);
}

/* Free a job's memory. */
void
resolve_free(struct job *job)
{
	size_t	 i;

	for (i = 0; i < job->nstages; i++)
		argv_free(&job->stages[i]);
	free(job->stages);
	argv_free(&job->files);
	argv_free(&job->env_names);
	argv_free(&job->env_values);
	free(job->cwd);
	buf_free(&job->stdin_text);
	memset(job, 0, sizeof *job);
}

/*
 * Work out what the task runs, given the COMMAND words (or NULL).  Return
 * 0, or -1 with a message in err when the task cannot run.
 */
int
resolve_job(const struct slot *s, const struct config *cfg, struct job *job,
    char *err, size_t size)
{
	const char	*text = s->task.data;
	size_t		 len = buf_used(&s->task);
	cJSON		*root = NULL;
	struct fields	 f;
	struct argv	 args, *av;
	size_t		 off, n;
	int		 rc = -1;

	resolve_init(job);
	argv_init(&args);
	if (cfg->task_format != INPUT_JSON) {
		/* A plain-text task is one argument, or a shell command. */
		if (cfg->command == NULL) {
			job->kind = JOB_SHELL;
			argv_add(resolve_stage(job), xstrdup("/bin/sh"));
			argv_add(&job->stages[0], xstrdup("-c"));
			argv_add(&job->stages[0], xstrndup(text, len));
		} else {
			/* --pipe: a block is the command's stdin, no argument. */
			if (cfg->task_format != INPUT_BLOCK)
				argv_add(&args, xstrndup(text, len));
			job->kind = JOB_ARGV;
			if (template_expand(cfg->command, args.v, args.n, NULL,
			    0, cfg->xargs, resolve_stage(job), err,
			    size) == -1)
				goto out;
		}
		rc = resolve_check_names(job, err, size);
		goto out;
	}
	/*
	 * The line was checked as JSON when it was read, so its first byte
	 * says what it is; only an object needs cJSON's tree, for its fields.
	 * cJSON may refuse a text json_check took (a lone surrogate escape).
	 */
	json_trim(text, len, &off, &n);
	if (n == 0) {
		resolve_error(err, size, "invalid JSON");
		goto out;
	}
	if (text[off] == 'n') {
		resolve_error(err, size, "a task cannot be null");
		goto out;
	}
	if (cfg->command == NULL && text[off] != '{') {
		resolve_error(err, size, "a task needs one of \"cmd\" or "
		    "\"pipeline\" when no COMMAND is given");
		goto out;
	}
	if (text[off] == '{' &&
	    (root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1)) == NULL) {
		resolve_error(err, size, "invalid JSON");
		goto out;
	}
	if (resolve_fields(root, text + off, n, &f, err, size) == -1)
		goto out;
	if (cfg->command == NULL) {
		if (resolve_object(&f, job, err, size) == -1)
			goto out;
	} else {
		if (resolve_args(&f, text + off, n, &args, err, size) == -1)
			goto out;
		job->kind = JOB_ARGV;
		av = resolve_stage(job);
		if (template_expand(cfg->command, args.v, args.n,
		    text[off] == '{' ? text + off : NULL, n, cfg->xargs,
		    av, err, size) == -1)
			goto out;
		/* Arguments moved to the command take their block along. */
		if (args.n > 0 && args.v[0] == NULL)
			argv_adopt(av, &args);
	}
	if (resolve_options(&f, job, err, size) == -1)
		goto out;
	rc = resolve_check_names(job, err, size);
out:
	cJSON_Delete(root);
	argv_free(&args);
	if (rc == -1)
		resolve_free(job);
	return rc;
}

/* Append one argv as a JSON array of strings. */
static void
resolve_print_argv(struct buf *b, const struct argv *av)
{
	size_t	 i;

	buf_addc(b, '[');
	for (i = 0; i < av->n; i++) {
		if (i > 0)
			buf_addc(b, ',');
		json_add_text(b, av->v[i], strlen(av->v[i]));
	}
	buf_addc(b, ']');
}

/* Append the job as JSON fields (for --dry-run): cmd or pipeline, and options. */
void
resolve_print(struct buf *b, const struct job *job)
{
	size_t	 i;

	if (job->kind == JOB_SHELL) {
		buf_addstr(b, ",\"shell\":");
		json_add_text(b, job->stages[0].v[2],
		    strlen(job->stages[0].v[2]));
	} else if (job->kind == JOB_ARGV) {
		buf_addstr(b, ",\"cmd\":");
		resolve_print_argv(b, &job->stages[0]);
	} else {
		buf_addstr(b, ",\"pipeline\":[");
		for (i = 0; i < job->nstages; i++) {
			if (i > 0)
				buf_addc(b, ',');
			resolve_print_argv(b, &job->stages[i]);
		}
		buf_addc(b, ']');
	}
	if (job->env_names.n > 0) {
		buf_addstr(b, ",\"env\":{");
		for (i = 0; i < job->env_names.n; i++) {
			if (i > 0)
				buf_addc(b, ',');
			json_add_text(b, job->env_names.v[i],
			    strlen(job->env_names.v[i]));
			buf_addc(b, ':');
			json_add_text(b, job->env_values.v[i],
			    strlen(job->env_values.v[i]));
		}
		buf_addc(b, '}');
	}
	if (job->cwd != NULL) {
		buf_addstr(b, ",\"cwd\":");
		json_add_text(b, job->cwd, strlen(job->cwd));
	}
	if (job->has_stdin) {
		buf_addstr(b, ",\"stdin\":");
		/* An empty "stdin" has no memory of its own. */
		json_add_text(b, job->stdin_text.len > 0 ?
		    job->stdin_text.data : "", job->stdin_text.len);
	}
	if (job->timeout > 0)
		buf_printf(b, ",\"timeout\":%g", job->timeout);
}
