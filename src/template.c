/* template.c: GNU parallel's replacement strings in a command's words. */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* What a replacement string takes from an argument. */
enum repl_kind {
	REPL_WHOLE,		/* {} and {N} */
	REPL_NOEXT,		/* {.} */
	REPL_BASE,		/* {/} */
	REPL_DIR,		/* {//} */
	REPL_BASE_NOEXT		/* {/.} */
};

/*
 * Recognise a replacement string at p: {}, {.}, {/}, {//}, {/.} or {N}.
 * Return its length and set *kind and *index (0: all arguments, else the
 * 1-based position), or return 0 when p starts no replacement string.
 */
static size_t
template_match(const char *p, enum repl_kind *kind, size_t *index)
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
template_has_repl(char **words)
{
	enum repl_kind	 kind;
	size_t		 index;
	const char	*p;

	for (; *words != NULL; words++) {
		for (p = *words; (p = strchr(p, '{')) != NULL; p++) {
			if (template_match(p, &kind, &index) != 0)
				return 1;
		}
	}
	return 0;
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

/* Append a replacement string's value: one argument, or all joined by spaces. */
static void
template_value(struct buf *b, char **args, size_t nargs, enum repl_kind kind,
    size_t index)
{
	size_t	 i;

	if (index > 0) {
		if (index <= nargs)
			template_apply(b, args[index - 1], kind);
		return;
	}
	for (i = 0; i < nargs; i++) {
		if (i > 0)
			buf_addc(b, ' ');
		template_apply(b, args[i], kind);
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
 * Expand the command's words with the task's arguments into av.  A word
 * that is exactly a replacement string for all arguments ({}, {.}, ...)
 * becomes one word per argument; inside a longer word they are joined by
 * spaces.  With no replacement string at all, the arguments are appended,
 * as xargs does.  No word is ever split or re-quoted.
 */
void
template_expand(char **words, char **args, size_t nargs, struct argv *av)
{
	struct buf	 b;
	enum repl_kind	 kind;
	size_t		 index, n, i;
	const char	*p, *start;
	int		 any = template_has_repl(words);

	buf_init(&b);
	for (; *words != NULL; words++) {
		n = template_match(*words, &kind, &index);
		if (n != 0 && (*words)[n] == '\0' && index == 0) {
			for (i = 0; i < nargs; i++) {
				buf_reset(&b);
				template_apply(&b, args[i], kind);
				template_push(av, b.data, b.len);
			}
			continue;
		}
		buf_reset(&b);
		buf_add(&b, "", 0);
		for (start = p = *words; (p = strchr(p, '{')) != NULL;) {
			if ((n = template_match(p, &kind, &index)) == 0) {
				p++;
				continue;
			}
			buf_add(&b, start, p - start);
			template_value(&b, args, nargs, kind, index);
			p += n;
			start = p;
		}
		buf_addstr(&b, start);
		template_push(av, b.data, b.len);
	}
	if (!any) {
		for (i = 0; i < nargs; i++)
			template_push(av, args[i], strlen(args[i]));
	}
	buf_free(&b);
}
