#!/usr/bin/env python3
"""The runner beside make and ninja, in one run, with ratios.

Workloads (each written fresh under a scratch folder):
  true   N independent `true` commands, 2 at a time: `taskloom run --workers 2` (every
         transition in SQLite) vs `make -j2` vs `ninja -j2`.
  sleep  N concurrent `sleep S` commands that need no CPU (`needs: {cpu: 0}`): taskloom's wall
         time and the most threads its process had (sampled from /proc), vs `make -jN`.
  plan   `taskloom plan` of an M-task matrix: independent tasks, and the same fanned out
         between one `prep` and one `done` task; wall time and peak RSS.
  broken `taskloom plan` of a large file written out task by task, each with an error
         (`retries: x`): it must be refused (exit 2) in well under a second per MB; wall time,
         seconds per MB and peak RSS.

Usage: bench/runner/compare_runners.py [--taskloom PATH] [--quick] [--json FILE]
                                       [--workloads true,sleep,plan,broken]
The default sizes are the issue's targets (1000 true, 2000 sleep 3, 1,000,000 plan, 300,000
broken tasks: about 52 MB); --quick uses 200 / 200 sleep 1 / 100,000 / 30,000 for a fast look.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_measured(cmd, cwd, sample_threads=False, expected_code=0):
    """Runs cmd; returns (wall seconds, peak RSS MiB, most threads seen or None, exit code)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    most_threads = [0]
    done = threading.Event()

    def sample():
        path = f"/proc/{proc.pid}/status"
        while not done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("Threads:"):
                            most_threads[0] = max(most_threads[0], int(line.split()[1]))
                            break
            except OSError:
                return
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True) if sample_threads else None
    if sampler:
        sampler.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    done.set()
    if sampler:
        sampler.join()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != expected_code:
        sys.stderr.write(f"compare_runners: {' '.join(map(str, cmd))} exited {code}\n")
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
    return wall, usage.ru_maxrss / 1024.0, (most_threads[0] if sample_threads else None), code


def write_make_and_ninja(folder, count, command):
    names = [f"t{i}" for i in range(count)]
    with open(folder / "Makefile", "w") as f:
        f.write(".PHONY: all " + " ".join(names) + "\nall: " + " ".join(names) + "\n")
        for n in names:
            f.write(f"{n}:\n\t{command}\n")
    with open(folder / "build.ninja", "w") as f:
        f.write(f"rule cmd\n  command = {command}\n")
        for n in names:
            f.write(f"build {n}: cmd\n")
        f.write("default " + " ".join(names) + "\n")


def fresh(base, name):
    folder = base / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def bench_true(taskloom, base, count):
    folder = fresh(base, "true")
    (folder / "wf.yaml").write_text(
        f'name: true-{count}\ntasks:\n  - id: t-{{i}}\n    run: "true"\n'
        f'    matrix: {{i: "1-{count}"}}\n')
    write_make_and_ninja(folder, count, "true")
    rows = {}
    rows["taskloom"] = run_measured([taskloom, "run", "-q", "--workers", "2", "wf.yaml"], folder)
    rows["make"] = run_measured(["make", "-s", "-j2"], folder)
    if shutil.which("ninja"):
        rows["ninja"] = run_measured(["ninja", "-j2"], folder)
    return rows


def bench_sleep(taskloom, base, count, seconds):
    folder = fresh(base, "sleep")
    (folder / "wf.yaml").write_text(
        f"name: sleep-{count}\ntasks:\n  - id: s-{{i}}\n    run: sleep {seconds}\n"
        f'    matrix: {{i: "1-{count}"}}\n    needs: {{cpu: 0}}\n')
    write_make_and_ninja(folder, count, f"sleep {seconds}")
    rows = {}
    rows["taskloom"] = run_measured([taskloom, "run", "-q", "wf.yaml"], folder, sample_threads=True)
    rows["make"] = run_measured(["make", "-s", f"-j{count}"], folder)
    return rows


def bench_plan(taskloom, base, count):
    folder = fresh(base, "plan")
    (folder / "independent.yaml").write_text(
        f'name: plan-{count}\ntasks:\n  - id: t-{{i}}\n    run: "true"\n'
        f'    matrix: {{i: "1-{count}"}}\n')
    # The same number of tasks: count - 2 between one `prep` and one `done`.
    (folder / "fan.yaml").write_text(
        f'name: fan-{count}\ntasks:\n  - id: prep\n    run: "true"\n'
        f'  - id: t-{{i}}\n    run: "true"\n    matrix: {{i: "1-{count - 2}"}}\n    after: prep\n'
        f'  - id: done\n    run: "true"\n    after: t\n')
    return {
        "independent": run_measured([taskloom, "plan", "independent.yaml"], folder),
        "fan-out": run_measured([taskloom, "plan", "fan.yaml"], folder),
    }


def bench_broken(taskloom, base, count):
    """A file like a generated one gone wrong: every task has a bad `retries`."""
    folder = fresh(base, "broken")
    path = folder / "broken.yaml"
    command = "echo " + "x" * 120
    with open(path, "w") as f:
        f.write(f"name: broken-{count}\ntasks:\n")
        for i in range(count):
            f.write(f"  - id: t{i}\n    run: {command} {i}\n    retries: x\n")
    megabytes = path.stat().st_size / 1e6
    wall, rss, _, code = run_measured([taskloom, "plan", path.name], folder, expected_code=2)
    return wall, megabytes, rss, code


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--taskloom", default=str(ROOT / "build/release/apps/taskloom/taskloom"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--workloads", default="true,sleep,plan,broken")
    args = ap.parse_args()
    taskloom = str(Path(args.taskloom).resolve())
    if not os.access(taskloom, os.X_OK):
        sys.exit(f"compare_runners: {taskloom} is not an executable; build it first "
                 "(cmake --preset release && cmake --build --preset release --target taskloom) "
                 "or pass --taskloom PATH")
    sizes = dict(true=200, sleep=200, sleep_s=1, plan=100_000, broken=30_000) if args.quick else \
        dict(true=1000, sleep=2000, sleep_s=3, plan=1_000_000, broken=300_000)
    wanted = set(args.workloads.split(","))
    results = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="taskloom-bench-") as tmp:
        base = Path(tmp)
        if "true" in wanted:
            rows = bench_true(taskloom, base, sizes["true"])
            print(f"\n{sizes['true']} independent `true`, 2 at a time")
            print(f"{'runner':<10} {'wall s':>8} {'vs taskloom':>12}")
            t = rows["taskloom"][0]
            for name, (wall, _, _, code) in rows.items():
                failed |= code != 0
                print(f"{name:<10} {wall:>8.2f} {wall / t:>11.2f}x")
            results["true"] = {k: v[0] for k, v in rows.items()}
        if "sleep" in wanted:
            rows = bench_sleep(taskloom, base, sizes["sleep"], sizes["sleep_s"])
            print(f"\n{sizes['sleep']} concurrent `sleep {sizes['sleep_s']}` (needs cpu: 0)")
            print(f"{'runner':<10} {'wall s':>8} {'threads':>8}")
            for name, (wall, _, threads, code) in rows.items():
                failed |= code != 0
                print(f"{name:<10} {wall:>8.2f} {threads if threads is not None else '-':>8}")
            results["sleep"] = {k: {"wall_s": v[0], "threads": v[2]} for k, v in rows.items()}
        if "plan" in wanted:
            rows = bench_plan(taskloom, base, sizes["plan"])
            print(f"\ntaskloom plan of {sizes['plan']:,} tasks")
            print(f"{'shape':<12} {'wall s':>8} {'peak MiB':>9}")
            for name, (wall, rss, _, code) in rows.items():
                failed |= code != 0
                if code != 0:  # a figure of a failed command is no figure
                    print(f"{name:<12} {'failed (exit ' + str(code) + ')':>18}")
                else:
                    print(f"{name:<12} {wall:>8.2f} {rss:>9.0f}")
            results["plan"] = {k: {"wall_s": v[0], "peak_mib": v[1]} for k, v in rows.items()}
        if "broken" in wanted:
            wall, megabytes, rss, code = bench_broken(taskloom, base, sizes["broken"])
            failed |= code != 2
            print(f"\ntaskloom plan of {sizes['broken']:,} tasks with an error each (exit {code})")
            print(f"{'MB':>8} {'wall s':>8} {'s per MB':>9} {'peak MiB':>9}")
            print(f"{megabytes:>8.1f} {wall:>8.2f} {wall / megabytes:>9.3f} {rss:>9.0f}")
            results["broken"] = {"mb": megabytes, "wall_s": wall, "s_per_mb": wall / megabytes,
                                 "peak_mib": rss, "exit": code}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
