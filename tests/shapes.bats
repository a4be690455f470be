#!/usr/bin/env bats
# shapes.bats: output shapes: --results DIR (each task's stdout, stderr and
# record in DIR/SEQ/), --tag and --line-buffer (-o raw), compared with GNU
# parallel's options of the same names where the two correspond.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# start_bg ARGS...: run ppool ARGS in the background, stdin from the file
# in, stdout into the FIFO out (opened on fd 5 for the test to read), stderr
# into err; $pid is ppool's.
start_bg() {
	mkfifo out
	"$PPOOL" "$@" <in >out 2>err 3>&- 5<&- &
	pid=$!
	BG_PIDS+=("$pid")
	exec 5<out
}

# next_line WANT: the next line ppool writes to fd 5 is WANT (within 20 s).
next_line() {
	local line
	IFS= read -r -t 20 line <&5 || fail "no line from ppool within 20 s (wanted '$1')"
	assert_equal "$line" "$1"
}

# finish_bg: read ppool's stdout to its end into rest, wait for it; $status.
finish_bg() {
	timeout 20 cat <&5 >rest
	exec 5<&-
	wait_exit "$pid" 20
}

# file_size_is FILE N: FILE exists and holds N bytes.
file_size_is() {
	[[ -e $1 && $(stat -c %s "$1") == "$2" ]]
}

# A task script for the comparisons with GNU parallel: what it writes
# depends on its argument $1.
shapes_script() {
	cat <<'SH'
case $1 in
bin) printf '\377\000\001 bin\n'; printf 'e\377\n' >&2 ;;
nonl) printf 'no newline' ;;
empty) ;;
lines) printf 'one\ntwo\n\nfour\n'; printf 'to stderr\n' >&2 ;;
big) seq 1 40000; seq 40000 -1 1 >&2 ;;
fail) echo 'before failing'; echo 'why' >&2; exit 3 ;;
*) printf 'out <%s>\n' "$1"; printf 'err <%s>\n' "$1" >&2 ;;
esac
SH
}

# --results

@test "--results DIR: stdout, stderr and record of each task in DIR/SEQ/, created with its parents" {
	printf '%s\n' '["a","0"]' '["b","3"]' '["c d","0"]' >in
	run --separate-stderr ppool -j 2 --results deep/er/res -- \
		sh -c 'printf "out %s\n" "$1"; printf "err %s\n" "$1" >&2; exit "$2"' "$MARKER" <in
	assert_equal "$status" 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$stderr" ""
	local s
	for s in 1 2 3; do
		assert_file_exists "deep/er/res/$s/stdout"
		assert_file_exists "deep/er/res/$s/stderr"
		assert_file_exists "deep/er/res/$s/record.json"
	done
	assert_equal "$(cat deep/er/res/1/stdout)" "out a"
	assert_equal "$(cat deep/er/res/1/stderr)" "err a"
	assert_equal "$(cat deep/er/res/2/stdout)" "out b"
	assert_equal "$(cat deep/er/res/3/stdout)" "out c d"
	assert_equal "$(cat deep/er/res/3/stderr)" "err c d"
	# The records on stdout name the directory instead of holding the output.
	assert_equal "$(jqo -c '[.seq, .ok, .exit, .results]')" \
		"$(printf '%s\n' '[1,true,0,"deep/er/res/1"]' '[2,false,3,"deep/er/res/2"]' '[3,true,0,"deep/er/res/3"]')"
	assert_equal "$(jqo -c '[has("stdout"), has("stderr"), has("stdout_base64"), has("stderr_base64")]' | sort -u)" \
		'[false,false,false,false]'
	assert_equal "$(record 2 | jq -r .error)" "exited with status 3"
	# record.json: the task's record, one line.
	for s in 1 2 3; do
		assert_equal "$(wc -l <"deep/er/res/$s/record.json")" 1
		assert_equal "$(jq -c 'del(.results, .stdout, .stderr, .stdout_base64, .stderr_base64)' "deep/er/res/$s/record.json")" \
			"$(record "$s" | jq -c 'del(.results)')"
	done
}

@test "--results without COMMAND: cmd, shell and pipeline tasks, with stdin, write their files" {
	printf '%s\n' '{"cmd":["wc","-w"],"stdin":"three little words"}' \
		'{"cmd":"echo \"hello, $NAME\"; echo oops >&2","env":{"NAME":"world"}}' \
		'{"pipeline":[["seq","5"],["tail","-1"]]}' >in
	run --separate-stderr ppool --results res <in
	assert_success
	assert_seqs_in_order 3
	assert_equal "$(jqo .results)" "$(printf 'res/%s\n' 1 2 3)"
	assert_equal "$(tr -d ' ' <res/1/stdout)" 3
	assert_equal "$(cat res/2/stdout)" "hello, world"
	assert_equal "$(cat res/2/stderr)" oops
	assert_equal "$(cat res/3/stdout)" 5
	assert_file_empty res/3/stderr
}

@test "--results: the files hold what GNU parallel's --results DIR/{#}/ holds, byte for byte" {
	need_parallel
	shapes_script >script
	printf '%s\n' plain bin nonl empty lines big fail 'two words' >names
	parallel --will-cite -k -j 4 --results 'gp/{#}/' -q sh script {} :::: names >/dev/null 2>&1 || true
	# parallel must really have written a directory per task.
	assert_equal "$(find gp -name stdout | wc -l)" 8
	run --separate-stderr ppool -L -j 4 --results pp -- sh script <names
	assert_equal "$status" 1
	assert_seqs_in_order 8
	local s
	for s in $(seq 8); do
		cmp "gp/$s/stdout" "pp/$s/stdout" || fail "task $s: stdout differs from GNU parallel's"
		cmp "gp/$s/stderr" "pp/$s/stderr" || fail "task $s: stderr differs from GNU parallel's"
	done
	# And against what the tasks are known to write.
	cmp pp/2/stdout <(printf '\377\000\001 bin\n')
	cmp pp/6/stdout <(seq 1 40000)
	assert_equal "$(record 7 | jq -c '[.ok, .exit]')" '[false,3]'
}

@test "--results: output beyond --max-output is complete in the files, and not truncated" {
	printf '%s\n' '{"cmd":"seq 1 100000; seq 1 50000 >&2"}' >in
	run --separate-stderr ppool --max-output 1K --results res <in
	assert_success
	cmp res/1/stdout <(seq 1 100000)
	cmp res/1/stderr <(seq 1 50000)
	assert_equal "$(record 1 | jq -c '[.ok, .stdout_truncated, .stderr_truncated]')" '[true,null,null]'
	assert_equal "$(jq -c '[.ok, .stdout_truncated, .stderr_truncated]' res/1/record.json)" '[true,null,null]'
	assert_equal "$stderr" ""
}

@test "--results: stdout and stderr reach their files while the task still runs" {
	mkfifo go
	printf '%s\n' '"x"' >in
	start_bg --results res -- sh -c 'echo early; echo early-err >&2; read x <go; echo late' "$MARKER"
	# The task waits for the test, which waits for the files.
	wait_until 20 grep -qsx early res/1/stdout
	wait_until 20 grep -qsx early-err res/1/stderr
	: >go
	finish_bg
	assert_equal "$status" 0
	assert_equal "$(cat res/1/stdout)" "$(printf 'early\nlate')"
	assert_equal "$(jq -c '[.seq, .ok, .results]' rest)" '[1,true,"res/1"]'
}

@test "--results: no output kept in memory, whatever its size" {
	skip_under_valgrind "valgrind's own memory counts in VmHWM"
	mkfifo go
	printf '%s\n' '"x"' >in
	# 200 MB of stdout, with --max-output above it: kept in memory it
	# would show in ppool's peak RSS.
	start_bg --max-output 1G --results res -- \
		sh -c 'head -c 200000000 /dev/zero; read x <go || :' "$MARKER"
	wait_until 50 file_size_is res/1/stdout 200000000
	local hwm
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
	: >go
	finish_bg
	assert_equal "$status" 0
	((hwm < RSS_LIMIT_KB)) ||
		fail "ppool's peak RSS was $hwm kB for 200 MB written to --results (limit $RSS_LIMIT_KB kB)"
}

@test "--results: files of an earlier run with the same SEQ are replaced, not appended to" {
	printf '%s\n' '{"cmd":"seq 1 5000; seq 1 3000 >&2; exit 4"}' '{"cmd":"seq 1 5000"}' >in
	run --separate-stderr ppool --results res <in
	assert_equal "$status" 1
	assert_equal "$(wc -l <res/1/stdout)" 5000
	printf '%s\n' '{"cmd":"echo new"}' '{"cmd":"echo newer; echo e >&2"}' >in
	run --separate-stderr ppool --results res <in
	assert_success
	assert_equal "$(cat res/1/stdout)" new
	assert_file_empty res/1/stderr
	assert_equal "$(cat res/2/stdout)" newer
	assert_equal "$(cat res/2/stderr)" e
	assert_equal "$(wc -l <res/1/record.json)" 1
	assert_equal "$(jq -c '[.seq, .ok, .exit]' res/1/record.json)" '[1,true,0]'
}

@test "--results with --retries: a retried task's files hold its last attempt only" {
	# Attempts 1 and 2 write much and fail; attempt 3 writes a line.
	cat >task.sh <<'SH'
n=$(($(cat count 2>/dev/null || echo 0) + 1))
echo "$n" >count
if [ "$n" -lt 3 ]; then
	seq 1 20000
	seq 1 10000 >&2
	exit 1
fi
echo "attempt $n"
SH
	printf '%s\n' '"x"' >in
	run --separate-stderr ppool --retries 2 --results res -- sh task.sh "$MARKER" <in
	assert_success
	assert_equal "$(cat count)" 3
	assert_equal "$(cat res/1/stdout)" "attempt 3"
	assert_file_empty res/1/stderr
	assert_equal "$(record 1 | jq -c '[.ok, .attempts, .results]')" '[true,3,"res/1"]'
	assert_equal "$(jq -c '[.ok, .attempts]' res/1/record.json)" '[true,3]'
}

@test "--results DIR not writable: exit 255 before anything runs" {
	printf '%s\n' '"x"' >in
	: >afile
	# Under a regular file (ENOTDIR even for root), or a regular file itself.
	local dir
	for dir in afile/res afile; do
		run --separate-stderr ppool --results "$dir" -- sh -c ': >ran' "$MARKER" <in
		assert_equal "$status" 255
		assert_output ""
		assert_file_not_exists ran
		[[ $stderr == *"$dir"* ]] || fail "the message does not name $dir: $stderr"
	done
}

@test "--results with -w, or with -o raw (also as --tag or --line-buffer select it): usage error, exit 255, nothing runs" {
	printf '%s\n' '"x"' >in
	run --separate-stderr ppool --results res -w "sh -c ': >ran; cat' $MARKER" <in
	assert_equal "$status" 255
	assert_output ""
	run --separate-stderr ppool --results res -o raw -- sh -c ': >ran' "$MARKER" <in
	assert_equal "$status" 255
	assert_output ""
	# --tag and --line-buffer select -o raw.
	run --separate-stderr ppool --results res --tag -- sh -c ': >ran' "$MARKER" <in
	assert_equal "$status" 255
	assert_output ""
	run --separate-stderr ppool --line-buffer --results res -- sh -c ': >ran' "$MARKER" <in
	assert_equal "$status" 255
	assert_output ""
	assert_file_not_exists ran
}

# --tag

@test "--tag: each stdout line is prefixed with the task's argument and a tab, as GNU parallel --tag -k" {
	need_parallel
	shapes_script >script
	printf '%s\n' plain 'two words' lines nonl empty bin big 'tab	in it' >names
	parallel --will-cite -k -j 4 --tag -q sh script {} :::: names >want 2>/dev/null
	# plain, two words, 4 of lines, nonl and bin on one, 40000 of big, tab
	assert_equal "$(wc -l <want)" 40008
	ppool -L -j 4 -o raw --tag -- sh script <names >got 2>/dev/null
	cmp want got
}

@test "--tag: a JSON array's arguments are joined by spaces, as GNU parallel's sources" {
	need_parallel
	parallel --will-cite -k --tag echo ::: a 'b c' ::: 1 2 >want
	printf '%s\n' '["a","1"]' '["a","2"]' '["b c","1"]' '["b c","2"]' >in
	run --separate-stderr ppool -j 3 --tag -- echo <in
	assert_success
	assert_output "$(cat want)"
	# Numbers and booleans as written, a string task and an args object.
	printf '%s\n' '[1, 2.50, true]' '"s t"' '{"args":["p","q"]}' 12345678901234567890 >in
	run --separate-stderr ppool -j 1 --tag -- echo <in
	assert_success
	assert_output "$(printf '%s\t%s\n' '1 2.50 true' '1 2.50 true' 's t' 's t' 'p q' 'p q' \
		12345678901234567890 12345678901234567890)"
}

@test "--tag with -L and no COMMAND: the prefix is the command line, as GNU parallel --tag" {
	need_parallel
	printf '%s\n' 'echo hi' 'printf "a\nb\n"' 'echo "x  y"' >cmds
	parallel --will-cite -k --tag :::: cmds >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -L --tag <cmds
	assert_success
	assert_output "$(cat want)"
}

@test "--tag: a failed task prints nothing on stdout, its line on stderr" {
	printf '%s\n' '"ok1"' '"bad"' '"ok2"' >in
	run --separate-stderr ppool -j 1 --tag -- sh -c 'echo "$1"; [ "$1" != bad ] || exit 3' "$MARKER" <in
	assert_equal "$status" 1
	assert_output "$(printf 'ok1\tok1\nok2\tok2')"
	assert_equal "$stderr" "ppool: task 2: exited with status 3"
}

@test "--tag and --line-buffer select -o raw; with -o json either is a usage error" {
	printf '%s\n' '"x"' >in
	run --separate-stderr ppool --tag -- echo <in
	assert_success
	assert_output "$(printf 'x\tx')"
	run --separate-stderr ppool --line-buffer -- echo <in
	assert_success
	assert_output x
	run --separate-stderr ppool -o raw --tag -- echo <in
	assert_success
	assert_output "$(printf 'x\tx')"
	local opt
	for opt in --tag --line-buffer; do
		run --separate-stderr ppool -o json "$opt" -- sh -c ': >ran' "$MARKER" <in
		assert_equal "$status" 255
		assert_output ""
		run --separate-stderr ppool "$opt" -o json -- sh -c ': >ran' "$MARKER" <in
		assert_equal "$status" 255
		assert_output ""
	done
	assert_file_not_exists ran
}

@test "worker mode --tag: each reply is prefixed with the task's arguments and a tab" {
	printf '%s\n' alpha 'two words' >in
	run --separate-stderr ppool -j 2 -L --tag -w 'stdbuf -oL tr a-z A-Z' <in
	assert_success
	assert_output "$(printf 'alpha\tALPHA\ntwo words\tTWO WORDS')"
	printf '%s\n' '["a","b"]' '"s"' 7 >in
	run --separate-stderr ppool -j 2 --tag -w "$(cat_worker)" <in
	assert_success
	assert_output "$(printf 'a b\t["a","b"]\ns\t"s"\n7\t7')"
}

# --line-buffer

@test "--line-buffer: the lines of GNU parallel --line-buffer, none split or mixed, long lines written in pieces" {
	need_parallel
	# Each line is written in two pieces, its head and a 70 kB tail (more
	# than a pipe holds), by 6 tasks at once: lines arrive in pieces,
	# interleaved between tasks.
	cat >script <<'SH'
for j in 1 2 3 4; do
	printf '%s-%s-' "$1" "$j"
	head -c 70000 /dev/zero | tr '\0' "$1"
	echo
	echo "short $1 $j"
done
SH
	printf '%s\n' a b c d e f >names
	parallel --will-cite -j 6 --line-buffer -q sh script {} :::: names >want
	assert_equal "$(wc -l <want)" 48
	ppool -L -j 6 --line-buffer -- sh script <names >got
	cmp <(sort want) <(sort got)
	# Each task's lines are in its own order.
	local t
	for t in a b c d e f; do
		assert_equal "$(grep "^$t-\|^short $t " got | cut -c 1-9)" \
			"$(grep "^$t-\|^short $t " want | cut -c 1-9)"
	done
}

@test "--line-buffer --tag: tagged lines as GNU parallel's, none split or mixed" {
	need_parallel
	cat >script <<'SH'
for j in 1 2 3; do
	printf '%s-%s-' "$1" "$j"
	head -c 70000 /dev/zero | tr '\0' x
	echo
done
SH
	printf '%s\n' a 'b c' d e >names
	parallel --will-cite -j 4 --line-buffer --tag -q sh script {} :::: names >want
	assert_equal "$(wc -l <want)" 12
	ppool -L -j 4 --line-buffer --tag -- sh script <names >got
	cmp <(sort want) <(sort got)
}

@test "--line-buffer: a line is printed as soon as it is read, before its task ends" {
	mkfifo go
	printf '%s\n' '"x"' >in
	start_bg --line-buffer -- sh -c 'echo first; read x <go; echo second' "$MARKER"
	# The task cannot end before the test has read its first line.
	next_line first
	: >go
	next_line second
	finish_bg
	assert_equal "$status" 0
	assert_file_empty rest
}

@test "--line-buffer: a partial line waits for its newline, another task's line goes first" {
	mkfifo go
	# Task 1 writes half a line, says so, and waits for the test; task 2
	# waits until that half is written, then writes a whole line.
	cat >task.sh <<'SH'
shift # the test's marker
case $1 in
1) printf 'par'; : >wrote; read x <go; echo 'tial' ;;
2) while [ ! -e wrote ]; do sleep 0.02; done; echo 'whole' ;;
esac
SH
	printf '%s\n' '"1"' '"2"' >in
	start_bg -j 2 --line-buffer -- sh task.sh "$MARKER"
	next_line whole
	: >go
	next_line partial
	finish_bg
	assert_equal "$status" 0
	assert_file_empty rest
}

@test "--line-buffer: a last line without a newline is printed as it is when the command ends" {
	need_parallel
	parallel --will-cite --line-buffer printf "'a\nno newline'" ::: x >want
	printf '%s\n' '"x"' >in
	ppool --line-buffer -- printf 'a\nno newline' <in >got
	cmp want got
	cmp got <(printf 'a\nno newline')
}

@test "worker mode --line-buffer: replies print as they come, not in input order" {
	printf '%s\n' 1 2 >in
	# Task 1 waits for $W/go, which the test creates only once it has seen
	# task 2's reply.
	start_bg -j 2 -L --line-buffer -w "$(held_worker 1)"
	next_line 2
	: >go
	next_line 1
	finish_bg
	assert_equal "$status" 0
	assert_file_empty rest
}
