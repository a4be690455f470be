#!/usr/bin/env bats
# sources.bats: tasks given on the command line (::: :::: :::+ ::::+ --link)
# and grouping (-n, -N, --max-args, -X).  Where GNU parallel has the feature,
# the expected output is GNU parallel's, on the same values, in the same test.
# A task made from the command line is exactly the JSON array of its values
# on stdin: same records, same joblog line, same --resume.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# untimed: the records on stdin without what changes from run to run.
untimed() {
	jq -c 'del(.ms, .worker)'
}

# A source, as GNU parallel's own test suite would write them: awkward
# values, one a line.
awkward_values() {
	printf '%s\n' \
		'with space' \
		"single'quote" \
		'double"quote' \
		'$HOME' \
		'*' \
		"$(printf 'tab\there')" \
		'back\slash' \
		'{}' \
		'é ü 日本 🙂' \
		'  spaces  '
}

# The sets of sources each of the tests below runs through ppool and GNU
# parallel, one a line, split by the shell (no value needs quoting).
source_specs() {
	cat <<'EOF'
::: a b c
::: a b ::: 1 2 3
::: a b c ::: 1 2 ::: x y
::: a b c :::+ 1 2
::: a b :::+ 1 2 3 ::: x y
::: a b c :::+ 1 2 3 ::: x y :::+ 7
::: a b c ::::+ two ::: x y
:::: two ::: a b
::: a :::: two :::: two
--link ::: a b c d ::: 1 2 ::: x y z
--link ::: a b ::: 1 2 3 4 5
--link :::: two ::: a b c
EOF
}

@test "::: a b c: one task per value, as GNU parallel" {
	need_parallel
	gnu -q printf '<%s>\n' {} ::: a 'b c' d >want
	assert_equal "$(wc -l <want)" 3
	run --separate-stderr ppool -o raw -- printf '<%s>\n' {} ::: a 'b c' d
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(cat want)"
	# no replacement string: the value is appended
	run --separate-stderr ppool -o raw -- printf '<%s>\n' ::: a 'b c' d
	assert_success
	assert_output "$(cat want)"
}

@test "::: a b ::: 1 2 gives every combination, the first source varying slowest, as GNU parallel" {
	need_parallel
	gnu -q printf '<%s|%s>\n' {1} {2} ::: a b c ::: 1 2 >want
	assert_equal "$(wc -l <want)" 6
	assert_equal "$(head -2 want)" "$(printf '<a|1>\n<a|2>')"
	run --separate-stderr ppool -o raw -- printf '<%s|%s>\n' {1} {2} ::: a b c ::: 1 2
	assert_success
	assert_output "$(cat want)"
	# {2} before {1}, three sources, and {} (all values, one argument each)
	gnu -q printf '<%s|%s|%s>[%s %s %s]\n' {3} {1} {2} {} ::: a b ::: 1 2 ::: x y >want
	assert_equal "$(wc -l <want)" 8
	run --separate-stderr ppool -o raw -- printf '<%s|%s|%s>[%s %s %s]\n' {3} {1} {2} {} ::: a b ::: 1 2 ::: x y
	assert_success
	assert_output "$(cat want)"
}

@test "{} inside a longer word with several sources: the values joined with spaces, as GNU parallel" {
	need_parallel
	gnu echo 'pre{}post' ::: a b ::: 1 2 >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -o raw -- echo 'pre{}post' ::: a b ::: 1 2
	assert_success
	assert_output "$(cat want)"
}

@test "awkward values from ::: and :::: reach the command byte for byte, as GNU parallel" {
	need_parallel
	awkward_values >vals
	gnu -q printf '<%s|%s>\n' {1} {2} :::: vals ::: "it's" '$x' >want
	assert_equal "$(wc -l <want)" 20
	run --separate-stderr ppool -o raw -- printf '<%s|%s>\n' {1} {2} :::: vals ::: "it's" '$x'
	assert_success
	assert_output "$(cat want)"
}

@test ":::+ zips a source with the one before it (the shorter ends it); groups combine, as GNU parallel" {
	need_parallel
	gnu echo ::: a b c :::+ 1 2 ::: x y :::+ 7 8 9 >want
	assert_equal "$(cat want)" "$(printf '%s\n' 'a 1 x 7' 'a 1 y 8' 'b 2 x 7' 'b 2 y 8')"
	run --separate-stderr ppool -o raw -- echo ::: a b c :::+ 1 2 ::: x y :::+ 7 8 9
	assert_success
	assert_output "$(cat want)"
}

@test "::::+ FILE zips a file's values with the source before it, as GNU parallel" {
	need_parallel
	printf '%s\n' 1 2 >two
	gnu echo ::: a b c ::::+ two ::: x y >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -o raw -- echo ::: a b c ::::+ two ::: x y
	assert_success
	assert_output "$(cat want)"
	# a file zipped with a file
	printf '%s\n' p q r >three
	gnu echo :::: three ::::+ two >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool -o raw -- echo :::: three ::::+ two
	assert_success
	assert_output "$(cat want)"
}

@test "--link zips every source, shorter ones starting over, as GNU parallel" {
	need_parallel
	gnu --link echo ::: a b c d ::: 1 2 ::: x y z >want
	assert_equal "$(cat want)" "$(printf '%s\n' 'a 1 x' 'b 2 y' 'c 1 z' 'd 2 x')"
	run --separate-stderr ppool -o raw --link -- echo ::: a b c d ::: 1 2 ::: x y z
	assert_success
	assert_output "$(cat want)"
}

@test "every set of sources gives GNU parallel's tasks, in command mode and in worker mode" {
	need_parallel
	printf '%s\n' 1 2 >two
	local spec opts n=0
	while IFS= read -r spec; do
		opts=()
		if [[ $spec == --link* ]]; then
			opts=(--link)
			spec=${spec#--link }
		fi
		# shellcheck disable=SC2086 # the spec is split into words on purpose
		gnu "${opts[@]}" -q jq -nc '$ARGS.positional' --args {} $spec >want
		[[ -s want ]] || fail "GNU parallel gave nothing for: $spec"
		# shellcheck disable=SC2086
		run --separate-stderr ppool "${opts[@]}" -o raw -- jq -nc '$ARGS.positional' --args {} $spec
		assert_success
		[[ $output == "$(cat want)" ]] || fail "command mode, ${opts[*]} $spec: got $output, want $(cat want)"
		# worker mode: the task line is that JSON array, byte for byte
		# shellcheck disable=SC2086
		run --separate-stderr ppool "${opts[@]}" -o raw -w "$(cat_worker)" $spec
		assert_success
		[[ $output == "$(cat want)" ]] || fail "worker mode, ${opts[*]} $spec: got $output, want $(cat want)"
		n=$((n + 1))
	done < <(source_specs)
	assert_equal "$n" 12
}

@test ":::: FILE: one value a line, an empty line an empty value, a last line without newline a value, as GNU parallel" {
	need_parallel
	printf 'a\n\nb c\nlast' >vals
	gnu -q printf '<%s>\n' {} :::: vals >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -o raw -- printf '<%s>\n' {} :::: vals
	assert_success
	assert_output "$(cat want)"
}

@test ":::: - reads a source's values from stdin, as GNU parallel" {
	need_parallel
	printf '%s\n' p 'q r' >vals
	gnu -q printf '<%s|%s>\n' {1} {2} :::: - ::: 1 2 <vals >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -o raw -- printf '<%s|%s>\n' {1} {2} :::: - ::: 1 2 <vals
	assert_success
	assert_output "$(cat want)"
}

@test "-0 :::: FILE: NUL-separated values, newlines kept, as GNU parallel" {
	need_parallel
	printf 'a b\0c\nd\0e' >vals
	gnu -0 -q printf '<%s>\n' {} :::: vals >want
	assert_equal "$(grep -c '^<' want)" 3
	run --separate-stderr ppool -0 -o raw -- printf '<%s>\n' {} :::: vals
	assert_success
	assert_output "$(cat want)"
}

@test "with ::: stdin is not read: what follows on stdin is left for the next reader" {
	printf '%s\n' '"from stdin"' '"second"' >in
	{
		"$PPOOL" -o raw -- echo ::: a b
		cat
	} <in >out
	assert_equal "$(cat out)" "$(printf '%s\n' a b '"from stdin"' '"second"')"
	# worker mode too
	{
		"$PPOOL" -o raw -w "$(cat_worker)" ::: a
		cat
	} <in >out
	assert_equal "$(cat out)" "$(printf '%s\n' '["a"]' '"from stdin"' '"second"')"
}

@test "a combination is the task [\"a\",\"1\"] on stdin: the same records, failures and exit status (command mode)" {
	printf '%s\n' '["a","1"]' '["a","2"]' '["b","1"]' '["b","2"]' >in
	# the tasks whose second value is 2 fail
	local cmd=(sh -c 'echo "$1-$2"; echo "err $1" >&2; [ "$2" != 2 ]' sh)
	run --separate-stderr ppool -j 2 -- "${cmd[@]}" <in
	assert_failure 2
	untimed <<<"$output" >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool -j 2 -- "${cmd[@]}" ::: a b ::: 1 2
	assert_failure 2
	assert_records_valid
	assert_equal "$(untimed <<<"$output")" "$(cat want)"
	assert_equal "$(jqo -j .stdout | tr '\n' ' ')" 'a-1 a-2 b-1 b-2 '
	assert_equal "$(jqo -c '[.seq, .ok, .exit]' | tr '\n' ' ')" '[1,true,0] [2,false,1] [3,true,0] [4,false,1] '
	# --dry-run resolves them the same way
	run --separate-stderr ppool --dry-run -- cmd {2} {1} <in
	assert_success
	local want_dry=$output
	assert_equal "${#lines[@]}" 4
	run --separate-stderr ppool --dry-run -- cmd {2} {1} ::: a b ::: 1 2
	assert_success
	assert_output "$want_dry"
}

@test "a combination is the task [\"a\",\"1\"] on stdin: the same records and exit status (worker mode)" {
	printf '%s\n' '["a","1"]' '["a","2"]' '["b","1"]' '["b","2"]' >in
	local w
	w=$(worker 'while IFS= read -r x; do
		printf "%s\n" "$x" >>"$W/got"
		case $x in *\"2\"*) echo "{\"error\": $x}" ;; *) echo "{\"result\": $x}" ;; esac
	done')
	run --separate-stderr ppool -j 2 --envelope -w "$w" <in
	assert_failure 2
	untimed <<<"$output" >want
	assert_equal "$(wc -l <want)" 4
	rm got
	run --separate-stderr ppool -j 2 --envelope -w "$w" ::: a b ::: 1 2
	assert_failure 2
	assert_records_valid
	assert_equal "$(untimed <<<"$output")" "$(cat want)"
	assert_equal "$(jqo -c .result | head -1)" '["a","1"]'
	# the workers got exactly those lines
	assert_equal "$(sort got)" "$(sort in)"
}

@test "awkward values make the JSON array of those strings, in both modes" {
	awkward_values >vals
	run --separate-stderr ppool -o raw -w "$(cat_worker)" :::: vals ::: x
	assert_success
	assert_equal "${#lines[@]}" 10
	# each line is a JSON array of two strings: the value and "x"
	assert_equal "$(jq -r '.[0]' <<<"$output")" "$(cat vals)"
	assert_equal "$(jq -c '[length, .[1]]' <<<"$output" | sort -u)" '[2,"x"]'
	# and those lines on stdin give the command the same arguments
	printf '%s\n' "$output" >in
	run --separate-stderr ppool -o raw -- printf '<%s|%s>\n' {1} {2} <in
	assert_success
	local want=$output
	run --separate-stderr ppool -o raw -- printf '<%s|%s>\n' {1} {2} :::: vals ::: x
	assert_success
	assert_output "$want"
}

@test "--joblog: a combination's task column is its JSON array, as the same line on stdin logs it" {
	printf '%s\n' '["a","1"]' '["a","2"]' '["b","1"]' '["b","2"]' >in
	run --separate-stderr ppool -j 1 --joblog=jl -- true ::: a b ::: 1 2
	assert_success
	assert_equal "$(wc -l <jl)" 5
	assert_equal "$(tail -n +2 jl | cut -f 1,9)" "$(printf '%s\t%s\n' 1 '["a","1"]' 2 '["a","2"]' 3 '["b","1"]' 4 '["b","2"]')"
	run --separate-stderr ppool -j 1 --joblog=jl-stdin -- true <in
	assert_success
	assert_equal "$(tail -n +2 jl | cut -f 1,4-9)" "$(tail -n +2 jl-stdin | cut -f 1,4-9)"
	# worker mode: one source, ["a"]
	run --separate-stderr ppool -j 1 --joblog=jw -w "$(cat_worker)" ::: a b
	assert_success
	assert_equal "$(tail -n +2 jw | cut -f 1,9)" "$(printf '%s\t%s\n' 1 '["a"]' 2 '["b"]')"
}

@test "--resume after a run of the same tasks from stdin skips those combinations and runs the rest" {
	# the first run: the first two combinations, from stdin
	printf '%s\n' '["a","1"]' '["a","2"]' >in
	run --separate-stderr ppool -j 1 --joblog=jl -- sh -c 'echo "$1$2" >>ran' sh <in
	assert_success
	assert_equal "$(cat ran)" "$(printf 'a1\na2')"
	rm ran
	# the same tasks from :::, resumed: only the other two run
	run --separate-stderr ppool -j 1 --joblog=jl --resume -- sh -c 'echo "$1$2" >>ran' sh ::: a b ::: 1 2
	assert_success
	assert_equal "$(jqo .seq | tr '\n' ' ')" '3 4 '
	assert_equal "$(cat ran)" "$(printf 'b1\nb2')"
	# and now nothing is left to run
	rm ran
	run --separate-stderr ppool -j 1 --joblog=jl --resume -- sh -c 'echo "$1$2" >>ran' sh ::: a b ::: 1 2
	assert_success
	assert_output ""
	assert_file_not_exists ran
}

@test "--resume in worker mode skips the ::: tasks a run logged" {
	local w
	w=$(worker 'while IFS= read -r x; do printf "%s\n" "$x" >>"$W/got"; printf "%s\n" "$x"; done')
	printf '%s\n' '["a"]' >in
	run --separate-stderr ppool -j 1 --joblog=jl -w "$w" <in
	assert_success
	rm got
	run --separate-stderr ppool -j 1 --joblog=jl --resume -o raw -w "$w" ::: a b c
	assert_success
	assert_output "$(printf '%s\n' '["b"]' '["c"]')"
	assert_equal "$(cat got)" "$(printf '%s\n' '["b"]' '["c"]')"
	rm got
	run --separate-stderr ppool -j 1 --joblog=jl --resume -o raw -w "$w" ::: a b c
	assert_success
	assert_output ""
	assert_file_not_exists got
}

@test "--resume-failed runs again only the ::: combinations that failed" {
	run --separate-stderr ppool -j 1 --joblog=jl -- sh -c 'echo "$1" >>ran; [ "$1" != b ] || [ -e fixed ]' sh ::: a b c
	assert_failure 1
	rm ran
	touch fixed
	run --separate-stderr ppool -j 1 --joblog=jl --resume-failed -- sh -c 'echo "$1" >>ran; [ "$1" != b ] || [ -e fixed ]' sh ::: a b c
	assert_success
	assert_equal "$(jqo .seq)" 2
	assert_equal "$(cat ran)" b
}

@test "::: with no values is a usage error naming it; nothing runs" {
	run --separate-stderr ppool -- touch ran ::: a :::
	assert_refused
	stderr_has "::: "
	stderr_has "has no values"
	run --separate-stderr ppool -- touch ran :::
	assert_refused
	stderr_has "has no values"
	run --separate-stderr ppool -- touch ran ::: a ::: ::: b
	assert_refused
	stderr_has "has no values"
	run --separate-stderr ppool -- touch ran ::: a :::+
	assert_refused
	stderr_has ":::+ "
	stderr_has "has no values"
	run --separate-stderr ppool -w "$(cat_worker)" :::
	assert_refused
	stderr_has "has no values"
	# :::: and ::::+ with no file after them
	run --separate-stderr ppool -- touch ran ::: a ::::
	assert_refused
	stderr_has "::::"
	run --separate-stderr ppool -- touch ran ::: a ::::+
	assert_refused
	stderr_has "::::+"
	assert_file_not_exists ran
	assert_file_not_exists a
}

@test "::: with no values among several: the message says at which argument it is" {
	run --separate-stderr ppool -- touch ran ::: a ::: ::: b
	assert_refused
	[[ ${stderr_lines[0]} =~ ^"ppool: ::: at argument "[0-9]+" has no values" ]] || fail "stderr: $stderr"
	run --separate-stderr ppool -- touch ran ::: a :::+
	assert_refused
	[[ ${stderr_lines[0]} =~ ^"ppool: :::+ at argument "[0-9]+" has no values" ]] || fail "stderr: $stderr"
	assert_file_not_exists ran
}

@test "an unreadable :::: file is a usage error naming the file and why; nothing runs" {
	run --separate-stderr ppool -- touch ran :::: no-such-file
	assert_refused
	stderr_has "no-such-file"
	stderr_has "No such file or directory"
	mkdir adir
	run --separate-stderr ppool -- touch ran ::: a :::: adir
	assert_refused
	stderr_has "adir"
	stderr_has "Is a directory"
	run --separate-stderr ppool -- touch ran ::: a ::::+ no-such-file
	assert_refused
	stderr_has "no-such-file"
	run --separate-stderr ppool -w "$(cat_worker)" :::: no-such-file
	assert_refused
	stderr_has "no-such-file"
	assert_file_not_exists ran
}

@test "an empty :::: file and --link without sources are usage errors; nothing runs" {
	: >empty
	run --separate-stderr ppool -- touch ran :::: empty
	assert_refused
	stderr_has "empty"
	run --separate-stderr ppool --link -- touch ran <<<'"x"'
	assert_refused
	stderr_has "--link"
	assert_file_not_exists ran
	assert_file_not_exists x
}

@test "::: with neither COMMAND nor -w is a usage error that says to put a COMMAND before it" {
	run --separate-stderr ppool ::: a b
	assert_refused
	[[ ${stderr_lines[0]} == "ppool: ::: gives "*COMMAND*"before it"* ]] || fail "stderr: $stderr"
	run --separate-stderr ppool -j 2 -- ::: 'touch ran'
	assert_refused
	[[ ${stderr_lines[0]} == "ppool: ::: gives "*COMMAND*"before it"* ]] || fail "stderr: $stderr"
	assert_file_not_exists ran
}

@test "-n 2 gives each command two tasks' arguments, appended, as GNU parallel -n" {
	need_parallel
	gnu -n2 echo ::: a b c d e >want
	assert_equal "$(cat want)" "$(printf '%s\n' 'a b' 'c d' e)"
	run --separate-stderr ppool -n 2 -o raw -- echo ::: a b c d e
	assert_success
	assert_output "$(cat want)"
	run --separate-stderr ppool --max-args=2 -o raw -- echo ::: a b c d e
	assert_success
	assert_output "$(cat want)"
	run --separate-stderr ppool -N 2 -o raw -- echo ::: a b c d e
	assert_success
	assert_output "$(cat want)"
	# from stdin: JSON strings, and -L lines
	run --separate-stderr ppool -n 2 -o raw -- echo < <(printf '"%s"\n' a b c d e)
	assert_success
	assert_output "$(cat want)"
	run --separate-stderr ppool -L -n 2 -o raw -- echo < <(printf '%s\n' a b c d e)
	assert_success
	assert_output "$(cat want)"
}

@test "-n 3: {} as a word is every argument, one argv element each, as GNU parallel" {
	need_parallel
	awkward_values >vals
	gnu -n3 -q printf '<%s>' {} ';' :::: vals >want
	assert_equal "$(tr -cd ';' <want)" ';;;;'
	run --separate-stderr ppool -n 3 -o raw -- printf '<%s>' {} ';' :::: vals
	assert_success
	assert_output "$(cat want)"
}

@test "-n 2: {} inside a longer word joins the arguments with spaces, as GNU parallel" {
	need_parallel
	gnu -n2 echo 'pre{}post' ::: a 'b  c' d >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool -n 2 -o raw -- echo 'pre{}post' ::: a 'b  c' d
	assert_success
	assert_output "$(cat want)"
}

@test "-N 2: {1} and {2} are the first and second task's argument, as GNU parallel -N" {
	need_parallel
	gnu -N2 -q printf '<%s|%s>\n' {2} {1} ::: a 'b c' d e f g >want
	assert_equal "$(wc -l <want)" 3
	run --separate-stderr ppool -N 2 -o raw -- printf '<%s|%s>\n' {2} {1} ::: a 'b c' d e f g
	assert_success
	assert_output "$(cat want)"
	run --separate-stderr ppool -n 2 -o raw -- printf '<%s|%s>\n' {2} {1} ::: a 'b c' d e f g
	assert_success
	assert_output "$(cat want)"
	# a last command short of tasks: {2} is empty
	run --separate-stderr ppool -n 2 -o raw -- printf '<%s|%s>\n' {2} {1} ::: a b c
	assert_success
	assert_output "$(printf '%s\n' '<b|a>' '<|c>')"
}

@test "-n: a task's arguments are its array's elements, its string, its -L line or its -0 record" {
	printf '%s\n' '["a","b"]' '"c"' '["d"]' '[]' '"e"' >in
	run --separate-stderr ppool -n 2 -o raw -- printf '<%s>' {} ';' <in
	assert_success
	assert_output '<a><b><c><;><d><;><e><;>'
	printf 'a b\nc\nd\n' >lines
	run --separate-stderr ppool -L -n 2 -o raw -- printf '<%s>' {} ';' <lines
	assert_success
	assert_output '<a b><c><;><d><;>'
	printf 'x\ny\0z\0w\0' >recs
	run --separate-stderr ppool -0 -n 2 -o raw -- printf '<%s>' {} ';' <recs
	assert_success
	assert_output "$(printf '<x\ny><z><;><w><;>')"
}

@test "-n: one record per command, seq counts commands, the exit status counts failed commands" {
	run --separate-stderr ppool -n 2 -- sh -c 'echo "$*"; case "$*" in *c*) exit 3 ;; esac' sh ::: a b c d e f g
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(jqo -j .stdout)" "$(printf '%s\n' 'a b' 'c d' 'e f' g)"
	assert_equal "$(jqo -c '[.seq, .ok, .exit]' | tr '\n' ' ')" '[1,true,0] [2,false,3] [3,true,0] [4,true,0] '
	assert_equal "$(record 2 | jq -r .error)" "exited with status 3"
	# -n 3 over 7 stdin tasks, two of its commands failing
	run --separate-stderr ppool -n 3 -o raw -- sh -c 'echo "$*"; [ "$1" = 4 ]' sh < <(seq 7)
	assert_failure 2
	assert_output '4 5 6'
}

@test "-n: the joblog's task is the command's merged JSON array, and --resume skips those commands" {
	run --separate-stderr ppool -n 2 -j 1 --joblog=jl -- sh -c 'echo "$*" >>ran' sh ::: a b c
	assert_success
	assert_equal "$(wc -l <jl)" 3
	assert_equal "$(tail -n +2 jl | cut -f 1,9)" "$(printf '%s\t%s\n' 1 '["a","b"]' 2 '["c"]')"
	assert_equal "$(cat ran)" "$(printf 'a b\nc')"
	rm ran
	run --separate-stderr ppool -n 2 -j 1 --joblog=jl --resume -- sh -c 'echo "$*" >>ran' sh ::: a b c
	assert_success
	assert_output ""
	assert_file_not_exists ran
	# the same tasks on stdin are the same commands: nothing runs either
	run --separate-stderr ppool -n 2 -j 1 --joblog=jl --resume -- sh -c 'echo "$*" >>ran' sh < <(printf '%s\n' '["a"]' '["b"]' '["c"]')
	assert_success
	assert_output ""
	assert_file_not_exists ran
}

@test "-n: an invalid line keeps its own error record and cuts the group before it" {
	printf '%s\n' '"a"' '"b"' '"c"' '{bad' '"d"' '"e"' >in
	run --separate-stderr ppool -n 2 -- echo <in
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(jqo -c '[.seq, .ok, .stdout]' | tr '\n' ' ')" \
		'[1,true,"a b\n"] [2,true,"c\n"] [3,false,null] [4,true,"d e\n"] '
	[[ $(record 3 | jq -r .error) == "invalid JSON"* ]] || fail "record 3: $(record 3)"
}

@test "-n: a JSON object task gets an error record of its own; the other tasks run" {
	printf '%s\n' '"a"' '"b"' '{"args":["x"]}' '"c"' >in
	run --separate-stderr ppool -n 2 -- echo <in
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.seq, .ok, .stdout]' | tr '\n' ' ')" \
		'[1,true,"a b\n"] [2,false,null] [3,true,"c\n"] '
	[[ $(record 2 | jq -r .error) == "with -n or -X a task must be a string"* ]] || fail "record 2: $(record 2)"
	# -X too
	run --separate-stderr ppool -X -- echo < <(printf '%s\n' '"a"' '{"k":1}')
	assert_failure 1
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,false] '
	[[ $(record 2 | jq -r .error) == "with -n or -X a task must be a string"* ]] || fail "record 2: $(record 2)"
}

@test "-n or -X with -w is a usage error; nothing runs" {
	local w
	w=$(worker 'while read -r x; do echo ran >>"$W/ran"; echo "$x"; done')
	run --separate-stderr ppool -n 2 -w "$w" < <(seq 4)
	assert_refused
	stderr_has "-n"
	run --separate-stderr ppool --max-args=2 -w "$w" ::: a b
	assert_refused
	run --separate-stderr ppool -X -w "$w" < <(seq 4)
	assert_refused
	stderr_has "-X"
	assert_file_not_exists ran
}

@test "-n 0, -n 100001 and -n x are usage errors" {
	local v
	for v in 0 100001 x ''; do
		run --separate-stderr ppool -n "$v" -- echo ::: a
		assert_refused
		[[ ${stderr_lines[0]} == "ppool: -n "*", not '$v'" ]] || fail "-n $v: $stderr"
	done
	run --separate-stderr ppool -n 100000 -o raw -- echo ::: a b
	assert_success
	assert_output 'a b'
}

@test "-X puts every argument in one command when they fit, as GNU parallel -X" {
	need_parallel
	seq 1000 >vals
	gnu -j1 -X echo :::: vals >want
	assert_equal "$(wc -l <want)" 1
	run --separate-stderr ppool -X -- echo :::: vals
	assert_success
	assert_seqs_in_order 1
	assert_equal "$(jqo -r .stdout)" "$(cat want)"
	# from stdin too
	run --separate-stderr ppool -X -o raw -- echo <vals
	assert_success
	assert_output "$(cat want)"
	# {} as a word: one argv element each
	awkward_values >vals2
	gnu -j1 -X -q printf '<%s>' {} :::: vals2 >want
	run --separate-stderr ppool -X -o raw -- printf '<%s>' {} :::: vals2
	assert_success
	assert_output "$(cat want)"
	assert_equal "$(grep -o '<' <<<"$output" | wc -l)" 10
}

@test "-X: a word holding {} in longer text is repeated for each argument (context replace), as GNU parallel" {
	need_parallel
	gnu -j1 -X echo 'pre{}post' 'x' ::: a b c >want
	assert_equal "$(cat want)" "preapost prebpost precpost x"
	run --separate-stderr ppool -X -o raw -- echo 'pre{}post' 'x' ::: a b c
	assert_success
	assert_output "$(cat want)"
	gnu -j1 -X -q printf '<%s>' '--f={}' ::: a 'b c' >want
	run --separate-stderr ppool -X -o raw -- printf '<%s>' '--f={}' ::: a 'b c'
	assert_success
	assert_output "$(cat want)"
	assert_output '<--f=a><--f=b c>'
}

@test "-X cuts at the system's argument limit: every command runs, each argument once and in order, few commands" {
	# 50,000 values of 99 bytes: 5 MB of arguments with their pointers,
	# more than 2 times ARG_MAX (2 MiB here); xargs's 128 KiB would take 40.
	local arg_max
	arg_max=$(getconf ARG_MAX)
	python3 -c 'import sys
for i in range(50000): sys.stdout.write("%09d%s\n" % (i, "x" * 90))' >vals
	local bytes=$(($(wc -c <vals) + 8 * 50000))
	run --separate-stderr ppool -X -j 2 -- printf '%s\n' :::: vals
	assert_success
	assert_records_valid
	local n=${#lines[@]}
	# no command over the limit (it would fail with E2BIG), and no more
	# than twice the commands the limit needs: the commands are full
	((n >= (bytes + arg_max - 1) / arg_max)) || fail "$n commands for $bytes bytes of arguments"
	((n <= 2 * ((bytes + arg_max - 1) / arg_max))) || fail "$n commands for $bytes bytes: not as many as fit"
	assert_seqs_in_order "$n"
	jqo -j .stdout | cmp - vals
}
