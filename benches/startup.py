#!/usr/bin/env python3
"""Cold-start benchmark of meshctl commands that must stay instant.

Usage: python3 benches/startup.py [--bin target/release/meshctl] [--runs 200]

Runs each command RUNS times (after 10 warm-up runs), and prints, per command, the
median and p95 wall time and the peak resident memory (max RSS) as a Markdown table.
"""
import argparse
import os
import statistics
import subprocess
import time

COMMANDS = [
    ["version"],
    ["version", "-o", "json"],
    ["--help"],
    ["completion", "bash"],
]


def run_once(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {status}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/meshctl")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print("| command | median | p95 | peak RSS |")
    print("|---|---|---|---|")
    for cmd in COMMANDS:
        argv = [args.bin, *cmd]
        for _ in range(10):
            run_once(argv)
        times, rss = [], []
        for _ in range(args.runs):
            t, r = run_once(argv)
            times.append(t)
            rss.append(r)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"| `meshctl {' '.join(cmd)}` | {statistics.median(times) * 1000:.2f} ms "
            f"| {p95 * 1000:.2f} ms | {max(rss) / 1024:.1f} MiB |"
        )


if __name__ == "__main__":
    main()
