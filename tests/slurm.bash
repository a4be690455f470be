# slurm.bash: a private two-node Slurm cluster for the Slurm tests (loaded
# with `load slurm` after `load helpers`).
#
# slurm_setup_file (in setup_file) starts munged (a key of its own),
# slurmctld and two slurmd (nodes n1 and n2, 4 CPUs each, both at
# 127.0.0.1) on free ports, every file in a directory of the test's own, and
# returns once both nodes are idle (1-2 s; up to 3.5 s with three clusters
# at once on 2 CPUs).  slurm_teardown_file (in teardown_file, 1-2 s) kills
# them, every slurmstepd of this cluster with what its steps run, and the
# salloc/srun clients a test left.  Everything is found by pid file,
# environment (SLURM_CONF) or open file (its own logs), never by name:
# several clusters may run at once.
#
# Exported for the tests: SLURM_CONF (the cluster's slurm.conf: every Slurm
# command of the test talks to this cluster); SLURM_DIR (slurm.conf, state,
# pid files in run/, logs in log/: slurmctld.log, slurmd-n1.log, ...);
# SLURM_SOCK_DIR (munge/ and spool/: SLURM_DIR, or a directory of /tmp when
# SLURM_DIR is too long for unix socket paths).  Exported SLURM_*, SALLOC_*,
# SRUN_*, SQUEUE_*, SINFO_* ... variables (from an outer allocation, or the
# user's defaults) are removed first.
#
# For the tests:
#   slurm_setup            in setup(): skip when there is no Slurm.
#   slurm_alloc [SALLOC_OPTION... --] CMD [ARG]...
#                          run CMD here inside a new allocation of both nodes:
#                          `salloc -Q -I30 -k -N2 -n4 SALLOC_OPTION... CMD...`
#                          (quiet, --immediate=30, --no-kill); CMD gets
#                          SLURM_JOB_ID, SLURM_JOB_NODELIST=n[1-2],
#                          SLURM_TASKS_PER_NODE=3,1 (2(x2) with
#                          --ntasks-per-node=2), SLURM_NTASKS=4.
#   slurm_steps            the running steps, "JOB.STEP NODELIST NAME" a line.
#   slurm_no_steps         none (`wait_until 10 slurm_no_steps`).
#   slurm_steps_started JOBID
#                          how many steps JOBID has launched so far.
#   slurm_kill_node NODE   NODE crashes (slurmd, slurmstepds, tasks: SIGKILL)
#                          and is set DOWN.
#   slurm_restore_nodes    in teardown(): crashed nodes come back (0.4 s).
#   slurm_node_state NODE  idle, mix, alloc, down, down* ...
#
# Without Slurm (packages slurm-wlm and munge) or root (the daemons run as
# SlurmUser=root) the tests are skipped, unless PPOOL_REQUIRE_SLURM=1, which
# makes that a failure (CI sets it).
#
# What Slurm 22.05 does here (checked; the tests rely on it):
# - squeue -s lists nothing for an allocation without steps: with neither
#   PrologFlags=contain nor LaunchParameters=use_interactive_step there is
#   no "extern" or "interactive" step.  `srun --overlap -N1 -n1 -w n1 sleep
#   30` shows as "12.0 n1 sleep".  Steps are numbered from 0 in the order
#   slurmctld creates them (two sruns started together: either gets 0).
# - Counting steps: without accounting, sacct knows nothing, and slurmctld
#   logs no step at its default level; each slurmd logs "launch task
#   StepId=J.S request from ..." once per step on its node (what
#   slurm_steps_started counts, a step on two nodes once).  Another way:
#   the next step gets the next id, so `srun --overlap -N1 -n1 printenv
#   SLURM_STEP_ID` inside the allocation (or with --jobid=J) prints how many
#   steps were created before it (itself included in later counts).
# - After slurm_kill_node n2: srun prints "srun: error: Node failure on n2"
#   and exits 0; salloc prints "salloc: error: Node failure on n2" even
#   with -Q.  The job goes on (-k) but shrinks to n1 for good: `srun -w n2`
#   then fails ("Requested node configuration is not available") even once
#   n2 is back, while SLURM_JOB_NODELIST in CMD still says n[1-2].  The step
#   that ran on n2 stays in squeue -s (RUNNING) until the job ends, scancel
#   or not: slurm_no_steps holds only once the allocation is over.
# - A restarted slurmd brings its node back to idle by itself
#   (ReturnToService=2), DOWN Reason=test or not.
# - A slurmd that cannot bind its port logs "Unable to bind listen port"
#   and exits before it writes its pid file; slurmctld logs "fatal:".
#   slurm_setup_file then tries other ports.  A daemon's pid file may for a
#   moment name a process that is not it yet: the readiness check is "this
#   pid listens on its port".
# - slurmstepd's title ("slurmstepd: [12.0]") overwrites most of its
#   /proc/PID/environ; it keeps its node's slurmd log open, which finds it.
#   Its unix socket, SlurmdSpoolDir/NODE_JOB.STEP, must fit in 108 bytes
#   (else every step fails to launch), as must munged's.
# - A Slurm command whose SLURM_CONF does not exist retries for 60 s.

PPOOL_SLURM_NODES=(n1 n2)

# slurm_require: true when Slurm can run here.  Otherwise fail with
# PPOOL_REQUIRE_SLURM=1, else set SLURM_SKIP to the reason (bats 1.8 cannot
# skip in setup_file: slurm_setup skips each test instead).
slurm_require() {
	local missing='' p
	for p in slurmctld slurmd munged mungekey srun salloc squeue sinfo scontrol; do
		command -v "$p" >/dev/null || missing="$missing $p"
	done
	[[ $(id -u) == 0 ]] || missing="$missing root"
	[[ -z $missing ]] && return 0
	if [[ ${PPOOL_REQUIRE_SLURM:-} == 1 ]]; then
		echo "slurm.bash: PPOOL_REQUIRE_SLURM=1 but missing:$missing" >&2
		return 2
	fi
	export SLURM_SKIP="Slurm is not usable (missing:$missing; apt-get install slurm-wlm munge, run as root)"
	return 1
}

# slurm_setup: for setup(): skip the test when slurm_setup_file found no Slurm.
slurm_setup() {
	[[ -z ${SLURM_SKIP:-} ]] || skip "$SLURM_SKIP"
}

# slurm_clean_env: remove from the environment what an outer allocation or
# the user's defaults would pass to the Slurm commands of the tests
# (SLURM_JOB_ID, SLURM_NTASKS, SLURM_CONF, SALLOC_PARTITION, SQUEUE_FORMAT,
# ...): every exported variable of those names.
slurm_clean_env() {
	local v
	for v in $(compgen -e | grep -E '^(SLURM|SALLOC|SRUN|SBATCH|SQUEUE|SINFO|SCONTROL|SCANCEL|SACCT|SPRIO|SSHARE|SSTAT|STRIGGER)_'); do
		unset "$v"
	done
}

# slurm_free_ports N: print N different TCP ports that nothing listens on
# right now (the kernel's picks for ephemeral binds on any address), one a
# line.  Another process may take one before our daemon does:
# slurm_setup_file then tries again with others.
slurm_free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
EOF
}

# slurm_write_conf CTLD_PORT N1_PORT N2_PORT: write slurm.conf and cgroup.conf
# in SLURM_DIR.
slurm_write_conf() {
	local d=$SLURM_DIR
	cat >"$d/slurm.conf" <<EOF
ClusterName=ppooltest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_SOCK_DIR/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$SLURM_SOCK_DIR/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
SlurmdTimeout=10
KillWait=2
InactiveLimit=0
NodeName=n1 NodeAddr=127.0.0.1 Port=$2 CPUs=4 State=UNKNOWN
NodeName=n2 NodeAddr=127.0.0.1 Port=$3 CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	# slurmd 22.05 always loads a cgroup plugin; cgroup/v2 is fatal here,
	# autodetect picks v1.
	cat >"$d/cgroup.conf" <<EOF
CgroupPlugin=autodetect
IgnoreSystemd=yes
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
EOF
}

# slurm_spawn NAME CMD [ARG]...: start daemon CMD with no descriptor of ours
# (munged keeps the ones it inherits open, and bats waits for their EOF),
# its early messages in log/NAME.err; it goes into the background itself.
# Returns CMD's status (0 once it has forked away).
slurm_spawn() {
	local name=$1
	shift
	# Where this start's messages begin in its log (see slurm_bind_failed).
	stat -c %s "$SLURM_DIR/log/$name.log" >"$SLURM_DIR/run/$name.logstart" 2>/dev/null ||
		echo 0 >"$SLURM_DIR/run/$name.logstart"
	(
		local fd
		for fd in "/proc/$BASHPID/fd"/*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec "$@" </dev/null >/dev/null 2>>"$SLURM_DIR/log/$name.err"
	)
}

# slurm_pid NAME: the pid of daemon NAME (munged, slurmctld, slurmd-n1,
# slurmd-n2) from its pid file, if it is still ours (a process whose
# environment has our SLURM_CONF; a slurmd's command line names its node);
# empty otherwise.
slurm_pid() {
	local f="$SLURM_DIR/run/$1.pid" pid
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	grep -qzxF "SLURM_CONF=$SLURM_DIR/slurm.conf" "/proc/$pid/environ" 2>/dev/null || return 0
	case $1 in
	slurmd-*) [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"-N ${1#slurmd-} "* ]] || return 0 ;;
	esac
	echo "$pid"
}

# slurm_listens PID PORT: process PID has a TCP socket listening on PORT.
slurm_listens() {
	local hex inode
	hex=$(printf ':%04X' "$2")
	while read -r inode; do
		[[ -n $(find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null) ]] && return 0
	done < <(awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null)
	return 1
}

# slurm_bind_failed NAME: daemon NAME said, since it was last started, that
# it cannot bind its port (or another fatal error).
slurm_bind_failed() {
	local start
	start=$(cat "$SLURM_DIR/run/$1.logstart" 2>/dev/null) || start=0
	tail -c +$((start + 1)) "$SLURM_DIR/log/$1.log" 2>/dev/null |
		grep -qE 'Unable to bind listen port|Error binding slurm stream socket|fatal:'
}

# slurm_wait_daemon NAME PORT SECS: wait until daemon NAME listens on PORT
# (an event: it has bound its port); fail as soon as its log says that it
# cannot bind, or after SECS.  (Its pid file is no sign of death: it may
# name for a moment a process of its daemonizing that then exits.)
slurm_wait_daemon() {
	local name=$1 port=$2 end=$((SECONDS + $3)) pid
	while :; do
		pid=$(slurm_pid "$name")
		[[ -n $pid ]] && slurm_listens "$pid" "$port" && return 0
		if slurm_bind_failed "$name"; then
			echo "slurm.bash: $name cannot bind port $port" >&2
			return 1
		fi
		if ((SECONDS > end)); then
			echo "slurm.bash: $name does not listen on port $port after $3 s; its log ends:" >&2
			tail -3 "$SLURM_DIR/log/$name.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# slurm_munge_up: munged runs and has made its socket.
slurm_munge_up() {
	[[ -n $(slurm_pid munged) && -S $SLURM_SOCK_DIR/munge/munge.sock ]]
}

# slurm_node_state NODE: the state of NODE as sinfo's %t shows it: idle,
# mix, alloc, down, down* (* when it does not respond), ...
slurm_node_state() {
	sinfo -h -N -n "$1" -o %t 2>/dev/null
}

# slurm_nodes_idle: every node is idle (and responds).
slurm_nodes_idle() {
	[[ $(sinfo -h -N -o '%N %t' 2>/dev/null | paste -sd ' ') == \
		"$(printf '%s idle\n' "${PPOOL_SLURM_NODES[@]}" | paste -sd ' ')" ]]
}

# slurm_node_usable NODE: NODE responds and takes work (idle, or running
# some: mix, alloc).
slurm_node_usable() {
	[[ $(slurm_node_state "$1") == @(idle|mix|alloc) ]]
}

# slurm_descendants PID...: PID and all its descendants, by parent pid (one
# look at the process table).
slurm_descendants() {
	ps -e -o pid= -o ppid= | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, todo, " ")
			for (i = 1; i <= n; i++) {
				p = todo[i]
				if (p in seen)
					continue
				seen[p] = 1
				print p
				m = split(kids[p], k, " ")
				for (j = 1; j <= m; j++)
					todo[++n] = k[j]
			}
		}'
}

# slurm_kill_tree PID...: stop PID and every descendant (again and again
# until no new one appears, so that none can fork away), then kill them all.
slurm_kill_tree() {
	local -A seen=()
	local p new=1
	(($#)) || return 0
	while ((new)); do
		new=0
		for p in $(slurm_descendants "$@"); do
			[[ -n ${seen[$p]:-} ]] && continue
			seen[$p]=1
			new=1
			kill -STOP "$p" 2>/dev/null || true
		done
	done
	for p in "${!seen[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# slurm_stepd_pids NODE...: the slurmstepd processes of NODEs of this
# cluster.  Their command line ("slurmstepd: [12.0]") names neither, and
# their environment is partly overwritten by that title; but each keeps its
# node's slurmd log open (log/slurmd-NODE.log, unique to the cluster).
slurm_stepd_pids() {
	local node f pid
	for node in "$@"; do
		find /proc/[0-9]*/fd -lname "$SLURM_DIR/log/slurmd-$node.log" 2>/dev/null |
			while read -r f; do
				pid=${f#/proc/}
				pid=${pid%%/*}
				[[ $(cat "/proc/$pid/comm" 2>/dev/null) != slurmstepd ]] || echo "$pid"
			done
	done | sort -u
}

# slurm_task_pids NODE...: processes that steps of this cluster started on
# NODEs (their environment has SLURMD_NODENAME=NODE and our SLURM_CONF),
# even those that left their slurmstepd's tree.
slurm_task_pids() {
	local node f pid
	for node in "$@"; do
		grep -lzxF "SLURMD_NODENAME=$node" /proc/[0-9]*/environ 2>/dev/null |
			while read -r f; do
				pid=${f#/proc/}
				pid=${pid%/environ}
				! grep -qzxF "SLURM_CONF=$SLURM_DIR/slurm.conf" "$f" 2>/dev/null || echo "$pid"
			done
	done
}

# slurm_client_pids: the Slurm clients (salloc, srun, sbatch, sattach)
# that talk to this cluster (our SLURM_CONF in their environment), left by
# a test.
slurm_client_pids() {
	local f pid
	grep -lzxF "SLURM_CONF=$SLURM_DIR/slurm.conf" /proc/[0-9]*/environ 2>/dev/null |
		while read -r f; do
			pid=${f#/proc/}
			pid=${pid%/environ}
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) != @(salloc|srun|sbatch|sattach) ]] || echo "$pid"
		done
}

# slurm_live PID...: print those of PIDs that still run (zombies are dead:
# PID 1 may take its time reaping the orphans it inherits).
slurm_live() {
	local pid state
	for pid in "$@"; do
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || continue
		[[ -z $state || $state == Z || $state == X ]] || echo "$pid"
	done
}

# slurm_cluster_pids: every live process of this cluster: the daemons (and
# their children, such as slurmctld's slurmscriptd), the slurmstepds and
# what the steps run.
slurm_cluster_pids() {
	local -a pids
	mapfile -t pids < <(
		slurm_daemon_pids munged slurmctld "${PPOOL_SLURM_NODES[@]/#/slurmd-}"
		slurm_stepd_pids "${PPOOL_SLURM_NODES[@]}"
		slurm_task_pids "${PPOOL_SLURM_NODES[@]}"
		slurm_client_pids
	)
	((${#pids[@]})) || return 0
	mapfile -t pids < <(slurm_descendants "${pids[@]}")
	slurm_live "${pids[@]}" | sort -un
}

# slurm_daemon_pids NAME...: the pids of those of daemons NAMEs that run.
slurm_daemon_pids() {
	local name
	for name in "$@"; do
		slurm_pid "$name"
	done
}

# slurm_nothing_left: no process of this cluster runs.
slurm_nothing_left() {
	[[ -z $(slurm_cluster_pids) ]]
}

# slurm_stop_all: kill every process of this cluster (SIGKILL: nothing of
# it is kept), wait until they are gone, and check that no other one has
# come meanwhile (again if one has).
slurm_stop_all() {
	local -a pids
	local round
	for ((round = 0; round < 3; round++)); do
		mapfile -t pids < <(slurm_cluster_pids)
		((${#pids[@]})) || return 0
		slurm_kill_tree "${pids[@]}"
		wait_until 10 slurm_gone "${pids[@]}" || break
	done
	echo "slurm.bash: processes of the cluster left:" >&2
	ps -o pid,ppid,stat,args -p "$(slurm_cluster_pids | paste -sd,)" >&2
	return 1
}

# slurm_stop_daemons: kill slurmctld and the slurmds (not munged), and
# wait until they are gone.
slurm_stop_daemons() {
	local -a pids
	mapfile -t pids < <(slurm_daemon_pids slurmctld "${PPOOL_SLURM_NODES[@]/#/slurmd-}")
	slurm_kill_tree "${pids[@]}"
	wait_until 10 slurm_gone "${pids[@]}"
}

# slurm_gone PID...: none of PIDs runs.
slurm_gone() {
	[[ -z $(slurm_live "$@") ]]
}

# slurm_start_slurmd NODE: start the slurmd of NODE; wait until it listens.
slurm_start_slurmd() {
	local port
	port=$(awk -v n="NodeName=$1" '$1 == n { sub(/.*Port=/, ""); sub(/ .*/, ""); print }' \
		"$SLURM_DIR/slurm.conf")
	rm -f "$SLURM_DIR/run/slurmd-$1.pid"
	slurm_spawn "slurmd-$1" slurmd -N "$1" || return 1
	slurm_wait_daemon "slurmd-$1" "$port" 10
}

# slurm_start_cluster: slurmctld and the slurmds on new free ports (munged
# runs already); wait until they listen.  Fails when one cannot bind.
slurm_start_cluster() {
	local -a ports
	local node i=1
	mapfile -t ports < <(slurm_free_ports 3)
	((${#ports[@]} == 3)) || return 1
	slurm_write_conf "${ports[@]}"
	rm -rf "$SLURM_DIR/state" "$SLURM_DIR/run"/slurm*.pid
	mkdir -p "$SLURM_DIR/state"
	slurm_spawn slurmctld slurmctld || return 1
	for node in "${PPOOL_SLURM_NODES[@]}"; do
		slurm_spawn "slurmd-$node" slurmd -N "$node" || return 1
	done
	slurm_wait_daemon slurmctld "${ports[0]}" 10 || return 1
	for node in "${PPOOL_SLURM_NODES[@]}"; do
		slurm_wait_daemon "slurmd-$node" "${ports[i++]}" 10 || return 1
	done
}

# slurm_setup_file: for setup_file().  munged with a key of its own, then
# slurmctld and two slurmd on free ports (others if one is taken
# meanwhile); returns once both nodes are idle.
slurm_setup_file() {
	local rc=0 try
	slurm_clean_env
	slurm_require || rc=$?
	((rc != 1)) || return 0
	((rc == 0)) || return 1
	SLURM_DIR=$(mktemp -d "$BATS_FILE_TMPDIR/slurm.XXXXXX") || return 1
	export SLURM_DIR SLURM_CONF=$SLURM_DIR/slurm.conf
	# The unix sockets (munge/munge.sock, and spool/NODE/NODE_JOB.STEP of
	# each slurmstepd) have paths of at most 107 bytes: under a long
	# BATS_FILE_TMPDIR, they go to a directory of /tmp.
	SLURM_SOCK_DIR=$SLURM_DIR
	if ((${#SLURM_DIR} > 64)); then
		SLURM_SOCK_DIR=$(mktemp -d /tmp/ppool-slurm.XXXXXX) || return 1
	fi
	export SLURM_SOCK_DIR
	mkdir -p "$SLURM_DIR"/{state,run,log} "$SLURM_SOCK_DIR/munge" \
		"${PPOOL_SLURM_NODES[@]/#/$SLURM_SOCK_DIR/spool/}"
	# munged wants o+x on its socket's directory (an ancestor without it,
	# such as bats' 0700 temp dir, is only a warning with --force).
	chmod 755 "$SLURM_DIR" "$SLURM_SOCK_DIR" "$SLURM_SOCK_DIR/munge"
	mungekey --create --keyfile="$SLURM_SOCK_DIR/munge/munge.key" || return 1
	slurm_spawn munged munged --force --socket="$SLURM_SOCK_DIR/munge/munge.sock" \
		--key-file="$SLURM_SOCK_DIR/munge/munge.key" --pid-file="$SLURM_DIR/run/munged.pid" \
		--log-file="$SLURM_DIR/log/munged.log" --seed-file="$SLURM_SOCK_DIR/munge/munge.seed" || {
		echo "slurm.bash: munged failed:" >&2
		cat "$SLURM_DIR/log/munged.err" >&2
		return 1
	}
	wait_until 10 slurm_munge_up || return 1
	for ((try = 0; try < 10; try++)); do
		slurm_start_cluster && break
		slurm_stop_daemons || return 1
	done
	if ((try == 10)) || ! wait_until 30 slurm_nodes_idle; then
		echo "slurm.bash: the cluster did not start" >&2
		# A client without its slurm.conf retries for 60 s.
		[[ ! -e $SLURM_CONF ]] || timeout 5 sinfo -N >&2
		tail -n 20 "$SLURM_DIR"/log/slurm*.log >&2
		slurm_teardown_file
		return 1
	fi
}

# slurm_teardown_file: for teardown_file(): nothing of the cluster is left.
slurm_teardown_file() {
	[[ -n ${SLURM_DIR:-} && -z ${SLURM_SKIP:-} ]] || return 0
	slurm_stop_all || return 1
	[[ ${SLURM_SOCK_DIR:-} != /tmp/ppool-slurm.* ]] || rm -rf "$SLURM_SOCK_DIR"
}

# slurm_alloc [SALLOC_OPTION... --] CMD [ARG]...: run CMD on this machine
# inside a new allocation of the whole cluster and return its status:
# `salloc -Q -I30 -k -N2 -n4 SALLOC_OPTION... CMD ARG...`.  Options come
# only before a `--` and only when the first argument starts with `-`; a
# later option wins (-n2, --ntasks-per-node=2).  -Q: no "salloc: Granted
# job allocation" and "Relinquishing" lines on stderr (errors still show);
# -I30: fail rather than wait more than 30 s for the nodes; -k (--no-kill):
# the allocation survives the loss of a node.
slurm_alloc() {
	local -a opts=()
	if [[ ${1:-} == -* ]]; then
		while (($#)) && [[ $1 != -- ]]; do
			opts+=("$1")
			shift
		done
		if (($# == 0)); then
			echo "slurm_alloc: no -- after the salloc options" >&2
			return 2
		fi
		shift
	fi
	salloc -Q -I30 -k -N2 -n4 "${opts[@]}" "$@"
}

# slurm_steps: the steps of this cluster that run, one a line: "STEPID
# NODELIST NAME" (e.g. "3.0 n2 sleep"); the "extern" and "interactive"
# pseudo-steps are left out (this configuration has neither).
slurm_steps() {
	local s
	s=$(squeue -h -s -o '%i %N %j') || return 1
	[[ -z $s ]] || grep -vE '^[0-9_]+\.(extern|interactive) ' <<<"$s" || true
}

# slurm_no_steps: no step runs (for `wait_until SECS slurm_no_steps`).
slurm_no_steps() {
	local s
	s=$(slurm_steps) || return 1
	[[ -z $s ]]
}

# slurm_steps_started JOBID: how many steps job JOBID has started so far on
# its nodes: the step ids of the "launch task StepId=JOBID.N" lines that the
# slurmds log (at the default level) when a step's tasks start.  A step that
# never launched (refused by slurmctld) does not count.
slurm_steps_started() {
	cat "$SLURM_DIR"/log/slurmd-*.log 2>/dev/null |
		grep -oE "launch task StepId=$1\.[0-9]+ " | sort -u | wc -l
}

# slurm_kill_node NODE: NODE crashes: its slurmd, its slurmstepds and what
# their steps run die at once (SIGKILL), and slurmctld is told that NODE is
# DOWN (Reason=test), as it would find out itself only after SlurmdTimeout.
# slurm_restore_nodes brings it back.
slurm_kill_node() {
	local node=$1
	local -a pids
	mapfile -t pids < <(slurm_pid "slurmd-$node")
	if ((${#pids[@]} == 0)); then
		echo "slurm_kill_node: no slurmd for $node" >&2
		return 1
	fi
	mapfile -t -O 1 pids < <(slurm_stepd_pids "$node"; slurm_task_pids "$node")
	slurm_kill_tree "${pids[@]}"
	scontrol update NodeName="$node" State=DOWN Reason=test || return 1
	wait_until 10 slurm_gone "${pids[@]}"
}

# slurm_restore_nodes: for teardown(): start again the slurmd of a node a
# test crashed, and wait until every node takes work again (idle, or mix or
# alloc when an allocation is still running).  With ReturnToService=2 a
# DOWN node comes back when its slurmd registers; a node still DOWN then is
# resumed with scontrol.
slurm_restore_nodes() {
	local node
	[[ -n ${SLURM_DIR:-} && -z ${SLURM_SKIP:-} ]] || return 0
	for node in "${PPOOL_SLURM_NODES[@]}"; do
		[[ -n $(slurm_pid "slurmd-$node") ]] || slurm_start_slurmd "$node" || return 1
	done
	for node in "${PPOOL_SLURM_NODES[@]}"; do
		wait_until 10 slurm_node_responds "$node" || return 1
		# It may come back by itself meanwhile: then RESUME is refused.
		slurm_node_usable "$node" ||
			scontrol update NodeName="$node" State=RESUME 2>/dev/null || true
		wait_until 10 slurm_node_usable "$node" || return 1
	done
}

# slurm_node_responds NODE: slurmctld hears from NODE (no * after its state).
slurm_node_responds() {
	local s
	s=$(slurm_node_state "$1")
	[[ -n $s && $s != *'*' ]]
}
