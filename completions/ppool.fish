# fish completion for ppool(1).  Hand-written; every option of
# `ppool --help' is here, and the tests check it.  After the options, or after
# `--', comes COMMAND (command mode): its name, then what its own completion
# offers; then input sources (::: values, :::: files), whose words are file
# names.  In worker mode (-w) the sources follow the options.  No option is
# offered after COMMAND or a source.

# Print where the word being completed is, on the first line: "option" (an
# option or its argument), "command" (COMMAND or one of its arguments; the
# words of COMMAND up to the cursor follow, one a line, the word being
# completed last), "source" (after :::, ::::, :::+ or ::::+), or "worker"
# (after the options of worker mode, where only a source can come).
function __fish_ppool_where
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cur (commandline -ct)
    set -l want_value 0
    set -l worker 0
    set -l cmd 0
    set -l i 0
    for t in $tokens
        set i (math $i + 1)
        if test $cmd -gt 0
            # COMMAND's arguments, up to the first source.
            if contains -- $t ::: :::: :::+ ::::+
                echo source
                return 0
            end
            continue
        end
        if test $want_value = 1
            set want_value 0
            continue
        end
        if contains -- $t ::: :::: :::+ ::::+
            echo source
            return 0
        else if test "$t" = --
            if test $worker = 1
                echo worker
                return 0
            end
            set cmd (math $i + 1)
        else if string match -qr -- '^(-[0LuvX]*w|--worker)$' $t
            set worker 1
            set want_value 1
        else if string match -qr -- '^(-[0LuvX]*w.+|--worker=.*)$' $t
            set worker 1
        else if string match -qr -- '^(-[0LuvX]*[aCjnNPortS]|--(input|colsep|jobs|max-args|output|timeout|block|delay|halt|header|inflight|joblog|kill-after|load|max-line|max-output|max-reqs|memfree|recend|recstart|results|retries|ssh|ssh-command|ssh-file|window))$' $t
            set want_value 1
        else if string match -qr -- '^-.' $t
            continue
        else if test $worker = 0
            set cmd $i
        end
    end
    if test $cmd -gt 0
        echo command
        printf '%s\n' $tokens[$cmd..-1] $cur
    else if test $want_value = 1; or string match -qr -- '^-' $cur
        echo option
    else if test $worker = 1
        echo worker
    else
        echo command
        printf '%s\n' $cur
    end
    return 0
end

# Print the words of COMMAND up to the cursor, the word being completed last,
# and succeed, when the cursor is in COMMAND; fail when it is not.
function __fish_ppool_command
    set -l where (__fish_ppool_where)
    test "$where[1]" = command; or return 1
    printf '%s\n' $where[2..-1]
end

# Succeed when the cursor is where where says: option, source or worker.
function __fish_ppool_at
    set -l where (__fish_ppool_where)
    test "$where[1]" = $argv[1]
end

# The values to offer for -S: what is typed up to the last ',' and then any
# N/ and user@, followed by each host ssh knows, or by ':' (this machine).
function __fish_ppool_hosts
    set -l tok (commandline -ct | string replace -r -- '^(--ssh=|-[0Luv]*S)' '')
    set -l head (string match -r -- '^(?:.*,)?(?:[0-9]+/)?(?:[^,/]*@)?' $tok)
    printf '%s\n' $head(__fish_print_hostnames)
    string match -qr -- '@$' "$head"; or printf '%s\n' $head:
end

set -l opt '__fish_ppool_at option'

complete -c ppool -f
complete -c ppool -n $opt -s 0 -l null -d 'Plain-text tasks separated by NUL bytes'
complete -c ppool -n $opt -s a -l input -r -F -d 'Read tasks from FILE instead of stdin'
complete -c ppool -n $opt -l block -x -d 'With --pipe: blocks of about SIZE bytes (default 1M; K M G T: 1024s, k m g t: 1000s)'
complete -c ppool -n $opt -s C -l colsep -x -d 'Split each plain-text task into columns {1} {2}... (POSIX extended regex)'
complete -c ppool -n $opt -l csv -d 'Read the input as CSV (RFC 4180): a row is a task'
complete -c ppool -n $opt -l delay -x -d 'At least SECS between two starts'
complete -c ppool -n $opt -l dry-run -d "Command mode: print each task's command, run nothing"
complete -c ppool -n $opt -l envelope -d 'Worker mode: replies are {"result": V} or {"error": V}'
complete -c ppool -n $opt -s h -l help -d 'Print usage and exit'
complete -c ppool -n $opt -l halt -x -a 'never\t"Run every task (default)" soon,fail=\t"Start nothing more after N (or P%) failures" now,fail=\t"Also kill the running tasks"' -d 'Stop early when tasks fail'
complete -c ppool -n $opt -l header -x -a ':\t"The first row (or each source\'s first value) names the columns"' -d 'The first row names the columns: {name}'
complete -c ppool -n $opt -l inflight -x -d 'Worker mode: tasks queued in one worker at once (default 1)'
complete -c ppool -n $opt -l joblog -r -F -d 'Write a tab-separated line per finished task to FILE'
complete -c ppool -n $opt -s j -l jobs -x -d 'At most N processes at once (default: online CPUs)'
complete -c ppool -n $opt -l kill-after -x -d 'Seconds from SIGTERM to SIGKILL (default 2)'
complete -c ppool -n $opt -s L -l lines -d 'Plain-text tasks, one per line'
complete -c ppool -n $opt -l line-buffer -d '-o raw: print each output line as soon as it is read'
complete -c ppool -n $opt -l link -d 'Pair the ::: sources (shorter ones start over) instead of combining them'
complete -c ppool -n $opt -l load -x -d 'Start nothing while the 1-minute load average is N or more'
complete -c ppool -n $opt -s n -l max-args -x -d "Command mode: give each command up to N tasks' arguments"
complete -c ppool -n $opt -s N -x -d 'Same as -n'
complete -c ppool -n $opt -l max-line -x -d 'Longest task or reply line (default 64M; K M G T: 1024s, k m g t: 1000s)'
complete -c ppool -n $opt -l max-output -x -d 'Command mode: stdout and stderr kept per task (default 64M)'
complete -c ppool -n $opt -l memfree -x -d 'Start nothing while MemAvailable is under SIZE; stop the youngest task under SIZE/2'
complete -c ppool -n $opt -s o -l output -x -a 'json\t"One JSON record per task" raw\t"Payloads only"' -d 'Output format'
complete -c ppool -n $opt -s P -x -d 'Same as -j'
complete -c ppool -n $opt -l pipe -d 'Command mode: stdin is one stream cut into blocks, each the stdin of one command'
complete -c ppool -n $opt -l pipepart -d '--pipe for a regular file (-a FILE), cut by seeking'
complete -c ppool -n $opt -l progress -d 'A live progress line on stderr (a terminal)'
complete -c ppool -n $opt -s r -l max-reqs -x -d 'Worker mode: retire a worker after N tasks (default 0, never)'
complete -c ppool -n $opt -l recend -x -d 'With --pipe: a record ends with STR (default \\n)'
complete -c ppool -n $opt -l recstart -x -d 'With --pipe: a record starts with STR (default none)'
complete -c ppool -n $opt -l results -x -a '(__fish_complete_directories)' -d 'Command mode: stdout, stderr and record of each task in DIR/SEQ/'
complete -c ppool -n $opt -l resume -d 'With --joblog: skip tasks it records as finished'
complete -c ppool -n $opt -l resume-failed -d 'With --joblog: skip tasks it records as succeeded'
complete -c ppool -n $opt -l retries -x -d 'Run a failed task up to N more times (default 0)'
complete -c ppool -n $opt -l round-robin -d 'With --pipe: -j long-lived commands share the blocks'
complete -c ppool -n $opt -l slurm -d 'Inside a Slurm allocation: run on its nodes, a job step per worker or command slot (srun)'
complete -c ppool -n $opt -s S -l ssh -x -a '(__fish_ppool_hosts)' -d 'Run on these hosts through ssh: [N/]host,... (: is this machine)'
complete -c ppool -n $opt -l ssh-command -x -a '(__fish_complete_command)' -d 'Run CMD instead of ssh (split like a shell would)'
complete -c ppool -n $opt -l ssh-file -r -F -d 'The hosts of -S, one a line'
complete -c ppool -n $opt -l tag -d "-o raw: prefix each output line with the task's arguments and a tab"
complete -c ppool -n $opt -s t -l timeout -x -d 'Stop a task after SECS seconds (default: no limit)'
complete -c ppool -n $opt -s u -l unordered -d 'Print records in completion order'
complete -c ppool -n $opt -s v -l verbose -d 'A summary line on stderr at exit'
complete -c ppool -n $opt -s V -l version -d 'Print the version and exit'
complete -c ppool -n $opt -s w -l worker -x -a '(__fish_complete_command)' -d 'Worker mode: persistent workers running CMD under /bin/sh -c'
complete -c ppool -n $opt -l window -x -d 'Tasks read but not yet printed (default 1024)'
complete -c ppool -n $opt -s X -d 'Command mode: give each command as many arguments as fit'

# COMMAND and its arguments.
complete -c ppool -n '__fish_ppool_command >/dev/null' -x -a '(__fish_complete_subcommand --commandline (__fish_ppool_command))'

# Worker mode after the options: a source.
complete -c ppool -n '__fish_ppool_at worker' -x -a ':::\t"Values follow" ::::\t"Files of values, one a line, follow"'

# The values of sources: file names (:::: FILE, or ::: *.jpg).
complete -c ppool -n '__fish_ppool_at source' -F
