#!/usr/bin/env bats
# ssh.bats: -S/--ssh, --ssh-file, --ssh-command: workers and commands run on
# "remote" hosts through a real sshd (tests/sshd.bash: two daemons, on
# 127.0.0.1 and 127.0.0.2; nothing listens on 127.0.0.3 or 127.0.0.4).
# Every task proves where it ran by its $SSH_CONNECTION ("client port server
# port"); every test checks that no process is left, local (the marker in its
# command line) or remote (the marker in its environment, which ssh_cmd
# sends).  Remote processes die by a watchdog on the remote side, a second
# or three after their connection goes: tests wait for that, on an event.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers
load sshd

setup_file() {
	sshd_setup_file
}

teardown_file() {
	sshd_teardown_file
}

setup() {
	sshd_setup
	cd "$BATS_TEST_TMPDIR" || return 1
	# Tasks tell local from remote by $SSH_CONNECTION: not inherited here.
	unset SSH_CONNECTION SSH_CLIENT SSH_TTY
	SSH=$(ssh_cmd)
}

# The helpers' teardown, then both hosts up again for the next test.
eval "helpers_$(declare -f teardown)"

teardown() {
	local pid
	helpers_teardown
	for pid in $(remote_marker_pids); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	sshd_restore_hosts
}

HEADER=$'Seq\tStart\tRuntime\tExit\tSignal\tAttempts\tWorker\tHost\tTask'

# marked PROG: a symlink to PROG whose name carries the marker.
marked() {
	local link="$BATS_TEST_TMPDIR/$1-$MARKER"
	[[ -e $link ]] || ln -s "$(command -v "$1")" "$link"
	printf '%s' "$link"
}

# conn_worker: a worker answering each task with its $SSH_CONNECTION (empty
# when local).  Task 1 is held until a second task has reached a worker, so
# that with one slot per host both hosts get work.
conn_worker() {
	worker 'while read x; do
		echo "$x" >>"$W/got"
		if [ "$x" = 1 ]; then
			while [ "$(wc -l <"$W/got")" -lt 2 ]; do sleep 0.05; done
		fi
		echo "$SSH_CONNECTION"
	done'
}

# The same for command mode: run as `sh -c "$CONN_SCRIPT" MARKER {} DIR`.
CONN_SCRIPT='echo "$1" >>"$2/got"
if [ "$1" = 1 ]; then
	while [ "$(wc -l <"$2/got")" -lt 2 ]; do sleep 0.05; done
fi
echo "$SSH_CONNECTION"'

# assert_hosts_match FIELD: every record is ok, and the server address in
# its FIELD (an $SSH_CONNECTION) is its "host", at our sshd's port; ":"
# records have an empty FIELD.
assert_hosts_match() {
	local bad
	bad=$(jqo -c --arg f "$1" --arg port "$SSHD_PORT" '
		(.[$f] | tostring | rtrimstr("\n") | split(" ")) as $c
		| select(.ok != true
			or (.host == ":" and $c != [])
			or (.host != ":" and (($c | length) != 4 or $c[2] != .host or $c[3] != $port)))')
	[[ -z $bad ]] || fail "records not ok or not where their host says: $bad"
}

# retire_lines HOST: the lines of $stderr that retire HOST.
retire_lines() {
	grep -i 'retir' <<<"$stderr" | grep -cF "$1"
}

# --- where tasks run ------------------------------------------------------

@test "worker mode -S 1/127.0.0.1,1/127.0.0.2: tasks run through sshd on both hosts; records name the host" {
	seq 8 >in
	run --separate-stderr ppool -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" -w "$(conn_worker)" <in
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 8
	assert_hosts_match result
	assert_equal "$(jqo .host | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	# One persistent worker per slot, each on one host.
	assert_equal "$(jqo -c '[.worker, .host]' | sort -u | wc -l)" 2
	assert_nothing_left 15
}

@test "command mode -S 1/127.0.0.1,1/127.0.0.2: commands run through sshd on both hosts; records name the host" {
	seq 4 >in
	run --separate-stderr ppool -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" \
		-- sh -c "$CONN_SCRIPT" "$MARKER" {} "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 4
	assert_equal "$(jqo -c 'select(.exit != 0 or .stderr != "")')" ""
	assert_hosts_match stdout
	assert_equal "$(jqo .host | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	assert_nothing_left 15
}

@test "command mode: arguments and a task's cmd, env, cwd and stdin reach the remote side byte for byte" {
	local -a args=("a b" "it's" 'say "hi"' '$HOME $(id) `id`' 'back\slash \n \\' '*' \
		$'line1\nline2' '' '  lead and trail  ' $'tab\there' ';|&<>(){}#~!%^' '{}' 'é ü -' '--' '-n')
	# (Each prefixed with _ for jq, which would take "--" for itself.)
	jq -nc '$ARGS.positional | map(.[1:])' --args "${args[@]/#/_}" >in
	jq -nc '"one \"string\" argument with '"'"'quotes'"'"' and $x"' >>in
	# The same run, locally then remotely: the same bytes, and what printf says.
	run --separate-stderr ppool -o raw -- printf '[%s]\n' 'fixed $word "q"' <in
	assert_success
	printf '%s' "$output" >local.out
	run --separate-stderr ppool -o raw -S 127.0.0.1 --ssh-command "$SSH" -- printf '[%s]\n' 'fixed $word "q"' <in
	assert_success
	assert_equal "$stderr" ""
	printf '%s' "$output" >remote.out
	cmp local.out remote.out
	assert_equal "$(cat remote.out)" "$(printf '[%s]\n' 'fixed $word "q"' "${args[@]}" 'fixed $word "q"' \
		'one "string" argument with '"'"'quotes'"'"' and $x')"

	# A task's shell text, argv, env, cwd and stdin.
	mkdir -p "dir with 'space'"
	: >"dir with 'space'/f 1"
	: >"dir with 'space'/f2"
	local dir="$PWD/dir with 'space'"
	{
		jq -nc --arg d "$dir" '{cmd: "printf \"%s|\" \"$FOO\" \"$BAR\" \"$(pwd)\" *; echo; cat",
			env: {FOO: "x y'"'"'z\"$HOME\\", BAR: "line1\nline2"}, cwd: $d, stdin: "in put\n$x\n"}'
		jq -nc --arg d "$dir" '{cmd: ["sh", "-c", "printf \"%s|\" \"$0\" \"$1\" \"$FOO\" *", "a b", "'"'"'q'"'"' \"$x\""],
			env: {FOO: "*"}, cwd: $d}'
	} >in
	run --separate-stderr ppool <in
	assert_success
	jqo -c '[.seq, .ok, .exit, .stdout, .stderr]' >local.rec
	assert_equal "$(record 1 | jq -c .stdout)" \
		"$(jq -nc --arg d "$dir" '"x y'"'"'z\"$HOME\\|line1\nline2|\($d)|f 1|f2|\nin put\n$x\n"')"
	assert_equal "$(record 2 | jq -c .stdout)" "$(jq -nc '"a b|'"'"'q'"'"' \"$x\"|*|f 1|f2|"')"
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" <in
	assert_success
	assert_equal "$(jqo -c '[.seq, .ok, .exit, .stdout, .stderr]')" "$(cat local.rec)"
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	assert_nothing_left 15
}

@test "':' is the local machine: mixed with a remote host, ':' tasks have no SSH_CONNECTION, the others do" {
	seq 4 >in
	run --separate-stderr ppool -S 1/:,1/127.0.0.1 --ssh-command "$SSH" \
		-- sh -c "$CONN_SCRIPT" "$MARKER" {} "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 4
	assert_hosts_match stdout
	assert_equal "$(jqo .host | LC_ALL=C sort -u | tr '\n' ' ')" "127.0.0.1 : "
	# The same in worker mode.
	rm -f got
	run --separate-stderr ppool -S :,127.0.0.1 -j 1 --ssh-command "$SSH" -w "$(conn_worker)" <in
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 4
	assert_hosts_match result
	assert_equal "$(jqo .host | LC_ALL=C sort -u | tr '\n' ' ')" "127.0.0.1 : "
	assert_nothing_left 15
}

@test "N/host: -S 3/127.0.0.1 runs exactly 3 workers there whatever -j; -j applies per host without N/" {
	seq 9 >in
	# No worker answers before 3 run: fewer than 3 slots would hang.
	local w
	w=$(worker 'echo "${SSH_CONNECTION:-local}" >>"$W/up"
		while [ "$(wc -l <"$W/up")" -lt 3 ]; do sleep 0.05; done
		while read x; do echo "$x"; done')
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -j 1 -S 3/127.0.0.1 --ssh-command "$SSH" -w "$w" <in
	assert_success
	assert_seqs_in_order 9
	assert_equal "$(jqo .result)" "$(seq 9)"
	assert_equal "$(wc -l <up)" 3
	assert_equal "$(jqo .worker | sort -u | wc -l)" 3
	assert_equal "$(awk '{ print $3 }' up | sort -u)" 127.0.0.1
	# -j 2 and two hosts: 4 workers, 2 on each; none answers before 4 run.
	rm -f up
	w=$(worker 'echo "${SSH_CONNECTION:-local}" >>"$W/up"
		while [ "$(wc -l <"$W/up")" -lt 4 ]; do sleep 0.05; done
		while read x; do echo "$x"; done')
	seq 12 >in
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -j 2 -S 127.0.0.1,127.0.0.2 --ssh-command "$SSH" -w "$w" <in
	assert_success
	assert_seqs_in_order 12
	assert_equal "$(wc -l <up)" 4
	assert_equal "$(awk '{ print $3 }' up | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" \
		"2x127.0.0.1 2x127.0.0.2 "
	assert_equal "$(jqo -c '[.worker, .host]' | sort -u | jq -r '.[1]' | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')" "2 2 "
	assert_nothing_left 15
}

@test "command mode N/host: -S 2/127.0.0.1 -j 5 runs 2 commands at once, no more" {
	seq 4 >in
	# Each command logs its start and end; the first two wait for each other.
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -j 5 -S 2/127.0.0.1 --ssh-command "$SSH" -- sh -c '
		echo "start $1" >>"$2/log"
		if [ "$1" -le 2 ]; then
			while [ "$(grep -c start "$2/log")" -lt 2 ]; do sleep 0.05; done
		fi
		sleep 0.2
		echo "end $1" >>"$2/log"' "$MARKER" {} "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_seqs_in_order 4
	# The most commands running at once, from the log, is 2.
	assert_equal "$(awk '/start/ { n++; if (n > m) m = n } /end/ { n-- } END { print m }' log)" 2
	assert_nothing_left 15
}

@test "--ssh-file: one host a line, comments and blank lines ignored, same as -S" {
	printf '%s\n' '# the test hosts' '' '1/127.0.0.1' '' '# the other one' '1/127.0.0.2' >hosts
	seq 8 >in
	run --separate-stderr ppool --ssh-file=hosts --ssh-command "$SSH" -w "$(conn_worker)" <in
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 8
	assert_hosts_match result
	assert_equal "$(jqo .host | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	assert_equal "$(jqo -c '[.worker, .host]' | sort -u | wc -l)" 2
	assert_nothing_left 15
}

@test "--ssh-command is split into words as a shell does: quotes and backslashes; an unterminated quote is a usage error" {
	# The key under a path with spaces: it only works split right.
	mkdir "key dir"
	cp "$SSHD_KEY" "key dir/the key"
	chmod 600 "key dir/the key"
	local k="$PWD/key dir/the key" c
	local rest="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o SetEnv=PPOOL_TEST_MARKER=$MARKER"
	for c in \
		"ssh -F none -p $SSHD_PORT -i '$k' -o 'IdentitiesOnly yes' $rest" \
		"ssh -F none -p $SSHD_PORT -i \"$k\" -o \"IdentitiesOnly yes\" $rest" \
		"ssh -F none -p $SSHD_PORT -i ${k// /\\ } -o IdentitiesOnly\\ yes $rest" \
		"ssh -F none -p $SSHD_PORT -i '$(dirname "$k")'/\"the key\" -o Identities'Only y'es $rest"; do
		run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$c" -- sh -c 'echo "$SSH_CONNECTION"' <<<'1'
		assert_success
		assert_equal "$stderr" ""
		assert_hosts_match stdout
	done
	# Unterminated quotes: exit 255 and a message, nothing run.
	for c in "ssh -p $SSHD_PORT 'oops" "ssh -p $SSHD_PORT \"oops" "ssh -i \"a'b"; do
		run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$c" -- sh -c ': >"$0"' "$PWD/ran" <<<'1'
		assert_equal "$status" 255
		assert_output ""
		[[ $stderr == *ssh-command* ]] || fail "no message naming --ssh-command: $stderr"
		assert_file_not_exists ran
	done
	assert_nothing_left 15
}

# --- hosts that fail ------------------------------------------------------

@test "worker mode, a host down from the start: retired once, its task runs elsewhere (attempts 2, no retry used), exit 0" {
	seq 6 >in
	# The first task a live worker gets waits until the retirement is on
	# stderr (at most 10 s): meanwhile ppool sends a task to the dead host.
	local w
	w=$(worker 'n=0; while read x; do
		n=$((n + 1))
		i=0
		while [ $n = 1 ] && [ $i -lt 200 ] && ! grep -qi retir "$W/err" 2>/dev/null; do
			sleep 0.05; i=$((i + 1))
		done
		echo "$SSH_CONNECTION"
	done')
	status=0
	"$PPOOL" -S 1/127.0.0.3,1/127.0.0.1 --inflight 1 --ssh-command "$SSH" -w "$w" <in >out 2>err || status=$?
	output=$(<out) stderr=$(<err)
	assert_equal "$status" 0
	assert_seqs_in_order 6
	assert_hosts_match result
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	assert_equal "$(jqo .attempts | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "5x1 1x2 "
	assert_equal "$(retire_lines 127.0.0.3)" 1
	assert_equal "$(grep -ci retir <<<"$stderr")" 1
	assert_nothing_left 15
}

@test "command mode, a host down from the start: retired once, its task runs elsewhere (attempts 2, no retry used), exit 0" {
	seq 4 >in
	status=0
	"$PPOOL" -S 1/127.0.0.3,1/127.0.0.1 --ssh-command "$SSH" -- sh -c '
		i=0
		while [ "$1" = 1 ] && [ $i -lt 200 ] && ! grep -qi retir "$2/err" 2>/dev/null; do
			sleep 0.05; i=$((i + 1))
		done
		echo "$SSH_CONNECTION"' "$MARKER" {} "$BATS_TEST_TMPDIR" <in >out 2>err || status=$?
	output=$(<out) stderr=$(<err)
	assert_equal "$status" 0
	assert_seqs_in_order 4
	assert_hosts_match stdout
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	assert_equal "$(jqo .attempts | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "3x1 1x2 "
	assert_equal "$(retire_lines 127.0.0.3)" 1
	assert_equal "$(grep -ci retir <<<"$stderr")" 1
	assert_nothing_left 15
}

@test "a host whose login prints to stdout first is retired, quoting it; its tasks run here (both modes)" {
	# A stand-in for a chatty login script: the "ssh" prints a banner first.
	local chatty="sh -c 'echo Welcome to 127; exec \"\$0\" \"\$@\"' $SSH"
	seq 4 >in
	run --separate-stderr "$PPOOL" -S 1/127.0.0.1,1/: --ssh-command "$chatty" \
		-w "$(cat_worker)" <in
	assert_equal "$status" 0
	assert_seqs_in_order 4
	assert_equal "$(jqo .host | sort -u)" ':'
	assert_equal "$(jqo .attempts | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "3x1 1x2 "
	[[ $stderr == *"host 127.0.0.1: the remote shell wrote 'Welcome to 127' to stdout"* ]] ||
		fail "no message quoting the banner: $stderr"
	assert_equal "$(retire_lines 127.0.0.1)" 1
	run --separate-stderr "$PPOOL" -S 1/127.0.0.1,1/: --ssh-command "$chatty" \
		-- echo "$MARKER" <in
	assert_equal "$status" 0
	assert_seqs_in_order 4
	assert_equal "$(jqo .host | sort -u)" ':'
	assert_equal "$(jqo -j .stdout)" "$MARKER 1
$MARKER 2
$MARKER 3
$MARKER 4"
	[[ $stderr == *"host 127.0.0.1: the remote shell wrote 'Welcome to 127' to stdout"* ]] ||
		fail "no message quoting the banner: $stderr"
	assert_equal "$(retire_lines 127.0.0.1)" 1
	assert_nothing_left 15
}

@test "a task in a slot whose last task was moved off a dead host gets no retry it was not given" {
	# --window 1: task 2 reuses task 1's slot, and task 1 was moved once
	# off the dead host.  The slot kept that count, so task 2, failing
	# with --retries 0, ran again (attempts 2).
	run --separate-stderr timeout -k 5 60 "$PPOOL" -j 1 --window 1 -S 1/127.0.0.3,1/127.0.0.1 \
		--ssh-command "$SSH" -- sh -c 'exit "$1"' "$MARKER" {} < <(printf '%s\n' 0 1)
	assert_failure 1
	assert_equal "$(jqo -c '[.seq, .ok, .attempts]' | tr '\n' ' ')" '[1,true,2] [2,false,1] '
	assert_nothing_left 15
}

@test "command mode: a command that ran and exited 255 is a failed task, not a dead host" {
	printf '%s\n' 1 2 3 >in
	run --separate-stderr ppool -S 1/127.0.0.1 --ssh-command "$SSH" -- sh -c '[ "$0" != 2 ] || exit 255; echo "$SSH_CONNECTION"' <in
	assert_equal "$status" 1
	assert_seqs_in_order 3
	assert_equal "$(record 2 | jq -c '[.ok, .exit, .host, .attempts]')" '[false,255,"127.0.0.1",1]'
	assert_equal "$(jqo -c 'select(.seq != 2) | [.ok, .exit, .host]' | sort -u)" '[true,0,"127.0.0.1"]'
	assert_equal "$(grep -ci retir <<<"$stderr")" 0
	assert_nothing_left 15
}

@test "all hosts down: exit 255, 'no host left', each host retired once, no hang" {
	seq 4 >in
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -S 127.0.0.3,127.0.0.4 --ssh-command "$SSH" -w "$(cat_worker)" <in
	assert_equal "$status" 255
	[[ $stderr == *"no host left"* ]] || fail "no 'no host left' on stderr: $stderr"
	assert_equal "$(retire_lines 127.0.0.3)" 1
	assert_equal "$(retire_lines 127.0.0.4)" 1
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -S 127.0.0.3,127.0.0.4 --ssh-command "$SSH" \
		-- sh -c 'echo "$0"' "$MARKER" <in
	assert_equal "$status" 255
	[[ $stderr == *"no host left"* ]] || fail "no 'no host left' on stderr: $stderr"
	assert_equal "$(retire_lines 127.0.0.3)" 1
	assert_equal "$(retire_lines 127.0.0.4)" 1
	assert_nothing_left 15
}

@test "worker mode, a host killed mid-run: retired once, its task goes to the other host, every task once and ok" {
	seq 12 >in
	# Tasks 1 and 2 go to different hosts; tasks above 6 wait for "go", so
	# that when 8 tasks were sent each host's worker holds one.
	local w
	w=$(worker 'while read x; do
		echo "$x" >>"$W/got"
		if [ "$x" = 1 ]; then
			while [ "$(wc -l <"$W/got")" -lt 2 ]; do sleep 0.05; done
		fi
		if [ "$x" -gt 6 ]; then
			while [ ! -e "$W/go" ]; do sleep 0.05; done
		fi
		echo "$SSH_CONNECTION"
	done')
	"$PPOOL" -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" -w "$w" <in >out 2>err &
	local pid=$!
	BG_PIDS+=("$pid")
	# Eight sessions log in first: a login under load takes seconds.
	wait_until 60 at_least_lines got 8
	sshd_kill_host 127.0.0.2
	: >go
	wait_exit "$pid" 30
	output=$(<out) stderr=$(<err)
	assert_equal "$status" 0
	assert_seqs_in_order 12
	assert_hosts_match result
	# The task the dead host held ran again: counted, not a retry.
	assert_equal "$(jqo .attempts | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "11x1 1x2 "
	assert_equal "$(jqo 'select(.seq > 8) | .host' | sort -u)" 127.0.0.1
	assert_equal "$(retire_lines 127.0.0.2)" 1
	assert_equal "$(grep -ci retir <<<"$stderr")" 1
	assert_nothing_left 15
}

@test "command mode, a host killed mid-run: retired once, one record per task, the lost command fails with 255 or reruns" {
	seq 10 >in
	"$PPOOL" -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" -- sh -c '
		echo "$1" >>"$2/got"
		if [ "$1" = 1 ]; then
			while [ "$(wc -l <"$2/got")" -lt 2 ]; do sleep 0.05; done
		fi
		if [ "$1" -gt 6 ]; then
			while [ ! -e "$2/go" ]; do sleep 0.05; done
		fi
		echo "$SSH_CONNECTION"' "$MARKER" {} "$BATS_TEST_TMPDIR" <in >out 2>err &
	local pid=$!
	BG_PIDS+=("$pid")
	# Eight sessions log in first: a login under load takes seconds.
	wait_until 60 at_least_lines got 8
	sshd_kill_host 127.0.0.2
	: >go
	wait_exit "$pid" 30
	output=$(<out) stderr=$(<err)
	assert_records_valid
	assert_seqs_in_order 10
	# At most the command running on 127.0.0.2 failed, with ssh's 255.
	local failed
	failed=$(jqo -c 'select(.ok != true) | [.seq, .exit, .host]')
	[[ -z $failed || $failed =~ ^\[[78],255,\"127.0.0.2\"\]$ ]] || fail "failed records: $failed"
	assert_equal "$status" "$(grep -c . <<<"$failed")"
	assert_equal "$(jqo -c 'select(.seq > 8) | [.ok, .host]' | sort -u)" '[true,"127.0.0.1"]'
	output=$(jqo -c 'select(.ok)')
	assert_hosts_match stdout
	assert_equal "$(retire_lines 127.0.0.2)" 1
	assert_equal "$(grep -ci retir <<<"$stderr")" 1
	assert_nothing_left 15
}

# --- no remote process outlives its task -------------------------------------

@test "-t on a remote task: timed out, and the remote processes are gone (both modes)" {
	# -t 5, not 1: the clock starts before ssh logs in, and a login under
	# load (CI runs suites side by side; root's ~/.bashrc may run 'pyenv
	# init') took over 3 s: the task timed out before its remote side had
	# started.
	local s
	s=$(marked sleep)
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" -t 5 \
		-- sh -c ': >"$1"; "$0" 100' "$s" "$PWD/started" <<<'1'
	assert_equal "$status" 1
	assert_file_exists started
	assert_equal "$(record 1 | jq -c '[.ok, .error, .host]')" '[false,"timed out after 5 s","127.0.0.1"]'
	assert_nothing_left 15
	rm -f started
	local w
	w=$(worker "while read x; do : >\"\$W/started\"; '$s' 100; echo \"\$x\"; done")
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" -t 5 -w "$w" <<<'1'
	assert_equal "$status" 1
	assert_file_exists started
	assert_equal "$(record 1 | jq -c '[.ok, .error, .host]')" '[false,"timed out after 5 s","127.0.0.1"]'
	assert_nothing_left 15
}

@test "-t bounds a host that never sends the greeting: the task times out (both modes)" {
	# An ssh that connects and then hears nothing: ppool has no limit of
	# its own, and the man page sends the user to -t.
	printf '#!/bin/sh\nexec %s 100\n' "$(marked sleep)" >silent-ssh
	chmod +x silent-ssh
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -t 1 -S 1/hostx \
		--ssh-command ./silent-ssh -w "$(cat_worker)" <<<'1'
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .host]')" '[false,"timed out after 1 s","hostx"]'
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -t 1 -S 1/hostx \
		--ssh-command ./silent-ssh -- true <<<'1'
	assert_equal "$status" 1
	assert_equal "$(record 1 | jq -c '[.ok, .error, .host]')" '[false,"timed out after 1 s","hostx"]'
	assert_nothing_left 15
}

@test "ssh -o ConnectTimeout retires a host that takes the connection and never speaks, as the man page says" {
	# A listener that never accepts: the kernel completes the connection,
	# and ssh waits for a banner that does not come.
	python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.3", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2], "w").close()
time.sleep(60)' "$SSHD_PORT" listening 3>&- &
	BG_PIDS+=($!)
	wait_until 10 test -e listening
	run --separate-stderr timeout -s KILL 30 "$PPOOL" -S 127.0.0.3 \
		--ssh-command "$SSH -o ConnectTimeout=1" -w "$(cat_worker)" <<<'1'
	assert_equal "$status" 255
	assert_equal "$(retire_lines 127.0.0.3)" 1
	[[ $stderr == *"no host left"* ]] || fail "no 'no host left' on stderr: $stderr"
	assert_equal "$(record 1 | jq -c '[.ok, .host]')" '[false,"127.0.0.3"]'
}

@test "--halt now on remote tasks: the running remote task is killed, nothing left (both modes)" {
	local s
	s=$(marked sleep)
	printf '%s\n' 1 2 3 4 >in
	run --separate-stderr ppool -S 2/127.0.0.1 --ssh-command "$SSH" --halt now,fail=1 -- sh -c '
		case $1 in
		1) : >"$2/started"; exec "$0" 100 ;;
		2) while [ ! -e "$2/started" ]; do sleep 0.05; done; exit 3 ;;
		*) : >"$2/ran" ;;
		esac' "$s" {} "$PWD" <in
	assert_equal "$status" 2
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"stopped by --halt now"]'
	assert_equal "$(record 2 | jq -c '[.ok, .exit, .host]')" '[false,3,"127.0.0.1"]'
	assert_file_not_exists ran
	assert_nothing_left 15
	rm -f started
	local w
	w=$(halt_worker "$s")
	run --separate-stderr ppool -S 2/127.0.0.1 --ssh-command "$SSH" --envelope --halt now,fail=1 -w "$w" <in
	assert_equal "$status" 2
	assert_seqs_in_order 2
	assert_equal "$(record 1 | jq -c '[.ok, .error]')" '[false,"worker killed: stopped by --halt now"]'
	assert_equal "$(record 2 | jq -c '[.ok, .error]')" '[false,"no"]'
	assert_nothing_left 15
}

@test "ppool killed with SIGKILL mid-task: the remote processes die all the same (both modes)" {
	local s pid
	s=$(marked sleep)
	"$PPOOL" -S 127.0.0.1 --ssh-command "$SSH" -- sh -c ': >"$1"; "$0" 100' "$s" "$PWD/started" \
		<<<'1' >out 2>err &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 test -e started
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	assert_nothing_left 15
	rm -f started
	local w
	w=$(worker "while read x; do : >\"\$W/started\"; '$s' 100; echo \"\$x\"; done")
	"$PPOOL" -S 127.0.0.1 --ssh-command "$SSH" -w "$w" <<<'1' >out 2>err &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 20 test -e started
	kill -KILL "$pid"
	wait_exit "$pid" 10
	assert_equal "$status" 137
	assert_nothing_left 15
}

@test "a remote background child left by a worker or a command is gone after ppool exits" {
	local s w
	s=$(marked sleep)
	w=$(worker "'$s' 100 >/dev/null 2>&1 </dev/null & echo \$! >\"\$W/bgpid\"
		while read x; do echo \"\$x\"; done")
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" -w "$w" < <(seq 3)
	assert_success
	assert_equal "$(jqo .result)" "$(seq 3)"
	assert_file_exists bgpid
	assert_nothing_left 15
	rm -f bgpid
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" \
		-- sh -c '"$0" 100 >/dev/null 2>&1 </dev/null & echo $! >"$1"; echo done' "$s" "$PWD/bgpid" <<<'1'
	assert_success
	assert_equal "$(record 1 | jq -c '[.ok, .stdout, .host]')" '[true,"done\n","127.0.0.1"]'
	assert_file_exists bgpid
	assert_nothing_left 15
}

@test "command mode: a remote background child holding stdout does not keep the task running (as locally)" {
	local s
	s=$(marked sleep)
	local t
	t=$(jq -nc --arg s "$s" '{cmd: ["sh", "-c", "\"$0\" 100 & echo done", $s]}')
	# Locally: the task ends with its main process.
	run --separate-stderr timeout -s KILL 10 "$PPOOL" <<<"$t"
	assert_success
	assert_equal "$(record 1 | jq -c '[.ok, .stdout]')" '[true,"done\n"]'
	assert_no_process_left
	run --separate-stderr timeout -s KILL 10 "$PPOOL" -S 127.0.0.1 --ssh-command "$SSH" <<<"$t"
	assert_success
	assert_equal "$(record 1 | jq -c '[.ok, .stdout, .host]')" '[true,"done\n","127.0.0.1"]'
	assert_nothing_left 15
}

# --- joblog and usage ------------------------------------------------------

@test "--joblog: a Host column after Worker: the record's host with -S, ':' without" {
	seq 4 >in
	run --separate-stderr ppool -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" --joblog=jw -w "$(conn_worker)" <in
	assert_success
	assert_equal "$(head -n 1 jw)" "$HEADER"
	assert_equal "$(tail -n +2 jw | awk -F '\t' 'NF != 9' )" ""
	local s
	for s in 1 2 3 4; do
		assert_equal "$(awk -F '\t' -v s="$s" '$1 == s { print $7 " " $8 " " $9 }' jw)" \
			"$(record "$s" | jq -r '"\(.worker) \(.host) \(.seq)"')"
	done
	assert_equal "$(tail -n +2 jw | cut -f 8 | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	# Command mode.
	rm -f got
	run --separate-stderr ppool -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" --joblog=jc \
		-- sh -c "$CONN_SCRIPT" "$MARKER" {} "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_equal "$(head -n 1 jc)" "$HEADER"
	for s in 1 2 3 4; do
		assert_equal "$(awk -F '\t' -v s="$s" '$1 == s { print $7 " " $8 " " $9 }' jc)" \
			"$(record "$s" | jq -r '"- \(.host) \(.seq)"')"
	done
	assert_equal "$(tail -n +2 jc | cut -f 8 | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	# Without -S: ':' in both modes.
	run --separate-stderr ppool --joblog=jl -- true <in
	assert_success
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(tail -n +2 jl | awk -F '\t' 'NF == 9 { print $8 }' | tr '\n' ' ')" ": : : : "
	run --separate-stderr ppool --joblog=jl -w "$(cat_worker)" <in
	assert_success
	assert_equal "$(head -n 1 jl)" "$HEADER"
	assert_equal "$(tail -n +2 jl | awk -F '\t' 'NF == 9 { print $8 }' | tr '\n' ' ')" ": : : : "
	# ':' itself in -S.
	run --separate-stderr ppool -S : --joblog=jl -- true <in
	assert_success
	assert_equal "$(jqo .host | sort -u)" ":"
	assert_equal "$(tail -n +2 jl | awk -F '\t' 'NF == 9 { print $8 }' | tr '\n' ' ')" ": : : : "
	assert_nothing_left 15
}

@test "usage errors: -S '', a bad N/ (0/, x/, -1/), a missing --ssh-file: exit 255 with a message, nothing run" {
	local a want
	for a in "-S=" "-S=0/127.0.0.1" "-S=x/127.0.0.1" "-S=-1/127.0.0.1" "-S=1x/127.0.0.1" \
		"--ssh-file=$PWD/no-such-file"; do
		if [[ $a == -S=* ]]; then
			run --separate-stderr ppool -S "${a#-S=}" --ssh-command "$SSH" -- sh -c ': >"$0"' "$PWD/ran" <<<'1'
		else
			run --separate-stderr ppool "$a" --ssh-command "$SSH" -- sh -c ': >"$0"' "$PWD/ran" <<<'1'
		fi
		assert_equal "$status" 255
		assert_output ""
		case $a in
		-S=) want="ppool: -S: an empty host name" ;;
		-S=*) want="ppool: -S: '${a#-S=}': the slots before '/' must be a number from 1 to 65536" ;;
		*) want="ppool: --ssh-file $PWD/no-such-file: No such file or directory" ;;
		esac
		assert_equal "${stderr_lines[0]}" "$want"
		assert_file_not_exists ran
	done
	# --ssh=HOSTS is -S HOSTS; both repeat and add up.
	run --separate-stderr ppool --ssh= --ssh-command "$SSH" -- true <<<'1'
	assert_equal "$status" 255
	assert_output ""
	assert_equal "${stderr_lines[0]}" "ppool: -S: an empty host name"
	seq 4 >in
	run --separate-stderr ppool --ssh=1/127.0.0.1 -S 1/127.0.0.2 --ssh-command "$SSH" \
		-- sh -c "$CONN_SCRIPT" "$MARKER" {} "$BATS_TEST_TMPDIR" <in
	assert_success
	assert_hosts_match stdout
	assert_equal "$(jqo .host | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	assert_nothing_left 15
}

# --- crash safety over ssh ---------------------------------------------------

@test "-S: SIGKILL at several points, then --resume: no record lost, a duplicate only if unlogged" {
	# The kill waits until both remote workers have answered: a session
	# killed while the remote login shell still reads its profile can
	# leave that profile's own state broken (a stale lock of root's
	# pyenv here), which is not ppool's to test.
	seq 80 >in
	local w k
	w=$(worker 'pad=$(printf "%01000d" 0); : >"$W/up.$$"
		while read n; do printf "\"%s %s\"\n" "$n" "$pad"; done')
	for k in 1 30 70; do
		rm -f up.*
		CRASH_WAIT='wait_until 20 at_least_files "up.*" 2' \
			crash_resume "$k" -S 1/127.0.0.1,1/127.0.0.2 --ssh-command "$SSH" -w "$w"
	done
	assert_nothing_left 15
}

@test "regression: -S with --max-output: an output of exactly that size is whole, one byte more is cut" {
	# Once the greeting was taken from the head of stdout's buffer, the
	# room left was computed from the buffer's length, greeting included:
	# an output that came in the greeting's read and then more was cut 16
	# bytes short and flagged.  A stand-in for ssh writes the greeting
	# and 20 bytes at once, then the rest: one connection per task
	# (PPOOL_CHANNELS=0), as --pipe still has.
	local n
	export PPOOL_CHANNELS=0
	for n in 20 21; do
		printf '#!/bin/sh\nprintf "ppool-ssh-ready\\n%%020d" 0\nsleep 0.1\nprintf "%%0%dd" 0\n' "$n" >"ssh$((20 + n))"
		chmod +x "ssh$((20 + n))"
	done
	seq 4 >in
	run --separate-stderr ppool -L -j 4 -S hostx --ssh-command ./ssh40 \
		--max-output 40 -- true <in
	assert_success
	assert_records_valid
	assert_equal "$(jqo -c '[(.stdout | length), .ok]' | sort -u)" '[40,true]'
	assert_equal "$stderr" ""
	run --separate-stderr ppool -L -j 4 -S hostx --ssh-command ./ssh41 \
		--max-output 40 -o raw -- true <in
	assert_success
	assert_equal "${#output}" $((4 * 40))
	assert_equal "$(grep -c 'stdout cut at --max-output (40 bytes)' <<<"$stderr")" 4
}

@test "--pipe -S: each block is a remote command's stdin, byte for byte, on both hosts" {
	# Lines with every byte value but newline, and a last one without it.
	python3 -c '
import sys
b = bytes(c for c in range(256) if c != 10)
sys.stdout.buffer.write(b"".join(b"%d " % i + b[i % 200:] + b"\n" for i in range(300)) + b"end")' >in
	ppool --pipe --block 4k -o raw -- md5sum <in >local
	[[ $(wc -l <local) -gt 10 ]] || fail "too few blocks: $(cat local)"
	run --separate-stderr ppool --pipe --block 4k -S 1/127.0.0.1,1/127.0.0.2 \
		--ssh-command "$SSH" -- md5sum <in
	assert_success
	assert_equal "$stderr" ""
	assert_records_valid
	assert_equal "$(jqo -j .stdout)" "$(cat local)"
	assert_equal "$(jqo .host | sort -u | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
	assert_nothing_left 15
}

# --- channels: one connection per slot in command mode ------------------------

# ssh_logger LOG: write a --ssh-command that appends a line to LOG each
# time it runs, the host (the word before "--"), then execs the test's ssh
# command line (so the process is ssh itself, the marker in its command
# line); print its path.
ssh_logger() {
	local f="$BATS_TEST_TMPDIR/logssh"
	printf '#!/bin/sh\nfor a; do [ "$a" = -- ] && break; h=$a; done\necho "$h" >>%q\nexec %s "$@"\n' \
		"$1" "$SSH" >"$f"
	chmod +x "$f"
	printf '%s' "$f"
}

# channel_conns: how many distinct "stdout" the records in $output have;
# the tasks print their $SSH_CONNECTION: one per connection.
channel_conns() {
	jqo -j .stdout | sort -u | wc -l
}

@test "channels: -S 2/127.0.0.1 logs in twice for 20 tasks, PPOOL_CHANNELS=0 20 times; the records are the same" {
	seq 20 >in
	local ssh
	ssh=$(ssh_logger "$PWD/log")
	run --separate-stderr ppool -S 2/127.0.0.1 -j 2 --ssh-command "$ssh" \
		-- sh -c 'echo "$0 ${SSH_CONNECTION:+remote}"' {} <in
	assert_success
	assert_equal "$stderr" ""
	assert_seqs_in_order 20
	assert_equal "$(jqo -j .stdout)" "$(seq -f '%g remote' 20)"
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	jqo -c 'del(.ms)' >channels.rec
	assert_equal "$(sort log | uniq -c | awk '{ print $1 "x" $2 }')" 2x127.0.0.1
	rm log
	PPOOL_CHANNELS=0 run --separate-stderr ppool -S 2/127.0.0.1 -j 2 --ssh-command "$ssh" \
		-- sh -c 'echo "$0 ${SSH_CONNECTION:+remote}"' {} <in
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jqo -c 'del(.ms)')" "$(cat channels.rec)"
	assert_equal "$(sort log | uniq -c | awk '{ print $1 "x" $2 }')" 20x127.0.0.1
	assert_nothing_left 15
}

@test "channels: argv bytes, cmd, env, cwd, stdin, binary output, stderr, exit statuses and signals: records as a local run's" {
	# Arguments to a command line's command: quotes, spaces, newlines,
	# backslashes, $ and every byte from 80 to ff (\udcXX is the byte XX).
	python3 - >in <<'EOF'
import json
print(json.dumps(["a b", "it's", 'say "hi"', '$HOME $(id) `id`', 'back\\slash \\n \\\\', '*',
    "line1\nline2", "", "  lead and trail  ", "tab\there", ";|&<>(){}#~!%^", "{}", "\u00e9 \u00fc", "--", "-n"]))
print('["x' + "".join("\\udc%02x" % b for b in range(0x80, 0x100)) + 'y", "\\udcff", "caf\\u00e9\\udce9"]')
for e in (0, 1, 3, 127):
    print(json.dumps(["exit", str(e)]))
print(json.dumps(["missing"]))
print(json.dumps({"args": ["cat"], "stdin": "a\u0000b\n\u0000c\u0000"}))
print(json.dumps({"args": ["cat"], "stdin": ""}))
print(json.dumps({"args": ["cat"]}))
print(json.dumps({"args": ["cat"], "stdin": "T 1 5\nlooks like a frame\n"}))
print(json.dumps(["binary"]))
EOF
	local script='case $1 in
exit) printf "out %s" "$2"; printf "err %s\n" "$2" >&2; exit "$2" ;;
missing) no_such_command_here ;;
cat) cat ;;
binary) printf "\377\000\200x"; printf "e\376" >&2 ;;
*) printf "[%s]\n" "$@" ;;
esac'
	run --separate-stderr ppool -- sh -c "$script" sh <in
	assert_equal "$status" 4
	jqo -c 'del(.ms)' >local.rec
	# What the local run says, to be sure the tasks cover it all.
	assert_equal "$(jqo -c '.exit' | sort -n -u | tr '\n' ' ')" "0 1 3 127 "
	assert_equal "$(jqo -c 'select(.seq == 2 or .seq == 12) | has("stdout_base64")' | sort -u)" true
	assert_equal "$(record 7 | jq -r .stderr)" "sh: 3: no_such_command_here: not found"
	run --separate-stderr ppool -S 2/127.0.0.1 --ssh-command "$SSH" -- sh -c "$script" sh <in
	assert_equal "$status" 4
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	assert_equal "$(jqo -c 'del(.ms, .host)')" "$(cat local.rec)"

	# Tasks without a command: "cmd" text and argv, "pipeline"; "env" with
	# odd bytes in a name and a value (the shell's own environment shows
	# them: it passes on only names it can take), "cwd", signals.
	mkdir "d i r 'q' \$x"
	: >"d i r 'q' \$x/f 1"
	python3 - "$PWD/d i r 'q' \$x" >in <<'EOF'
import json, sys
print(json.dumps({"cmd": "printf '%s|' \"$FOO\" \"$(pwd)\" *; tr '\\000' '\\n' </proc/$$/environ | grep -a '^odd'; cat",
    "env": {"FOO": "x y'z\"$HOME\\ \u00e9\ttab\nnl \u0001", "odd name.-\u00e9\u0001'\"$x\\": "v=\"'\\ $x\n2"},
    "cwd": sys.argv[1], "stdin": "in\u0000put"}))
print(json.dumps({"cmd": "kill -TERM $$"}))
print(json.dumps({"cmd": "echo before; kill -KILL $$; echo after"}))
print(json.dumps({"cmd": "echo out; echo err >&2; exit 3"}))
print(json.dumps({"cmd": "exit 1"}))
print(json.dumps({"cmd": "printf '\\377\\000\\200x'"}))
print(json.dumps({"cmd": ["printf", "[%s]", "a b", "$x", "it's"]}))
print(json.dumps({"pipeline": [["printf", "a\\nb\\n"], ["wc", "-l"]], "stdin": "unread"}))
print(json.dumps({"cmd": "cat; printf 'no newline'", "stdin": "x\u0000y\u0000"}))
EOF
	run --separate-stderr ppool <in
	assert_equal "$status" 4
	jqo -c 'del(.ms)' >local.rec
	assert_equal "$(jqo -c '[.exit, .signal]' | sort -u | tr '\n' ' ')" \
		'[0,null] [1,null] [3,null] [null,"SIGKILL"] [null,"SIGTERM"] '
	assert_equal "$(record 1 | jq -c .stdout)" \
		"$(jq -nc --arg d "$PWD/d i r 'q' \$x" '"x y'"'"'z\"$HOME\\ é\ttab\nnl \u0001|\($d)|f 1|odd name.-é\u0001'"'"'\"$x\\=v=\"'"'"'\\ $x\nin\u0000put"')"
	run --separate-stderr ppool -S 2/127.0.0.1 --ssh-command "$SSH" <in
	assert_equal "$status" 4
	assert_equal "$(jqo .host | sort -u)" 127.0.0.1
	assert_equal "$(jqo -c 'del(.ms, .host)')" "$(cat local.rec)"
	assert_nothing_left 15
}

@test "channels: a remote command's own exit status 130 is read as SIGINT, as the man page says (129 to 192 are signals)" {
	printf '%s\n' 130 128 129 192 193 >in
	run --separate-stderr ppool -- sh -c 'exit "$0"' {} <in
	assert_equal "$status" 5
	assert_equal "$(jqo -c '[.exit, .signal]' | tr '\n' ' ')" '[130,null] [128,null] [129,null] [192,null] [193,null] '
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" -- sh -c 'exit "$0"' {} <in
	assert_equal "$status" 5
	assert_equal "$(jqo -c '[.ok, .exit, .signal]' | tr '\n' ' ')" \
		'[false,null,"SIGINT"] [false,128,null] [false,null,"SIGHUP"] [false,null,"SIGRTMAX"] [false,193,null] '
	assert_equal "$(record 1 | jq -r .error)" "killed by SIGINT"
	# 192 is 128 + 64: what a task killed by signal 64 gives here.
	run --separate-stderr ppool -- sh -c 'kill -64 $$' <<<1
	assert_equal "$(record 1 | jq -c '[.exit, .signal]')" '[null,"SIGRTMAX"]'
	assert_nothing_left 15
}

@test "channels: what a task leaves behind is killed when the task ends, while the channel runs the next task" {
	local s pid bg
	s=$(marked sleep)
	printf '%s\n' 1 2 >in
	# Task 1 leaves a sleep behind, holding its stdout; task 2, on the same
	# channel, waits for go.
	"$PPOOL" -S 1/127.0.0.1 --ssh-command "$SSH" -- sh -c '
		if [ "$1" = 1 ]; then
			"$0" 1000 & echo $! >"$2/bgpid"
		else
			while [ ! -e "$2/go" ]; do sleep 0.05; done
		fi
		echo "$SSH_CONNECTION"' "$s" {} "$PWD" <in >out 2>err &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 30 at_least_lines out 1
	bg=$(<bgpid)
	wait_until 5 exited "$bg"
	# ppool is still running task 2, in the channel that ran task 1.
	! exited "$pid" || fail "ppool ended before task 2 could"
	[[ -n $(remote_marker_pids) ]] || fail "no remote process runs task 2"
	: >go
	wait_exit "$pid" 30
	output=$(<out)
	assert_equal "$status" 0
	assert_equal "$(cat err)" ""
	assert_seqs_in_order 2
	assert_equal "$(jqo -c '[.ok, .host]' | sort -u)" '[true,"127.0.0.1"]'
	assert_equal "$(channel_conns)" 1
	assert_hosts_match stdout
	assert_nothing_left 15
}

@test "channels: a task that times out is killed on the remote side (TERM, then KILL), its channel goes on, and nothing is left" {
	local s
	s=$(marked sleep)
	# -t 1 for tasks 2 and 3 only: the others may wait for a login.  Task 3
	# ignores SIGTERM: the SIGKILL --kill-after seconds later ends it.
	printf '%s\n' '{"args": [1], "timeout": 60}' '{"args": [2]}' '{"args": [3]}' \
		'{"args": [4], "timeout": 60}' >in
	run --separate-stderr ppool -S 1/127.0.0.1 -t 1 --kill-after 1 --ssh-command "$SSH" -- sh -c '
		[ "$1" != 2 ] || { : >"$2/started"; exec "$0" 100; }
		[ "$1" != 3 ] || { trap "" TERM; : >"$2/started3"; "$0" 100; }
		echo "$SSH_CONNECTION $PPID"' "$s" {} "$PWD" <in
	assert_equal "$status" 2
	assert_seqs_in_order 4
	assert_file_exists started
	assert_file_exists started3
	assert_equal "$(record 2 | jq -c '[.ok, .error, .exit, .signal, .host]')" \
		'[false,"timed out after 1 s",null,null,"127.0.0.1"]'
	assert_equal "$(record 3 | jq -c '[.ok, .error, .exit, .signal, .host]')" \
		'[false,"timed out after 1 s",null,null,"127.0.0.1"]'
	# Task 3 took its SIGKILL --kill-after (1 s) after its SIGTERM.
	(($(record 3 | jq '.ms | floor') >= 1900)) || fail "task 3 ended after $(record 3 | jq .ms) ms"
	assert_equal "$(jqo -c 'select(.seq == 1 or .seq == 4) | [.ok, .exit, .host]' | sort -u)" '[true,0,"127.0.0.1"]'
	# Tasks 1 and 4 ran in the same channel: one connection, one runner.
	assert_equal "$(record 1 | jq -r .stdout)" "$(record 4 | jq -r .stdout)"
	assert_nothing_left 15
}

@test "channels: a remote command's own exit status 255 is a failed task, --retries applies, the host is not retired" {
	printf '%s\n' 1 2 3 4 >in
	run --separate-stderr ppool -S 1/127.0.0.1 --retries 1 --ssh-command "$SSH" \
		-- sh -c 'echo "$SSH_CONNECTION"; [ "$0" != 2 ] || exit 255' {} <in
	assert_equal "$status" 1
	assert_seqs_in_order 4
	assert_equal "$(record 2 | jq -c '[.ok, .exit, .signal, .host, .attempts]')" '[false,255,null,"127.0.0.1",2]'
	assert_equal "$(jqo -c 'select(.seq != 2) | [.ok, .exit, .host, .attempts]' | sort -u)" '[true,0,"127.0.0.1",1]'
	assert_equal "$(grep -ci retir <<<"$stderr")" 0
	# One channel ran all five attempts, and the tasks after them.
	assert_equal "$(channel_conns)" 1
	jqo -c 'del(.ms, .stdout)' >channels.rec
	output=$(jqo -c 'select(.ok)')
	assert_hosts_match stdout
	# With a connection per task: the same records.
	PPOOL_CHANNELS=0 run --separate-stderr ppool -S 1/127.0.0.1 --retries 1 --ssh-command "$SSH" \
		-- sh -c 'echo "$SSH_CONNECTION"; [ "$0" != 2 ] || exit 255' {} <in
	assert_equal "$status" 1
	assert_equal "$(jqo -c 'del(.ms, .stdout)')" "$(cat channels.rec)"
	assert_equal "$(grep -ci retir <<<"$stderr")" 0
	assert_nothing_left 15
}

@test "channels: 2 MiB of stdin with NUL bytes comes back whole, 5 MiB of random stdout too, and the next task still runs (-o raw)" {
	# A stdin of 2 MiB: code points from 0 (NUL) up, as UTF-8, in a JSON
	# string; its bytes in big.in.
	python3 - big.in >in <<'EOF'
import json, random, sys
r = random.Random(7)
cps = []
n = 0
while n < 2 * 1024 * 1024:
    k = r.random()
    c = chr(r.randrange(0, 128) if k < 0.6 else r.randrange(0x80, 0x800) if k < 0.9 else r.randrange(0x800, 0xd800))
    cps.append(c)
    n += len(c.encode())
s = "".join(cps)
open(sys.argv[1], "wb").write(s.encode())
print(json.dumps({"stdin": s}, ensure_ascii=False))
EOF
	(($(tr -dc '\000' <big.in | wc -c) > 1000)) || fail "too few NUL bytes in big.in"
	head -c 5242880 /dev/urandom >rand.bin
	{
		jq -nc --arg f "$PWD/rand.bin" '{args: [$f]}'
		jq -nc '{stdin: "after"}'
	} >>in
	local cmd='if [ -n "$1" ]; then cat "$1"; else cat; fi'
	ppool -o raw -- sh -c "$cmd" sh <in >local.out
	status=0
	timeout -s KILL 40 "$PPOOL" -o raw -S 1/127.0.0.1 --ssh-command "$SSH" -- sh -c "$cmd" sh \
		<in >remote.out 2>err || status=$?
	assert_equal "$status" 0
	assert_equal "$(cat err)" ""
	{
		cat big.in rand.bin
		printf after
	} >want
	assert_equal "$(md5sum <local.out)" "$(md5sum <want)"
	assert_equal "$(md5sum <remote.out)" "$(md5sum <want)"
	assert_nothing_left 15
}

@test "channels: 64 tasks of 2 MiB of output each all end, none left waiting for the end its channel sent (as a local run)" {
	# The runner's token and status come in the same read as a task's last
	# bytes: ppool must take them then, since nothing more comes until it
	# sends the next task.
	seq 64 >in
	local cmd='echo "$0"; head -c 2097152 /dev/zero'
	ppool -o raw -- sh -c "$cmd" {} <in | md5sum >local.md5
	{
		status=0
		timeout -s KILL 40 "$PPOOL" -o raw -S 1/127.0.0.1 --ssh-command "$SSH" -- sh -c "$cmd" {} \
			<in 2>err || status=$?
		echo "$status" >rc
	} | md5sum >remote.md5
	assert_equal "$(cat rc)" 0
	assert_equal "$(cat err)" ""
	assert_equal "$(cat remote.md5)" "$(cat local.md5)"
	assert_equal "$(cat local.md5)" "$(for i in $(seq 64); do echo "$i"; head -c 2097152 /dev/zero; done | md5sum)"
	assert_nothing_left 15
}

@test "channels: --results files and --line-buffer output are a local run's" {
	local cmd='case $0 in
1) seq 30000; echo "to stderr" >&2 ;;
2) printf "\377\000bin"; printf "e\000rr" >&2; exit 3 ;;
3) printf "a\nb\nno newline" ;;
*) echo "$0" ;;
esac'
	seq 4 >in
	mkdir here there
	status=0
	(cd here && "$PPOOL" --results r -- sh -c "$cmd" {} <../in >../here.rec) || status=$?
	assert_equal "$status" 1
	status=0
	(cd there && "$PPOOL" --results r -S 2/127.0.0.1 --ssh-command "$SSH" -- sh -c "$cmd" {} <../in >../there.rec) ||
		status=$?
	assert_equal "$status" 1
	assert_equal "$(jq -c 'del(.ms, .host)' there.rec)" "$(jq -c 'del(.ms)' here.rec)"
	assert_equal "$(jq -r .host there.rec | sort -u)" 127.0.0.1
	diff -r -x record.json here/r there/r
	local n
	for n in 1 2 3 4; do
		assert_equal "$(jq -c 'del(.ms, .host)' "there/r/$n/record.json")" \
			"$(jq -c 'del(.ms)' "here/r/$n/record.json")"
	done
	assert_equal "$(md5sum <there/r/1/stdout)" "$(seq 30000 | md5sum)"
	assert_equal "$(od -An -c there/r/2/stderr | tr -s ' ')" ' e \0 r r'
	# --line-buffer: every line of every task, whole.
	cmd='i=0; while [ $i -lt 200 ]; do echo "task $0 line $i"; i=$((i + 1)); done; echo "err $0" >&2'
	seq 6 >in
	ppool --line-buffer -- sh -c "$cmd" {} <in >here.out 2>here.err
	ppool --line-buffer -S 2/127.0.0.1 --ssh-command "$SSH" -- sh -c "$cmd" {} <in >there.out 2>there.err
	assert_equal "$(sort there.out)" "$(sort here.out)"
	assert_equal "$(wc -l <there.out)" 1200
	assert_equal "$(sort there.err)" "$(sort here.err)"
	assert_nothing_left 15
}

@test "channels: a task has the remote environment, not the runner's variables, and never sees its token (env, set, ps)" {
	# A --ssh-command that keeps a copy of what ppool sends the channel,
	# whose first line is the token.
	printf '#!/bin/sh\ntee %q/sent.$$ | %s "$@"\n' "$PWD" "$SSH" >teessh
	chmod +x teessh
	printf '%s\n' '{"cmd": "env"}' '{"cmd": ["env"]}' '{"cmd": "set"}' '{"cmd": "ps -eo args"}' >in
	run --separate-stderr ppool -S 1/127.0.0.1 --ssh-command ./teessh <in
	assert_success
	assert_seqs_in_order 4
	local sent token
	sent=(sent.*)
	assert_equal "${#sent[@]}" 1
	token=$(head -n 1 "${sent[0]}")
	[[ $token =~ ^[0-9a-f]{32}$ ]] || fail "no token as the first line sent: $token"
	local env1 env2 set3 ps4
	env1=$(record 1 | jq -r .stdout)
	env2=$(record 2 | jq -r .stdout)
	set3=$(record 3 | jq -r .stdout)
	ps4=$(record 4 | jq -r .stdout)
	grep -qE "^SSH_CONNECTION=[^ ]+ [0-9]+ 127\.0\.0\.1 $SSHD_PORT\$" <<<"$env1" || fail "no SSH_CONNECTION: $env1"
	grep -qE "^SSH_CONNECTION=[^ ]+ [0-9]+ 127\.0\.0\.1 $SSHD_PORT\$" <<<"$env2" || fail "no SSH_CONNECTION: $env2"
	grep -qE "^SSH_CONNECTION=" <<<"$set3" || fail "no SSH_CONNECTION in set: $set3"
	assert_equal "$(grep -c '^P_' <<<"$env1$env2$set3")" 0
	# The runner's command line is in view, the token is not.
	[[ $ps4 == *'IFS= read -r P_t'* ]] || fail "the runner is not in ps: $ps4"
	[[ $env1$env2$set3$ps4 != *"$token"* ]] || fail "a task saw the token $token"
	assert_nothing_left 15
}

# channel_session: the pid of the sshd process of the session that runs
# the one channel of this test: the parent of its runner (the runner's
# subshells and the watchdog forked before it share its command line).
channel_session() {
	local p pp
	for p in $(remote_marker_pids); do
		[[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "/bin/sh -c unset P_a "* ]] || continue
		pp=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null) || continue
		[[ $(tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null) != sshd:* ]] || echo "$pp"
	done
}

@test "channels: a channel whose connection dropped while it was idle is replaced; the next task runs, no host is retired" {
	local pid session client
	mkfifo tasks
	"$PPOOL" -S 1/127.0.0.1 --ssh-command "$SSH" -- sh -c 'echo "$SSH_CONNECTION"' {} \
		<tasks >out 2>err 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	exec 5>tasks
	echo 1 >&5
	wait_until 30 at_least_lines out 1
	# The channel is idle: its session's sshd dies, and its ssh with it.
	session=$(channel_session)
	[[ $session =~ ^[0-9]+$ ]] || fail "not one channel session: $session"
	client=$(pgrep -P "$pid")
	[[ $client =~ ^[0-9]+$ ]] || fail "not one ssh: $client"
	kill -KILL "$session"
	wait_until 10 exited "$client"
	echo 2 >&5
	exec 5>&-
	wait_exit "$pid" 30
	output=$(<out)
	assert_equal "$status" 0
	assert_equal "$(cat err)" ""
	assert_seqs_in_order 2
	assert_hosts_match stdout
	assert_equal "$(channel_conns)" 2
	assert_nothing_left 15
}

@test "channels: a cmd text that ends in a backslash runs as here and with a connection of its own (the runner adds no newline)" {
	printf '%s\n' '{"cmd": "printf %s x \\"}' '{"cmd": "echo a \\"}' >in
	run --separate-stderr ppool <in
	assert_success
	assert_equal "$(jqo '.stdout | tojson' | tr '\n' ' ')" '"x\\" "a \\\n" '
	jqo -c 'del(.ms)' >local.rec
	PPOOL_CHANNELS=0 run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" <in
	assert_success
	jqo -c 'del(.ms, .host)' >nochannel.rec
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" <in
	assert_success
	jqo -c 'del(.ms, .host)' >channel.rec
	assert_equal "$(cat nochannel.rec)" "$(cat local.rec)"
	assert_equal "$(cat channel.rec)" "$(cat local.rec)"
	assert_nothing_left 15
}

@test "channels: --line-buffer prints a line while its task still runs, as here and with a connection of its own" {
	# The task prints a line, then waits for go: the line must be out
	# before that.  Each way of running it says whether it was.
	local cmd='echo "first $0"; : >"$1/started"; while [ ! -e "$1/go" ]; do sleep 0.05; done; echo last'
	local how pid got='' channels
	local -a hosts
	for how in local connection channel; do
		rm -f started go
		hosts=(-S 127.0.0.1 --ssh-command "$SSH")
		channels=1
		case $how in
		local) hosts=() ;;
		connection) channels=0 ;;
		esac
		PPOOL_CHANNELS=$channels "$PPOOL" --line-buffer "${hosts[@]}" -- sh -c "$cmd" {} "$PWD" \
			<<<1 >"out.$how" 2>err &
		pid=$!
		BG_PIDS+=("$pid")
		wait_until 30 test -e started
		if wait_until 5 grep -qx 'first 1' "out.$how"; then
			got="$got $how:early"
		else
			got="$got $how:late"
		fi
		: >go
		wait_exit "$pid" 30
		assert_equal "$status" 0
		assert_equal "$(cat "out.$how")" "first 1
last"
	done
	assert_equal "$got" " local:early connection:early channel:early"
	assert_nothing_left 15
}

@test "command mode: an \"env\" name that is no shell name reaches an argv command on a remote host, as here (channel or not)" {
	# The man page: "env" is set with env(1), "so that any variable name
	# works".  The tasks' programs are run without a shell.
	printf '%s\n' '{"cmd": ["printenv", "odd name.x"], "env": {"odd name.x": "v1"}}' \
		'{"pipeline": [["printenv", "a-b"], ["cat"]], "env": {"a-b": "v2"}}' >in
	run --separate-stderr ppool <in
	assert_success
	assert_equal "$(jqo -c '[.ok, .stdout]' | tr '\n' ' ')" '[true,"v1\n"] [true,"v2\n"] '
	jqo -c 'del(.ms)' >local.rec
	run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" <in
	jqo -c 'del(.ms, .host)' >channel.rec
	PPOOL_CHANNELS=0 run --separate-stderr ppool -S 127.0.0.1 --ssh-command "$SSH" <in
	jqo -c 'del(.ms, .host)' >nochannel.rec
	assert_equal "$(cat channel.rec nochannel.rec)" "$(cat local.rec local.rec)"
	assert_nothing_left 15
}
