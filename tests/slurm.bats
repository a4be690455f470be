#!/usr/bin/env bats
# slurm.bats: --slurm inside a real allocation (tests/slurm.bash: munged,
# slurmctld and two slurmd, n1 and n2, on this machine).  Workers are job
# steps; command mode runs each slot's tasks in one step (a channel).  Every
# task proves where it ran by $SLURMD_NODENAME, which srun sets; every test
# that starts steps checks that none is left when ppool is gone.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers
load slurm

# srun takes a while to start a step under load: more than the default.
BATS_TEST_TIMEOUT=120

setup_file() {
	slurm_setup_file
}

teardown_file() {
	slurm_teardown_file
}

setup() {
	slurm_setup
	cd "$BATS_TEST_TMPDIR" || return 1
}

eval "helpers_$(declare -f teardown)"

teardown() {
	helpers_teardown
	slurm_restore_nodes
}

# A worker that answers each task with ["NODE", TASK].
NODE_WORKER='while read -r l; do printf "[\"%s\",%s]\n" "$SLURMD_NODENAME" "$l"; done'

# in_alloc [SALLOC_OPTION... --] CMD...: run CMD in an allocation of both
# nodes, writing the job id to ./jobid (stdin, stdout and stderr are CMD's);
# its exit status goes to $status (in_alloc itself succeeds).
in_alloc() {
	status=0
	alloc_run "$@" || status=$?
}

alloc_run() {
	local -a opts=()
	if [[ $1 == -* ]]; then
		while [[ $1 != -- ]]; do
			opts+=("$1")
			shift
		done
		shift
	fi
	slurm_alloc "${opts[@]}" -- sh -c 'echo "$SLURM_JOB_ID" >jobid; exec "$@"' sh "$@"
}

@test "--slurm outside an allocation, or with -S: exit 255 and a message that says what to do; nothing runs" {
	local v
	for v in $(env | grep -oE '^SLURM_[A-Z_]+'); do unset "$v"; done
	run --separate-stderr ppool --slurm -w cat <<<'1'
	assert_equal "$status" 255
	assert_output ""
	[[ $stderr == *"SLURM_JOB_ID is not set: run ppool under salloc"*"sbatch"* ]] || fail "$stderr"
	run --separate-stderr ppool --slurm -L -- echo <<<'1'
	assert_equal "$status" 255
	SLURM_JOB_ID=1 SLURM_JOB_NODELIST='n[1-2]' run --separate-stderr ppool --slurm -S 127.0.0.1 -w cat <<<'1'
	assert_equal "$status" 255
	[[ $stderr == *"--slurm"*"cannot be used with -S"* ]] || fail "$stderr"
}

@test "worker mode: workers run as steps on both nodes; records and the joblog name the node; steps = workers" {
	seq 400 >in
	in_alloc --ntasks-per-node=2 -- "$PPOOL" --slurm --joblog log -w "$NODE_WORKER" <in >out 2>err
	output=$(<out)
	assert_equal "$(<err)" ""
	assert_records_valid
	assert_seqs_in_order 400
	# The reply's node is the record's host, and both nodes worked.
	assert_equal "$(jqo -c 'select(.result[0] != .host)')" ""
	assert_equal "$(jqo -r .host | sort -u | paste -sd,)" "n1,n2"
	assert_equal "$(jqo -c 'select(.ok != true or .result[1] != .seq)')" ""
	# SLURM_TASKS_PER_NODE=2(x2): 2 workers a node, one step each.
	assert_equal "$(jqo -r .worker | sort -u | wc -l)" 4
	assert_equal "$(slurm_steps_started "$(<jobid)")" 4
	# Host is the joblog's 8th column.
	assert_equal "$(tail -n +2 log | cut -f8 | sort -u | paste -sd,)" "n1,n2"
	wait_until 20 slurm_no_steps
}

@test "command mode: one step per slot, not per task; each slot's tasks run in its step" {
	seq 40 >in
	in_alloc --ntasks-per-node=2 -- "$PPOOL" --slurm -L -- \
		sh -c 'echo "$SLURMD_NODENAME $SLURM_STEP_ID $1"' sh {} <in >out 2>err
	output=$(<out)
	assert_equal "$(<err)" ""
	assert_records_valid
	assert_seqs_in_order 40
	assert_equal "$(jqo -c 'select(.ok != true)')" ""
	assert_equal "$(jqo -r '.host' | sort -u | paste -sd,)" "n1,n2"
	assert_equal "$(jqo -c 'select((.stdout | split(" ")[0]) != .host)')" ""
	# At most 4 slots: at most 4 steps for 40 tasks, each used by many.
	local steps
	steps=$(slurm_steps_started "$(<jobid)")
	((steps >= 2 && steps <= 4)) || fail "$steps steps for 40 tasks"
	assert_equal "$(jqo -r '.stdout | split(" ")[1]' | sort -u | wc -l)" "$steps"
	# With PPOOL_CHANNELS=0, a step per task, as srun per task would be.
	seq 6 >in6
	PPOOL_CHANNELS=0 in_alloc -- "$PPOOL" --slurm -L -- echo {} <in6 >out6 2>err6
	assert_equal "$(slurm_steps_started "$(<jobid)")" 6
	wait_until 20 slurm_no_steps
}

@test "command mode through steps is byte for byte what it is here: argv, cmd, env, cwd, stdin, status, signal, stdout, stderr" {
	mkdir -p "$BATS_TEST_TMPDIR/d ir"
	{
		printf '%s\n' '{"pipeline":[["printf","%s|","a b","it'"'"'s","$HOME","back\\\\slash","new\nline"]]}'
		printf '%s\n' '{"cmd":"printf %s \"$V\"; pwd; cat; echo err >&2; exit 3","env":{"V":"x\u0001 y","odd name":"v"},"cwd":"'"$BATS_TEST_TMPDIR"'/d ir","stdin":"in\u0000put"}'
		printf '%s\n' '{"cmd":"printf \"no newline\"; printf \"e\" >&2"}'
		printf '%s\n' '{"cmd":"kill -TERM $$"}'
		printf '%s\n' '{"cmd":"kill -KILL $$"}'
		printf '%s\n' '{"cmd":"exit 127"}'
		printf '%s\n' '{"pipeline":[["printf","a\\nb\\n"],["tr","ab","xy"]]}'
		printf '%s\n' '{"pipeline":[["head","-c","5"]],"stdin":"\u0000\u0001\u0002\u0003\u0004tail"}'
	} >in
	# Lines of bytes that are not UTF-8 become arguments of COMMAND.
	printf 'a\xff\x80b\n$HOME\n"q" '"'"'s'"'"'\nback\\slash\n' >lines
	run ppool -j 1 <in
	local here=$output
	run ppool -j 1 -L -- printf '%s|' {} <lines
	local here_lines=$output
	in_alloc -- "$PPOOL" --slurm -j 1 <in >out 2>err
	output=$(<out)
	assert_records_valid
	assert_equal "$(jqo -c 'select(.attempts != 1 or (.host | test("^n[12]$") | not))')" ""
	assert_equal "$(jqo -c 'del(.ms, .host)')" "$(jq -c 'del(.ms)' <<<"$here")"
	in_alloc -- "$PPOOL" --slurm -j 1 -L -- printf '%s|' {} <lines >out 2>err
	output=$(<out)
	assert_records_valid
	assert_equal "$(jqo -c 'del(.ms, .host)')" "$(jq -c 'del(.ms)' <<<"$here_lines")"
	assert_equal "$(jqo -r 'select(.ok) | .seq' | wc -l)" 4
	wait_until 20 slurm_no_steps
}

@test "a node killed mid-run is retired once; its tasks run on the other node without a retry (both modes)" {
	local mode pid
	seq 12 >in
	for mode in worker command; do
		rm -f got go
		if [[ $mode == worker ]]; then
			in_alloc --ntasks-per-node=2 -- "$PPOOL" --slurm -w \
				"while read -r l; do echo \"\$l\" >>'$PWD/got'; while [ ! -e '$PWD/go' ]; do sleep 0.05; done; echo '\"'\"\$SLURMD_NODENAME\"'\"'; done" \
				<in >out 2>err &
		else
			in_alloc --ntasks-per-node=2 -- "$PPOOL" --slurm -L -- sh -c \
				"echo \"\$1\" >>'$PWD/got'; while [ ! -e '$PWD/go' ]; do sleep 0.05; done; echo \"\$SLURMD_NODENAME\"" \
				sh {} <in >out 2>err &
		fi
		pid=$!
		BG_PIDS+=("$pid")
		# All four slots hold a task: two of them on n2.
		wait_until 60 at_least_lines got 4
		slurm_kill_node n2
		: >go
		wait_exit "$pid" 60
		output=$(<out)
		assert_equal "$status" 0
		assert_records_valid
		assert_seqs_in_order 12
		assert_equal "$(jqo -c 'select(.ok != true)')" ""
		# What ran last was on n1; the two tasks lost on n2 ran again.
		assert_equal "$(grep -c 'retiring it' err)" 1
		grep -q 'host n2: srun: error: Node failure on n2' err || fail "$(<err)"
		assert_equal "$(jqo -c 'select(.attempts > 1) | .seq' | wc -l)" 2
		assert_equal "$(jqo -r .host | sort -u)" n1
		slurm_restore_nodes
	done
}

@test "ppool killed with SIGKILL mid-run: its steps end too (squeue -s), in both modes" {
	local mode pid
	seq 8 >in
	for mode in worker command; do
		rm -f got
		if [[ $mode == worker ]]; then
			in_alloc -- "$PPOOL" --slurm -w "while read -r l; do echo \"\$l\" >>'$PWD/got'; sleep 1000; done" \
				<in >out 2>err &
		else
			in_alloc -- "$PPOOL" --slurm -L -- sh -c "echo \"\$1\" >>'$PWD/got'; sleep 1000" sh {} \
				<in >out 2>err &
		fi
		pid=$!
		BG_PIDS+=("$pid")
		wait_until 60 at_least_lines got 4
		# The allocation's shell exec'd ppool: salloc's child is ppool.
		[[ -n $(slurm_steps) ]] || fail "no step runs"
		# Only ppool: salloc's command line says the same, and a salloc
		# killed so leaves its allocation behind.
		pkill -KILL -f -- "^$PPOOL --slurm.*$PWD/got" || fail "no ppool to kill"
		wait_until 20 slurm_no_steps || fail "steps left: $(slurm_steps)"
		wait_exit "$pid" 30
	done
}

@test "-t: a timed-out task on a node ends with its step; the next task of that slot runs (both modes)" {
	printf '%s\n' 1 2 3 >in
	in_alloc -- "$PPOOL" --slurm -j 1 -t 2 -L -- sh -c \
		'[ "$1" = 2 ] && exec sleep 1000; echo "$1 $SLURMD_NODENAME"' sh {} <in >out 2>err
	output=$(<out)
	assert_equal "$status" 1
	assert_records_valid
	assert_equal "$(jqo -c '[.seq, .ok]' | paste -sd' ')" '[1,true] [2,false] [3,true]'
	[[ $(record 2 .error) == *"timed out"* ]] || fail "$(record 2 .error)"
	wait_until 20 slurm_no_steps
	printf '%s\n' 1 2 3 >in
	in_alloc -- "$PPOOL" --slurm -j 1 -t 2 -w \
		'while read -r l; do [ "$l" = 2 ] && exec sleep 1000; echo "$l"; done' <in >out 2>err
	output=$(<out)
	assert_records_valid
	assert_equal "$(jqo -c '[.seq, .ok]' | paste -sd' ')" '[1,true] [2,false] [3,true]'
	wait_until 20 slurm_no_steps
}

@test "-j N with --slurm gives each node N slots instead of the allocation's" {
	seq 60 >in
	in_alloc -- "$PPOOL" --slurm -j 1 -w "$NODE_WORKER" <in >out 2>err
	output=$(<out)
	assert_records_valid
	assert_equal "$(jqo -r .worker | sort -u | wc -l)" 2
	assert_equal "$(jqo -r .host | sort -u | paste -sd,)" "n1,n2"
	assert_equal "$(slurm_steps_started "$(<jobid)")" 2
}

@test "--pipe --slurm: each block is the stdin of a step's command, byte for byte, on both nodes" {
	seq 200000 >in
	in_alloc --ntasks-per-node=2 -- "$PPOOL" --slurm --pipe --block 100k -o raw -- \
		sh -c 'md5sum | cut -c1-8; echo "$SLURMD_NODENAME" >>nodes' <in >out 2>err
	assert_equal "$(<err)" ""
	gnu --pipe --block 100k -k -- sh -c 'md5sum | cut -c1-8' <in >expected
	assert_equal "$(<out)" "$(<expected)"
	assert_equal "$(sort -u nodes | paste -sd,)" "n1,n2"
	wait_until 20 slurm_no_steps
}
