#!/usr/bin/env bats
# shutdown.bats: end of input, a closed stdout, signals: no process left behind.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

@test "no process is left after a normal run" {
	seq 50 >in
	local w
	w=$(worker 'while read x; do echo "$x"; done')
	run --separate-stderr ppool -j 4 -r 7 -w "$w" <in
	assert_success
	assert_seqs_in_order 50
	# ppool reaps its workers before it exits: nothing to wait for.
	assert_no_process_left
}

@test "ppool | head -1: ppool stops quietly (141), one record, no worker left" {
	local w
	w=$(worker 'while read x; do echo "$x"; done')
	seq 100000 | timeout 30 "$PPOOL" -j 2 -w "$w" 2>err | head -1 >out
	local st=("${PIPESTATUS[@]}")
	assert_equal "${st[1]}" 141
	assert_equal "$(cat out)" "$(head -1 out)"
	assert_equal "$(jq -c '[.seq, .ok, .result]' out)" '[1,true,1]'
	assert_file_empty err
	assert_no_process_left 5
}

@test "ppool | head -1 with a fast worker (cat)" {
	seq 100000 | timeout 30 "$PPOOL" -w "$(cat_worker)" 2>err | head -1 >out
	local st=("${PIPESTATUS[@]}")
	assert_equal "${st[1]}" 141
	assert_equal "$(jq -c '[.seq, .ok, .result]' out)" '[1,true,1]'
	assert_file_empty err
	assert_no_process_left 5
}

@test "command mode | head -1 while tasks still run: ppool kills them and exits 141 at once, quietly" {
	# Task 1 prints at once; tasks 2 and 3 would sleep 300 s.  Once head
	# has its line and is gone, ppool has nothing more to write, so only
	# the closed pipe itself (not a failed write) can tell it to stop: it
	# must kill the sleeps and exit, neither waiting for them (timeout
	# would end it: 124 or 137, not 141) nor spinning until it notices
	# (CPU time).  timeout's 30 s (and -k 5) stay within the test's 60.
	local s
	s=$BATS_TEST_TMPDIR/sleep-$MARKER
	ln -s "$(command -v sleep)" "$s"
	cat >task.sh <<'SH'
if [ "$2" = 1 ]; then echo one; else exec "$1" 300; fi
SH
	local TIMEFORMAT='%R %U %S' st
	{
		time {
			printf '%s\n' 1 2 3 |
				timeout -k 5 30 "$PPOOL" -j 3 -- sh task.sh "$s" 2>err |
				head -1 >out
			st=("${PIPESTATUS[@]}")
		}
	} 2>clock
	assert_equal "${st[1]}" 141
	assert_equal "$(jq -c '[.seq, .ok, .stdout]' out)" '[1,true,"one\n"]'
	assert_file_empty err
	assert_no_process_left 5
	# Wall clock and CPU time (user + system, of ppool, its tasks, timeout
	# and head): a few milliseconds each when ppool stops at once.  The
	# bounds are wide, for a loaded machine and for valgrind.  (A decimal
	# comma, as some locales have, is read as a point.)
	local real cpu
	read -r real cpu < <(tr , . <clock | awk '{ print $1, $2 + $3 }')
	awk -v r="$real" 'BEGIN { exit !(r < 20) }' || fail "ppool took ${real} s to stop"
	awk -v c="$cpu" -v v="${PPOOL_UNDER_VALGRIND:-}" \
		'BEGIN { exit !(c < (v == "" ? 2 : 20)) }' || fail "ppool used ${cpu} s of CPU to stop"
}

@test "a full disk on stdout: a message, exit 255, no worker left (not the quiet 141 of a closed pipe)" {
	[[ -w /dev/full ]] || skip "no /dev/full"
	local w
	w=$(cat_worker)
	run --separate-stderr bash -c 'seq 100 | "$PPOOL" -w "$1" >/dev/full' sh "$w"
	assert_equal "$status" 255
	assert_equal "$stderr" "ppool: cannot write records to stdout: No space left on device; stopping"
	assert_no_process_left
	run --separate-stderr bash -c 'seq 3 | "$PPOOL" -- sh -c "echo \$1" "$1" >/dev/full' sh "$MARKER"
	assert_equal "$status" 255
	assert_equal "$stderr" "ppool: cannot write records to stdout: No space left on device; stopping"
	assert_no_process_left
}

@test "without pidfds (PPOOL_NO_PIDFD, the SIGCHLD fallback): every exit is noticed, no stall" {
	# A SIGCHLD that interrupted poll was read and its news dropped: the
	# run then waited for ever on a child already gone.
	local i
	for i in 1 2 3; do
		run --separate-stderr timeout -k 5 20 env PPOOL_NO_PIDFD=1 "$PPOOL" -j 1 -o raw -- sh -c 'sleep 0.1; echo $0' < <(seq 3)
		assert_success
		assert_output "$(seq 3)"
	done
	run --separate-stderr timeout -k 5 20 env PPOOL_NO_PIDFD=1 "$PPOOL" -j 1 -r 1 -o raw -w 'while read l; do echo "$l"; done' < <(seq 5)
	assert_success
	assert_output "$(seq 5)"
}

@test "ppool killed by SIGKILL mid-run: its workers die too" {
	seq 4 >in
	# Each worker is busy in its task, not reading stdin, when ppool dies.
	local w
	w=$(worker 'while read x; do echo "$x" >>"$W/got";
		while [ ! -e "$W/never" ]; do sleep 0.05; done; echo "$x"; done')
	"$PPOOL" -j 2 -w "$w" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 at_least_lines got 2
	# Two workers (and ppool) carry the marker.
	(($(pgrep -c -f "$MARKER") >= 3))
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	assert_no_process_left 10
}

@test "a worker that does not exit at end of input gets SIGTERM; ppool exits" {
	# After its task the worker never reads stdin again.
	local w
	w=$(worker 'read x; echo "$x"; while :; do sleep 0.1; done')
	run --separate-stderr timeout 30 "$PPOOL" -j 1 -w "$w" <<<'1'
	assert_success
	assert_equal "$(jqo -c '[.seq, .ok, .result]')" '[1,true,1]'
	assert_no_process_left
}

@test "a worker that also ignores SIGTERM gets SIGKILL; ppool exits" {
	local w
	w=$(worker 'trap "" TERM; read x; echo "$x"; while :; do sleep 0.1; done')
	run --separate-stderr timeout 30 "$PPOOL" -j 1 -w "$w" <<<'1'
	assert_success
	assert_equal "$(jqo -c '[.seq, .ok, .result]')" '[1,true,1]'
	assert_no_process_left
}

@test "first SIGTERM: the running task finishes and prints, nothing new starts, exit 143" {
	seq 3 >in
	"$PPOOL" -j 1 -w "$(held_worker)" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -TERM "$pid"
	wait_until 10 signal_taken "$pid" 15
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 143
	assert_equal "$(head -1 out | jq -c '[.seq, .ok, .result]')" '[1,true,1]'
	# Tasks 2 and 3 never reached a worker, and no record claims they ran.
	assert_equal "$(cat got)" 1
	assert_equal "$(jq -c 'select(.seq > 1 and .ok)' out)" ""
	assert_no_process_left
}

@test "SIGTERM while -a FIFO waits for a writer: ppool exits 143 at once" {
	mkfifo f
	"$PPOOL" -a f -- echo "$MARKER" >out 2>err &
	local pid=$!
	BG_PIDS+=("$pid")
	# Blocked in open(2): a handler would only note the signal.
	wait_until 10 grep -q wait_for_partner "/proc/$pid/wchan"
	kill -TERM "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 143
	assert_equal "$(cat out)" ""
}

# stopped PID...: true when every PID is stopped (state T).
stopped() {
	local pid
	for pid in "$@"; do
		[[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == T ]] || return 1
	done
}

@test "SIGTSTP (Ctrl-Z) stops the tasks too, and SIGCONT continues them" {
	# They run in process groups of their own, which the terminal's
	# SIGTSTP does not reach: they ran on while ppool was stopped.
	# ppool gets a group of its own whose parent, this shell, is in the
	# session too, as under a shell with job control: in an orphaned
	# group (the test's may be one) the kernel drops a stop.
	seq 2 | python3 -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
		"$PPOOL" -j 2 -- sh -c ': >started.$0; until [ -e go ]; do sleep 0.05; done' "{}" "$MARKER" >out 2>err &
	local pid=$! kids
	BG_PIDS+=("$pid")
	wait_until 10 test -e started.1 -a -e started.2
	kids=$(pgrep -P "$pid" | tr '\n' ' ')
	assert_equal "$(wc -w <<<"$kids")" 2
	kill -TSTP "$pid"
	# shellcheck disable=SC2086	# a list of pids
	wait_until 10 stopped "$pid" $kids
	touch go
	kill -CONT "$pid"
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .ok]' out | tr '\n' ' ')" '[1,true] [2,true] '
	assert_no_process_left
}

@test "first SIGHUP is handled like SIGTERM: exit 129" {
	seq 3 >in
	"$PPOOL" -j 1 -w "$(held_worker)" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -HUP "$pid"
	wait_until 10 signal_taken "$pid" 1
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 129
	assert_equal "$(head -1 out | jq -c '[.seq, .ok, .result]')" '[1,true,1]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "second SIGTERM with stdout stalled: ppool exits --kill-after seconds later, 143" {
	# It once waited for the reader for ever (and then exited 141).
	mkfifo fifo
	seq 1000000 3>&- | "$PPOOL" -j 2 --kill-after 1 -w "$(cat_worker)" >fifo 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	exec 5<fifo
	wait_stalled "$pid" 60
	local t0 t1
	signal_twice "$pid" TERM
	t0=$EPOCHREALTIME
	wait_exit "$pid" 20
	t1=$EPOCHREALTIME
	exec 5<&-
	assert_equal "$status" 143
	# Not before --kill-after from the second signal (less the time
	# between sending it and reading the clock).
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9) }' ||
		fail "exited $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s after the second SIGTERM"
	assert_no_process_left
}

@test "second SIGTERM with a reader that keeps up: every record arrives whole" {
	# The stdout deadline once ran from the second signal, so a record
	# printed when its task was SIGKILLed was cut after 64 KiB.
	jq -nc --arg m "$MARKER" '{cmd: ["sh", "-c",
		"trap \"\" TERM; head -c 2000000 /dev/zero | tr \"\\\\0\" a; : >started; sleep 100", $m]}' >in
	mkfifo fifo
	cat fifo >out &
	local cat_pid=$!
	"$PPOOL" --kill-after 1 <in >fifo 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid" "$cat_pid")
	wait_until 10 test -e started
	signal_twice "$pid" TERM
	wait_exit "$pid" 20
	assert_equal "$status" 143
	wait "$cat_pid"
	assert_equal "$(jq -c '[.ok, .signal, (.stdout | length)]' out)" '[false,"SIGKILL",2000000]'
}

@test "second SIGTERM: workers are killed, their tasks' records say so, exit 143" {
	seq 3 >in
	"$PPOOL" -j 1 -w "$(held_worker)" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	signal_twice "$pid" TERM
	wait_exit "$pid" 20
	assert_equal "$status" 143
	assert_equal "$(head -1 out | jq -c '[.seq, .ok]')" '[1,false]'
	[[ $(head -1 out | jq -r .error) == "worker killed"* ]] ||
		fail "record: $(head -1 out)"
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

# keep_signalling PID SIG SECS: send SIG to PID every 0.2 s, as a user who
# keeps pressing Ctrl-C (ppool takes the same signal again within 0.05 s
# as an echo of the one before), until PID has exited; fail when it still
# runs after SECS seconds of that.
keep_signalling() {
	local pid=$1 sig=$2 end=$((SECONDS + $3))
	until exited "$pid"; do
		if ((SECONDS >= end)); then
			echo "keep_signalling: pid $pid still running after ${3}s of SIG$sig every 0.2 s" >&2
			return 1
		fi
		kill -"$sig" "$pid" 2>/dev/null || true
		sleep 0.2
	done
}

@test "regression: signals after the second do not put off the SIGKILL of a worker that ignores SIGTERM" {
	# Every signal after the first sent SIGTERM again and moved the
	# SIGKILL deadline on: while the user kept pressing Ctrl-C, a worker
	# ignoring SIGTERM was never killed and ppool never exited.  The
	# deadline the second signal set (--kill-after 1) must hold.
	local w
	w=$(worker 'trap "" TERM; read x; : >"$W/started"
		while :; do sleep 0.05; done')
	"$PPOOL" -j 1 --kill-after 1 -w "$w" <<<1 >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	signal_twice "$pid" TERM
	# Gone about 1 s after the second signal: long before 10 s of more.
	keep_signalling "$pid" TERM 10
	wait_exit "$pid" 10
	assert_equal "$status" 143
	assert_equal "$(jq -c '[.seq, .ok]' out)" '[1,false]'
	[[ $(jq -r .error out) == "worker killed"* ]] || fail "record: $(cat out)"
	assert_no_process_left
}

# default_int CMD...: exec CMD with SIGINT at its default disposition (bash
# starts a background job with SIGINT ignored, and ppool leaves a stop
# signal ignored when it started so).
default_int() {
	if env --default-signal=INT true 2>/dev/null; then
		exec env --default-signal=INT "$@"
	fi
	exec perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$@"
}

@test "regression: Ctrl-C after the second does not put off the SIGKILL of a command that ignores SIGTERM" {
	# As above, in command mode and with SIGINT: the task is SIGKILLed
	# 1 s after the second signal however many follow it.
	jq -nc --arg m "$MARKER" '{cmd: ["sh", "-c",
		"trap \"\" TERM; : >started; while :; do sleep 0.05; done", $m]}' >in
	default_int "$PPOOL" --kill-after 1 <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	signal_twice "$pid" INT
	keep_signalling "$pid" INT 10
	wait_exit "$pid" 10
	assert_equal "$status" 130
	assert_equal "$(jq -c '[.seq, .ok, .signal]' out)" '[1,false,"SIGKILL"]'
	assert_no_process_left
}

@test "regression: --halt now does not signal the group of the command whose failure tripped it (reaped, its id free)" {
	# The failed command was still listed when its record tripped the
	# halt, so "kill the running ones" sent SIGTERM and SIGCONT to its
	# process group too, after libpipeline had reaped its leader: that
	# id may be another process's by then.  strace shows every kill.
	command -v strace >/dev/null || skip "strace is not installed (setup.sh installs it)"
	strace -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	skip_under_valgrind "strace would trace valgrind"
	# Task 1 runs until the halt kills it; task 2, once task 1 runs,
	# prints its pid (sh -c is the leader of its group) and fails.
	jq -nc --arg m "$MARKER" '
		{cmd: ["sh", "-c", "echo $$ >long.pid; : >started
			while :; do sleep 0.05; done", $m]},
		{cmd: ["sh", "-c", "until [ -e started ]; do sleep 0.01; done
			echo $$; exit 1", $m]}' >in
	# LeakSanitizer cannot work under ptrace: off, for an ASan build.
	run --separate-stderr timeout -k 5 30 \
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e signal=none -e trace=kill,pidfd_send_signal \
		-o trace "$PPOOL" --halt now,fail=1 -j 2 <in
	assert_equal "$status" 2
	assert_records_valid
	assert_equal "$(record 1 | jq -c '[.ok, .signal, .error]')" \
		'[false,"SIGTERM","stopped by --halt now"]'
	assert_equal "$(record 2 | jq -c '[.ok, .exit, .signal, .error]')" \
		'[false,1,null,"exited with status 1"]'
	local failed long bad
	failed=$(record 2 | jq -r .stdout)
	long=$(cat long.pid)
	[[ $failed =~ ^[0-9]+$ && $long =~ ^[0-9]+$ ]] ||
		fail "pids: failed '$failed', long '$long'"
	# The running task's group got the halt's SIGTERM ...
	grep -qF "kill(-$long, SIGTERM" trace ||
		fail "no SIGTERM to the running task's group $long: $(cat trace)"
	# ... and the failed one's nothing but the SIGKILL its end sends to
	# what it may have left in its group.
	bad=$(grep -F "kill(-$failed, " trace | grep -vF "kill(-$failed, SIGKILL" || true)
	[[ -z $bad ]] || fail "signals to the reaped task's group $failed: $bad"
	assert_no_process_left
}

# build_fault: compile the fault-injection shim (tests/fault.c) into
# $BATS_TEST_TMPDIR/fault.so, from the source tree: out-of-tree builds too.
build_fault() {
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/fault.so" \
		"$PPOOL_SRCDIR/tests/fault.c" -ldl
}

# fill_pipe: fill the pipe on stdout with newlines (blank lines, which no
# record is) until not one more byte fits.
fill_pipe() {
	python3 -c '
import fcntl, os
flags = fcntl.fcntl(1, fcntl.F_GETFL)
fcntl.fcntl(1, fcntl.F_SETFL, flags | os.O_NONBLOCK)
for size in (4096, 1):
    try:
        while True:
            os.write(1, b"\n" * size)
    except BlockingIOError:
        pass
fcntl.fcntl(1, fcntl.F_SETFL, flags)
'
}

@test "regression: a worker start that fails while no worker holds a place prints the finished records, exit 255" {
	# It called err(): exit 255 at once, and the records not yet written
	# were lost.  It must stop as any fatal stop does.
	skip_under_valgrind "LD_PRELOAD would reach the wrapper's shell"
	build_fault
	seq 3 >in
	local w
	w=$(worker 'while read x; do echo "$x"; done')
	# pipe2 calls: 1 for the signal pipe, then 2 per worker start.  With
	# -j 1 -r 1, worker 2 starts once worker 1 is reaped: its start, the
	# 4th call, fails while no worker holds a place.  stdout is a full
	# pipe, read only once that call has failed, so that task 1's record
	# cannot have been written before.
	{
		fill_pipe
		rc=0
		timeout -k 5 20 env LD_PRELOAD="$BATS_TEST_TMPDIR/fault.so" \
			PPOOL_FAULT_PIPE2=4 PPOOL_FAULT_LOG=calls \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			"$PPOOL" -j 1 -r 1 -w "$w" <in 2>err 3>&- || rc=$?
		echo "$rc" >status
	} | {
		wait_until 10 grep -qsx 'pipe2 4 fail' calls || true
		cat
	} >raw
	grep -qx 'pipe2 4 fail' calls || fail "no 4th pipe2 call: $(cat calls)"
	assert_equal "$(cat status)" 255
	output=$(grep -v '^$' raw || true)
	assert_records_valid
	assert_equal "$(head -1 <<<"$output" | jq -c '[.seq, .ok, .result]')" '[1,true,1]'
	assert_equal "$(jqo 'select(.seq > 1 and .ok) | .seq')" ""
	# One line says which worker command could not start, and why.
	assert_equal "$(grep -cF -- "$w" err)" 1
	grep -F -- "$w" err | grep -qF 'Too many open files' ||
		fail "stderr: $(cat err)"
	assert_no_process_left
}
