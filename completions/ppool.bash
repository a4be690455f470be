# bash completion for ppool(1)                              -*- shell-script -*-
#
# Hand-written; every option of `ppool --help' is here, and the tests check it.
# Needs nothing from the bash-completion package, but uses its _filedir,
# _command_offset and _known_hosts_real when it is loaded.

# Set words, cword and wmap from COMP_WORDS and COMP_LINE: the words, with
# the pieces that COMP_WORDBREAKS split at ':' joined again, as in -S a,:,b
# ("a," ":" ",b"); wmap[i] is the index in COMP_WORDS where words[i] starts.
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
			[[ $w == : || $last == : ]]; then
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

# Print the index in words[] where COMMAND (command mode) starts: after `--',
# or the first word that is neither an option nor an option's argument.
# Print nothing when there is none before the word being completed, or when
# -w makes it worker mode.
_ppool_command_start()
{
	local i=1 w
	while ((i < cword)); do
		w=${words[i]}
		case $w in
		--)
			echo $((i + 1))
			return
			;;
		-w | --worker | --worker=* | -[0Luv]*w*)
			return
			;;
		-a | --input | -j | --jobs | -P | -o | --output | -r | --max-reqs | --joblog | \
		-t | --timeout | --halt | --inflight | --kill-after | --max-line | \
		--max-output | --retries | -S | --ssh | --ssh-command | --ssh-file | \
		--window | -[0Luv]*[ajPortS])
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
		*)
			echo $i
			return
			;;
		esac
	done
}

_ppool()
{
	local cur word prev cword start
	local -a words wmap

	_ppool_words
	# cur: the word as bash replaces it; word: the same with what came
	# before it glued to it by ':'.
	cur=${COMP_WORDS[COMP_CWORD]}
	word=${words[cword]}
	prev=
	((cword > 0)) && prev=${words[cword - 1]}

	# COMMAND and its arguments: the command's name, then what its own
	# completion offers (or file names).
	start=$(_ppool_command_start)
	if [[ -n $start ]] && ((start <= cword)); then
		if declare -F _command_offset >/dev/null; then
			_command_offset "${wmap[start]}"
		elif ((start == cword)); then
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
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
	-a | --input | --joblog | --ssh-file | -[0Luv]*a)
		if declare -F _filedir >/dev/null; then
			_filedir
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
		;;
	-o | --output | -[0Luv]*o)
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
	-S | --ssh | -[0Luv]*S)
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
	-w | --worker | --ssh-command | -[0Luv]*w)
		compopt -o filenames 2>/dev/null
		if [[ $cur == */* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		return
		;;
	-j | --jobs | -P | -r | --max-reqs | -t | --timeout | --inflight | \
	--kill-after | --max-line | --max-output | --retries | --window | \
	-[0Luv]*[jPrt])
		# A number: nothing to offer.
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-0 -a -h -j -L -o -P -r -S -t -u -v -V -w
		    --dry-run --envelope --halt= --help --inflight= --input= --jobs=
		    --joblog= --kill-after= --lines --max-line= --max-output=
		    --max-reqs= --null --output= --progress --resume --resume-failed
		    --retries= --ssh= --ssh-command= --ssh-file= --timeout=
		    --unordered --verbose --version --window= --worker=' -- "$cur"))
		if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
			compopt -o nospace 2>/dev/null
		fi
	else
		# The first word that is not an option: COMMAND (command mode).
		local w
		for w in "${words[@]:1:cword-1}"; do
			case $w in
			-w | --worker | --worker=* | -[0Luv]*w*) return ;;
			esac
		done
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -c -- "$cur"))
	fi
}
complete -F _ppool ppool
