#!/usr/bin/env bats
# failure.bats: workers that die, fail to start, or break the protocol;
# exit statuses.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

@test "a worker exiting while holding a task: that task fails, the others complete" {
	seq 5 >in
	local w
	w=$(worker 'while read x; do [ "$x" = 3 ] && exit 3; echo "$x"; done')
	run --separate-stderr ppool -j 1 -w "$w" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(record 3 | jq -c '[.ok, .error]')" '[false,"worker exited with status 3"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 2 4 5 '
	# The dead worker held task 3; a fresh one ran tasks 4 and 5.
	assert_equal "$(record 3 | jq .worker)" "$(record 1 | jq .worker)"
	assert_not_equal "$(record 4 | jq .worker)" "$(record 1 | jq .worker)"
	assert_no_process_left
}

@test "a worker killed by SIGKILL: 'worker killed by SIGKILL'" {
	seq 4 >in
	local w
	w=$(worker 'while read x; do [ "$x" = 2 ] && kill -KILL $$; echo "$x"; done')
	run --separate-stderr ppool -j 1 -w "$w" <in
	assert_equal "$status" 1
	assert_seqs_in_order 4
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"worker killed by SIGKILL"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 4 '
}

@test "a reply cut short by the worker's death fails its task; a last one without newline counts on exit 0" {
	# The cut reply once counted as a success, with exit 0.
	local w
	w=$(worker 'while read x; do
		case $x in
		2) printf "{\"n\":"; kill -KILL $$ ;;
		4) printf "{\"n\":"; exit 3 ;;
		*) echo "$x" ;;
		esac; done')
	run --separate-stderr ppool -j 1 -w "$w" < <(seq 5)
	assert_equal "$status" 2
	assert_seqs_in_order 5
	assert_equal "$(jqo -c '[.ok, .result // .error]' | tr '\n' ' ')" \
		'[true,1] [false,"worker killed by SIGKILL"] [true,3] [false,"worker exited with status 3"] [true,5] '
	w=$(worker 'read x; echo "$x"; read x; printf "%s" "$x"; exit 0')
	run --separate-stderr ppool -j 1 -w "$w" < <(seq 2)
	assert_success
	assert_equal "$(jqo -c '[.ok, .result]' | tr '\n' ' ')" '[true,1] [true,2] '
}

@test "a worker killed by SIGSEGV: 'worker killed by SIGSEGV'" {
	seq 4 >in
	local w
	w=$(worker 'while read x; do [ "$x" = 4 ] && kill -SEGV $$; echo "$x"; done')
	run --separate-stderr ppool -j 1 -w "$w" <in
	assert_equal "$status" 1
	assert_equal "$(record 4 | jq -c '[.ok, .error]')" '[false,"worker killed by SIGSEGV"]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 2 3 '
}

@test "--inflight 8: a worker dying with 8 tasks queued accounts for all 8" {
	seq 20 >in
	# The first worker reads 8 tasks and exits without a reply; the
	# ones after it answer.
	local w
	w=$(worker 'if mkdir "$W/first" 2>/dev/null; then
		n=0; while [ $n -lt 8 ] && read x; do n=$((n + 1)); done; exit 3
	fi
	while read x; do echo "$x"; done')
	run --separate-stderr timeout 30 "$PPOOL" -j 1 --inflight 8 -w "$w" <in
	assert_equal "$status" 8
	assert_records_valid
	assert_seqs_in_order 20
	assert_equal "$(jqo -c 'select(.seq <= 8) | [.ok, .error]' | sort -u)" \
		'[false,"worker exited with status 3"]'
	assert_equal "$(jqo -c 'select(.seq > 8) | .result' | tr '\n' ' ')" \
		"$(seq 9 20 | tr '\n' ' ')"
}

@test "--inflight 8 -j 2: a worker dying mid-stream: every task has one record" {
	seq 200 >in
	# The worker that gets task 50 dies at once, holding whatever was queued.
	local w
	w=$(worker 'while read x; do [ "$x" = 50 ] && exit 3; echo "$x"; done')
	run --separate-stderr timeout 30 "$PPOOL" -j 2 --inflight 8 -w "$w" <in
	assert_records_valid
	assert_seqs_in_order 200
	local failed
	failed=$(jqo 'select(.ok | not) | .seq' | wc -l)
	assert_equal "$status" "$failed"
	((failed >= 1 && failed <= 8)) || fail "$failed tasks failed"
	assert_equal "$(record 50 | jq -r .error)" "worker exited with status 3"
	assert_equal "$(jqo 'select(.ok | not) | .error' | sort -u)" 'worker exited with status 3'
	assert_equal "$(jqo 'select(.ok and .result != .seq)')" ""
}

@test "-j 16 --inflight 4, workers dying all along: --retries brings every task home" {
	seq 200 >in
	# A worker that has answered dies at the first sight of a multiple of
	# 7 (a fresh one answers it: three deaths before a first answer would
	# stop the run): up to 28 deaths, each failing what the worker holds.
	# No task can fail more often than that, so --retries 30 must bring
	# every one to an answer, given out among many workers by how busy
	# each is.
	local w
	w=$(worker 'n=0
	while read x; do
		if [ $n -gt 0 ] && [ $((x % 7)) = 0 ] && [ ! -e "$W/died.$x" ]; then
			: >"$W/died.$x"; exit 3
		fi
		echo "$x"; n=$((n + 1))
	done')
	run --separate-stderr timeout 60 "$PPOOL" -j 16 --inflight 4 --retries 30 -w "$w" <in
	assert_success
	assert_records_valid
	assert_seqs_in_order 200
	assert_equal "$(jqo 'select((.ok | not) or .result != .seq) | .seq')" ""
	local died x workers
	died=$(find "$BATS_TEST_TMPDIR" -name 'died.*' | wc -l)
	((died >= 10)) || fail "only $died workers died"
	for x in "$BATS_TEST_TMPDIR"/died.*; do
		x=${x##*.}
		(($(record "$x" | jq .attempts) >= 2)) ||
			fail "task $x killed its worker but ran once"
	done
	workers=$(jqo .worker | sort -u | wc -l)
	((workers > 16)) || fail "only $workers workers answered"
}

@test "a worker command that does not exist: exit 255, a clear message, no respawn loop" {
	seq 10 >in
	run --separate-stderr timeout 20 "$PPOOL" -j 1 -w no-such-program-xyz <in
	assert_equal "$status" 255
	grep -qFx "ppool: worker 'no-such-program-xyz' exited with status 127 before its first reply, 3 times in a row (command not found?)" <<<"$stderr" ||
		fail "stderr: $stderr"
	local tries
	tries=$(grep -c 'no-such-program-xyz: not found' <<<"$stderr" || true)
	((tries >= 1 && tries <= 3)) || fail "the worker was started $tries times"
}

@test "a worker command that does not exist, with -j above the number of tasks: still the clear stop" {
	# Exit 127 (126) says the command cannot run: 3 in a row stop the run
	# whatever -j is; other deaths need -j of them.
	run --separate-stderr timeout 20 "$PPOOL" -j 8 -w no-such-program-xyz < <(seq 5)
	assert_equal "$status" 255
	grep -qF "before its first reply, 3 times in a row (command not found?)" <<<"$stderr" ||
		fail "stderr: $stderr"
}

@test "a worker that dies at start with -j 4: exit 255, no respawn loop" {
	seq 100 >in
	local w
	w=$(worker 'echo started >>"$W/starts"; exit 1')
	run --separate-stderr timeout 20 "$PPOOL" -j 4 -w "$w" <in
	assert_equal "$status" 255
	# -j times in a row when -j is more than 3: the first -j tasks may
	# each kill their fresh worker without the command being broken.
	[[ $stderr == *"exited with status 1 before its first reply, 4 times in a row"* ]] ||
		fail "stderr: $stderr"
	[[ $stderr != *"command not found"* ]] || fail "stderr: $stderr"
	local starts
	starts=$(wc -l <starts)
	((starts <= 4 + 4)) || fail "the worker was started $starts times"
	assert_no_process_left
}

@test "a worker that dies before its first reply once or twice does not stop the run" {
	seq 10 >in
	# The first two workers die at once; the third works.
	local w
	w=$(worker 'echo x >>"$W/starts"; [ "$(wc -l <"$W/starts")" -le 2 ] && exit 1
	while read x; do echo "$x"; done')
	run --separate-stderr timeout 20 "$PPOOL" -j 1 -w "$w" <in
	assert_equal "$(jqo -c 'select(.ok) | .result' | tail -8 | tr '\n' ' ')" '3 4 5 6 7 8 9 10 '
	local failed
	failed=$(jqo 'select(.ok | not) | .seq' | wc -l)
	assert_equal "$status" "$failed"
	assert_seqs_in_order 10
}

@test "once a worker has answered, bad tasks that kill fresh workers in a row never stop the run" {
	# Five bad lines in a row once stopped the run (3 deaths in a row),
	# and the good tasks after them got no record.
	local w
	w=$(worker 'while read -r x; do [ "$x" = "{}" ] && exit 1; echo "$x"; done')
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -w "$w" < <(printf '%s\n' \
		'"a"' '{}' '{}' '{}' '{}' '{}' '"b"' '"c"')
	assert_failure 5
	assert_seqs_in_order 8
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" 'a b c '
}

@test "--retries does not turn a command not found into a respawn loop: 3 starts" {
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 --retries 100 \
		-w "echo start >>starts; exec no-such-program-xyz" < <(seq 5)
	assert_equal "$status" 255
	[[ $stderr == *"before its first reply, 3 times in a row (command not found?)"* ]] ||
		fail "stderr: $stderr"
	assert_equal "$(wc -l <starts)" 3
}

@test "a run that stops while tasks wait for a retry: each of them still gets its record" {
	# They ran and failed once; the stop left them with no record at all.
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 4 --retries 3 \
		-w "exec no-such-program-xyz $MARKER" < <(seq 4)
	assert_equal "$status" 255
	assert_seqs_in_order 4
	assert_equal "$(jqo .ok | sort -u)" false
	assert_equal "$(jqo -r .error | grep -vcx -e 'worker exited with status 127' -e 'not retried: ppool is stopping' -e 'worker killed: ppool is stopping')" 0
	jqo -r .error | grep -qx 'not retried: ppool is stopping' || fail "$output"
}

@test "a task that kills every worker it meets (-j 1 --retries 3) fails alone; the run goes on" {
	# Its retries go to fresh workers, which die before a reply: that says
	# more of the task than of the worker command, and stops nothing.
	seq 100 >in
	local w
	w=$(worker 'while read n; do [ "$n" = 50 ] && exit 7; echo "$n"; done')
	run --separate-stderr timeout 60 "$PPOOL" -j 1 --retries 3 -w "$w" <in
	assert_failure 1
	assert_seqs_in_order 100
	assert_equal "$(record 50 | jq -c '[.ok, .error, .attempts]')" '[false,"worker exited with status 7",4]'
	assert_equal "$(jqo 'select(.ok) | .seq' | wc -l)" 99
}

@test "tasks that kill fresh workers, but not in a row, do not stop the run" {
	# -j 4 and three such tasks first: below -j.  -j 2 and two pairs, with
	# replies between them: each reply ends the row.
	local w
	w=$(worker 'while read n; do [ "$n" = bad ] && exit 1; echo "$n"; done')
	{ printf 'bad\nbad\nbad\n'; seq 20; } >in
	run --separate-stderr timeout 60 "$PPOOL" -L -j 4 -o raw -w "$w" <in
	assert_failure 3
	assert_output "$(seq 20)"
	{ printf 'bad\nbad\n'; seq 10; printf 'bad\nbad\n'; seq 11 20; } >in
	run --separate-stderr timeout 60 "$PPOOL" -L -j 2 -o raw -w "$w" <in
	assert_failure 4
	assert_output "$(seq 20)"
}

@test "-r with workers slow to exit: never more than -j worker processes at once" {
	# A retired worker holds its place until it has exited, so a slow exit
	# delays its successor instead of adding a process (and its fds).
	seq 12 >in
	local w
	w=$(worker 'echo + >>"$W/log"; while read n; do echo "$n"; done; sleep 0.2; echo - >>"$W/log"')
	run --separate-stderr timeout 60 "$PPOOL" -j 2 -r 1 -o raw -w "$w" <in
	assert_success
	assert_output "$(seq 12)"
	local most
	most=$(awk '{ n += ($1 == "+") ? 1 : -1; if (n > m) m = n } END { print m }' log)
	assert_equal "$(grep -c + log)" 12
	((most <= 2)) || fail "$most workers at once with -j 2"
}

@test "protocol error: a reply with no task waiting kills and replaces the worker" {
	seq 6 >in
	# On task 2 the worker writes two lines in one write(2).
	local w
	w=$(worker 'while read x; do
		if [ "$x" = 2 ]; then printf "%s\nextra\n" "$x"; else echo "$x"; fi; done')
	run --separate-stderr ppool -j 1 --inflight 1 -w "$w" <in
	assert_records_valid
	assert_seqs_in_order 6
	local failed
	failed=$(jqo 'select(.ok | not) | .seq' | wc -l)
	assert_equal "$status" "$failed"
	# "extra" is never taken for a result; the tasks after 2 are served by
	# a new worker and succeed.
	assert_equal "$(jqo 'select(.result == "extra")')" ""
	assert_equal "$(jqo -c 'select(.seq > 2) | [.ok, .result]' | tr '\n' ' ')" \
		'[true,3] [true,4] [true,5] [true,6] '
	assert_not_equal "$(record 3 | jq .worker)" "$(record 1 | jq .worker)"
	assert_equal "$(jqo 'select(.ok | not) | .error' | sort -u | grep -Fvx 'worker killed: reply with no task waiting' || true)" ""
}

@test "protocol error: a reply longer than --max-line kills the worker; later tasks succeed" {
	seq 5 >in
	# On task 2 the worker writes a 300 kB line.
	local w
	w=$(worker 'while read x; do
		if [ "$x" = 2 ]; then head -c 300000 /dev/zero | tr "\0" a; echo;
		else echo "$x"; fi; done')
	run --separate-stderr timeout 30 "$PPOOL" -j 1 --max-line 1K -w "$w" <in
	assert_equal "$status" 1
	assert_seqs_in_order 5
	assert_equal "$(record 2 | jq .ok)" false
	[[ $(record 2 | jq -r .error) =~ ^worker\ killed:\ reply\ longer\ than\ --max-line\ \([0-9]+\ bytes\)$ ]] ||
		fail "error: $(record 2 | jq -r .error)"
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 4 5 '
	assert_not_equal "$(record 3 | jq .worker)" "$(record 1 | jq .worker)"
	assert_no_process_left
}

@test "exit status 0 when every task succeeds" {
	# And each task has its record, a success with the worker's reply
	# (command mode: exit 0), and nothing is said on stderr.
	seq 50 >in
	run --separate-stderr ppool -j 2 -w "$(cat_worker)" <in
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 50
	assert_equal "$(jqo -c 'select(.ok != true or .result != .seq or .attempts != 1)')" ""
	run --separate-stderr ppool -j 2 -- sh -c 'exit 0' "$MARKER" <in
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 50
	assert_equal "$(jqo -c 'select(.ok != true or .exit != 0 or .signal != null)')" ""
	assert_no_process_left
}

# fail_first N TOTAL: run TOTAL tasks of which the first N fail (--envelope);
# check that each has its record, and that exactly tasks 1 to N failed.
fail_first() {
	seq "$2" >in
	local w
	w=$(worker "while read x; do
		if [ \$x -le $1 ]; then echo '{\"error\": \"no\"}'; else echo '{\"result\": 1}'; fi; done")
	run --separate-stderr ppool -j 2 --envelope -w "$w" <in
	assert_seqs_in_order "$2"
	assert_equal "$(jqo 'select(.ok | not) | .seq')" "$(seq "$1")"
	assert_equal "$(jqo 'select(.ok | not) | .error' | sort -u)" no
}

@test "exit status: the number of failed tasks, 1 to 100" {
	fail_first 1 10
	assert_equal "$status" 1
	fail_first 7 10
	assert_equal "$status" 7
	fail_first 100 150
	assert_equal "$status" 100
}

@test "exit status: 101 when more than 100 tasks failed" {
	fail_first 101 150
	assert_equal "$status" 101
	fail_first 300 300
	assert_equal "$status" 101
}
