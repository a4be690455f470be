#!/usr/bin/env bats
# memory.bats: bounded resources: the --window stops reading behind a slow
# head task, a stalled reader of ppool's stdout stops the pool (backpressure),
# ppool waits for its workers without burning CPU, its forks do not make it
# fault on the tasks it holds, and its children do not bind symbols anew.
#
# "Stopped" is read off /proc/PID/io: rchar (bytes ppool has read, from any
# fd) stays the same.  Sizes are read off /proc/PID/status: VmRSS.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# A million tasks through the pool take a while on two slow cores.
BATS_TEST_TIMEOUT=240

# at_least_lines FILE N: FILE exists and has N lines or more.
at_least_lines() {
	[[ -e $1 ]] && (($(wc -l <"$1") >= $2))
}

# assert_small PID: PID's resident set is under the limit.
assert_small() {
	local rss
	rss=$(rss_kb "$1")
	((rss < RSS_LIMIT_KB)) || fail "ppool's VmRSS is $rss kB (limit $RSS_LIMIT_KB kB)"
}

# assert_seqs_contiguous FILE: FILE's records are seq 1..N in order, all ok,
# each with result = seq - 1 (the input was 0, then 1, 2, ... or 1 everywhere
# when $2 is "ones").
assert_records_contiguous() {
	local bad
	bad=$(jq -r --arg mode "${2:-}" 'select(.ok != true or
		($mode == "ones" and .seq > 1 and .result != 1) or
		($mode == "seq" and .result != .seq)) | .seq' "$1" | head -5)
	assert_equal "$bad" ""
	bad=$(jq .seq "$1" | awk '$1 != NR { print NR ": " $1; exit }')
	assert_equal "$bad" ""
}

@test "--window 64: a slow head task stops reading; memory stays bounded" {
	# Task 1 ("0") blocks until $W/go exists; the others, all "1", are
	# answered at once and logged to $W/got.
	local w
	w=$(worker 'while read x; do
		if [ "$x" = 0 ]; then
			: >"$W/started"
			while [ ! -e "$W/go" ]; do sleep 0.05; done
		else
			echo "$x" >>"$W/got"
		fi
		echo "$x"
	done')
	{ echo 0; yes 1; } 3>&- | "$PPOOL" -j 4 --window 64 -w "$w" >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 10 test -e started
	wait_stalled "$pid" 60
	assert_small "$pid"
	local read_bytes
	read_bytes=$(rchar "$pid")
	((read_bytes < 8 * 1024 * 1024)) || fail "ppool read $read_bytes bytes with --window 64"
	# Nothing printed (the head is not done), at most 63 others were run.
	assert_file_empty out
	local ran
	ran=$(wc -l <got)
	((ran <= 63)) || fail "$ran tasks ran behind a blocked head with --window 64"
	# Still stalled, still small.
	wait_stalled "$pid" 60
	assert_equal "$(wc -l <got)" "$ran"
	assert_small "$pid"

	# Release the head: the pool moves on; then stop it.
	: >go
	wait_until 60 at_least_lines out 1000
	kill -TERM "$pid"
	wait_exit "$pid" 30
	assert_equal "$status" 143
	assert_file_empty err
	assert_equal "$(head -1 out | jq -c '[.seq, .ok, .result]')" '[1,true,0]'
	assert_records_contiguous out ones
	assert_no_process_left
}

@test "the --window default holds 1024 tasks behind a slow head task" {
	# No other test would see the default change.  Task 1 blocks until
	# $W/go exists: with no --window, tasks 2..1024 run, 1025 does not.
	seq 3000 >in
	"$PPOOL" -j 4 -w "$(held_worker)" <in >out 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_until 30 at_least_lines got 1024
	wait_stalled "$pid" 60
	assert_file_empty out
	assert_equal "$(wc -l <got)" 1024
	assert_equal "$(sort -n got)" "$(seq 1024)"

	# Release the head: everything is run and printed, in order.
	: >go
	wait_exit "$pid" 60
	assert_equal "$status" 0
	assert_file_empty err
	assert_equal "$(wc -l <out)" 3000
	assert_records_contiguous out seq
	assert_no_process_left
}

@test "backpressure: a stalled reader of stdout stops the pool, nothing is lost, no CPU burnt" {
	mkfifo fifo
	seq 1000000 3>&- | "$PPOOL" -w "$(cat_worker)" >fifo 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	# Open the FIFO (so ppool starts) but read nothing from it yet.
	exec 5<fifo
	wait_stalled "$pid" 60
	assert_small "$pid"
	local read_bytes ticks ms
	read_bytes=$(rchar "$pid")
	((read_bytes < 8 * 1024 * 1024)) || fail "ppool read $read_bytes bytes while stdout was stalled"
	# Stalled, it sleeps until stdout is writable: it once polled with a
	# zero timeout all along, a whole CPU.
	ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	wait_stalled "$pid" 60
	ms=$((($(awk '{ print $14 + $15 }' "/proc/$pid/stat") - ticks) * 1000 / $(getconf CLK_TCK)))
	((ms < 200)) || fail "stalled for a second or more, ppool used $ms ms of CPU"
	assert_small "$pid"

	# Now read everything.
	cat <&5 >out
	exec 5<&-
	wait_exit "$pid" 180
	assert_equal "$status" 0
	assert_file_empty err
	assert_equal "$(wc -l <out)" 1000000
	assert_records_contiguous out seq
	assert_no_process_left
}

@test "backpressure with -o raw: nothing lost, nothing reordered" {
	mkfifo fifo
	seq 300000 >in
	"$PPOOL" -o raw -j 3 --inflight 4 -w "$(cat_worker)" <in >fifo 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	exec 5<fifo
	wait_stalled "$pid" 60
	assert_small "$pid"
	cat <&5 >out
	exec 5<&-
	wait_exit "$pid" 120
	assert_equal "$status" 0
	cmp in out
}

@test "2>&1 into a pipe: stdout's non-blocking mode does not reach stderr or the workers" {
	# ppool's stdout is made non-blocking; were it the description that fd 2
	# shares after 2>&1, a worker's stderr would be non-blocking too.
	local w='read l; awk "/^flags/ { print \$2 }" /proc/self/fdinfo/2; cat >/dev/null'
	"$PPOOL" -o raw -w "$w" <<<'1' 2>&1 3>&- | cat >out
	assert_equal "$(wc -l <out)" 1
	(((8#$(cat out) & 8#4000) == 0)) || fail "the worker's stderr has O_NONBLOCK: flags $(cat out)"
}

@test "stdout and stderr one socket (systemd's journal): the workers' stderr stays blocking, nothing lost" {
	# A socket got O_NONBLOCK on its shared description: of 5 MB a worker
	# wrote to stderr, 200 KB arrived.  It is written with MSG_DONTWAIT now.
	local w='read l; awk "/^flags/ { print \$2 }" /proc/self/fdinfo/2;
		{ head -c 3000000 /dev/zero | tr "\\0" x; echo; } >&2; cat >/dev/null'
	run python3 - "$PPOOL" "$w" <<'SOCKEOF'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-o", "raw", "-w", sys.argv[2]],
                     stdin=subprocess.PIPE, stdout=b, stderr=b)
b.close()
p.stdin.write(b"1\n")
p.stdin.close()
data = b""
while True:
    c = a.recv(1 << 20)
    if not c:
        break
    data += c
rc = p.wait()
lines = data.replace(b"x", b"").split()
print(rc, data.count(b"x"), lines[0].decode() if lines else "-")
SOCKEOF
	assert_success
	local rc xs flags
	read -r rc xs flags <<<"$output"
	assert_equal "$rc" 0
	assert_equal "$xs" 3000000
	(((8#$flags & 8#4000) == 0)) || fail "the worker's stderr has O_NONBLOCK: flags $flags"
}

@test "stdout opened read-write on a fifo (1<>fifo): a record written before the reader comes is kept" {
	# ppool's own end is the fifo's only reader until head opens it: a new
	# write-only description in its place left none, and the first record
	# met EPIPE (exit 141, nothing printed).
	mkfifo ff
	printf '%s\n' '{"cmd":["echo","one"]}' '{"cmd":"while [ ! -e go ]; do sleep 0.05; done; echo two"}' >in
	"$PPOOL" -j 1 -o raw <in 1<>ff 2>err 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	wrote() { (($(awk '/^wchar/ { print $2 }' "/proc/$pid/io") > 0)); }
	wait_until 20 wrote
	# The reader opens the fifo before task 2 may end: when ppool exits
	# with no reader there, the fifo and what is in it are gone (a busy
	# machine once let head come too late).
	exec 5<ff
	timeout 20 head -n 2 <&5 >out &
	local reader=$!
	exec 5<&-
	touch go
	wait "$reader"
	assert_equal "$(cat out)" "$(printf 'one\ntwo')"
	wait_exit "$pid" 20
	assert_equal "$status" 0
}

@test "2>&1 into a stalled pipe: the commands' stderr is all there once read (-o raw)" {
	mkfifo fifo
	echo '{"cmd":"head -c 300000 /dev/zero | tr \"\\0\" e >&2; echo out"}' >in
	"$PPOOL" -o raw <in >fifo 2>&1 3>&- &
	local pid=$!
	BG_PIDS+=("$pid")
	exec 5<fifo
	wait_stalled "$pid" 60
	cat <&5 >out
	exec 5<&-
	wait_exit "$pid" 60
	assert_equal "$status" 0
	assert_equal "$(tr -d '\n' <out | wc -c)" 300003
	assert_equal "$(tr -cd e <out | wc -c)" 300000
}

@test "waiting for slow workers costs ppool next to no CPU (no busy loop)" {
	# 500 tasks of about 5 ms each, 2 at a time: ppool spends most of the
	# run waiting.  The last task is held until ppool's own CPU time has
	# been read (utime + stime in /proc/PID/stat).  A poll loop that wakes
	# for nothing (it once watched a ready stdout while records waited for
	# company) burnt about 0.8 ms per record here: 400 ms.
	local w pid ticks ms
	w=$(worker 'while read x; do
		if [ "$x" = 500 ]; then
			: >"$W/started"
			while [ ! -e "$W/go" ]; do sleep 0.05; done
		fi
		sleep 0.005
		echo "$x"
	done')
	seq 500 | "$PPOOL" -j 2 -w "$w" >out 2>err &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 120 at_least_lines out 499
	wait_until 30 test -e started
	ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	ms=$((ticks * 1000 / $(getconf CLK_TCK)))
	: >go
	wait_exit "$pid" 60
	assert_equal "$status" 0
	assert_equal "$(wc -l <out)" 500
	((ms < 200)) || fail "ppool used $ms ms of CPU to wait for 500 tasks"
}

# held_start N ARGS...: start "seq N | ppool ARGS -o raw -w W" in the
# background, W a held_worker that holds task N until a file "go" exists;
# return once W holds it, with $pid set to ppool's pid.  What
# ppool took so far can then be read off /proc/$pid.
held_start() {
	local n=$1 w
	shift
	rm -f started go got
	w=$(held_worker "$n")
	seq "$n" | "$PPOOL" "$@" -o raw -w "$w" >out 2>err &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 120 test -e started
}

# held_finish N: let the run of held_start N go on; check it.
held_finish() {
	: >go
	wait_exit "$pid" 60
	assert_equal "$status" 0
	seq "$1" | cmp - out
}

# faults_held ARGS...: set $faults to ppool's minor page faults (field 10 of
# /proc/PID/stat) when 40000 tasks through ARGS have all but ended.
faults_held() {
	local pid
	held_start 40000 "$@"
	faults=$(awk '{ print $10 }' "/proc/$pid/stat")
	held_finish 40000
}

@test "tasks in the window cost no copy-on-write faults when workers are forked" {
	# A fresh worker every 1000 tasks: 40 forks of ppool, against one.
	# After a fork every page ppool writes faults once.  Tasks kept in
	# ordinary heap memory (the 1024 of the window, over ~240 pages) made
	# those forks cost ~8,900 faults here; slots in memory that children
	# never get, ~300 (libc, stack and libpipeline: ~10 a fork), ~2,200
	# under AddressSanitizer (its shadow memory is written too).
	local faults once
	faults_held -j 1
	once=$faults
	faults_held -j 1 -r 1000
	((faults - once < 4000)) ||
		fail "40 forks cost ppool $((faults - once)) page faults ($once -> $faults)"
}

@test "ppool binds its symbols at start, so its children do not between fork and exec" {
	# Lazy binding resolves a library function at its first call, in
	# every freshly forked child anew: ~12 of a child's ~32 page faults
	# before exec.  Linked with -z now, ppool resolves them all once.
	command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
	run readelf -d "$PPOOL"
	assert_success
	assert_output --regexp '\(FLAGS\) +BIND_NOW|\(FLAGS_1\) +Flags: [A-Z_ ]*NOW'
}

@test "tasks and replies longer than a slot's own room survive reuse of the slot" {
	# A slot holds a short task and reply in room of its own and borrows
	# heap memory for longer ones; lengths around that room (192 bytes),
	# far beyond it, and short again, through few slots (--window 2).
	local n
	for n in 1 188 189 190 191 192 400 1 5000 0 189 100000 3 190; do
		printf '"%s"\n' "$(head -c "$n" /dev/zero | tr '\0' x)"
	done >in
	run "$PPOOL" -j 1 --window 2 -o raw -w cat <in
	assert_success
	assert_output "$(cat in)"
	run "$PPOOL" -j 2 --window 2 -w cat <in
	assert_success
	assert_equal "$(jq -c .result <<<"$output")" "$(cat in)"
}

@test "--window costs memory for the tasks held, not for its size" {
	# A million slots are ~740 MB; a slot's memory is touched only when a
	# task needs it.  (Touched up front, the 10 tasks here peaked at
	# 736 MB of ppool's resident memory, and took a second to start.)
	local pid hwm
	held_start 10 --window 1000000
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
	held_finish 10
	((hwm < RSS_LIMIT_KB)) ||
		fail "ppool's peak RSS was $hwm kB for 10 tasks (limit $RSS_LIMIT_KB kB)"
}
