# fish completion for ppool(1).  Hand-written; every option of
# `ppool --help' is here, and the tests check it.  After the options, or after
# `--', comes COMMAND (command mode): its name, then what its own completion
# offers.

# Print the words of COMMAND up to the cursor, the word being completed last,
# and succeed, when the cursor is in COMMAND; fail when it is not (an option
# or its argument, or worker mode with -w).
function __fish_ppool_command
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l want_value 0
    set -l i 0
    for t in $tokens
        set i (math $i + 1)
        if test $want_value = 1
            set want_value 0
            continue
        end
        if test "$t" = --
            printf '%s\n' $tokens[(math $i + 1)..-1] (commandline -ct)
            return 0
        else if string match -qr -- '^(-w|--worker(=.*)?|-[0Luv]*w.*)$' $t
            return 1
        else if string match -qr -- '^(-[0Luv]*[ajPortS]|--(input|jobs|output|timeout|halt|inflight|joblog|retries|ssh|ssh-command|ssh-file|window)|--kill-after|--max-line|--max-output|--max-reqs)$' $t
            set want_value 1
        else if string match -qr -- '^-.' $t
            continue
        else
            printf '%s\n' $tokens[$i..-1] (commandline -ct)
            return 0
        end
    end
    test $want_value = 1; and return 1
    set -l cur (commandline -ct)
    string match -qr -- '^-' $cur; and return 1
    printf '%s\n' $cur
    return 0
end

# The values to offer for -S: what is typed up to the last ',' and then any
# N/ and user@, followed by each host ssh knows, or by ':' (this machine).
function __fish_ppool_hosts
    set -l tok (commandline -ct | string replace -r -- '^(--ssh=|-[0Luv]*S)' '')
    set -l head (string match -r -- '^(?:.*,)?(?:[0-9]+/)?(?:[^,/]*@)?' $tok)
    printf '%s\n' $head(__fish_print_hostnames)
    string match -qr -- '@$' "$head"; or printf '%s\n' $head:
end

set -l opt 'not __fish_ppool_command >/dev/null'

complete -c ppool -f
complete -c ppool -n $opt -s 0 -l null -d 'Plain-text tasks separated by NUL bytes'
complete -c ppool -n $opt -s a -l input -r -F -d 'Read tasks from FILE instead of stdin'
complete -c ppool -n $opt -l dry-run -d "Command mode: print each task's command, run nothing"
complete -c ppool -n $opt -l envelope -d 'Worker mode: replies are {"result": V} or {"error": V}'
complete -c ppool -n $opt -s h -l help -d 'Print usage and exit'
complete -c ppool -n $opt -l halt -x -a 'never\t"Run every task (default)" soon,fail=\t"Start nothing more after N (or P%) failures" now,fail=\t"Also kill the running tasks"' -d 'Stop early when tasks fail'
complete -c ppool -n $opt -l inflight -x -d 'Worker mode: tasks queued in one worker at once (default 1)'
complete -c ppool -n $opt -l joblog -r -F -d 'Write a tab-separated line per finished task to FILE'
complete -c ppool -n $opt -s j -l jobs -x -d 'At most N processes at once (default: online CPUs)'
complete -c ppool -n $opt -l kill-after -x -d 'Seconds from SIGTERM to SIGKILL (default 2)'
complete -c ppool -n $opt -s L -l lines -d 'Plain-text tasks, one per line'
complete -c ppool -n $opt -l max-line -x -d 'Longest task or reply line (default 64M)'
complete -c ppool -n $opt -l max-output -x -d 'Command mode: stdout and stderr kept per task (default 64M)'
complete -c ppool -n $opt -s o -l output -x -a 'json\t"One JSON record per task" raw\t"Payloads only"' -d 'Output format'
complete -c ppool -n $opt -s P -x -d 'Same as -j'
complete -c ppool -n $opt -l progress -d 'A live progress line on stderr (a terminal)'
complete -c ppool -n $opt -s r -l max-reqs -x -d 'Worker mode: retire a worker after N tasks (default 0, never)'
complete -c ppool -n $opt -l resume -d 'With --joblog: skip tasks it records as finished'
complete -c ppool -n $opt -l resume-failed -d 'With --joblog: skip tasks it records as succeeded'
complete -c ppool -n $opt -l retries -x -d 'Run a failed task up to N more times (default 0)'
complete -c ppool -n $opt -s S -l ssh -x -a '(__fish_ppool_hosts)' -d 'Run on these hosts through ssh: [N/]host,... (: is this machine)'
complete -c ppool -n $opt -l ssh-command -x -a '(__fish_complete_command)' -d 'Run CMD instead of ssh (split like a shell would)'
complete -c ppool -n $opt -l ssh-file -r -F -d 'The hosts of -S, one a line'
complete -c ppool -n $opt -s t -l timeout -x -d 'Stop a task after SECS seconds (default: no limit)'
complete -c ppool -n $opt -s u -l unordered -d 'Print records in completion order'
complete -c ppool -n $opt -s v -l verbose -d 'A summary line on stderr at exit'
complete -c ppool -n $opt -s V -l version -d 'Print the version and exit'
complete -c ppool -n $opt -s w -l worker -x -a '(__fish_complete_command)' -d 'Worker mode: persistent workers running CMD under /bin/sh -c'
complete -c ppool -n $opt -l window -x -d 'Tasks read but not yet printed (default 1024)'

# COMMAND and its arguments.
complete -c ppool -n '__fish_ppool_command >/dev/null' -x -a '(__fish_complete_subcommand --commandline (__fish_ppool_command))'
