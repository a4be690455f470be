#!/bin/sh
# setup.sh: install what is missing on Debian, build ppool, run an example.
# Extra arguments go to ./configure (e.g. CFLAGS='-O2 -Werror').
set -eu
cd "$(dirname "$0")"

pkgs="build-essential autoconf automake pkg-config libpipeline-dev
libcjson-dev bats bats-support bats-assert bats-file python3 jq procps
parallel libtext-csv-perl tmux bash-completion mandoc openssh-server openssh-client
zsh fish strace slurm-wlm munge"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi

[ -x configure ] || autoreconf -fi
./configure -q "$@"
make -s
echo "setup: built src/ppool; running: seq 10 | ./src/ppool -j 2 -w examples/double.sh"
seq 10 | ./src/ppool -j 2 -w examples/double.sh
