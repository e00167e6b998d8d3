#!/usr/bin/env python3
"""Cold-start benchmark of meshctl commands that must stay instant.

Usage: python3 benches/startup.py [--bin target/release/meshctl] [--runs 200]

Runs each command RUNS times (after 10 warm-up runs), and prints, per command, the
median and p95 wall time and the peak resident memory (max RSS) as a Markdown table.

Peak memory comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`): a
child spawned straight from Python inherits Python's own high-water mark through
vfork, which would overstate meshctl's memory several times.
"""
import argparse
import os
import shutil
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
    status = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {status}")
    return elapsed


def peak_rss_kib(argv, runs=20):
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        return None
    peak = 0
    for _ in range(runs):
        out = subprocess.run(
            [gnu_time, "-f", "%M", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
        peak = max(peak, int(out.stderr.strip().splitlines()[-1]))
    return peak


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
        times = sorted(run_once(argv) for _ in range(args.runs))
        p95 = times[int(len(times) * 0.95) - 1]
        peak = peak_rss_kib(argv)
        peak_text = "n/a (install GNU time)" if peak is None else f"{peak / 1024:.1f} MiB"
        print(
            f"| `meshctl {' '.join(cmd)}` | {statistics.median(times) * 1000:.2f} ms "
            f"| {p95 * 1000:.2f} ms | {peak_text} |"
        )


if __name__ == "__main__":
    main()
