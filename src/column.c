/* column.c: a row cut into columns (--colsep, --csv) and their names (--header). */

#include "config.h"

#include <err.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* Where a CSV row's scan stands. */
enum csv_state {
	CSV_FIELD,		/* at the start of a field */
	CSV_PLAIN,		/* in a field without quotes */
	CSV_QUOTED,		/* in quotes */
	CSV_QUOTE		/* a quote in quotes: closing, or doubled */
};

static struct {
	regex_t		 re;
	int		 has_re;	/* --colsep */
	struct argv	 names;		/* --header: the columns' names */
	int		 named;		/* names were read */
	size_t		 csv_scan;	/* bytes of the row searched so far */
	enum csv_state	 csv_state;	/* ... and where that left the row */
	uint64_t	 csv_line;	/* the line a row starts on, from 1 */
	uint64_t	 csv_lines;	/* lines ended so far */
} C;

/* Compile --colsep's regex; a bad one stops the run before it starts. */
void
column_init(const char *colsep)
{
	struct buf	 re;
	const char	*p;
	char		 msg[256];
	int		 rc;

	argv_init(&C.names);
	C.csv_line = C.csv_lines = 0;
	if (colsep == NULL)
		return;
	/* \t is a tab, as in the Perl regex GNU parallel takes. */
	buf_init(&re);
	for (p = colsep; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 't') {
			buf_addc(&re, '\t');
			p++;
		} else
			buf_addc(&re, *p);
	}
	if ((rc = regcomp(&C.re, re.data, REG_EXTENDED)) != 0) {
		regerror(rc, &C.re, msg, sizeof msg);
		errx(EXIT_FATAL, "--colsep '%s' is not a POSIX extended regular "
		    "expression: %s", colsep, msg);
	}
	buf_free(&re);
	C.has_re = 1;
}

/* Free the regex and the names. */
void
column_free(void)
{
	if (C.has_re)
		regfree(&C.re);
	C.has_re = 0;
	argv_free(&C.names);
	C.named = 0;
}

/* Append one column to a JSON array being built: a comma first but once. */
static void
column_add(struct buf *task, const char *text, size_t len, int *first)
{
	if (!*first)
		buf_addc(task, ',');
	*first = 0;
	json_add_bytes(task, text, len);
}

/*
 * Append a --colsep column without the spaces and tabs around it, as GNU
 * parallel trims them by default.
 */
static void
column_trimmed(struct buf *task, const char *text, size_t len, int *first)
{
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	column_add(task, text, len, first);
}

/*
 * Append the columns of text to a JSON array being built in task: cut at
 * each match of --colsep, or the whole text as one column without it.  A
 * match of no bytes cuts nothing, as it would cut between every byte.
 */
void
column_split(struct buf *task, const char *text, size_t len, int *first)
{
	regmatch_t	 m;
	char		*copy;
	size_t		 pos = 0;

	if (!C.has_re) {
		column_add(task, text, len, first);
		return;
	}
	copy = xstrndup(text, len);
	while (pos <= len && regexec(&C.re, copy + pos, 1, &m,
	    pos > 0 ? REG_NOTBOL : 0) == 0 && m.rm_eo > m.rm_so) {
		column_trimmed(task, copy + pos, m.rm_so, first);
		pos += m.rm_eo;
	}
	column_trimmed(task, copy + pos, len - pos, first);
	free(copy);
}

/*
 * Append the fields of one CSV row, [row, row+len) without its line end,
 * as a JSON array (RFC 4180): a field in quotes may hold commas, line
 * ends and quotes doubled; a quote inside an unquoted field is a byte
 * like any other, and so are bytes after a closing quote.
 */
static void
column_csv_fields(struct buf *task, const char *row, size_t len)
{
	struct buf	 field;
	size_t		 i = 0;
	int		 first = 1, quoted;

	buf_init(&field);
	buf_addc(task, '[');
	for (;;) {
		buf_reset(&field);
		buf_add(&field, "", 0);
		quoted = i < len && row[i] == '"';
		if (quoted) {
			for (i++; i < len; i++) {
				if (row[i] == '"' && i + 1 < len &&
				    row[i + 1] == '"')
					buf_addc(&field, row[i++]);
				else if (row[i] == '"') {
					i++;
					break;
				} else
					buf_addc(&field, row[i]);
			}
		}
		for (; i < len && row[i] != ','; i++)
			buf_addc(&field, row[i]);
		column_add(task, field.data, field.len, &first);
		if (i >= len)
			break;
		i++;		/* the comma */
	}
	buf_addc(task, ']');
	buf_free(&field);
}

/*
 * Move the row's scan over byte c; return 1 when c ends the row (a line
 * end outside quotes).  A quote opens quotes only at a field's start.
 */
static int
column_csv_step(char c)
{
	switch (C.csv_state) {
	case CSV_QUOTED:
		if (c == '"')
			C.csv_state = CSV_QUOTE;
		return 0;
	case CSV_QUOTE:
		if (c == '"') {
			C.csv_state = CSV_QUOTED;
			return 0;
		}
		C.csv_state = CSV_PLAIN;
		break;
	case CSV_FIELD:
		if (c == '"') {
			C.csv_state = CSV_QUOTED;
			return 0;
		}
		C.csv_state = CSV_PLAIN;
		break;
	case CSV_PLAIN:
		break;
	}
	if (c == ',')
		C.csv_state = CSV_FIELD;
	return c == '\n';
}

/*
 * Cut the next CSV row out of in (eof: no more bytes will come) into task
 * as a JSON array.  Return 1 with a row, 0 when more input is needed or
 * there is none, -1 when the input ends inside quotes (err says where; the
 * bytes are consumed).  Blank lines are no rows.
 */
int
column_csv_next(struct buf *in, int eof, struct buf *task, char *err,
    size_t size)
{
	const char	*p;
	size_t		 i, len;

	for (;;) {
		if ((len = buf_used(in)) == 0)
			return 0;
		p = buf_head(in);
		if (C.csv_scan == 0)
			C.csv_line = C.csv_lines + 1;
		for (i = C.csv_scan; i < len; i++) {
			if (p[i] == '\n')
				C.csv_lines++;
			if (column_csv_step(p[i]))
				break;
		}
		if (i == len && !eof) {
			C.csv_scan = len;
			return 0;
		}
		if (i == len && C.csv_state == CSV_QUOTED) {
			snprintf(err, size, "unterminated quoted field in the "
			    "CSV row that starts on line %llu",
			    (unsigned long long)C.csv_line);
			buf_consume(in, len);
			C.csv_scan = 0;
			C.csv_state = CSV_FIELD;
			return -1;
		}
		C.csv_scan = 0;
		C.csv_state = CSV_FIELD;
		/* The line end is \n or \r\n. */
		len = i;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			buf_consume(in, i < buf_used(in) ? i + 1 : i);
			continue;
		}
		column_csv_fields(task, p, len);
		buf_consume(in, i < buf_used(in) ? i + 1 : i);
		return 1;
	}
}

/* Take the header row, a JSON array of strings, as the columns' names. */
void
column_set_names(const char *row, size_t len)
{
	struct buf	 name;
	size_t		 pos = 0, off, n;

	while (json_array_next(row, len, &pos, &off, &n)) {
		buf_init(&name);
		buf_add(&name, "", 0);
		json_decode_string(row + off, n, &name);
		argv_add(&C.names, name.data);
	}
	C.named = 1;
}

/* Take names already decoded (the first value of each ::: source). */
void
column_take_names(struct argv *names)
{
	size_t	 i;

	for (i = 0; i < names->n; i++)
		argv_add(&C.names, xstrdup(names->v[i]));
	C.named = 1;
}

/* Return 1 once the header gave the columns' names. */
int
column_named(void)
{
	return C.named;
}

/* How many columns the header names. */
size_t
column_count(void)
{
	return C.names.n;
}

/* Return the 1-based column the header names name (n bytes), or 0. */
size_t
column_index(const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < C.names.n; i++) {
		if (strlen(C.names.v[i]) == n &&
		    memcmp(C.names.v[i], name, n) == 0)
			return i + 1;
	}
	return 0;
}

/* Append the columns' names, comma-separated, for a message. */
void
column_list(struct buf *b)
{
	size_t	 i;

	for (i = 0; i < C.names.n; i++)
		buf_printf(b, "%s%s", i > 0 ? ", " : "", C.names.v[i]);
}
