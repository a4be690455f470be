#!/usr/bin/env bats
# template.bats: command mode with a COMMAND: how a task's arguments reach
# the command (replacement strings as GNU parallel, appending as xargs),
# and that arguments are never re-split, re-quoted or re-printed.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# The awkward names of the placeholder tests, one per line.
awkward_names() {
	printf '%s\n' \
		'a b.txt' \
		'/x/y.tar.gz' \
		'noext' \
		'.hidden' \
		'dir.d/file' \
		'/' \
		'./rel/a.b.c' \
		"name with 'quote' and \$dollar" \
		'double"quote.tar' \
		'trailing.dot.' \
		'/abs/dir.d/noext' \
		'dir/' \
		'a//b' \
		'x/y.z/' \
		'/a/' \
		'//a' \
		'a/b//' \
		'///'
}

@test "{} {.} {/} {//} {/.} give what GNU parallel gives, for awkward names" {
	command -v parallel >/dev/null || skip "GNU parallel is not installed"
	awkward_names >names
	parallel --will-cite -k echo '{}\|{.}\|{/}\|{//}\|{/.}' :::: names >want
	# parallel must really have run (one line per name) for the comparison to mean anything.
	assert_equal "$(wc -l <want)" "$(wc -l <names)"
	run --separate-stderr ppool -L -o raw -- echo '{}|{.}|{/}|{//}|{/.}' <names
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(cat want)"
}

@test "placeholders one per word also match GNU parallel" {
	command -v parallel >/dev/null || skip "GNU parallel is not installed"
	awkward_names >names
	parallel --will-cite -k printf "'<%s>\n'" '{}' '{.}' '{/}' '{//}' '{/.}' :::: names >want
	assert_equal "$(wc -l <want)" "$(($(wc -l <names) * 5))"
	run --separate-stderr ppool -L -o raw -- printf '<%s>\n' '{}' '{.}' '{/}' '{//}' '{/.}' <names
	assert_success
	assert_equal "$output" "$(cat want)"
}

@test "{1} {2} {3} are positional from a JSON array; {N} beyond the arguments is empty" {
	printf '%s\n' '["a","b c","d"]' '["x"]' >in
	run --separate-stderr ppool -j 1 -o raw -- printf '<%s>' '{3}' '{1}' '{2}' '{4}' 'w{2}w' ';' <in
	assert_success
	assert_equal "$output" '<d><a><b c><><wb cw><;><><x><><><ww><;>'
}

@test "{10}: positional replacement strings with two digits" {
	echo '["1","2","3","4","5","6","7","8","9","ten/eleven.txt"]' >in
	run --separate-stderr ppool -o raw -- printf '<%s>' '{10}' '{9}' '{11}' <in
	assert_success
	assert_equal "$output" '<ten/eleven.txt><9><>'
}

@test "{} as a whole word gives one argv element per argument" {
	echo '["a","b c","","d"]' >in
	run --separate-stderr ppool -o raw -- printf '<%s>\n' x '{}' y <in
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' x a 'b c' '' d y)"
	# and through --dry-run, as the resolved argv
	run --separate-stderr ppool --dry-run -- cmd x '{}' y <in
	assert_success
	assert_equal "$output" '{"seq":1,"cmd":["cmd","x","a","b c","","d","y"]}'
}

@test "{} inside a longer word joins the arguments with single spaces" {
	echo '["a","b  c","d"]' >in
	run --separate-stderr ppool -o raw -- printf '<%s>\n' 'pre{}post' '--opt={}' <in
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' 'prea b  c dpost' '--opt=a b  c d')"
}

@test "no replacement string: the arguments are appended, as xargs does" {
	echo '["a","b c","-n","$HOME"]' >in
	run --separate-stderr ppool -o raw -- printf '<%s>\n' x <in
	assert_success
	# the same arguments through xargs -0, which appends them
	assert_equal "$output" "$(printf '%s\0' a 'b c' -n '$HOME' | xargs -0 printf '<%s>\n' x)"

	# -L: one argument per line, appended: as xargs -n1 -d '\n'
	printf '%s\n' 'one' 'two words' "it's" '-x' >lines
	run --separate-stderr ppool -L -j 1 -o raw -- printf '[%s]\n' pre <lines
	assert_success
	assert_equal "$output" "$(xargs -n1 -d '\n' printf '[%s]\n' pre <lines)"
}

@test "a task with no arguments: nothing is appended" {
	printf '%s\n' '[]' '{}' '{"args":[]}' >in
	run --separate-stderr ppool -j 1 -o raw -- printf '<%s>' x <in
	assert_success
	assert_equal "$output" '<x><x><x>'
}

@test "replacement strings in several words" {
	printf '%s\n' 'dir one/a b.tar.gz' >lines
	run --separate-stderr ppool -L -o raw -- printf '<%s>\n' \
		'{}' '{.}.bak' '--name={/.}' 'in={//}' '{/}' 'plain' <lines
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' 'dir one/a b.tar.gz' 'dir one/a b.tar.bak' \
		'--name=a b.tar' 'in=dir one' 'a b.tar.gz' 'plain')"
	# {1} and {2} several times, in several words
	echo '["x.c","y"]' >in
	run --separate-stderr ppool --dry-run -- cc -c '{1}' '-D{2}={2}' '-o{2}.o' <in
	assert_success
	assert_equal "$output" '{"seq":1,"cmd":["cc","-c","x.c","-Dy=y","-oy.o"]}'
}

@test "-0: awkward arguments arrive as exactly one argv element each, byte for byte" {
	# spaces, quotes, $HOME, *, a leading -, a newline, a tab, backslashes, UTF-8
	printf '%s\0' \
		'with space' \
		"single'quote" \
		'double"quote' \
		'$HOME' \
		'*' \
		'-n' \
		'--' \
		"$(printf 'new\nline')" \
		"$(printf 'tab\there')" \
		'back\slash\\n' \
		'é ü 日本 🙂' \
		'  leading and trailing  ' \
		'{}' \
		"\$(touch pwned) \`touch pwned2\`" >in
	ppool -0 -j 2 -o raw -- printf '%s\0' <in >out
	cmp in out
	assert_file_not_exists pwned
	assert_file_not_exists pwned2

	# And the resolved argv, as --dry-run records, parsed as JSON.
	ppool -0 --dry-run -- x '{}' <in >records
	run python3 -c '
import json, sys
want = open("in", "rb").read().split(b"\0")[:-1]
recs = [json.loads(l) for l in open("records", "rb").read().decode().splitlines()]
assert [r["seq"] for r in recs] == list(range(1, len(want) + 1)), recs
for r, w in zip(recs, want):
    assert r["cmd"] == ["x", w.decode()], (r, w)
print("ok", len(recs))'
	assert_success
	assert_output "ok 14"
}

@test "-L: awkward arguments arrive as one argv element each, byte for byte" {
	printf '%s\n' \
		'with space' \
		"single'quote" \
		'double"quote' \
		'$HOME' \
		'*' \
		'-n' \
		"$(printf 'tab\there')" \
		'back\slash' \
		'é ü 日本 🙂' \
		'  spaces  ' >in
	ppool -L -j 2 -o raw -- printf '%s\n' <in >out
	cmp in out
}

@test "a JSON string with escapes is decoded to one argument" {
	echo '"a\tb\nc \"q\" \\ \u00e9 \ud83d\ude42"' >in
	run --separate-stderr ppool -o raw -- printf '<%s>' <in
	assert_success
	assert_equal "$output" "$(printf '<a\tb\nc "q" \\ é 🙂>')"
}

@test "numbers and booleans as arguments keep their own digits" {
	run --separate-stderr ppool -o raw -- printf '<%s>\n' \
		< <(echo '[12345678901234567890, 1.50, true, false, -0.0, 1e400, 0.1000000000000000055511151231257827]')
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' 12345678901234567890 1.50 true false -0.0 1e400 \
		0.1000000000000000055511151231257827)"
	# a bare number as the whole task, too
	run --separate-stderr ppool -j 1 -o raw -- printf '<%s>\n' < <(printf '%s\n' 12345678901234567890 1.50 -7E+2)
	assert_success
	assert_equal "$output" "$(printf '<%s>\n' 12345678901234567890 1.50 -7E+2)"
	# bare booleans, and tasks padded with blanks: a task's kind is read
	# off its first byte once the blanks are trimmed
	run --separate-stderr ppool -j 1 -o raw -- printf '<%s>' < <(printf '%s\n' \
		true '  false ' ' [ "x" , 2 , true ] ' '	{ "args" : [ "y" , -3 ] } ')
	assert_success
	assert_equal "$output" "<true><false><x><2><true><y><-3>"
}

@test "invalid arguments: error records, the other tasks run" {
	printf '%s\n' null '["ok"]' '[1,{"a":1}]' '[null]' '{"args":"x"}' '"fine"' >in
	run --separate-stderr ppool -- echo <in
	assert_failure 4
	assert_records_valid
	assert_seqs_in_order 6
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" \
		'[1,false] [2,true] [3,false] [4,false] [5,false] [6,true] '
	assert_equal "$(record 2 | jq -r .stdout)" "ok"
	assert_equal "$(record 6 | jq -r .stdout)" "fine"
	# the failed ones say why, and ran nothing
	assert_equal "$(jqo -r 'select(.ok | not) | (.error | length > 0) and (has("exit") | not)' | sort -u)" true
	assert_equal "$(jqo -r 'select(.ok | not) | .error')" \
		"$(printf '%s\n' 'a task cannot be null' \
		'arguments must be strings, numbers or booleans, not {"a":1}' \
		'arguments must be strings, numbers or booleans, not null' \
		'"args" must be an array')"
}

@test "a COMMAND that expands to no word, or to an empty name: error records, the others run" {
	# {} alone with a task of no arguments leaves no program to run; {2}
	# first with one argument leaves an empty name.  Neither may crash.
	# An object without "args" is its own {} (the contract's "Columns and
	# fields"): task 3 runs a program named {"id":7}, which is not found.
	printf '%s\n' '["echo","a"]' '[]' '{"id":7}' '["echo","b"]' >in
	run --separate-stderr ppool -j 4 -- {} <in
	assert_failure 2
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(jqo -c '[.seq, .ok, .attempts, has("exit")]' | tr '\n' ' ')" \
		'[1,true,1,true] [2,false,0,false] [3,false,1,true] [4,true,1,true] '
	assert_equal "$(record 2 | jq -r .error)" \
		"the command is empty: COMMAND's replacement strings gave no word for this task"
	assert_equal "$(record 4 | jq -r .stdout)" "b"
	run --separate-stderr ppool -- {2} x <<<'["a"]'
	assert_failure 1
	assert_equal "$(jqo -r .error)" "the command name is an empty string"
	run --separate-stderr ppool <<<'{"cmd":["", "x"]}'
	assert_failure 1
	assert_equal "$(jqo -r .error)" "the command name is an empty string"
}
