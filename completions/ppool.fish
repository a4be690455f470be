# fish completion for ppool(1).  Hand-written; every option of
# `ppool --help' is here, and the tests check it.

complete -c ppool -f
complete -c ppool -s 0 -l null -d 'Plain-text tasks separated by NUL bytes'
complete -c ppool -s a -l input -r -F -d 'Read tasks from FILE instead of stdin'
complete -c ppool -l envelope -d 'Worker replies are {"result": V} or {"error": V}'
complete -c ppool -s h -l help -d 'Print usage and exit'
complete -c ppool -l inflight -x -d 'Tasks queued in one worker at once (default 1)'
complete -c ppool -s j -l jobs -x -d 'At most N workers at once (default: online CPUs)'
complete -c ppool -s L -l lines -d 'Plain-text tasks, one per line'
complete -c ppool -l max-line -x -d 'Longest task or reply line (default 64M)'
complete -c ppool -s o -l output -x -a 'json\t"One JSON record per task" raw\t"Replies only"' -d 'Output format'
complete -c ppool -s P -x -d 'Same as -j'
complete -c ppool -s r -l max-reqs -x -d 'Retire a worker after N tasks (default 0, never)'
complete -c ppool -s u -l unordered -d 'Print records in completion order'
complete -c ppool -s V -l version -d 'Print the version and exit'
complete -c ppool -s w -l worker -x -a '(__fish_complete_command)' -d 'Persistent workers running CMD under /bin/sh -c'
complete -c ppool -l window -x -d 'Tasks read but not yet printed (default 1024)'
