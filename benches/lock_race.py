#!/usr/bin/env python3
"""Two operators, one target, at once: the per-target lock under a race.

Two opsdeck homes (alice, bob: each its own config, journal, identity) on
one sandbox directory. Each round starts `deploy` (alice) and `rollback`
(bob) on filter-ical-staging at the same instant, which one first
alternating. Reports, over the rounds:

* both ran at once: both succeeded and their jobs' lives on the host
  overlapped (goal 0);
* one refused (exit 3, naming the other), one ran;
* both ran, one after the other (the second started after the first
  ended, so there was nothing to refuse);
* anything else, with its exit codes.

Then the lock's cost per run on the sandbox: the median wall time of
`opsdeck run restart` (a change: it takes two locks) against the same
runbook copied as a read runbook (no locks), N runs each, interleaved.
On AWS the lock costs no SSM call: it is taken by the start's own command.

Usage (after `cargo build`):

    python3 benches/lock_race.py [ROUNDS] [COST_RUNS]

OPSDECK_BIN picks the binary (default target/debug/opsdeck).
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("OPSDECK_BIN", "target/debug/opsdeck")
HOST = "i-0a4f1c2e9b7d30001"
TENANT = "tenant=filter-ical-staging"


def env_for(root, who):
    e = dict(os.environ)
    e.update(
        OPSDECK_OPERATOR=who,
        XDG_CONFIG_HOME=os.path.join(root, who, "config"),
        XDG_STATE_HOME=os.path.join(root, who, "state"),
        XDG_DATA_HOME=os.path.join(root, who, "data"),
        OPSDECK_SANDBOX_PG="simulated",
        OPSDECK_SIM_DELAY_MS="20",
        OPSDECK_SIM_HEALTH_GRACE="0",
    )
    e.pop("AWS_PROFILE", None)
    return e


def run(root, who, args, barrier=None):
    cmd = [BIN, "--sandbox-dir", os.path.join(root, "sandbox")] + args
    if barrier:
        barrier.wait()
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env_for(root, who), capture_output=True, text=True)
    return p.returncode, p.stderr, time.monotonic() - t0


def job_life(root, run_id):
    jobs = os.path.join(root, "sandbox", "hosts", HOST, "var/lib/opsdeck/jobs")
    start = os.stat(os.path.join(jobs, run_id + ".sh")).st_mtime_ns
    end = os.stat(os.path.join(jobs, run_id + ".exit")).st_mtime_ns
    return start, end


def run_id(stderr):
    m = re.search(r"opsdeck: run (\S+) started", stderr)
    return m.group(1) if m else None


def race(root, rounds):
    counts = {"both at once": 0, "one refused": 0, "one after the other": 0, "other": 0}
    others = []
    for r in range(rounds):
        barrier = threading.Barrier(2)
        res = {}
        order = [("alice", ["run", "deploy", TENANT, "--yes"]), ("bob", ["run", "rollback", TENANT, "--yes"])]
        if r % 2:
            order.reverse()

        def go(who, args):
            res[who] = run(root, who, args, barrier)

        ts = [threading.Thread(target=go, args=o) for o in order]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        (ca, ea, _), (cb, eb, _) = res["alice"], res["bob"]
        codes = sorted([ca, cb])
        if codes == [0, 0]:
            a, b = job_life(root, run_id(ea)), job_life(root, run_id(eb))
            overlap = a[0] < b[1] and b[0] < a[1]
            counts["both at once" if overlap else "one after the other"] += 1
        elif codes == [0, 3] and "held by" in (ea + eb):
            counts["one refused"] += 1
        else:
            counts["other"] += 1
            others.append((ca, cb, (ea + eb)[-400:]))
    return counts, others


def cost(root, n):
    # The same runbook as a read runbook (a user runbook overrides by name).
    lib = subprocess.run(
        [BIN, "runbook", "show", "restart"], env=env_for(root, "alice"), capture_output=True, text=True
    )
    text = lib.stdout if lib.returncode == 0 else open("src/runbook/library/restart.toml").read()
    text = text.replace('name = "restart"', 'name = "restart-unlocked"').replace(
        'danger = "change"', 'danger = "read"'
    )
    d = os.path.join(root, "alice", "config", "opsdeck", "runbooks")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "restart-unlocked.toml"), "w") as f:
        f.write(text)
    target = "container=filter-ical-backend-staging"
    locked, unlocked = [], []
    for _ in range(n):
        c, e, t = run(root, "alice", ["run", "restart", target, "--yes"])
        assert c == 0, e
        locked.append(t)
        c, e, t = run(root, "alice", ["run", "restart-unlocked", target])
        assert c == 0, e
        unlocked.append(t)
    return statistics.median(locked), statistics.median(unlocked)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with tempfile.TemporaryDirectory() as root:
        c, _, e = run(root, "alice", ["ls", "tenants"])
        assert c == 0, e
        t0 = time.monotonic()
        counts, others = race(root, rounds)
        took = time.monotonic() - t0
        print(f"{rounds} rounds of deploy (alice) vs rollback (bob) on one tenant, started at once ({took:.0f} s):")
        for k, v in counts.items():
            print(f"  {k:22} {v}")
        for o in others[:5]:
            print("  other:", o)
        lk, un = cost(root, n)
        print(f"restart, median of {n}: with its 2 locks {lk * 1000:.1f} ms, as a read runbook (no locks) {un * 1000:.1f} ms, difference {(lk - un) * 1000:+.1f} ms")
        print(json.dumps({"rounds": rounds, **counts, "locked_ms": lk * 1000, "unlocked_ms": un * 1000}))


if __name__ == "__main__":
    main()
