#!/bin/bash
# soak.sh: a randomized fault soak for ppool (issue 19).
#
# Usage: tests/soak.sh [PPOOL] [SECONDS]
#   PPOOL    the binary under test (default: src/ppool of this tree)
#   SECONDS  the time budget (default 90); a round started in time runs to
#            its end, so a run takes a few seconds more
# Environment:
#   SOAK_SEED=N   the seed (default 1, printed at the start); the same seed
#                 runs the same rounds with the same choices
#   SOAK_ROUND=R  run round R of that seed only (to replay a failure)
#   SOAK_KEEP=1   keep the work directory of failed rounds (path printed)
#   SOAK_TYPE=T   every round of type T (plain, close, kill, nproc, valgrind)
#
# It runs rounds until the time budget is used.  Each round picks, from a
# random generator seeded by the seed and the round's number, a mode (worker
# mode with a fault-injecting worker in sh or python3, or command mode with
# faulty commands), -j, --inflight, -r, --retries, -t, -u, --envelope,
# --max-line, --max-output, --window, --halt, and a mix of faults, one per
# task: a worker that exits, is killed by SIGSEGV or SIGKILL, stalls past -t
# (ignoring SIGTERM or not), closes its stdout, answers garbage, bytes that
# are not UTF-8, a line longer than --max-line or a line too many; commands
# that exit non-zero, die of a signal, stall, print too much or bytes that
# are not UTF-8; task lines that are not JSON or not a valid task; a
# program that does not exist.  A faulty task faults on every attempt or,
# with --retries, on its first only.  From INTERFACE.md it computes each
# task's exact record (ok, error, attempts, result or exit/signal/stdout)
# and checks what ppool printed: one record per task (none for a task the
# contract says prints nothing: never started after a --halt), valid JSON,
# in seq order unless -u, the exit status (0, count of failed, 101).
# Where the contract leaves a choice, the check allows each outcome it
# allows: with --inflight above 1, a task queued in a worker that dies fails
# with that death's error (or is retried), so a clean task may fail with the
# error of a faulty task's death, its attempts used up; under --halt, tasks
# never started print nothing (a task some worker or command got must have
# its record), running ones may be stopped, and one that fails once the run
# is stopping is not retried (its own error, or "not retried: ppool is
# stopping").  In worker mode the first -j x --inflight tasks are clean, so
# that no worker dies before ppool has taken a reply (before that, deaths in
# a row stop the run, exit 255, by design).
#
# Round types besides these plain rounds:
#   close   the reader of stdout reads some records, stalls, closes it:
#           ppool must exit 141 promptly, the records read were whole.
#   kill    ppool gets SIGKILL at a random moment, then runs again with
#           --joblog F --resume: every task has a record in one of the two
#           outputs, and a task in both only when the first run wrote its
#           record but not its joblog line (the crash-safety rule).
#   nproc   as nobody (setpriv), with 'ulimit -u' small: a task that
#           cannot be started fails with the contract's error.
#   valgrind  ppool under valgrind (memcheck, leaks, --track-fds).
# Plain rounds may run under a low 'ulimit -n' (ppool must lower -j and say
# so), and may feed ppool through a FIFO held open: once every record is
# out, ppool's /proc/PID/fd must hold 0, 1, 2, its signal self-pipe, the
# joblog, and per live worker its two pipes and pidfd, nothing else.
# After each round no process carrying the round's marker may be left.
#
# The last line is "soak: R rounds, T tasks, F faults injected, 0 problems"
# (exit 0), or counts the problems, each listed with its seed and round.
set -u

here=$(cd "$(dirname "$0")" && pwd)
PPOOL=${1:-$here/../src/ppool}
SECS=${2:-90}
SEED=${SOAK_SEED:-1}
ONLY=${SOAK_ROUND:-}
[[ $PPOOL == /* ]] || PPOOL=$PWD/$PPOOL
if [[ ! -x $PPOOL ]]; then
	echo "soak: $PPOOL is not an executable" >&2
	exit 2
fi
for tool in jq pgrep ps; do
	command -v "$tool" >/dev/null || { echo "soak: $tool is missing" >&2; exit 2; }
done
# The real interpreter, not a shim (pyenv's is a shell script under /root).
PY=
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
	[[ -n $p && -x $p ]] && PY=$p && break
done
SLEEP_BIN=$(command -v sleep)

TMP=$(mktemp -d /tmp/ppool-soak.XXXXXX) || exit 2
chmod 755 "$TMP" # nobody must reach the nproc rounds' directories
NEVER=$TMP/never # a FIFO nobody writes: 'read -t' on it is a timer
mkfifo "$NEVER"

ROUNDS=0 TASKS=0 FAULTS=0
PROBLEMS=()

# kill_jobs: SIGKILL this shell's background jobs that still run (its own
# children, not yet reaped: their pids cannot be someone else's).
kill_jobs() {
	local pid
	for pid in $(jobs -pr); do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
}

cleanup() {
	local pid
	exec 2>/dev/null # no "Killed" from bash for what is killed here
	kill_jobs
	# Whatever carries this soak's markers, each by its pid.
	for pid in $(pgrep -f "ppoolsoak_$$_"); do
		kill -KILL "$pid" 2>/dev/null
	done
	if [[ -n ${SOAK_KEEP:-} ]]; then
		echo "soak: work directory kept: $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- small tools ----------------------------------------------------------

# rint A B: REPLY = a random integer from A to B (no subshell: $RANDOM in
# a subshell would not advance the generator here).
rint() { REPLY=$(($1 + RANDOM % ($2 - $1 + 1))); }
# pick WORD...: REPLY = one of the words.
pick() { local a=("$@"); REPLY=${a[RANDOM % $#]}; }
# chance P: true P percent of the time.
chance() { ((RANDOM % 100 < $1)); }

# problem TEXT: note a problem of this round.
problem() {
	PROBLEMS+=("seed $SEED round $ROUND (${SOAK_TYPE:+SOAK_TYPE=$SOAK_TYPE }SOAK_SEED=$SEED SOAK_ROUND=$ROUND) [$DESC]: $*")
	echo "soak: PROBLEM in round $ROUND: $*" >&2
}

# wait_until SECS COMMAND...: poll COMMAND every 50 ms until it succeeds;
# fail after SECS seconds.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS >= end)) && return 1
		sleep 0.05
	done
}

# watchdog PID SECS: SIGKILL PID (and create $R/hung) after SECS seconds,
# unless unwatch comes first.  Sets WD, the watchdog's pid.
watchdog() {
	rm -f "$R/hung"
	(
		read -r -t "$2" <>"$NEVER"
		kill -KILL "$1" 2>/dev/null && : >"$R/hung"
	) &
	WD=$!
}
unwatch() {
	kill -KILL "$WD" 2>/dev/null
	wait "$WD" 2>/dev/null
}

# wait_bounded PID SECS: wait for PID, a child of this shell; SIGKILL it
# after SECS seconds.  Sets ST to its exit status; fails if it was killed.
wait_bounded() {
	watchdog "$1" "$2"
	{ wait "$1"; } 2>/dev/null # no "Killed" from bash
	ST=$?
	unwatch
	[[ ! -e $R/hung ]]
}

# launch IN OUT ERR ARG...: start ppool (or $RUN_PREFIX ppool) in the
# background with stdin IN, stdout OUT, stderr ERR, no inherited descriptor
# above 2, under $NOFILE open files if set, with $ENVS in its environment.
# Sets PID: ppool's own pid.
launch() {
	local in=$1 out=$2 err=$3
	shift 3
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		if [[ -n $NOFILE ]]; then
			ulimit -Sn "$NOFILE" && ulimit -Hn "$NOFILE" || exit 254
		fi
		exec env "${ENVS[@]}" "${RUN_PREFIX[@]}" "$PPOOL" "$@" <"$in" >"$out" 2>"$err"
	) 2>/dev/null &
	PID=$!
}

# live_marker_pids: processes of this round that still run (zombies are
# dead: PID 1 may take its time reaping the orphans it inherits).
live_marker_pids() {
	local pid state
	for pid in $(pgrep -f "$MARKER/"); do
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || continue
		[[ $state == Z || $state == X ]] || echo "$pid"
	done
}
no_marker_process() { [[ -z $(live_marker_pids) ]]; }

# check_no_process GRACE WHY: no process of this round is left, within
# GRACE seconds (signals take a moment to land); kill any that is.
check_no_process() {
	wait_until "$1" no_marker_process && return 0
	local left
	left=$(live_marker_pids | paste -sd,)
	[[ -z $left ]] && return 0
	problem "processes left $2: $(ps -o pid=,ppid=,stat=,args= -p "$left" | cut -c1-160 | paste -sd';')"
	local pid
	for pid in ${left//,/ }; do
		kill -KILL "$pid" 2>/dev/null
	done
}

# records FILE: how many whole lines FILE holds.
records() { wc -l <"$1"; }
at_least_records() { (($(records "$1") >= $2)); }

# whole_lines FILE: FILE without a last line cut short (by a SIGKILL).
whole_lines() {
	if [[ -s $1 && -n $(tail -c1 "$1") ]]; then
		head -n -1 "$1"
	else
		cat "$1"
	fi
}

# expected_status FAILED: the exit status for that many failed tasks.
expected_status() { if (($1 > 100)); then echo 101; else echo "$1"; fi; }

# --- the faulty worker and command ----------------------------------------

# Tasks name their fault: worker mode "SEQ:KIND:ARG:ONCE" (a JSON string),
# command mode the arguments SEQ KIND ARG ONCE.  ONCE=1: fault on the first
# attempt only (mkdir is the atomic "first").  SOAK_DISARM lists seqs that
# behave as clean tasks (see the kill round); SOAK_LOG=1 logs each task
# received to $R/got; SOAK_ENV=1 answers in envelopes.  Everything they
# start carries the marker ($R holds it), sleep included ($R/sleep).
write_helpers() {
	ln -s "$SLEEP_BIN" "$R/sleep"
	cat >"$R/w.sh" <<'EOF'
# w.sh MARKER: the fault-injecting worker, in sh.
R=${0%/*}
good() {
	if [ "${SOAK_ENV:-}" = 1 ]; then printf '{"result":{"n":%s}}\n' "$1"
	else printf '{"n":%s}\n' "$1"; fi
}
while IFS= read -r line; do
	t=${line#\"}
	t=${t%\"}
	IFS=:
	set -f
	set -- $t
	set +f
	IFS=' '
	seq=$1 kind=$2 arg=$3 once=$4
	[ "${SOAK_LOG:-}" = 1 ] && echo "$seq" >>"$R/got"
	case " ${SOAK_DISARM:-} " in *" $seq "*) kind=ok ;; esac
	if [ "$once" = 1 ] && ! mkdir "$R/once.$seq" 2>/dev/null; then kind=ok; fi
	case $kind in
	ok) good "$seq" ;;
	slow) "$R/sleep" "$arg"; good "$seq" ;;
	garbage) printf 'not json {%s\n' "$seq" ;;
	bin) printf '\377\376%s\n' "$seq" ;;
	enverr) printf '{"error":"e%s"}\n' "$seq" ;;
	extra)
		if [ "${SOAK_ENV:-}" = 1 ]; then printf '{"result":{"n":%s}}\nextra\n' "$seq"
		else printf '{"n":%s}\nextra\n' "$seq"; fi ;;
	exit) exit "$arg" ;;
	segv) kill -SEGV $$ ;;
	kill) kill -KILL $$ ;;
	long) printf "%${arg}s\n" x ;;
	stall) "$R/sleep" 1000 ;;
	stallterm) trap '' TERM; "$R/sleep" 1000 ;;
	close) exec >&-; "$R/sleep" 1000 ;;
	esac
done
EOF
	cat >"$R/w.py" <<'EOF'
# w.py MARKER: the fault-injecting worker, in python3.
import os, signal, sys, time
R = os.path.dirname(os.path.abspath(sys.argv[0]))
env = os.environ.get("SOAK_ENV") == "1"
log = os.environ.get("SOAK_LOG") == "1"
disarm = set(os.environ.get("SOAK_DISARM", "").split())

def good(seq):
    return ('{"result":{"n":%s}}' if env else '{"n":%s}') % seq

def say(text):
    os.write(1, text if isinstance(text, bytes) else text.encode())

for line in sys.stdin.buffer:
    seq, kind, arg, once = line.strip().strip(b'"').decode().split(":")
    if log:
        with open(R + "/got", "a") as f:
            f.write(seq + "\n")
    if seq in disarm:
        kind = "ok"
    elif once == "1":
        try:
            os.mkdir("%s/once.%s" % (R, seq))
        except FileExistsError:
            kind = "ok"
    if kind == "ok":
        say(good(seq) + "\n")
    elif kind == "slow":
        time.sleep(float(arg))
        say(good(seq) + "\n")
    elif kind == "garbage":
        say("not json {%s\n" % seq)
    elif kind == "bin":
        say(b"\xff\xfe" + seq.encode() + b"\n")
    elif kind == "enverr":
        say('{"error":"e%s"}\n' % seq)
    elif kind == "extra":
        say(good(seq) + "\nextra\n")
    elif kind == "exit":
        os._exit(int(arg))
    elif kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "long":
        say("x" * int(arg) + "\n")
    elif kind in ("stall", "stallterm"):
        if kind == "stallterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(1000)
    elif kind == "close":
        os.close(1)
        time.sleep(1000)
EOF
	cat >"$R/c.sh" <<'EOF'
# c.sh SEQ KIND ARG ONCE: one faulty command.  No fork but mkdir: the
# nproc rounds run it with hardly a process to spare.
R=${0%/*}
seq=$1 kind=$2 arg=$3 once=$4
[ "${SOAK_LOG:-}" = 1 ] && echo "$seq" >>"$R/got"
case " ${SOAK_DISARM:-} " in *" $seq "*) kind=ok ;; esac
if [ "$once" = 1 ] && ! mkdir "$R/once.$seq" 2>/dev/null; then kind=ok; fi
case $kind in
ok) echo "$seq" ;;
slow) echo "$seq"; exec "$R/sleep" "$arg" ;;
pad) printf "%s %${arg}s\n" "$seq" x ;;
bigout) printf "%${arg}s\n" x ;;
binout) printf '\377\376%s' "$seq" ;;
exit) exit "$arg" ;;
segv) kill -SEGV $$ ;;
kill) kill -KILL $$ ;;
stall | tstall) exec "$R/sleep" 1000 ;;
stallterm) trap '' TERM; exec "$R/sleep" 1000 ;;
esac
EOF
}

# --- a round's choices ----------------------------------------------------

# choose_options: the options of a round of type $TYPE: sets MODE (w or
# c), WLANG, CFORM, J, K, RETRIES, T, ML (bytes), MO, ENVELOPE, UNORD, REQ,
# WIN, HALT, JOBLOG, and ARGS (ppool's options, worker or command last).
choose_options() {
	pick w c
	MODE=$REPLY
	WLANG='sh'
	[[ -n $PY ]] && pick sh py && WLANG=$REPLY
	pick argv cmd
	CFORM=$REPLY
	pick 1 1 2 3 4 8
	J=$REPLY
	K=1
	[[ $MODE == w ]] && chance 40 && { pick 2 4; K=$REPLY; }
	RETRIES=0
	chance 50 && { pick 1 1 2 3; RETRIES=$REPLY; }
	T='' TT=0 # -t, and the same in tenths of a second
	if [[ $TYPE == plain || $TYPE == close ]] && chance 35; then
		pick 0.8:8 1:10 1.5:15
		T=${REPLY%:*} TT=${REPLY#*:}
		# A fresh worker's start counts in its first task's time: python's
		# takes tens of milliseconds, more with many starting at once.
		[[ $MODE == w && $WLANG == py ]] && T=1.5 TT=15
	fi
	ML='' MO=''
	[[ $MODE == w ]] && chance 40 && { pick 1024 4096; ML=$REPLY; }
	[[ $MODE == c ]] && chance 40 && { pick 1024 4096; MO=$REPLY; }
	ENVELOPE=0 UNORD=0 REQ=0 WIN='' HALT='' JOBLOG=0
	[[ $MODE == w ]] && chance 30 && ENVELOPE=1
	chance 30 && UNORD=1
	[[ $MODE == w ]] && chance 30 && { rint 1 20; REQ=$REPLY; }
	chance 20 && { rint 1 16; WIN=$((J * K + REPLY)); }
	if [[ $TYPE == plain ]]; then
		if chance 20; then
			pick soon now
			HALT=$REPLY
			rint 1 3
			HALT+=",fail=$REPLY"
		fi
		chance 30 && JOBLOG=1
	fi
	[[ $TYPE == kill ]] && JOBLOG=1
}

# build_args: ARGS from the options (after NOFILE has set J).
build_args() {
	ARGS=(-j "$J" --retries "$RETRIES" --kill-after 0.2)
	[[ -n $T ]] && ARGS+=(-t "$T")
	[[ -n $ML ]] && ARGS+=(--max-line "$ML")
	[[ -n $MO ]] && ARGS+=(--max-output "$MO")
	((UNORD)) && ARGS+=(-u)
	[[ -n $WIN ]] && ARGS+=(--window "$WIN")
	[[ -n $HALT ]] && ARGS+=(--halt "$HALT")
	((JOBLOG)) && ARGS+=(--joblog "$R/joblog")
	if [[ $MODE == w ]]; then
		ARGS+=(--inflight "$K")
		((ENVELOPE)) && ARGS+=(--envelope)
		((REQ)) && ARGS+=(-r "$REQ")
		if [[ $WLANG == py ]]; then
			ARGS+=(-w "$PY $R/w.py")
		else
			ARGS+=(-w "sh $R/w.sh")
		fi
	elif [[ $CFORM == argv ]]; then
		if chance 50; then
			ARGS+=(-- sh "$R/c.sh" '{1}' '{2}' '{3}' '{4}')
		else
			ARGS+=(-- sh "$R/c.sh")
		fi
	fi
	DESC="$TYPE $MODE"
	[[ $MODE == w ]] && DESC+="/$WLANG" || DESC+="/$CFORM"
	DESC+=" ${ARGS[*]}"
	DESC=${DESC//$R\//}
	[[ -n $NOFILE ]] && DESC+=" (ulimit -n $NOFILE)"
	[[ -n $NPROC ]] && DESC+=" (nobody, ulimit -u $NPROC)"
}

# drop_fault KIND: take KIND out of FAULTY.
drop_fault() {
	local k kept=()
	for k in "${FAULTY[@]}"; do
		[[ $k == "$1" ]] || kept+=("$k")
	done
	FAULTY=("${kept[@]}")
}

# choose_kinds: FAULTY and CLEAN, the kinds of task this round draws from,
# and SLOWS, the times a slow task takes.
choose_kinds() {
	SLOWS=(0.01 0.02 0.03 0.05)
	if [[ $MODE == w ]]; then
		CLEAN=(ok ok ok slow)
		FAULTY=(exit segv kill badline garbage)
		((ENVELOPE)) && FAULTY+=(enverr enverr) || FAULTY+=(bin)
		((K == 1)) && FAULTY+=(extra)
		[[ -n $ML ]] && FAULTY+=(long)
		[[ -n $T ]] && FAULTY+=(stall stallterm)
		[[ -z $T && $TYPE == plain ]] && chance 20 && FAULTY+=(close)
	else
		CLEAN=(ok ok ok slow pad)
		FAULTY=(exit segv kill badline badtask dupfield binout)
		[[ -n $MO ]] && FAULTY+=(bigout)
		[[ -n $T ]] && FAULTY+=(stall stallterm)
		[[ $CFORM == cmd ]] && FAULTY+=(notfound tstall)
	fi
}

# --- tasks and their expected records -------------------------------------

# Each task gets one input line (file tasks) and one expectation (arrays
# KIND ARG ONCE, written out by write_exp): its class (clean; once: faults
# on its first attempt; always; norun: never runs), its own error, its
# payload on success, its fields on failure, and for a worker-killing fault
# the error of the tasks queued behind it in the same worker ("death").

# gen_tasks N HEAD PF: N tasks, the first HEAD clean, each later one faulty
# with probability PF percent.  Tasks that wait for a timer (stalls, a
# closed stdout) may cost the round at most about 4 s, -j allowing.
gen_tasks() {
	local n=$1 head=$2 pf=$3 s kind arg once wait budget=$((40 * J))
	KIND=() ARG=() ONCE=()
	NTASKS=$n NSTALL=0 NCLOSE=0 NFAULT=0
	for ((s = 1; s <= n; s++)); do
		once=0 arg=-
		if ((s > head)) && chance "$pf"; then
			pick "${FAULTY[@]}"
			kind=$REPLY
		else
			pick "${CLEAN[@]}"
			kind=$REPLY
		fi
		case $kind in
		slow) pick "${SLOWS[@]}"; arg=$REPLY ;;
		exit) rint 1 9; arg=$REPLY ;;
		long) arg=$((ML + 100)) ;;
		pad) rint 1000 3000; arg=$REPLY ;;
		bigout) arg=$((MO * 2)) ;;
		tstall) pick 0.3 0.5; arg=$REPLY ;;
		badline) arg=$((${#s} + 3)) ;;
		notfound) arg=nope-$MARKER-$s ;;
		esac
		case $kind in
		exit | segv | kill | long | close | stall | stallterm | enverr | tstall) ((RETRIES > 0)) && chance 50 && once=1 ;;
		garbage) ((ENVELOPE && RETRIES > 0)) && chance 50 && once=1 ;;
		esac
		# What it costs in tenths of a second, each attempt.
		case $kind in
		stall | stallterm) wait=$((TT + 2)) ;;
		tstall) wait=$((${arg#0.} + 2)) ;;
		close) wait=24 ;;
		*) wait=0 ;;
		esac
		((once == 0)) && wait=$((wait * (RETRIES + 1)))
		if ((wait > 0)); then
			if ((wait > budget)); then
				kind=ok arg=- once=0
			else
				budget=$((budget - wait))
			fi
		fi
		case $kind in
		stall | stallterm | tstall) NSTALL=$((NSTALL + 1)) ;;
		close) NCLOSE=$((NCLOSE + 1)) ;;
		esac
		case $kind in
		ok | slow | pad) ;;
		*) NFAULT=$((NFAULT + 1)) ;;
		esac
		KIND[s]=$kind ARG[s]=$arg ONCE[s]=$once
	done
	write_tasks >"$R/tasks"
}

# write_tasks: the input lines.
write_tasks() {
	local s kind arg once c=$R/c.sh
	for ((s = 1; s <= NTASKS; s++)); do
		kind=${KIND[s]} arg=${ARG[s]} once=${ONCE[s]}
		if [[ $kind == badline ]]; then
			printf '[%s,@]\n' "$s"
		elif [[ $MODE == w ]]; then
			printf '"%s:%s:%s:%s"\n' "$s" "$kind" "$arg" "$once"
		elif [[ $CFORM == argv ]]; then
			case $kind in
			badtask) echo null ;;
			dupfield) printf '{"args":["%s","ok","-","0"],"\\u0061rgs":[]}\n' "$s" ;;
			*) printf '[%s,"%s","%s","%s"]\n' "$s" "$kind" "$arg" "$once" ;;
			esac
		else
			case $kind in
			badtask) printf '{"id":"t%s"}\n' "$s" ;;
			dupfield) printf '{"id":"t%s","cmd":["true"],"c\\u006dd":["true"]}\n' "$s" ;;
			notfound) printf '{"id":"t%s","cmd":["%s"]}\n' "$s" "$arg" ;;
			tstall) printf '{"id":"t%s","cmd":["sh","%s","%s","%s","%s","%s"],"timeout":%s}\n' \
				"$s" "$c" "$s" "$kind" "$arg" "$once" "$arg" ;;
			*) printf '{"id":"t%s","cmd":["sh","%s","%s","%s","%s","%s"]}\n' \
				"$s" "$c" "$s" "$kind" "$arg" "$once" ;;
			esac
		fi
	done
}

# b64 SEQ: base64 of the bytes 0xff 0xfe SEQ (a reply or stdout that is
# not UTF-8).
b64() { printf '\377\376%s' "$1" | base64 -w0; }

# write_exp DISARMED: the expectations, one JSON object per task, for a run
# in which the seqs of the string DISARMED (" 3 5 ") act as clean tasks.
write_exp() {
	local disarmed=$1 s kind arg cls err att death pay fail id okpay n
	for ((s = 1; s <= NTASKS; s++)); do
		kind=${KIND[s]} arg=${ARG[s]}
		cls=always err=null att=null death=null fail='{}' id=null
		case $kind in
		badline | badtask | dupfield | notfound) ;;
		*) [[ $disarmed == *" $s "* ]] && kind=ok ;;
		esac
		((ONCE[s])) && cls=once
		[[ $MODE == c && $CFORM == cmd ]] && id="\"t$s\""
		if [[ $MODE == w ]]; then
			okpay="{\"result\":{\"n\":$s}}"
			pay=$okpay
			case $kind in
			ok | slow | extra) cls=clean ;;
			garbage)
				if ((ENVELOPE)); then
					err='"reply is not an envelope ({\"result\": V} or {\"error\": V})"'
					fail="{\"result\":\"not json {$s\"}"
				else
					cls=clean pay="{\"result\":\"not json {$s\"}"
				fi ;;
			bin) cls=clean pay="{\"result_base64\":\"$(b64 "$s")\"}" ;;
			enverr) err="\"e$s\"" ;;
			exit) err="\"worker exited with status $arg\"" death=$err ;;
			segv) err='"worker killed by SIGSEGV"' death=$err ;;
			kill) err='"worker killed by SIGKILL"' death=$err ;;
			long) err="\"worker killed: reply longer than --max-line ($ML bytes)\"" death=$err ;;
			close) err='"worker killed: it closed its stdout"' death=$err ;;
			stall | stallterm)
				err="\"timed out after $T s\""
				death="\"worker killed: task $s timed out after $T s\"" ;;
			badline)
				cls=norun att=0 err="\"invalid JSON at byte $arg\""
				fail='{"absent":["worker","result"]}' ;;
			esac
		else
			okpay="{\"exit\":0,\"signal\":null,\"stdout\":\"$s\\n\",\"stderr\":\"\"}"
			pay=$okpay
			case $kind in
			ok | slow) cls=clean ;;
			pad)
				# "SEQ", a space, ARG-1 spaces, "x", a newline; cut at --max-output.
				cls=clean
				printf -v n '%s %*s\n' "$s" "$arg" x
				if [[ -n $MO ]] && ((${#n} > MO)); then
					n=${n:0:MO}
					pay="{\"exit\":0,\"signal\":null,\"stdout\":\"$n\",\"stdout_truncated\":true}"
				else
					pay="{\"exit\":0,\"signal\":null,\"stdout\":\"${n%?}\\n\",\"stderr\":\"\"}"
				fi ;;
			bigout) cls=clean pay="{\"exit\":0,\"signal\":null,\"stdout_len\":$MO,\"stdout_truncated\":true}" ;;
			binout) cls=clean pay="{\"exit\":0,\"signal\":null,\"stdout_base64\":\"$(b64 "$s")\"}" ;;
			exit) err="\"exited with status $arg\"" fail="{\"exit\":$arg,\"signal\":null}" ;;
			segv) err='"killed by SIGSEGV"' fail='{"exit":null,"signal":"SIGSEGV"}' ;;
			kill) err='"killed by SIGKILL"' fail='{"exit":null,"signal":"SIGKILL"}' ;;
			stall) err="\"timed out after $T s\"" fail='{"exit":null,"signal":"SIGTERM"}' ;;
			stallterm) err="\"timed out after $T s\"" fail='{"exit":null,"signal":"SIGKILL"}' ;;
			tstall) err="\"timed out after $arg s\"" fail='{"exit":null,"signal":"SIGTERM"}' ;;
			notfound)
				cls=norun att=1 err="\"$arg: command not found\""
				fail='{"exit":127,"signal":null}' ;;
			badline | badtask | dupfield)
				cls=norun att=0
				fail='{"absent":["exit","signal","stdout","stderr"]}'
				case $kind in
				badline) err="\"invalid JSON at byte $arg\"" id=null ;;
				badtask)
					[[ $CFORM == cmd ]] &&
						err='"a task needs one of \"cmd\" or \"pipeline\" when no COMMAND is given"' ||
						err='"a task cannot be null"' ;;
				dupfield)
					[[ $CFORM == cmd ]] &&
						err='"ambiguous task: it names \"cmd\" twice"' ||
						err='"ambiguous task: it names \"args\" twice"' ;;
				esac ;;
			esac
		fi
		printf '{"seq":%s,"kind":"%s","cls":"%s","err":%s,"att":%s,"death":%s,"pay":%s,"fail":%s,"id":%s}\n' \
			"$s" "$kind" "$cls" "$err" "$att" "$death" "$pay" "$fail" "$id"
	done
}

# The checker: reads the records ($recs), the expectations ($exp), the
# tasks some worker or command got ($got, for --halt) and the round ($p:
# mode, r: --retries, k: --inflight, u: -u, halt, partial: only some of the
# records were read, allow: errors any task that ran may end with).  Prints
# one line per problem, then "FAILED N": how many records say "ok":false.
CHECK_JQ='
def holds($r):
  all(to_entries[];
    if .key == "absent" then all(.value[]; . as $k | ($r | has($k)) | not)
    elif .key == "stdout_len" then ($r.stdout | length) == .value
    else $r[.key] == .value end);

def verdict($r; $e; $p; $max; $queued; $deaths):
  $r.attempts as $a
  | ($e.err | tojson) as $want
  | if ($r.ms | type) != "number" or $r.ms < 0 then "ms is \($r.ms | tojson)"
    elif ($a | type) != "number" then "attempts is \($a | tojson)"
    elif $e.id != null and $r.id != $e.id then "id \($r.id | tojson), expected \($e.id | tojson)"
    elif $r.ok == true then
      (if $e.cls == "once" then 2 else 1 end) as $least
      | if $e.cls == "norun" or $e.cls == "always" or ($e.cls == "once" and $p.r == 0) then
          "succeeded, expected the error \($want)"
        elif ($e.pay | holds($r) | not) then "a success, but not \($e.pay | tojson)"
        elif $p.mode == "w" and ($r.worker | type) != "number" then "no worker pid"
        elif ($queued | not) and $a != $least then "attempts \($a), expected \($least)"
        elif $a < $least or $a > $max then "attempts \($a), expected \($least) to \($max)"
        else empty end
    elif $r.ok == false then
      $r.error as $err
      | if any($p.allow[]; . == $err) then
          (if $e.cls == "norun" then "error \($err | tojson) for a task that never runs (expected \($want))"
           elif $a < 1 or $a > $max then "attempts \($a), expected 1 to \($max)"
           else empty end)
        elif $e.cls == "norun" then
          (if $err != $e.err then "error \($err | tojson), expected \($want)"
           elif $a != $e.att then "attempts \($a), expected \($e.att)"
           elif ($e.fail | holds($r) | not) then "fields are not \($e.fail | tojson)"
           else empty end)
        elif $err == $e.err and $e.cls != "clean" then
          (if $e.cls == "once" and $p.r > 0 and ($queued | not) and $p.halt == "" then
             "failed on attempt \($a), expected a success on attempt 2"
           elif $a != $max and ($p.halt == "" or $a < 1 or $a > $max) then "attempts \($a), expected \($max)"
           elif ($e.fail | holds($r) | not) then "fields are not \($e.fail | tojson)"
           else empty end)
        elif $queued and any($deaths[]; . == $err) then
          (if $a != $max and ($p.halt == "" or $a < 1 or $a > $max) then
             "attempts \($a), expected \($max) (its worker died under it)"
           else empty end)
        elif $e.cls == "clean" then "error \($err | tojson), expected a success"
        else "error \($err | tojson), expected \($want)" end
    else "ok is \($r.ok | tojson)" end;

($p.r + 1) as $max
| ($p.k > 1) as $queued
| ([$exp[] | .death // empty] | unique) as $deaths
| (INDEX($exp[]; .seq)) as $byseq
| [$recs[] | .seq] as $seqs
| ($got | map(tostring) | INDEX(.)) as $started
| ($seqs | map(tostring) | INDEX(.)) as $have
| ( ($recs[] | . as $r
      | $byseq[$r.seq | tostring] as $e
      | if $e == null then "a record for no task: \($r | tojson)"
        else verdict($r; $e; $p; $max; $queued; $deaths)
          | "task \($r.seq) (\($e.kind), \($e.cls)): \(.): \($r | tojson)" | .[0:400]
        end),
    (if $p.u then empty
     else range(1; $seqs | length) | select($seqs[.] <= $seqs[. - 1])
       | "records out of order: seq \($seqs[.]) after \($seqs[. - 1])" end),
    ($seqs | group_by(.) | .[] | select(length > 1)
      | "task \(.[0]) has \(length) records"),
    (if $p.prefix and ($p.u | not) and $seqs != [range(1; ($seqs | length) + 1)] then
       "the records are not those of tasks 1 to \($seqs | length): \($seqs | .[0:20])"
     else empty end),
    (if $p.partial then empty
     else $exp[] | select($have[.seq | tostring] == null)
       | if $p.halt != "" and $started[.seq | tostring] == null then empty
         else "task \(.seq) (\(.kind)) has no record" end end) ),
  "FAILED \([$recs[] | select(.ok == false)] | length)"
'

# check_records OUT EXP PARTIAL [ALLOW...]: check the records in OUT
# against EXP; PARTIAL=0: OUT holds every record the contract calls for,
# 1: some of them, 2: the first ones (a prefix, in seq order unless -u).  Sets FAILED
# (the records with "ok":false).
check_records() {
	local out=$1 exp=$2 partial=$3 got res a allow=
	shift 3
	FAILED=0
	for a in "$@"; do
		allow+="${allow:+,}\"$a\""
	done
	got=$R/got
	[[ -e $got ]] || : >"$got"
	if ! res=$(jq -nr --slurpfile recs "$out" --slurpfile exp "$exp" --slurpfile got "$got" \
		--argjson p "{\"mode\":\"$MODE\",\"r\":$RETRIES,\"k\":$K,\"u\":$( ((UNORD)) && echo true || echo false),
			\"halt\":\"$HALT\",\"partial\":$( ((partial)) && echo true || echo false),
			\"prefix\":$( ((partial == 2)) && echo true || echo false),\"allow\":[$allow]}" \
		"$CHECK_JQ" 2>&1); then
		# Say which line is not JSON.
		local n=0 line
		while IFS= read -r line; do
			n=$((n + 1))
			jq -e . >/dev/null 2>&1 <<<"$line" ||
				{ problem "line $n of the output is not JSON: ${line:0:200}"; return; }
		done <"$out"
		problem "the checker failed: ${res:0:300}"
		return
	fi
	[[ -s $out && -n $(tail -c1 "$out") ]] && problem "the output does not end with a newline"
	FAILED=${res##*FAILED }
	res=$(grep -v '^FAILED ' <<<"$res")
	if [[ -n $res ]]; then
		problem "$(wc -l <<<"$res") record problem(s), the first: $(head -3 <<<"$res" | paste -sd'|')"
	fi
}

# halt_allow: the errors --halt may give a task that ran.
halt_allow() {
	HALLOW=()
	[[ -z $HALT ]] && return
	HALLOW=("not retried: ppool is stopping")
	[[ $HALT == now* ]] && HALLOW+=("stopped by --halt now" "worker killed: stopped by --halt now")
}

# check_status WHAT: ppool's exit status $ST is what $FAILED failed
# records call for.
check_status() {
	local want
	want=$(expected_status "$FAILED")
	if [[ $ST != "$want" ]]; then
		local why=
		((ST > 128 && ST != 255)) && why=" (killed by SIG$(kill -l $((ST - 128)) 2>/dev/null))"
		problem "$1: exit status $ST$why, expected $want ($FAILED failed); stderr: $(tail -3 "$R/err" | cut -c1-200 | paste -sd'|')"
	fi
}

# check_stderr ERR: nothing on stderr says ppool broke.
check_stderr() {
	if grep -qiE 'AddressSanitizer|runtime error|assert|internal error|double free|corrupt' "$1"; then
		problem "stderr: $(grep -iE 'AddressSanitizer|runtime error|assert|internal error|double free|corrupt' "$1" | head -2 | paste -sd'|')"
	fi
}

# check_joblog OUT JOBLOG: one whole joblog line per record, with its
# attempts, and Exit 0 exactly for the tasks that succeeded.
check_joblog() {
	local bad
	bad=$(jq -r '[.seq, (if .ok then "ok" else "failed" end), .attempts] | @tsv' "$1" |
		awk -F'\t' 'NR == FNR { want[$1] = $2 " " $3; next }
			FNR == 1 { next }
			{ got = ($4 == "0" ? "ok" : "failed") " " $6
			  if (NF < 9) print "joblog line " FNR " has " NF " fields"
			  else if (!($1 in want)) print "joblog line for task " $1 " which has no record"
			  else if (seen[$1]++) print "task " $1 " twice in the joblog"
			  else if (want[$1] != got) print "joblog says task " $1 " " got ", its record " want[$1] }
			END { for (s in want) if (!(s in seen)) print "task " s " has a record but no joblog line" }' \
			- "$2" | head -3)
	[[ -z $bad ]] || problem "joblog: $(paste -sd'|' <<<"$bad")"
}

# check_fds: ppool (PID), fed through a FIFO, has printed every record and
# waits for more input: its descriptors must be 0, 1, 2, one self-pipe, the
# joblog, and for each child its pidfd and the pipes on the child's stdin
# and stdout; a child's own pipes are its stdin and stdout only.  Children
# may be on their way out (a retired worker): retried for 3 s.
check_fds() {
	local try why
	for ((try = 0; try < 15; try++)); do
		why=$(fd_report "$PID")
		[[ -z $why ]] && return 0
		sleep 0.2
	done
	problem "descriptors at rest: $why"
}

fd_report() {
	local pid=$1 f n t kid kids=() pidfds=0 other=() doubled=0
	local -A count=() owned=()
	mapfile -t kids < <(ps -o pid= --ppid "$pid" | tr -d " ")
	# Under a low 'ulimit -n', -j is what ppool's notice says.
	[[ -n $NOFILE ]] && JEFF=$(sed -n 's/.*running \([0-9]*\) .* at once instead of.*/\1/p' "$R/err" | head -1)
	for f in "/proc/$pid/fd/"*; do
		n=${f##*/}
		((n <= 2)) && continue
		t=$(readlink "$f") || continue
		case $t in
		'anon_inode:[pidfd]') pidfds=$((pidfds + 1)) ;;
		pipe:*) count[$t]=$((${count[$t]:-0} + 1)) ;;
		"$R/joblog") ;;
		*) other+=("$n=$t") ;;
		esac
	done
	for kid in "${kids[@]}"; do
		for n in 0 1; do
			t=$(readlink "/proc/$kid/fd/$n" 2>/dev/null) && owned[$t]=1
		done
	done
	for t in "${!count[@]}"; do
		if ((count[$t] == 2)) && [[ -z ${owned[$t]:-} ]]; then
			doubled=$((doubled + 1))
		elif [[ -z ${owned[$t]:-} ]]; then
			other+=("$t (no child's)")
		fi
	done
	((doubled > 1)) && other+=("$doubled pipes with both ends in ppool")
	((pidfds != ${#kids[@]})) && other+=("$pidfds pidfds for ${#kids[@]} children")
	((${#kids[@]} > JEFF)) && other+=("${#kids[@]} children, -j is $JEFF")
	# No child holds a pipe of ppool's but its own stdin and stdout.
	for kid in "${kids[@]}"; do
		for f in "/proc/$kid/fd/"*; do
			n=${f##*/}
			((n <= 1)) && continue
			t=$(readlink "$f" 2>/dev/null) || continue
			[[ $t == pipe:* && -n ${count[$t]:-} ]] && other+=("child $kid holds $t on fd $n")
		done
	done
	((${#other[@]})) && echo "${other[*]}; ppool: $(ls -l "/proc/$pid/fd" | awk 'NR > 1 { printf "%s->%s ", $9, $11 }')"
}

# --- round types ------------------------------------------------------------

# head_for_workers: how many tasks at the start are clean.  In worker mode
# a worker that dies before its first reply, several times in a row, stops
# the run (exit 255) until a worker of the run has answered.  With the
# first J*K tasks clean, no task that faults can be sent before ppool has
# taken a reply: J workers hold at most J*K unanswered tasks.
head_for_workers() { [[ $MODE == w ]] && echo $((J * K)) || echo 0; }

round_plain() {
	local fifo=0 wfd n pf limit head
	NOFILE='' NPROC='' RUN_PREFIX=()
	choose_options
	JEFF=$J
	if chance 15; then
		pick 24 28 32 40 48 64
		NOFILE=$REPLY
		rint 1 8
		J=$((NOFILE / 4 + REPLY)) # more than ulimit -n allows
		JEFF=$(((NOFILE - 16) / 4))
		((K > 2)) && K=2
		HALT=
	fi
	[[ -z $HALT ]] && chance 50 && fifo=1
	choose_kinds
	build_args
	((fifo)) && DESC+=" [fifo, fd check]"
	head=$(head_for_workers)
	rint 10 120
	n=$((head + REPLY))
	pick 5 15 30
	pf=$REPLY
	gen_tasks "$n" "$head" "$pf"
	write_exp "" >"$R/exp"
	ENVS=("SOAK_ENV=$ENVELOPE" SOAK_LOG=1)
	limit=$((40 + NSTALL * 3 + NCLOSE * 4))
	if ((fifo)); then
		mkfifo "$R/in"
		exec {wfd}<>"$R/in"
		launch "$R/in" "$R/out" "$R/err" "${ARGS[@]}"
		cat "$R/tasks" >&"$wfd"
		if wait_until "$limit" at_least_records "$R/out" "$n"; then
			check_fds
		else
			problem "only $(records "$R/out") of $n records after ${limit}s with the input open"
		fi
		exec {wfd}>&-
	else
		launch "$R/tasks" "$R/out" "$R/err" "${ARGS[@]}"
	fi
	if ! wait_bounded "$PID" "$limit"; then
		problem "ppool still running after ${limit}s: killed"
		return
	fi
	halt_allow
	check_records "$R/out" "$R/exp" 0 "${HALLOW[@]}"
	check_status "ppool"
	check_stderr "$R/err"
	((JOBLOG)) && check_joblog "$R/out" "$R/joblog"
	if [[ -n $NOFILE ]]; then
		local re="^ppool: only $NOFILE file descriptors may be open: running ([0-9]+) (workers|commands) at once instead of $J \(raise 'ulimit -n' for more\)\$"
		local line
		line=$(grep -m1 'file descriptors may be open' "$R/err")
		if [[ ! $line =~ $re ]]; then
			problem "ulimit -n $NOFILE, -j $J: no notice that -j is lowered (stderr: ${line:-nothing})"
		elif ((BASH_REMATCH[1] < 1 || BASH_REMATCH[1] >= J)); then
			problem "ulimit -n $NOFILE: running ${BASH_REMATCH[1]} at once instead of $J"
		fi
		FAULTS=$((FAULTS + 1))
	fi
	if [[ -n $HALT ]] && ((FAILED >= ${HALT#*=})) && ! grep -q '^ppool: --halt: ' "$R/err"; then
		problem "$FAILED tasks failed, --halt $HALT, and no --halt message"
	fi
	check_no_process 1 "after ppool exited"
}

# A reader that takes some records, stalls, and closes ppool's stdout:
# ppool must stop promptly with 141, quietly, and leave nothing.
round_close() {
	local n head take stall reader t0 el limit=60
	NOFILE='' NPROC='' RUN_PREFIX=()
	choose_options
	JEFF=$J
	choose_kinds
	drop_fault close
	head=$(head_for_workers)
	if [[ $MODE == c ]]; then
		CLEAN=(pad) # long records: the pipe fills soon
		rint 200 400
	else
		rint 2000 3000
	fi
	n=$((head + REPLY))
	build_args
	gen_tasks "$n" "$head" 3
	write_exp "" >"$R/exp"
	# Few enough that what is left is more than the pipe holds (64 KiB).
	rint 1 $((n / 3 < 300 ? n / 3 : 300))
	take=$REPLY
	pick 0 0.1 0.3 0.6
	stall=$REPLY
	DESC+=" [reader takes $take records, stalls ${stall}s, closes]"
	ENVS=("SOAK_ENV=$ENVELOPE")
	mkfifo "$R/outfifo"
	{
		head -n "$take" >"$R/prefix"
		sleep "$stall"
	} <"$R/outfifo" &
	reader=$!
	launch "$R/tasks" "$R/outfifo" "$R/err" "${ARGS[@]}"
	# A ppool that hangs is killed, which ends the reader too.
	watchdog "$PID" "$limit"
	wait "$reader"
	t0=$EPOCHREALTIME
	unwatch
	if ! wait_bounded "$PID" "$limit"; then
		problem "ppool still running ${limit}s after its stdout was closed: killed"
		return
	fi
	el=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	check_records "$R/prefix" "$R/exp" 2
	if [[ $ST != 141 ]]; then
		problem "stdout closed after $(records "$R/prefix") records: exit status $ST, expected 141"
	elif awk -v e="$el" 'BEGIN { exit !(e > 3) }'; then
		problem "ppool took ${el}s to exit after its stdout was closed"
	fi
	grep -qiE 'broken pipe|cannot write' "$R/err" &&
		problem "not quiet: $(grep -iE 'broken pipe|cannot write' "$R/err" | head -1)"
	check_stderr "$R/err"
	FAULTS=$((FAULTS + 1))
	check_no_process 1 "after ppool exited (stdout closed)"
}

# SIGKILL at a random moment, then --resume: every task printed once or,
# under the crash-safety rule, twice.
round_kill() {
	local n head delay st1 disarm s bad dup
	NOFILE='' NPROC='' RUN_PREFIX=()
	choose_options
	JEFF=$J
	T='' HALT=''
	choose_kinds
	# No stalls (no -t: they would never end) and no close (2 s each).
	drop_fault close
	CLEAN=(slow slow slow ok)
	[[ $MODE == c ]] && CLEAN+=(pad)
	# Now and then a slow one: tasks after it finish and wait to be
	# printed in order, which is when a crash tests the joblog's rule.
	SLOWS+=("${SLOWS[@]}" 0.5)
	((J == 1)) && J=2
	build_args
	head=$(head_for_workers)
	rint 30 120
	n=$((head + REPLY))
	gen_tasks "$n" "$head" 20
	write_exp "" >"$R/exp"
	pick 0.05 0.2 0.4 0.7 1 1.5
	delay=$REPLY
	DESC+=" [SIGKILL after ${delay}s, then --resume]"
	ENVS=("SOAK_ENV=$ENVELOPE")
	launch "$R/tasks" "$R/out" "$R/err" "${ARGS[@]}"
	sleep "$delay"
	kill -KILL "$PID" 2>/dev/null
	{ wait "$PID"; } 2>/dev/null # SIGKILL cannot be held off; no "Killed"
	st1=$?
	cp "$R/joblog" "$R/joblog1" 2>/dev/null || : >"$R/joblog1"
	FAULTS=$((FAULTS + 1))
	# Workers and commands die with ppool (asynchronously).
	check_no_process 5 "after ppool got SIGKILL"
	whole_lines "$R/out" >"$R/out1"
	if [[ $st1 == 137 ]]; then
		check_records "$R/out1" "$R/exp" 2
	else
		# It ended before the kill: an ordinary run.
		check_records "$R/out1" "$R/exp" 0
		ST=$st1
		check_status "ppool (ended before the SIGKILL)"
	fi
	# The tasks of the first run's whole joblog lines.
	whole_lines "$R/joblog1" | awk -F'\t' 'NR > 1 && NF >= 9 { print $1 }' | sort -n >"$R/j1"
	# The second run's first J*K tasks are clean (see head_for_workers),
	# and so are the tasks that faulted "once" in the first run.
	disarm=" $(sort -n "$R/j1" | awk -v n="$NTASKS" -v h="$head" '
		{ done[$1] = 1 } END { for (s = 1; s <= n && h > 0; s++) if (!(s in done)) { printf "%d ", s; h-- } }')"
	for ((s = 1; s <= NTASKS; s++)); do
		[[ -d $R/once.$s ]] && disarm+="$s "
	done
	write_exp "$disarm" >"$R/exp2"
	ENVS=("SOAK_ENV=$ENVELOPE" "SOAK_DISARM=$disarm")
	launch "$R/tasks" "$R/out2" "$R/err2" --resume "${ARGS[@]}"
	if ! wait_bounded "$PID" 40; then
		problem "the --resume run still running after 40s: killed"
		return
	fi
	check_records "$R/out2" "$R/exp2" 1
	check_status "the --resume run"
	check_stderr "$R/err2"
	jq .seq "$R/out1" | sort >"$R/r1"
	jq .seq "$R/out2" | sort >"$R/r2"
	# The contract, seq by seq.
	bad=$(awk -v n="$NTASKS" '
		FILENAME ~ /j1$/ { j[$1] = 1 } FILENAME ~ /r1$/ { a[$1] = 1 } FILENAME ~ /r2$/ { b[$1] = 1 }
		END {
			for (s = 1; s <= n; s++) {
				if ((s in j) && !(s in a)) print "task " s ": joblog line written by the killed run, but no record (lost)"
				if ((s in j) && (s in b)) print "task " s ": in the joblog, yet run again by --resume"
				if (!(s in j) && !(s in b)) print "task " s ": no joblog line, yet not run by --resume"
			}
		}' "$R/j1" "$R/r1" "$R/r2")
	if [[ -n $bad ]]; then
		problem "crash safety ($(wc -l <<<"$bad") tasks; killed run: $(wc -l <"$R/r1") records, $(wc -l <"$R/j1") joblog lines): $(head -3 <<<"$bad" | paste -sd'|')"
	fi
	dup=$(comm -12 "$R/r1" "$R/r2" | wc -l)
	DESC+=" ($(wc -l <"$R/r1") + $(wc -l <"$R/r2") records, $dup in both)"
	# The joblog now has each task once.
	bad=$(whole_lines "$R/joblog" | awk -F'\t' -v n="$NTASKS" '
		NR > 1 { c[$1]++ } END { for (s = 1; s <= n; s++) if (c[s] != 1) print "task " s ": " c[s] + 0 " joblog lines" }' | head -3)
	[[ -z $bad ]] || problem "joblog after --resume: $(paste -sd'|' <<<"$bad")"
	check_no_process 1 "after the --resume run"
}

# As nobody under a small 'ulimit -u': tasks that cannot be started fail
# with the contract's error, ppool neither dies nor hangs.
round_nproc() {
	local n bin=$TMP/ppool
	NOFILE='' RUN_PREFIX=()
	choose_options
	JEFF=$J
	T='' HALT='' JOBLOG=0
	[[ -e $bin ]] || { cp "$PPOOL" "$bin" && chmod 755 "$bin"; }
	# No task or worker may fork (sh's builtins, exec, python): a fork
	# failure inside one would be the task's own failure.  No worker death
	# (its successor might not start: the run would stop).
	choose_kinds
	if [[ $MODE == w ]]; then
		CLEAN=(ok ok garbage)
		FAULTY=(badline)
		((ENVELOPE)) && FAULTY+=(enverr)
		[[ $WLANG == py ]] && CLEAN+=(slow)
	else
		CLEAN=(ok ok slow pad)
		FAULTY=(exit segv kill badline badtask binout)
		[[ $CFORM == cmd ]] && FAULTY+=(dupfield)
	fi
	RETRIES=0 # "once" needs mkdir, a fork
	# ppool and its children count: -j above the limit makes forks fail.
	pick 3 4 5 6
	NPROC=$REPLY
	rint 0 4
	J=$((NPROC + REPLY))
	JEFF=$J
	build_args
	rint 10 60
	n=$REPLY
	gen_tasks "$n" 0 20
	write_exp "" >"$R/exp"
	chown -R nobody: "$R"
	chmod -R a+rX "$R"
	ENVS=("SOAK_ENV=$ENVELOPE")
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
			bash -c 'ulimit -u "$1" || exit 254; shift; exec "$@"' _ "$NPROC" \
			env "${ENVS[@]}" "$bin" "${ARGS[@]}" <"$R/tasks" >"$R/out" 2>"$R/err"
	) &
	PID=$!
	if ! wait_bounded "$PID" 40; then
		problem "ppool still running after 40s: killed"
		return
	fi
	check_records "$R/out" "$R/exp" 0 "cannot start the command: Resource temporarily unavailable"
	[[ $MODE == c ]] && DESC+=" ($(grep -c '"cannot start the command' "$R/out") tasks could not start)"
	check_status "ppool"
	check_stderr "$R/err"
	FAULTS=$((FAULTS + 1))
	check_no_process 1 "after ppool exited"
}

# ppool under valgrind: no memory error, no leak, no descriptor left open.
round_valgrind() {
	local n head
	NOFILE='' NPROC=''
	choose_options
	JEFF=$J
	T='' HALT=''
	choose_kinds
	drop_fault close
	RUN_PREFIX=(env PPOOL_NO_PIDFD=1 valgrind -q --error-exitcode=99 --leak-check=full
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
		--track-fds=yes "--log-file=$R/vg.%p")
	build_args
	DESC+=" [valgrind]"
	head=$(head_for_workers)
	rint 10 40
	n=$((head + REPLY))
	gen_tasks "$n" "$head" 30
	write_exp "" >"$R/exp"
	ENVS=("SOAK_ENV=$ENVELOPE")
	launch "$R/tasks" "$R/out" "$R/err" "${ARGS[@]}"
	if ! wait_bounded "$PID" 120; then
		problem "ppool (valgrind) still running after 120s: killed"
		return
	fi
	check_records "$R/out" "$R/exp" 0
	if [[ $ST == 99 ]]; then
		problem "valgrind found errors: $(cat "$R"/vg.* | grep -v '^==[0-9]*== *$' | head -8 | cut -c1-160 | paste -sd'|')"
	else
		check_status "ppool (valgrind)"
	fi
	local f leak
	for f in "$R"/vg.*; do
		[[ -s $f ]] || continue
		leak=$(awk '/Open (file|AF_UNIX socket|pipe)? ?descriptor/ { fd = $0; getline;
			if ($0 !~ /inherited from parent/) print fd }' "$f" | head -3)
		[[ -z $leak ]] || problem "valgrind: descriptors left open at exit: $(paste -sd'|' <<<"$leak")"
		grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]' "$f" &&
			problem "valgrind: $(grep -m2 'ERROR SUMMARY\|definitely lost' "$f" | paste -sd'|')"
	done
	check_no_process 1 "after ppool exited"
}

# --- the rounds -------------------------------------------------------------

run_round() {
	ROUND=$1
	RANDOM=$(((SEED * 7919 + ROUND * 104729) % 2147483647))
	MARKER=ppoolsoak_$$_$ROUND
	R=$TMP/$MARKER
	mkdir "$R"
	DESC="?"
	local before=${#PROBLEMS[@]} t0=$SECONDS
	rint 1 100
	if ((REPLY <= 55)); then
		TYPE=plain
	elif ((REPLY <= 70)); then
		TYPE=close
	elif ((REPLY <= 88)); then
		TYPE='kill'
	elif ((REPLY <= 95)); then
		TYPE=nproc
		if [[ $(id -u) != 0 ]] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
			TYPE=plain
		fi
	else
		TYPE=valgrind
		command -v valgrind >/dev/null || TYPE=plain
	fi
	[[ -n ${SOAK_TYPE:-} ]] && TYPE=$SOAK_TYPE
	write_helpers
	"round_$TYPE"
	ROUNDS=$((ROUNDS + 1))
	TASKS=$((TASKS + NTASKS))
	FAULTS=$((FAULTS + NFAULT))
	printf 'soak: round %d (%ds, %d tasks, %d faults): %s%s\n' "$ROUND" $((SECONDS - t0)) \
		"$NTASKS" "$NFAULT" "$DESC" "$( ((${#PROBLEMS[@]} > before)) && echo ' FAILED')"
	kill_jobs
	if ((${#PROBLEMS[@]} == before)) || [[ -z ${SOAK_KEEP:-} ]]; then
		rm -rf "$R"
	fi
}

echo "soak: $PPOOL for ${SECS}s, seed $SEED (replay: SOAK_SEED=$SEED [SOAK_ROUND=N] $0 PPOOL)"
start=$SECONDS
if [[ -n $ONLY ]]; then
	run_round "$ONLY"
else
	round=0
	while ((SECONDS - start < SECS)); do
		round=$((round + 1))
		run_round "$round"
	done
fi

for p in "${PROBLEMS[@]}"; do
	echo "soak: problem: $p"
done
echo "soak: $ROUNDS rounds, $TASKS tasks, $FAULTS faults injected, ${#PROBLEMS[@]} problems ($((SECONDS - start))s)"
((${#PROBLEMS[@]} == 0))
