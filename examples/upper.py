#!/usr/bin/env python3
"""upper.py: a ppool worker.

Reads one JSON value a line from stdin and writes one JSON line a task to
stdout, in order: {"text": "HELLO"} for the task {"id": 1, "text": "hello"}
(a task that is a plain JSON string is upper-cased too).  It flushes stdout
after every reply, since a pipe is block-buffered otherwise and ppool would
wait for a reply that sits in the buffer.  Logs go to stderr only: stdout
carries replies and nothing else.

    ppool -j 2 -a examples/tasks.jsonl -w 'python3 examples/upper.py'
"""

import json
import sys


def answer(line):
    """Return the reply to one task line (bytes)."""
    try:
        task = json.loads(line)
        text = task["text"] if isinstance(task, dict) else task
        if not isinstance(text, str):
            raise TypeError("text is not a string")
    except (ValueError, KeyError, TypeError) as e:
        print(f"upper.py: bad task {line!r}: {e}", file=sys.stderr, flush=True)
        return None
    return {"text": text.upper()}


def main():
    for line in sys.stdin.buffer:
        reply = answer(line)
        sys.stdout.write(json.dumps(reply, ensure_ascii=False,
                                    separators=(",", ":")) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
