#!/usr/bin/env python3
"""taskloom's Slurm backend beside plain sbatch, in one run, with ratios.

Needs a running Slurm (scripts/slurm-local.sh start, then eval its export lines); every job is
`true` or a timestamp, so the figures are the cost of getting work into and through Slurm.

Workloads:
  submit  N independent jobs. taskloom (`taskloom run --backend slurm`, every transition in
          SQLite) vs `sbatch --wrap` in a shell-style loop vs one `sbatch --array=1-N`.
          Submissions per second: taskloom from the times its store recorded each job id
          (first to last), the loop and the array from their wall time; and the time until
          every job has ended.
  chain   K jobs, each after the one before. taskloom (after:) vs a loop of `sbatch --wait`
          (a script that waits for each job before submitting the next) vs K jobs submitted at
          once with --dependency=afterok (Slurm schedules the chain). The latency of a link is
          from the moment the job before wrote its end time to the moment the dependent wrote
          its start time, so queueing in Slurm counts for everyone; for taskloom also the time
          to the dependent's submission (its job id recorded), the issue's figure.
  inflight M jobs in flight at once (`sleep` jobs, most of them pending: the cluster has 8
          CPUs): the CPU the runner spends following them, its own and its tools' (squeue,
          scancel), per second of wall time over a window, then Ctrl-C and the time until
          Slurm lists none of them. taskloom only: the peer for following thousands of jobs is
          a process per job (`sbatch --wait`), which this machine cannot hold at M = 5,000.

Usage: bench/backends/compare_slurm.py [--taskloom PATH] [--jobs N] [--chain K] [--inflight M]
                                       [--json FILE] [--workloads submit,chain,inflight]
Defaults: 200 jobs, a chain of 8, 5,000 in flight. Ratios are peer / taskloom for times (above 1: taskloom
faster) and taskloom / peer for rates (above 1: taskloom faster).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import signal
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def wait_until_gone(ids, limit=600):
    """Waits until squeue lists none of `ids` as pending or running; returns when it did."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        out = sh(["squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i",
                  "-j", ",".join(ids)]) if ids else ""
        if not out.strip():
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"jobs still in Slurm after {limit}s: {out.split()[:5]}...")


def stamp(dir_, name):
    return f"date +%s.%N > {dir_}/{name}"


def read_stamp(path):
    return float(Path(path).read_text().split()[0])


def recorded_starts(taskloom, db):
    """task -> the wall time (s) at which taskloom recorded its job id (attempt 1)."""
    j = json.loads(sh([taskloom, "status", "1", "--db", str(db), "--json"]))
    return {t["id"]: t["history"][0]["started_ms"] / 1e3 for t in j["tasks"]}


def taskloom_run(taskloom, wf, cwd):
    start = time.monotonic()
    p = subprocess.run([taskloom, "run", str(wf), "--backend", "slurm", "--quiet"], cwd=cwd,
                       capture_output=True, text=True)
    wall = time.monotonic() - start
    if p.returncode != 0:
        raise SystemExit(f"taskloom run failed ({p.returncode}): {p.stdout}{p.stderr}")
    return wall, cwd / ".taskloom" / "taskloom.db"


# --- submit ------------------------------------------------------------------------------------

def bench_submit(taskloom, n, scratch):
    out = {}
    d = scratch / "submit-taskloom"
    d.mkdir()
    (d / "wf.yaml").write_text(
        f"name: submit\ntasks:\n  - id: t-{{i}}\n    run: 'true'\n    matrix: {{i: \"1-{n}\"}}\n")
    wall, db = taskloom_run(taskloom, d / "wf.yaml", d)
    starts = sorted(recorded_starts(taskloom, db).values())
    if len(starts) != n:
        raise SystemExit(f"taskloom recorded {len(starts)} of {n} jobs")
    out["taskloom"] = {"rate": (n - 1) / max(starts[-1] - starts[0], 1e-9), "done": wall}

    d = scratch / "submit-loop"
    d.mkdir()
    t0 = time.monotonic()
    ids = [sh(["sbatch", "--parsable", f"--output={d}/%j.out", "--wrap", "true"])
           .strip().split(";")[0] for _ in range(n)]
    t1 = time.monotonic()
    out["sbatch loop"] = {"rate": n / (t1 - t0), "done": wait_until_gone(ids) - t0}

    d = scratch / "submit-array"
    d.mkdir()
    t0 = time.monotonic()
    job = sh(["sbatch", "--parsable", f"--array=1-{n}", f"--output={d}/%A_%a.out",
              "--wrap", "true"]).strip().split(";")[0]
    t1 = time.monotonic()
    out["job array"] = {"rate": n / (t1 - t0), "done": wait_until_gone([job]) - t0}
    return out


# --- chain -------------------------------------------------------------------------------------

def link_latencies(d, k):
    return [read_stamp(d / f"c{i}.start") - read_stamp(d / f"c{i - 1}.end") for i in range(2, k + 1)]


def chain_command(d, name):
    return f"{stamp(d, name + '.start')}; {stamp(d, name + '.end')}"


def bench_chain(taskloom, k, scratch):
    out = {}
    d = scratch / "chain-taskloom"
    d.mkdir()
    lines = ["name: chain", "tasks:"]
    for i in range(1, k + 1):
        lines.append(f"  - id: c{i}")
        lines.append(f"    run: '{chain_command(d, f'c{i}')}'")
        if i > 1:
            lines.append(f"    after: c{i - 1}")
    (d / "wf.yaml").write_text("\n".join(lines) + "\n")
    wall, db = taskloom_run(taskloom, d / "wf.yaml", d)
    starts = recorded_starts(taskloom, db)
    to_submit = [starts[f"c{i}"] - read_stamp(d / f"c{i - 1}.end") for i in range(2, k + 1)]
    out["taskloom"] = {"link": link_latencies(d, k), "submit": to_submit, "done": wall}

    d = scratch / "chain-wait"
    d.mkdir()
    t0 = time.monotonic()
    for i in range(1, k + 1):
        sh(["sbatch", "--wait", "--quiet", f"--output={d}/%j.out", "--wrap",
            chain_command(d, f"c{i}")])
    out["sbatch --wait loop"] = {"link": link_latencies(d, k), "done": time.monotonic() - t0}

    d = scratch / "chain-afterok"
    d.mkdir()
    t0 = time.monotonic()
    ids = []
    for i in range(1, k + 1):
        dep = [f"--dependency=afterok:{ids[-1]}", "--kill-on-invalid-dep=yes"] if ids else []
        ids.append(sh(["sbatch", "--parsable", f"--output={d}/%j.out", *dep, "--wrap",
                       chain_command(d, f"c{i}")]).strip().split(";")[0])
    done = wait_until_gone(ids) - t0
    out["afterok chain"] = {"link": link_latencies(d, k), "done": done}
    return out


# --- inflight ----------------------------------------------------------------------------------

def cpu_seconds(pid):
    """(own, reaped children's) CPU seconds of `pid`, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def jobs_of(folder):
    """Ids of the queued or running jobs whose comment (taskloom's run key) names `folder`."""
    out = sh(["squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i %k"])
    return [line.split()[0] for line in out.splitlines() if str(folder) in line]


def bench_inflight(taskloom, m, scratch, window=20.0):
    d = scratch / "inflight"
    d.mkdir()
    (d / "wf.yaml").write_text(
        f"name: inflight\ntasks:\n  - id: s-{{i}}\n    run: 'sleep 3600'\n"
        f"    matrix: {{i: \"1-{m}\"}}\n")
    start = time.monotonic()
    proc = subprocess.Popen([taskloom, "run", str(d / "wf.yaml"), "--backend", "slurm",
                             "--workers", str(m), "--quiet", "--kill-grace", "1"], cwd=d,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while len(jobs_of(d)) < m:
            if proc.poll() is not None:
                raise SystemExit(f"taskloom ended early: {proc.stderr.read()}")
            if time.monotonic() - start > 600:
                raise SystemExit(f"only {len(jobs_of(d))} of {m} jobs in Slurm after 600s")
            time.sleep(0.5)
        submitted = time.monotonic() - start
        own0, tools0 = cpu_seconds(proc.pid)
        time.sleep(window)
        own1, tools1 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=300)
        while len(jobs_of(d)) > 0:
            if time.monotonic() - t0 > 300:
                raise SystemExit(f"{len(jobs_of(d))} jobs left in Slurm 300s after Ctrl-C")
            time.sleep(0.2)
        drained = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            left = jobs_of(d)
            if left:
                subprocess.run(["scancel", *left], capture_output=True)
    return {"submitted": submitted, "own": (own1 - own0) / window,
            "tools": (tools1 - tools0) / window, "exit": code, "drained": drained}


# --- report ------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--taskloom", default=str(ROOT / "build" / "release" / "apps" / "taskloom" /
                                              "taskloom"))
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--chain", type=int, default=8)
    ap.add_argument("--inflight", type=int, default=5000)
    ap.add_argument("--workloads", default="submit,chain,inflight")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.taskloom = str(Path(a.taskloom).resolve()) if Path(a.taskloom).exists() else a.taskloom
    if not Path(a.taskloom).exists():
        a.taskloom = str(ROOT / "build" / "dev" / "apps" / "taskloom" / "taskloom")
    try:
        sh(["sinfo", "-h", "-o", "%P"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        raise SystemExit("no Slurm answers: run `eval \"$(scripts/slurm-local.sh start)\"` first "
                         f"({getattr(e, 'stderr', e)})")
    records = []
    with tempfile.TemporaryDirectory(prefix="taskloom-slurm-bench-") as tmp:
        scratch = Path(tmp)
        workloads = a.workloads.split(",")
        if "submit" in workloads:
            r = bench_submit(a.taskloom, a.jobs, scratch)
            base = r["taskloom"]
            print(f"\nsubmit: {a.jobs} independent jobs")
            print(f"{'system':<20}{'submissions/s':>15}{'ratio':>8}{'all ended (s)':>16}{'ratio':>8}")
            for name, m in r.items():
                print(f"{name:<20}{m['rate']:>15.1f}{base['rate'] / m['rate']:>8.2f}"
                      f"{m['done']:>16.2f}{m['done'] / base['done']:>8.2f}")
                records += [{"workload": "submit", "system": name, "metric": "submissions_per_s",
                             "value": m["rate"]},
                            {"workload": "submit", "system": name, "metric": "all_ended_s",
                             "value": m["done"]}]
        if "chain" in workloads:
            r = bench_chain(a.taskloom, a.chain, scratch)
            base = r["taskloom"]
            print(f"\nchain: {a.chain} jobs, each after the one before "
                  "(latency: end of a job -> start of its dependent)")
            print(f"{'system':<20}{'median link (s)':>16}{'max (s)':>9}{'ratio':>8}"
                  f"{'whole chain (s)':>17}{'ratio':>8}")
            med = statistics.median(base["link"])
            for name, m in r.items():
                print(f"{name:<20}{statistics.median(m['link']):>16.2f}{max(m['link']):>9.2f}"
                      f"{statistics.median(m['link']) / med:>8.2f}{m['done']:>17.2f}"
                      f"{m['done'] / base['done']:>8.2f}")
                records += [{"workload": "chain", "system": name, "metric": "median_link_s",
                             "value": statistics.median(m["link"])},
                            {"workload": "chain", "system": name, "metric": "whole_chain_s",
                             "value": m["done"]}]
            print(f"taskloom, end of a job -> its dependent submitted: median "
                  f"{statistics.median(base['submit']):.2f}s, max {max(base['submit']):.2f}s")
            records.append({"workload": "chain", "system": "taskloom",
                            "metric": "end_to_submit_max_s", "value": max(base["submit"])})
        if "inflight" in workloads:
            r = bench_inflight(a.taskloom, a.inflight, scratch)
            print(f"\ninflight: {a.inflight} jobs in flight (submitted in {r['submitted']:.1f}s)")
            print(f"  runner CPU while following them: {100 * r['own']:.1f}% of a core itself, "
                  f"{100 * r['tools']:.1f}% in squeue/scancel")
            print(f"  Ctrl-C (exit {r['exit']}): Slurm lists none of them after "
                  f"{r['drained']:.1f}s")
            records += [{"workload": "inflight", "system": "taskloom", "metric": "runner_cpu",
                         "value": r["own"]},
                        {"workload": "inflight", "system": "taskloom", "metric": "tools_cpu",
                         "value": r["tools"]},
                        {"workload": "inflight", "system": "taskloom", "metric": "drain_s",
                         "value": r["drained"]}]
    if a.json:
        Path(a.json).write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
