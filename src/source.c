/* source.c: the tasks of ::: and :::: input sources, one combination each. */

#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppool.h"

/* One input source: its values, and where the odometer stands. */
struct source {
	struct argv	 values;
	size_t		 pos;		/* the value of the current combination */
	int		 linked;	/* zipped with the source before it */
};

static struct {
	struct source	*v;
	size_t		 n;
	int		 link;		/* --link: every source in one group */
	int		 started;
	int		 done;
} S;

/* Whether a word starts a source, and of which kind. */
static int
source_word(const char *w, int *file, int *linked)
{
	static const struct {
		const char	*text;
		int		 file;
		int		 linked;
	} kinds[] = {
		{ ":::", 0, 0 }, { ":::+", 0, 1 },
		{ "::::", 1, 0 }, { "::::+", 1, 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(w, kinds[i].text) == 0) {
			*file = kinds[i].file;
			*linked = kinds[i].linked;
			return 1;
		}
	}
	return 0;
}

/* Return the index of the first word that starts a source, or argc. */
int
source_find(int argc, char **argv)
{
	int	 i, file, linked;

	for (i = 0; i < argc; i++) {
		if (source_word(argv[i], &file, &linked))
			return i;
	}
	return argc;
}

/* Read a :::: file's values, one a line (or NUL-ended with -0). */
static void
source_read(struct source *src, const char *path, int sep)
{
	struct buf	 b;
	char		*line;
	size_t		 len;
	ssize_t		 n;
	int		 fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(EXIT_FATAL, "cannot open the values of :::: %s", path);
	buf_init(&b);
	while ((n = buf_read(&b, fd, 1 << 16)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(EXIT_FATAL, "cannot read the values of :::: %s",
			    path);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	while ((line = buf_frame(&b, sep, &len)) != NULL)
		argv_add(&src->values, xstrndup(line, len));
	if (buf_used(&b) > 0)
		argv_add(&src->values, xstrndup(buf_head(&b), buf_used(&b)));
	buf_free(&b);
}

/* Add a source, zipped with the one before when linked. */
static struct source *
source_new(int linked)
{
	struct source	*src;

	S.v = xreallocarray(S.v, S.n + 1, sizeof *S.v);
	src = &S.v[S.n++];
	memset(src, 0, sizeof *src);
	argv_init(&src->values);
	src->linked = linked && S.n > 1;
	return src;
}

/* Fill a source from a file; an empty file stops the run. */
static void
source_file(struct source *src, const char *path, int nul)
{
	source_read(src, path, nul ? '\0' : '\n');
	if (src->values.n == 0)
		errx(EXIT_FATAL, "the values of :::: %s: the file is empty",
		    path);
}

/* Stop the run: the source word at argv[i] has no values. */
static void __attribute__((noreturn))
source_empty(char **argv, int i, int base)
{
	errx(EXIT_FATAL, "%s at argument %d has no values: give them after "
	    "it, or leave it out", argv[i], base + i);
}

/*
 * Take the sources from argv, which starts with a source word: values of
 * ::: and :::+ are the words up to the next source word; :::: and ::::+
 * name files.  A source with no values is a usage error: nothing would
 * run, and a run that does nothing quietly hides a typo.  base is the
 * place of argv[0] among ppool's arguments, for messages.
 */
void
source_init(int argc, char **argv, int base, int nul, int link)
{
	struct source	*src = NULL;
	int		 i, file = 0, linked;

	S.link = link;
	for (i = 0; i < argc; i++) {
		if (!source_word(argv[i], &file, &linked)) {
			/* Each file after :::: is a source of its own. */
			if (file)
				source_file(source_new(0), argv[i], nul);
			else
				argv_add(&src->values, xstrdup(argv[i]));
			continue;
		}
		if (src != NULL && src->values.n == 0)
			source_empty(argv, i - 1, base);
		src = source_new(linked);
		if (file) {
			if (i + 1 == argc || source_word(argv[i + 1], &file,
			    &linked))
				errx(EXIT_FATAL, "%s at argument %d wants a file "
				    "name after it", argv[i], base + i);
			source_file(src, argv[++i], nul);
			file = 1;
		}
	}
	if (src != NULL && src->values.n == 0)
		source_empty(argv, argc - 1, base);
}

/* Return 1 when the tasks come from ::: sources. */
int
source_any(void)
{
	return S.n > 0;
}

/*
 * With --header: take each source's first value as the name of its
 * column; return the names (NULL-terminated, owned by source.c).
 */
void
source_names(struct argv *names)
{
	size_t	 i;

	for (i = 0; i < S.n; i++) {
		if (S.v[i].values.n == 0)
			errx(EXIT_FATAL, "--header: a source has no value to "
			    "name its column");
		argv_add(names, S.v[i].values.v[0]);
		/* The rest are the values. */
		memmove(S.v[i].values.v, S.v[i].values.v + 1,
		    S.v[i].values.n * sizeof *S.v[i].values.v);
		if (--S.v[i].values.n == 0)
			errx(EXIT_FATAL, "--header: the source of column %s "
			    "has no values after its name", names->v[i]);
	}
}

/*
 * Whether source i starts a group: sources of a group move together (a
 * zip); groups are combined, the first varying slowest.
 */
static int
source_leads(size_t i)
{
	return i == 0 || (!S.link && !S.v[i].linked);
}

/* The index of the value source i shows, given its group's step. */
static int
source_in_range(size_t lead)
{
	size_t	 i;

	/* A zip ends with its shortest source; --link with its longest. */
	for (i = lead; i < S.n && (i == lead || !source_leads(i)); i++) {
		if (S.link ? S.v[lead].pos < S.v[i].values.n :
		    S.v[lead].pos >= S.v[i].values.n)
			return S.link;
	}
	return !S.link;
}

/*
 * Move the odometer one step: the last group first.  Return 0 when every
 * combination was given.
 */
static int
source_step(void)
{
	size_t	 i = S.n, lead;

	while (i > 0) {
		/* Find the lead of the group that ends at i - 1. */
		for (lead = i - 1; !source_leads(lead); lead--)
			;
		S.v[lead].pos++;
		if (source_in_range(lead))
			return 1;
		S.v[lead].pos = 0;
		i = lead;
	}
	return 0;
}

/*
 * Append the next combination to task as a JSON array of strings, each
 * value split into columns when --colsep is given.  Return 0 when all
 * were given.
 */
int
source_next(struct buf *task)
{
	size_t	 i, lead = 0, k;
	int	 first = 1;

	if (S.done)
		return 0;
	if (S.started && !source_step()) {
		S.done = 1;
		return 0;
	}
	if (!S.started) {
		S.started = 1;
		/* A zip of sources of which one is empty gives nothing. */
		for (i = 0; i < S.n; i++) {
			if (source_leads(i) && !source_in_range(i)) {
				S.done = 1;
				return 0;
			}
		}
	}
	buf_addc(task, '[');
	for (i = 0; i < S.n; i++) {
		if (source_leads(i))
			lead = i;
		k = S.v[lead].pos % S.v[i].values.n;
		column_split(task, S.v[i].values.v[k],
		    strlen(S.v[i].values.v[k]), &first);
	}
	buf_addc(task, ']');
	return 1;
}

/* Return 1 once every combination was given. */
int
source_done(void)
{
	return S.done;
}

/* Free the sources. */
void
source_free(void)
{
	size_t	 i;

	for (i = 0; i < S.n; i++)
		argv_free(&S.v[i].values);
	free(S.v);
	memset(&S, 0, sizeof S);
}
