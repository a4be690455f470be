#!/bin/sh
# valgrind.sh: run bats files with ppool under valgrind (memcheck, leaks, fds).
# Usage: tests/valgrind.sh PPOOL-BINARY FILE.bats...  Exit 0 only when every
# test passed, no run had a memory error or leak (valgrind's exit 99 fails
# the test), and no run left a descriptor of its own open at exit.
set -u
real=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d)
wrapper=$logs/ppool
# Each run's arguments go beside its log (the shell's pid is valgrind's),
# to name the run a report is about.
cat >"$wrapper" <<WRAP
#!/bin/sh
printf '%s\\n' "\$*" >"$logs/args.\$\$"
PPOOL_NO_PIDFD=1 exec valgrind -q --error-exitcode=99 --leak-check=full \\
    --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --track-fds=yes \\
    --log-file="$logs/vg.%p" "$real" "\$@"
WRAP
chmod +x "$wrapper"

rc=0
PPOOL=$wrapper PPOOL_SRCDIR=$(dirname "$here") BATS_LIB_PATH=/usr/lib/bats \
    PPOOL_UNDER_VALGRIND=1 bats "$@" || rc=1

# A descriptor ppool opened and did not close is listed with the stack
# that opened it; inherited ones say so and are not ppool's doing.  A log
# with no arguments beside it is a child's that ended between fork and
# exec (ppool killed it, or exec failed): its descriptors and its heap are
# ppool's at the fork, not leaks, but a bad read or write there still is.
for f in "$logs"/vg.*; do
	[ -s "$f" ] || continue
	args=$logs/args.${f##*.}
	if [ ! -e "$args" ]; then
		if grep -q 'Invalid \(read\|write\)' "$f"; then
			echo "valgrind: errors in $f (a child before exec):"
			head -40 "$f"
			rc=1
		fi
		continue
	fi
	if awk '/Open (file|AF_UNIX socket) descriptor/ { fd = $0; getline;
	    if ($0 !~ /inherited from parent/) { print FILENAME ": " fd; bad = 1 } }
	    END { exit bad }' "$f"; then :; else
		echo "valgrind: descriptors left open by: ppool $(cat "$args")"
		rc=1
	fi
	if grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|Invalid \(read\|write\)' "$f"; then
		echo "valgrind: errors in $f (ppool $(cat "$args")):"
		head -40 "$f"
		rc=1
	fi
done
[ "$rc" -eq 0 ] && rm -rf "$logs"
exit "$rc"
