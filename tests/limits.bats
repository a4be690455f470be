#!/usr/bin/env bats
# limits.bats: starting only when the machine can take it: --delay, --load,
# --memfree (with the fault shim showing ppool a load and a MemAvailable the
# test sets), and the suffixes of sizes.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# build_fault: compile the shim (tests/fault.c) into $BATS_TEST_TMPDIR and
# fill FAKE with the environment that runs ppool under it, seeing the files
# loadavg and meminfo of the test's directory as /proc's.
build_fault() {
	skip_under_valgrind "LD_PRELOAD would reach the wrapper's shell"
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/fault.so" \
		"$PPOOL_SRCDIR/tests/fault.c" -ldl
	FAKE=(env LD_PRELOAD="$BATS_TEST_TMPDIR/fault.so"
		PPOOL_FAKE_LOADAVG="$BATS_TEST_TMPDIR/loadavg"
		PPOOL_FAKE_MEMINFO="$BATS_TEST_TMPDIR/meminfo"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	set_load 0.00
	set_memavail 8000000
}

# set_load L: the load average ppool sees is L (1, 5 and 15 minutes); the
# file is replaced at once (rename), never seen half written.
set_load() {
	printf '%s %s %s 2/345 6789\n' "$1" "$1" "$1" >loadavg.new
	mv loadavg.new loadavg
}

# set_memavail KB: the MemAvailable ppool sees, in kB (KiB, as /proc says).
set_memavail() {
	printf '%s\n' 'MemTotal:       16000000 kB' 'MemFree:          100000 kB' \
		"MemAvailable:   $(printf '%8s' "$1") kB" 'Buffers:           10000 kB' \
		'Cached:           500000 kB' 'SwapCached:            0 kB' >meminfo.new
	mv meminfo.new meminfo
}

# start_fake ARGS...: ppool ARGS under the shim in the background, stdin
# from in, stdout to out, stderr to err; $pid is ppool's.
start_fake() {
	"${FAKE[@]}" "$PPOOL" "$@" <in >out 2>err 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
}

# task_head: the start of a --memfree test's task script: NAME (after the
# test's marker) counts its attempts in count.NAME and leaves its pid in
# pid.NAME.N, written whole.
task_head() {
	cat <<'SH'
shift # the test's marker
n=$(($(cat "count.$1" 2>/dev/null || echo 0) + 1))
echo "$n" >"count.$1"
echo $$ >"pid.$1.$n.new" && mv "pid.$1.$n.new" "pid.$1.$n"
SH
}

# gaps_at_least MIN FILE: the times in FILE (seconds, one a line), sorted,
# are at least MIN apart; prints the gaps.
gaps_at_least() {
	sort -n "$2" | awk -v min="$1" '
		NR > 1 { gap = $1 - last; printf "%.3f\n", gap; if (gap < min) bad = 1 }
		{ last = $1 }
		END { exit bad }'
}

# The least gap a command's clock may show between two starts --delay 1
# apart: a child runs some ms after its fork (its own time is what the
# tests read; on a busy machine, tens of ms), and under valgrind 0.2-0.3 s
# after, give or take 0.1 s.  Starts with no delay come within ms.
if [[ -n ${PPOOL_UNDER_VALGRIND:-} ]]; then
	DELAY_MIN=0.7
else
	DELAY_MIN=0.8
fi

# --delay

@test "--delay 1: command starts are at least 1 s apart, though -j allows them all at once" {
	# Each command is date itself: the time it prints is its start.  Each
	# task is [], no argument.
	printf '[]\n[]\n[]\n[]\n' >in
	run --separate-stderr ppool -j 4 --delay 1 -o raw -- date +%s.%N <in
	assert_success
	assert_equal "$(wc -l <<<"$output")" 4
	echo "$output" >times
	run gaps_at_least "$DELAY_MIN" times
	assert_success
}

@test "--delay 1 in worker mode: tasks are given to workers at least 1 s apart" {
	seq 5 >in
	# Task 1 is read once the worker has started, which may take longer
	# than a task's way to a running worker: the times of tasks 2-5.
	local w
	w=$(worker 'while read x; do
		[ "$x" = 1 ] || date +%s.%N >>"$W/times"
		echo "$x"
	done')
	run --separate-stderr ppool -j 1 --delay 1 -o raw -w "$w" <in
	assert_success
	assert_output "$(seq 5)"
	assert_equal "$(wc -l <times)" 4
	run gaps_at_least "$DELAY_MIN" times
	assert_success
}

@test "--delay: a bad number of seconds is a usage error" {
	local v
	for v in abc -1 '' 1x; do
		run --separate-stderr ppool --delay "$v" -- true <<<'"x"'
		assert_equal "$status" 255
		assert_output ""
	done
}

# --load

@test "--load 2: nothing starts while the load average is 99; once it drops to 0.1, the task runs" {
	build_fault
	set_load 99.00
	printf '%s\n' '"x"' >in
	start_fake --load 2 -- sh -c ': >ran; echo done' "$MARKER"
	# Nothing to wait on: ppool must do nothing for longer than its 1 s
	# between readings.
	sleep 1.5
	assert_file_not_exists ran
	exited "$pid" && fail "ppool ended while the load was high: $(cat out err)"
	set_load 0.10
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_file_exists ran
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" '[1,true,"done\n",1]'
}

@test "--load 4: a load of exactly 4.00 holds starts back; at 3.99 they go" {
	build_fault
	set_load 4.00
	printf '%s\n' '"x"' >in
	start_fake --load 4 -- sh -c ': >ran' "$MARKER"
	sleep 1.5
	assert_file_not_exists ran
	set_load 3.99
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_file_exists ran
}

@test "--load in worker mode: no task is given to a worker while the load is high" {
	build_fault
	set_load 50.00
	seq 3 >in
	local w
	w=$(worker 'while read x; do echo "$x" >>"$W/got"; echo "$x"; done')
	start_fake -j 2 --load 8 -w "$w"
	sleep 1.5
	assert_file_not_exists got
	set_load 0.50
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .ok, .result]' out)" "$(printf '[%s,true,%s]\n' 1 1 2 2 3 3)"
}

@test "--load above the machine's load and --memfree below its memory hold nothing back (real /proc)" {
	seq 3 >in
	run --separate-stderr timeout 20 "$PPOOL" -j 3 --load 100000 --memfree 1k -o raw -- echo <in
	assert_success
	assert_output "$(seq 3)"
}

@test "--load: a load that is not a number above 0 is a usage error" {
	local v
	for v in abc 0 -1 '' 2x; do
		run --separate-stderr ppool --load "$v" -- sh -c ': >ran' "$MARKER" <<<'"x"'
		assert_equal "$status" 255
		assert_output ""
	done
	assert_file_not_exists ran
}

# --memfree

@test "--memfree 1G: nothing starts while MemAvailable is under 1 GiB; above it, the task runs" {
	build_fault
	# 700000 kB: under SIZE (1048576 kB), above SIZE/2: no kill, no start.
	set_memavail 700000
	printf '%s\n' '"x"' >in
	start_fake --memfree 1G -- sh -c ': >ran; echo done' "$MARKER"
	sleep 1.5
	assert_file_not_exists ran
	exited "$pid" && fail "ppool ended while memory was short: $(cat out err)"
	set_memavail 2000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" '[1,true,"done\n",1]'
}

@test "--memfree: MemAvailable is in KiB: 1048576 kB is 1G, enough for --memfree 1G" {
	build_fault
	set_memavail 1048576
	printf '%s\n' '"ran"' >in
	run --separate-stderr timeout 20 "${FAKE[@]}" "$PPOOL" --memfree 1G -o raw -- echo <in
	assert_success
	assert_output ran
}

@test "--memfree: under SIZE/2 a running task is killed and run again later; its record is ok with attempts 1" {
	build_fault
	set_memavail 4000000
	# Attempt 1 says it runs and waits to be killed; attempt 2 ends.
	cat >task.sh <<'SH'
n=$(($(cat count 2>/dev/null || echo 0) + 1))
echo "$n" >count
echo $$ >"pid.$n.new" && mv "pid.$n.new" "pid.$n"
if [ "$n" = 1 ]; then
	while :; do sleep 0.05; done
fi
echo "attempt $n"
SH
	printf '%s\n' '"x"' >in
	# No --retries: the kill must not use one up.
	start_fake --memfree 1G -- sh task.sh "$MARKER"
	wait_until 20 test -e pid.1
	# 100000 kB is under half of 1 GiB (524288 kB).
	set_memavail 100000
	wait_until 20 exited "$(cat pid.1)"
	# Still short of memory: the task waits in the queue.
	assert_file_not_exists pid.2
	set_memavail 4000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(cat count)" 2
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" '[1,true,"attempt 2\n",1]'
}

@test "--memfree: a task that ignores SIGTERM is killed all the same (SIGKILL), and runs again" {
	build_fault
	set_memavail 4000000
	cat >task.sh <<'SH'
n=$(($(cat count 2>/dev/null || echo 0) + 1))
echo "$n" >count
echo $$ >"pid.$n.new" && mv "pid.$n.new" "pid.$n"
if [ "$n" = 1 ]; then
	trap '' TERM
	while :; do sleep 0.05; done
fi
echo "attempt $n"
SH
	printf '%s\n' '"x"' >in
	start_fake --kill-after 0.3 --memfree 1G -- sh task.sh "$MARKER"
	wait_until 20 test -e pid.1
	set_memavail 100000
	wait_until 20 exited "$(cat pid.1)"
	set_memavail 4000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(cat count)" 2
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" '[1,true,"attempt 2\n",1]'
}

@test "--memfree: of tasks started together, the youngest (the last started) is the one killed" {
	build_fault
	set_memavail 4000000
	# old (task 1, started first) runs until young's first attempt is
	# gone, then ends by itself; young's first attempt waits to be killed.
	{ task_head; cat <<'SH'
case $1.$n in
old.*)
	while [ ! -e pid.young.1 ] || kill -0 "$(cat pid.young.1)" 2>/dev/null; do
		sleep 0.02
	done ;;
young.1)
	while :; do sleep 0.05; done ;;
esac
echo "$1 attempt $n"
SH
	} >task.sh
	printf '%s\n' '"old"' '"young"' >in
	start_fake -j 2 --memfree 1G -- sh task.sh "$MARKER"
	wait_until 20 test -e pid.old.1 -a -e pid.young.1
	set_memavail 100000
	wait_until 20 exited "$(cat pid.young.1)"
	# old ended by itself as soon as young was killed (ppool reads the
	# memory once a second, and nothing else runs to be killed); young
	# waits for memory.
	set_memavail 4000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(cat count.old)" 1
	assert_equal "$(cat count.young)" 2
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" \
		"$(printf '%s\n' '[1,true,"old attempt 1\n",1]' '[2,true,"young attempt 2\n",1]')"
}

@test "--memfree: one kill per look at memory: the next youngest lives on once memory is back over SIZE/2" {
	build_fault
	set_memavail 4000000
	{ task_head; cat <<'SH'
while [ ! -e stop ]; do sleep 0.02; done
echo "$1 attempt $n"
SH
	} >task.sh
	printf '%s\n' '"A"' '"B"' >in
	# --delay: B starts 0.3 s after A, the youngest by any clock.
	start_fake -j 2 --delay 0.3 --memfree 1G -- sh task.sh "$MARKER"
	wait_until 20 test -e pid.A.1 -a -e pid.B.1
	set_memavail 100000
	wait_until 20 exited "$(cat pid.B.1)"
	# Still short, but no longer under half: from ppool's next look on
	# (a second after the one that killed B), nothing is to be killed.
	set_memavail 700000
	# Nothing to wait on: past that next look, A still runs, and B waits.
	sleep 1.5
	exited "$(cat pid.A.1)" && fail "A was killed too, without a look at memory in between"
	assert_file_not_exists pid.B.2
	set_memavail 4000000
	: >stop
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(cat count.A)" 1
	assert_equal "$(cat count.B)" 2
	assert_equal "$(jq -c '[.seq, .ok, .stdout, .attempts]' out)" \
		"$(printf '%s\n' '[1,true,"A attempt 1\n",1]' '[2,true,"B attempt 2\n",1]')"
}

@test "--memfree in worker mode: a running task is not killed, new ones wait for memory" {
	build_fault
	set_memavail 4000000
	printf '%s\n' 1 2 >in
	start_fake -j 1 --memfree 1G -w "$(held_worker 1)"
	wait_until 20 test -e started
	set_memavail 100000
	# Nothing to wait on: a second and more without a kill, nor task 2.
	sleep 1.5
	assert_equal "$(cat got)" 1
	: >go
	sleep 1.5
	assert_equal "$(cat got)" 1
	set_memavail 4000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.seq, .ok, .result, .attempts]' out)" \
		"$(printf '%s\n' '[1,true,1,1]' '[2,true,2,1]')"
	assert_equal "$(jq .worker out | sort -u | wc -l)" 1
}

@test "--memfree: a bad size is a usage error" {
	local v
	for v in abc 1X -1 '' 12kk 1.2.3 K; do
		run --separate-stderr ppool --memfree "$v" -- sh -c ': >ran' "$MARKER" <<<'"x"'
		assert_equal "$status" 255
		assert_output ""
	done
	assert_file_not_exists ran
}

# Sizes

@test "sizes: k is 1000 and K 1024 (--max-output)" {
	printf '%s\n' '{"cmd":"head -c 3000 /dev/zero | tr \"\\0\" a"}' >in
	run --separate-stderr ppool --max-output 1k <in
	assert_success
	assert_equal "$(jqo -c '[(.stdout | length), .stdout_truncated]')" '[1000,true]'
	run --separate-stderr ppool --max-output 1K <in
	assert_success
	assert_equal "$(jqo -c '[(.stdout | length), .stdout_truncated]')" '[1024,true]'
	run --separate-stderr ppool --max-output 2k -o raw <in
	assert_success
	assert_equal "${#output}" 2000
}

@test "sizes: m is 1000000 and M 1048576 (--max-output)" {
	printf '%s\n' '{"cmd":"head -c 3000000 /dev/zero | tr \"\\0\" a"}' >in
	ppool --max-output 1m -o raw <in >out 2>/dev/null
	assert_equal "$(wc -c <out)" 1000000
	ppool --max-output 1M -o raw <in >out 2>/dev/null
	assert_equal "$(wc -c <out)" 1048576
}

@test "sizes: k and K for --max-line: a line of 1000 bytes fits 1k, 1001 does not; 1024 fits 1K, 1025 does not" {
	local n
	for n in 1000 1001 1024 1025; do
		head -c "$n" /dev/zero | tr '\0' x
		echo
	done >in
	run --separate-stderr ppool -L -j 1 --max-line 1k -o raw -w "$(cat_worker)" <in
	assert_equal "$status" 3
	assert_equal "${#output}" 1000
	assert_equal "$stderr" "$(printf 'ppool: task %s: task longer than --max-line (1000 bytes)\n' 2 3 4)"
	run --separate-stderr ppool -L -j 1 --max-line 1K -o raw -w "$(cat_worker)" <in
	assert_equal "$status" 1
	assert_equal "$(awk '{ print length }' <<<"$output")" "$(printf '%s\n' 1000 1001 1024)"
	assert_equal "$stderr" "ppool: task 4: task longer than --max-line (1024 bytes)"
}

@test "sizes: --memfree 1g (10^9 bytes) is met by 1000000 kB, --memfree 1G is not" {
	build_fault
	# 1000000 kB = 1,024,000,000 bytes: at least 1g, under 1G (and above half).
	set_memavail 1000000
	printf '%s\n' '"ran"' >in
	run --separate-stderr timeout 20 "${FAKE[@]}" "$PPOOL" --memfree 1g -o raw -- echo <in
	assert_success
	assert_output ran
	start_fake --memfree 1G -- sh -c ': >ran' "$MARKER"
	sleep 1.5
	assert_file_not_exists ran
	set_memavail 2000000
	wait_exit "$pid" 20
	assert_equal "$status" 0
	assert_file_exists ran
}
