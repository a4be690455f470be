#!/usr/bin/env bats
# columns.bats: a task's columns and fields: --colsep (-C), --csv,
# --header : with {name}, and {name} / {} of a JSON object task.  Where GNU
# parallel has the feature, the expected output is GNU parallel's, on the
# same input, in the same test; for CSV, Python's csv module (RFC 4180)
# gives it too, so that those tests run where GNU parallel lacks Text::CSV.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# need_parallel_csv: skip the test when GNU parallel cannot read CSV (its
# --csv needs Perl's Text::CSV, Debian's libtext-csv-perl).
need_parallel_csv() {
	need_parallel
	perl -MText::CSV -e 1 2>/dev/null || skip "GNU parallel --csv needs Text::CSV (libtext-csv-perl)"
}

# csv_rows FILE: each row of the CSV FILE as a compact JSON array, a line
# each, as Python's csv module reads it (RFC 4180; strict: a quote inside
# an unquoted field is kept as it is).
csv_rows() {
	python3 -c '
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.reader(f, strict=False):
        print(json.dumps(row, ensure_ascii=False, separators=(",", ":")))' "$1"
}

# as_json_lines: each line of stdin, a JSON value, printed by jq -c (so that
# two writers of the same arrays compare equal).
as_json_lines() {
	jq -c .
}

# The CSV of the tests below: quoted commas, doubled quotes, a newline
# inside quotes, an empty field, a quoted empty field, UTF-8, blanks kept.
awkward_csv() {
	printf '%s\n' \
		'plain,"with, comma","dq ""x"" y"' \
		'"multi' \
		'line",b,c' \
		'last,"",end' \
		',,' \
		' sp ace ,"é 日本",  ' \
		'"""quoted""","a,b,c","x'"'"'y"'
}

@test "--colsep splits each line into {1} {2} {3}, as GNU parallel --colsep" {
	need_parallel
	printf '%s\n' 'a,b,c' '1,2 x,3' 'x,,z' ',lead,' 'no comma' >in
	gnu -q --colsep , printf '<%s|%s|%s>\n' {3} {1} {2} :::: in >want
	assert_equal "$(wc -l <want)" 5
	run --separate-stderr ppool --colsep , -o raw -- printf '<%s|%s|%s>\n' {3} {1} {2} <in
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(cat want)"
	# -C is --colsep; it implies -L; -a FILE as well as stdin
	run --separate-stderr ppool -C , -a in -o raw -- printf '<%s|%s|%s>\n' {3} {1} {2}
	assert_success
	assert_output "$(cat want)"
	run --separate-stderr ppool -L --colsep=, -o raw -- printf '<%s|%s|%s>\n' {3} {1} {2} <in
	assert_success
	assert_output "$(cat want)"
}

@test "--colsep trims blanks around each column, as GNU parallel does by default (--trim lr)" {
	need_parallel
	printf '%s\n' 'a , b ,c' ' 1,2 x ,  ' >in
	gnu -q --colsep , printf '<%s|%s|%s>\n' {1} {2} {3} :::: in >want
	assert_equal "$(cat want)" "$(printf '%s\n' '<a|b|c>' '<1|2 x|>')"
	run --separate-stderr ppool -C , -o raw -- printf '<%s|%s|%s>\n' {1} {2} {3} <in
	assert_success
	assert_output "$(cat want)"
}

@test "--colsep: {} is every column, one argument each; no replacement string appends them, as GNU parallel" {
	need_parallel
	printf '%s\n' 'a b,c' 'd,,e f,' >in
	gnu -q --colsep , printf '<%s>' {} ';' :::: in >want
	assert_equal "$(tr -cd ';' <want)" ';;'
	run --separate-stderr ppool -C , -o raw -- printf '<%s>' {} ';' <in
	assert_success
	assert_output "$(cat want)"
	gnu -q --colsep , printf '<%s>' ';' :::: in >want
	run --separate-stderr ppool -C , -o raw -- printf '<%s>' ';' <in
	assert_success
	assert_output "$(cat want)"
}

@test "--colsep is a regular expression: ' *, *', '[;:]+', a tab, as GNU parallel" {
	need_parallel
	printf '%s\n' 'a  ,b,c' '1;;2:3, 4' "$(printf 'p\tq r\tz')" >in
	local re
	for re in ' *, *' '[;:]+' "$(printf '\t')" ';|, '; do
		gnu -q --colsep "$re" printf '<%s|%s>#' {2} {1} :::: in >want
		assert_equal "$(tr -cd '#' <want)" '###'
		run --separate-stderr ppool -C "$re" -o raw -- printf '<%s|%s>#' {2} {1} <in
		assert_success
		[[ $output == "$(cat want)" ]] || fail "--colsep '$re': got $output, want $(cat want)"
	done
}

@test "--colsep on ::: values and on a :::: file, as GNU parallel" {
	need_parallel
	gnu -q --colsep , printf '<%s|%s>\n' {2} {1} ::: a,b c,d 'e f,g' >want
	assert_equal "$(wc -l <want)" 3
	run --separate-stderr ppool -C , -o raw -- printf '<%s|%s>\n' {2} {1} ::: a,b c,d 'e f,g'
	assert_success
	assert_output "$(cat want)"
	printf '%s\n' 'x,1' 'y,2' >vals
	gnu -q --colsep , printf '<%s|%s>\n' {2} {1} :::: vals >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool -C , -o raw -- printf '<%s|%s>\n' {2} {1} :::: vals
	assert_success
	assert_output "$(cat want)"
}

@test "--colsep with -0: each NUL-separated record is split, newlines kept" {
	printf 'a,b\nc\0d,e\0' >in
	run --separate-stderr ppool -0 -C , -o raw -- printf '<%s|%s>' {2} {1} <in
	assert_success
	assert_output "$(printf '<b\nc|a><e|d>')"
}

@test "--colsep: the task is the JSON array of the columns, in worker mode and in the joblog" {
	printf '%s\n' 'a,b c' 'd' >in
	run --separate-stderr ppool -C , -o raw -w "$(cat_worker)" <in
	assert_success
	assert_output "$(printf '%s\n' '["a","b c"]' '["d"]')"
	run --separate-stderr ppool -C , -j 1 --joblog=jl -- true <in
	assert_success
	assert_equal "$(tail -n +2 jl | cut -f 1,9)" "$(printf '%s\t%s\n' 1 '["a","b c"]' 2 '["d"]')"
	# and a --resume of those arrays from stdin runs nothing
	run --separate-stderr ppool -j 1 --joblog=jl --resume -- touch ran < <(printf '%s\n' '["a","b c"]' '["d"]')
	assert_success
	assert_output ""
	assert_file_not_exists ran
}

@test "a bad --colsep regex is a usage error naming regcomp's complaint; nothing runs" {
	run --separate-stderr ppool -C '(' -- touch ran <<<'a'
	assert_refused
	stderr_has "("
	stderr_has "Unmatched ( or \\("
	run --separate-stderr ppool --colsep='[a' -- touch ran <<<'a'
	assert_refused
	stderr_has "[a"
	stderr_has "Unmatched ["
	run --separate-stderr ppool -C 'a{2' -w "$(cat_worker)" <<<'a'
	assert_refused
	assert_file_not_exists ran
}

@test "--csv: quoted commas, doubled quotes, newlines inside quotes, as GNU parallel --csv" {
	need_parallel_csv
	printf '%s\n' 'plain,"with, comma","dq ""x"" y"' '"multi' 'line",b,c' 'x,"",z' >in
	gnu -q --csv printf '<%s|%s|%s>\n' {1} {2} {3} :::: in >want
	assert_equal "$(grep -c '>$' want)" 3
	run --separate-stderr ppool --csv -o raw -- printf '<%s|%s|%s>\n' {1} {2} {3} <in
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(cat want)"
	gnu -q --csv printf '<%s>' {} ';' :::: in >want
	run --separate-stderr ppool --csv -o raw -- printf '<%s>' {} ';' <in
	assert_success
	assert_output "$(cat want)"
}

@test "--csv reads every field byte for byte, as Python's csv module (RFC 4180)" {
	awkward_csv >in
	csv_rows in >want
	assert_equal "$(wc -l <want)" 6
	run --separate-stderr ppool --csv -o raw -- jq -nc '$ARGS.positional' --args {} <in
	assert_success
	assert_equal "$(as_json_lines <<<"$output")" "$(as_json_lines <want)"
	# the fields as the command's arguments, one each
	assert_equal "$(jq -r '.[1]' <<<"$output" | head -1)" "with, comma"
	run --separate-stderr ppool --csv -o raw -- printf '<%s>' {3} <in
	assert_success
	assert_output "$(printf '<%s>' 'dq "x" y' c end '' '  ' "x'y")"
}

@test "--csv: CRLF rows give the same fields as LF rows; a CRLF inside quotes is kept" {
	awkward_csv >lf
	sed 's/$/\r/' lf >crlf
	run --separate-stderr ppool --csv -o raw -- jq -nc '$ARGS.positional' --args {} <lf
	assert_success
	local want=$output
	assert_equal "${#lines[@]}" 6
	# in crlf, the newline inside the quotes of row 2 is a CRLF too
	csv_rows crlf >want-crlf
	run --separate-stderr ppool --csv -o raw -- jq -nc '$ARGS.positional' --args {} <crlf
	assert_success
	assert_equal "$(as_json_lines <<<"$output")" "$(as_json_lines <want-crlf)"
	assert_equal "$(sed 1q <<<"$output")" "$(sed 1q <<<"$want")"
	assert_equal "$(jq -c '.[0]' <<<"$output" | sed -n 2p)" '"multi\r\nline"'
	assert_equal "$(sed -n '3,$p' <<<"$output")" "$(sed -n '3,$p' <<<"$want")"
	# a last row without any line end
	printf 'a,b\r\nc,"d"' >noend
	run --separate-stderr ppool --csv -o raw -- printf '<%s|%s>' {1} {2} <noend
	assert_success
	assert_output '<a|b><c|d>'
}

@test "--csv: a quote in the middle of an unquoted field is taken literally" {
	printf '%s\n' 'a,b"c,d' 'x"y",z' 'e,f' >in
	csv_rows in >want
	run --separate-stderr ppool --csv -o raw -- jq -nc '$ARGS.positional' --args {} <in
	assert_success
	assert_equal "$(as_json_lines <<<"$output")" "$(as_json_lines <want)"
	assert_equal "$(sed 1q <<<"$output")" '["a","b\"c","d"]'
}

@test "--csv: an unterminated quote is an error record for that row; the rows before it run" {
	printf '%s\n' 'a,b' 'c,d' '"e,f' 'g,h' >in
	run --separate-stderr ppool --csv -- sh -c 'echo "$1" >>ran; echo "$1"' sh <in
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,true] [3,false] '
	[[ $(record 3 | jq -r .error) =~ ^"unterminated quoted field in "(the )?"CSV row "(that )?"start"(s|ing)" on line 3"$ ]] ||
		fail "record 3: $(record 3)"
	assert_equal "$(sort ran)" "$(printf 'a\nc')"
	# a row that spans lines before it: the line it starts on is counted
	printf '%s\n' '"x' 'y",1' '2,"open' >in
	run --separate-stderr ppool --csv -o raw -- echo <in
	assert_failure 1
	assert_output "$(printf 'x\ny 1')"
	[[ $stderr =~ "unterminated quoted field in "(the )?"CSV row "(that )?"start"(s|ing)" on line 3" ]] || fail "stderr: $stderr"
}

@test "--csv: the task is the JSON array of the fields: the same records as those arrays on stdin, both modes" {
	awkward_csv >in
	csv_rows in >arrays
	run --separate-stderr ppool --csv -- printf '<%s>' {2} {1} <in
	assert_success
	local want
	want=$(jq -c 'del(.ms)' <<<"$output")
	run --separate-stderr ppool -- printf '<%s>' {2} {1} <arrays
	assert_success
	assert_equal "$(jq -c 'del(.ms)' <<<"$output")" "$want"
	assert_equal "$(jqo -r .seq | wc -l)" 6
	# worker mode: the task line is that array
	run --separate-stderr ppool --csv -o raw -w "$(cat_worker)" <in
	assert_success
	assert_equal "$(as_json_lines <<<"$output")" "$(as_json_lines <arrays)"
}

@test "--csv -n 2: a command gets two rows' fields" {
	printf '%s\n' 'a,b' '"c,d",e' 'f' >in
	run --separate-stderr ppool --csv -n 2 -o raw -- printf '<%s>' {} ';' <in
	assert_success
	assert_output '<a><b><c,d><e><;><f><;>'
}

@test "--header : with --colsep: {name} is that column, {1} and {} still work, as GNU parallel" {
	need_parallel
	printf '%s\n' 'name,size,kind' 'foo,1,x' 'b ar,22,' >in
	gnu -q --header : --colsep , printf '<%s|%s|%s|%s>\n' {size} {name} {kind} {1} :::: in >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool --header : -C , -o raw -- printf '<%s|%s|%s|%s>\n' {size} {name} {kind} {1} <in
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(cat want)"
	gnu -q --header : --colsep , printf '<%s>' {} ';' :::: in >want
	run --separate-stderr ppool --header : -C , -o raw -- printf '<%s>' {} ';' <in
	assert_success
	assert_output "$(cat want)"
	# names inside longer words
	gnu --header : --colsep , echo 'file-{name}.{kind}' :::: in >want
	run --separate-stderr ppool --header=: -C , -o raw -- echo 'file-{name}.{kind}' <in
	assert_success
	assert_output "$(cat want)"
}

@test "--header : with -L and no --colsep: the first line names the one column, as GNU parallel" {
	need_parallel
	printf '%s\n' 'file' 'a b.txt' 'c' >in
	gnu -q --header : printf '<%s|%s>\n' {file} {} :::: in >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool --header : -L -o raw -- printf '<%s|%s>\n' {file} {} <in
	assert_success
	assert_output "$(cat want)"
}

@test "--header : with ::: and :::: sources: each source's first value names it, as GNU parallel" {
	need_parallel
	gnu -q --header : printf '<%s|%s>\n' {y} {x} ::: x 1 2 ::: y a b >want
	assert_equal "$(wc -l <want)" 4
	run --separate-stderr ppool --header : -o raw -- printf '<%s|%s>\n' {y} {x} ::: x 1 2 ::: y a b
	assert_success
	assert_output "$(cat want)"
	printf '%s\n' num 1 2 3 >vals
	gnu -q --header : printf '<%s|%s>\n' {num} {w} :::: vals ::: w p >want
	assert_equal "$(wc -l <want)" 3
	run --separate-stderr ppool --header : -o raw -- printf '<%s|%s>\n' {num} {w} :::: vals ::: w p
	assert_success
	assert_output "$(cat want)"
}

@test "--header : with --csv: quoted names and fields, as GNU parallel --csv" {
	need_parallel_csv
	printf '%s\n' 'name,"the size"' '"b,ar",2' 'foo,"1 ""x"""' >in
	gnu -q --header : --csv printf '<%s|%s>\n' {name} {2} :::: in >want
	assert_equal "$(wc -l <want)" 2
	run --separate-stderr ppool --header : --csv -o raw -- printf '<%s|%s>\n' {name} {2} <in
	assert_success
	assert_output "$(cat want)"
}

@test "--header : with --csv: {name} is the field of that column, as Python's csv module reads it" {
	printf '%s\n' 'id,text,n' '1,"a, b",x' '2,"multi' 'line","q""q"' >in
	run --separate-stderr ppool --header : --csv -o raw -- printf '<%s|%s|%s>' {n} {text} {id} <in
	assert_success
	assert_output "$(python3 -c '
import csv, sys
rows = list(csv.reader(open("in", newline="")))
for r in rows[1:]:
    sys.stdout.write("<%s|%s|%s>" % (r[2], r[1], r[0]))')"
	assert_output "$(printf '<x|a, b|1><q"q|multi\nline|2>')"
}

@test "--header : with a {name} that names no column: exit 255 before anything runs, listing the columns" {
	printf '%s\n' 'alpha,beta' '1,2' >in
	run --separate-stderr ppool --header : -C , -- touch ran {gamma} <in
	assert_refused
	stderr_has "gamma"
	stderr_has "alpha"
	stderr_has "beta"
	# --csv, and a name inside a longer word
	run --separate-stderr ppool --header : --csv -- touch ran 'x{gamma}' <in
	assert_refused
	stderr_has "gamma"
	stderr_has "alpha"
	# ::: sources
	run --separate-stderr ppool --header : -- touch ran {gamma} ::: alpha 1 2 ::: beta 3
	assert_refused
	stderr_has "gamma"
	stderr_has "alpha"
	stderr_has "beta"
	assert_file_not_exists ran
}

@test "--header : a row with fewer fields than the header is an error record; the other rows run" {
	printf '%s\n' 'a,b,c' '1,2,3' '4,5' '6,7,8' >in
	run --separate-stderr ppool --header : -C , -- sh -c 'echo "$1" >>ran; echo "$1"' sh {a} <in
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,false] [3,true] '
	[[ $(record 2 | jq -r .error) == *"row has 2 fields, the header 3" ]] || fail "record 2: $(record 2)"
	assert_equal "$(sort ran)" "$(printf '1\n6')"
	# --csv too
	run --separate-stderr ppool --header : --csv -o raw -- echo {c} <in
	assert_failure 1
	assert_output "$(printf '3\n8')"
	stderr_has "row has 2 fields, the header 3"
}

@test "{name} of a JSON object task is its member: strings as they are, other values as their JSON text" {
	printf '%s\n' '{"name":"a b\tc \"q\" é","n":12345678901234567890,"f":1.50,"o":{"k": [1, 2]},"t":true,"z":null,"a-b_c":"dash","s":""}' >in
	run --separate-stderr ppool -o raw -- printf '<%s>\n' {name} {n} {f} {o} {t} {z} {a-b_c} {s} <in
	assert_success
	assert_output "$(printf '<%s>\n' "$(printf 'a b\tc "q" é')" 12345678901234567890 1.50 '{"k": [1, 2]}' true null dash '')"
	# inside longer words, and as the resolved argv
	run --separate-stderr ppool --dry-run -- cmd '--n={n}' '{t}-{a-b_c}' <in
	assert_success
	assert_output '{"seq":1,"cmd":["cmd","--n=12345678901234567890","true-dash"]}'
}

@test "{} of a JSON object task is the object's JSON text" {
	local obj='{"x":1,"y":["a", "b"],"name":"v"}'
	printf '%s\n' "$obj" >in
	run --separate-stderr ppool -o raw -- printf '<%s>' {} {name} <in
	assert_success
	assert_output "<$obj><v>"
	# an object with "args": {} is those arguments
	printf '%s\n' '{"args":["p","q r"]}' >in
	run --separate-stderr ppool -o raw -- printf '<%s>' {} <in
	assert_success
	assert_output '<p><q r>'
}

@test "{name}: member names are compared after decoding their escapes" {
	printf '%s\n' '{"n\u0061me":"v","\u00e9t\u00e9":"summer"}' >in
	run --separate-stderr ppool -o raw -- printf '<%s>' {name} <in
	assert_success
	assert_output '<v>'
}

@test "{name}: a missing member is that task's error record; the other tasks run" {
	printf '%s\n' '{"name":"a"}' '{"other":"b"}' '{"name":"c","z":null}' >in
	run --separate-stderr ppool -j 1 -- sh -c 'echo "$1" >>ran; echo "$1"' sh {name} <in
	assert_failure 1
	assert_records_valid
	assert_seqs_in_order 3
	assert_equal "$(jqo -c '[.seq, .ok]' | tr '\n' ' ')" '[1,true] [2,false] [3,true] '
	[[ $(record 2 | jq -r .error) == *'no member "name" for '*'{name}' ]] || fail "record 2: $(record 2)"
	assert_equal "$(record 2 | jq -c '[.attempts, has("exit")]')" '[0,false]'
	assert_equal "$(cat ran)" "$(printf 'a\nc')"
	# -o raw: the error on stderr, nothing on stdout for it
	run --separate-stderr ppool -j 1 -o raw -- echo {name} <in
	assert_failure 1
	assert_output "$(printf 'a\nc')"
	stderr_has 'no member "name" for '
}
