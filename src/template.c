/* template.c: GNU parallel's replacement strings in a command's words. */

#include "config.h"

#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* What a replacement string takes from an argument. */
enum repl_kind {
	REPL_WHOLE,		/* {} and {N} */
	REPL_NOEXT,		/* {.} */
	REPL_BASE,		/* {/} */
	REPL_DIR,		/* {//} */
	REPL_BASE_NOEXT,	/* {/.} */
	REPL_MEMBER		/* {name}: an object task's member */
};

/* What a task gives the replacement strings. */
struct template_task {
	char		**args;
	size_t		  nargs;
	const char	 *obj;		/* an object task's text, or NULL */
	size_t		  objlen;
	int		  context;	/* -X: repeat a word per argument */
};

/*
 * The length of a {name} at p, or 0: letters, digits, '_' and '-', the
 * first a letter or '_'; with --header, any column's name.
 */
static size_t
template_name(const char *p)
{
	size_t	 n;

	if (p[0] != '{')
		return 0;
	if (column_named()) {
		for (n = 1; p[n] != '\0' && p[n] != '}' && p[n] != '{'; n++)
			;
		if (p[n] == '}' && n > 1 && column_index(p + 1, n - 1) > 0)
			return n + 1;
	}
	if (!(p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') ||
	    (p[1] >= 'A' && p[1] <= 'Z')))
		return 0;
	for (n = 2; p[n] == '_' || p[n] == '-' || (p[n] >= 'a' &&
	    p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' &&
	    p[n] <= '9'); n++)
		;
	return p[n] == '}' ? n + 1 : 0;
}

/*
 * Recognise a replacement string at p: {}, {.}, {/}, {//}, {/.}, {N}, or
 * with members set {name}.  Return its length and set *kind and *index
 * (0: all arguments, else the 1-based position), or return 0 when p
 * starts no replacement string.  With --header, {name} is the column's
 * {N}.
 */
static size_t
template_match(const char *p, int members, enum repl_kind *kind,
    size_t *index)
{
	static const struct {
		const char	*text;
		enum repl_kind	 kind;
	} forms[] = {
		{ "{}", REPL_WHOLE },
		{ "{.}", REPL_NOEXT },
		{ "{/}", REPL_BASE },
		{ "{//}", REPL_DIR },
		{ "{/.}", REPL_BASE_NOEXT },
	};
	size_t	 i, n;

	for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		n = strlen(forms[i].text);
		if (strncmp(p, forms[i].text, n) == 0) {
			*kind = forms[i].kind;
			*index = 0;
			return n;
		}
	}
	if ((n = template_name(p)) != 0) {
		*kind = REPL_WHOLE;
		if (column_named() && (*index = column_index(p + 1,
		    n - 2)) > 0)
			return n;
		if (!members)
			return 0;
		*kind = REPL_MEMBER;
		*index = 0;
		return n;
	}
	if (p[0] != '{' || p[1] < '1' || p[1] > '9')
		return 0;
	*index = 0;
	for (n = 1; p[n] >= '0' && p[n] <= '9'; n++) {
		if (*index > 100000)
			return 0;
		*index = *index * 10 + (p[n] - '0');
	}
	if (p[n] != '}')
		return 0;
	*kind = REPL_WHOLE;
	return n + 1;
}

/* Return 1 when any word holds a replacement string. */
int
template_has_repl(char **words, int members)
{
	enum repl_kind	 kind;
	size_t		 index;
	const char	*p;

	for (; *words != NULL; words++) {
		for (p = *words; (p = strchr(p, '{')) != NULL; p++) {
			if (template_match(p, members, &kind, &index) != 0)
				return 1;
		}
	}
	return 0;
}

/*
 * How many times the words take all the arguments (-X counts each
 * argument that often); 1 when they take none, as they are appended.
 */
size_t
template_uses(char **words)
{
	enum repl_kind	 kind;
	size_t		 index, uses = 0, n;
	const char	*p;

	if (!template_has_repl(words, 0))
		return 1;
	for (; *words != NULL; words++) {
		for (p = *words; (p = strchr(p, '{')) != NULL; p++) {
			n = template_match(p, 0, &kind, &index);
			if (n != 0 && index == 0)
				uses++;
		}
	}
	return uses > 0 ? uses : 1;
}

/*
 * With --header, once the names are known: a {name} that names no column
 * stops the run before anything runs, as every task would fail alike.
 */
void
template_check_names(char **words)
{
	struct buf	 b;
	const char	*p;
	size_t		 n;

	if (words == NULL)
		return;
	for (; *words != NULL; words++) {
		for (p = *words; (p = strchr(p, '{')) != NULL; p++) {
			if ((n = template_name(p)) == 0 ||
			    column_index(p + 1, n - 2) > 0)
				continue;
			buf_init(&b);
			column_list(&b);
			errx(EXIT_FATAL, "COMMAND's %.*s names no column of the "
			    "header; its columns are: %s", (int)n, p,
			    b.len > 0 ? b.data : "(none)");
		}
	}
}

/* Append what a replacement string makes of one argument. */
static void
template_apply(struct buf *b, const char *arg, enum repl_kind kind)
{
	const char	*slash, *base, *dot;
	size_t		 n = strlen(arg);

	slash = strrchr(arg, '/');
	base = slash != NULL ? slash + 1 : arg;
	switch (kind) {
	case REPL_WHOLE:
	case REPL_MEMBER:
		buf_add(b, arg, n);
		return;
	case REPL_BASE:
		buf_addstr(b, base);
		return;
	case REPL_DIR:
		/*
		 * As dirname(1), which parallel's {//} follows: trailing
		 * slashes go first, then the last name and the slashes
		 * before it.
		 */
		while (n > 1 && arg[n - 1] == '/')
			n--;
		while (n > 0 && arg[n - 1] != '/')
			n--;
		if (n == 0) {
			buf_addc(b, '.');
			return;
		}
		while (n > 1 && arg[n - 1] == '/')
			n--;
		buf_add(b, arg, n);
		return;
	case REPL_NOEXT:
	case REPL_BASE_NOEXT:
		/* The extension runs from the basename's last dot, as in GNU parallel. */
		dot = strrchr(base, '.');
		if (kind == REPL_NOEXT) {
			if (dot != NULL)
				buf_add(b, arg, dot - arg);
			else
				buf_add(b, arg, n);
		} else {
			if (dot != NULL)
				buf_add(b, base, dot - base);
			else
				buf_addstr(b, base);
		}
		return;
	}
}

/*
 * Append the value of an object task's member {name} (p, n bytes with its
 * braces): a string decoded, any other value as its JSON text.  Return -1
 * with a message when the task has no such member.
 */
static int
template_member(struct buf *b, const struct template_task *t, const char *p,
    size_t n, char *err, size_t size)
{
	const char	*names[2];
	char		*name = xstrndup(p + 1, n - 2);
	size_t		 off, vlen, dup;
	int		 rc = 0;

	names[0] = name;
	names[1] = NULL;
	if (json_members(t->obj, t->objlen, names, &off, &vlen, NULL,
	    &dup) == -1) {
		snprintf(err, size, "ambiguous task: it names \"%s\" twice",
		    name);
		rc = -1;
	} else if (vlen == 0) {
		snprintf(err, size, "the task has no member \"%s\" for "
		    "COMMAND's {%s}", name, name);
		rc = -1;
	} else if (t->obj[off] == '"') {
		if (json_decode_string(t->obj + off, vlen, b) != 0) {
			snprintf(err, size, "member \"%s\" holds a NUL byte",
			    name);
			rc = -1;
		}
	} else
		buf_add(b, t->obj + off, vlen);
	free(name);
	return rc;
}

/*
 * Append a replacement string's value: one argument, or all joined by
 * spaces; an object task without "args" is its own one argument.
 */
static void
template_value(struct buf *b, const struct template_task *t,
    enum repl_kind kind, size_t index)
{
	size_t	 i;

	if (index > 0) {
		if (index <= t->nargs)
			template_apply(b, t->args[index - 1], kind);
		return;
	}
	if (t->nargs == 0 && t->obj != NULL) {
		buf_add(b, t->obj, t->objlen);
		return;
	}
	for (i = 0; i < t->nargs; i++) {
		if (i > 0)
			buf_addc(b, ' ');
		template_apply(b, t->args[i], kind);
	}
}

/* Add a copy of the string to a growing argv. */
static void
template_push(struct argv *av, const char *s, size_t n)
{
	char	*copy;

	copy = xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	argv_add(av, copy);
}

/*
 * Expand one word into b, with the replacement strings that take all the
 * arguments giving only argument one (>= 0, for -X's repetition) or all
 * (-1).  Return -1 with a message when a member is missing.
 */
static int
template_word(struct buf *b, const char *word, const struct template_task *t,
    long one, char *err, size_t size)
{
	struct template_task	 single = *t;
	enum repl_kind		 kind;
	size_t			 index, n;
	const char		*p, *start;

	if (one >= 0) {
		single.args = &t->args[one];
		single.nargs = 1;
	}
	buf_reset(b);
	buf_add(b, "", 0);
	for (start = p = word; (p = strchr(p, '{')) != NULL;) {
		n = template_match(p, t->obj != NULL, &kind, &index);
		if (n == 0) {
			p++;
			continue;
		}
		buf_add(b, start, p - start);
		if (kind == REPL_MEMBER) {
			if (template_member(b, t, p, n, err, size) == -1)
				return -1;
		} else
			template_value(b, index == 0 ? &single : t, kind,
			    index);
		p += n;
		start = p;
	}
	buf_addstr(b, start);
	return 0;
}

/* Whether a word takes all the arguments somewhere in it. */
static int
template_takes_all(const char *word, int members)
{
	enum repl_kind	 kind;
	size_t		 index, n;
	const char	*p;

	for (p = word; (p = strchr(p, '{')) != NULL; p++) {
		n = template_match(p, members, &kind, &index);
		if (n != 0 && index == 0 && kind != REPL_MEMBER)
			return 1;
	}
	return 0;
}

/*
 * Expand the command's words with the task's arguments into av.  A word
 * that is exactly a replacement string for all arguments ({}, {.}, ...)
 * becomes one word per argument; inside a longer word they are joined by
 * spaces, or with -X the word is repeated for each argument (GNU
 * parallel's context replace).  With no replacement string at all, the
 * arguments are appended, as xargs does.  No word is ever split or
 * re-quoted.  Appended arguments are moved from args to av (args[i]
 * becomes NULL).  Return -1 with a message when the task lacks a {name}.
 */
int
template_expand(char **words, char **args, size_t nargs, const char *obj,
    size_t objlen, int context, struct argv *av, char *err, size_t size)
{
	struct template_task	 t = { args, nargs, obj, objlen, context };
	struct buf		 b;
	enum repl_kind		 kind;
	size_t			 index, n, i;
	int			 any = template_has_repl(words, obj != NULL);
	int			 rc = 0;

	buf_init(&b);
	for (; *words != NULL && rc == 0; words++) {
		n = template_match(*words, obj != NULL, &kind, &index);
		if (n != 0 && (*words)[n] == '\0' && index == 0 &&
		    kind != REPL_MEMBER && (nargs > 0 || obj == NULL)) {
			for (i = 0; i < nargs; i++) {
				buf_reset(&b);
				template_apply(&b, args[i], kind);
				template_push(av, b.data, b.len);
			}
			continue;
		}
		if (context && nargs > 0 &&
		    template_takes_all(*words, obj != NULL)) {
			for (i = 0; i < nargs && rc == 0; i++) {
				rc = template_word(&b, *words, &t, (long)i,
				    err, size);
				if (rc == 0)
					template_push(av, b.data, b.len);
			}
			continue;
		}
		rc = template_word(&b, *words, &t, -1, err, size);
		if (rc == 0)
			template_push(av, b.data, b.len);
	}
	if (!any && rc == 0) {
		/* The last use of the arguments: av takes them over. */
		for (i = 0; i < nargs; i++) {
			argv_add(av, args[i]);
			args[i] = NULL;
		}
	}
	buf_free(&b);
	return rc;
}
