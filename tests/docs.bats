#!/usr/bin/env bats
# docs.bats: the man page and the shell completions agree with `ppool --help';
# the man page lints clean and its self-contained examples run as shown, and
# so does the cron job of examples/.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers
# The EXAMPLES test runs every runnable example, timeouts and sleeps of a
# few seconds included: ~15 s alone, several times that on a loaded machine.
BATS_TEST_TIMEOUT=240

MAN=$PPOOL_SRCDIR/man/ppool.1
BASH_COMP=$PPOOL_SRCDIR/completions/ppool.bash
ZSH_COMP=$PPOOL_SRCDIR/completions/_ppool
FISH_COMP=$PPOOL_SRCDIR/completions/ppool.fish

# help_long: the long options `ppool --help' names, one a line.
help_long() {
	"$PPOOL" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# help_short: the short options `ppool --help' names (-X), one a line: those
# of the usage lines ([-0Lu] gives three), of the option list ("  -a, ..."
# and "  -X   give ..."), and "-P N is the same" (also when the help wraps
# it after "is").
help_short() {
	local help
	help=$("$PPOOL" --help)
	{
		# The usage lines: up to the first empty line.
		sed '/^$/q' <<<"$help" | grep -oE '(^|[[ |])-[a-zA-Z0-9]+' |
			sed 's/^[[ |]//; s/^-//' | grep -oE '[a-zA-Z0-9]' | sed 's/^/-/'
		grep -oE '^ +-[a-zA-Z0-9](,| )' <<<"$help" | grep -oE -- '-[a-zA-Z0-9]'
		tr -s ' \n' '  ' <<<"$help" |
			grep -oE '(^|[ ;])-[a-zA-Z0-9] [A-Z]+ is the same' |
			grep -oE -- '-[a-zA-Z0-9] ' | tr -d ' '
	} | LC_ALL=C sort -u
}

# help_sources: the words that start an input source (:::, ::::, :::+,
# ::::+) as `ppool --help' names them, one a line.
help_sources() {
	"$PPOOL" --help | grep -oE '(^|[ [|])::::?\+?( |$)' | tr -d ' [|' | LC_ALL=C sort -u
}

# missing_from FILE PATTERN-PRINTF: the options (help_short, help_long) for
# which FILE has no line matching the extended regex made by
# printf PATTERN-PRINTF NAME (NAME: the option without its dashes).
missing_from() {
	local file=$1 short_fmt=$2 long_fmt=$3 o re missing=()
	for o in $(help_short); do
		re=$(printf "$short_fmt" "${o#-}")
		grep -qE -- "$re" "$file" || missing+=("$o")
	done
	for o in $(help_long); do
		re=$(printf "$long_fmt" "${o#--}")
		grep -qE -- "$re" "$file" || missing+=("$o")
	done
	printf '%s\n' "${missing[@]}"
}

# unknown_long: the long options read on stdin (one a line) that
# `ppool --help' does not name.
unknown_long() {
	sort -u | comm -23 - <(help_long)
}

@test "--help names the options these tests look for" {
	# A sanity check of help_short, help_long and help_sources themselves.
	assert_equal "$(help_short | tr '\n' ' ')" '-0 -C -L -N -P -S -V -X -a -h -j -n -o -r -t -u -v -w '
	local o
	for o in --input --worker --jobs --window --max-output --ssh --ssh-command --ssh-file \
		--colsep --max-args --csv --header --line-buffer --link --results --tag; do
		help_long | grep -qFx -- "$o" || fail "help_long lacks $o"
	done
	assert_equal "$(help_sources | tr '\n' ' ')" '::: :::+ :::: ::::+ '
}

@test "every option of --help has an entry (.It) in the man page" {
	local missing
	missing=$(missing_from "$MAN" '^\.It( .*)? Fl %s( |$)' '^\.It( .*)? Fl -%s( |$)')
	[[ -z $missing ]] || fail "options with no .It entry in man/ppool.1: $(echo $missing)"
}

@test "every input source of --help (:::, ::::, :::+, ::::+) has an entry in the man page, and is in each completion" {
	local src missing=()
	for src in $(help_sources); do
		grep -qE -- "^\\.It( .*)? Cm ${src//+/\\+}( |$)" "$MAN" || missing+=("man:$src")
		grep -qE -- "(^|[ |(])${src//+/\\+}( |\\)|\$)" "$BASH_COMP" || missing+=("bash:$src")
		grep -qF -- "$src" "$FISH_COMP" || missing+=("fish:$src")
	done
	[[ -z ${missing[*]} ]] || fail "input sources not described: ${missing[*]}"
	# zsh matches them all with one pattern.
	grep -qF ':::(|:)(|+)' "$ZSH_COMP" || fail "completions/_ppool does not match the sources"
}

@test "every option of --help is in the bash completion, and nothing else" {
	local missing
	missing=$(missing_from "$BASH_COMP" "(^|[[:space:]'])-%s([[:space:]']|\$)" \
		"(^|[[:space:]'])--%s=?([[:space:]']|\$)")
	[[ -z $missing ]] || fail "options missing from completions/ppool.bash: $(echo $missing)"
	local unknown
	unknown=$(grep -oE -- '--[a-z][a-z0-9-]*' "$BASH_COMP" | unknown_long)
	[[ -z $unknown ]] || fail "completions/ppool.bash names options --help does not: $(echo $unknown)"
}

@test "every option of --help is in the zsh completion, and nothing else" {
	local missing
	missing=$(missing_from "$ZSH_COMP" "(^|[{'),])-%s\\+?[[,]" \
		"(^|[,'(){])--%s=?[[}]")
	[[ -z $missing ]] || fail "options missing from completions/_ppool: $(echo $missing)"
	local unknown
	unknown=$(grep -oE -- '--[a-z][a-z0-9-]*' "$ZSH_COMP" | unknown_long)
	[[ -z $unknown ]] || fail "completions/_ppool names options --help does not: $(echo $unknown)"
}

@test "every option of --help is in the fish completion, and nothing else" {
	local missing
	missing=$(missing_from "$FISH_COMP" '^complete -c ppool .*-s %s( |$)' \
		'^complete -c ppool .*-l %s( |$)')
	[[ -z $missing ]] || fail "options missing from completions/ppool.fish: $(echo $missing)"
	# The long options the file names: "-l NAME" in its complete lines,
	# and the --NAME and --(A|B) of the patterns that recognise them.
	local unknown
	unknown=$({
		grep -E '^complete -c ppool ' "$FISH_COMP" |
			grep -oE -- ' -l [a-z0-9-]+' | sed 's/^ -l /--/'
		grep -E 'string match' "$FISH_COMP" | grep -oE -- '--[a-z][a-z0-9-]*'
		grep -E 'string match' "$FISH_COMP" | grep -oE -- '--\([a-z0-9|-]+\)' |
			sed 's/^--(//; s/)$//' | tr '|' '\n' | sed 's/^/--/'
	} | unknown_long)
	[[ -z $unknown ]] || fail "completions/ppool.fish names options --help does not: $(echo $unknown)"
}

# bash_complete WORD...: the completions bash offers for the command line
# `ppool WORD...' (the last WORD being completed), one a line, sorted.
bash_complete() {
	local words
	words=$(printf '%q ' ppool "$@")
	bash --norc --noprofile -c '
		[ -r /usr/share/bash-completion/bash_completion ] &&
			. /usr/share/bash-completion/bash_completion
		. "$1" || exit 1
		shift
		spec=$(complete -p ppool) || exit 1
		func=$(sed -n "s/.* -F \([^ ]*\) .*/\1/p" <<<"$spec")
		[ -n "$func" ] || { echo "no -F function in: $spec" >&2; exit 1; }
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMP_TYPE=9
		COMP_KEY=9
		"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$BASH_COMP" ppool "$@" | sed '/^$/d' | sort
}

@test "bash: ppool --max-<TAB> offers --max-args, --max-line, --max-output and --max-reqs only" {
	run bash_complete --max-
	assert_success
	local got
	got=$(sed 's/=$//' <<<"$output" | tr '\n' ' ')
	assert_equal "$got" '--max-args --max-line --max-output --max-reqs '
	assert_equal "$(grep -v '^--max-' <<<"$output" || true)" ''
}

@test "bash: ppool -<TAB> offers exactly the options of --help" {
	run bash_complete -
	assert_success
	local want
	want=$({ help_short; help_long; } | sort -u | tr '\n' ' ')
	assert_equal "$(sed 's/=$//' <<<"$output" | sort -u | tr '\n' ' ')" "$want"
}

@test "bash: an option's letter at the end of a bundle completes its argument (-Lo, -0a, -uS)" {
	touch tasks1.jsonl tasks2.jsonl
	run bash_complete -Lo r
	assert_output raw
	run bash_complete -0a tasks
	assert_output "$(printf '%s\n' tasks1.jsonl tasks2.jsonl)"
	run bash_complete -uS x,
	assert_line 'x,:'
	run bash_complete -Lt ''
	assert_success
	assert_output ''
}

@test "bash: no option of ppool after COMMAND or an input source" {
	touch -- -file vals.txt
	local line
	for line in 'echo -' '-j 2 echo --' '-- echo -' 'echo ::: a -' 'echo -n ::: a -' \
		'-w cat ::: -' '-w cat :::: vals.txt -' '--link -w cat ::: a ::: -'; do
		# shellcheck disable=SC2086
		run bash_complete $line
		assert_success
		[[ $output != *--jobs* && $output != *--max-args* ]] ||
			fail "ppool $line<TAB> offers ppool's options: $(echo $output)"
	done
	# Before COMMAND they are offered, also after options that take a
	# value (-C, -n, --header, --results).
	run bash_complete -C : -n 2 --header : --results out --ta
	assert_output --tag
}

@test "bash: input sources complete file names, --results a directory, --header ':'" {
	mkdir dir1
	touch vals.txt
	run bash_complete echo :::: va
	assert_output vals.txt
	run bash_complete echo ::: a :::+ va
	assert_output vals.txt
	run bash_complete -w cat ::: va
	assert_output vals.txt
	run bash_complete -w cat ''
	assert_output "$(printf '%s\n' ::: ::::)"
	run bash_complete --results ''
	assert_output dir1
	run bash_complete --header ''
	assert_output :
}

@test "bash: -S offers ':' (this machine) after a comma or N/" {
	run bash_complete -S 2/
	assert_line '2/:'
	run bash_complete --ssh a,
	assert_line 'a,:'
}

@test "zsh: -S offers ':' (this machine) as a value, not an empty one" {
	command -v zsh >/dev/null || skip "zsh is not installed (setup.sh installs it)"
	# _alternative evals the (( )) list of the spec into "value:description"
	# words, where a ':' in the value is written '\:'; '::...' was an empty
	# value, and Tab after "-S x," inserted nothing.
	local spec
	spec=$(grep -o "'local:this machine:((.*))'" "$ZSH_COMP")
	[[ -n $spec ]] || fail "no 'local:this machine:((...))' spec in $ZSH_COMP"
	run zsh -f -c 'eval "spec=$1"; action=${spec#local:this machine:}
		eval "ws=( ${action[3,-3]} )"; print -r -- "${ws[1]}"' _ "$spec"
	assert_success
	assert_output '\::this machine, no ssh'
}

# zsh_complete LINE: the words zsh's completion offers for the command line
# LINE (the word before the cursor completed), one a line, sorted: an
# interactive zsh in a pseudo-terminal (zpty), with completions/ first in its
# fpath and compadd wrapped to print each match it is given.
zsh_complete() {
	cat >"$BATS_TEST_TMPDIR/complete.zsh" <<'EOF'
zmodload zsh/zpty || exit 1
zpty z zsh -f -i || exit 1
zpty -w z 'PS1= RPS1= fpath=('${(q)1}' $fpath); autoload -Uz compinit; compinit -u -D'
zpty -w z 'compadd() { local -a m; builtin compadd -O m "$@"; print -rl -- "<""m>"${^m}; builtin compadd "$@" }'
zpty -w z '__end() { print -r -- "<""end>"; exit }; comppostfuncs=(__end); bindkey "^I" complete-word'
zpty -w z 'print -r -- "<""ready>"'
zpty -r z out '*<ready>*' || exit 1
zpty -w -n z "$2"$'\t'
zpty -r z out '*<end>*' || exit 1
print -r -- "${out//$'\r'/}" | sed -n 's/.*<m>//p'
zpty -d z
EOF
	timeout 20 zsh -f "$BATS_TEST_TMPDIR/complete.zsh" "$(dirname "$ZSH_COMP")" "$1" </dev/null |
		LC_ALL=C sort -u
}

@test "zsh: no option of ppool after COMMAND or an input source; sources and --header complete" {
	command -v zsh >/dev/null || skip "zsh is not installed (setup.sh installs it)"
	touch -- -file vals.txt
	# The harness itself: options are offered before COMMAND.
	run zsh_complete 'ppool --max-'
	assert_output "$(printf '%s\n' --max-args --max-line --max-output --max-reqs)"
	local line
	for line in 'ppool -j 2 echo -' 'ppool echo ::: a -' 'ppool -w cat ::: -' 'ppool -w cat :::: vals.txt -'; do
		run zsh_complete "$line"
		[[ $output != *--jobs* && $output != *--max-args* ]] ||
			fail "$line<TAB> offers ppool's options: $(echo $output)"
	done
	run zsh_complete 'ppool -w cat '
	assert_output "$(printf '%s\n' ::: ::::)"
	run zsh_complete 'ppool echo :::: va'
	assert_output vals.txt
	run zsh_complete 'ppool --header '
	assert_output :
}

# fish_complete LINE: the words fish's completion offers for the command line
# LINE, one a line, sorted.
fish_complete() {
	fish -N -c 'source $argv[1]; complete -C $argv[2]' "$FISH_COMP" "$1" </dev/null |
		cut -f1 | LC_ALL=C sort -u
}

@test "fish: no option of ppool after COMMAND or an input source; sources, --results and --header complete" {
	command -v fish >/dev/null || skip "fish is not installed"
	touch -- -file vals.txt
	mkdir dir1
	run fish_complete 'ppool --max-'
	assert_output "$(printf '%s\n' --max-args --max-line --max-output --max-reqs)"
	local line
	for line in 'ppool -j 2 echo -' 'ppool echo -n ::: a -' 'ppool -w cat ::: -' 'ppool -w cat :::: vals.txt -'; do
		run fish_complete "$line"
		[[ $output != *--jobs* && $output != *--max-args* ]] ||
			fail "$line<TAB> offers ppool's options: $(echo $output)"
	done
	run fish_complete 'ppool -w cat '
	assert_output "$(printf '%s\n' ::: ::::)"
	run fish_complete 'ppool echo :::: va'
	assert_output vals.txt
	run fish_complete 'ppool -C : --results '
	assert_output dir1/
	run fish_complete 'ppool --header '
	assert_output :
}

@test "mandoc -Tlint -W warning: the man page is clean" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
	run mandoc -Tlint -W warning "$MAN"
	assert_output ''
	assert_success
}

# The examples of EXAMPLES that need nothing but ppool and coreutils, by the
# first line of their block (as printed, "$ " removed).  A block preceded
# by the comment line `.\" runnable' in the man page runs too.
RUNNABLE=(
	"printf '%s\\n' '{\"cmd\":[\"sh\",\"-c\",\"exit 3\"]}' \\"
	'seq 3 | ppool -o raw -- echo n'
	"printf '%s\\n' 'echo one' 'sleep 0.2; echo two' 'ls /nonexistent' > cmds.txt"
	"printf '%s\\n' 0.1 3 | ppool -t 1 -- sleep"
	'cat tasks.jsonl'
	"seq 5 | ppool -j 2 -w 'while read n; do echo \$((n * n)); done'"
	"seq 5 | ppool -o raw -w 'while read n; do echo \$((n * n)); done'"
	"printf '%s\\n' alpha beta | ppool -L -o raw -w 'stdbuf -oL tr a-z A-Z'"
	"printf '%s\\n' 4 -1 9 | ppool -j 1 --envelope -w '"
)

# examples: the literal blocks of the man page's EXAMPLES, unescaped, one
# line of text per line with a one-letter tag: B a block (R: marked
# runnable), $ a command's first line, + its continuation lines (indented),
# = a line of output shown.
examples() {
	awk '
		/^\.Sh / { ex = ($2 == "EXAMPLES"); next }
		!ex { next }
		/^\.\\" *runnable/ { mark = 1; next }
		/^\.Bd -literal/ { bd = 1; cmd = 0; print (mark ? "R" : "B"); mark = 0; next }
		bd && /^\.Ed/ { bd = 0; next }
		!bd { if (!/^\.\\"/) mark = 0; next }
		/^\$ / { cmd = 1; print "$" substr($0, 3); next }
		cmd && /^[ \t]/ { print "+" $0; next }
		{ cmd = 0; print "=" $0 }
	' "$MAN" | perl -pe 's/\\(e|&)/$1 eq "e" ? "\\" : ""/ge'
}

# normalize: JSON records lose their ms and worker (which vary); other
# lines are unchanged.
normalize() {
	local line
	while IFS= read -r line; do
		if [[ $line == '{"seq":'* ]] && jq -e . >/dev/null 2>&1 <<<"$line"; then
			jq -c 'del(.ms, .worker)' <<<"$line"
		else
			printf '%s\n' "$line"
		fi
	done
}

# run_example N: run example block N (its commands in one bash, in a fresh
# directory, with ppool on PATH) and compare its output with the one shown;
# print what differs and fail when it does.
run_example() {
	local n=$1 dir=$BATS_TEST_TMPDIR/example$1
	mkdir -p "$dir/bin"
	ln -s "$PPOOL" "$dir/bin/ppool"
	examples | awk -v n="$n" '/^[BR]$/ { b++; next } b == n' >"$dir/block"
	# The script, and the output shown.
	: >"$dir/script"
	: >"$dir/want"
	local tag text file last=
	while IFS= read -r text; do
		tag=${text:0:1}
		text=${text:1}
		case $tag in
		'$' | '+')
			printf '%s\n' "$text" >>"$dir/script"
			[[ $tag == '$' ]] && last=$text
			;;
		=)
			printf '%s\n' "$text" >>"$dir/want"
			# `cat FILE' of a file no command made: the file is the
			# text shown, so make it.
			if [[ $last =~ ^cat\ ([^ ]+)$ ]] && ! grep -qF "> ${BASH_REMATCH[1]}" "$dir/script"; then
				printf '%s\n' "$text" >>"$dir/${BASH_REMATCH[1]}"
			fi
			;;
		esac
	done <"$dir/block"
	(cd "$dir" && PATH=$dir/bin:$PATH LC_ALL=C timeout 30 bash script </dev/null >got 2>stderr 3>&-) || true
	normalize <"$dir/want" >"$dir/want.n"
	normalize <"$dir/got" >"$dir/got.n"
	# "..." ends what is shown: compare the lines before it.
	local shown
	shown=$(grep -nFx '...' "$dir/want.n" | head -n 1 | cut -d: -f1)
	if [[ -n $shown ]]; then
		head -n $((shown - 1)) "$dir/want.n" >"$dir/w"
		head -n $((shown - 1)) "$dir/got.n" >"$dir/g"
		(($(wc -l <"$dir/got.n") >= shown)) || echo "(fewer lines than shown with ...)" >>"$dir/g"
	else
		cp "$dir/want.n" "$dir/w"
		cp "$dir/got.n" "$dir/g"
	fi
	if ! diff -u "$dir/w" "$dir/g" >"$dir/diff"; then
		printf 'example %s:\n%s\n--- its stderr:\n%s\n--- diff (shown, got):\n%s\n\n' \
			"$n" "$(cat "$dir/script")" "$(cat "$dir/stderr")" "$(cat "$dir/diff")"
		return 1
	fi
}

@test "the man page's self-contained EXAMPLES run as shown" {
	local blocks
	blocks=$(examples | grep -c '^[BR]$')
	((blocks >= 10)) || fail "only $blocks literal blocks found in EXAMPLES"
	# Which blocks run: the marked ones, and those of RUNNABLE.
	local n=0 tag first run=() found=() text
	while IFS= read -r text; do
		tag=${text:0:1}
		if [[ $tag == B || $tag == R ]]; then
			n=$((n + 1))
			first=
			[[ $tag == R ]] && run+=("$n")
			continue
		fi
		if [[ $tag == '$' && -z $first ]]; then
			first=${text:1}
			local r
			for r in "${RUNNABLE[@]}"; do
				if [[ $first == "$r" ]]; then
					found+=("$r")
					[[ " ${run[*]} " == *" $n "* ]] || run+=("$n")
				fi
			done
		fi
	done < <(examples)
	# Every example this test knows of is still in the man page.
	local r f ok
	for r in "${RUNNABLE[@]}"; do
		ok=
		for f in "${found[@]}"; do [[ $f == "$r" ]] && ok=1; done
		[[ -n $ok ]] || fail "no example in man/ppool.1 starts with: \$ $r (update RUNNABLE in docs.bats)"
	done
	local failures= out
	for n in "${run[@]}"; do
		if ! out=$(run_example "$n"); then
			failures+="$out"$'\n\n'
		fi
	done
	[[ -z $failures ]] || fail "$failures"
	((${#run[@]} >= ${#RUNNABLE[@]}))
}

@test "examples/nightly.sh: compresses yesterday's logs; run again, it does no task twice" {
	local day
	day=$(date -d yesterday +%F)
	mkdir bin logs state
	ln -s "$PPOOL" bin/ppool
	for i in 1 2 3; do echo "line $i" >"logs/a $day-$i.log"; done
	echo today >logs/other.log
	run --separate-stderr env PATH="$PWD/bin:$PATH" STATE_DIR="$PWD/state" \
		"$PPOOL_SRCDIR/examples/nightly.sh" "$PWD/logs"
	assert_success
	for i in 1 2 3; do
		assert_file_exists "logs/a $day-$i.log.gz"
		assert_equal "$(gzip -dc "logs/a $day-$i.log.gz")" "line $i"
	done
	assert_file_exists logs/other.log
	assert_equal "$(tail -n +2 "state/$day.joblog" | wc -l)" 3
	# Again, as cron would after a crash: every task is in the joblog.
	run --separate-stderr env PATH="$PWD/bin:$PATH" STATE_DIR="$PWD/state" \
		"$PPOOL_SRCDIR/examples/nightly.sh" "$PWD/logs"
	assert_success
	assert_equal "$(tail -n +2 "state/$day.joblog" | wc -l)" 3
}
