#!/usr/bin/env bats
# control.bats: failure control and signals, in both modes: -t/--timeout and
# --kill-after, --retries, --halt, SIGTERM/SIGINT, file-descriptor limits,
# misbehaving workers.  Every test also checks that no process of the run is
# left.  Signals are sent after an event (a file a task creates), never after
# a fixed sleep.  Timing is asserted where the contract is about time, as
# lower bounds that follow from it, which a loaded machine cannot break (it
# makes things later, never sooner): a task or worker that ignores SIGTERM
# dies no sooner than -t plus --kill-after, ppool's SIGKILL and its exit
# come no sooner than --kill-after after its SIGTERM, a worker that closed
# its stdout has 2 s; read from the records' "ms" or from strace's
# timestamps of ppool's own system calls, less 50 ms for the clock ppool
# read before it acted.  Upper bounds follow from the contract too (the ms
# of a task that succeeded under -t is less), or only tell a behaviour from
# a much slower one, with seconds to spare: the default --kill-after (2 s)
# under 8 s, the closed stdout's 2 s under 15 s against -t 20, the guards
# of timeout(1).  Tasks that must finish within -t leave 0.4 s of it or more.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# The prefix of ppool's messages, whatever the name of the binary tested.
PROG=ppool

# marked PROG: print the path of a symlink to PROG (sleep, cat...) whose name
# carries the test's marker, so that the processes it runs (grandchildren of
# ppool, say) are found by assert_no_process_left too.
marked() {
	local link="$BATS_TEST_TMPDIR/$1-$MARKER"
	[[ -e $link ]] || ln -s "$(command -v "$1")" "$link"
	printf '%s' "$link"
}

# shtask SCRIPT [ARG]...: a command-mode task (JSON) running SCRIPT with
# /bin/sh -c; $0 is the test's marker, $1... are the ARGs.
shtask() {
	local script=$1
	shift
	jq -nc --arg s "$script" --arg m "$MARKER" '{cmd: (["sh", "-c", $s, $m] + $ARGS.positional)}' \
		--args "$@"
}

# with_int CMD...: run CMD with SIGINT at its default disposition (bash
# starts background jobs with SIGINT ignored, and an ignored signal stays
# ignored across exec).
with_int() {
	if env --default-signal=INT true 2>/dev/null; then
		exec env --default-signal=INT "$@"
	fi
	exec perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$@"
}

# need_strace: skip the test unless strace is installed and can trace here.
need_strace() {
	command -v strace >/dev/null || skip "strace is not installed (setup.sh installs it)"
	strace -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	skip_under_valgrind "strace would trace valgrind"
}

# traced LOG ARG...: run ppool ARG... under strace, which writes to LOG the
# signals ppool sends and its exit, each with its time (-ttt): only ppool's
# own system calls, not its children's.  LeakSanitizer cannot run under
# ptrace: an AddressSanitizer build checks no leaks here.
traced() {
	local log=$1
	shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		timeout -k 5 30 strace -qq -ttt -e signal=none \
		-e trace=kill,pidfd_send_signal,exit_group -o "$log" "$PPOOL" "$@"
}

# first_at LOG WHAT: the time of the first line of LOG (of traced) that
# matches the extended regex WHAT.
first_at() {
	awk -v re="$2" '$0 ~ re { print $1; exit }' "$1"
}

# assert_kill_after LOG SECS: in LOG (of traced), ppool's first SIGKILL and
# its exit both come SECS or more (less 50 ms) after its first SIGTERM.
assert_kill_after() {
	local term kill end
	term=$(first_at "$1" '(kill|pidfd_send_signal)\(.*SIGTERM')
	kill=$(first_at "$1" '(kill|pidfd_send_signal)\(.*SIGKILL')
	end=$(first_at "$1" ' exit_group\(')
	[[ -n $term && -n $kill && -n $end ]] ||
		fail "no SIGTERM, SIGKILL or exit in the trace: $(cat "$1")"
	awk -v t="$term" -v k="$kill" -v e="$end" -v s="$2" \
		'BEGIN { exit !(k - t >= s - 0.05 && e - t >= s - 0.05) }' ||
		fail "SIGTERM at $term, SIGKILL at $kill, exit at $end: not $2 s apart"
}

# Tasks that wait: task 1 logs "1" to got, creates "started" and waits for
# "go"; the others log their number.  Command mode, then worker mode.
held_tasks() {
	{
		shtask 'echo 1 >>got; : >started; while [ ! -e go ]; do sleep 0.05; done'
		shtask 'echo 2 >>got'
		shtask 'echo 3 >>got'
	} >in
}
# --- timeouts -------------------------------------------------------------

@test "command mode -t: the task and its grandchildren are killed; 'timed out after 1 s', SIGTERM" {
	local s
	s=$(marked sleep)
	{
		shtask 'exit 0'
		# A grandchild in the background, its pid in bgpid, then a child.
		shtask 'sh -c "\"\$0\" 100 & echo \$! >bgpid; \"\$0\" 100" "$1"' "$s"
		shtask 'exit 0'
	} >in
	run --separate-stderr ppool -j 2 -t 1 <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .error, .exit, .signal, .attempts]')" \
		'[false,"timed out after 1 s",null,"SIGTERM",1]'
	assert_equal "$(jqo -c 'select(.seq != 2) | .ok' | sort -u)" true
	assert_file_exists bgpid
	exited "$(cat bgpid)" || fail "the background grandchild $(cat bgpid) is still running"
	assert_no_process_left
}

@test "command mode: a task's \"timeout\" field overrides -t" {
	local s
	s=$(marked sleep)
	{
		shtask '"$1" 100' "$s" | jq -c '. + {timeout: 0.5}'
		shtask 'exit 0' | jq -c '. + {timeout: 100}'
	} >in
	run --separate-stderr ppool -j 2 -t 100 <in
	assert_equal "$status" 1
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error, .signal]')" '[false,"timed out after 0.5 s","SIGTERM"]'
	assert_equal "$(record 2 | jq -c '[.ok, .exit]')" '[true,0]'
	assert_no_process_left
}

@test "worker mode -t: the worker and its children are killed and replaced; later tasks succeed" {
	local s w
	s=$(marked sleep)
	w=$(worker "while read x; do
		if [ \"\$x\" = 2 ]; then
			sh -c '\"\$0\" 100 & echo \$! >\"\$1\"; \"\$0\" 100' '$s' \"\$W/bgpid\"
		fi
		echo \"\$x\"
	done")
	seq 4 >in
	run --separate-stderr ppool -j 1 -t 1 -w "$w" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(record 2 | jq -c '[.ok, .error, .attempts]')" '[false,"timed out after 1 s",1]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 4 '
	assert_equal "$(record 2 | jq .worker)" "$(record 1 | jq .worker)"
	assert_not_equal "$(record 3 | jq .worker)" "$(record 2 | jq .worker)"
	assert_file_exists bgpid
	exited "$(cat bgpid)" || fail "the worker's background grandchild $(cat bgpid) is still running"
	assert_no_process_left
}

@test "command mode --kill-after: a task that ignores SIGTERM gets SIGKILL" {
	local s
	s=$(marked sleep)
	{
		shtask 'trap "" TERM; "$1" 100' "$s"
		shtask 'exit 0'
	} >in
	run --separate-stderr ppool -j 2 -t 0.5 --kill-after 0.5 <in
	assert_equal "$status" 1
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"timed out after 0.5 s",null,"SIGKILL"]'
	# Its end came no sooner than 0.5 s (-t) + 0.5 s (--kill-after).
	(($(record 1 | jq '.ms | floor') >= 950)) || fail "killed after $(record 1 | jq .ms) ms"
	assert_equal "$(record 2 | jq .ok)" true
	assert_no_process_left
}

@test "command mode: --kill-after defaults to 2 s" {
	# SIGTERM at 0.5 s, ignored, then the SIGKILL of the default
	# --kill-after 2 s later, so about 2500 ms.  It cannot come sooner;
	# 8 s is slack for a loaded machine, and still fails a default of 10 s
	# (or of 1 s below).
	local s
	s=$(marked sleep)
	shtask 'trap "" TERM; "$1" 100' "$s" >in
	run --separate-stderr timeout -k 5 30 "$PPOOL" -t 0.5 <in
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"timed out after 0.5 s",null,"SIGKILL"]'
	local ms
	ms=$(jqo .ms)
	awk -v m="$ms" 'BEGIN { exit !(m >= 2400 && m < 8000) }' ||
		fail "killed after $ms ms, not about 2500"
	assert_no_process_left
}

@test "worker mode --kill-after: a worker that ignores SIGTERM gets SIGKILL and is replaced" {
	local s w
	s=$(marked sleep)
	w=$(worker "trap '' TERM
	while read x; do [ \"\$x\" = 1 ] && '$s' 100; echo \"\$x\"; done")
	seq 3 >in
	run --separate-stderr ppool -j 1 -t 0.5 --kill-after 0.5 -w "$w" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"timed out after 0.5 s"]'
	# The task ends with its worker: no sooner than -t + --kill-after.
	(($(record 1 | jq '.ms | floor') >= 950)) || fail "killed after $(record 1 | jq .ms) ms"
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '2 3 '
	assert_not_equal "$(record 2 | jq .worker)" "$(record 1 | jq .worker)"
	assert_no_process_left
}

@test "--kill-after: ppool's SIGKILL, and its exit, come no sooner than --kill-after seconds after its SIGTERM (both modes)" {
	# Timed by strace, from ppool's own kill and exit_group calls: the
	# SIGTERM of -t 0.5, ignored, and the SIGKILL 1 s (--kill-after) later.
	need_strace
	local s w
	s=$(marked sleep)
	shtask 'trap "" TERM; "$1" 100' "$s" >in
	run --separate-stderr traced trace -t 0.5 --kill-after 1 <in
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .signal]')" \
		'[false,"timed out after 0.5 s","SIGKILL"]'
	assert_kill_after trace 1
	assert_no_process_left
	w=$(worker "trap '' TERM
	while read x; do '$s' 100; echo \"\$x\"; done")
	run --separate-stderr traced trace -j 1 -t 0.5 --kill-after 1 -w "$w" <<<1
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"timed out after 0.5 s"]'
	assert_kill_after trace 1
	assert_no_process_left
}

@test "-t: a stopped task or worker (as by SIGTTIN) gets SIGCONT after SIGTERM and dies then, not at --kill-after" {
	# A task that reads the terminal is stopped, as background jobs are;
	# SIGTERM alone waits for a SIGCONT that never comes, so only the
	# SIGKILL of --kill-after (here 20 s, past the 15 s guard) ended it.
	local s w
	s=$(marked sleep)
	shtask 'kill -STOP $$; "$1" 100' "$s" >in
	run --separate-stderr timeout -k 5 15 "$PPOOL" -t 0.5 --kill-after 20 <in
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .signal]')" \
		'[false,"timed out after 0.5 s","SIGTERM"]'
	assert_no_process_left
	w=$(worker "kill -STOP \$\$; exec cat")
	run --separate-stderr timeout -k 5 15 "$PPOOL" -j 1 -t 0.5 --kill-after 20 -w "$w" <<<1
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"timed out after 0.5 s"]'
	assert_no_process_left
}

@test "worker mode -t --inflight 3: the tasks queued behind a timed-out task say why their worker died" {
	local s w
	s=$(marked sleep)
	w=$(worker "while read x; do [ \"\$x\" = 1 ] && '$s' 100; echo \"\$x\"; done")
	seq 5 >in
	run --separate-stderr ppool -j 1 --inflight 3 -t 1 -w "$w" <in
	assert_equal "$status" 3
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"timed out after 1 s"]'
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"worker killed: task 1 timed out after 1 s"]'
	assert_equal "$(record 3 | jq -c '[.ok, .error]')" '[false,"worker killed: task 1 timed out after 1 s"]'
	assert_equal "$(jqo -c 'select(.seq <= 3) | .worker' | sort -u | wc -l)" 1
	assert_equal "$(jqo -c 'select(.seq > 3) | [.ok, .result]' | tr '\n' ' ')" '[true,4] [true,5] '
	assert_not_equal "$(record 4 | jq .worker)" "$(record 1 | jq .worker)"
	assert_no_process_left
}

@test "worker mode -t --inflight 3: a queued task's clock starts when the worker answers the one before it" {
	# Each task takes 1.1 s, under -t 2, and two together more than 2 s:
	# the second, counted from when it was queued, once timed out though
	# it had run for 0.9 s.  Nor may a record's ms count from then: task
	# 3, queued at once, would show 3.3 s or more, past -t for a success.
	local w
	w=$(worker 'while read x; do sleep 1.1; echo "$x"; done')
	run --separate-stderr ppool -j 1 --inflight 3 -t 2 -w "$w" < <(seq 3)
	assert_success
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,true] [3,true] '
	assert_equal "$(jqo -c 'select(.ms >= 2000) | [.seq, .ms]')" ""
	assert_no_process_left
}

@test "stdout a terminal nobody reads (Ctrl-S, a stalled ssh): -t still stops a task on time" {
	# ppool waited in write(2) on the terminal, and no timer ran.  A pty
	# holds ~19 kB (64 kB at most): the terminal is full after the first
	# ~60 records of ~330 bytes, and 1000 are over 15 times that.  (It
	# was 3000: no stronger, and minutes of forks under ASan in CI.)
	local pad
	pad=$(printf 'x%.0s' $(seq 200))
	{
		echo '{"cmd":["sh","-c","echo $$ >task1.pid; exec sleep 322"],"id":"'"$MARKER"'"}'
		seq 1000 | sed 's/.*/{"cmd":["true"],"id":"'"$pad"'"}/'
	} >tasks
	run python3 - "$PPOOL" <<'PYEOF'
import os, pty, subprocess, sys, time
m, s = pty.openpty()
p = subprocess.Popen([sys.argv[1], "-u", "-j", "2", "-t", "1", "--joblog=jl"],
                     stdin=open("tasks"), stdout=s, stderr=subprocess.DEVNULL)
os.close(s)
# The terminal is not read until task 1 was killed (-t 1): its process
# gone, or a zombie.  (Its joblog line waits for its record, which waits
# for the terminal.)
def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True
end = time.time() + 10
logged = False
while not logged and time.time() < end:
    if os.path.exists("task1.pid"):
        with open("task1.pid") as f:
            text = f.read().strip()
        logged = text != "" and gone(int(text))
    time.sleep(0.05)
data = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    data += d
p.wait()
first = [l for l in data.decode().splitlines() if l.startswith('{"seq":1,')]
print("logged" if logged else "not logged", p.returncode)
print(first[0] if first else "no record")
PYEOF
	assert_success
	assert_line --index 0 "logged 1"
	assert_equal "$(jq -r .error <<<"${lines[1]}")" "timed out after 1 s"
}

@test "command mode -t --retries 1: a task that timed out runs again" {
	local s
	s=$(marked sleep)
	# The first attempt hangs, the second succeeds.
	shtask 'echo x >>count; [ "$(wc -l <count)" -ge 2 ] || "$1" 100' "$s" >in
	run --separate-stderr ppool -t 1 --retries 1 <in
	assert_success
	assert_equal "$(jqo -c '[.seq, .ok, .attempts, .exit]')" '[1,true,2,0]'
	assert_equal "$(wc -l <count)" 2
	assert_no_process_left
}

@test "worker mode -t --retries 1: a task that timed out runs again on another worker" {
	local s w
	s=$(marked sleep)
	w=$(worker "while read x; do
		if [ \"\$x\" = 1 ] && mkdir \"\$W/once\" 2>/dev/null; then
			echo \$\$ >\"\$W/slowpid\"; '$s' 100
		fi
		echo \"\$x\"
	done")
	seq 2 >in
	run --separate-stderr ppool -j 1 -t 1 --retries 1 -w "$w" <in
	assert_success
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .result, .attempts]')" '[true,1,2]'
	assert_not_equal "$(record 1 | jq .worker)" "$(cat slowpid)"
	assert_no_process_left
}

# --- retries --------------------------------------------------------------

@test "command mode --retries: fails twice then succeeds (attempts 3); always fails (attempts N+1)" {
	{
		shtask 'echo x >>count1; [ "$(wc -l <count1)" -ge 3 ]'
		shtask 'echo x >>count2; exit 4'
		shtask 'echo x >>count3'
	} >in
	run --separate-stderr ppool -j 2 --retries 3 <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq -c '[.ok, .attempts, .exit]')" '[true,3,0]'
	assert_equal "$(record 2 | jq -c '[.ok, .attempts, .exit, .error]')" '[false,4,4,"exited with status 4"]'
	assert_equal "$(record 3 | jq -c '[.ok, .attempts]')" '[true,1]'
	assert_equal "$(wc -l <count1) $(wc -l <count2) $(wc -l <count3)" "3 4 1"
	assert_no_process_left
}

@test "worker mode --retries: fails twice then succeeds (attempts 3); always fails (attempts N+1)" {
	local w
	w=$(worker 'while read x; do
		echo x >>"$W/count$x"
		n=$(wc -l <"$W/count$x")
		if [ "$x" = 1 ] && [ "$n" -lt 3 ] || [ "$x" = 2 ]; then
			echo "{\"error\": \"no $n\"}"
		else
			echo "{\"result\": $x}"
		fi
	done')
	seq 3 >in
	run --separate-stderr ppool -j 2 --envelope --retries 3 -w "$w" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq -c '[.ok, .result, .attempts]')" '[true,1,3]'
	assert_equal "$(record 2 | jq -c '[.ok, .error, .attempts]')" '[false,"no 4",4]'
	assert_equal "$(record 3 | jq -c '[.ok, .result, .attempts]')" '[true,3,1]'
	assert_equal "$(wc -l <count1) $(wc -l <count2) $(wc -l <count3)" "3 4 1"
	assert_no_process_left
}

@test "command mode --retries: a retry goes to the front of the queue" {
	{
		shtask 'echo 1 >>log; [ "$(grep -c 1 log)" -ge 2 ]'
		shtask 'echo 2 >>log'
		shtask 'echo 3 >>log'
	} >in
	run --separate-stderr ppool -j 1 --retries 1 <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq .attempts)" 2
	assert_equal "$(tr '\n' ' ' <log)" '1 1 2 3 '
	assert_no_process_left
}

@test "worker mode --retries -j 2: a retry goes to another worker than the one that failed it" {
	local w
	# The worker that first gets task 3 dies holding it.
	w=$(worker 'while read x; do
		if [ "$x" = 3 ] && mkdir "$W/once" 2>/dev/null; then echo $$ >"$W/failpid"; exit 3; fi
		echo "$x"
	done')
	seq 6 >in
	run --separate-stderr ppool -j 2 --retries 1 -w "$w" <in
	assert_success
	assert_records_valid
	assert_seqs_in_order 6
	assert_equal "$(jqo -c '[.ok, .result]' | tr '\n' ' ')" \
		'[true,1] [true,2] [true,3] [true,4] [true,5] [true,6] '
	assert_equal "$(record 3 | jq .attempts)" 2
	assert_not_equal "$(record 3 | jq .worker)" "$(cat failpid)"
	assert_equal "$(jqo 'select(.seq != 3) | .attempts' | sort -u)" 1
	assert_no_process_left
}

@test "worker mode --retries -j 2: an --envelope error's retry waits for the other worker, no worker is replaced" {
	# The healthy worker that answered the error was replaced for each
	# retry while the other one was busy: 6 starts for 4 retries.
	local w
	w=$(worker 'echo $$ >>"$W/starts"
	while read x; do
		if [ $((x % 10)) = 0 ]; then echo "{\"error\": $x}"; else echo "{\"result\": $x}"; fi
	done')
	run --separate-stderr ppool -j 2 --envelope --retries 1 -w "$w" < <(seq 40)
	assert_failure 4
	assert_seqs_in_order 40
	assert_equal "$(jqo -c 'select(.ok | not) | [.seq, .attempts]' | tr '\n' ' ')" \
		'[10,2] [20,2] [30,2] [40,2] '
	# Once input is over and no task waits, both workers' stdin is closed
	# (a worker that reads in batches must see the end): a task of the two
	# still in flight that then fails is retried on a fresh worker.  That
	# is 2 more at most (6 runs in 300 saw both, the first one slow).
	(($(wc -l <starts) <= 4)) || fail "$(wc -l <starts) workers started"
	assert_no_process_left
}

@test "worker mode --retries -j 2: while a retry waits for the other worker, the one that failed it goes on with the queue" {
	# The retry at the head of the queue held every task behind it until
	# the busy worker was free.
	local w
	w=$(worker 'while read -r x; do
		case $x in
		\"slow\") while [ ! -e "$W/go" ]; do sleep 0.05; done; echo "{\"result\": \"slow\"}" ;;
		\"bad\") echo "{\"error\": \"transient\"}" ;;
		*) echo "{\"result\": $x}" ;;
		esac; done')
	(echo '"slow"'; echo '"bad"'; seq 6) >in
	"$PPOOL" -u -j 2 --envelope --retries 1 -w "$w" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 at_least_lines out 6
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 1
	assert_equal "$(head -6 out | jq -c .result | tr '\n' ' ')" '1 2 3 4 5 6 '
	assert_equal "$(jq -c 'select(.seq == 2) | [.ok, .attempts]' out)" '[false,2]'
}

@test "worker mode --retries -j 1: the worker that failed a task is retired, a fresh one retries it" {
	local w
	# Task 2's first attempt gets an --envelope error; the worker lives on,
	# but must not get the retry.
	w=$(worker 'echo $$ >>"$W/starts"
	while read x; do
		if [ "$x" = 2 ] && mkdir "$W/once" 2>/dev/null; then
			echo $$ >"$W/failpid"; echo "{\"error\": \"once\"}"
		else
			echo "{\"result\": $x}"
		fi
	done')
	seq 3 >in
	run --separate-stderr ppool -j 1 --envelope --retries 1 -w "$w" <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .result, .attempts]')" '[true,2,2]'
	assert_equal "$(record 1 | jq .worker)" "$(cat failpid)"
	assert_not_equal "$(record 2 | jq .worker)" "$(cat failpid)"
	assert_equal "$(record 3 | jq .worker)" "$(record 2 | jq .worker)"
	assert_equal "$(wc -l <starts)" 2
	assert_no_process_left
}

@test "command mode --retries: no retry of a task that could not run (command not found, bad cwd, invalid JSON)" {
	{
		jq -nc --arg m "$MARKER" '{cmd: ["./no-such-program-\($m)"]}'
		shtask 'echo x >>count' | jq -c '. + {cwd: "./no-such-dir"}'
		echo '{"cmd": ["true"'
		shtask 'exit 0'
	} >in
	run --separate-stderr ppool -j 1 --retries 3 <in
	assert_equal "$status" 3
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(record 1 | jq -c '[.ok, .exit, .attempts]')" '[false,127,1]'
	[[ $(record 1 | jq -r .error) == *": command not found" ]] || fail "record: $(record 1)"
	assert_equal "$(record 2 | jq -c '[.ok, .attempts]')" '[false,1]'
	assert_equal "$(record 3 | jq -c '[.ok, .attempts]')" '[false,0]'
	[[ $(record 3 | jq -r .error) == "invalid JSON at byte "* ]] || fail "record: $(record 3)"
	assert_equal "$(record 4 | jq -c '[.ok, .attempts]')" '[true,1]'
	assert_file_not_exists count
	assert_no_process_left
}

@test "worker mode --retries: no retry of an invalid JSON task" {
	printf '%s\n' 1 '{"a": ' 3 >in
	run --separate-stderr ppool -j 1 --retries 3 -w "$(cat_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .attempts]')" '[false,0]'
	[[ $(record 2 | jq -r .error) == "invalid JSON at byte "* ]] || fail "record: $(record 2)"
	assert_equal "$(jqo -c 'select(.ok) | [.result, .attempts]' | tr '\n' ' ')" '[1,1] [3,1] '
	assert_no_process_left
}

# --- halt -----------------------------------------------------------------

@test "command mode --halt soon,fail=1 -j 1: nothing starts after the failure, later tasks have no record" {
	{
		shtask 'echo 1 >>ran'
		shtask 'echo 2 >>ran; exit 3'
		shtask 'echo 3 >>ran'
		shtask 'echo 4 >>ran'
	} >in
	run --separate-stderr ppool -j 1 --halt soon,fail=1 <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 2
	assert_equal "$(record 2 | jq -c '[.ok, .exit]')" '[false,3]'
	assert_equal "$(tr '\n' ' ' <ran)" '1 2 '
	assert_equal "$stderr" "$PROG: --halt: 1 of 2 finished tasks failed; waiting for the running ones, starting no more"
	assert_no_process_left
}

@test "worker mode --halt soon,fail=1 -j 1: nothing is sent after the failure, later tasks have no record" {
	local w
	w=$(worker 'while read x; do
		echo "$x" >>"$W/got"
		if [ "$x" = 2 ]; then echo "{\"error\": \"no\"}"; else echo "{\"result\": $x}"; fi
	done')
	seq 5 >in
	run --separate-stderr ppool -j 1 --envelope --halt soon,fail=1 -w "$w" <in
	assert_equal "$status" 1
	assert_seqs_in_order 2
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"no"]'
	assert_equal "$(tr '\n' ' ' <got)" '1 2 '
	assert_equal "$stderr" "$PROG: --halt: 1 of 2 finished tasks failed; waiting for the running ones, starting no more"
	assert_no_process_left
}

@test "--halt soon,fail=1: a bad line read ahead fails in its turn, the tasks before it all run" {
	# Lines that are no task once failed as soon as they were read, and
	# the halt dropped every task read before them but not yet started.
	{ seq 99; echo x; seq 3; } >in
	run --separate-stderr ppool -j 4 -o raw --halt soon,fail=1 -w "$(cat_worker)" -a in
	assert_equal "$status" 1
	assert_output "$(seq 99)"
	run --separate-stderr ppool -j 4 --halt soon,fail=1 -a in -- true
	assert_equal "$status" 1
	assert_seqs_in_order 100
	assert_equal "$(record 100 | jq -r .error)" "invalid JSON at byte 1"
}

@test "command mode --halt now,fail=1 -j 2: the running task is killed, its record says so" {
	local s
	s=$(marked sleep)
	{
		shtask ': >started; "$1" 100' "$s"
		shtask 'while [ ! -e started ]; do sleep 0.05; done; exit 3'
		shtask 'echo 3 >>ran'
		shtask 'echo 4 >>ran'
	} >in
	run --separate-stderr ppool -j 2 --halt now,fail=1 <in
	assert_equal "$status" 2
	assert_records_valid
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"stopped by --halt now",null,"SIGTERM"]'
	assert_equal "$(record 2 | jq -c '[.ok, .exit]')" '[false,3]'
	assert_file_not_exists ran
	assert_equal "$stderr" "$PROG: --halt: 1 of 1 finished tasks failed; killing the running ones"
	assert_no_process_left
}

@test "worker mode --halt now,fail=1 -j 2: the busy worker is killed, its task's record says so" {
	local s w
	s=$(marked sleep)
	w=$(halt_worker "$s")
	seq 5 >in
	run --separate-stderr ppool -j 2 --envelope --halt now,fail=1 -w "$w" <in
	assert_equal "$status" 2
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"worker killed: stopped by --halt now"]'
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"no"]'
	assert_equal "$(sort got | tr '\n' ' ')" '1 2 '
	assert_equal "$stderr" "$PROG: --halt: 1 of 1 finished tasks failed; killing the running ones"
	assert_no_process_left
}

@test "command mode --halt soon,fail=50%: halts once 3 or more finished and half failed" {
	# ok, fail (1 of 2: too few finished), ok (1 of 3), fail (2 of 4: halt).
	{
		shtask 'echo 1 >>ran'
		shtask 'echo 2 >>ran; exit 1'
		shtask 'echo 3 >>ran'
		shtask 'echo 4 >>ran; exit 1'
		shtask 'echo 5 >>ran'
		shtask 'echo 6 >>ran'
	} >in
	run --separate-stderr ppool -j 1 --halt soon,fail=50% <in
	assert_equal "$status" 2
	assert_seqs_in_order 4
	assert_equal "$(jqo -c .ok | tr '\n' ' ')" 'true false true false '
	assert_equal "$(tr '\n' ' ' <ran)" '1 2 3 4 '
	assert_equal "$stderr" "$PROG: --halt: 2 of 4 finished tasks failed; waiting for the running ones, starting no more"
	assert_no_process_left
}

@test "worker mode --halt soon,fail=50%: halts once 3 or more finished and half failed" {
	local w
	w=$(worker 'while read x; do
		echo "$x" >>"$W/got"
		if [ $((x % 2)) = 0 ] && [ "$x" -le 4 ]; then echo "{\"error\": \"no\"}"; else echo "{\"result\": $x}"; fi
	done')
	seq 6 >in
	run --separate-stderr ppool -j 1 --envelope --halt soon,fail=50% -w "$w" <in
	assert_equal "$status" 2
	assert_seqs_in_order 4
	assert_equal "$(jqo -c .ok | tr '\n' ' ')" 'true false true false '
	assert_equal "$(tr '\n' ' ' <got)" '1 2 3 4 '
	assert_equal "$stderr" "$PROG: --halt: 2 of 4 finished tasks failed; waiting for the running ones, starting no more"
	assert_no_process_left
}

@test "--halt counts final failures: a task that succeeds on retry does not halt the run" {
	{
		shtask 'echo 1 >>ran; [ "$(grep -c 1 ran)" -ge 2 ]'
		shtask 'echo 2 >>ran'
		shtask 'echo 3 >>ran'
	} >in
	run --separate-stderr ppool -j 1 --retries 1 --halt now,fail=1 <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.ok, .attempts]' | tr '\n' ' ')" '[true,2] [true,1] [true,1] '
	assert_equal "$stderr" ""
	assert_no_process_left
}

# --- signals (worker-mode SIGTERM and SIGHUP: see shutdown.bats) ------------

# finished_alone PID STATUS: let held task 1 end, then check that ppool
# exited with STATUS, task 1 finished and printed, and nothing else ran.
finished_alone() {
	: >go
	wait_exit "$1" 20
	assert_equal "$status" "$2"
	assert_equal "$(jq -c '[.seq, .ok, .exit]' out)" '[1,true,0]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "command mode, first SIGTERM: the running task finishes and prints, nothing new starts, exit 143" {
	held_tasks
	"$PPOOL" -j 1 <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -TERM "$pid"
	wait_until 10 signal_taken "$pid" 15
	finished_alone "$pid" 143
}

@test "command mode, second SIGTERM: the running task is killed, its record says so, exit 143" {
	held_tasks
	"$PPOOL" -j 1 <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	signal_twice "$pid" TERM
	wait_exit "$pid" 20
	assert_equal "$status" 143
	assert_equal "$(jq -c '[.seq, .ok, .error, .exit, .signal]' out)" \
		'[1,false,"ppool got a second signal (SIGTERM)",null,"SIGTERM"]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "SIGHUP, SIGINT and SIGTERM ignored when ppool starts (nohup) stay ignored: every task runs" {
	env --ignore-signal=HUP true 2>/dev/null || skip "env has no --ignore-signal"
	held_tasks
	env --ignore-signal=HUP --ignore-signal=INT --ignore-signal=TERM \
		"$PPOOL" -j 1 <in >out 2>err 3>&- &
	local pid=$! sig
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	for sig in HUP INT TERM; do
		kill -"$sig" "$pid"
	done
	for sig in 1 2 15; do
		wait_until 10 signal_taken "$pid" "$sig"
	done
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .ok]' out | tr '\n' ' ')" '[1,true] [2,true] [3,true] '
	assert_equal "$(cat got | tr '\n' ' ')" '1 2 3 '
	assert_no_process_left
	# and the tasks and workers inherit them ignored, as xargs's do
	run --separate-stderr env --ignore-signal=HUP "$PPOOL" -o raw \
		<<<'{"cmd":["awk","/^SigIgn:/ { print $2 }","/proc/self/status"]}'
	assert_success
	assert_equal "$(( 0x$output & 1 ))" 1
	run --separate-stderr env --ignore-signal=HUP "$PPOOL" -o raw \
		-w "while read x; do awk '/^SigIgn:/ { print \$2 }' /proc/self/status; done" <<<1
	assert_success
	assert_equal "$(( 0x$output & 1 ))" 1
}

@test "a SIGTERM sent twice at once, as timeout(1) sends it (to ppool, then its group), counts once" {
	skip_under_valgrind "its signal delivery can take more than 50 ms"
	held_tasks
	setsid "$PPOOL" -j 1 <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	# The second kill once the first has been taken (not merged with it),
	# a few microseconds later.
	perl -e 'my $pid = shift; kill "TERM", $pid;
		for (1 .. 100000) {
			open my $f, "<", "/proc/$pid/status" or last;
			my ($p) = grep { /^SigPnd/ } <$f>;
			last if $p =~ /^SigPnd:\s*0+$/;
		}
		kill "TERM", -$pid' "$pid"
	wait_until 10 signal_taken "$pid" 15
	finished_alone "$pid" 143
}

@test "command mode, first SIGINT: the running task finishes and prints, exit 130" {
	held_tasks
	(with_int "$PPOOL" -j 1) <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -INT "$pid"
	wait_until 10 signal_taken "$pid" 2
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 130
	assert_equal "$(jq -c '[.seq, .ok, .exit]' out)" '[1,true,0]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "worker mode, first SIGINT: the running task finishes and prints, exit 130" {
	seq 3 >in
	(with_int "$PPOOL" -j 1 -w "$(held_worker)") <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -INT "$pid"
	wait_until 10 signal_taken "$pid" 2
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 130
	assert_equal "$(jq -c '[.seq, .ok, .result]' out)" '[1,true,1]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "command mode: a Ctrl-C (SIGINT to ppool's process group) reaches only ppool" {
	held_tasks
	(with_int setsid "$PPOOL" -j 1) <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	# ppool leads its own process group, as in a terminal.
	assert_equal "$(ps -o pgid= -p "$pid" | tr -d ' ')" "$pid"
	kill -INT -- "-$pid"
	wait_until 10 signal_taken "$pid" 2
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 130
	# The task, in its own process group, did not get the SIGINT.
	assert_equal "$(jq -c '[.seq, .ok, .exit, .signal]' out)" '[1,true,0,null]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

@test "worker mode: a Ctrl-C (SIGINT to ppool's process group) reaches only ppool" {
	seq 3 >in
	(with_int setsid "$PPOOL" -j 1 -w "$(held_worker)") <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	assert_equal "$(ps -o pgid= -p "$pid" | tr -d ' ')" "$pid"
	kill -INT -- "-$pid"
	wait_until 10 signal_taken "$pid" 2
	: >go
	wait_exit "$pid" 20
	assert_equal "$status" 130
	assert_equal "$(jq -c '[.seq, .ok, .result]' out)" '[1,true,1]'
	assert_equal "$(cat got)" 1
	assert_no_process_left
}

# --- resource limits ------------------------------------------------------

# limited SOFT HARD ARG...: run ppool ARG... (stdin: seq 200) with
# 'ulimit -n' set to SOFT (and HARD, unless it is "-").
limited() {
	local soft=$1 hard=$2
	shift 2
	(
		ulimit -Sn "$soft" || exit 254
		if [[ $hard != - ]]; then ulimit -Hn "$hard" || exit 254; fi
		seq 200 | "$PPOOL" "$@"
	)
}

# fd_warning WHAT: the notice, for workers or commands.
fd_warning() {
	printf "only 64 file descriptors may be open: running 12 %s at once instead of 100 (raise 'ulimit -n' for more)" "$1"
}

@test "command mode, ulimit -n 64 (soft and hard) with -j 100: all 200 tasks run, one warning, exit 0" {
	run --separate-stderr limited 64 64 -j 100 -- sh -c 'exit 0' "$MARKER"
	assert_success
	assert_records_valid
	assert_seqs_in_order 200
	assert_equal "$(jqo .ok | sort -u)" true
	assert_equal "$stderr" "$PROG: $(fd_warning commands)"
	assert_no_process_left
}

@test "worker mode, ulimit -n 64 (soft and hard) with -j 100: all 200 tasks run, one warning, exit 0" {
	run --separate-stderr limited 64 64 -j 100 -w "$(cat_worker)"
	assert_success
	assert_records_valid
	assert_seqs_in_order 200
	assert_equal "$(jqo -c 'select(.ok and .result == .seq) | .seq' | wc -l)" 200
	assert_equal "$stderr" "$PROG: $(fd_warning workers)"
	assert_no_process_left
}

@test "command mode, ulimit -n 64: pipelines of 10 stages, whose descriptors -j's budget does not count, all run" {
	# libpipeline exits the whole program (2) when it cannot make the pipe
	# between two stages; ppool's own pipes failed the task.  Each task
	# now waits for descriptors that a running one gives back.
	local cats i
	cats=$(printf ',["cat"]%.0s' $(seq 9))
	for i in $(seq 40); do
		printf '{"pipeline":[["sh","-c","echo %s","%s"]%s]}\n' "$i" "$MARKER" "$cats"
	done >tasks
	run --separate-stderr bash -c 'ulimit -n 64 || exit 254; "$0" -j 100 <tasks' "$PPOOL"
	assert_success
	assert_seqs_in_order 40
	assert_equal "$(jqo -c 'select(.ok and .stdout == "\(.seq)\n") | .seq' | wc -l)" 40
	assert_equal "$stderr" "$PROG: $(fd_warning commands)"
	assert_no_process_left
}

@test "a soft 'ulimit -n' that the hard limit allows to raise: raised quietly, all tasks run" {
	(($(ulimit -Hn) >= 1024)) || skip "the hard limit of open files is below 1024"
	run --separate-stderr limited 64 - -j 100 -w "$(cat_worker)"
	assert_success
	assert_seqs_in_order 200
	assert_equal "$stderr" ""
	assert_no_process_left
}

@test "a fork failure (ulimit -u as an unprivileged user) fails that task, not the run" {
	[[ $(id -u) == 0 ]] && command -v setpriv >/dev/null ||
		skip "needs root and setpriv to run ppool as nobody"
	# nobody must be able to reach the binary and its own work directory.
	local dir
	dir=$(mktemp -d /tmp/ppool-nproc.XXXXXX)
	cp "$PPOOL" "$dir/ppool"
	chmod 755 "$dir" "$dir/ppool"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups bash -c "cd $dir; ulimit -u 4; seq 12 |
	    exec ./ppool -j 4 -- sleep 0.2" </dev/null
	rm -rf "$dir"
	# Every task has a record; those that could not start say why; ppool
	# itself neither died (libpipeline exits on a failed fork) nor hung.
	assert_records_valid
	assert_seqs_in_order 12
	[[ $status -ge 1 && $status -le 12 ]] || fail "exit status $status"
	assert_equal "$(jqo -r 'select(.ok | not) | .error' |
	    grep -c 'Resource temporarily unavailable')" "$status"
}

@test "regression: worker starts that fail for want of a process leak no descriptor" {
	[[ $(id -u) == 0 ]] && command -v setpriv >/dev/null ||
		skip "needs root and setpriv to run ppool as nobody"
	# The fork probe's failure returned before the child's pipe ends were
	# handed over: two descriptors lost a start, and worker mode tries a
	# start on every pass while tasks wait, until EMFILE.
	local dir pid n
	dir=$(mktemp -d /tmp/ppool-nproc.XXXXXX)
	cp "$PPOOL" "$dir/ppool"
	# A worker that never forks (a shell's sleep would need a process).
	printf '%s\n' 'import sys, time' 'for l in sys.stdin:' \
	    '    time.sleep(0.01); sys.stdout.write(l); sys.stdout.flush()' >"$dir/w.py"
	seq 300 >"$dir/in"
	chmod 755 "$dir" "$dir/ppool"
	chmod 644 "$dir/w.py" "$dir/in"
	# ppool and two workers fit in 'ulimit -u 3'; a third start fails.
	# setpriv, bash and ppool are one process (exec): $! is ppool.
	setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c "cd $dir
	    ulimit -u 3; exec ./ppool -j 4 -w 'exec /usr/bin/python3 w.py $MARKER' <in" \
	    </dev/null >out 2>err 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 30 at_least_lines out 100
	n=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
	wait_exit "$pid" 60
	rm -rf "$dir"
	assert_equal "$status" 0
	output=$(<out)
	assert_seqs_in_order 300
	# 0-2, the signal pipe, the input, two workers' three each (13; a
	# sanitizer build keeps a few of its own): not the hundreds a leak of
	# two a failed start left.
	((n > 0 && n <= 32)) || fail "$n descriptors open in ppool midway: $(cat err)"
	assert_no_process_left
}

# --- misbehaving workers --------------------------------------------------

@test "regression: a worker killed for a protocol error that exits 0 at end of input: its task says why it was killed" {
	# worker_kill closes the worker's stdin before its SIGTERM: a worker
	# that then reads end of input and exits 0 (here it ignores SIGTERM,
	# which makes that certain) had its task fail with "worker exited
	# with status 0", the protocol error said only on stderr.
	local w
	w=$(worker 'trap "" TERM; while IFS= read -r x; do
		if [ "$x" = 3 ]; then printf "%1124s\n" x; else echo "$x"; fi; done')
	run --separate-stderr ppool -j 1 --max-line 1024 -w "$w" < <(seq 5)
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(record 3 | jq -c '[.ok, .error]')" \
		'[false,"worker killed: reply longer than --max-line (1024 bytes)"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 2 4 5 '
	assert_no_process_left
}

@test "a worker flooding stdout without a newline: killed at --max-line, replaced; later tasks succeed" {
	local c w
	c=$(marked cat)
	w=$(worker "while read x; do [ \"\$x\" = 2 ] && '$c' /dev/zero; echo \"\$x\"; done")
	seq 5 >in
	run --separate-stderr ppool -j 1 --max-line 100K -w "$w" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" \
		'[false,"worker killed: reply longer than --max-line (102400 bytes)"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 4 5 '
	assert_not_equal "$(record 3 | jq .worker)" "$(record 2 | jq .worker)"
	[[ $stderr == *"protocol error: reply longer than --max-line (102400 bytes); killing and replacing it"* ]] ||
		fail "stderr: $stderr"
	assert_no_process_left
}

@test "a worker writing a line with no task waiting: warned about, killed, replaced; later tasks succeed" {
	local w
	w=$(worker 'while read x; do echo "$x"; [ "$x" = 2 ] && echo unasked; done')
	# Tasks 3-5 are fed only once ppool has warned: when "unasked" comes,
	# there is no task in flight at all.
	{
		seq 2
		wait_until 20 grep -qs 'reply with no task waiting' err
		seq 3 5
	} | "$PPOOL" -j 1 -w "$w" >out 2>err
	local st=("${PIPESTATUS[@]}")
	assert_equal "${st[*]}" "0 0"
	output=$(cat out)
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(jqo -c '[.ok, .result]' | tr '\n' ' ')" '[true,1] [true,2] [true,3] [true,4] [true,5] '
	assert_equal "$(record 2 | jq .worker)" "$(record 1 | jq .worker)"
	assert_not_equal "$(record 3 | jq .worker)" "$(record 2 | jq .worker)"
	assert_equal "$(cat err)" \
		"$PROG: worker $(record 1 | jq .worker) ('$w'): protocol error: reply with no task waiting; killing and replacing it"
	assert_no_process_left
}

@test "a worker that closes its stdout but keeps running: killed, its task says so, later tasks succeed" {
	local s w
	s=$(marked sleep)
	w=$(worker "while read x; do
		if [ \"\$x\" = 2 ]; then exec >&-; '$s' 100; fi
		echo \"\$x\"
	done")
	seq 4 >in
	run --separate-stderr ppool -j 1 -w "$w" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"worker killed: it closed its stdout"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 4 '
	assert_not_equal "$(record 3 | jq .worker)" "$(record 2 | jq .worker)"
	assert_no_process_left
}

@test "-t does not put off the 2 s given to a worker that closed its stdout" {
	# The timeout's deadline once came first: 8 s (-t 8) instead of 2.
	# Task 2's clock starts at the answer to task 1, just before the
	# close: it ends 2 s later or more, and well before -t's 20 s.
	local w ms
	w=$(worker 'read x; echo "$x"; exec >&-; exec sleep 100')
	run --separate-stderr timeout -k 5 40 "$PPOOL" -j 1 --inflight 2 -t 20 -w "$w" < <(seq 2)
	assert_equal "$status" 1
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"worker killed: it closed its stdout"]'
	ms=$(record 2 | jq '.ms | floor')
	((ms >= 1950 && ms < 15000)) || fail "killed after $ms ms, not 2 s after the close"
	assert_no_process_left
}
