# bash completion for ppool(1)                              -*- shell-script -*-
#
# Hand-written; every option of `ppool --help' is here, and the tests check it.
# Needs nothing from the bash-completion package, but uses its _filedir when
# it is loaded.

_ppool()
{
	local cur prev cword
	local -a words

	cword=$COMP_CWORD
	words=("${COMP_WORDS[@]}")
	cur=${words[cword]}
	prev=
	((cword > 0)) && prev=${words[cword - 1]}

	# COMP_WORDBREAKS splits --input=FILE into "--input" "=" "FILE".
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((cword > 1)); then
		prev=${words[cword - 2]}
	fi

	case $prev in
	-a | --input)
		if declare -F _filedir >/dev/null; then
			_filedir
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
		;;
	-o | --output)
		COMPREPLY=($(compgen -W 'json raw' -- "$cur"))
		return
		;;
	-w | --worker)
		compopt -o filenames 2>/dev/null
		if [[ $cur == */* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		return
		;;
	-j | --jobs | -P | -r | --max-reqs | --inflight | --max-line | --window)
		# A number: nothing to offer.
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-0 -a -h -j -L -o -P -r -u -V -w
		    --envelope --help --inflight= --input= --jobs= --lines
		    --max-line= --max-reqs= --null --output= --unordered
		    --version --window= --worker=' -- "$cur"))
		if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
			compopt -o nospace 2>/dev/null
		fi
	fi
}
complete -F _ppool ppool
