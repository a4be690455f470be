#!/bin/sh
# nightly.sh: a cron job that compresses yesterday's logs with ppool and
# survives being killed: run it again and it finishes the rest, doing no
# task twice (--joblog + --resume).
#
#   crontab: 15 3 * * *  /path/to/nightly.sh /var/log/myapp
#
# Exit status: ppool's (0 all ok, 1-100 that many failed, 101 more, 255
# fatal), so cron mails a failure.
set -u
dir=${1:?usage: nightly.sh DIRECTORY}
state=${STATE_DIR:-$HOME/.cache/nightly}
mkdir -p "$state"
day=$(date -d yesterday +%F 2>/dev/null || date +%F)
list=$state/$day.tasks

# The task list is made once per day, so a resumed run sees the same
# tasks in the same order (--resume matches them by number and text).
[ -s "$list" ] || find "$dir" -name "*$day*.log" -type f -print0 >"$list"

# -0: any file name; -j 2: two at a time; --retries 1: one more go for a
# failure; --joblog: a line per finished task; --resume: skip those.
exec ppool -0 -j 2 --retries 1 -t 600 -a "$list" \
    --joblog="$state/$day.joblog" --resume -o raw -- gzip -9 {}
