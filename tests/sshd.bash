# sshd.bash: a private OpenSSH server for the -S/--ssh tests (loaded with
# `load sshd` after `load helpers`).
#
# sshd_setup_file (in setup_file) starts two sshd daemons on one free TCP
# port, one listening on 127.0.0.1 and one on 127.0.0.2, so that one "host"
# can be brought down on its own; nothing listens on 127.0.0.3 or 127.0.0.4
# at that port ("a host that is down").  They accept only a key made here,
# for the user running the tests (root or not).  sshd_teardown_file (in
# teardown_file) stops them and every process their sessions left.
#
# Exported for the tests: SSHD_PORT; SSHD_DIR (keys, configs, sshd logs);
# SSHD_KEY (the user's private key); SSH_BASE, the ssh command line that
# logs in (for --ssh-command; see ssh_cmd for the one tests use).
#
# For the tests: sshd_setup (in setup: skips when there is no sshd);
# ssh_cmd (the --ssh-command of this test: sends the marker);
# sshd_kill_host ADDR (the host crashes: its daemon, its sessions and what
# they run, at once); sshd_restore_hosts (in teardown: a killed host comes
# back); remote_marker_pids and assert_nothing_left SECS (no process of the
# test is left, local or remote).
#
# Without /usr/sbin/sshd (package openssh-server) the tests are skipped,
# unless PPOOL_REQUIRE_SSHD=1, which makes that a failure (CI sets it).

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_ADDRS=(127.0.0.1 127.0.0.2)

# sshd_require: true when OpenSSH is here.  Otherwise fail with
# PPOOL_REQUIRE_SSHD=1, else set SSHD_SKIP to the reason (bats 1.8 cannot
# skip in setup_file: sshd_setup skips each test instead).
sshd_require() {
	local missing=
	[[ -x $SSHD_BIN ]] || missing="$missing $SSHD_BIN (openssh-server)"
	command -v ssh >/dev/null || missing="$missing ssh (openssh-client)"
	command -v ssh-keygen >/dev/null || missing="$missing ssh-keygen (openssh-client)"
	[[ -z $missing ]] && return 0
	if [[ ${PPOOL_REQUIRE_SSHD:-} == 1 ]]; then
		echo "sshd.bash: PPOOL_REQUIRE_SSHD=1 but missing:$missing" >&2
		return 2
	fi
	export SSHD_SKIP="OpenSSH is not installed (missing:$missing; apt-get install openssh-server openssh-client)"
	return 1
}

# sshd_setup: for setup(): skip the test when sshd_setup_file found no sshd.
sshd_setup() {
	[[ -z ${SSHD_SKIP:-} ]] || skip "$SSHD_SKIP"
}

# sshd_free_port: print a TCP port that nothing listens on at 127.0.0.1 or
# 127.0.0.2 right now (the kernel's pick for an ephemeral bind).  Another
# process may take it before sshd does: sshd_setup_file then tries again.
sshd_free_port() {
	python3 - <<'EOF'
import socket
while True:
    a = socket.socket()
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.2", port))
    except OSError:
        a.close()
        continue
    a.close()
    b.close()
    print(port)
    break
EOF
}

# sshd_config ADDR: write the config of the daemon for ADDR; print its path.
sshd_config() {
	local addr=$1 cfg="$SSHD_DIR/sshd_config.$1"
	cat >"$cfg" <<EOF
ListenAddress $addr:$SSHD_PORT
AddressFamily inet
HostKey $SSHD_DIR/host_ed25519
PidFile $SSHD_DIR/sshd.$addr.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
# Tests connect many times at once (command mode): no random drops.
MaxStartups 200
MaxSessions 50
LoginGraceTime 20
# Each test sends its marker in PPOOL_TEST_MARKER (see ssh_cmd), so that
# every process its sessions start can be found by its environment.
AcceptEnv PPOOL_TEST_MARKER
# bash run by sshd reads ~/.bashrc only as a top-level shell (SHLVL < 2):
# root's runs 'pyenv init' here, which made a login take 0.9 s quiet and
# over 5 s under CI's load; the tests measure ppool, not that (0.3 s).
SetEnv SHLVL=1
EOF
	# OpenSSH 9.8+ penalises sources that crash or drop connections (as a
	# killed ppool does): not here.  Older versions do not know the option.
	if "$SSHD_BIN" -t -f "$cfg" -o PerSourcePenalties=no 2>/dev/null; then
		echo "PerSourcePenalties no" >>"$cfg"
	fi
	printf '%s' "$cfg"
}

# sshd_login ADDR: log in to ADDR and run `true`; quiet.
sshd_login() {
	# shellcheck disable=SC2086 # SSH_BASE is words
	timeout 10 $SSH_BASE -o BatchMode=yes -o ConnectTimeout=5 "$1" true </dev/null >/dev/null 2>&1
}

# sshd_start_host ADDR: start (again) the daemon for ADDR on SSHD_PORT and
# wait until it lets us log in.  Fails when sshd cannot start (the port is
# taken); sshd binds before it goes into the background, so its exit status
# says so.
sshd_start_host() {
	local addr=$1 cfg i
	cfg=$(sshd_config "$addr") || return 1
	rm -f "$SSHD_DIR/sshd.$addr.pid"
	"$SSHD_BIN" -f "$cfg" -E "$SSHD_DIR/sshd.$addr.log" </dev/null >/dev/null 2>&1 || return 1
	# It listens already; wait until a login goes through (an event, bounded).
	for ((i = 0; i < 100; i++)); do
		sshd_login "$addr" && return 0
		sleep 0.1
	done
	echo "sshd.bash: cannot log in to $addr:$SSHD_PORT; its log:" >&2
	tail -20 "$SSHD_DIR/sshd.$addr.log" >&2
	return 1
}

# sshd_pid ADDR: the pid of the daemon for ADDR (empty when not running).
sshd_pid() {
	local f="$SSHD_DIR/sshd.$1.pid" pid
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	# Still that daemon (not a recycled pid)?
	if [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"sshd_config.$1"* ]]; then
		echo "$pid"
	fi
}

# sshd_host_up ADDR: the daemon for ADDR runs.
sshd_host_up() {
	[[ -n $(sshd_pid "$1") ]]
}

# descendants PID...: PID and all its descendants, by parent pid.
descendants() {
	local -a todo=("$@") out=()
	local p
	while ((${#todo[@]})); do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		out+=("$p")
		mapfile -t -O "${#todo[@]}" todo < <(pgrep -P "$p")
	done
	printf '%s\n' "${out[@]}"
}

# session_env_pids: pids of the processes whose environment says they come
# from one of our daemons (SSH_CONNECTION names 127.0.0.1/2 and our port):
# what the sessions started, even once orphaned.
session_env_pids() {
	local f
	for f in $(grep -lzxE "SSH_CONNECTION=[^ ]+ [0-9]+ 127\.0\.0\.[12] $SSHD_PORT" \
		/proc/[0-9]*/environ 2>/dev/null); do
		f=${f#/proc/}
		echo "${f%/environ}"
	done
}

# kill_tree PID...: stop PID and every descendant (again and again until no
# new one appears, so that none can fork away), then kill them all.
kill_tree() {
	local -A seen=()
	local p new=1
	while ((new)); do
		new=0
		for p in $(descendants "$@"); do
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

# sshd_kill_host ADDR: bring ADDR down as a crash would: its daemon, every
# session process ("sshd: user@notty") and what the sessions run, all at once
# (SIGKILL), so that the clients see their connections drop.  Then nothing
# listens on ADDR (sshd_start_host ADDR brings it back).
sshd_kill_host() {
	local pid
	pid=$(sshd_pid "$1")
	[[ -n $pid ]] || {
		echo "sshd_kill_host: no daemon for $1" >&2
		return 1
	}
	kill_tree "$pid"
	wait_until 10 sshd_host_down_now "$1"
}

# sshd_host_down_now ADDR: no daemon for ADDR and its port refuses.
sshd_host_down_now() {
	! sshd_host_up "$1" && ! (exec 3<>"/dev/tcp/$1/$SSHD_PORT") 2>/dev/null
}

# sshd_setup_file: for setup_file().  Keys, then the two daemons on a free
# port (another if that one is taken meanwhile).
sshd_setup_file() {
	local rc=0
	sshd_require || rc=$?
	((rc != 1)) || return 0
	((rc == 0)) || return 1
	SSHD_DIR=$(mktemp -d "$BATS_FILE_TMPDIR/sshd.XXXXXX") || return 1
	chmod 700 "$SSHD_DIR"
	ssh-keygen -q -t ed25519 -N '' -C ppool-test-host -f "$SSHD_DIR/host_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N '' -C ppool-test-user -f "$SSHD_DIR/user_ed25519" || return 1
	cp "$SSHD_DIR/user_ed25519.pub" "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
	SSHD_KEY=$SSHD_DIR/user_ed25519
	# sshd run by root needs its privilege separation directory.
	if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	local try addr ok
	for ((try = 0; try < 20; try++)); do
		SSHD_PORT=$(sshd_free_port) || return 1
		SSH_BASE="ssh -F none -p $SSHD_PORT -i $SSHD_KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
		ok=1
		for addr in "${SSHD_ADDRS[@]}"; do
			"$SSHD_BIN" -t -f "$(sshd_config "$addr")" || return 1
			if ! sshd_start_host "$addr"; then
				ok=
				break
			fi
		done
		[[ -n $ok ]] && break
		sshd_stop_all
	done
	if [[ -z $ok ]]; then
		echo "sshd.bash: could not start sshd on a free port; last log:" >&2
		tail -20 "$SSHD_DIR"/sshd.*.log >&2
		return 1
	fi
	export SSHD_DIR SSHD_PORT SSHD_KEY SSH_BASE
}

# sshd_stop_all: kill both daemons with their sessions, and whatever the
# sessions started that has left their tree.
sshd_stop_all() {
	local addr pid
	for addr in "${SSHD_ADDRS[@]}"; do
		pid=$(sshd_pid "$addr")
		[[ -z $pid ]] || kill_tree "$pid"
	done
	for pid in $(session_env_pids); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# sshd_teardown_file: for teardown_file().
sshd_teardown_file() {
	[[ -n ${SSHD_DIR:-} && -n ${SSHD_PORT:-} ]] || return 0
	sshd_stop_all
}

# sshd_restore_hosts: for teardown(): start again a daemon a test brought
# down, so that the next test has both hosts.
sshd_restore_hosts() {
	local addr
	[[ -z ${SSHD_SKIP:-} ]] || return 0
	for addr in "${SSHD_ADDRS[@]}"; do
		sshd_host_up "$addr" || sshd_start_host "$addr" || return 1
	done
}

# ssh_cmd: the --ssh-command for this test: SSH_BASE plus the test's marker
# sent as PPOOL_TEST_MARKER, so that the local ssh clients carry the marker in
# their command line and every remote process in its environment.
ssh_cmd() {
	printf '%s -o SetEnv=PPOOL_TEST_MARKER=%s' "$SSH_BASE" "$MARKER"
}

# remote_marker_pids: live pids (not zombies) of this test's processes on
# the "remote" side: those with the marker in their environment.
remote_marker_pids() {
	local f pid state
	for f in $(grep -lzxF "PPOOL_TEST_MARKER=$MARKER" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || continue
		[[ $state == Z || $state == X ]] || echo "$pid"
	done
}

# no_test_process: no live process of this test, local (marker in the
# command line) or remote (marker in the environment).
no_test_process() {
	[[ -z $(live_marker_pids) && -z $(remote_marker_pids) ]]
}

# assert_nothing_left SECS: within SECS, no process of this test is left,
# local or remote (the remote watchdog takes a second or three).
assert_nothing_left() {
	wait_until "$1" no_test_process && return 0
	local pids
	pids=$({
		live_marker_pids
		remote_marker_pids
	} | sort -u | paste -sd,)
	echo "processes left behind:" >&2
	ps -o pid,ppid,stat,args -p "$pids" >&2 || true
	return 1
}
