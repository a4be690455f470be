#!/usr/bin/env bats
# command.bats: command mode (no -w): one process or pipeline per task,
# "cmd" / "pipeline" tasks, the optional task fields, captured output,
# errors and exit statuses, -o raw, --dry-run, -j, and no process left.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# pyrec PYTHON-EXPR: evaluate a Python expression over the records in
# $output (bound to `recs`, a list of dicts, and `lines`, the raw lines) and
# print its value; fails when $output is not JSON lines.
pyrec() {
	python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
recs = [json.loads(l) for l in lines]
print(eval(sys.argv[1]))' "$1" <<<"$output"
}

# sleeper NAME: write an executable script whose path carries the test's
# marker and that sleeps "forever" (so `pgrep -f "$MARKER"` finds it), and
# print its path.  With IGNORE_TERM=1 it ignores SIGTERM.
sleeper() {
	local f="$BATS_TEST_TMPDIR/$MARKER-$1"
	{
		echo '#!/bin/sh'
		[[ ${IGNORE_TERM:-0} == 1 ]] && echo "trap '' TERM"
		echo 'while :; do sleep 1; done'
	} >"$f"
	chmod +x "$f"
	printf '%s' "$f"
}

# ---------------------------------------------------------------------------
# The issue's examples

@test "issue example: find -print0 | ppool -0 -o raw -- gzip -9 {}" {
	mkdir -p logs/'sub dir'
	seq 1000 >'logs/a b.log'
	seq 2000 >logs/c.log
	printf 'x\ny\n' >'logs/sub dir/d  e.log'
	echo keep >logs/other.txt
	cp 'logs/a b.log' want.a
	cp logs/c.log want.c
	cp 'logs/sub dir/d  e.log' want.d
	run --separate-stderr bash -c 'find logs -name "*.log" -print0 | "$PPOOL" -0 -o raw -- gzip -9 {}'
	assert_success
	assert_equal "$output" ""
	assert_equal "$stderr" ""
	assert_file_not_exists 'logs/a b.log'
	assert_file_not_exists logs/c.log
	assert_file_not_exists 'logs/sub dir/d  e.log'
	assert_file_exists logs/other.txt
	gunzip -t 'logs/a b.log.gz' logs/c.log.gz 'logs/sub dir/d  e.log.gz'
	cmp want.a <(zcat 'logs/a b.log.gz')
	cmp want.c <(zcat logs/c.log.gz)
	cmp want.d <(zcat 'logs/sub dir/d  e.log.gz')
}

@test "issue example: ls *.txt | ppool -L -- cp {} {.}.bak" {
	seq 10 >one.txt
	seq 20 >'two words.txt'
	echo "it's" >"it's.txt"
	run --separate-stderr bash -c 'ls *.txt | "$PPOOL" -L -- cp {} {.}.bak'
	assert_success
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.ok, .exit, .stdout, .stderr]' | sort -u)" '[true,0,"",""]'
	cmp one.txt one.bak
	cmp 'two words.txt' 'two words.bak'
	cmp "it's.txt" "it's.bak"
}

@test "issue example: \"cmd\" exit 3 and \"pipeline\" seq | tail, exact records" {
	run --separate-stderr ppool < <(printf '%s\n' \
		'{"cmd":["sh","-c","exit 3"]}' \
		'{"pipeline":[["seq","5"],["tail","-1"]]}')
	assert_failure 1
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 2
	# exact bytes up to "ms", fields in the documented order
	assert_equal "$(sed -n 1p <<<"$output" | sed 's/"ms":[0-9.]*}$/"ms":M}/')" \
		'{"seq":1,"ok":false,"error":"exited with status 3","exit":3,"signal":null,"stdout":"","stderr":"","attempts":1,"ms":M}'
	assert_equal "$(sed -n 2p <<<"$output" | sed 's/"ms":[0-9.]*}$/"ms":M}/')" \
		'{"seq":2,"ok":true,"exit":0,"signal":null,"stdout":"5\n","stderr":"","attempts":1,"ms":M}'
	run pyrec '[(r["ok"], r["exit"], r["signal"], r["stdout"]) for r in recs]'
	assert_output "[(False, 3, None, ''), (True, 0, None, '5\\n')]"
}

# ---------------------------------------------------------------------------
# cmd and pipeline

@test "\"cmd\" as an array runs without a shell: \$HOME, *, ; stay literal" {
	: >afile
	run --separate-stderr ppool < <(echo '{"cmd":["echo","$HOME","*",";","`id`","a  b"]}')
	assert_success
	assert_equal "$(record 1 | jq -r .stdout)" '$HOME * ; `id` a  b'
}

@test "\"cmd\" as a string runs under /bin/sh -c" {
	export PPOOL_T_VAR=from-env
	run --separate-stderr ppool < <(printf '%s\n' \
		'{"cmd":"echo $PPOOL_T_VAR; echo two | tr a-z A-Z; exit 0"}' \
		'{"cmd":"readlink -f /proc/$$/exe"}' \
		'{"cmd":"echo out; echo err >&2; exit 5"}')
	assert_failure 1
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq -c '[.ok, .stdout]')" '[true,"from-env\nTWO\n"]'
	assert_equal "$(record 2 | jq -r .stdout)" "$(readlink -f /bin/sh)"
	assert_equal "$(record 3 | jq -c '[.ok, .exit, .stdout, .stderr, .error]')" \
		'[false,5,"out\n","err\n","exited with status 5"]'
}

@test "-L with no COMMAND: each line is a shell command" {
	run --separate-stderr ppool -L -j 1 < <(printf '%s\n' 'echo "a  b" | wc -w' 'exit 2' 'printf %s "$((6*7))"')
	assert_failure 1
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.ok, .exit, .stdout]' | tr '\n' ' ')" \
		'[true,0,"2\n"] [false,2,""] [true,0,"42"] '
}

@test "\"pipeline\" with three stages, no shell; exit status of the last stage" {
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"pipeline":[["printf","a\\nb $HOME\\nc\\nb\\n"],["grep","b"],["wc","-l"]]}' \
		'{"pipeline":[["printf","x|y\\n"],["tr","|","-"],["cat"]]}' \
		'{"pipeline":[["false"],["true"]]}' \
		'{"pipeline":[["echo","x"],["sh","-c","cat >/dev/null; exit 4"]]}')
	assert_failure 1
	assert_seqs_in_order 4
	assert_equal "$(record 1 | jq -c '[.ok, .stdout]')" '[true,"2\n"]'
	assert_equal "$(record 2 | jq -c '[.ok, .stdout]')" '[true,"x-y\n"]'
	assert_equal "$(record 3 | jq -c '[.ok, .exit]')" '[true,0]'
	assert_equal "$(record 4 | jq -c '[.ok, .exit, .error]')" '[false,4,"exited with status 4"]'
}

@test "a \"pipeline\" stage that dies of SIGQUIT or SIGINT is the task's business, not ppool's" {
	# libpipeline raises in ppool the SIGINT or SIGQUIT that killed a
	# child; only the last stage's echo was swallowed, and SIGQUIT in an
	# earlier stage killed ppool (131, no record at all).
	run --separate-stderr timeout -k 5 30 "$PPOOL" -j 1 < <(printf '%s\n' \
		'{"pipeline":[["sh","-c","kill -QUIT $$"],["true"]]}' \
		'{"pipeline":[["sh","-c","kill -INT $$"],["true"]]}' \
		'{"pipeline":[["true"],["sh","-c","kill -INT $$"]]}' \
		'{"cmd":["echo","last"]}')
	assert_equal "$status" 1
	assert_seqs_in_order 4
	assert_equal "$(jqo -c '[.ok, .signal]' | tr '\n' ' ')" \
		'[true,null] [true,null] [false,"SIGINT"] [true,null] '
	assert_equal "$(record 4 | jq -r .stdout)" last
}

@test "an empty or relative PATH entry is the task's current directory, as in a shell" {
	# An empty entry once searched / (a program there would have run).
	mkdir -p sub bin
	printf '#!/bin/sh\necho top\n' >here.sh
	printf '#!/bin/sh\necho sub\n' >sub/here.sh
	chmod +x here.sh sub/here.sh
	run --separate-stderr env PATH="$PATH:" "$PPOOL" -j 1 -o raw < <(printf '%s\n' \
		'{"cmd":["here.sh"]}' '{"cmd":["here.sh"],"cwd":"sub"}' \
		"{\"cmd\":[\"here.sh\"],\"cwd\":\"$PWD/sub\"}")
	assert_success
	assert_output "$(printf 'top\nsub\nsub')"
	run --separate-stderr env PATH="bin:.:$PATH" "$PPOOL" -j 1 -o raw < <(printf '%s\n' \
		'{"cmd":["here.sh"],"cwd":"sub"}' '{"cmd":["here.sh"]}')
	assert_success
	assert_output "$(printf 'sub\ntop')"
	run --separate-stderr env PATH="/usr/bin:/bin" "$PPOOL" -o raw <<<'{"cmd":["here.sh"]}'
	assert_failure 1
	assert_equal "$stderr" "ppool: task 1: here.sh: command not found"
}

@test "a shell command line given as one word: not found, with a hint to use sh -c" {
	run --separate-stderr ppool -L -- 'echo {} | wc -c' <<<'a b'
	assert_failure 1
	assert_equal "$(record 1 | jq -r .error)" \
		'echo a b | wc -c: command not found (a shell command line as one word? run it with sh -c)'
	run --separate-stderr ppool -L -- no-such-program-xyz <<<'a'
	assert_equal "$(record 1 | jq -r .error)" 'no-such-program-xyz: command not found'
}

@test "a relative PATH entry is looked at in each task's cwd, never answered from another's" {
	mkdir -p pa pb
	printf '#!/bin/sh\necho local-b\n' >pb/tool
	printf '#!/bin/sh\necho system\n' >tool.sys
	mkdir sys && mv tool.sys sys/tool
	chmod +x pb/tool sys/tool
	run --separate-stderr env PATH=".:$PWD/sys:$PATH" "$PPOOL" -j 1 -o raw < <(printf '%s\n' \
		'{"cmd":["tool"],"cwd":"pa"}' '{"cmd":["tool"],"cwd":"pb"}')
	assert_success
	assert_output "$(printf 'system\nlocal-b')"
}

@test "a task object with neither cmd nor pipeline, or both: error record, others run" {
	run --separate-stderr ppool < <(printf '%s\n' '{"stdin":"x"}' '{"cmd":["true"]}' \
		'{"cmd":["touch","made"],"pipeline":[["touch","made"]]}')
	assert_failure 2
	assert_equal "$(record 1 | jq -r .error)" 'a task needs one of "cmd" or "pipeline" when no COMMAND is given'
	assert_equal "$(record 2 | jq .ok)" true
	assert_equal "$(record 3 | jq -r .error)" 'a task gives both "cmd" and "pipeline": give one'
	assert_file_not_exists made
}

# ---------------------------------------------------------------------------
# Task fields

@test "\"stdin\" is fed to the command; large stdin with large stdout does not deadlock" {
	python3 -c '
import json
big = "".join("line %d\n" % i for i in range(200000))   # about 2.5 MB
print(json.dumps({"cmd": ["wc", "-c"], "stdin": "abc\u00e9"}))
print(json.dumps({"cmd": ["cat"], "stdin": big}))
print(json.dumps({"pipeline": [["cat"], ["tr", "a-z", "A-Z"]], "stdin": "hi\n"}))
print(json.dumps({"args": [], "stdin": "via COMMAND\n"}))
open("big", "w").write(big)' >in
	# the 4th task has args: it needs a COMMAND, so run it separately
	head -3 in >in3
	ppool <in3 >out
	output=$(cat out)
	run pyrec '(recs[0]["stdout"], recs[2]["stdout"], [r["ok"] for r in recs])'
	assert_output "('5\\n', 'HI\\n', [True, True, True])"
	python3 -c '
import json
r = [json.loads(l) for l in open("out")][1]
open("got", "w").write(r["stdout"])'
	cmp big got
	run --separate-stderr ppool -- cat < <(tail -1 in)
	assert_success
	assert_equal "$(record 1 | jq -r .stdout)" "via COMMAND"
}

@test "without \"stdin\", a task's stdin is /dev/null: it never reads ppool's stdin" {
	# cat would swallow the remaining task lines if it inherited ppool's stdin.
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":["cat"]}' \
		'{"cmd":["readlink","/proc/self/fd/0"]}' \
		'{"cmd":["echo","three"]}' \
		'{"cmd":"cat; echo four"}' \
		'{"cmd":["echo","five"]}')
	assert_success
	assert_seqs_in_order 5
	assert_equal "$(jq -c .stdout <<<"$output" | tr '\n' ' ')" '"" "/dev/null\n" "three\n" "four\n" "five\n" '

	# same with -L and a COMMAND
	run --separate-stderr ppool -L -j 1 -o raw -- sh -c 'cat; echo "<$1>"' sh < <(printf '%s\n' a b c d)
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' a b c d)"
	# and -L with no COMMAND
	run --separate-stderr ppool -L -j 1 -o raw < <(printf '%s\n' cat 'echo two' cat 'echo four')
	assert_success
	assert_equal "$output" "$(printf '%s\n' two four)"
}

@test "a large \"stdin\" the command never reads: no error, ppool goes on" {
	python3 -c '
import json
print(json.dumps({"cmd": ["true"], "stdin": "x" * 3000000}))
print(json.dumps({"cmd": ["head", "-c", "1"], "stdin": "y" * 3000000}))
print(json.dumps({"cmd": ["echo", "after"]}))' >in
	run --separate-stderr ppool -j 1 <in
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jq -c '[.ok, .stdout]' <<<"$output" | tr '\n' ' ')" \
		'[true,""] [true,"y"] [true,"after\n"] '
}

@test "\"stdin\" holding NUL bytes is fed byte for byte" {
	run --separate-stderr ppool -o raw < <(echo '{"cmd":["od","-An","-c"],"stdin":"a\u0000b\u0000"}')
	assert_success
	assert_equal "$(tr -s ' ' <<<"$output")" ' a \0 b \0'
}

@test "a NUL in \"cmd\" text, \"env\" or \"cwd\": error record, nothing runs" {
	mkdir sub
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":"touch made1\u0000; echo x"}' \
		'{"cmd":["touch","made2"],"env":{"V":"a\u0000b"}}' \
		'{"cmd":["touch","made3"],"cwd":"sub\u0000/no/such"}' \
		'{"cmd":["echo","a\u0000b"]}' \
		'{"pipeline":[["echo","a\u0000b"],["touch","made5"]]}' \
		'{"cmd":["touch","made6"],"env":{"V\u0000W":"b"}}' \
		'{"cmd":["echo","last"]}')
	assert_failure 6
	assert_seqs_in_order 7
	assert_equal "$(jq -c '[.seq, .ok]' <<<"$output" | tr '\n' ' ')" \
		'[1,false] [2,false] [3,false] [4,false] [5,false] [6,false] [7,true] '
	assert_equal "$(jq -r 'select(.seq == 2 or .seq == 6) | .error' <<<"$output")" \
		"$(printf '%s\n' '"env" value of V holds a NUL byte' '"env" name V holds a NUL byte')"
	assert_file_not_exists made1
	assert_file_not_exists made2
	assert_file_not_exists sub/made3
	assert_file_not_exists made5
	assert_file_not_exists made6
	# and --dry-run does not show a truncated command either
	run --separate-stderr ppool --dry-run < <(echo '{"cmd":"echo a\u0000b"}')
	refute_output '{"seq":1,"shell":"echo a"}'
}

@test "invalid task fields: one error record each, nothing runs, the rest goes on" {
	: >afile
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":[]}' \
		'{"cmd":5}' \
		'{"pipeline":[]}' \
		'{"pipeline":[[]]}' \
		'{"cmd":["touch","t6"],"timeout":0}' \
		'{"cmd":["touch","t7"],"timeout":-1}' \
		'{"cmd":["touch","t8"],"timeout":"1"}' \
		'{"cmd":["touch","t9"],"env":{"A":1}}' \
		'{"cmd":["touch","t10"],"env":{"A=B":"1"}}' \
		'{"cmd":["touch","t11"],"stdin":5}' \
		'{"cmd":["touch","t12"],"cwd":"afile"}' \
		'{"cmd":["echo","ok"]}' \
		'{"cmd":["touch","t14"],"timeout":1e10}')
	assert_failure 12
	assert_records_valid
	assert_seqs_in_order 13
	assert_equal "$(jq -c 'select(.ok | not) | ((.error | type) == "string" and (.error | length) > 0)' <<<"$output" | sort -u)" true
	assert_equal "$(record 12 | jq -c '[.ok, .stdout]')" '[true,"ok\n"]'
	assert_equal "$(record 13 | jq -r .error)" '"timeout" must be a number of seconds above 0, at most 1000000000'
	local n
	for n in 6 7 8 9 10 11 12 14; do
		assert_file_not_exists "t$n"
	done
}

@test "command-mode and worker-mode options do not mix: usage error 255" {
	run --separate-stderr ppool --dry-run -w cat < <(echo '"x"')
	assert_failure 255
	assert_equal "$output" ""
	local opt
	for opt in --envelope "-r 2" "--inflight 2"; do
		# shellcheck disable=SC2086
		run --separate-stderr ppool $opt -- echo < <(echo '"x"')
		assert_failure 255
		assert_equal "$output" ""
		[[ -n $stderr ]] || fail "no message for $opt"
	done
	for opt in "-t 0" "-t -1" "-t abc" "--max-output 0" "--max-output 1X" "--kill-after -1"; do
		# shellcheck disable=SC2086
		run --separate-stderr ppool $opt -- echo < <(echo '"x"')
		assert_failure 255
		assert_equal "$output" ""
	done
}

@test "\"env\" adds variables; the rest of the environment is kept" {
	export PPOOL_T_KEEP=kept
	run --separate-stderr ppool < <(printf '%s\n' \
		'{"cmd":["sh","-c","echo \"$FOO|$BAR|$PPOOL_T_KEEP\""],"env":{"FOO":"x y","BAR":"$HOME"}}' \
		'{"cmd":["sh","-c","echo \"${FOO-unset}\""]}' \
		'{"cmd":["sh","-c","echo \"$PPOOL_T_KEEP\""],"env":{"PPOOL_T_KEEP":"over"}}')
	assert_success
	assert_equal "$(jq -c .stdout <<<"$output" | tr '\n' ' ')" '"x y|$HOME|kept\n" "unset\n" "over\n" '
	# with a COMMAND too
	run --separate-stderr ppool -o raw -- sh -c 'echo "$1=$V"' sh < <(echo '{"args":["a"],"env":{"V":"é"}}')
	assert_success
	assert_equal "$output" "a=é"
}

@test "\"cwd\" sets the directory; a missing cwd is an error record and nothing runs" {
	mkdir 'sub dir'
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		"{\"cmd\":[\"pwd\"],\"cwd\":\"$BATS_TEST_TMPDIR/sub dir\"}" \
		'{"cmd":["touch","made-here"],"cwd":"sub dir"}' \
		'{"cmd":["touch","must-not-exist"],"cwd":"no/such/dir"}' \
		'{"cmd":["pwd"]}')
	assert_failure 1
	assert_seqs_in_order 4
	assert_equal "$(record 1 | jq -r .stdout)" "$BATS_TEST_TMPDIR/sub dir"
	assert_file_exists 'sub dir/made-here'
	assert_equal "$(record 3 | jq -c '[.ok, .error]')" \
		"[false,\"cwd 'no/such/dir': No such file or directory\"]"
	assert_file_not_exists must-not-exist
	assert_file_not_exists no/such/dir/must-not-exist
	# ppool's own directory is unchanged for the next task
	assert_equal "$(record 4 | jq -r .stdout)" "$BATS_TEST_TMPDIR"
}

@test "\"timeout\": 'timed out after 0.3 s', SIGTERM, the run goes on" {
	local s
	s=$(sleeper t)
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		"{\"cmd\":[\"$s\"],\"timeout\":0.3}" \
		'{"cmd":["echo","after"]}' \
		"{\"pipeline\":[[\"$s\"],[\"cat\"]],\"timeout\":0.3,\"id\":\"p\"}")
	assert_failure 2
	assert_seqs_in_order 3
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"timed out after 0.3 s",null,"SIGTERM"]'
	assert_equal "$(record 2 | jq -c '[.ok, .stdout]')" '[true,"after\n"]'
	assert_equal "$(record 3 | jq -c '[.id, .ok, .error, .exit, .signal]')" \
		'["p",false,"timed out after 0.3 s",null,"SIGTERM"]'
	assert_no_process_left 5
}

@test "-t: a per-task timeout for every task; a task's \"timeout\" overrides it" {
	local s
	s=$(sleeper t)
	run --separate-stderr ppool -t 0.5 < <(printf '%s\n' \
		'{"cmd":["true"]}' \
		"{\"cmd\":[\"$s\"]}" \
		'{"cmd":["sleep","1.5"],"timeout":60}' \
		"{\"cmd\":[\"$s\"],\"timeout\":1.5}")
	assert_failure 2
	assert_seqs_in_order 4
	assert_equal "$(record 1 | jq .ok)" true
	assert_equal "$(record 2 | jq -c '[.ok, .error, .signal]')" '[false,"timed out after 0.5 s","SIGTERM"]'
	assert_equal "$(record 3 | jq -c '[.ok, .exit]')" '[true,0]'
	assert_equal "$(record 4 | jq -c '[.ok, .error, .signal]')" '[false,"timed out after 1.5 s","SIGTERM"]'
	# with a COMMAND
	run --separate-stderr ppool -t 2 -- "$s" < <(echo '[]')
	assert_failure 1
	assert_equal "$(record 1 | jq -r .error)" "timed out after 2 s"
	assert_no_process_left 5
}

@test "--kill-after: a command that ignores SIGTERM is killed by SIGKILL" {
	local s
	s=$(IGNORE_TERM=1 sleeper k)
	run --separate-stderr ppool -t 1 --kill-after 0.5 < <(echo "{\"cmd\":[\"$s\"]}")
	assert_failure 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"timed out after 1 s",null,"SIGKILL"]'
	# -t, then --kill-after: 1.5 s at least (less 50 ms of clock reading).
	# -t 1, not 0.3: under valgrind, with CI's suites side by side, the
	# command had not yet run its "trap '' TERM" when -t 0.3 ran out.
	assert_equal "$(record 1 | jq '.ms >= 1450')" true
	assert_no_process_left 5
	# the same with a shell that traps TERM
	run --separate-stderr ppool -t 1 --kill-after 0.5 < <(echo "{\"cmd\":\"trap '' TERM; $s\"}")
	assert_failure 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"timed out after 1 s",null,"SIGKILL"]'
	assert_equal "$(record 1 | jq '.ms >= 1450')" true
	assert_no_process_left 5
}

@test "a timed-out command's grandchildren are gone after ppool exits" {
	local s i
	s=$(sleeper g)
	i=$(IGNORE_TERM=1 sleeper i)
	# a background grandchild, one that ignores SIGTERM, and a foreground one
	run --separate-stderr ppool -t 0.3 --kill-after 0.5 < <(echo "{\"cmd\":[\"sh\",\"-c\",\"$s & $i & $s\"]}")
	assert_failure 1
	assert_equal "$(record 1 | jq -r .error)" "timed out after 0.3 s"
	assert_no_process_left 5
}

@test "a task's background processes do not outlive it" {
	local s
	s=$(sleeper b)
	run --separate-stderr ppool < <(printf '%s\n' \
		"{\"cmd\":[\"sh\",\"-c\",\"$s & exit 0\"]}" \
		"{\"cmd\":\"($s &) ; echo done\"}" \
		"{\"pipeline\":[[\"sh\",\"-c\",\"$s >/dev/null 2>&1 & echo x\"],[\"cat\"]]}")
	assert_success
	assert_equal "$(jq -c .stdout <<<"$output" | tr '\n' ' ')" '"" "done\n" "x\n" '
	assert_no_process_left 5
	# with a COMMAND and -o raw too
	run --separate-stderr ppool -o raw -- sh -c '"$1" >/dev/null 2>&1 & echo "$2"' sh "$s" < <(seq 3)
	assert_success
	assert_equal "$output" "$(seq 3)"
	assert_no_process_left 5
}

@test "\"id\" is echoed byte for byte, after seq" {
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"id":12345678901234567890,"cmd":["true"]}' \
		'{"cmd":["false"],"id":{"k":[1,2.50, "é"]}}' \
		'{"id":"x","args":[]}')
	assert_failure 2
	assert_seqs_in_order 3
	[[ $(sed -n 1p <<<"$output") == '{"seq":1,"id":12345678901234567890,"ok":true,'* ]] ||
		fail "record 1: $(sed -n 1p <<<"$output")"
	[[ $(sed -n 2p <<<"$output") == '{"seq":2,"id":{"k":[1,2.50, "é"]},"ok":false,'* ]] ||
		fail "record 2: $(sed -n 2p <<<"$output")"
	# a failed task (args with no COMMAND) keeps its id too
	[[ $(sed -n 3p <<<"$output") == '{"seq":3,"id":"x","ok":false,'* ]] ||
		fail "record 3: $(sed -n 3p <<<"$output")"
}

@test "issue 19: a field name with escapes (\"c\\u006dd\", \"s\\u0074din\", \"c\\u0077d\") is that field, no crash" {
	# Each of these killed ppool with SIGSEGV: the name was found by one
	# lookup and its value by another, which compared the raw bytes.
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"c\u006dd":"echo hi"}' \
		'{"s\u0074din":"fed","cmd":["cat"]}' \
		'{"c\u0077d":"/","cmd":["pwd"]}')
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 3
	assert_equal "$(jq -c '[.ok, .exit, .stdout]' <<<"$output" | tr '\n' ' ')" \
		'[true,0,"hi\n"] [true,0,"fed"] [true,0,"/\n"] '
}

@test "every task field with an escaped name and an escaped value is that field" {
	mkdir sub
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"\u0063md":"echo h\u0069"}' \
		'{"c\u006dd":["printf","%s","\u00e9t\u00e9"]}' \
		'{"pip\u0065line":[["echo","\u0078y"],["tr","x","X"]]}' \
		'{"cmd":["cat"],"s\u0074din":"l\u00efne\n\u0000!"}' \
		'{"cmd":["sh","-c","printf %s \"$V_1\""],"\u0065nv":{"V\u005f1":"v\u0061l"}}' \
		'{"cmd":["pwd"],"c\u0077d":"s\u0075b"}' \
		'{"cmd":["sleep","10"],"t\u0069meout":0.2}' \
		'{"\u0069d":"\u0041","cmd":["true"]}')
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 8
	assert_equal "$(record 1 | jq -c '[.ok, .stdout]')" '[true,"hi\n"]'
	assert_equal "$(record 2 | jq -c '[.ok, .stdout]')" '[true,"été"]'
	assert_equal "$(record 3 | jq -c '[.ok, .stdout]')" '[true,"Xy\n"]'
	assert_equal "$(record 4 | jq -c '[.ok, .stdout]')" '[true,"lïne\n\u0000!"]'
	assert_equal "$(record 5 | jq -c '[.ok, .stdout]')" '[true,"val"]'
	assert_equal "$(record 6 | jq -c '[.ok, (.stdout | endswith("/sub\n"))]')" '[true,true]'
	# Under valgrind and load, the child may still be valgrind's, before
	# exec, when the SIGTERM comes 0.2 s in; valgrind's own handling of it
	# there is not ppool's: the SIGKILL after it counts too.
	if [[ -n ${PPOOL_UNDER_VALGRIND:-} ]]; then
		[[ $(record 7 | jq -c '[.ok, .error]') == '[false,"timed out after 0.2 s"]' &&
		    $(record 7 | jq -r .signal) == SIG@(TERM|KILL) ]] || fail "record 7: $(record 7)"
	else
		assert_equal "$(record 7 | jq -c '[.ok, .error, .signal]')" '[false,"timed out after 0.2 s","SIGTERM"]'
	fi
	assert_equal "$(record 8 | jq -c '[.ok, .id]')" '[true,"A"]'
	# the id is its original text, escapes and all
	[[ $(sed -n 8p <<<"$output") == '{"seq":8,"id":"\u0041","ok":true,'* ]] ||
		fail "record 8: $(sed -n 8p <<<"$output")"
	# with a COMMAND: "args"
	run --separate-stderr ppool -- printf '[%s]' < <(echo '{"\u0061rgs":["\u0061","b\n"],"s\u0074din":"x"}')
	assert_success
	assert_equal "$(record 1 | jq -c '[.ok, .stdout]')" '[true,"[a][b\n]"]'
}

@test "a task field named twice, after decoding: an error record naming it, nothing runs, the others run" {
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":["touch","d1"],"c\u006dd":["touch","d1b"]}' \
		'{"pipeline":[["touch","d2"]],"pipeline":[["touch","d2b"]]}' \
		'{"cmd":["touch","d3"],"stdin":"a","s\u0074din":"b"}' \
		'{"cmd":["touch","d4"],"env":{},"\u0065nv":{"A":"b"}}' \
		'{"cmd":["touch","d5"],"cwd":".","cw\u0064":"."}' \
		'{"cmd":["touch","d6"],"timeout":1,"t\u0069meout":2}' \
		'{"cmd":["touch","d7"],"id":1,"\u0069d":2}' \
		'{"cmd":["echo","ok"],"cmd\u0000":"x","Cmd":"y","env":{"A":"1","A":"2"}}' \
		'{"cmd\u0000":["touch","d9"]}')
	assert_failure 8
	assert_records_valid
	assert_seqs_in_order 9
	assert_equal "$(jq -r 'select(.seq <= 7) | .error' <<<"$output")" "$(printf 'ambiguous task: it names "%s" twice\n' \
		cmd pipeline stdin env cwd timeout id)"
	# an ambiguous id is not echoed
	assert_equal "$(record 7 | jq -c 'has("id")')" false
	# a name that only starts like a field, or another case, is not that field;
	# neither is a variable of "env" one of ppool's fields
	assert_equal "$(record 8 | jq -c '[.ok, .stdout]')" '[true,"ok\n"]'
	assert_equal "$(record 9 | jq -r .error)" 'a task needs one of "cmd" or "pipeline" when no COMMAND is given'
	local n
	for n in 1 1b 2 2b 3 4 5 6 7 9; do
		assert_file_not_exists "d$n"
	done
	# with a COMMAND, "args" too, and the fields it does not use
	run --separate-stderr ppool -- touch < <(printf '%s\n' \
		'{"args":["e1"],"\u0061rgs":["e1b"]}' \
		'{"args":["e2"],"cmd":1,"c\u006dd":2}' \
		'{"args":["e3"]}')
	assert_failure 2
	assert_equal "$(jq -c '[.seq, .ok, .error]' <<<"$output" | tr '\n' ' ')" \
		'[1,false,"ambiguous task: it names \"args\" twice"] [2,false,"ambiguous task: it names \"cmd\" twice"] [3,true,null] '
	assert_file_not_exists e1
	assert_file_not_exists e1b
	assert_file_not_exists e2
	assert_file_exists e3
}

@test "a field's value is the member of its decoded name, never one whose name cJSON cuts at \\u0000" {
	# cJSON reads "cmd\u0000" as "cmd": a lookup by name in its tree
	# would take the first member below, and run "touch bad1".
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd\u0000":"touch bad1","cmd":["echo","ok"]}' \
		'{"stdin\u0000":"no","st\u0064in":"yes","cmd":["cat"]}' \
		'{"env\u0000":{"V":"no"},"env":{"V":"yes"},"cmd":["sh","-c","echo $V"]}' \
		'{"timeout\u0000":"x","timeout":5,"cwd\u0000":1,"cwd":"/","cmd":["pwd"]}' \
		'{"pipeline\u0000":[["touch","bad2"]],"pipeline":[["echo","p"]]}')
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 5
	assert_equal "$(jq -c '[.ok, .stdout]' <<<"$output" | tr '\n' ' ')" \
		'[true,"ok\n"] [true,"yes"] [true,"yes\n"] [true,"/\n"] [true,"p\n"] '
	assert_file_not_exists bad1
	assert_file_not_exists bad2
	# with a COMMAND, "args" too
	run --separate-stderr ppool -- echo < <(echo '{"args\u0000":["no"],"args":["yes"]}')
	assert_success
	assert_equal "$(record 1 | jq -c .stdout)" '"yes\n"'
}

@test "a task json_check takes but cJSON refuses (a lone surrogate escape): an error record, the others run" {
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":["touch","bad1"],"x":"\ud800"}' \
		'{"cmd":"touch bad2 \udc00"}' \
		'{"\ud800":1,"cmd":["touch","bad3"]}' \
		'{"cmd":["echo","\ud83d\ude00"]}')
	assert_failure 3
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(jq -c '[.ok, .error // .stdout]' <<<"$output" | tr '\n' ' ')" \
		'[false,"invalid JSON"] [false,"invalid JSON"] [false,"invalid JSON"] [true,"😀\n"] '
	assert_file_not_exists bad1
	assert_file_not_exists bad2
	assert_file_not_exists bad3
}

# ---------------------------------------------------------------------------
# Output capture

@test "10 MB on stdout and 10 MB on stderr at once: complete, exact lengths" {
	echo '{"cmd":"head -c 10485760 /dev/zero | tr \"\\0\" a & head -c 10485761 /dev/zero | tr \"\\0\" b >&2; wait"}' >in
	echo '{"cmd":["true"]}' >>in
	ppool <in >out 2>err
	assert_equal "$(cat err)" ""
	run python3 -c '
import json
recs = [json.loads(l) for l in open("out")]
r = recs[0]
print(len(recs), r["ok"], len(r["stdout"]), len(r["stderr"]), set(r["stdout"]), set(r["stderr"]),
      "stdout_truncated" in r and r["stdout_truncated"], "stderr_truncated" in r and r["stderr_truncated"])'
	assert_output "2 True 10485760 10485761 {'a'} {'b'} False False"
	# -o raw: the stdout bytes, exactly
	ppool -o raw <in >out 2>err
	assert_equal "$(wc -c <out)" 10485760
	assert_equal "$(wc -c <err)" 10485761
}

@test "--max-output: stdout kept up to the limit, stdout_truncated true, the task completes" {
	run --separate-stderr ppool --max-output 1K < <(printf '%s\n' \
		'{"cmd":"head -c 300000 /dev/zero | tr \"\\0\" a; echo err >&2; exit 0"}' \
		'{"cmd":"echo small; head -c 5000 /dev/zero | tr \"\\0\" e >&2"}' \
		'{"cmd":"head -c 1024 /dev/zero | tr \"\\0\" x"}')
	assert_success
	assert_seqs_in_order 3
	run pyrec '[(r["ok"], len(r.get("stdout", "")), r.get("stdout_truncated"), len(r.get("stderr", "")), r.get("stderr_truncated")) for r in recs]'
	assert_output "[(True, 1024, True, 4, None), (True, 6, None, 1024, True), (True, 1024, None, 0, None)]"
}

@test "--max-output -o raw: the output cut at the limit, and a line on stderr saying so" {
	run --separate-stderr ppool -o raw --max-output 3 <<<'{"cmd":"echo hello; echo oops >&2"}'
	assert_success
	assert_output "hel"
	assert_equal "$stderr" "$(printf '%s\n' oop 'ppool: task 1: stdout and stderr cut at --max-output (3 bytes)')"
	run --separate-stderr ppool -o raw --max-output 3 <<<'{"cmd":"printf %s looooop >&2; exit 3"}'
	assert_failure 1
	# A failed task: one line of ppool's, as the contract says.
	assert_equal "$stderr" "$(printf '%s\n' loo 'ppool: task 1: exited with status 3; stderr cut at --max-output (3 bytes)')"
}

@test "--max-output with suffixes M" {
	run --separate-stderr ppool --max-output 1M < <(echo '{"cmd":"head -c 3000000 /dev/zero | tr \"\\0\" a"}')
	assert_success
	run pyrec '(len(recs[0]["stdout"]), recs[0]["stdout_truncated"])'
	assert_output "(1048576, True)"
}

@test "--max-output defaults to 64 MiB: 64 MiB of stdout kept whole, one byte more cut (-o raw)" {
	# No other test would see the default change.
	printf '%s\n' '{"cmd":"head -c 67108864 /dev/zero | tr \"\\0\" a"}' \
		'{"cmd":"head -c 67108865 /dev/zero | tr \"\\0\" b"}' >in
	ppool -j 1 -o raw <in >out 2>err
	assert_equal "$(cat err)" "ppool: task 2: stdout cut at --max-output (67108864 bytes)"
	cmp out <(head -c 67108864 /dev/zero | tr '\0' a; head -c 67108864 /dev/zero | tr '\0' b)
}

@test "binary stdout round-trips byte for byte through stdout_base64" {
	{
		printf '\377\376'
		head -c 4096 /dev/urandom
		printf '\0end'
	} >bin
	run --separate-stderr ppool < <(echo '{"cmd":["cat","bin"]}')
	assert_success
	run pyrec '("stdout" in recs[0], sorted(k for k in recs[0] if k.startswith("std")))'
	assert_output "(False, ['stderr', 'stdout_base64'])"
	ppool < <(echo '{"cmd":["cat","bin"]}') | jq -r .stdout_base64 | base64 -d >got
	cmp bin got
}

@test "binary stderr round-trips byte for byte through stderr_base64" {
	{
		printf '\300\200'
		head -c 4096 /dev/urandom
	} >bin
	ppool < <(echo '{"cmd":"cat bin >&2; echo fine"}') >out
	run python3 -c '
import json, base64
r = json.loads(open("out").read())
assert "stderr" not in r, r.keys()
assert r["stdout"] == "fine\n", r
open("got", "wb").write(base64.b64decode(r["stderr_base64"], validate=True))
print("ok")'
	assert_success
	assert_output ok
	cmp bin got
}

@test "UTF-8 output stays a JSON string, not base64" {
	run --separate-stderr ppool < <(echo '{"cmd":["printf","é 日本 🙂\\t\\001\\n"]}')
	assert_success
	run pyrec 'recs[0]["stdout"] == "é 日本 🙂\t\x01\n"'
	assert_output True
}

# ---------------------------------------------------------------------------
# Failing to start

@test "an error is one line, though the name or path it quotes holds a newline" {
	# The contract: "error": a one-line human explanation.
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":["true"],"cwd":"no\nsuch"}' \
		'{"cmd":["no\nsuch\tprog"]}')
	assert_equal "$status" 2
	assert_equal "$(record 1 | jq -r .error)" "cwd 'no\\nsuch': No such file or directory"
	assert_equal "$(record 2 | jq -r .error)" 'no\nsuch\tprog: command not found (a shell command line as one word? run it with sh -c)'
	run --separate-stderr ppool -j 1 -0 -o raw -- "x{}" < <(printf 'a\nb\0')
	assert_equal "$status" 1
	assert_equal "$stderr" 'ppool: task 1: xa\nb: command not found'
}

@test "a missing program: 'NAME: command not found', exit 127, the run goes on" {
	run --separate-stderr ppool -j 1 < <(printf '%s\n' \
		'{"cmd":["echo","1"]}' \
		'{"cmd":["ppool-no-such-program"]}' \
		'{"pipeline":[["echo","x"],["ppool-no-such-program-2"]]}' \
		'{"cmd":["echo","4"]}')
	assert_failure 2
	assert_seqs_in_order 4
	assert_equal "$(record 2 | jq -c '[.ok, .error, .exit, .signal]')" \
		'[false,"ppool-no-such-program: command not found",127,null]'
	assert_equal "$(record 3 | jq -c '[.ok, .exit]')" '[false,127]'
	assert_equal "$(record 4 | jq -c '[.ok, .stdout]')" '[true,"4\n"]'
	# with a COMMAND: every task fails
	run --separate-stderr ppool -- ppool-no-such-program < <(seq 3)
	assert_failure 3
	assert_equal "$(jqo -c '[.error, .exit]' | sort -u)" '["ppool-no-such-program: command not found",127]'
}

@test "a file that is not executable: 'NAME: permission denied', exit 126" {
	printf '#!/bin/sh\necho hi\n' >notexec
	chmod 644 notexec
	run --separate-stderr ppool < <(printf '%s\n' '{"cmd":["./notexec"]}' '{"cmd":["echo","ok"]}')
	assert_failure 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit]')" '[false,"./notexec: permission denied",126]'
	assert_equal "$(record 2 | jq .ok)" true
	run --separate-stderr ppool -- ./notexec < <(echo '"a"')
	assert_failure 1
	assert_equal "$(record 1 | jq -c '[.error, .exit]')" '["./notexec: permission denied",126]'
}

@test "a program whose exec fails: 127 or 126 and the reason on its stderr, not 255" {
	skip_under_valgrind "it carries out a failing exec itself (exit 101)"
	# A #! line with a CR names an interpreter that does not exist; an
	# argument too long fails with E2BIG.  Shells and xargs say 127 and 126.
	printf '#!/bin/sh\r\necho hi\r\n' >crlf.sh
	chmod +x crlf.sh
	run --separate-stderr ppool -- ./crlf.sh <<<'"x"'
	assert_failure 1
	assert_equal "$(jqo -c '[.error, .exit, .stderr]')" \
		'["exited with status 127",127,"ppool: ./crlf.sh: cannot execute: No such file or directory\n"]'
	head -c 300000 /dev/zero | tr '\0' a >long
	run --separate-stderr ppool -L -- echo <long
	assert_failure 1
	assert_equal "$(jqo -c '[.exit, .stderr]')" \
		'[126,"ppool: echo: cannot execute: Argument list too long\n"]'
	# a file without #! still runs under /bin/sh, as execvp and xargs do
	printf 'echo "plain $1"\n' >plain.sh
	chmod +x plain.sh
	run --separate-stderr ppool -o raw -- ./plain.sh <<<'"x"'
	assert_success
	assert_output "plain x"
}

@test "a program named by a relative path runs from the task's cwd" {
	mkdir sub
	printf '#!/bin/sh\necho "hi from $0 in ${PWD##*/}"\n' >sub/s.sh
	chmod +x sub/s.sh
	run --separate-stderr ppool -o raw <<<'{"cmd":["./s.sh"],"cwd":"sub"}'
	assert_success
	assert_output "hi from ./s.sh in sub"
}

@test "argv[0] is the program as the task names it, as with xargs" {
	run --separate-stderr ppool -o raw < <(printf '%s\n' \
		'{"cmd":["/bin/sh","-c","echo $0"]}' \
		'{"cmd":["sh","-c","echo $0"]}' \
		'{"pipeline":[["/bin/sh","-c","cat; echo $0"]]}')
	assert_success
	assert_output "$(printf '%s\n' /bin/sh sh /bin/sh)"
	# with COMMAND: the shell's own argv[0], read from /proc
	run --separate-stderr ppool -o raw -- /bin/sh -c 'head -c 7 /proc/$$/cmdline; echo' <<<'"a"'
	assert_output "/bin/sh"
	assert_equal "$(echo a | xargs /bin/sh -c 'head -c 7 /proc/$$/cmdline; echo')" "/bin/sh"
}

# ---------------------------------------------------------------------------
# -o raw

@test "-o raw: stdout bytes in input order with random durations, as xargs -n1 -P1" {
	local cmd='sleep "0.$(( ($1 * 7919) % 4 ))$(( $1 % 10 ))"; printf "%s:" "$1"; printf "line %s\n" "$1" "$1"'
	seq 16 >in
	run --separate-stderr ppool -j 4 -o raw -- sh -c "$cmd" sh <in
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(xargs -n1 -P1 sh -c "$cmd" sh <in)"
	# without a trailing newline, bytes are not re-framed
	run --separate-stderr ppool -j 4 -o raw -- sh -c 'sleep "0.$(( $1 % 3 ))"; printf "%s" "$1"' sh <in
	assert_equal "$output" "$(seq 16 | tr -d '\n')"
}

@test "-o raw: a failed task prints nothing on stdout and 'ppool: task N: ...' on stderr" {
	seq 6 >in
	run --separate-stderr ppool -j 3 -o raw -- sh -c 'echo "out $1"; echo "err $1" >&2; [ "$1" != 2 ] || exit 3; [ "$1" != 5 ] || kill -KILL $$' sh <in
	assert_failure 2
	assert_equal "$output" "$(printf 'out %s\n' 1 3 4 6)"
	# the command's own stderr goes through (all tasks), plus one line per failure
	assert_equal "$(grep '^ppool: ' <<<"$stderr")" \
		"$(printf '%s\n' 'ppool: task 2: exited with status 3' 'ppool: task 5: killed by SIGKILL')"
	assert_equal "$(grep '^err ' <<<"$stderr" | sort)" "$(printf 'err %s\n' 1 2 3 4 5 6)"
}

@test "-o raw: a missing program is one line on stderr" {
	run --separate-stderr ppool -o raw -- ./ppool-no-such < <(echo '"x"')
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$stderr" "ppool: task 1: ./ppool-no-such: command not found"
}

# ---------------------------------------------------------------------------
# --dry-run

@test "--dry-run with a COMMAND: resolved argv records, nothing runs" {
	run --separate-stderr ppool -L --dry-run -- touch '{}' '{.}.bak' < <(printf '%s\n' a.log 'b c.log')
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(printf '%s\n' \
		'{"seq":1,"cmd":["touch","a.log","a.bak"]}' \
		'{"seq":2,"cmd":["touch","b c.log","b c.bak"]}')"
	assert_file_not_exists a.log
	assert_file_not_exists a.bak
	assert_file_not_exists 'b c.log'
}

@test "--dry-run -o raw: every record is JSON, a task that cannot run too" {
	run --separate-stderr ppool --dry-run -o raw -- echo < <(printf '%s\n' '"a"' null)
	assert_failure 1
	assert_equal "$stderr" ""
	assert_equal "$output" "$(printf '%s\n' \
		'{"seq":1,"cmd":["echo","a"]}' \
		'{"seq":2,"ok":false,"error":"a task cannot be null","attempts":0,"ms":0}')"
}

@test "--dry-run without a COMMAND: cmd, shell, pipeline and the optional fields" {
	run --separate-stderr ppool --dry-run < <(printf '%s\n' \
		'{"cmd":["gzip","-9","a.log"]}' \
		'{"cmd":"touch made-by-shell"}' \
		'{"pipeline":[["seq","5"],["tail","-1"]]}' \
		'{"id":7,"cmd":["touch","made"],"env":{"A":"b"},"cwd":"/tmp","stdin":"x","timeout":1.5}')
	assert_success
	assert_equal "$(sed -n 1,3p <<<"$output")" "$(printf '%s\n' \
		'{"seq":1,"cmd":["gzip","-9","a.log"]}' \
		'{"seq":2,"shell":"touch made-by-shell"}' \
		'{"seq":3,"pipeline":[["seq","5"],["tail","-1"]]}')"
	# record 4: id right after seq, then the command and the fields given
	[[ $(sed -n 4p <<<"$output") == '{"seq":4,"id":7,"cmd":["touch","made"],'* ]] ||
		fail "record 4: $(sed -n 4p <<<"$output")"
	run pyrec 'recs[3] == {"seq": 4, "id": 7, "cmd": ["touch", "made"], "env": {"A": "b"}, "cwd": "/tmp", "stdin": "x", "timeout": 1.5}'
	assert_output True
	assert_file_not_exists made-by-shell
	assert_file_not_exists made
	assert_file_not_exists a.log.gz
}

@test "--dry-run with escaped field names shows the fields decoded; a field named twice is refused" {
	run --separate-stderr ppool --dry-run < <(printf '%s\n' \
		'{"\u0069d":"\u0037","c\u006dd":["touch","m\u0061de"],"\u0065nv":{"\u0041":"b"},"c\u0077d":"\/tmp","s\u0074din":"\u0078","t\u0069meout":1.5}' \
		'{"pip\u0065line":[["seq","5"],["tail","-1"]]}' \
		'{"cmd":"touch made2","c\u006dd":"touch made3"}')
	assert_failure 1
	assert_equal "$stderr" ""
	assert_equal "$(record 3 | jq -c '[.ok, .error]')" '[false,"ambiguous task: it names \"cmd\" twice"]'
	# the id is its original text
	[[ $(sed -n 1p <<<"$output") == '{"seq":1,"id":"\u0037","cmd":["touch","made"],'* ]] ||
		fail "record 1: $(sed -n 1p <<<"$output")"
	assert_equal "$(jq -c 'select(.seq <= 2)' <<<"$output")" "$(printf '%s\n' \
		'{"seq":1,"id":"7","cmd":["touch","made"],"env":{"A":"b"},"cwd":"/tmp","stdin":"x","timeout":1.5}' \
		'{"seq":2,"pipeline":[["seq","5"],["tail","-1"]]}')"
	assert_file_not_exists made
	assert_file_not_exists made2
	assert_file_not_exists made3
}

@test "--dry-run -L without a COMMAND: shell records, nothing runs" {
	run --separate-stderr ppool -L --dry-run < <(printf '%s\n' 'touch x1' '' 'touch "x 2"')
	assert_success
	assert_equal "$output" "$(printf '%s\n' '{"seq":1,"shell":"touch x1"}' '{"seq":2,"shell":"touch \"x 2\""}')"
	assert_file_not_exists x1
	assert_file_not_exists 'x 2'
}

# ---------------------------------------------------------------------------
# Exit statuses and signals

@test "exit status: the number of failed tasks; 101 when more than 100 failed" {
	run --separate-stderr ppool -- sh -c 'exit "$1"' sh < <(printf '%s\n' 0 1 0 2 255 0 7)
	assert_failure 4
	assert_equal "$(jqo -c '[.ok, .exit]' | tr '\n' ' ')" \
		'[true,0] [false,1] [true,0] [false,2] [false,255] [true,0] [false,7] '
	run --separate-stderr ppool -o raw -- false < <(seq 150)
	assert_failure 101
	run --separate-stderr ppool -o raw -- false < <(seq 100)
	assert_failure 100
	run --separate-stderr ppool -o raw -- true < <(seq 100)
	assert_success
}

@test "a task killed by a signal: 'killed by SIGKILL', exit null, signal SIGKILL" {
	run --separate-stderr ppool < <(printf '%s\n' \
		'{"cmd":"kill -KILL $$"}' \
		'{"cmd":["sh","-c","kill -SEGV $$"]}' \
		'{"pipeline":[["echo"],["sh","-c","kill -TERM $$"]]}' \
		'{"cmd":["true"]}')
	assert_failure 3
	assert_equal "$(record 1 | jq -c '[.ok, .error, .exit, .signal]')" '[false,"killed by SIGKILL",null,"SIGKILL"]'
	assert_equal "$(record 2 | jq -c '[.ok, .error, .exit, .signal]')" '[false,"killed by SIGSEGV",null,"SIGSEGV"]'
	assert_equal "$(record 3 | jq -c '[.ok, .error, .exit, .signal]')" '[false,"killed by SIGTERM",null,"SIGTERM"]'
	assert_equal "$(record 4 | jq .ok)" true
}

@test "a real-time signal is named as the shell names it, a string like the others" {
	# glibc has no short name for these: the record once said "signal":34.
	run --separate-stderr ppool < <(printf '%s\n' \
		'{"cmd":"kill -RTMIN $$"}' \
		'{"cmd":"kill -RTMIN+3 $$"}' \
		'{"cmd":"kill -RTMAX $$"}' \
		'{"cmd":"kill -RTMAX-2 $$"}')
	assert_failure 4
	assert_equal "$(jqo -c '[.error, .exit, .signal]')" "$(printf '%s\n' \
		'["killed by SIGRTMIN",null,"SIGRTMIN"]' \
		'["killed by SIGRTMIN+3",null,"SIGRTMIN+3"]' \
		'["killed by SIGRTMAX",null,"SIGRTMAX"]' \
		'["killed by SIGRTMAX-2",null,"SIGRTMAX-2"]')"
	run --separate-stderr ppool -w 'kill -RTMIN+1 $$' <<<'1'
	assert_failure 1
	assert_equal "$(jqo -r .error)" "worker killed by SIGRTMIN+1"
}

# ---------------------------------------------------------------------------
# Concurrency

@test "-j 2: at most 2 commands run at once" {
	local d=$BATS_TEST_TMPDIR
	# Each task: note it started, count the tasks running (started, not
	# ended), wait for its own release file, note it ended.
	cat >task.sh <<-'EOF'
		d=$1 n=$2
		touch "$d/started.$n"
		s=$(ls "$d" | grep -c '^started\.')
		e=$(ls "$d" | grep -c '^ended\.')
		echo "$((s - e))" >>"$d/running.log"
		while [ ! -e "$d/release.$n" ] && [ ! -e "$d/release.all" ]; do sleep 0.05; done
		touch "$d/ended.$n"
	EOF
	started() { ls "$d" | grep -c '^started\.' || true; }
	two_started() { [[ $(started) == 2 ]]; }
	three_started() { [[ $(started) == 3 ]]; }

	seq 6 | "$PPOOL" -j 2 -o raw -- sh "$d/task.sh" "$d" "{}" "$MARKER" >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 two_started
	# while both wait, no third one starts (sampled for a while)
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		assert_equal "$(started)" 2
		sleep 0.05
	done
	assert_file_exists "$d/started.1"
	assert_file_exists "$d/started.2"
	# releasing one lets exactly one more start
	touch "$d/release.1"
	wait_until 20 three_started
	assert_file_exists "$d/started.3"
	assert_equal "$(started)" 3
	touch "$d/release.all"
	wait_exit "$pid" 30
	assert_equal "$status" 0
	assert_equal "$(started)" 6
	# no task ever saw more than 2 running (itself included)
	assert_equal "$(sort -n running.log | tail -1)" 2
	assert_equal "$(wc -l <running.log)" 6
	assert_no_process_left
}

@test "-j 1 runs tasks one at a time, in input order" {
	run --separate-stderr ppool -j 1 -o raw -- sh -c 'echo "$1" >>order; cat order | wc -l' sh < <(seq 5)
	assert_success
	assert_equal "$(cat order)" "$(seq 5)"
	assert_equal "$output" "$(seq 5)"
}

@test "-u: records in completion order, every task once" {
	# task 1 finishes only after task 2's process is gone
	run --separate-stderr ppool -u -j 2 < <(printf '%s\n' \
		'{"cmd":"while [ ! -e pid2 ]; do sleep 0.05; done; while kill -0 $(cat pid2) 2>/dev/null; do sleep 0.05; done; echo slow"}' \
		'{"cmd":"echo $$ >pid2.tmp && mv pid2.tmp pid2; echo fast"}')
	assert_success
	assert_equal "$(jqo .seq | tr '\n' ' ')" '2 1 '
	assert_equal "$(jqo -j .stdout | tr '\n' ' ')" 'fast slow '
}

# ---------------------------------------------------------------------------
# No process left

@test "no process is left after a run: commands, pipelines, shells" {
	local s
	s=$(sleeper n)
	run --separate-stderr ppool -j 4 < <(printf '%s\n' \
		"{\"cmd\":[\"sh\",\"-c\",\"$s & $s & echo started\"]}" \
		"{\"pipeline\":[[\"sh\",\"-c\",\"$s >/dev/null & echo x\"],[\"sh\",\"-c\",\"$s & cat\"]]}" \
		"{\"cmd\":\"nohup $s >/dev/null 2>&1 &\"}" \
		"{\"cmd\":[\"$s\"],\"timeout\":0.2}")
	assert_failure 1
	assert_seqs_in_order 4
	assert_equal "$(record 4 | jq -r .error)" "timed out after 0.2 s"
	assert_no_process_left 5
}

@test "regression: --dry-run of a task with an empty \"stdin\"" {
	# The empty text's null pointer went to json_add_text (UBSan; found
	# by fuzz/fuzz_task).
	run --separate-stderr ppool --dry-run <<<'{"cmd":["cat"],"stdin":""}'
	assert_success
	assert_equal "$output" '{"seq":1,"cmd":["cat"],"stdin":""}'
}
