#!/usr/bin/env python3
"""A tiny stand-in for a simulation code, for examples/workflows/sim-campaign.yaml.

  sim.py mesh SCENARIO               -> out/SCENARIO/mesh.txt
  sim.py solve SCENARIO SEED STEPS   -> out/SCENARIO/solve-SEED.txt, checkpointing every step
  sim.py stats SCENARIO              -> out/SCENARIO/stats.txt (mean and spread over the seeds)
  sim.py report                      -> prints one line per scenario
The solver keeps a checkpoint (out/SCENARIO/solve-SEED.ckpt) after every step and starts from
it when it exists, so a retried or resumed solve continues where the last attempt stopped.
Seed 3 of every scenario "loses its node" once, half-way, to show retries from a checkpoint.
"""
import os
import random
import shutil
import statistics
import sys
import time

OUT = "out"
WIND = {"calm": 2.0, "storm": 18.0, "hurricane": 45.0}


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def atomic_write(p, text):
    with open(p + ".tmp", "w") as f:
        f.write(text)
    os.replace(p + ".tmp", p)


def mesh(scenario):
    shutil.rmtree(os.path.join(OUT, scenario), ignore_errors=True)  # a fresh run starts clean
    atomic_write(path(scenario, "mesh.txt"), "cells 4096 wind %.1f\n" % WIND[scenario])
    print("meshed", scenario)


def solve(scenario, seed, steps):
    ckpt = path(scenario, "solve-%d.ckpt" % seed)
    step, height = 0, 0.0
    if os.path.exists(ckpt):
        step, height = open(ckpt).read().split()
        step, height = int(step), float(height)
        print("restarting from checkpoint at step", step)
    rng = random.Random(seed * 1000 + step)
    while step < steps:
        height = 0.9 * height + WIND[scenario] * 0.05 * (1 + rng.random())
        step += 1
        atomic_write(ckpt, "%d %.6f\n" % (step, height))
        time.sleep(0.03)
        flake = path(scenario, ".lost-node-%d" % seed)
        if seed == 3 and step == steps // 2 and not os.path.exists(flake):
            open(flake, "w").close()
            print("node lost at step %d" % step, file=sys.stderr)
            sys.exit(75)
    atomic_write(path(scenario, "solve-%d.txt" % seed), "%.6f\n" % height)
    print("solved %s seed %d: wave height %.3f m" % (scenario, seed, height))


def stats(scenario):
    folder = os.path.join(OUT, scenario)
    values = [float(open(os.path.join(folder, f)).read())
              for f in sorted(os.listdir(folder)) if f.startswith("solve-") and f.endswith(".txt")]
    atomic_write(path(scenario, "stats.txt"), "%s %d %.4f %.4f\n" % (
        scenario, len(values), statistics.mean(values), statistics.pstdev(values)))
    print("stats for", scenario, "over", len(values), "seeds")


def report():
    print("%-10s %5s %10s %8s" % ("scenario", "seeds", "height(m)", "spread"))
    for scenario in WIND:
        name, n, mean, sd = open(os.path.join(OUT, scenario, "stats.txt")).read().split()
        print("%-10s %5s %10.3f %8.3f" % (name, n, float(mean), float(sd)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "mesh":
        mesh(args[0])
    elif cmd == "solve":
        solve(args[0], int(args[1]), int(args[2]))
    elif cmd == "stats":
        stats(args[0])
    elif cmd == "report":
        report()
    else:
        sys.exit("unknown stage " + cmd)
