#!/usr/bin/env python3
"""Python anchor for ppool's worker-mode benchmark (case D).

    python3 bench/pool.py J N

multiprocessing.Pool(J).imap(f, range(N), chunksize=1) with a trivial f
(returns its argument), results consumed in order and checked.  This is
what a Python user would write for "a pool of J workers, one task at a
time each, results in input order".

Prints one line on stdout:
    pool.py j=J n=N elapsed_s=S tasks_per_s=R
Elapsed time (time.perf_counter) runs from before the Pool is created to
after it is closed and joined: worker start-up and shutdown are included,
as they are in a ppool run.  Exit 1 if any result is missing or wrong.
"""
import multiprocessing
import sys
import time


def f(x):
    return x


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: pool.py J N\n")
        return 2
    j, n = int(sys.argv[1]), int(sys.argv[2])
    if j < 1 or n < 1:
        sys.stderr.write("usage: pool.py J N (both >= 1)\n")
        return 2
    t0 = time.perf_counter()
    count = 0
    bad = 0
    with multiprocessing.Pool(j) as pool:
        for i, r in enumerate(pool.imap(f, range(n), chunksize=1)):
            if r != i:
                bad += 1
            count += 1
        pool.close()
        pool.join()
    el = time.perf_counter() - t0
    print("pool.py j=%d n=%d elapsed_s=%.6f tasks_per_s=%.0f" % (j, n, el, n / el))
    if count != n or bad:
        sys.stderr.write("pool.py: %d results, %d wrong, %d expected\n" % (count, bad, n))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
