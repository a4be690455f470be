#!/usr/bin/env bats
# operations.bats: --joblog, --resume, --resume-failed, -v and --progress.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# The helpers' teardown, run after this file's own cleaning.
eval "helpers_$(declare -f teardown)"

teardown() {
	if [[ -n ${TMUX_SOCKET:-} ]]; then
		tmux -S "$TMUX_SOCKET" kill-server 2>/dev/null || true
	fi
	helpers_teardown
}

HEADER=$'Seq\tStart\tRuntime\tExit\tSignal\tAttempts\tWorker\tHost\tTask'

# joblog_has FILE N: FILE holds at least N task lines (after its header).
joblog_has() {
	[[ -e $1 ]] && (($(wc -l <"$1") >= $2 + 1))
}

# fields FILE COLS: columns COLS (cut -f) of FILE's task lines, sorted by seq.
fields() {
	tail -n +2 "$1" | sort -n -k1,1 | cut -f "$2"
}

# assert_joblog_line_shape FILE: every task line of FILE has 9 fields, the
# numbers where numbers belong, and a host.
assert_joblog_line_shape() {
	local bad
	bad=$(tail -n +2 "$1" | awk -F '\t' 'NF != 9 ||
		$1 !~ /^[0-9]+$/ || $2 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ ||
		$3 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ || $4 !~ /^-?[0-9]+$/ ||
		$5 !~ /^[0-9]+$/ || $6 !~ /^[0-9]+$/ || $8 == ""')
	[[ -z $bad ]] || fail "malformed joblog lines: $bad"
}

# seqs: the seqs of the records in $output, on one line.
seqs() {
	jqo .seq | tr '\n' ' '
}

# A command-mode task script, run as `sh task.sh MARKER MAX TASK`: appends
# its task (a number) to "done" when it completes; tasks above MAX first
# append to "started" and wait for the file "release".
make_task_script() {
	cat >task.sh <<'EOF'
n=$3
if [ "$n" -gt "$2" ]; then
	echo "$n" >>started
	while [ ! -e release ]; do sleep 0.05; done
fi
echo "$n" >>done
EOF
}

@test "--joblog, command mode: exact header; exit, signal, attempts, '-' for the worker and ':' for the host" {
	printf '%s\n' 'exit 3' 'kill -TERM $$' 'echo ok' >in
	run --separate-stderr ppool -L -j 1 --joblog=jl <in
	assert_equal "$status" 2
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(wc -l <jl)" 4
	assert_joblog_line_shape jl
	# seq, exit, signal, attempts, worker, host (this machine without -S), task
	assert_equal "$(fields jl 1,4-9)" "$(printf '%s\t' 1 3 0 1 - :)exit 3
$(printf '%s\t' 2 -1 15 1 - :)kill -TERM \$\$
$(printf '%s\t' 3 0 0 1 - :)echo ok"
	# The start times are the times of this run.
	local now start
	now=$(date +%s)
	for start in $(fields jl 2); do
		((${start%.*} <= now && ${start%.*} >= now - 60)) || fail "start time $start (now $now)"
	done
}

@test "--joblog, worker mode: the worker's pid, exit 0 or 1, signal 0, host ':'" {
	printf '%s\n' 1 2 3 4 >in
	local w
	w=$(worker 'while read x; do
		if [ "$x" = 3 ]; then echo "{\"error\": \"three\"}"; else echo "{\"result\": $x}"; fi
	done')
	run --separate-stderr ppool -j 2 --envelope --joblog=jl -w "$w" <in
	assert_equal "$status" 1
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(wc -l <jl)" 5
	assert_joblog_line_shape jl
	assert_equal "$(fields jl 1,4,5,6,8,9 | tr '\t\n' ', ')" '1,0,0,1,:,1 2,0,0,1,:,2 3,1,0,1,:,3 4,0,0,1,:,4 '
	# The worker column is the pid the record names.
	local s
	for s in 1 2 3 4; do
		assert_equal "$(awk -F '\t' -v s="$s" '$1 == s { print $7 }' jl)" "$(record "$s" | jq .worker)"
	done
}

@test "--joblog --retries: the attempts column counts every run of the task" {
	printf '%s\n' 'exit 4' 'echo ok' >in
	run --separate-stderr ppool -L -j 1 --retries 2 --joblog=jl <in
	assert_equal "$status" 1
	assert_equal "$(fields jl 1,4,5,6 | tr '\t\n' ', ')" '1,4,0,3 2,0,0,1 '
	assert_equal "$(wc -l <jl)" 3

	# Worker mode: task 2 fails once, then succeeds.
	local w
	w=$(worker 'while read x; do
		if [ "$x" = 2 ] && mkdir "$W/failed-once" 2>/dev/null; then
			echo "{\"error\": \"once\"}"
		else echo "{\"result\": $x}"; fi
	done')
	printf '%s\n' 1 2 3 >in
	run --separate-stderr ppool -j 1 --envelope --retries 2 --joblog=jw -w "$w" <in
	assert_success
	assert_equal "$(fields jw 1,4,5,6 | tr '\t\n' ', ')" '1,0,0,1 2,0,0,2 3,0,0,1 '
}

@test "--joblog escapes the task text: a tab (-L), a newline and a backslash (-0) keep one line per task" {
	printf 'a\tb\nplain\n' >in
	run --separate-stderr ppool -L -o raw --joblog=jl -- true <in
	assert_success
	assert_equal "$(wc -l <jl)" 3
	assert_equal "$(fields jl 9)" 'a\tb
plain'
	assert_joblog_line_shape jl

	printf 'x\ny\\z\0two\r\0' >in0
	run --separate-stderr ppool -0 -o raw --joblog=jl0 -- true <in0
	assert_success
	assert_equal "$(wc -l <jl0)" 3
	assert_equal "$(fields jl0 9)" 'x\ny\\z
two\r'
	assert_joblog_line_shape jl0
}

@test "--joblog lines are written as tasks finish, not at exit" {
	make_task_script
	# Task 1 is quick; task 2 waits for the file "release".
	printf '%s\n' 1 2 >in
	"$PPOOL" -L -j 1 --joblog=jl -- sh task.sh "$MARKER" 1 <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 joblog_has jl 1
	wait_until 20 at_least_lines started 1
	# ppool still runs task 2, and task 1's line is already there.
	kill -0 "$pid"
	assert_equal "$(fields jl 1,4)" $'1\t0'
	touch release
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(fields jl 1 | tr '\n' ' ')" '1 2 '
}

@test "--joblog: a command that timed out but exited 0 logs exit -1, and --resume-failed runs it again" {
	echo '{"cmd":"trap \"exit 0\" TERM; sleep 9 & wait"}' >in
	run --separate-stderr ppool -t 0.3 --joblog=jl <in
	assert_failure 1
	assert_equal "$(jqo -c '[.error, .exit]')" '["timed out after 0.3 s",0]'
	assert_equal "$(fields jl 1,4,5 | tail -1)" $'1\t-1\t0'
	run --separate-stderr ppool -t 0.3 --joblog=jl --resume-failed <in
	assert_failure 1
	assert_equal "$(jqo -r .error)" "timed out after 0.3 s"
}

@test "\"ms\" and the joblog's Runtime are the task's elapsed time: sleep 0.3 takes 300 ms or more" {
	# The lower bounds cannot fail: the task cannot be over before its
	# sleep is.  The upper ones are loose, for a loaded machine; they
	# catch a time in the wrong unit (seconds, microseconds).
	run --separate-stderr timeout -k 5 30 "$PPOOL" --joblog=jl -- sleep <<<'"0.3"'
	assert_success
	assert_records_valid
	assert_equal "$(jqo -c '[.seq, .ok, .exit]')" '[1,true,0]'
	local ms runtime
	ms=$(jqo .ms)
	awk -v m="$ms" 'BEGIN { exit !(m >= 300 && m < 30000) }' || fail "ms is $ms"
	assert_joblog_line_shape jl
	runtime=$(fields jl 3)
	awk -v r="$runtime" 'BEGIN { exit !(r >= 0.3 && r < 30) }' || fail "Runtime is $runtime"
}

@test "a run without --resume starts the joblog afresh" {
	seq 5 >in
	run --separate-stderr ppool -L -o raw --joblog=jl -- true <in
	assert_success
	assert_equal "$(wc -l <jl)" 6
	printf '%s\n' 7 8 >in
	run --separate-stderr ppool -L -o raw --joblog=jl -- true <in
	assert_success
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(fields jl 1,9 | tr '\t\n' ', ')" '1,7 2,8 '
	assert_equal "$(wc -l <jl)" 3
}

@test "SIGKILL halfway through a joblogged run, then --resume (command mode): every task runs exactly once" {
	seq 20 >in
	make_task_script
	# Tasks 1-10 finish at once; 11 and up wait for "release".
	"$PPOOL" -L -j 2 --joblog=jl -- sh task.sh "$MARKER" 10 <in >out1 2>err1 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 joblog_has jl 10
	wait_until 20 at_least_lines started 2
	assert_equal "$(sort -n started | tr '\n' ' ')" '11 12 '
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	assert_no_process_left 10
	assert_equal "$(fields jl 1 | tr '\n' ' ')" "$(seq 10 | tr '\n' ' ')"

	touch release
	run --separate-stderr timeout 30 "$PPOOL" -L -j 2 --joblog=jl --resume -- sh task.sh "$MARKER" 10 <in
	assert_success
	assert_records_valid
	assert_equal "$(seqs)" "$(seq 11 20 | tr '\n' ' ')"
	# Each task completed exactly once over the two runs.
	assert_equal "$(sort -n done | tr '\n' ' ')" "$(seq 20 | tr '\n' ' ')"
	assert_equal "$(fields jl 1 | tr '\n' ' ')" "$(seq 20 | tr '\n' ' ')"
	assert_joblog_line_shape jl
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(grep -c '^Seq' jl)" 1
}

@test "SIGKILL halfway through a joblogged run, then --resume (worker mode): every task runs exactly once" {
	seq 20 >in
	local w
	w=$(worker 'while read n; do
		if [ "$n" -gt 10 ]; then
			echo "$n" >>"$W/started"
			while [ ! -e "$W/release" ]; do sleep 0.05; done
		fi
		echo "$n" >>"$W/done"
		echo "$n"
	done')
	"$PPOOL" -j 2 --joblog=jl -w "$w" <in >out1 2>err1 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 joblog_has jl 10
	wait_until 20 at_least_lines started 2
	assert_equal "$(sort -n started | tr '\n' ' ')" '11 12 '
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	assert_no_process_left 10
	assert_equal "$(fields jl 1 | tr '\n' ' ')" "$(seq 10 | tr '\n' ' ')"

	touch release
	run --separate-stderr timeout 30 "$PPOOL" -j 2 --joblog=jl --resume -w "$w" <in
	assert_success
	assert_records_valid
	assert_equal "$(seqs)" "$(seq 11 20 | tr '\n' ' ')"
	assert_equal "$(jqo .result | tr '\n' ' ')" "$(seq 11 20 | tr '\n' ' ')"
	assert_equal "$(sort -n done | tr '\n' ' ')" "$(seq 20 | tr '\n' ' ')"
	assert_equal "$(fields jl 1 | tr '\n' ' ')" "$(seq 20 | tr '\n' ' ')"
	assert_joblog_line_shape jl
	assert_no_process_left
}

@test "a torn last line in the joblog is ignored, and cut off before new lines" {
	make_task_script
	seq 10 >in
	run --separate-stderr ppool -L -o raw --joblog=jl -- sh task.sh "$MARKER" 1000 <in
	assert_success
	assert_equal "$(sort -n done | tr '\n' ' ')" "$(seq 10 | tr '\n' ' ')"
	assert_equal "$(wc -l <jl)" 11
	# A crash in the middle of task 11's line.
	printf '11\t17000' >>jl
	rm done
	seq 12 >in
	run --separate-stderr ppool -L --joblog=jl --resume -- sh task.sh "$MARKER" 1000 <in
	assert_success
	assert_equal "$(seqs)" '11 12 '
	assert_equal "$(sort -n done | tr '\n' ' ')" '11 12 '
	# The fragment is gone, and the new lines are whole.
	assert_equal "$(tail -c 1 jl | od -An -tx1 | tr -d ' \n')" 0a
	assert_equal "$(grep -c 17000 jl)" 0
	assert_equal "$(wc -l <jl)" 13
	assert_equal "$(tail -n 2 jl | awk -F '\t' 'NF == 9 { print $1 }' | sort -n | tr '\n' ' ')" '11 12 '
	# A third run has nothing left to do, and no task "differs": the
	# ended fragment was once read as task 11's line.
	rm done
	run --separate-stderr ppool -L --joblog=jl --resume -- sh task.sh "$MARKER" 1000 <in
	assert_success
	assert_output ''
	assert_equal "$stderr" ""
	assert_file_not_exist done
}

@test "--resume-failed runs only the failed tasks again; --resume skips failed ones too" {
	# Even tasks fail until the file "fixed" exists.
	cat >t.sh <<'EOF'
echo "$2" >>ran
[ $(($2 % 2)) = 1 ] || [ -e fixed ]
EOF
	seq 6 >in
	run --separate-stderr ppool -L --joblog=jl -- sh t.sh "$MARKER" <in
	assert_equal "$status" 3
	rm ran

	# --resume: the failed tasks are finished too; nothing runs.
	run --separate-stderr ppool -L --joblog=jl --resume -- sh t.sh "$MARKER" <in
	assert_success
	assert_output ''
	assert_file_not_exist ran

	# --resume-failed: tasks 2, 4 and 6 run again, and now succeed.
	touch fixed
	run --separate-stderr ppool -L --joblog=jl --resume-failed -- sh t.sh "$MARKER" <in
	assert_success
	assert_equal "$(seqs)" '2 4 6 '
	assert_equal "$(jqo .ok | sort -u)" true
	assert_equal "$(sort -n ran | tr '\n' ' ')" '2 4 6 '
	assert_equal "$(wc -l <jl)" 10

	# Once they succeeded, --resume-failed has nothing left to run.
	rm ran
	run --separate-stderr ppool -L --joblog=jl --resume-failed -- sh t.sh "$MARKER" <in
	assert_success
	assert_output ''
	assert_file_not_exist ran
}

@test "--resume: memory follows the joblog's lines, not its largest seq; a file that is not a joblog is refused" {
	# One line with seq 10^8: a table indexed by seq took 2 GB.
	printf '1\t1.0\t0.1\t0\t0\t1\t-\t:\ta\n100000000\t1.0\t0.1\t0\t0\t1\t-\t:\tz\n' >jl
	mkfifo f
	"$PPOOL" -L -o raw --joblog=jl --resume -- echo <f >out 2>err &
	local pid=$! hwm
	BG_PIDS+=("$pid")
	exec 8>f
	printf '%s\n' a b >&8
	wait_until 10 grep -qx b out
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
	exec 8>&-
	wait_exit "$pid" 10
	assert_equal "$status" 0
	assert_equal "$(cat out)" b
	((hwm < 100000)) || fail "peak RSS ${hwm} kB"
	# /dev/zero has no newline: refused once a line outgrows any task's.
	run --separate-stderr timeout -k 5 30 "$PPOOL" -L --max-line 1000 --joblog=/dev/zero --resume -- echo <<<x
	assert_equal "$status" 255
	assert_output ''
	assert_equal "$stderr" "ppool: joblog /dev/zero has a line longer than 2256 bytes: is it a joblog? (give --resume another file)"
}

@test "--resume reads a joblog written before the Host column (8 fields)" {
	make_task_script
	seq 4 >in
	# Tasks 1 and 3 finished in an older run, whose log had no Host column.
	printf 'Seq\tStart\tRuntime\tExit\tSignal\tAttempts\tWorker\tTask\n' >jl
	printf '1\t1700000000.000\t0.001\t0\t0\t1\t-\t1\n' >>jl
	printf '3\t1700000000.000\t0.001\t0\t0\t1\t-\t3\n' >>jl
	run --separate-stderr ppool -L -o raw --joblog=jl --resume -- sh task.sh "$MARKER" 1000 <in
	assert_success
	assert_equal "$stderr" ''
	assert_equal "$(sort -n done | tr '\n' ' ')" '2 4 '
	# The new lines have the Host column.
	assert_equal "$(tail -n 2 jl | awk -F '\t' 'NF == 9 { print $1 }' | sort -n | tr '\n' ' ')" '2 4 '
}

@test "--resume: a task whose input changed at a logged seq runs again, with one warning" {
	printf '%s\n' a b c d >in
	run --separate-stderr ppool -L -o raw --joblog=jl -- echo <in
	assert_success
	assert_output $'a\nb\nc\nd'
	printf '%s\n' a X Y d e >in
	run --separate-stderr ppool -L -o raw --joblog=jl --resume -- echo <in
	assert_success
	assert_output $'X\nY\ne'
	assert_equal "$stderr" "ppool: task 2 differs from the one in jl: the input changed, so it runs again (and so may others)"
	assert_equal "$(tail -n 3 jl | cut -f 1,9 | sort -n | tr '\t\n' ', ')" '2,X 3,Y 5,e '
}

@test "a joblog that cannot be written: its reason, every record still printed, exit 255" {
	# 'ulimit -f 1' lets a file grow to 1024 bytes: the header and a few
	# lines.  ppool must not die of SIGXFSZ, nor blame a stale errno.
	run --separate-stderr bash -c 'ulimit -f 1; seq 200 | "$0" -j 2 -o raw --joblog=jl -- echo' "$PPOOL"
	assert_equal "$status" 255
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 200
	assert_equal "$stderr" "ppool: cannot write joblog jl: File too large; it records no more tasks, so --resume would run those that finish from now on again"
	# Said even after the warning about a changed input.
	rm -f jl
	run --separate-stderr ppool -L -o raw --joblog=jl -- echo <<<'a'
	assert_success
	assert_output a
	run --separate-stderr bash -c 'ulimit -f 1; { echo b; seq 2 200; } | "$0" -L -j 2 -o raw --joblog=jl --resume -- echo' "$PPOOL"
	assert_equal "$status" 255
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 200
	[[ $stderr == *"task 1 differs"*"cannot write joblog jl: File too large"* ]] || fail "stderr: $stderr"
	# A task's own writes past the limit still end it with SIGXFSZ.
	run --separate-stderr bash -c 'ulimit -f 1; echo x | "$0" -L -- sh -c "exec head -c 4096 /dev/zero >big"' "$PPOOL"
	assert_equal "$status" 1
	assert_equal "$(jq -r .error <<<"$output")" "killed by SIGXFSZ"
}

@test "--resume or --resume-failed without --joblog: usage error 255" {
	run --separate-stderr ppool -L --resume -- true <<<'x'
	assert_equal "$status" 255
	assert_output ''
	[[ $stderr == *"--joblog"* ]] || fail "stderr: $stderr"
	run --separate-stderr ppool -L --resume-failed -- true <<<'x'
	assert_equal "$status" 255
	assert_output ''
	[[ $stderr == *"--joblog"* ]] || fail "stderr: $stderr"
	assert_file_not_exist done
}

@test "skipped tasks print no record and do not count in the exit status" {
	printf '%s\n' 'exit 1' 'true' 'exit 2' 'true' >in
	run --separate-stderr ppool -L --joblog=jl <in
	assert_equal "$status" 2
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,false] [2,true] [3,false] [4,true] '
	printf '%s\n' 'exit 1' 'true' 'exit 2' 'true' 'echo five' 'echo six' >in
	run --separate-stderr ppool -L -v --joblog=jl --resume <in
	assert_success
	assert_equal "$(seqs)" '5 6 '
	assert_equal "$(jqo -j .stdout)" $'five\nsix'
	# -v counts the tasks of this run only.
	[[ $stderr =~ (^|$'\n')"ppool: 2 tasks, 0 failed, 0 retried, " ]] || fail "stderr: $stderr"
}

@test "-v: a summary line on stderr at exit; none without -v" {
	printf '%s\n' 'true' 'exit 1' 'true' 'true' 'true' >in
	run --separate-stderr ppool -L -v --retries 1 -j 2 <in
	assert_equal "$status" 1
	assert_equal "$(grep -c '^ppool: .* tasks, ' <<<"$stderr")" 1
	assert_regex "$(tail -n 1 <<<"$stderr")" \
		'^ppool: 5 tasks, 1 failed, 1 retried, [0-9]+\.[0-9]{3} s, [0-9]+\.[0-9] tasks/s$'

	printf '%s\n' 1 2 3 >in
	run --separate-stderr ppool -v -w "$(cat_worker)" <in
	assert_success
	assert_regex "$stderr" '^ppool: 3 tasks, 0 failed, 0 retried, [0-9]+\.[0-9]{3} s, [0-9]+\.[0-9] tasks/s$'

	run --separate-stderr ppool -w "$(cat_worker)" <in
	assert_success
	assert_equal "$stderr" ''
	printf '%s\n' true true >in
	run --separate-stderr ppool -L <in
	assert_success
	assert_equal "$stderr" ''
}

@test "--progress with stderr not a terminal: nothing on stderr" {
	seq 20 >tasks
	run --separate-stderr ppool --progress -a tasks -j 2 -o raw -- echo
	assert_success
	assert_equal "$stderr" ''
	assert_equal "$(wc -l <<<"$output")" 20
	run --separate-stderr ppool --progress -j 2 -w "$(cat_worker)" <tasks
	assert_success
	assert_equal "$stderr" ''
}

# pane_shows TEXT: the tmux pane shows TEXT.
pane_shows() {
	tmux -S "$TMUX_SOCKET" capture-pane -p -t ops | grep -qF -- "$1"
}

@test "--progress in a terminal: done, failed, running, a bar and D/T" {
	command -v tmux >/dev/null || skip "tmux is not installed (apt-get install tmux)"
	seq 20 >tasks
	TMUX_SOCKET=$BATS_TEST_TMPDIR/tmux.sock
	local cmd
	cmd=$(printf '%q ' "$PPOOL" --progress -a "$BATS_TEST_TMPDIR/tasks" -j 2 -- sh -c 'sleep 0.05' "$MARKER")
	tmux -S "$TMUX_SOCKET" -f /dev/null new-session -d -s ops -x 200 -y 10 \
		"$cmd > /dev/null; echo finished; sleep 60" 3>&-
	wait_until 30 pane_shows finished
	local pane
	pane=$(tmux -S "$TMUX_SOCKET" capture-pane -p -t ops)
	local want
	for want in 'ppool: ' ' done,' ' failed,' ' running,' '[####' '/20'; do
		[[ $pane == *"$want"* ]] || fail "the pane lacks '$want': $pane"
	done
	# The last state: 20 done, a full bar, 20/20.
	[[ $pane == *"ppool: 20 done, 0 failed, 0 running, "* ]] || fail "pane: $pane"
	[[ $pane == *"[####################] 20/20"* ]] || fail "pane: $pane"
}

@test "--progress: blank lines and tasks skipped by --resume are not in the total" {
	command -v tmux >/dev/null || skip "tmux is not installed (apt-get install tmux)"
	printf '1\n\n\n2\n  \n3\n' >tasks
	TMUX_SOCKET=$BATS_TEST_TMPDIR/tmux.sock
	local cmd1 cmd2
	cmd1=$(printf '%q ' "$PPOOL" --progress -a "$BATS_TEST_TMPDIR/tasks" --joblog="$BATS_TEST_TMPDIR/jl" -w cat)
	cmd2=$(printf '%q ' "$PPOOL" --progress -a "$BATS_TEST_TMPDIR/tasks4" --joblog="$BATS_TEST_TMPDIR/jl" --resume -w cat)
	tmux -S "$TMUX_SOCKET" -f /dev/null new-session -d -s ops -x 200 -y 10 \
		"$cmd1 > /dev/null; cp tasks tasks4; echo 4 >>tasks4; $cmd2 > /dev/null; echo finished; sleep 60" 3>&-
	wait_until 30 pane_shows finished
	local pane
	pane=$(tmux -S "$TMUX_SOCKET" capture-pane -p -t ops)
	# 3 tasks among 6 lines; then 4 tasks, 3 of them done before: 1 to run
	[[ $pane == *"[####################] 3/3"* ]] || fail "pane: $pane"
	[[ $pane == *"[####################] 1/1"* ]] || fail "pane: $pane"
}

@test "--progress in a terminal: the failed count and the rate of a run with failures" {
	command -v tmux >/dev/null || skip "tmux is not installed (apt-get install tmux)"
	# Tasks 2 and 5 of 6 fail.  The last line is drawn at the end of the
	# run, so its counts are exact; its rate is done / elapsed, 6 tasks in
	# at most the 35 s that timeout allows, so 0.2/s or more, never 0.0.
	printf '%s\n' 0 1 0 0 1 0 >tasks
	TMUX_SOCKET=$BATS_TEST_TMPDIR/tmux.sock
	local cmd
	cmd=$(printf '%q ' timeout -k 5 30 "$PPOOL" --progress -a "$BATS_TEST_TMPDIR/tasks" -j 2 -- sh -c 'exit $1' "$MARKER")
	tmux -S "$TMUX_SOCKET" -f /dev/null new-session -d -s ops -x 200 -y 10 \
		"$cmd > /dev/null; echo finished \$?; sleep 60" 3>&-
	wait_until 30 pane_shows finished
	local pane line
	pane=$(tmux -S "$TMUX_SOCKET" capture-pane -p -t ops)
	[[ $pane == *"finished 2"* ]] || fail "pane: $pane"
	line=$(grep -m 1 '^ppool: ' <<<"$pane") || fail "no progress line: $pane"
	assert_regex "$line" '^ppool: 6 done, 2 failed, 0 running, [0-9]+\.[0-9]/s \[#{20}\] 6/6 ETA 0:00'
	[[ $line != *" 0.0/s "* ]] || fail "a rate of 0.0/s: $line"
}

# --- crash safety: a joblog line only once its record is out ----------------

@test "regression: SIGKILL while a slow first task holds finished records back, then --resume: every record arrives" {
	# The joblog line was written when a task finished, its record only
	# once the slow head let it out: after kill -9, --resume skipped the
	# 19 tasks whose records were never printed.
	make_task_script
	# Task 1 (its text is 21) waits for the file "release".
	printf '%s\n' 21 $(seq 2 20) >in
	"$PPOOL" -L -j 4 --joblog=jl -- sh task.sh "$MARKER" 20 <in >out1 2>err1 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 at_least_lines done 19
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	# Nothing was printed, so nothing is logged.
	assert_equal "$(cat out1)" ""
	assert_equal "$(cat jl)" "$HEADER"
	touch release
	run --separate-stderr timeout 30 "$PPOOL" -L -j 4 --joblog=jl --resume -- sh task.sh "$MARKER" 20 <in
	assert_success
	assert_records_valid
	assert_equal "$(seqs)" "$(seq 20 | tr '\n' ' ')"
	assert_equal "$(fields jl 1 | tr '\n' ' ')" "$(seq 20 | tr '\n' ' ')"
	assert_no_process_left
}

# big_task_script: task.sh N writes "N " and 1000 x's; with FAIL_ONCE set
# in its environment, its first run fails.
big_task_script() {
	cat >task.sh <<'EOF2'
if [ -n "$FAIL_ONCE" ] && [ ! -e "fail.$2" ]; then
	: >"fail.$2"
	exit 1
fi
printf '%s %01000d\n' "$2" 0
EOF2
}

@test "SIGKILL at many points, command mode, then --resume: no record lost, a duplicate only if unlogged" {
	big_task_script
	seq 150 >in
	local k
	for k in 1 17 60 140; do
		crash_resume "$k" -L -j 2 -- sh task.sh "$MARKER"
	done
	assert_no_process_left
}

@test "SIGKILL at many points, -u, -o raw and --retries, then --resume: no record lost" {
	big_task_script
	seq 150 >in
	local k
	for k in 3 50 130; do
		crash_resume "$k" -L -j 3 -u -- sh task.sh "$MARKER"
		crash_resume "$k" -L -j 2 -o raw -- sh task.sh "$MARKER"
		rm -f fail.*
		FAIL_ONCE=1 crash_resume "$k" -L -j 2 --retries 1 -- sh task.sh "$MARKER"
	done
	assert_no_process_left
}

@test "SIGKILL at many points, worker mode (also -u and -r), then --resume: no record lost" {
	seq 150 >in
	local w k
	w=$(worker 'pad=$(printf "%01000d" 0); while read n; do printf "\"%s %s\"\n" "$n" "$pad"; done')
	for k in 1 40 120; do
		crash_resume "$k" -j 2 -w "$w"
		crash_resume "$k" -j 2 -u -r 7 -w "$w"
	done
	assert_no_process_left
}

@test "regression: --resume with a joblog of its header alone (killed before a task ended) runs every task" {
	# An empty index was sorted from a null pointer (UBSan; found by
	# fuzz/fuzz_joblog).
	printf '%s\n' "$HEADER" >jl
	run --separate-stderr ppool --joblog=jl --resume -- echo < <(seq 3)
	assert_success
	assert_equal "$(jqo -c '[.seq, .stdout]' | tr '\n' ' ')" '[1,"1\n"] [2,"2\n"] [3,"3\n"] '
	assert_equal "$(fields jl 1 | tr '\n' ' ')" '1 2 3 '
}
