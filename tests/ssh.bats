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
