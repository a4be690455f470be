#!/usr/bin/env bats
# cli.bats: the command line: --help, --version, option and number parsing.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

# Every option, short and long.
OPTIONS=(-a --input -0 --null -L --lines -h --help -j --jobs -P -o --output
	-r --max-reqs -t --timeout -u --unordered -V --version -w --worker
	--dry-run --envelope --halt --inflight --kill-after --max-line
	--max-output --retries --window)

# assert_usage_error: the last `run` was refused as a usage error.
assert_usage_error() {
	assert_equal "$status" 255
	assert_equal "$output" ""
	[[ $stderr == "ppool: "* ]] || {
		echo "stderr does not start with 'ppool: ': $stderr" >&2
		return 1
	}
}

@test "--help lists every option on stdout and exits 0" {
	run --separate-stderr ppool --help
	assert_success
	assert_equal "$stderr" ""
	local opt
	for opt in "${OPTIONS[@]}"; do
		grep -qE -- "(^|[^-[:alnum:]])$opt([^-[:alnum:]]|\$)" <<<"$output" ||
			fail "--help does not mention $opt"
	done
}

@test "-h is --help" {
	run --separate-stderr ppool --help
	local long=$output
	run --separate-stderr ppool -h
	assert_success
	assert_equal "$output" "$long"
}

@test "--version and -V print 'ppool VERSION' on stdout" {
	local version
	version=$(sed -n 's/^AC_INIT(\[ppool\], \[\([^]]*\)\].*/\1/p' "$PPOOL_SRCDIR/configure.ac")
	[[ -n $version ]]
	run --separate-stderr ppool --version
	assert_success
	assert_output "ppool $version"
	assert_equal "$stderr" ""
	run --separate-stderr ppool -V
	assert_success
	assert_output "ppool $version"
}

@test "--help and --version to a closed or full stdout: a message, exit 255" {
	# As with coreutils: printing the help is the whole job, so a failed
	# write is an error, not a quiet success.
	local opt
	for opt in --help --version; do
		if [[ -w /dev/full ]]; then
			run --separate-stderr bash -c '"$PPOOL" "$1" >/dev/full' _ "$opt"
			assert_equal "$status" 255
			assert_equal "$stderr" "ppool: cannot write to stdout: No space left on device"
		fi
		[[ -n ${PPOOL_UNDER_VALGRIND:-} ]] && continue
		run --separate-stderr bash -c '"$PPOOL" "$1" >&-' _ "$opt"
		assert_equal "$status" 255
		assert_equal "$stderr" "ppool: cannot write to stdout: Bad file descriptor"
	done
}

@test "options are accepted in their attached and separate forms" {
	run --separate-stderr ppool -j2 --jobs=2 -P 2 -r5 --max-reqs=5 --inflight=2 \
		--window=4 --max-line=1K -o json --output=json -w "$(cat_worker)" <<<'1'
	assert_success
	assert_equal "$(jqo .result)" 1
}

@test "-j 0 is a usage error" {
	run --separate-stderr ppool -j 0 -w cat </dev/null
	assert_usage_error
}

@test "-j x is a usage error" {
	run --separate-stderr ppool -j x -w cat </dev/null
	assert_usage_error
}

@test "-j -1, -j 2x, -j '' and a -j that overflows are usage errors" {
	local bad
	for bad in -1 2x '' ' 2' 99999999999999999999999; do
		run --separate-stderr ppool -j "$bad" -w cat </dev/null
		assert_usage_error
	done
}

@test "-P 0 is a usage error" {
	run --separate-stderr ppool -P 0 -w cat </dev/null
	assert_usage_error
}

@test "--window 0 is a usage error" {
	run --separate-stderr ppool --window 0 -w cat </dev/null
	assert_usage_error
}

@test "--inflight 0 is a usage error" {
	run --separate-stderr ppool --inflight 0 -w cat </dev/null
	assert_usage_error
}

@test "--max-line 0 and a bad suffix are usage errors" {
	run --separate-stderr ppool --max-line 0 -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool --max-line 1Q -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool --max-line x -w cat </dev/null
	assert_usage_error
}

@test "-r x and -r -1 are usage errors; -r 0 (never retire) is accepted" {
	run --separate-stderr ppool -r x -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool -r -1 -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool -r 0 -w "$(cat_worker)" <<<'7'
	assert_success
	assert_equal "$(jqo .result)" 7
}

@test "-o with an unknown format is a usage error" {
	run --separate-stderr ppool -o yaml -w cat </dev/null
	assert_usage_error
}

@test "an unknown option exits 255 with a ppool: message" {
	run --separate-stderr ppool --frobnicate -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool -Z -w cat </dev/null
	assert_usage_error
}

@test "a missing option argument exits 255" {
	run --separate-stderr ppool -w
	assert_usage_error
}

@test "options of one mode are refused in the other, with a message" {
	run --separate-stderr ppool --envelope echo hi </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --envelope is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool -r 5 echo hi </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -r is for worker mode: give -w CMD, or leave it out"
	run --separate-stderr ppool --inflight 4 </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --inflight is for worker mode: give -w CMD, or leave it out"
	# given, even with their defaults
	run --separate-stderr ppool -r 0 echo hi </dev/null
	assert_usage_error
	run --separate-stderr ppool --inflight 1 echo hi </dev/null
	assert_usage_error
	run --separate-stderr ppool --dry-run -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool --max-output 1K -w cat </dev/null
	assert_usage_error
	run --separate-stderr ppool -w cat echo hi </dev/null
	assert_usage_error
}

@test "-t, --kill-after, --retries and --halt parse strictly" {
	local bad
	for bad in "-t 0" "-t -1" "-t x" "--kill-after 0" "--retries -1" \
	    "--retries x" "--halt sometimes" "--halt soon,fail=0" \
	    "--halt now,fail=101%" "--halt soon,fail=x" "-t 0x10" "-t 1e3" \
	    "-t inf" "-t 1.5.2" "--kill-after=+1"; do
		# shellcheck disable=SC2086
		run --separate-stderr ppool $bad -w cat </dev/null
		assert_usage_error
	done
	# strtod alone took a leading blank, as -j does not
	run --separate-stderr ppool -t ' 1' -w cat </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -t wants a number of seconds above 0, not ' 1'"
	# Too large is not 'not above 0'.
	run --separate-stderr ppool -t 99999999999999999999 -w cat </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: -t wants at most 1000000000 seconds (31 years), not '99999999999999999999'"
	run --separate-stderr ppool --kill-after "1$(printf '0%.0s' $(seq 400))" -w cat </dev/null
	assert_usage_error
	[[ ${stderr_lines[0]} == "ppool: --kill-after wants at most 1000000000 seconds"* ]] || fail "$stderr"
	run --separate-stderr ppool -t 1000000000 -w cat <<<'1'
	assert_success
	run --separate-stderr ppool -t 0.5 --kill-after 1 --retries 2 \
	    --halt now,fail=10% -w cat <<<'1'
	assert_success
	run --separate-stderr ppool -t .5 --kill-after 2. -w cat <<<'1'
	assert_success
}

@test "a size option's message names its K, M and G suffixes" {
	run --separate-stderr ppool --max-output=2X -- true </dev/null
	assert_usage_error
	assert_equal "${stderr_lines[0]}" "ppool: --max-output wants a whole number (with K, M or G after it for KiB, MiB or GiB), not '2X'"
}

@test "-a - reads the tasks from stdin, as with xargs" {
	run --separate-stderr ppool -L -o raw -a - -- echo <<<'hi'
	assert_success
	assert_output hi
}

@test "-a with a file that does not exist exits 255 naming the file" {
	run --separate-stderr ppool -a "$BATS_TEST_TMPDIR/no-such-file" -w cat
	assert_equal "$status" 255
	assert_equal "$output" ""
	[[ $stderr == "ppool: "*no-such-file* ]] || fail "stderr: $stderr"
}
