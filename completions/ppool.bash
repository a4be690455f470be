# bash completion for ppool(1)                              -*- shell-script -*-
#
# Hand-written; every option of `ppool --help' is here, and the tests check it.
# Needs nothing from the bash-completion package, but uses its _filedir,
# _command_offset and _known_hosts_real when it is loaded.

# Set words, cword and wmap from COMP_WORDS and COMP_LINE: the words, with
# the pieces that COMP_WORDBREAKS split at ':' joined again, as in -S a,:,b
# ("a," ":" ",b") and :::+ (":::" "+"); wmap[i] is the index in COMP_WORDS
# where words[i] starts.
_ppool_words()
{
	local line=${COMP_LINE:0:COMP_POINT} i j=-1 w rest pos=0 gap last=
	words=()
	wmap=()
	cword=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		rest=${line:pos}
		gap=${rest%%[![:space:]]*}
		if ((j >= 0)) && [[ -z $gap && ${words[j]} != = ]] &&
			[[ $w == :* || $last == *: ]]; then
			words[j]+=$w
		else
			((j += 1))
			words[j]=$w
			wmap[j]=$i
		fi
		last=$w
		pos=$((pos + ${#gap} + ${#w}))
		((i == COMP_CWORD)) && cword=$j
	done
}

# Set cmd to the index in words[] where COMMAND (command mode) starts: after
# `--', or the first word that is neither an option nor an option's
# argument; and src to the index of the first input source (:::, ::::,
# :::+, ::::+), after COMMAND or, with -w, after the options.  Only the words
# before the one being completed count; each stays empty when there is none.
_ppool_scan()
{
	local i=1 w worker=
	cmd=
	src=
	while ((i < cword)); do
		w=${words[i]}
		case $w in
		--)
			[[ -z $worker ]] && cmd=$((i + 1))
			break
			;;
		::: | :::: | :::+ | ::::+)
			src=$i
			return
			;;
		-w | --worker | -[0LuvX]*w)
			worker=1
			# The argument is the next word, or "=" and the word after it.
			if [[ ${words[i + 1]} == = ]]; then
				((i += 3))
			else
				((i += 2))
			fi
			continue
			;;
		--worker=* | -[0LuvX]*w?*)
			worker=1
			((i += 1))
			continue
			;;
		-a | --input | -C | --colsep | -j | --jobs | -P | -n | -N | --max-args | \
		-o | --output | -r | --max-reqs | -t | --timeout | --block | --delay | \
		--halt | --header | --inflight | --joblog | --kill-after | --load | \
		--max-line | --max-output | --memfree | --recend | --recstart | \
		--results | --retries | -S | --ssh | --ssh-command | --ssh-file | \
		--window | -[0LuvX]*[aCjnNPortS])
			# The argument is the next word, or "=" and the word after it.
			if [[ ${words[i + 1]} == = ]]; then
				((i += 3))
			else
				((i += 2))
			fi
			continue
			;;
		-?*)
			((i += 1))
			[[ ${words[i]} == = ]] && ((i += 2))
			continue
			;;
		=)
			# The rest of an option's argument split at "=", as in
			# --halt soon,fail=1: "soon,fail" "=" "1".
			((i += 2))
			continue
			;;
		=?*)
			# "=" and a piece of an argument, as in --header=: ("=:").
			((i += 1))
			continue
			;;
		*)
			[[ -z $worker ]] && cmd=$i
			break
			;;
		esac
	done
	# Sources after COMMAND and its arguments.
	[[ -n $cmd ]] || return
	for ((i = cmd; i < cword; i++)); do
		case ${words[i]} in
		::: | :::: | :::+ | ::::+)
			src=$i
			return
			;;
		esac
	done
}

# Complete file names (and directories), with bash-completion's _filedir when
# it is there.
_ppool_files()
{
	if declare -F _filedir >/dev/null; then
		_filedir "$@"
	else
		compopt -o filenames 2>/dev/null
		if [[ $1 == -d ]]; then
			COMPREPLY=($(compgen -d -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
	fi
}

_ppool()
{
	local cur word prev cword cmd src
	local -a words wmap

	_ppool_words
	# cur: the word as bash replaces it; word: the same with what came
	# before it glued to it by ':'.
	cur=${COMP_WORDS[COMP_CWORD]}
	word=${words[cword]}
	prev=
	((cword > 0)) && prev=${words[cword - 1]}

	# After a source (::: values, :::: files): file names, never an option.
	_ppool_scan
	if [[ -n $src ]]; then
		_ppool_files
		return
	fi

	# COMMAND and its arguments: the command's name, then what its own
	# completion offers (or file names).
	if [[ -n $cmd ]] && ((cmd <= cword)); then
		if declare -F _command_offset >/dev/null; then
			_command_offset "${wmap[cmd]}"
		elif ((cmd == cword)); then
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			_ppool_files
		fi
		return
	fi

	# COMP_WORDBREAKS splits --input=FILE into "--input" "=" "FILE".
	if [[ $cur == = ]]; then
		cur=
		word=
	elif [[ $prev == = ]] && ((cword > 1)); then
		prev=${words[cword - 2]}
	fi

	# An option's letter may end a bundle of flags: -Lo raw, -0a FILE.
	case $prev in
	-a | --input | --joblog | --ssh-file | -[0LuvX]*a)
		_ppool_files
		return
		;;
	--results)
		_ppool_files -d
		return
		;;
	-o | --output | -[0LuvX]*o)
		COMPREPLY=($(compgen -W 'json raw' -- "$cur"))
		return
		;;
	--halt)
		COMPREPLY=($(compgen -W 'never soon,fail= now,fail=' -- "$cur"))
		if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
			compopt -o nospace 2>/dev/null
		fi
		return
		;;
	soon,fail | now,fail)
		# --halt soon,fail=N (or P%): a number, nothing to offer.
		return
		;;
	--header)
		# The only value: ':' (the first row names the columns).  Bash
		# would add it after a ':' typed already, a word break.
		[[ -z $cur ]] && COMPREPLY=(:)
		return
		;;
	-S | --ssh | -[0LuvX]*S)
		# [N/]host,...: the host after the last ',' and 'N/', from the
		# hosts ssh knows (bash-completion), or ':' for this machine.
		local pre=${word%"${word##*[,/]}"} host=${word##*[,/]} lead
		if declare -F _known_hosts_real >/dev/null; then
			_known_hosts_real -a -p "$pre" -- "$host"
		fi
		[[ : == "$host"* ]] && COMPREPLY+=("$pre:")
		# Bash replaces only what follows the last ':'.
		lead=${word%"$cur"}
		[[ -n $lead ]] && COMPREPLY=("${COMPREPLY[@]#"$lead"}")
		return
		;;
	-w | --worker | --ssh-command | -[0LuvX]*w)
		compopt -o filenames 2>/dev/null
		if [[ $cur == */* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		return
		;;
	-C | --colsep | -j | --jobs | -P | -n | -N | --max-args | -r | --max-reqs | \
	-t | --timeout | --block | --delay | --inflight | --kill-after | --load | \
	--max-line | --max-output | --memfree | --recend | --recstart | \
	--retries | --window | -[0LuvX]*[CjnNPrt])
		# A number, a size, a regular expression or a record separator:
		# nothing to offer.
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-0 -a -C -h -j -L -n -N -o -P -r -S -t -u
		    -v -V -w -X --block= --colsep= --csv --delay= --dry-run
		    --envelope --halt= --header= --help --inflight= --input= --jobs=
		    --joblog= --kill-after= --line-buffer --lines --link --load=
		    --max-args= --max-line= --max-output= --max-reqs= --memfree=
		    --null --output= --pipe --pipepart --progress --recend=
		    --recstart= --results= --resume --resume-failed --retries=
		    --round-robin --slurm --ssh= --ssh-command= --ssh-file= --tag
		    --timeout= --unordered --verbose --version --window=
		    --worker=' -- "$cur"))
		if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
			compopt -o nospace 2>/dev/null
		fi
	else
		# The first word that is not an option: COMMAND (command mode);
		# in worker mode (-w), only a source can come: ':::' or '::::'
		# for an empty word (bash would add them after a ':' typed
		# already, a word break).
		local w
		for w in "${words[@]:1:cword-1}"; do
			case $w in
			-w | --worker | --worker=* | -[0LuvX]*w*)
				[[ -z $cur ]] && COMPREPLY=(::: ::::)
				return
				;;
			esac
		done
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -c -- "$cur"))
	fi
}
complete -F _ppool ppool
