/* fuzz_rows.c: a libFuzzer target for the row readers: --csv rows, --colsep columns, byte-exact JSON strings. */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ppool.h"

/* A row is a JSON array of strings: check it, and count its bytes back. */
static void
fuzz_check_row(const struct buf *row)
{
	size_t	 pos = 0, off, n;

	if (json_check(row->data, row->len, NULL) != 0 || row->data[0] != '[')
		abort();
	while (json_array_next(row->data, row->len, &pos, &off, &n)) {
		if (row->data[off] != '"')
			abort();
	}
}

/*
 * The first byte picks what is read and the size of the pieces the rest
 * arrives in (CSV is cut into rows as bytes come, so a row must come out
 * the same however its bytes were split).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 in, row, again;
	const char	*text = (const char *)data + 1;
	size_t		 len, piece, fed = 0, n;
	char		 err[256];
	int		 first = 1, rc;

	if (size == 0)
		return 0;
	len = size - 1;
	piece = 1 + data[0] / 4;
	buf_init(&in);
	buf_init(&row);
	buf_init(&again);
	switch (data[0] % 4) {
	case 0:
		/* --csv, fed in pieces; every row valid JSON, no byte lost. */
		column_init(NULL);
		for (;;) {
			if (fed < len) {
				n = len - fed < piece ? len - fed : piece;
				buf_add(&in, text + fed, n);
				fed += n;
			}
			buf_reset(&row);
			rc = column_csv_next(&in, fed == len, &row, err,
			    sizeof err);
			if (rc == 1)
				fuzz_check_row(&row);
			else if (rc == 0 && fed == len)
				break;
		}
		if (buf_used(&in) != 0)
			abort();
		column_free();
		break;
	case 1:
		/* --colsep on a line: valid JSON of strings. */
		column_init("[,;]+");
		buf_addc(&row, '[');
		column_split(&row, text, len, &first);
		buf_addc(&row, ']');
		fuzz_check_row(&row);
		column_free();
		break;
	default:
		/* json_add_bytes decodes back to exactly the bytes. */
		json_add_bytes(&row, text, len);
		if (json_check(row.data, row.len, NULL) != 0)
			abort();
		buf_add(&again, "", 0);
		if (json_decode_string(row.data, row.len, &again) !=
		    (memchr(text, '\0', len) != NULL))
			abort();
		if (again.len != len || memcmp(again.data, text, len) != 0)
			abort();
		break;
	}
	buf_free(&in);
	buf_free(&row);
	buf_free(&again);
	return 0;
}
