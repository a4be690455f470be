#!/usr/bin/env bats
# cli.bats: the command line: --help, --version, option and number parsing.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# Every option, short and long.
OPTIONS=(-a --input -0 --null -L --lines -h --help -j --jobs -P -o --output
	-r --max-reqs -t --timeout -u --unordered -V --version -w --worker
	--dry-run --envelope --halt --inflight --kill-after --max-line
	--max-output --retries --window)

# assert_usage_error [MESSAGE]: the last `run` was refused as a usage error:
# exit 255, nothing on stdout, a message on stderr that starts with
# "ppool: ", and whose first line is MESSAGE when it is given.
assert_usage_error() {
	assert_equal "$status" 255
	assert_equal "$output" ""
	[[ $stderr == "ppool: "* ]] || {
		echo "stderr does not start with 'ppool: ': $stderr" >&2
		return 1
	}
	[[ $# == 0 ]] || assert_equal "${stderr_lines[0]}" "$1"
}

# assert_bad_value OPTION VALUE: the last `run` was refused as a usage error
# whose message names OPTION and quotes VALUE: "ppool: OPTION ..., not 'VALUE'".
assert_bad_value() {
	assert_usage_error
	[[ ${stderr_lines[0]} == "ppool: $1 "*", not '$2'" ]] ||
		fail "the message does not name $1 and '$2': $stderr"
}

@test "--help lists every option on stdout and exits 0" {
	run --separate-stderr ppool --help
	assert_success
	assert_equal "$stderr" ""
	local opt
	for opt in "${OPTIONS[@]}"; do
		grep -qE -- "(^|[^-[:alnum:]])$opt([^-[:alnum:]]|\$)" <<<"$output" ||
			fail "--help does not mention $opt"
	done
}

@test "-h is --help" {
	run --separate-stderr ppool --help
	local long=$output
	run --separate-stderr ppool -h
	assert_success
	assert_equal "$output" "$long"
}

@test "--version and -V print 'ppool VERSION' on stdout" {
	local version
	version=$(sed -n 's/^AC_INIT(\[ppool\], \[\([^]]*\)\].*/\1/p' "$PPOOL_SRCDIR/configure.ac")
	[[ -n $version ]]
	run --separate-stderr ppool --version
	assert_success
	assert_output "ppool $version"
	assert_equal "$stderr" ""
	run --separate-stderr ppool -V
	assert_success
	assert_output "ppool $version"
}

@test "--help and --version to a closed or full stdout: a message, exit 255" {
	# As with coreutils: printing the help is the whole job, so a failed
	# write is an error, not a quiet success.
	local opt
	for opt in --help --version; do
		if [[ -w /dev/full ]]; then
			run --separate-stderr bash -c '"$PPOOL" "$1" >/dev/full' _ "$opt"
			assert_equal "$status" 255
			assert_equal "$stderr" "ppool: cannot write to stdout: No space left on device"
		fi
		[[ -n ${PPOOL_UNDER_VALGRIND:-} ]] && continue
		run --separate-stderr bash -c '"$PPOOL" "$1" >&-' _ "$opt"
		assert_equal "$status" 255
		assert_equal "$stderr" "ppool: cannot write to stdout: Bad file descriptor"
	done
}

@test "options are accepted in their attached and separate forms" {
	run --separate-stderr ppool -j2 --jobs=2 -P 2 -r5 --max-reqs=5 --inflight=2 \
		--window=4 --max-line=1K -o json --output=json -w "$(cat_worker)" <<<'1'
	assert_success
	assert_equal "$(jqo .result)" 1
}

@test "-j 0 is a usage error" {
	run --separate-stderr ppool -j 0 -w cat </dev/null
	assert_usage_error "ppool: -j must be from 1 to 65536, not '0'"
}

@test "-j x is a usage error" {
	run --separate-stderr ppool -j x -w cat </dev/null
	assert_usage_error "ppool: -j wants a whole number, not 'x'"
}

@test "-j -1, -j 2x, -j '' and a -j that overflows are usage errors" {
	local bad
	for bad in -1 2x '' ' 2' 99999999999999999999999; do
		run --separate-stderr ppool -j "$bad" -w cat </dev/null
		assert_bad_value -j "$bad"
	done
}

@test "-P 0 is a usage error" {
	run --separate-stderr ppool -P 0 -w cat </dev/null
	assert_usage_error "ppool: -P must be from 1 to 65536, not '0'"
}

@test "--window 0 is a usage error" {
	run --separate-stderr ppool --window 0 -w cat </dev/null
	assert_bad_value --window 0
}

@test "--inflight 0 is a usage error" {
	run --separate-stderr ppool --inflight 0 -w cat </dev/null
	assert_usage_error "ppool: --inflight must be from 1 to 65536, not '0'"
}

@test "--max-line 0 and a bad suffix are usage errors" {
	run --separate-stderr ppool --max-line 0 -w cat </dev/null
	assert_bad_value --max-line 0
	run --separate-stderr ppool --max-line 1Q -w cat </dev/null
	assert_usage_error "ppool: --max-line wants a whole number (K, M, G, T after it for powers of 1024; k, m, g, t for powers of 1000), not '1Q'"
	run --separate-stderr ppool --max-line x -w cat </dev/null
	assert_bad_value --max-line x
}

@test "-r x and -r -1 are usage errors; -r 0 (never retire) is accepted" {
	run --separate-stderr ppool -r x -w cat </dev/null
	assert_usage_error "ppool: -r wants a whole number, not 'x'"
	run --separate-stderr ppool -r -1 -w cat </dev/null
	assert_bad_value -r -1
	run --separate-stderr ppool -r 0 -w "$(cat_worker)" <<<'7'
	assert_success
	assert_equal "$(jqo .result)" 7
}

@test "-o with an unknown format is a usage error" {
	run --separate-stderr ppool -o yaml -w cat </dev/null
	assert_usage_error "ppool: -o wants json or raw, not 'yaml'"
}

@test "an unknown option exits 255 with a ppool: message" {
	run --separate-stderr ppool --frobnicate -w cat </dev/null
	assert_usage_error "ppool: unknown option '--frobnicate'"
	run --separate-stderr ppool -Z -w cat </dev/null
	assert_usage_error "ppool: unknown option '-Z'"
}

@test "a missing option argument exits 255" {
	run --separate-stderr ppool -w
	assert_usage_error "ppool: option '-w' wants an argument"
	run --separate-stderr ppool -j 1 --window </dev/null
	assert_usage_error "ppool: option '--window' wants an argument"
}

@test "options of one mode are refused in the other, with a message" {
	run --separate-stderr ppool --envelope echo hi </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --envelope is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool -r 5 echo hi </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -r is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool --inflight 4 </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --inflight is for worker mode: give -w CMD, or leave it out"
	# given, even with their defaults
	run --separate-stderr ppool -r 0 echo hi </dev/null
	assert_usage_error "ppool: -r is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool --inflight 1 echo hi </dev/null
	assert_usage_error "ppool: --inflight is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool --dry-run -w cat </dev/null
	assert_usage_error "ppool: --dry-run is for command mode; it cannot be used with -w"
	run --separate-stderr ppool --max-output 1K -w cat </dev/null
	assert_usage_error "ppool: --max-output is for command mode (a worker's reply is bounded by --max-line); it cannot be used with -w"
	run --separate-stderr ppool -w cat echo hi </dev/null
	assert_usage_error "ppool: unexpected argument 'echo' with -w (quote the worker command as one argument)"
}

@test "-t, --kill-after, --retries and --halt parse strictly" {
	local bad opt
	for bad in "-t 0" "-t -1" "-t x" "--kill-after 0" "--retries -1" \
	    "--retries x" "--halt sometimes" "--halt soon,fail=0" \
	    "--halt now,fail=101%" "--halt soon,fail=x" "-t 0x10" "-t 1e3" \
	    "-t inf" "-t 1.5.2" "--kill-after=+1"; do
		# shellcheck disable=SC2086
		run --separate-stderr ppool $bad -w cat </dev/null
		assert_usage_error
		# The message names the option ('--halt' for its fail=).
		opt=${bad%%[ =]*}
		[[ ${stderr_lines[0]} == "ppool: $opt "* ]] ||
			fail "the message for '$bad' does not name $opt: $stderr"
	done
	# strtod alone took a leading blank, as -j does not
	run --separate-stderr ppool -t ' 1' -w cat </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -t wants a number of seconds above 0, not ' 1'"
	# Too large is not 'not above 0'.
	run --separate-stderr ppool -t 99999999999999999999 -w cat </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -t wants at most 1000000000 seconds (31 years), not '99999999999999999999'"
	run --separate-stderr ppool --kill-after "1$(printf '0%.0s' $(seq 400))" -w cat </dev/null
	assert_usage_error
	[[ ${stderr_lines[0]} == "ppool: --kill-after wants at most 1000000000 seconds"* ]] || fail "$stderr"
	# Accepted: the task runs, and nothing is said.
	run --separate-stderr ppool -t 1000000000 -w cat <<<'1'
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jqo -c '[.seq, .ok, .result]')" '[1,true,1]'
	run --separate-stderr ppool -t 0.5 --kill-after 1 --retries 2 \
	    --halt now,fail=10% -w cat <<<'1'
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jqo -c '[.seq, .ok, .result]')" '[1,true,1]'
	run --separate-stderr ppool -t .5 --kill-after 2. -w cat <<<'1'
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jqo -c '[.seq, .ok, .result]')" '[1,true,1]'
}

@test "a size option's message names its K, M and G suffixes" {
	run --separate-stderr ppool --max-output=2X -- true </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --max-output wants a whole number (K, M, G, T after it for powers of 1024; k, m, g, t for powers of 1000), not '2X'"
}

@test "-a - reads the tasks from stdin, as with xargs" {
	run --separate-stderr ppool -L -o raw -a - -- echo <<<'hi'
	assert_success
	assert_output hi
}

@test "-a with a file that does not exist exits 255 naming the file" {
	run --separate-stderr ppool -a "$BATS_TEST_TMPDIR/no-such-file" -w cat
	assert_equal "$status" 255
	assert_equal "$output" ""
	[[ $stderr == "ppool: "*no-such-file* ]] || fail "stderr: $stderr"
}

# make_gate: write gate.sh, a command-mode task run as `sh gate.sh MARKER N`:
# task N writes to seen.N how many tasks had finished when it started,
# creates started.N, waits for the file "go", then creates done.N.
make_gate() {
	cat >gate.sh <<'EOF_GATE'
n=0
for f in done.*; do [ -e "$f" ] && n=$((n + 1)); done
echo "$n" >"seen.$2"
: >"started.$2"
while [ ! -e go ]; do sleep 0.05; done
: >"done.$2"
EOF_GATE
}

# started_at_least N: N tasks of gate.sh or more have started.
started_at_least() {
	local f n=0
	for f in started.*; do
		[[ -e $f ]] && n=$((n + 1))
	done
	((n >= $1))
}

# started_or_exited N PID: N tasks of gate.sh have started, or ppool is gone.
started_or_exited() {
	started_at_least "$1" || exited "$2"
}

# gated N WANT OPTION...: run N gate.sh tasks with OPTIONs, and check that
# exactly WANT ran at once: WANT of them start, ppool then has WANT
# children, and each task after the first WANT started only once another
# had finished.  Events, not timing: a task holds its slot until the test
# creates "go".
gated() {
	local n=$1 want=$2 pid kid i
	shift 2
	make_gate
	seq "$n" >in
	timeout -k 5 60 "$PPOOL" "$@" -- sh gate.sh "$MARKER" <in >out 2>err 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 30 started_or_exited "$want" "$pid"
	if exited "$pid"; then
		wait_exit "$pid" 1
		fail "ppool exited ($status) before $want tasks ran: $(cat err)"
	fi
	# ppool starts every task it has a slot for at once (its input is
	# a file, read whole): one too many would be running by now.
	kid=$(pgrep -P "$pid")
	assert_equal "$(pgrep -c -P "$kid")" "$want"
	: >go
	wait_exit "$pid" 30
	assert_equal "$status" 0
	assert_equal "$(jq -c '.seq' out | wc -l)" "$n"
	for ((i = 1; i <= n; i++)); do
		if ((i <= want)); then
			assert_equal "$(cat "seen.$i")" 0
		else
			(($(cat "seen.$i") >= 1)) || fail "task $i started while $want others still ran"
		fi
	done
	assert_no_process_left
}

@test "-j defaults to the online CPUs: of N+1 tasks, N run at once" {
	# Online CPUs as sysconf counts them, which is what the contract says;
	# nproc(1) would honour the CPU affinity and OMP_NUM_THREADS too.
	local n
	n=$(getconf _NPROCESSORS_ONLN)
	((n >= 1))
	gated $((n + 1)) "$n"
}

@test "-P N is -j N: -P 1 runs one task at a time, -P N+1 runs N+1 at once" {
	# N+1 differs from the default (N online CPUs), so an ignored -P
	# shows on any machine; -P 1 shows it on one with several CPUs.
	local n
	n=$(getconf _NPROCESSORS_ONLN)
	gated 2 1 -P 1
	rm -f seen.* started.* done.* go
	gated $((n + 1)) $((n + 1)) -P $((n + 1))
}

@test "the long options --verbose, --timeout=, --worker= and --worker, --unordered, --jobs= have their effect" {
	# Accepting them is not enough: each is checked by what it does.
	local n
	n=$(getconf _NPROCESSORS_ONLN)

	# --verbose: the summary line on stderr.
	run --separate-stderr timeout -k 5 30 "$PPOOL" --verbose -w "$(cat_worker)" <<<'1'
	assert_success
	assert_regex "$stderr" '^ppool: 1 tasks, 0 failed, 0 retried, [0-9]+\.[0-9]{3} s, [0-9]+\.[0-9] tasks/s$'

	# --timeout=SECS: a task that would sleep 100 s is stopped.
	local s
	s=$BATS_TEST_TMPDIR/sleep-$MARKER
	ln -s "$(command -v sleep)" "$s"
	run --separate-stderr timeout -k 5 30 "$PPOOL" --timeout=0.5 -- "$s" <<<'100'
	assert_equal "$status" 1
	assert_equal "$(jqo -c '[.ok, .error, .signal]')" '[false,"timed out after 0.5 s","SIGTERM"]'

	# --worker=CMD and --worker CMD: worker mode (the reply is the result,
	# the record names the worker); in command mode, 7 would be no task.
	run --separate-stderr timeout -k 5 30 "$PPOOL" "--worker=$(cat_worker)" <<<'7'
	assert_success
	assert_equal "$(jqo -c '[.ok, .result, (.worker | type)]')" '[true,7,"number"]'
	run --separate-stderr timeout -k 5 30 "$PPOOL" --worker "$(cat_worker)" <<<'7'
	assert_success
	assert_equal "$(jqo -c '[.ok, .result, (.worker | type)]')" '[true,7,"number"]'

	# --unordered: task 1 waits (20 s at most) until task 2's record is
	# out, which only completion order allows.
	cat >order.sh <<'SH'
if [ "$2" = 1 ]; then
	i=0
	until grep -q '"seq":2,' out || [ "$i" -ge 400 ]; do sleep 0.05; i=$((i + 1)); done
fi
SH
	seq 2 >in
	local st=0
	timeout -k 5 30 "$PPOOL" --unordered -j 2 -- sh order.sh "$MARKER" <in >out 2>err || st=$?
	assert_equal "$st" 0
	assert_equal "$(jq .seq out | tr '\n' ' ')" '2 1 '

	# --jobs=N: one at a time, then N+1 (not the default N) at once.
	gated 2 1 --jobs=1
	rm -f seen.* started.* done.* go
	gated $((n + 1)) $((n + 1)) --jobs=$((n + 1))
}
