#!/usr/bin/env bats
# pipe.bats: a stream cut into blocks (--pipe, --pipepart, --block, --recend,
# --recstart, --round-robin).  Where ppool copies GNU parallel, the expected
# output is GNU parallel's, on the same input, in the same test: each block's
# md5sum, in block order, tells where every block starts and ends.  Past
# that: no record is ever split, the bytes arrive whole and in order (NUL
# bytes too), the joblog knows each block by its offset and length, a
# command that leaves its block unread fails that block only, and a slow
# command holds the input back instead of ppool's memory growing.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# What a command prints after its block in the tests that take the blocks
# apart again (no input here holds an '@').
SEP='@@end-of-block-5f1c@@'

# as_gnu FILE ARG...: FILE cut with ARG... (--block, --recend, ...), each
# block's md5sum in block order, from ppool and from GNU parallel: ppool's
# --pipe from a pipe, from a file (< FILE) and from -a FILE against GNU's
# --pipe (< FILE), ppool's --pipepart -a FILE against GNU's.  Fails unless
# each is GNU's output and ppool said nothing on stderr; MIN_BLOCKS
# (default 3) is the least number of blocks GNU parallel must have made,
# so that the comparison says something.  (GNU parallel takes about 0.1 s
# a block: the inputs here make about ten.)
as_gnu() {
	local f=$1 mode st
	shift
	gnu -j 8 --pipe "$@" md5sum <"$f" >want.file
	cp want.file want.pipe
	cp want.file want.a
	gnu -j 8 --pipepart -a "$f" "$@" md5sum >want.part
	for mode in pipe file a part; do
		st=0
		case $mode in
		pipe) cat "$f" | "$PPOOL" --pipe "$@" -o raw -- md5sum >got 2>err || st=$? ;;
		file) "$PPOOL" --pipe "$@" -o raw -- md5sum <"$f" >got 2>err || st=$? ;;
		a) "$PPOOL" --pipe -a "$f" "$@" -o raw -- md5sum </dev/null >got 2>err || st=$? ;;
		part) "$PPOOL" --pipepart -a "$f" "$@" -o raw -- md5sum >got 2>err || st=$? ;;
		esac
		(($(wc -l <want.$mode) >= ${MIN_BLOCKS:-3})) ||
			fail "GNU parallel made $(wc -l <want.$mode) blocks ($mode: $*): the input is too small"
		[[ $st == 0 ]] || fail "ppool exited $st ($mode: $*): $(cat err)"
		[[ ! -s err ]] || fail "ppool said on stderr ($mode: $*): $(cat err)"
		cmp -s got want.$mode || {
			diff want.$mode got | head -10 >&2
			fail "the blocks are not GNU parallel's ($mode: $*)"
		}
	done
}

# awkward_lines N SEED: N lines of 0 to 300 bytes, any byte but '\n' and
# '@' (NUL bytes and bytes past 127 among them), the last one without its
# newline.
awkward_lines() {
	python3 - "$1" "$2" <<'EOF'
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(seed)
alphabet = bytes(b for b in range(256) if b not in (10, 64))
lines = [bytes(r.choice(alphabet) for _ in range(r.choice((0, 1, 5, 40, 120, 300))))
         for _ in range(n)]
sys.stdout.buffer.write(b"\n".join(lines) + b"tail without a newline")
EOF
}

# check_blocks INPUT OUT SIZE: OUT is the -o raw output of commands that
# each printed their block, then $SEP.  Checks that the blocks, in order,
# are INPUT byte for byte; that each one but the last ends with a newline
# (no line is split); and that a block longer than SIZE holds a line
# longer than SIZE (only such a line makes a block grow).  Prints the number
# of blocks.
check_blocks() {
	python3 - "$1" "$2" "$3" "$SEP" <<'EOF'
import sys
inp = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
size, sep = int(sys.argv[3]), sys.argv[4].encode()
parts = out.split(sep)
if parts[-1] != b"":
    sys.exit("the output does not end with a block's end: %r" % parts[-1][-80:])
blocks = parts[:-1]
if b"".join(blocks) != inp:
    sys.exit("the blocks together (%d bytes) are not the input (%d bytes)"
             % (sum(map(len, blocks)), len(inp)))
for i, b in enumerate(blocks):
    if not b:
        sys.exit("block %d is empty" % (i + 1))
    if i < len(blocks) - 1 and not b.endswith(b"\n"):
        sys.exit("block %d ends inside a line: %r" % (i + 1, b[-40:]))
    if len(b) > size and max(map(len, b.split(b"\n"))) < size:
        sys.exit("block %d has %d bytes, over --block, without a long line"
                 % (i + 1, len(b)))
print(len(blocks))
EOF
}

# joblog_spans FILE: the joblog's blocks, "OFFSET BYTES" a line, by seq.
joblog_spans() {
	tail -n +2 "$1" | sort -n -k1,1 | cut -f9 | jq -r '"\(.offset) \(.bytes)"'
}

# assert_spans_cover SIZE: the spans on stdin follow each other from
# offset 0 without a gap and add up to SIZE bytes.
assert_spans_cover() {
	local bad
	bad=$(awk -v size="$1" '
		$1 != at { print "block " NR " at " $1 ", expected " at; exit }
		$2 <= 0 { print "block " NR " has " $2 " bytes"; exit }
		{ at += $2 }
		END { if (at != size) print "the blocks add up to " at " bytes, not " size }')
	assert_equal "$bad" ""
}

# size FILE: FILE's size in bytes.
size() {
	stat -c %s "$1"
}

# --- cutting as GNU parallel does ---------------------------------------

@test "--pipe and --pipepart cut lines where GNU parallel cuts them: pipe, file, -a FILE" {
	need_parallel
	seq 20000 >f
	as_gnu f --block 10k
	# K is 1024, k is 1000: other cuts
	as_gnu f --block 10K
	as_gnu f --block 7777
	# lines of varied lengths
	awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) {
		s = i; n = int(rand() * 90); for (j = 0; j < n; j++) s = s "x"; print s } }' >g
	as_gnu g --block 20k
}

@test "PPOOL_NO_SPLICE: blocks copied through a buffer, not spliced, are the same (--pipepart, --pipe <file)" {
	need_parallel
	# Blocks of up to 300 KiB: a copy moves 64 KiB, and the pipe may take
	# part of one.
	awk 'BEGIN { for (i = 0; i < 200000; i++) print i, i * 7 }' >f
	local want
	want=$(gnu --pipepart -a f --block 300k md5sum)
	run --separate-stderr env PPOOL_NO_SPLICE=1 "$PPOOL" --pipepart -a f --block 300k -o raw -- md5sum
	assert_success
	assert_equal "$output" "$want"
	if command -v strace >/dev/null; then
		# It did not splice; without the variable it does.  (LeakSanitizer
		# cannot run under ptrace.)
		local asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
		ASAN_OPTIONS=$asan PPOOL_NO_SPLICE=1 strace -f -qq -e trace=splice -o st "$PPOOL" --pipepart -a f --block 300k -o raw -- md5sum >/dev/null
		assert_equal "$(grep -c 'splice(' st)" 0
		ASAN_OPTIONS=$asan strace -f -qq -e trace=splice -o st "$PPOOL" --pipepart -a f --block 300k -o raw -- md5sum >/dev/null
		(($(grep -c 'splice(' st) > 0)) || fail "no splice without PPOOL_NO_SPLICE"
	fi
	want=$(gnu --pipe --block 300k md5sum <f)
	run --separate-stderr env PPOOL_NO_SPLICE=1 "$PPOOL" --pipe --block 300k -o raw -- md5sum <f
	assert_success
	assert_equal "$output" "$want"
}

@test "--recend '\\n\\n': paragraphs as records, as GNU parallel" {
	need_parallel
	awk 'BEGIN { srand(2); for (i = 0; i < 600; i++) {
		n = 1 + int(rand() * 4)
		for (j = 0; j < n; j++) print "p" i " line " j " " substr("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, int(rand() * 40))
		print "" } }' >para
	as_gnu para --block 10k --recend '\n\n'
}

@test "--recstart '>': FASTA-like records, as GNU parallel; with --recend '\\n' too" {
	need_parallel
	# a '>' inside a header line is a record start for --recstart alone
	# (which makes --recend empty), not for --recend '\n' --recstart '>'
	awk 'BEGIN { srand(3); for (i = 0; i < 1500; i++) {
		print ">seq" i (i % 7 == 0 ? " a>b" : "")
		n = 1 + int(rand() * 3)
		for (j = 0; j < n; j++) print substr("ACGTTGCAACGTAGCTAGCTAGGATCGATCGATCGATTACGATCGA", 1, 1 + int(rand() * 45)) } }' >fa
	as_gnu fa --block 10k --recstart '>'
	as_gnu fa --block 10k --recend '\n' --recstart '>'
	# the two cut differently here, or the test above shows nothing
	"$PPOOL" --pipe --block 10k --recstart '>' -o raw -- md5sum <fa >alone
	"$PPOOL" --pipe --block 10k --recend '\n' --recstart '>' -o raw -- md5sum <fa >both
	! cmp -s alone both || fail "--recstart alone cuts as --recend '\\n' --recstart '>'"
}

@test "multi-byte --recend and --recstart, alone and together, as GNU parallel" {
	need_parallel
	python3 -c '
import random
r = random.Random(4)
s = ""
for i in range(1500):
    s += "<rec id=%d>" % i + "".join(r.choice("ab<>\n") for _ in range(r.randint(0, 60))) + "</rec>\r\n"
open("multi", "w").write(s)'
	as_gnu multi --block 7k --recend '</rec>\r\n'
	as_gnu multi --block 7k --recstart '<rec id='
	as_gnu multi --block 7k --recend '\r\n' --recstart '<rec'
	as_gnu multi --block 7k --recend 'c>\r\n<re'
}

@test "--recend '' (and --recend '' --recstart ''): blocks of exactly --block bytes, as GNU parallel" {
	need_parallel
	seq 10000 >f
	as_gnu f --block 9k --recend ''
	as_gnu f --block 4999 --recend '' --recstart ''
	run --separate-stderr ppool --pipe --block 4999 --recend '' --joblog jl -o raw -- wc -c <f
	assert_success
	# every block but the last is 4999 bytes, whatever the lines
	assert_equal "$(head -n -1 <<<"$output" | sort -u)" 4999
	joblog_spans jl | assert_spans_cover "$(size f)"
}

# escaped_records: records in esc, with every byte the escapes name.
escaped_records() {
	python3 -c '
import random
r = random.Random(5)
s = ""
for i in range(2000):
    s += "r%d" % i + "".join(r.choice(["a", "\\", "\"", "'"'"'", "\t", "\r", "q", "\\q", "\n", "\0"]) for _ in range(r.randint(0, 12)))
open("esc", "wb").write(s.encode())'
}

@test "escapes in --recend and --recstart: \\0 \\t \\r, as GNU parallel" {
	need_parallel
	escaped_records
	as_gnu esc --block 2k --recend '\0'
	as_gnu esc --block 2k --recend '\t'
	as_gnu esc --block 2k --recend '\r'
	as_gnu esc --block 2k --recend '\0' --recstart '\t'
}

@test "escapes in --recend: \\\" \\' \\\\, and a backslash before another byte, as GNU parallel" {
	need_parallel
	escaped_records
	as_gnu esc --block 2k --recend '\"'
	as_gnu esc --block 2k --recend "\\'"
	as_gnu esc --block 2k --recend '\\'
	as_gnu esc --block 2k --recend '\q'
	as_gnu esc --block 2k --recend '\\\n'
}

@test "a final record without its record end, and a block bigger than the input, as GNU parallel" {
	need_parallel
	{
		seq 5000
		printf 'the last line has no newline'
	} >nonl
	as_gnu nonl --block 3k
	awk 'BEGIN { for (i = 0; i < 400; i++) printf "p%d\nline\n\n", i
		printf "the last paragraph\nhas no end\n" }' >para
	as_gnu para --block 1k --recend '\n\n'
	# --block 1M over 24 kB: one block, the whole input
	MIN_BLOCKS=1 as_gnu nonl --block 1M
	assert_equal "$(wc -l <got)" 1
	assert_equal "$(cut -d ' ' -f 1 got)" "$(md5sum <nonl | cut -d ' ' -f 1)"
}

@test "empty input: no block, no task, nothing printed, exit 0, as GNU parallel" {
	need_parallel
	: >empty
	gnu --pipe wc -l <empty >want
	gnu --pipepart -a empty wc -l >>want
	assert_equal "$(cat want)" ""
	run --separate-stderr ppool --pipe -- wc -l <empty
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run --separate-stderr ppool --pipe -o raw -- wc -l <empty
	assert_success
	assert_output ""
	run --separate-stderr ppool --pipe -a empty -- wc -l
	assert_success
	assert_output ""
	run --separate-stderr ppool --pipepart -a empty -- wc -l
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run --separate-stderr ppool --pipe --joblog jl -- wc -l < <(cat empty)
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	# the joblog has its header and no task
	assert_equal "$(wc -l <jl)" 1
}

# --- records, order, joblog, --resume ----------------------------------

@test "-o raw prints the blocks' outputs in block order with -j 1 to 4, as GNU parallel" {
	need_parallel
	seq 30000 >f
	gnu --pipe --block 10k md5sum <f >want
	gnu --pipepart -a f --block 10k md5sum >want.part
	(($(wc -l <want) > 15))
	# blocks whose md5 starts with 0-7 take longer: they end out of order
	local j cmd='x=$(md5sum); case $x in [0-7]*) sleep 0.02 ;; esac; echo "$x"'
	for j in 1 2 3 4; do
		run --separate-stderr ppool -j "$j" --pipe --block 10k -o raw -- sh -c "$cmd" <f
		assert_success
		assert_equal "$stderr" ""
		assert_output "$(cat want)"
		run --separate-stderr ppool -j "$j" --pipepart -a f --block 10k -o raw -- sh -c "$cmd"
		assert_success
		assert_output "$(cat want.part)"
	done
}

@test "JSON records: one per block, seq 1..N in order, ok, exit 0, stdout the block's output" {
	need_parallel
	seq 20000 >f
	gnu --pipe --block 8k md5sum <f >want
	local n
	n=$(wc -l <want)
	((n > 10))
	run --separate-stderr ppool -j 4 --pipe --block 8k -- md5sum <f
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order "$n"
	assert_equal "$(jqo 'select(.ok != true or .exit != 0) | .seq')" ""
	assert_equal "$(jqo -j .stdout)" "$(cat want)"
	assert_equal "$(jqo -j .stderr)" ""
	# a failing block is a failed record in its place; the others go on
	run --separate-stderr ppool --pipe --block 8k -- sh -c 'if grep -qx 15000; then exit 5; fi' <f
	assert_failure 1
	assert_seqs_in_order "$n"
	assert_equal "$(jqo 'select(.ok == false) | "\(.exit) \(.error)"')" "5 exited with status 5"
}

@test "joblog: the task is {\"offset\":O,\"bytes\":N}, GNU parallel's blocks, adding up to the file" {
	need_parallel
	awk 'BEGIN { srand(9); for (i = 0; i < 6000; i++) {
		s = i; n = int(rand() * 30); for (j = 0; j < n; j++) s = s "y"; print s } }' >f
	gnu --pipe --block 10k wc -c <f >want
	gnu --pipepart -a f --block 10k wc -c >want.part
	(($(wc -l <want) > 10))
	local how
	for how in pipe file part; do
		rm -f jl
		case $how in
		pipe) cat f | "$PPOOL" -j 3 --pipe --block 10k --joblog jl -- sh -c 'cat >/dev/null' >out ;;
		file) "$PPOOL" -j 3 --pipe --block 10k --joblog jl -- sh -c 'cat >/dev/null' <f >out ;;
		part) "$PPOOL" -j 3 --pipepart -a f --block 10k --joblog jl -- sh -c 'cat >/dev/null' >out ;;
		esac
		assert_equal "$(head -1 jl | cut -f9)" Task
		# the task column is exactly that object
		assert_equal "$(tail -n +2 jl | cut -f9 | grep -cvE '^\{"offset":[0-9]+,"bytes":[0-9]+\}$')" 0
		joblog_spans jl | assert_spans_cover "$(size f)"
		if [[ $how == part ]]; then
			assert_equal "$(joblog_spans jl | cut -d ' ' -f 2)" "$(cat want.part)"
		else
			assert_equal "$(joblog_spans jl | cut -d ' ' -f 2)" "$(cat want)"
		fi
	done
}

@test "--resume-failed runs only the block that failed; --resume only blocks not finished" {
	seq 1000 | sed 's/^600$/MRK/' >in
	# each command logs its block's first line to seen; the block holding
	# MRK fails until the file fixed exists
	local cmd='data=$(cat); printf "%s\n" "$data" | head -n 1 >>"$0/seen"
		case $data in *MRK*) [ -e "$0/fixed" ] || exit 3 ;; esac
		printf "%s\n" "$data" | wc -l'
	run --separate-stderr ppool --pipe --block 1k --joblog jl -- sh -c "$cmd" "$BATS_TEST_TMPDIR" <in
	assert_failure 1
	assert_seqs_in_order 4
	assert_equal "$(jqo 'select(.ok == false) | .seq')" 3
	assert_equal "$(sort -n seen)" "$(printf '1\n278\n528\n778')"
	assert_equal "$(tail -n +2 jl | cut -f1,4 | sort -n)" "$(printf '1\t0\n2\t0\n3\t3\n4\t0')"
	cp jl jl.first

	# --resume-failed: block 3 again, and only it
	: >seen
	touch fixed
	run --separate-stderr ppool --pipe --block 1k --joblog jl --resume-failed -- sh -c "$cmd" "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_equal "$(cat seen)" 528
	assert_equal "$(jqo -c '[.seq, .ok, .stdout]')" '[3,true,"250\n"]'
	assert_equal "$(tail -1 jl | cut -f1,4,9)" "$(printf '3\t0\t{"offset":2000,"bytes":1000}')"

	# --resume: everything finished, nothing runs
	: >seen
	run --separate-stderr ppool --pipe --block 1k --joblog jl --resume -- sh -c "$cmd" "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_output ""
	assert_equal "$(cat seen)" ""

	# --resume with block 2 missing from the joblog: block 2 only (block 3
	# failed, but it finished)
	grep -v '"offset":1000,' jl.first >jl
	run --separate-stderr ppool --pipe --block 1k --joblog jl --resume -- sh -c "$cmd" "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_equal "$(cat seen)" 278
	assert_equal "$(jqo .seq)" 2

	# another --block makes other blocks: block 1 (offset 0, another
	# length) is not the one the joblog finished
	: >seen
	run --separate-stderr ppool --pipe --block 2k --joblog jl --resume -- sh -c "$cmd" "$BATS_TEST_TMPDIR" <in
	assert_success
	# blocks run two at a time: block 1's line is not always first
	assert_equal "$(sort -n seen | head -1)" 1
	# and --pipepart resumes by the same rule
	rm -f jl
	: >seen
	rm fixed
	run --separate-stderr ppool --pipepart -a in --block 1k --joblog jl -- sh -c "$cmd" "$BATS_TEST_TMPDIR"
	assert_failure 1
	local failed
	failed=$(jqo 'select(.ok == false) | .seq')
	touch fixed
	: >seen
	run --separate-stderr ppool --pipepart -a in --block 1k --joblog jl --resume-failed -- sh -c "$cmd" "$BATS_TEST_TMPDIR"
	assert_success
	assert_equal "$(jqo .seq)" "$failed"
	assert_equal "$(wc -l <seen)" 1
}

# --- no record split, bytes whole --------------------------------------

@test "no line is ever split: binary lines (NUL bytes, no final newline) arrive whole, in order, byte for byte" {
	awkward_lines 8000 11 >in
	(($(size in) > 500000))
	local how n max
	for how in pipe file part; do
		case $how in
		pipe) cat in | "$PPOOL" -j 4 --pipe --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" >out ;;
		file) "$PPOOL" -j 4 --pipe --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" <in >out ;;
		part) "$PPOOL" -j 4 --pipepart -a in --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" >out ;;
		esac
		# --pipe: at most --block bytes; --pipepart: up to a line more
		max=10000
		[[ $how != part ]] || max=10301
		n=$(check_blocks in out "$max") || fail "$how: $n"
		((n > 40)) || fail "$how: only $n blocks"
	done
	# the same through files each command writes: every one holds whole
	# lines, and together (by the joblog's offsets) they are the input
	mkdir blocks
	"$PPOOL" -j 4 --pipe --block 10k --joblog jl -- sh -c 'cat >"$(mktemp "$0/b.XXXXXX")"' blocks <in >out
	joblog_spans jl | assert_spans_cover "$(size in)"
	python3 - <<'EOF' || fail "the blocks' files are not the joblog's spans of the input"
import glob, json
inp = open("in", "rb").read()
files = sorted(open(f, "rb").read() for f in glob.glob("blocks/b.*"))
spans = []
for line in open("jl").read().splitlines()[1:]:
    t = json.loads(line.split("\t")[8])
    spans.append(inp[t["offset"]:t["offset"] + t["bytes"]])
assert sorted(spans) == files, "contents differ"
for line in open("jl").read().splitlines()[1:]:
    t = json.loads(line.split("\t")[8])
    end = t["offset"] + t["bytes"]
    assert end == len(inp) or inp[end - 1:end] == b"\n", "a block ends inside a line"
EOF
}

@test "a record longer than --block: its block grows to hold it whole, said once on stderr (--pipe)" {
	{
		seq 1000
		printf '%30000s\n' | tr ' ' a
		seq 200
		printf '%50000s\n' | tr ' ' b
		seq 100
		printf '%20000s\n' | tr ' ' c
		printf '%25000s' | tr ' ' d
	} >in
	local how n msg='ppool: a record is longer than --block (10000 bytes): its block grows to hold it whole (raise --block to avoid this)'
	for how in pipe file; do
		case $how in
		pipe) cat in | "$PPOOL" --pipe --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" >out 2>err ;;
		file) "$PPOOL" --pipe --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" <in >out 2>err ;;
		esac
		n=$(check_blocks in out 10000) || fail "$how: $n"
		assert_equal "$(cat err)" "$msg"
		# each long line, and only it, is its own block
		python3 - "$SEP" <<'EOF' || fail "$how: a long line is not one block of its own"
import sys
blocks = open("out", "rb").read().split(sys.argv[1].encode())[:-1]
for c, n in ((b"a", 30000), (b"b", 50000), (b"c", 20000)):
    assert c * n + b"\n" in blocks, c
assert blocks[-1] == b"d" * 25000
EOF
	done
	# the joblog says the same sizes
	"$PPOOL" --pipe --block 10k --joblog jl -- sh -c 'cat >/dev/null' <in >out 2>err
	joblog_spans jl | assert_spans_cover "$(size in)"
	assert_equal "$(joblog_spans jl | awk '$2 > 10000 { print $2 }')" "$(printf '30001\n50001\n20001\n25000')"
}

@test "a record longer than --block with --pipepart: whole in one block, total bytes kept" {
	{
		seq 1000
		printf '%30000s\n' | tr ' ' a
		seq 200
		printf '%50000s\n' | tr ' ' b
		seq 100
		printf '%25000s' | tr ' ' d
	} >in
	local n
	"$PPOOL" --pipepart -a in --block 10k -o raw -- sh -c 'cat; printf %s "$0"' "$SEP" >out 2>err
	n=$(check_blocks in out 10000) || fail "$n"
	((n >= 3)) || fail "only $n blocks"
	python3 - "$SEP" <<'EOF' || fail "a long line was split"
import sys
blocks = open("out", "rb").read().split(sys.argv[1].encode())[:-1]
for c, n in ((b"a", 30000), (b"b", 50000), (b"d", 25000)):
    assert sum(b.count(c * n) for b in blocks) == 1, c
EOF
	"$PPOOL" --pipepart -a in --block 10k --joblog jl -- sh -c 'cat >/dev/null' >out 2>err
	joblog_spans jl | assert_spans_cover "$(size in)"
}

@test "a record longer than --block with --pipepart: no warning, blocks as GNU parallel's" {
	# --pipepart ends a block at the first record end after --block bytes:
	# every block is longer than --block, a long record only more so.
	# GNU parallel says nothing either.
	need_parallel
	{
		seq 1000
		printf '%30000s\n' | tr ' ' a
		seq 200
		printf '%50000s\n' | tr ' ' b
		seq 100
	} >in
	run --separate-stderr ppool --pipepart -a in --block 10k -o raw -- wc -c
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(gnu --pipepart -a in --block 10k wc -c)"
}

# --- --round-robin -----------------------------------------------------

@test "--round-robin: at most -j records, their wc -l adding up to the input's, as GNU parallel's sum" {
	need_parallel
	seq 200000 >in
	local want how j
	want=$(gnu --pipe --round-robin -j 4 --block 100k wc -l <in | awk '{ s += $1 } END { print s }')
	assert_equal "$want" 200000
	for how in pipe file part; do
		for j in 1 2 4; do
			case $how in
			pipe) run --separate-stderr ppool --pipe --round-robin -j "$j" --block 100k -- wc -l < <(cat in) ;;
			file) run --separate-stderr ppool --pipe --round-robin -j "$j" --block 100k -- wc -l <in ;;
			part) run --separate-stderr ppool --pipepart -a in --round-robin -j "$j" --block 100k -- wc -l ;;
			esac
			assert_success
			assert_equal "$stderr" ""
			assert_records_valid
			# 1.3 MB in blocks of 100 kB: as many commands as -j
			assert_seqs_in_order "$j"
			assert_equal "$(jqo 'select(.ok != true) | .seq')" ""
			assert_equal "$(jqo .stdout | awk '{ s += $1 } END { print s }')" "$want"
		done
	done
	# the joblog knows each command by its number
	"$PPOOL" --pipe --round-robin -j 3 --block 100k --joblog jl -- wc -l <in >out
	assert_equal "$(tail -n +2 jl | cut -f9 | sort)" "$(printf '{"round_robin":%s}\n' 1 2 3)"
}

@test "--round-robin with fewer blocks than -j: one command per block" {
	seq 1000 >in
	run --separate-stderr ppool --pipe --round-robin -j 4 -- wc -l <in
	assert_success
	assert_seqs_in_order 1
	assert_equal "$(jqo .stdout)" 1000
	run --separate-stderr ppool --pipepart -a in --round-robin -j 4 -- wc -l
	assert_success
	assert_seqs_in_order 1
	assert_equal "$(jqo .stdout)" 1000
	# two blocks, -j 4: two commands
	run --separate-stderr ppool --pipe --round-robin -j 4 --block 3000 -- wc -l <in
	assert_success
	assert_seqs_in_order 2
	assert_equal "$(jqo .stdout | awk '{ s += $1 } END { print s }')" 1000
	# no input, no command
	run --separate-stderr ppool --pipe --round-robin -j 4 -- wc -l </dev/null
	assert_success
	assert_output ""
}

@test "--round-robin: the commands get every line once, whole (binary lines too)" {
	awkward_lines 8000 12 >in
	printf '\n' >>in
	local how
	for how in pipe part; do
		rm -rf rr
		mkdir rr
		case $how in
		pipe) cat in | "$PPOOL" --pipe --round-robin -j 3 --block 10k -- sh -c 'cat >"$(mktemp "$0/c.XXXXXX")"' rr >out ;;
		part) "$PPOOL" --pipepart -a in --round-robin -j 3 --block 10k -- sh -c 'cat >"$(mktemp "$0/c.XXXXXX")"' rr >out ;;
		esac
		assert_equal "$(ls rr | wc -l)" 3
		# each command's bytes are whole lines, and all of them are the input's
		python3 - <<'EOF' || fail "$how: the commands' bytes are not the input's lines"
import glob
inp = open("in", "rb").read()
got = [open(f, "rb").read() for f in glob.glob("rr/c.*")]
assert all(g.endswith(b"\n") for g in got if g), "a command's input ends inside a line"
assert sum(map(len, got)) == len(inp), "sizes differ"
assert sorted(b"".join(got).split(b"\n")) == sorted(inp.split(b"\n")), "lines differ"
EOF
	done
}

@test "--round-robin: a command that stops reading fails with its own message" {
	head -c 9000000 /dev/zero | tr '\0' x | fold -w 99 >in
	run --separate-stderr ppool --pipe --round-robin -j 2 --block 1M -- head -c 10 <in
	assert_failure 2
	assert_seqs_in_order 2
	assert_equal "$(jqo 'select(.ok == false and (.error | test("^its stdin was closed before the input ended \\([0-9]+ bytes written to it\\)$"))) | .seq')" "$(seq 2)"
}

# --- a command that leaves its block unread ----------------------------

@test "EPIPE: a command that exits before taking its block fails that block, the run goes on" {
	# lines of 128 bytes: each 4M block is exactly 32768 lines; blocks 1
	# and 3 start with q, blocks 2 and 4 with a
	awk 'BEGIN { l = sprintf("%126s", ""); gsub(/ /, "y", l)
		for (b = 0; b < 3; b++) for (i = 0; i < 32768; i++) print (b == 1 ? "a" : "q") l
		for (i = 0; i < 10; i++) print "a" l }' >in
	assert_equal "$(size in)" $((3 * 4194304 + 1280))
	# a block that starts with q is left unread; the others are read whole
	local how cmd='c=$(head -c 1); [ "$c" = q ] && exit 0; cat >/dev/null'
	for how in pipe file part; do
		case $how in
		pipe) run --separate-stderr ppool --pipe --block 4M -- sh -c "$cmd" < <(cat in) ;;
		file) run --separate-stderr ppool --pipe --block 4M -- sh -c "$cmd" <in ;;
		part) run --separate-stderr ppool --pipepart -a in --block 4194304 -- sh -c "$cmd" ;;
		esac
		assert_failure 2
		assert_seqs_in_order 4
		assert_equal "$(jqo -c '[.seq, .ok, .exit]')" "$(printf '[1,false,0]\n[2,true,0]\n[3,false,0]\n[4,true,0]')"
		# W of N: N the block's size (--pipepart ends a block at the first
		# line end past --block, as GNU parallel: a line later), W what the
		# command's pipe took
		jqo 'select(.ok == false) | .error' >errors
		assert_equal "$(grep -cE '^its stdin was closed before it took its block \([0-9]+ of [0-9]+ bytes written\)$' errors)" 2
		sed -E 's/.*\(([0-9]+) of ([0-9]+).*/\1 \2/' errors >wn
		assert_equal "$(awk '$1 >= $2' wn)" ""
		if [[ $how == part ]]; then
			assert_equal "$(cut -d ' ' -f 2 wn | sort -u)" 4194432
		else
			assert_equal "$(cut -d ' ' -f 2 wn | sort -u)" 4194304
		fi
	done
	# a command that exits non-zero: its status is the error
	run --separate-stderr ppool --pipe --block 4M -- sh -c 'exit 4' <in
	assert_failure 4
	assert_equal "$(jqo 'select(.ok == false) | "\(.exit) \(.error)"' | sort -u)" "4 exited with status 4"
}

# --- memory --------------------------------------------------------------

@test "backpressure: a slow command holds the input back, ppool's memory stays small" {
	skip_under_valgrind "valgrind's own memory counts in the peak RSS"
	seq 3000000 >in
	(($(size in) > 20000000))
	local cmd='sleep 0.2; wc -l'
	# the peak of a run with one tiny block, to compare with
	printf '1\n' | /usr/bin/time -f %M -o rss0 "$PPOOL" --pipe --block 1M -j 2 -- sh -c "$cmd" >out0
	cat in | /usr/bin/time -f %M -o rss "$PPOOL" --pipe --block 1M -j 2 -- sh -c "$cmd" >out
	assert_equal "$(jq -r .stdout out | awk '{ s += $1 } END { print s }')" 3000000
	assert_equal "$(jq -c 'select(.ok != true)' out)" ""
	local peak base
	peak=$(tail -1 rss)
	base=$(tail -1 rss0)
	((peak < 65536)) || fail "ppool's peak RSS was $peak kB for 1M blocks (limit 64 MB)"
	# about (-j + 2) blocks of 1 MB, far from the 22 MB of the input
	((peak < base + 12288)) || fail "ppool's peak RSS was $peak kB, $base kB with one block: it read ahead of its commands"
}

# --- with other options -----------------------------------------------

@test "--results DIR with --pipe: DIR/SEQ/stdout is each block's output" {
	awkward_lines 3000 13 >in
	run --separate-stderr ppool --pipe --block 10k --results res -- cat <in
	assert_success
	local n
	n=$(find res -name stdout | wc -l)
	((n > 10))
	assert_seqs_in_order "$n"
	# the blocks in seq order are the input, byte for byte
	local i
	for ((i = 1; i <= n; i++)); do
		assert_file_exists "res/$i/stdout"
		cat "res/$i/stdout"
	done >joined
	cmp joined in
	# and each one but the last ends with a newline
	for ((i = 1; i < n; i++)); do
		[[ $(tail -c 1 "res/$i/stdout" | od -An -tx1) == *0a* ]] || fail "res/$i/stdout ends inside a line"
	done
}

@test "-t: a block whose command runs too long times out, the others finish" {
	seq 10000 | sed 's/^5000$/MARK/' >in
	local start=$SECONDS nap=29.$$
	# $0 is the test's marker, in each command's sh; $1 a nap of this test's own
	run --separate-stderr ppool -j 4 -t 0.5 --pipe --block 5k --joblog jl -- sh -c 'data=$(cat); case $data in *MARK*) sleep "$1" ;; esac; printf "%s\n" "$data" | wc -l' "$MARKER" "$nap" <in
	assert_failure 1
	(((SECONDS - start) < 20)) || fail "the run took $((SECONDS - start)) s"
	assert_equal "$(jqo 'select(.ok == false) | "\(.signal) \(.error)"')" "SIGTERM timed out after 0.5 s"
	# the timed-out block is the one with MARK; the others counted the rest
	local seq off bytes
	seq=$(jqo 'select(.ok == false) | .seq')
	read -r off bytes < <(joblog_spans jl | sed -n "${seq}p")
	assert_equal "$(tail -c +$((off + 1)) in | head -c "$bytes" | grep -c MARK)" 1
	assert_equal "$(jqo 'select(.ok) | .stdout' | awk '{ s += $1 } END { print s }')" \
		$((10000 - $(tail -c +$((off + 1)) in | head -c "$bytes" | wc -l)))
	# the timeout ended the block's command and what it started
	assert_no_process_left 5
	wait_until 5 eval '! pgrep -f "sleep $nap" >/dev/null'
}

@test "--dry-run: the command of each block, nothing runs" {
	need_parallel
	seq 1000 >in
	local n
	n=$(gnu --pipe --block 1k wc -l <in | wc -l)
	((n > 2))
	run --separate-stderr ppool --dry-run --pipe --block 1k -- sh -c ': >"$0/ran"; wc -l' "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_seqs_in_order "$n"
	assert_equal "$(jqo -c '.cmd' | sort -u)" "$(jq -nc --arg d "$BATS_TEST_TMPDIR" '["sh", "-c", ": >\"$0/ran\"; wc -l", $d]')"
	assert_file_not_exists ran
	run --separate-stderr ppool --dry-run --pipepart -a in --block 1k -- sh -c ': >"$0/ran"; wc -l' "$BATS_TEST_TMPDIR"
	assert_success
	assert_seqs_in_order "$(gnu --pipepart -a in --block 1k wc -l | wc -l)"
	assert_file_not_exists ran
}

# --- usage errors ------------------------------------------------------

@test "--pipe is for command mode: refused with -w, without a COMMAND, with ::: values" {
	run --separate-stderr ppool --pipe -w cat </dev/null
	assert_refused
	stderr_has "--pipe is for command mode: a worker answers one line per task line"
	run --separate-stderr ppool --pipepart -a /etc/passwd -w cat </dev/null
	assert_refused
	stderr_has "--pipe is for command mode"
	run --separate-stderr ppool --pipe </dev/null
	assert_refused
	stderr_has "--pipe gives each block to a COMMAND's stdin: give one (ppool --pipe wc -l)"
	run --separate-stderr ppool --pipe -- echo ::: a b </dev/null
	assert_refused
	stderr_has ":::"
}

@test "--pipe refuses what cuts the input into tasks: -L, -0, --csv, --colsep, --header, -n, -X; and --tag" {
	local opt
	for opt in -L -0 --csv --colsep=, --header=: -n2 -X; do
		run --separate-stderr ppool --pipe "$opt" -- cat </dev/null
		assert_refused
		stderr_has "ppool: ${opt%%[=2]*}"
		stderr_has " cuts the input into tasks; --pipe cuts it into blocks (--recend, --recstart): give one of them"
		run --separate-stderr ppool --pipepart -a /etc/passwd "$opt" -- cat
		assert_refused
		stderr_has "ppool: ${opt%%[=2]*}"
		stderr_has " cuts the input into tasks"
	done
	run --separate-stderr ppool --pipe --tag -- cat </dev/null
	assert_refused
	stderr_has "--tag shows a task's arguments; a --pipe block gives none"
}

@test "--pipepart wants -a FILE, a regular file it can open" {
	run --separate-stderr ppool --pipepart -- cat </dev/null
	assert_refused
	stderr_has "--pipepart cuts a file by seeking in it: name it with -a FILE (use --pipe for stdin)"
	run --separate-stderr ppool --pipepart -a missing -- cat
	assert_refused
	stderr_has "ppool: cannot open input file missing: "
	run --separate-stderr ppool --pipepart -a /dev/null -- cat
	assert_refused
	stderr_has "ppool: --pipepart: /dev/null is not a regular file"
	run --separate-stderr ppool --pipepart -a . -- cat
	assert_equal "$status" 255
	assert_output ""
}

@test "--pipepart on a FIFO without a writer: refused at once, not waiting for one" {
	mkfifo fifo
	# nobody writes to it: ppool must not wait for a writer to say no
	run --separate-stderr timeout -k 1 5 "$PPOOL" --pipepart -a fifo -- cat
	assert_refused
	stderr_has "ppool: --pipepart: fifo is not a regular file"
}

@test "--pipepart on a FIFO that has a writer: refused" {
	mkfifo fifo
	# a writer that holds the FIFO open until ppool has answered
	exec 7<>fifo
	run --separate-stderr timeout -k 1 10 "$PPOOL" --pipepart -a fifo -- cat
	exec 7>&-
	assert_refused
	stderr_has "ppool: --pipepart: fifo is not a regular file; it cuts a file by seeking in it"
}

@test "--block, --recend, --recstart, --round-robin without --pipe or --pipepart: refused" {
	local opt
	for opt in --block=1k --recend=x --recstart=x --round-robin; do
		run --separate-stderr ppool "$opt" -- cat </dev/null
		assert_refused
		stderr_has "${opt%%=*} is for --pipe and --pipepart: give one of them"
	done
}

@test "--round-robin with --retries, --memfree, --resume or --resume-failed: refused" {
	run --separate-stderr ppool --pipe --round-robin --retries 1 -- cat </dev/null
	assert_refused
	stderr_has "--round-robin"
	stderr_has "--retries"
	run --separate-stderr ppool --pipe --round-robin --memfree 1G -- cat </dev/null
	assert_refused
	stderr_has "--round-robin"
	stderr_has "--memfree"
	# A round-robin record names a command, not the blocks it read.
	run --separate-stderr ppool --pipe --round-robin --joblog jl --resume -- cat </dev/null
	assert_refused
	stderr_has "--resume"
	run --separate-stderr ppool --pipe --round-robin --joblog jl --resume-failed -- cat </dev/null
	assert_refused
	stderr_has "--resume-failed"
	# each alone is fine
	run --separate-stderr ppool --pipe --retries 1 -o raw -- wc -l < <(seq 3)
	assert_success
	assert_output 3
}

@test "--block sizes: 1 to 2147483647 with K M G T k m g t, others refused" {
	local bad
	for bad in 0 5x -1 '' 2147483648 2G 1.5M; do
		run --separate-stderr ppool --pipe --block "$bad" -- cat </dev/null
		assert_refused
		stderr_has "--block"
	done
	run --separate-stderr ppool --pipe --block 0 -- cat </dev/null
	stderr_has "--block must be from 1 to 2147483647, not '0'"
	run --separate-stderr ppool --pipe --block 5x -- cat </dev/null
	stderr_has "--block wants a whole number"
	# the largest, and the suffixes, are taken
	run --separate-stderr ppool --pipe --block 2147483647 -o raw -- wc -l < <(seq 5)
	assert_success
	assert_output 5
	seq 20000 >in
	run --separate-stderr ppool --pipe --block 10k --joblog jl -- sh -c 'cat >/dev/null' <in
	assert_equal "$(joblog_spans jl | awk '$2 > m { m = $2 } END { print (m <= 10000 && m > 9990) }')" 1
	run --separate-stderr ppool --pipe --block 10K --joblog jl2 -- sh -c 'cat >/dev/null' <in
	assert_equal "$(joblog_spans jl2 | awk '$2 > m { m = $2 } END { print (m <= 10240 && m > 10230) }')" 1
	# --block 1: a block a line
	run --separate-stderr ppool --pipe --block 1 -o raw -- wc -c < <(printf 'a\nbb\nccc\n')
	assert_success
	assert_output "$(printf '2\n3\n4')"
}

@test "--recend and --recstart: 1024 bytes together at most" {
	local a b
	a=$(printf '%600s' | tr ' ' a)
	b=$(printf '%425s' | tr ' ' b)
	run --separate-stderr ppool --pipe --recend "$a" --recstart "$b" -- cat </dev/null
	assert_refused
	stderr_has "1024"
	run --separate-stderr ppool --pipe --recend "$a$b" -- cat </dev/null
	assert_refused
	run --separate-stderr ppool --pipe --recend "$a" --recstart "${b%b}" -o raw -- wc -c < <(printf 'x')
	assert_success
	assert_output 1
}
