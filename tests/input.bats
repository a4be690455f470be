#!/usr/bin/env bats
# input.bats: reading tasks: JSON lines, -L, -0, -a, blank lines, bad lines.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# logging_worker: a -w command that appends each task it gets to $W/got and
# echoes it back.
logging_worker() {
	worker 'while IFS= read -r x; do printf "%s\n" "$x" >>"$W/got"; printf "%s\n" "$x"; done'
}

@test "-L: a line with quotes, spaces and backslashes reaches the worker unchanged" {
	local line='  he said "hi" \n\t \\ {not json'
	printf '%s\n' "$line" 'second' >in
	run --separate-stderr ppool -j 1 -L -w "$(logging_worker)" <in
	assert_success
	cmp in got
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -r .result)" "$line"
	assert_equal "$(record 2 | jq -r .result)" second
}

@test "--lines is -L" {
	printf '%s\n' 'a b' >in
	run --separate-stderr ppool -j 1 --lines -w "$(cat_worker)" <in
	assert_success
	assert_equal "$(jqo .result)" 'a b'
}

@test "-L: blank lines are skipped, empty or of spaces, tabs and CRs, as the contract says" {
	# A line of spaces was a task: 'ppool -L -- rm {}' would run rm '   '.
	printf 'a\n\n \n \t\r\nb\n\n' >in
	run --separate-stderr ppool -j 1 -L -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 2
	printf 'a\nb\n' | cmp - got
}

@test "-0: a record of spaces is a task (a file name may be that); an empty one is skipped" {
	printf 'a\0\0  \0b\0' >in
	run --separate-stderr ppool -j 1 -0 -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 3
	printf 'a\n  \nb\n' | cmp - got
}

@test "-0: NUL-separated tasks" {
	printf 'a\0b c\0' >in
	run --separate-stderr ppool -j 1 -0 -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 2
	assert_equal "$(jqo .result)" "$(printf 'a\nb c')"
	printf 'a\nb c\n' | cmp - got
}

@test "--null is -0; empty records are skipped; the last needs no NUL" {
	printf 'a\0\0b\0c' >in
	run --separate-stderr ppool -j 1 --null -w "$(cat_worker)" <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(jqo .result)" "$(printf 'a\nb\nc')"
}

@test "-0: a task holding a newline fails in worker mode, the others run" {
	printf 'a\0b\nc\0d\0' >in
	run --separate-stderr ppool -j 1 -0 -w "$(logging_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" \
		'[false,"task holds a newline (a worker reads one line per task)"]'
	printf 'a\nd\n' | cmp - got
}

@test "-a FILE reads tasks from FILE, not stdin" {
	printf '1\n2\n' >tasks
	run --separate-stderr ppool -j 1 -a tasks -w "$(cat_worker)" <<<'999'
	assert_success
	assert_seqs_in_order 2
	assert_equal "$(jqo .result)" "$(printf '1\n2')"
	run --separate-stderr ppool -j 1 --input=tasks -w "$(cat_worker)" <<<'999'
	assert_success
	assert_equal "$(jqo .result)" "$(printf '1\n2')"
}

@test "an input that cannot be read: a message naming it, exit 255" {
	mkdir adir
	run --separate-stderr ppool -a adir -w "$(cat_worker)"
	assert_equal "$status" 255
	assert_output ""
	assert_equal "$stderr" "ppool: cannot read tasks from adir: Is a directory; the tasks read before run, then ppool exits 255"
	run --separate-stderr ppool -w "$(cat_worker)" <adir
	assert_equal "$status" 255
	assert_equal "$stderr" "ppool: cannot read tasks from stdin: Is a directory; the tasks read before run, then ppool exits 255"
}

@test "stdin closed: exit 255 with a message, no hang; with -a FILE the run goes on" {
	skip_under_valgrind "its own files take the closed fds"
	# The self-pipe once took fd 0 and ppool read its own signals as tasks.
	run --separate-stderr timeout 20 bash -c '"$PPOOL" -w cat <&-'
	assert_equal "$status" 255
	assert_equal "$stderr" "ppool: stdin is closed: give the tasks on it, or with -a FILE"
	printf '1\n2\n' >tasks
	run --separate-stderr timeout 20 bash -c '"$PPOOL" -o raw -a tasks -w cat <&-'
	assert_success
	assert_output "$(printf '1\n2')"
}

@test "stdout closed: exit 255 with a message" {
	skip_under_valgrind "its own files take the closed fds"
	run --separate-stderr timeout 20 bash -c '"$PPOOL" -w cat <<<1 >&-'
	assert_equal "$status" 255
	assert_equal "$stderr" "ppool: stdout is closed: ppool writes a record per task there; redirect it (>/dev/null to drop them)"
}

@test "blank lines are skipped; seq counts only tasks" {
	printf '1\n\n  \n2\n\t\n\n3\n' >in
	run --separate-stderr ppool -j 2 -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.seq, .result]' | tr -d '\n')" '[1,1][2,2][3,3]'
	assert_equal "$(sort got)" "$(printf '1\n2\n3')"
}

@test "a last line without a newline is still a task" {
	printf '1\n2' >in
	run --separate-stderr ppool -j 1 -w "$(cat_worker)" <in
	assert_success
	assert_seqs_in_order 2
	assert_equal "$(jqo .result)" "$(printf '1\n2')"
	printf 'x\ny' >in
	run --separate-stderr ppool -j 1 -L -w "$(cat_worker)" <in
	assert_success
	assert_equal "$(jqo .result)" "$(printf 'x\ny')"
}

@test "task lines reach the worker byte for byte (JSON mode)" {
	printf '%s\n' '{"a" : [1,2 ,3],"s":"\u00e9\n"}' ' 17 ' '"x"' 'true' 'null' \
		'[]' '-0.5e+10' >in
	run --separate-stderr ppool -j 1 -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 7
	cmp in got
}

@test "worker mode: an \"id\" with an escaped name is found, and echoed as its original text" {
	printf '%s\n' '{"\u0069d":"\u0041\u00e9","x":1}' '{"x":2,"i\u0064":12345678901234567890}' \
		'{"id\u0000":3}' '[{"id":4}]' '{"k":{"id":5}}' >in
	run --separate-stderr ppool -j 1 -w "$(logging_worker)" <in
	assert_success
	assert_seqs_in_order 5
	cmp in got
	assert_equal "$(jq -c '[.id, .result.x]' <<<"$(record 1)")" '["Aé",1]'
	[[ $(sed -n 1p <<<"$output") == '{"seq":1,"id":"\u0041\u00e9","ok":true,'* ]] ||
		fail "record 1: $(sed -n 1p <<<"$output")"
	[[ $(sed -n 2p <<<"$output") == '{"seq":2,"id":12345678901234567890,"ok":true,'* ]] ||
		fail "record 2: $(sed -n 2p <<<"$output")"
	# a key holding a NUL after "id", or an id below the top level: no id
	assert_equal "$(jq -c 'select(.seq >= 3) | has("id")' <<<"$output" | tr '\n' ' ')" 'false false false '
}

@test "worker mode: \"id\" named twice, after decoding: an error record, not sent, the others run" {
	printf '%s\n' '{"id":1,"\u0069d":2}' '{"id":3,"id":3}' '{"id":4,"c\u006dd":"a","cmd":"b"}' >in
	run --separate-stderr ppool -j 1 -w "$(logging_worker)" <in
	assert_failure 2
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jq -c 'select(.seq <= 2) | [.ok, .error, has("id"), has("worker"), .attempts]' <<<"$output" | tr '\n' ' ')" \
		'[false,"ambiguous task: it names \"id\" twice",false,false,0] [false,"ambiguous task: it names \"id\" twice",false,false,0] '
	# "cmd" is no field of ppool's in worker mode: the worker gets it all
	assert_equal "$(record 3 | jq -c '[.ok, .id]')" '[true,4]'
	[[ $(sed -n 3p <<<"$output") == *'"result":{"id":4,"c\u006dd":"a","cmd":"b"},'* ]] ||
		fail "record 3: $(sed -n 3p <<<"$output")"
	sed -n 3p in | cmp - got
}

@test "an invalid JSON line gets an error record in its place, the others run" {
	printf '%s\n' 1 '{"a":1,}' 3 '[1 2]' 5 >in
	run --separate-stderr ppool -j 2 -w "$(logging_worker)" <in
	assert_equal "$status" 2
	assert_records_valid
	assert_seqs_in_order 5
	assert_equal "$(record 2 | jq -c '[.ok, .error, .attempts, has("worker")]')" \
		'[false,"invalid JSON at byte 8",0,false]'
	assert_equal "$(record 4 | jq -c '[.ok, .error, .attempts, has("worker")]')" \
		'[false,"invalid JSON at byte 4",0,false]'
	assert_equal "$(jqo -c 'select(.ok) | .result' | tr '\n' ' ')" '1 3 5 '
	# The invalid lines never reached a worker.
	assert_equal "$(sort got)" "$(printf '1\n3\n5')"
}

@test "an invalid JSON record has exactly the spec's fields" {
	printf '%s\n' 'nul' >in
	run --separate-stderr ppool -j 1 -w "$(cat_worker)" <in
	assert_equal "$status" 1
	assert_equal "$(jqo -c 'keys_unsorted')" '["seq","ok","error","attempts","ms"]'
	assert_equal "$(jqo .ms)" 0
	[[ $(jqo .error) =~ ^invalid\ JSON\ at\ byte\ [1-4]$ ]]
}

@test "JSON nested deeper than 512 levels: an error of its own, not 'invalid JSON'" {
	{
		python3 -c "print('[' * 512 + ']' * 512)"
		python3 -c "print('[' * 513 + ']' * 513)"
	} >in
	run --separate-stderr ppool -w "$(cat_worker)" <in
	assert_failure 1
	# jq itself cannot read 512 levels: look at the text
	assert_equal "$(sed -n 1p <<<"$output" | cut -c 1-30)" '{"seq":1,"ok":true,"result":[['
	assert_equal "$(sed -n 2p <<<"$output" | jq -r .error)" "JSON nested deeper than 512 levels at byte 513 (ppool's limit)"
}

@test "JSON that is valid only to a lax parser is invalid" {
	printf '%s\n' "{'a':1}" '[1,]' 'NaN' '01' '"tab	in string"' '{"a":1} x' >in
	run --separate-stderr ppool -j 1 -w "$(logging_worker)" <in
	assert_equal "$status" 6
	assert_seqs_in_order 6
	assert_equal "$(jqo 'select(.ok)')" ""
	assert_file_not_exists got
}

@test "a line holding a NUL byte gets an error record, the others run" {
	printf '1\n"a\0b"\n3\n' >in
	run --separate-stderr ppool -j 1 -w "$(logging_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .error, has("worker")]')" \
		'[false,"task holds a NUL byte",false]'
	assert_equal "$(sort got)" "$(printf '1\n3')"
}

@test "-L: a line holding a NUL byte gets an error record too" {
	printf 'a\nb\0c\nd\n' >in
	run --separate-stderr ppool -j 1 -L -w "$(logging_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -r .error)" "task holds a NUL byte"
	printf 'a\nd\n' | cmp - got
}

@test "--max-line: a longer line gets an error record, the next lines still run" {
	{
		echo 1
		printf '"%s"\n' "$(head -c 100 /dev/zero | tr '\0' a)"
		echo 3
	} >in
	run --separate-stderr ppool -j 1 --max-line 10 -w "$(logging_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq .ok)" false
	[[ $(record 2 | jq -r .error) =~ ^task\ longer\ than\ --max-line\ \([0-9]+\ bytes\)$ ]] ||
		fail "error: $(record 2 | jq -r .error)"
	assert_equal "$(record 2 | jq 'has("worker")')" false
	assert_equal "$(cat got)" "$(printf '1\n3')"
}

@test "--max-line: a line of exactly the limit is a task" {
	printf '%s\n' '"12345678"' '"123456789"' >in
	run --separate-stderr ppool -j 1 --max-line 10 -w "$(cat_worker)" <in
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .result]')" '[true,"12345678"]'
	assert_equal "$(record 2 | jq .ok)" false
}

@test "--max-line defaults to 64 MiB: a line of 64 MiB is read and checked, one byte more is too long" {
	# No other test would see the default change.
	{
		head -c 67108864 /dev/zero | tr '\0' x
		echo
		head -c 67108865 /dev/zero | tr '\0' x
		printf '\n3\n'
	} >in
	run --separate-stderr ppool -j 1 -o raw -w "$(cat_worker)" <in
	assert_equal "$status" 2
	assert_output 3
	assert_equal "$stderr" "$(printf '%s\n' 'ppool: task 1: invalid JSON at byte 1' 'ppool: task 2: task longer than --max-line (67108864 bytes)')"
}

@test "--max-line: a blank line is skipped whatever its length, read whole or in pieces" {
	# 50 spaces fit in one read; 300,000 blanks span several, and each
	# once failed or not depending on where the reads ended.
	{
		echo 1
		printf '%50s\n' ''
		echo 2
		head -c 300000 /dev/zero | tr '\0' ' '
		printf '\t\r\n'
		echo 3
		head -c 300000 /dev/zero | tr '\0' ' '
		printf 'x\n'
		echo 5
		head -c 300000 /dev/zero | tr '\0' ' '
	} >in
	run --separate-stderr ppool -j 1 --max-line 10 -w "$(logging_worker)" <in
	assert_equal "$status" 1
	assert_seqs_in_order 5
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,true] [3,true] [4,false] [5,true] '
	assert_equal "$(record 4 | jq -r .error)" "task longer than --max-line (10 bytes)"
	assert_equal "$(cat got)" "$(printf '1\n2\n3\n5')"
}

@test "--max-line: a huge line is skipped without holding up the next ones" {
	{
		echo 1
		printf '"'
		head -c 8000000 /dev/zero | tr '\0' b
		printf '"\n'
		echo 3
		printf 'x\0y\n'
		echo 5
	} >in
	run --separate-stderr ppool -j 1 --max-line 1K -w "$(logging_worker)" <in
	assert_equal "$status" 2
	assert_seqs_in_order 5
	assert_equal "$(jqo -c '.ok' | tr '\n' ' ')" 'true false true false true '
	assert_equal "$(record 4 | jq -r .error)" "task holds a NUL byte"
	assert_equal "$(cat got)" "$(printf '1\n3\n5')"
}
