#!/usr/bin/env python3
"""Fleet runs on the executing SSM peer: a read runbook on N instances.

Starts the peer (tests/peer/ssm_peer.py) on a free loopback port, makes N
EC2 instances tagged Project=fleet-bench with an SSM agent each (a small
root directory per instance), runs

    opsdeck run host-stats tag=Project=fleet-bench --json

and reports the wall time, the SSM calls by action, the calls per minute,
opsdeck's peak RSS, and whether every target's output was kept (journal).

Usage (after `bash .ci/test` made target/test-venv, and `cargo build`):

    target/test-venv/bin/python benches/fleet_peer.py 50 500

OPSDECK_BIN picks the binary (default target/debug/opsdeck); FLEET_POLL_MS
the fleet's status poll (default 3000, opsdeck's own default).
"""

import collections
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
REGION = "eu-west-1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench(n, work, url, peer_dir, binary):
    kw = dict(endpoint_url=url, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    ec2 = boto3.client("ec2", **kw)
    project = f"fleet-bench-{n}"
    ids = []
    while len(ids) < n:
        k = min(250, n - len(ids))
        out = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=k,
            MaxCount=k,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Project", "Value": project}]}
            ],
        )
        ids += [i["InstanceId"] for i in out["Instances"]]
    for iid in ids:
        root = os.path.join(work, "roots", iid)
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(peer_dir, "hosts", iid + ".json"), "w") as f:
            json.dump({"root": root, "region": REGION, "ping": "Online"}, f)
    home = os.path.join(work, f"home-{n}")
    os.makedirs(home)
    cfg = os.path.join(home, "opsdeck.toml")
    with open(cfg, "w") as f:
        f.write(f'[[context]]\nname = "peer"\nprovider = "aws"\nregions = ["{REGION}"]\n')
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.path.join(home, "none"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "none"),
        XDG_STATE_HOME=os.path.join(home, "state"),
        XDG_DATA_HOME=os.path.join(home, "data"),
        XDG_CONFIG_HOME=os.path.join(home, "config"),
        OPSDECK_FLEET_POLL_MS=os.environ.get("FLEET_POLL_MS", "3000"),
    )
    calls_file = os.path.join(peer_dir, "calls.jsonl")
    before = os.path.getsize(calls_file) if os.path.exists(calls_file) else 0
    t0 = time.time()
    p = subprocess.run(
        [binary, "--config", cfg, "--context", "peer", "run", "host-stats",
         f"tag=Project={project}", "--json"],
        env=env, capture_output=True, text=True,
    )
    wall = time.time() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(calls_file) as f:
        f.seek(before)
        calls = [json.loads(l) for l in f if l.strip()]
    by = collections.Counter(c["action"] for c in calls)
    summary = json.loads(p.stdout) if p.stdout.strip() else {}
    journal_dir = os.path.join(home, "state", "opsdeck", "journal", "runs")
    kept = 0
    if os.path.isdir(journal_dir):
        for run in os.listdir(journal_dir):
            out = os.path.join(journal_dir, run, "output.log")
            if os.path.exists(out) and os.path.getsize(out) > 0:
                kept += 1
    print(
        f"{n} instances: exit {p.returncode}, {wall:.1f} s, {len(calls)} SSM calls "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by.items()))}), "
        f"{len(calls) * 60 / wall:.0f} calls/min, peak RSS of opsdeck {rss_kb / 1024:.0f} MiB "
        f"(the largest child so far), summary {summary.get('summary')}, "
        f"outputs journaled {kept}/{n}"
    )
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [50, 500]
    binary = os.environ.get("OPSDECK_BIN", os.path.join(REPO, "target", "debug", "opsdeck"))
    work = tempfile.mkdtemp(prefix="opsdeck-fleet-bench-")
    peer_dir = os.path.join(work, "peer")
    os.makedirs(os.path.join(peer_dir, "hosts"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests", "peer", "ssm_peer.py"),
         "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ, OPSDECK_PEER_DIR=peer_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        for n in sizes:
            bench(n, work, f"http://127.0.0.1:{port}", peer_dir, binary)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
