#!/usr/bin/env bats
# worker.bats: worker mode (-w): the pool, ordering, records, replies.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

@test "issue 2 acceptance: 1000 tasks, -j 4 -r 100: in order, doubled, workers recycled" {
	seq 1000 >in
	run --separate-stderr ppool -j 4 -r 100 \
		-w 'while read x; do echo $((x*2)); done' <in
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 1000
	assert_records_valid
	assert_seqs_in_order 1000
	assert_equal "$(jqo .result)" "$(seq 2 2 2000)"
	assert_equal "$(jqo 'select(.ok != true or .attempts != 1)')" ""
	# No worker serves more than 100 tasks, so at least 10 of them ran.
	local busiest distinct
	busiest=$(jqo .worker | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
	distinct=$(jqo .worker | sort -u | wc -l)
	((busiest <= 100)) || fail "a worker served $busiest tasks with -r 100"
	((distinct >= 10)) || fail "only $distinct workers ran 1000 tasks with -r 100"
}

@test "output order is input order when tasks take different times" {
	seq 200 >in
	# Task x sleeps 0, 10, 20, 30 or 40 ms, scrambled by x.
	local w
	w=$(worker 'while read x; do sleep 0.0$(( (x * 7919) % 5 )); echo "$x"; done')
	run --separate-stderr ppool -j 4 -w "$w" <in
	assert_success
	assert_seqs_in_order 200
	assert_equal "$(jqo .result)" "$(seq 200)"
	# More than one worker took part, so order had to be restored.
	(($(jqo .worker | sort -u | wc -l) > 1))
}

@test "-u prints every record, results matching their seq" {
	seq 100 >in
	local w
	w=$(worker 'while read x; do sleep 0.0$(( (x * 7919) % 3 )); echo "$x"; done')
	run --separate-stderr ppool -u -j 4 -w "$w" <in
	assert_success
	assert_equal "$(jqo .seq | sort -n)" "$(seq 100)"
	assert_equal "$(jqo 'select(.result != .seq)')" ""
}

@test "workers start lazily: 2 tasks with -j 8 start at most 2 workers" {
	seq 2 >in
	local w
	w=$(worker 'echo $$ >>"$W/started"; while read x; do echo "$x"; done')
	run --separate-stderr ppool -j 8 -w "$w" <in
	assert_success
	assert_seqs_in_order 2
	local started
	started=$(wc -l <started)
	((started >= 1 && started <= 2)) || fail "$started workers started for 2 tasks"
}

@test "workers start lazily: 1 task with -j 8 starts exactly 1 worker" {
	local w
	w=$(worker 'echo $$ >>"$W/started"; while read x; do echo "$x"; done')
	run --separate-stderr ppool -j 8 -w "$w" <<<'42'
	assert_success
	assert_equal "$(wc -l <started)" 1
	assert_equal "$(jqo .worker)" "$(cat started)"
}

@test "no input: no worker starts, no record, exit 0" {
	local w
	w=$(worker 'echo $$ >>"$W/started"; while read x; do echo "$x"; done')
	run --separate-stderr ppool -j 4 -w "$w" </dev/null
	assert_success
	assert_output ""
	assert_file_not_exists started
}

@test "--inflight 8: a worker receives 8 tasks before it has to answer" {
	seq 32 >in
	# Deadlocks unless ppool queues 8 tasks in the worker's pipe at once.
	local w
	w=$(worker 'while read a && read b && read c && read d &&
		read e && read f && read g && read h; do
		printf "%s\n" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
	done')
	run --separate-stderr timeout 30 "$PPOOL" -j 1 --inflight 8 -w "$w" <in
	assert_success
	assert_seqs_in_order 32
	assert_equal "$(jqo .result)" "$(seq 32)"
	assert_equal "$(jqo .worker | sort -u | wc -l)" 1
}

@test "--inflight 8 with several workers keeps order and results" {
	seq 500 >in
	run --separate-stderr ppool -j 3 --inflight 8 -w "$(cat_worker)" <in
	assert_success
	assert_seqs_in_order 500
	assert_equal "$(jqo .result)" "$(seq 500)"
}

@test "end of input closes every worker's stdin, busy ones too: a worker reading batches ends its last one" {
	# It closed only idle workers, and one that reads 4 lines before it
	# answers waited for ever for the rest of its last batch.
	local w
	w=$(worker 'while :; do
		n=0; b=
		while [ $n -lt 4 ] && read -r x; do b="$b $x"; n=$((n + 1)); done
		[ $n = 0 ] && exit 0
		for x in $b; do echo "$x"; done
	done')
	run --separate-stderr timeout -k 5 20 "$PPOOL" -j 1 --inflight 4 -o raw -w "$w" < <(seq 10)
	assert_success
	assert_output "$(seq 10)"
}

@test "a worker that exits 0 by itself after answering gives the tasks it held back: none fails" {
	# A worker that retires itself after two tasks (maxtasksperchild) had
	# the task queued to it fail with 'worker exited with status 0'.
	local w
	w=$(worker 'n=0; while read x; do echo "$x"; n=$((n + 1)); [ $n = 2 ] && exit 0; done')
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -o raw -w "$w" < <(seq 7)
	assert_success
	assert_output "$(seq 7)"
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 2 --inflight 3 -w "$w" < <(seq 20)
	assert_success
	assert_seqs_in_order 20
	assert_equal "$(jqo .attempts | sort -u)" 1
	# One that exits 0 before any answer still fails what it held; three
	# in a row stop the run.
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -w 'exit 0' < <(seq 3)
	assert_equal "$status" 255
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.ok, .error, .attempts]' | sort -u)" '[false,"worker exited with status 0",1]'
	assert_equal "$stderr" "ppool: worker 'exit 0' exited with status 0 before its first reply, 3 times in a row"
}

@test "a worker that exits 0 after answering: a task it read is not run again, and a stop does not hang" {
	# The task that made it exit was given back and ran on every worker;
	# and one given back while the run stopped was never finished (hang).
	local w
	w=$(worker 'while read -r x; do echo "$x" >>"$W/ran"; [ "$x" = 3 ] && exit 0; echo "$x"; done')
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 4 -w "$w" < <(seq 12)
	assert_failure 1
	assert_equal "$(record 3 | jq -c '[.ok, .error, .attempts]')" '[false,"worker exited with status 0",1]'
	assert_equal "$(grep -cx 3 ran)" 1
	w=$(worker 'read -r x; echo "{\"error\": \"no\"}"; exit 0')
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 --inflight 2 --envelope \
		--halt soon,fail=1 -w "$w" < <(seq 4)
	# Task 2, queued to it and never read, and tasks 3 and 4 never ran:
	# no record for them, as for any task a stop leaves unstarted.
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"no"]'
	assert_seqs_in_order 1
	assert_no_process_left
}

@test "--inflight: a task goes to the worker holding the fewest tasks" {
	mkfifo in out
	# Worker A holds task 1 until the file go exists; B answers at once.  Each
	# later task is sent only after the record of the one before came out,
	# so B then holds none and A one: the least busy worker is B, while A
	# still has room for 3 more (a rule such as "the first worker with room"
	# would give A task 3, whose record would then never come).
	"$PPOOL" -j 2 --inflight 4 -u -w "$(held_worker 1)" <in >out 7>&- 8<&- &
	local pid=$! i rec
	BG_PIDS+=("$pid")
	exec 7>in 8<out
	echo 1 >&7
	for i in 2 3 4 5 6; do
		echo "$i" >&7
		read -r -t 20 rec <&8 || fail "no record for task $i"
		assert_equal "$(jq -c '[.seq, .result]' <<<"$rec")" "[$i,$i]"
		echo "$rec" >>records
	done
	: >go
	exec 7>&-
	read -r -t 20 rec <&8 || fail "no record for task 1"
	# Read to the end: ppool stops early when its stdout's reader is gone.
	timeout 20 cat <&8 >rest
	exec 8<&-
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .result]' <<<"$rec")" "[1,1]"
	# Tasks 2-6 went to one worker, not the one holding task 1.
	assert_equal "$(jq .worker records | sort -u | wc -l)" 1
	assert_not_equal "$(jq .worker <<<"$rec")" "$(jq .worker records | head -1)"
	assert_equal "$(wc -l <got)" 6
	assert_equal "$(cat rest)" ""
}

@test "records: seq, ok, result, worker, attempts, ms, in the spec's order" {
	local w
	w=$(worker 'while read x; do echo "$x"; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<'5'
	assert_success
	assert_records_valid
	assert_equal "$(jqo -c 'keys_unsorted')" '["seq","ok","result","worker","attempts","ms"]'
	assert_equal "$(jqo -c '[.seq, .ok, .result, .attempts]')" '[1,true,5,1]'
	local pid
	pid=$(jqo .worker)
	[[ $pid =~ ^[1-9][0-9]*$ ]] || fail "worker is not a pid: $pid"
}

@test "id: echoed byte for byte, placed after seq" {
	printf '%s\n' '{"id":"a\u00e9 \"x\"","n":1}' '{"n":2,"id" : 1.50 }' \
		'{"id":["k",{"z":null}]}' '{"n":{"id":3}}' '"id"' >in
	run --separate-stderr ppool -j 2 -w "$(cat_worker)" <in
	assert_success
	assert_seqs_in_order 5
	assert_line --index 0 --partial '{"seq":1,"id":"a\u00e9 \"x\"","ok":true,'
	assert_line --index 1 --partial '{"seq":2,"id":1.50,"ok":true,'
	assert_line --index 2 --partial '{"seq":3,"id":["k",{"z":null}],"ok":true,'
	# Only a top-level "id" of an object counts.
	assert_equal "$(record 4 | jq 'has("id")')" false
	assert_equal "$(record 5 | jq 'has("id")')" false
}

@test "big numbers pass through byte for byte, to the worker and back" {
	local task='{"id":12345678901234567890,"n":1.000000000000000000001}'
	local w
	w=$(worker 'while IFS= read -r x; do printf "%s\n" "$x" >>"$W/got";
		echo 12345678901234567890; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<"$task"
	assert_success
	assert_equal "$(cat got)" "$task"
	assert_output --partial '"id":12345678901234567890,'
	assert_output --partial '"result":12345678901234567890,'
	run --separate-stderr ppool -j 1 -w "$(cat_worker)" <<<"$task"
	assert_success
	assert_output --partial "\"result\":$task,"
}

@test "a JSON reply is spliced in as JSON, with its own bytes" {
	local w
	w=$(worker 'while read x; do echo "{\"a\": [1, 2.50, \"\\u00e9\"], \"b\":true}"; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<'1'
	assert_success
	assert_output --partial '"result":{"a": [1, 2.50, "\u00e9"], "b":true},'
}

@test "a reply that is not JSON becomes a JSON string" {
	local w
	w=$(worker 'while read x; do case $x in
		1) echo "hello world" ;;
		2) printf "%s\n" "{\"a\":" ;;
		3) printf "say \"hi\"\tthere \\\\ now\n" ;;
		4) echo "" ;;
		5) echo "nan" ;;
		esac; done')
	seq 5 >in
	run --separate-stderr ppool -j 1 -w "$w" <in
	assert_success
	assert_records_valid
	assert_equal "$(record 1 | jq -r .result)" "hello world"
	assert_equal "$(record 2 | jq -r .result)" '{"a":'
	assert_equal "$(record 3 | jq -r .result)" "$(printf 'say "hi"\tthere \\ now')"
	assert_equal "$(record 4 | jq -c .result)" '""'
	assert_equal "$(record 5 | jq -c .result)" '"nan"'
}

@test "a reply that is not valid UTF-8 comes back as result_base64, same bytes" {
	local w
	w=$(worker 'while read x; do printf "\377\376a\300\257b\n"; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<'1'
	assert_success
	assert_records_valid
	assert_equal "$(jqo 'has("result")')" false
	assert_equal "$(jqo .ok)" true
	jqo .result_base64 | base64 -d >got
	printf '\377\376a\300\257b' >want
	cmp want got
}

@test "a reply ending in CR keeps its CR" {
	local w
	w=$(worker 'while read x; do printf "abc\r\n"; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<'1'
	assert_success
	assert_equal "$(jq -c .result <<<"$output")" '"abc\r"'
}

@test "--envelope: result and error replies; the worker lives on after an error" {
	seq 6 >in
	local w
	w=$(worker 'while read x; do
		if [ $((x % 2)) = 0 ]; then echo "{\"result\": $x}";
		else echo "{\"error\": \"odd $x\"}"; fi; done')
	run --separate-stderr ppool -j 1 --envelope -w "$w" <in
	assert_equal "$status" 3
	assert_records_valid
	assert_seqs_in_order 6
	assert_equal "$(jqo -c '[.ok, .result // .error]' | tr '\n' ' ')" \
		'[false,"odd 1"] [true,2] [false,"odd 3"] [true,4] [false,"odd 5"] [true,6] '
	assert_equal "$(jqo .worker | sort -u | wc -l)" 1
	assert_equal "$(record 1 | jq -c 'keys_unsorted')" '["seq","ok","error","worker","attempts","ms"]'
}

@test "--envelope -o raw: result values on stdout, error strings unquoted on stderr" {
	local w
	w=$(worker 'while read x; do case $x in
		1) echo "{\"result\": {\"v\": 1}}" ;;
		2) echo "{\"error\": \"neg \\u00e9 \\\"q\\\"\"}" ;;
		3) echo "{\"error\": {\"code\": 3}}" ;;
		esac; done')
	run --separate-stderr ppool -j 1 -o raw --envelope -w "$w" < <(seq 3)
	assert_equal "$status" 2
	assert_output '{"v": 1}'
	assert_equal "$stderr" "$(printf '%s\n' 'ppool: task 2: neg é "q"' 'ppool: task 3: {"code": 3}')"
	# one line each: control characters are written out
	run --separate-stderr ppool -L -o raw --envelope -w "$(cat_worker)" \
		<<<'{"error": "disk full\nat /data\t\u0001"}'
	assert_equal "$status" 1
	assert_equal "$stderr" 'ppool: task 1: disk full\nat /data\t\x01'
}

@test "--envelope: the result value is spliced byte for byte" {
	local w
	w=$(worker 'while read x; do echo "{\"result\" : 12345678901234567890 , \"x\":1}"; done')
	run --separate-stderr ppool -j 1 --envelope -w "$w" <<<'1'
	assert_success
	assert_output --partial '"result":12345678901234567890,'
}

@test "--envelope: a non-string error value is given as its text" {
	local w
	w=$(worker 'while read x; do echo "{\"error\":{\"code\":7}}"; done')
	run --separate-stderr ppool -j 1 --envelope -w "$w" <<<'1'
	assert_equal "$status" 1
	assert_equal "$(jqo .error)" '{"code":7}'
}

@test "--envelope: a reply that is no envelope fails, the reply kept in result" {
	local w
	w=$(worker 'while read x; do echo 42; done')
	run --separate-stderr ppool -j 1 --envelope -w "$w" <<<'1'
	assert_equal "$status" 1
	assert_equal "$(jqo .ok)" false
	assert_equal "$(jqo .error)" 'reply is not an envelope ({"result": V} or {"error": V})'
	assert_equal "$(jqo .result)" 42
}

@test "--envelope: an object with both members, or with neither, is no envelope" {
	# {"result":1,"error":2} was a success: "result" was looked up first.
	printf '%s\n' '{"result":1,"error":2}' '{"error":2,"x":0,"result":1}' '{"result":1,"result":2}' \
		'{}' '{"Result":1}' ' { "result" : [1, {"error": 2}] } ' >in
	run --separate-stderr ppool -j 1 --envelope -w "$(cat_worker)" <in
	assert_equal "$status" 5
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,false] [2,false] [3,false] [4,false] [5,false] [6,true] '
	assert_equal "$(jqo -r 'select(.ok | not) | .error' | sort -u)" 'reply is not an envelope ({"result": V} or {"error": V})'
	assert_equal "$(record 6 | jq -c .result)" '[1,{"error":2}]'
}

@test "-o raw prints the replies exactly" {
	printf '%s\n' 1 '"x  y"' 12345678901234567890 '{"a": 1 , "b":[ ]}' '1.000000000000000000001' >in
	run --separate-stderr ppool -j 3 -o raw -w "$(cat_worker)" <in
	assert_success
	assert_equal "$stderr" ""
	printf '%s\n' "$output" | cmp - in
	# Replies that are not JSON, or not UTF-8, are printed as they are too.
	local w
	w=$(worker 'while read x; do case $x in
		1) echo "not json" ;; 2) printf "\377x\n" ;; *) echo "$x" ;; esac; done')
	seq 3 | "$PPOOL" -j 1 -o raw -w "$w" >got
	printf 'not json\n\377x\n3\n' >want
	cmp want got
}

@test "-o raw: a failed task prints nothing on stdout, 'ppool: task SEQ: ERROR' on stderr" {
	seq 4 >in
	local w
	w=$(worker 'while read x; do [ "$x" = 3 ] && exit 3; echo "r$x"; done')
	run --separate-stderr ppool -j 1 -o raw -w "$w" <in
	assert_equal "$status" 1
	assert_equal "$output" "$(printf 'r1\nr2\nr4')"
	assert_equal "$stderr" "ppool: task 3: worker exited with status 3"
}

@test "the worker's stderr is ppool's stderr" {
	local w
	w=$(worker 'while read x; do echo "log $x" >&2; echo "$x"; done')
	run --separate-stderr ppool -j 1 -w "$w" <<<'9'
	assert_success
	assert_equal "$stderr" "log 9"
	assert_equal "$(jqo .result)" 9
}

# worker_cat_pid: the pid of this test's cat worker, once it runs cat.
worker_cat_pid() {
	local p
	for p in $(pgrep -f "$MARKER"); do
		if [[ $(cat "/proc/$p/comm" 2>/dev/null) == cat ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

@test "a -w command that is one simple command is the worker itself (exec): SIGTERM's grace, signal names, death with ppool" {
	# dash does not exec the last command of sh -c by itself: the program
	# was a child of a shell that died at the first SIGTERM, after which
	# the program was killed at once, and a crash read 'exited with 139'.
	cat >w.sh <<'SHEOF'
trap 'sleep 0.3; : >graceful; exit 0' TERM
while read -r x; do
	[ "$x" = 2 ] && kill -SEGV $$
	sleep 100 & wait $!
done
SHEOF
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -t 0.5 -w "sh w.sh $MARKER" <<<1
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -r .error)" "timed out after 0.5 s"
	assert_file_exists graceful
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -w "sh w.sh $MARKER" <<<2
	assert_equal "$(record 1 | jq -r .error)" "worker killed by SIGSEGV"
	# Not a simple command: left to sh as it is.
	run --separate-stderr timeout -k 5 30 "$PPOOL" -o raw -w 'read x; echo "$x"' <<<3
	assert_success
	assert_output 3
	assert_no_process_left
	# ppool killed with SIGKILL: the worker goes with it.
	printf '%s\n' 'read -r x; : >started; exec sleep 100' >w2.sh
	"$PPOOL" -w "sh w2.sh $MARKER" <<<4 >/dev/null 2>&1 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	kill -KILL "$pid"
	assert_no_process_left 10
}

@test "assignments before a simple -w command stay, and the program is still the worker (exec)" {
	cat >w.sh <<'SHEOF'
while read -r x; do
	[ "$x" = 2 ] && kill -SEGV $$
	echo "\"$FOO $BAR\""
done
SHEOF
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -w "FOO=1  BAR=a:b/c=d sh w.sh $MARKER" <<<$'1\n2'
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -r .result)" "1 a:b/c=d"
	# A shell in between would have said 'exited with status 139'.
	assert_equal "$(record 2 | jq -r .error)" "worker killed by SIGSEGV"
	# An expansion in the value: left to sh as it is, and still works.
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 -w "FOO=\$PWD sh w.sh $MARKER" <<<1
	assert_success
	assert_equal "$(record 1 | jq -r .result)" "$PWD "
	assert_no_process_left
}

@test "a worker has only fds 0, 1 and 2 open" {
	mkfifo fifo
	# fd 7 is a stray descriptor ppool must not pass on.
	"$PPOOL" -j 1 -w "$(cat_worker)" <fifo >out 2>err 3>&- 7<"$BATS_TEST_FILENAME" &
	local pid=$! wpid fds
	BG_PIDS+=("$pid")
	exec 8>fifo
	echo 1 >&8
	wait_until 10 worker_cat_pid
	wpid=$(worker_cat_pid)
	fds=$(ls "/proc/$wpid/fd" | sort -n | tr '\n' ' ')
	exec 8>&-
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$fds" "0 1 2 "
	assert_equal "$(jq .result out)" 1
}

@test "--envelope: \"result\" and \"error\" named with escapes are those members" {
	# Names were compared as written: {"r\u0065sult":1} was no envelope.
	printf '%s\n' '{"r\u0065sult":1}' '{"\u0065rror":"bad \u0031"}' '{"x":0,"\u0072esult":{"a":[2]}}' \
		'{"\u0065rror":{"code":4},"Result":0}' '{"Result":1,"r\u0065sult\u0020":2,"r\u0065sult":5}' >in
	run --separate-stderr ppool -j 1 --envelope -w "$(cat_worker)" <in
	assert_equal "$status" 2
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(jqo -c '[.seq, .ok, .result // .error]' | tr '\n' ' ')" \
		'[1,true,1] [2,false,"bad 1"] [3,true,{"a":[2]}] [4,false,"{\"code\":4}"] [5,true,5] '
	# the value is still spliced as the worker wrote it
	[[ $(sed -n 2p <<<"$output") == '{"seq":2,"ok":false,"error":"bad \u0031",'* ]] ||
		fail "record 2: $(sed -n 2p <<<"$output")"
}

@test "--envelope: \"result\" or \"error\" named twice, after decoding, is no envelope" {
	# {"result":1,"r\u0065sult":2} was a success with result 1: the
	# second name was not seen as "result".
	printf '%s\n' '{"result":1,"r\u0065sult":2}' '{"\u0065rror":"a","error":"b"}' \
		'{"r\u0065sult":1,"\u0065rror":2}' '{"\u0072\u0065\u0073\u0075\u006c\u0074":1,"x":0,"resul\u0074":3}' \
		'{"result\u0000":1}' '{"result":7}' >in
	run --separate-stderr ppool -j 1 --envelope -w "$(cat_worker)" <in
	assert_equal "$status" 5
	assert_records_valid
	assert_seqs_in_order 6
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,false] [2,false] [3,false] [4,false] [5,false] [6,true] '
	assert_equal "$(jqo -r 'select(.ok | not) | .error' | sort -u)" 'reply is not an envelope ({"result": V} or {"error": V})'
	# as with any reply that is no envelope, the whole reply is the result
	local i
	for i in 1 2 3 4 5; do
		[[ $(sed -n "${i}p" <<<"$output") == "{\"seq\":$i,\"ok\":false,\"error\":\"reply is not an envelope"*"\"result\":$(sed -n "${i}p" in),"* ]] ||
			fail "record $i: $(sed -n "${i}p" <<<"$output")"
	done
	assert_equal "$(record 6 | jq -c .result)" 7
}
