#!/usr/bin/env python3
"""A worker that loads something slow once, then answers tasks fast.

Start-up here sleeps a second to stand for loading a model, a dictionary
or a database connection. A process per task (xargs, GNU parallel) pays
that second for every task; a ppool worker pays it once:

    seq 20 | ppool -j 2 -o raw -w 'python3 examples/slow-start.py'        # about 1 s
    seq 20 | ppool -j 2 -o raw -- python3 examples/slow-start.py --once {} # about 10 s

Protocol: one JSON value a line on stdin, one line on stdout, flushed.
"""
import json
import sys
import time

time.sleep(1.0)  # the expensive start-up
squares = {n: n * n for n in range(100000)}  # what it "loaded"

if len(sys.argv) == 3 and sys.argv[1] == "--once":
    # Command mode: one task, given as the argument.
    print(json.dumps(squares.get(int(sys.argv[2]))))
    sys.exit(0)

for line in sys.stdin:
    task = json.loads(line)
    print(json.dumps(squares.get(task)), flush=True)
