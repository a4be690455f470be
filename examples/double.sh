#!/bin/sh
# double.sh: a ppool worker.  Reads one integer a line, writes twice it.
# One reply line per task line, in order; printf writes each line at once,
# so there is nothing to flush.  Complaints go to stderr, never stdout.
#
#   seq 10 | ppool -j 2 -w examples/double.sh

while IFS= read -r n; do
	case ${n#-} in
	'' | *[!0-9]*)
		printf 'double.sh: not an integer: %s\n' "$n" >&2
		printf 'null\n'
		;;
	*)
		printf '%s\n' "$((n * 2))"
		;;
	esac
done
