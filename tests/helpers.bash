# helpers.bash: shared by every tests/*.bats file (loaded with `load helpers`).
#
# Environment (set by `make check`): PPOOL, the binary under test; PPOOL_SRCDIR,
# the top of the source tree; BATS_LIB_PATH, where bats-support & co. live.
# Tools used besides bats: jq, pgrep/ps (procps), timeout and base64 (coreutils).

# No test may hang the suite: bats aborts a test after this many seconds.
# A file may raise it for its slow tests (memory.bats does).
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

: "${PPOOL_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${PPOOL:=$PPOOL_SRCDIR/src/ppool}"
export PPOOL PPOOL_SRCDIR

# A string unique to this test, put in the command line of every worker a test
# starts (and so of ppool itself), so that `pgrep -f "$MARKER"` finds exactly
# the processes this test is responsible for.
MARKER="ppooltest_$$_${BATS_SUITE_TEST_NUMBER:-0}_$RANDOM"

# Pids of background processes a test started; teardown kills what is left.
BG_PIDS=()

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# Leftovers of this test only (the marker is unique), each by its pid.
	for pid in $(pgrep -f "$MARKER"); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# ppool ARG...: run the binary under test (for `run ppool ...`).
ppool() {
	"$PPOOL" "$@"
}

# skip_under_valgrind WHY: skip a test that cannot hold under
# tests/valgrind.sh, whose valgrind opens descriptors of its own and
# carries out exec itself.
skip_under_valgrind() {
	[[ -z ${PPOOL_UNDER_VALGRIND:-} ]] || skip "under valgrind: $1"
}

# worker BODY: write BODY to a fresh sh script and print a -w command that
# runs it.  The script gets the test's marker as $1, so it shows in `ps`.
# Inside BODY, $W is a directory private to the test (BATS_TEST_TMPDIR).
worker() {
	local f
	f=$(mktemp "$BATS_TEST_TMPDIR/worker.XXXXXX") || return 1
	{
		printf 'W=%s\n' "$BATS_TEST_TMPDIR"
		printf '%s\n' "$1"
	} >"$f"
	printf 'exec sh %s %s' "$f" "$MARKER"
}

# cat_worker: a -w command that echoes each task back unchanged (fast: cat
# itself, with the marker as the name of an empty file it reads after stdin).
cat_worker() {
	: >"$BATS_TEST_TMPDIR/$MARKER"
	printf 'exec cat - %s' "$BATS_TEST_TMPDIR/$MARKER"
}

# wait_until SECS COMMAND [ARG]...: run COMMAND every 50 ms until it succeeds;
# fail (status 1, with a message) if it has not succeeded after SECS seconds.
wait_until() {
	local secs=$1
	shift
	local end=$((SECONDS + secs))
	until "$@"; do
		if ((SECONDS > end)); then
			echo "wait_until: still false after ${secs}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# live_marker_pids: pids of this test's processes that still run.  Zombies
# are dead: here PID 1 (the sandbox's init) may take its time reaping the
# orphans it inherits, and a zombie holds no resource a user would miss.
live_marker_pids() {
	local pid state
	for pid in $(pgrep -f "$MARKER"); do
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || continue
		[[ $state == Z || $state == X ]] || echo "$pid"
	done
}

# no_marker_process: true when no process of this test is left running.
no_marker_process() {
	[[ -z $(live_marker_pids) ]]
}

# assert_no_process_left [SECS]: no process carrying the marker remains.
# Without SECS the check is immediate (ppool reaps its workers before it
# exits); with SECS, it allows for asynchronous deaths (PR_SET_PDEATHSIG).
assert_no_process_left() {
	local secs=${1:-0}
	if ((secs > 0)); then
		wait_until "$secs" no_marker_process && return 0
	elif no_marker_process; then
		return 0
	fi
	echo "processes left behind:" >&2
	ps -o pid,ppid,stat,args -p "$(live_marker_pids | paste -sd,)" >&2 || true
	return 1
}

# exited PID: true once PID (a child of this shell) is a zombie or gone.
exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ -z $state || $state == Z || $state == X ]]
}

# wait_exit PID SECS: wait at most SECS for PID to exit; set $status to its
# exit status.  Fails (and kills it) when it is still running after SECS.
wait_exit() {
	local pid=$1 secs=$2
	if ! wait_until "$secs" exited "$pid"; then
		echo "wait_exit: pid $pid still running after ${secs}s" >&2
		kill -KILL "$pid" 2>/dev/null || true
		status=0
		wait "$pid" || status=$?
		return 1
	fi
	status=0
	wait "$pid" || status=$?
}

# rss_kb PID: the resident set size of PID in kB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# rchar PID: bytes PID has read with read(2) and friends, from any fd.
rchar() {
	awk '/^rchar:/ { print $2 }' "/proc/$1/io"
}

# wait_stalled PID SECS: wait until PID has read nothing for one second
# (its rchar unchanged over 5 samples 250 ms apart); fail after SECS.
wait_stalled() {
	local pid=$1 secs=$2 last now same=0
	local end=$((SECONDS + secs))
	last=$(rchar "$pid") || return 1
	while ((same < 4)); do
		if ((SECONDS > end)); then
			echo "wait_stalled: pid $pid still reading after ${secs}s (rchar $last)" >&2
			return 1
		fi
		sleep 0.25
		now=$(rchar "$pid") || return 1
		if [[ $now == "$last" ]]; then
			same=$((same + 1))
		else
			same=0
			last=$now
		fi
	done
}

# The largest resident set ppool may have in the memory tests, in kB:
# 20 MB, or 64 MB for an AddressSanitizer build (its shadow memory and
# quarantine); PPOOL_TEST_RSS_LIMIT_KB overrides both.
if grep -qa __asan_init "$PPOOL" 2>/dev/null; then
	RSS_LIMIT_KB=${PPOOL_TEST_RSS_LIMIT_KB:-65536}
else
	RSS_LIMIT_KB=${PPOOL_TEST_RSS_LIMIT_KB:-20480}
fi

# jqo FILTER: apply jq FILTER (-r) to each record in $output.  A filter jq
# cannot run prints a line saying so: inside $(...) its failure would
# otherwise read as an empty result, and an assertion expecting nothing
# would pass.
jqo() {
	jq -r "$@" <<<"$output" || echo "jqo: jq failed: $*"
}

# assert_records_valid: every line of $output is a JSON object with the
# fields every record has, of the right types.
assert_records_valid() {
	local bad
	bad=$(jq -c 'select((.seq | type) != "number" or (.ok | type) != "boolean"
		or (.ms | type) != "number" or .ms < 0
		or (.attempts | type) != "number")' <<<"$output") || {
		echo "output is not JSON lines:" >&2
		printf '%s\n' "$output" >&2
		return 1
	}
	if [[ -n $bad ]]; then
		echo "records missing seq/ok/ms/attempts:" >&2
		printf '%s\n' "$bad" >&2
		return 1
	fi
}

# assert_seqs_in_order N: $output holds exactly N records, seq 1..N in order.
assert_seqs_in_order() {
	local want got
	want=$(seq "$1")
	got=$(jqo .seq)
	assert_equal "$got" "$want"
}

# record SEQ: the record of task SEQ (one line of JSON) from $output; as
# with jqo, a failing jq says so.
record() {
	jq -c --argjson s "$1" 'select(.seq == $s)' <<<"$output" ||
		echo "record: jq failed on the output"
}

# at_least_lines FILE N: FILE exists and has N lines or more.
at_least_lines() {
	[[ -e $1 ]] && (($(wc -l <"$1") >= $2))
}

# halt_worker SLEEP: an --envelope worker for --halt now: task 1 creates
# $W/started and runs SLEEP 100 (the halt kills it), task 2 waits for that
# and fails, the others succeed.  It logs every task it gets to $W/got.
halt_worker() {
	worker "while read x; do
		echo \"\$x\" >>\"\$W/got\"
		case \$x in
		1) : >\"\$W/started\"; '$1' 100 ;;
		2) while [ ! -e \"\$W/started\" ]; do sleep 0.05; done; echo '{\"error\": \"no\"}'; continue ;;
		esac
		echo \"{\\\"result\\\": \$x}\"
	done"
}

# signal_taken PID SIG: SIG is no longer pending for PID: its handler ran.
# There is no other sign of it to wait on.
signal_taken() {
	local pnd shd bit=$((1 << ($2 - 1)))
	pnd=$(awk '/^SigPnd:/ { print $2 }' "/proc/$1/status") || return 0
	shd=$(awk '/^ShdPnd:/ { print $2 }' "/proc/$1/status") || return 0
	(((0x$pnd & bit) == 0 && (0x$shd & bit) == 0))
}

# signal_twice PID SIG: send SIG, wait until PID has taken it, then send it
# again as a second signal: past the 50 ms within which ppool takes the
# same signal again as an echo of the first (timeout(1) sends two).
signal_twice() {
	kill -"$2" "$1"
	wait_until 10 signal_taken "$1" "$(kill -l "$2")"
	sleep 0.1
	kill -"$2" "$1"
}

# held_worker [N]: a worker that, on task N (default 1), creates $W/started
# and waits for $W/go before it answers; it logs every task it gets to $W/got.
held_worker() {
	worker 'while read x; do
		echo "$x" >>"$W/got"
		if [ "$x" = '"${1:-1}"' ]; then
			: >"$W/started"
			while [ ! -e "$W/go" ]; do sleep 0.05; done
		fi
		echo "$x"
	done'
}

# crash_resume K ARGS...: the crash-safety rule.  Runs `ppool --joblog jl
# ARGS <in` with its stdout on a pipe; once K lines were read, ppool is
# killed with SIGKILL while it may hold records not yet written (the tasks
# should write more than a pipe holds), and the pipe is drained into out1
# (a record the kill tore is dropped).
# Then `ppool --joblog jl --resume ARGS <in` writes out2.  Records are
# known by .seq (JSON) or, with -o raw, by the payload's first word.  Checks
# that every task the first run logged has its record in out1 and none in
# out2, and that out1 and out2 together hold every task of in: no output
# lost, a duplicate only for a task written but not logged.  CRASH_WAIT, if
# set, is run (eval) just before the kill.
crash_resume() {
	local k=$1 i line pid n logged want
	shift
	rm -f jl out1 out2 p
	mkfifo p
	"$PPOOL" --joblog jl "$@" <in >p 2>err1 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	exec 5<p
	: >out1
	for ((i = 0; i < k; i++)); do
		IFS= read -r line <&5 || break
		printf '%s\n' "$line" >>out1
	done
	[[ -z ${CRASH_WAIT:-} ]] || eval "$CRASH_WAIT"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	cat <&5 >>out1
	exec 5<&-
	# A record the kill cut short has no newline: it was not written.
	if [[ -s out1 && $(tail -c 1 out1 | od -An -c) != *'\n'* ]]; then
		sed -i '$d' out1
	fi
	cp jl jl1
	timeout -k 5 60 "$PPOOL" --joblog jl --resume "$@" <in >out2 2>err2 3>&- ||
		true
	n=$(grep -c . in)
	logged=$(tail -n +2 jl1 | cut -f1 | sort -n)
	want=$(seq "$n")
	_crash_keys out1 >keys1 || return 1
	_crash_keys out2 >keys2 || return 1
	# Every logged task has its record in out1, and none in out2.
	[[ -z $(comm -23 <(echo "$logged" | sort) <(sort -u keys1)) ]] ||
		fail "logged without a record in out1 (K=$k): $(comm -23 <(echo "$logged" | sort) <(sort -u keys1) | head -5)"
	[[ -z $(comm -12 <(echo "$logged" | sort) <(sort -u keys2)) ]] ||
		fail "logged and run again (K=$k): $(comm -12 <(echo "$logged" | sort) <(sort -u keys2) | head -5)"
	# Together they hold every task, each output at most once.
	assert_equal "$(sort -n -u keys1 keys2)" "$want"
	assert_equal "$(sort keys1 | uniq -d)" ""
	assert_equal "$(sort keys2 | uniq -d)" ""
	# The resumed run logs exactly what it printed.
	assert_equal "$(tail -n +2 jl | cut -f1 | sort -n | uniq -d)" ""
	assert_equal "$(tail -n +2 jl | cut -f1 | sort -n)" "$want"
}

# _crash_keys FILE: the task of each record in FILE, a line each (.seq, or
# with raw output the payload's first word).
_crash_keys() {
	if [[ ! -s $1 ]]; then
		return 0
	fi
	if head -c 1 "$1" | grep -q '{'; then
		jq -e -r .seq "$1" || fail "$1: not JSON records: $(head -3 "$1")"
	else
		cut -d ' ' -f 1 "$1"
	fi
}

# at_least_files GLOB N: at least N files match GLOB (in the cwd).
at_least_files() {
	local f=( $1 )
	[[ -e ${f[0]} ]] && ((${#f[@]} >= $2))
}

# need_parallel: skip the test when GNU parallel is missing.
need_parallel() {
	command -v parallel >/dev/null || skip "GNU parallel is not installed"
}

# gnu ARG...: GNU parallel, output in input order (the anchor of tests that
# compare ppool with it).
gnu() {
	parallel --will-cite -k "$@"
}

# assert_refused: the last `run` (with --separate-stderr) was refused as a
# usage error: exit 255, nothing on stdout, "ppool: ..." on stderr.
assert_refused() {
	assert_equal "$status" 255
	assert_equal "$output" ""
	[[ $stderr == "ppool: "* ]] || fail "stderr does not start with 'ppool: ': $stderr"
}

# stderr_has TEXT: stderr of the last `run` holds TEXT.
stderr_has() {
	[[ $stderr == *"$1"* ]] || fail "stderr does not say '$1': $stderr"
}
