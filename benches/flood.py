#!/usr/bin/env python3
"""End-to-end output flood through opsdeck on the embedded sandbox (issue 13).

Runs the `command` runbook on a sandbox instance (local transport: the run
protocol's detached job, tail, base64, decode, mask, journal file, stdout)
and measures what an operator feels:

  headless   `opsdeck run command …` with its stdout read by this script:
             lines/s, MB/s, peak RSS of opsdeck, and a check that every line
             arrived, in order (the short flood numbers its lines).
  console    the same flood started from the console in tmux; while it
             floods, a key (`?`, then Esc) is sent every 200 ms and the time
             until tmux's screen shows its effect is measured (key→frame).

Usage (build first: `cargo build --release`):
  python3 benches/flood.py                       # 10M short lines, 2,000 long lines
  python3 benches/flood.py --short 2000000 --long 0
  python3 benches/flood.py --console --short 0 --long 0
  BIN=target/debug/opsdeck python3 benches/flood.py --short 100000

A long line is 64 KiB without a newline: ANSI colour codes, a byte that is
not UTF-8, a `password=` to mask. The issue asks for 100,000 of them
(6.4 GB); the default is 2,000 so a run takes seconds, `--long 100000` does
the whole thing. Nothing here asserts a time: it prints figures.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

INSTANCE = "multi-tenant-platform"

LONG_LINE_GEN = r"""
import sys
n = int(sys.argv[1])
body = (b"\x1b[32mok\x1b[0m step \xff chunk " * 2400)[:65000]
out = sys.stdout.buffer
for i in range(n):
    out.write(b"%d password=hunter%d " % (i, i) + body + b"\n")
"""


def env_for(home):
    env = dict(os.environ)
    for k, sub in [
        ("HOME", ""),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ]:
        env[k] = os.path.join(home, sub) if sub else home
    env.pop("OPSDECK_CONFIG", None)
    return env


def headless(binary, env, home, command, expect_lines, check_seq):
    """Stdout goes to a file (a pipe read by Python would be the slowest
    part); the file is checked after the clock stops."""
    args = [
        binary, "run", "command", f"instance={INSTANCE}", f"command={command}",
        "--yes", "--confirm", INSTANCE,
    ]
    out_path = os.path.join(home, "flood.out")
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    nbytes = os.path.getsize(out_path)
    lines = 0
    with open(out_path, "rb") as f:
        while True:
            buf = f.read(1 << 22)
            if not buf:
                break
            lines += buf.count(b"\n")
    in_order = None
    if check_seq:
        # Every number, in order, nothing else but opsdeck's own step lines.
        got = subprocess.run(
            f"grep -E '^[0-9]+$' {out_path} | cmp -s - <(seq 1 {expect_lines})",
            shell=True, executable="/bin/bash").returncode
        in_order = got == 0
    os.unlink(out_path)
    return {
        "exit": code,
        "wall_s": round(wall, 3),
        "lines": lines,
        "bytes": nbytes,
        "lines_per_s": round(lines / wall),
        "mb_per_s": round(nbytes / wall / 1e6, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "all_in_order": in_order,
    }


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-L", sock, *args], check=check,
                          capture_output=True, text=True).stdout


def screen(sock):
    return tmux(sock, "capture-pane", "-p", "-t", "flood")


def wait_for(sock, pred, limit=30.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        s = screen(sock)
        if pred(s):
            return time.perf_counter() - t0, s
        time.sleep(0.002)
    return None, screen(sock)


def console(binary, env, command, samples):
    """Start the flood from the console, then measure key→frame latency."""
    sock = f"flood{os.getpid()}"
    envs = " ".join(f"{k}={v}" for k, v in env.items()
                    if k.startswith("XDG_") or k == "HOME")
    tmux(sock, "new-session", "-d", "-s", "flood", "-x", "160", "-y", "45",
         f"env {envs} {binary}")
    try:
        wait_for(sock, lambda s: "Tenants" in s)
        keys = lambda *k: tmux(sock, "send-keys", "-t", "flood", *k)
        keys("2")  # Instances
        wait_for(sock, lambda s: INSTANCE in s)
        keys("/", INSTANCE, "Enter")
        keys(":", "run command", "Enter")
        wait_for(sock, lambda s: "must not be empty" in s)
        keys("-l", command)  # the text field's editor opens on the first key
        keys("Escape")  # keeps the text
        keys("Enter")  # the preview
        wait_for(sock, lambda s: "then Enter" in s)
        keys("-l", INSTANCE)  # destructive: the name typed
        keys("Enter")
        t_start = time.perf_counter()
        ok, s = wait_for(sock, lambda s: "running" in s, 10)
        if ok is None:
            print("the run did not start from the console; the screen was:\n" + s,
                  file=sys.stderr)
            return None
        def sample(into):
            time.sleep(0.2)
            t0 = time.perf_counter()
            tmux(sock, "send-keys", "-t", "flood", "?")
            d, s = wait_for(sock, lambda s: "╭ help" in s, 5)
            if d is not None:
                into.append((time.perf_counter() - t0) * 1000)
            tmux(sock, "send-keys", "-t", "flood", "Escape")
            wait_for(sock, lambda s: "╭ help" not in s, 5)
            return s

        lat = []
        while len(lat) < samples:
            if "succeeded" in sample(lat):
                lat.pop()  # only keys answered while it floods count
                break
        wait_for(sock, lambda s: "succeeded" in s, 600)
        total = time.perf_counter() - t_start
        # The same key when nothing floods: tmux's and the terminal's share.
        idle = []
        for _ in range(samples):
            sample(idle)
        return {
            "samples": len(lat),
            "key_to_frame_ms_median": statistics.median(lat) if lat else None,
            "key_to_frame_ms_p95": sorted(lat)[int(len(lat) * 0.95) - 1] if lat else None,
            "key_to_frame_ms_max": max(lat) if lat else None,
            "flood_s": round(total, 2),
            "after_the_flood_ms_median": statistics.median(idle) if idle else None,
        }
    finally:
        tmux(sock, "kill-server", check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("BIN", "target/release/opsdeck"))
    ap.add_argument("--short", type=int, default=10_000_000, help="short numbered lines")
    ap.add_argument("--long", type=int, default=2_000, help="64 KiB lines")
    ap.add_argument("--console", action="store_true", help="also measure key→frame in tmux")
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--console-lines", type=int, default=30_000_000,
                    help="the console's flood (long enough to sample keys during it)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    home = tempfile.mkdtemp(prefix="opsdeck-flood-")
    env = env_for(home)
    try:
        subprocess.run([binary, "ls", "instances"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        if a.short:
            r = headless(binary, env, home, f"seq 1 {a.short}", a.short, True)
            print(f"headless, {a.short:,} short lines: {r}")
        if a.long:
            gen = os.path.join(home, "long.py")
            with open(gen, "w") as f:
                f.write(LONG_LINE_GEN)
            r = headless(binary, env, home, f"python3 {gen} {a.long}", a.long, False)
            print(f"headless, {a.long:,} lines of 64 KiB: {r}")
        if a.console:
            if not shutil.which("tmux"):
                sys.exit("tmux is needed for --console")
            r = console(binary, env, f"seq 1 {a.console_lines}", a.samples)
            print(f"console, {a.console_lines:,} short lines: {r}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
