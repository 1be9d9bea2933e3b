#!/usr/bin/env python3
"""opsdeck vs awscli vs the raw server, on moto servers.

Listing 1,000 EC2 instances in two regions, and 20,000 S3 objects, measured
three ways in the same run:
  raw     the same API pages fetched with minimal SigV4-signed HTTP requests,
          no parsing beyond finding the next-page token (the server's own time)
  opsdeck `opsdeck ls instances --json` over both regions /
          `opsdeck ls objects BUCKET --json`
  awscli  `aws ec2 describe-instances` once per region, as a user would /
          `aws s3api list-objects-v2 --bucket BUCKET`
Goals: opsdeck <= 1.15 x raw, and >= 2 x faster than awscli.

First rows (issue 13): `opsdeck ls instances --stream` / `ls objects BUCKET
--stream` print each page as it arrives, through the same provider call the
console's Instances and Objects screens use. Measured: time from the start of
the process to its first row, against the raw first page's own time, and the
total against the raw total. Goals: first row within 50 ms of the raw first
page; total <= 1.10 x raw.

How the estate is made: instances are launched as a real estate's are, in
reservations of 1 to 3 (moto counts DescribeInstances' MaxResults in
reservations, AWS in instances; with one reservation of 250, any page size
returns a whole region at once). The objects are put by the server's own
process before it serves (`--serve`): through HTTP, 100,000 puts take more
than 25 minutes on this machine; listing them is then measured over HTTP as
everything else. EC2 and S3 have a server each: a moto process holding
100,000 objects answered EC2 three times slower.

Raw is measured twice: regions one after the other, and all regions at once
(as opsdeck and any console asks them: on AWS each region is its own
endpoint). moto serves concurrent requests in one Python process, so "at
once" is its own time for opsdeck's pattern of requests.

  python3 benches/aws_compare.py --instances 5000 --objects 100000

Run: cargo build --release && python3 benches/aws_compare.py [--runs N]
Needs moto[server] and awscli (pip install 'moto[server]' awscli).
"""

import argparse
import concurrent.futures
import gc
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSDECK = os.path.join(ROOT, "target", "release", "opsdeck")
REGIONS = ["eu-north-1", "us-east-1"]
CREDS = Credentials("testing", "testing")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_get(url, service, region, body=None, method="GET"):
    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} if body else {})
    SigV4Auth(CREDS, service, region).add_auth(req)
    r = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=dict(req.headers))
    with urllib.request.urlopen(r) as resp:
        return resp.read()


def raw_instances(endpoint, at_once=False):
    if at_once:
        with concurrent.futures.ThreadPoolExecutor(len(REGIONS)) as pool:
            list(pool.map(lambda r: raw_region_instances(endpoint, r), REGIONS))
    else:
        for region in REGIONS:
            raw_region_instances(endpoint, region)


def raw_region_instances(endpoint, region):
    token = None
    while True:
        body = "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000"
        if token:
            body += "&NextToken=" + urllib.parse.quote(token, safe="")
        data = signed_get(endpoint + "/", "ec2", region, body=body, method="POST")
        m = re.search(rb"<nextToken>([^<]+)</nextToken>", data)
        if not m:
            break
        token = m.group(1).decode()


def raw_objects(endpoint, bucket):
    token = None
    while True:
        url = f"{endpoint}/{bucket}?list-type=2&delimiter=%2F&max-keys=1000"
        if token:
            url += "&continuation-token=" + urllib.parse.quote(token, safe="")
        data = signed_get(url, "s3", "us-east-1")
        m = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", data)
        if not m:
            break
        token = m.group(1).decode()


def raw_first_instances_page(endpoint, size=1000):
    body = f"Action=DescribeInstances&Version=2016-11-15&MaxResults={size}"
    signed_get(endpoint + "/", "ec2", REGIONS[0], body=body, method="POST")


def raw_first_objects_page(endpoint, bucket):
    signed_get(f"{endpoint}/{bucket}?list-type=2&delimiter=%2F&max-keys=1000", "s3", "us-east-1")


def streamed(cmd, env):
    """(seconds to the first row, seconds to the end, rows)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    t_first = time.perf_counter() - t
    rows = 1 if first else 0
    for _ in p.stdout:
        rows += 1
    p.wait()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.read().decode()}")
    return t_first, time.perf_counter() - t, rows


def first_rows(cmd, env, runs):
    got = [streamed(cmd, env) for _ in range(runs)]
    return statistics.median(g[0] for g in got), statistics.median(g[1] for g in got), got[0][2]


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def run(cmd, env):
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr.decode()}")
    return out.stdout


def serve(port, bucket, objects):
    """A moto server whose S3 bucket is filled by its own process first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    import moto.server

    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    s3.create_bucket(bucket, "us-east-1")
    for i in range(objects):
        s3.put_object(bucket, f"attachment-{i:06d}.pdf", b"x")
    # Out of the collector's sight: scanning 100,000 keys at every full
    # collection made each later request seconds slower.
    gc.collect()
    gc.freeze()
    moto.server.main(["-H", "127.0.0.1", "-p", str(port)])


def start_server(servers, cmd):
    """Start a server on a free loopback port ("{port}" in cmd); its endpoint."""
    port = free_port()
    server = subprocess.Popen([c.replace("{port}", str(port)) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers.append(server)
    for _ in range(3000):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None:
                sys.exit(f"{cmd[0]} did not start")
            time.sleep(0.1)
    sys.exit(f"{cmd[0]} did not answer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    bucket = "bench-objects"
    if args.serve:
        return serve(args.serve, bucket, args.objects)
    if not os.path.exists(OPSDECK):
        sys.exit("build first: cargo build --release")

    servers = []
    try:
        print(f"seeding {args.objects} objects in the S3 server's process …", flush=True)
        s3_ep = start_server(servers, [sys.executable, __file__, "--serve", "{port}", "--objects", str(args.objects)])
        endpoint = start_server(servers, ["moto_server", "-H", "127.0.0.1", "-p", "{port}"])
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_PAGER="")
        env_s3 = dict(env, AWS_ENDPOINT_URL=s3_ep)
        kw = dict(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")

        print(f"launching {args.instances} instances in {REGIONS}, reservations of 1 to 3 …", flush=True)
        per_region = args.instances // len(REGIONS)
        for region in REGIONS:
            ec2 = boto3.client("ec2", region_name=region, **kw)
            left, k = per_region, 0
            while left:
                n = min(left, (1, 1, 2, 3)[k % 4])
                k += 1
                # No tags: moto's RunInstances with tags slows down with every
                # instance there is (5,000 took over 15 minutes).
                ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.medium")
                left -= n

        cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        cfg.write(f'[[context]]\nname = "bench"\nprovider = "aws"\nregions = {REGIONS!r}\n'.replace("'", '"'))
        cfg.close()
        home = tempfile.mkdtemp()
        env_op = dict(env, XDG_STATE_HOME=home, XDG_DATA_HOME=home, XDG_CONFIG_HOME=home)
        env_op_s3 = dict(env_op, AWS_ENDPOINT_URL=s3_ep)
        op = [OPSDECK, "--config", cfg.name, "--context", "bench"]

        # Sanity: everyone sees the same numbers.
        import json
        got = len(json.loads(run(op + ["ls", "instances", "--json"], env_op)))
        assert got == args.instances, got
        got = len(json.loads(run(op + ["ls", "objects", bucket, "--json"], env_op_s3)))
        assert got == args.objects, got

        rows = []
        raw = timed(lambda: raw_instances(endpoint), args.runs)
        raw_at_once = timed(lambda: raw_instances(endpoint, at_once=True), args.runs)
        ops = timed(lambda: run(op + ["ls", "instances", "--json"], env_op), args.runs)
        cli = timed(lambda: [run(["aws", "ec2", "describe-instances", "--region", r, "--output", "json"], env) for r in REGIONS], args.runs)
        rows.append(("instances", args.instances, raw, ops, cli))
        raw = timed(lambda: raw_objects(s3_ep, bucket), args.runs)
        ops = timed(lambda: run(op + ["ls", "objects", bucket, "--json"], env_op_s3), args.runs)
        cli = timed(lambda: run(["aws", "s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/", "--output", "json"], env_s3), args.runs)
        rows.append(("objects", args.objects, raw, ops, cli))

        firsts = []
        raw_first = timed(lambda: raw_first_instances_page(endpoint), args.runs)[0]
        raw_small = timed(lambda: raw_first_instances_page(endpoint, 50), args.runs)[0]
        f, total, n = first_rows(op + ["ls", "instances", "--stream"], env_op, args.runs)
        assert n == args.instances, n
        firsts.append(("instances", n, raw_first, rows[0][2][0], f, total))
        raw_first = timed(lambda: raw_first_objects_page(s3_ep, bucket), args.runs)[0]
        f, total, n = first_rows(op + ["ls", "objects", bucket, "--stream"], env_op_s3, args.runs)
        assert n == args.objects, n
        firsts.append(("objects", n, raw_first, rows[1][2][0], f, total))

        print(f"\nmedian of {args.runs} runs (min in brackets), seconds")
        print(f"{'listing':<10} {'n':>6} {'raw':>14} {'opsdeck':>14} {'awscli':>14} {'opsdeck/raw':>12} {'awscli/opsdeck':>15}")
        for name, n, (r, rmin), (o, omin), (c, cmin) in rows:
            print(f"{name:<10} {n:>6} {r:>7.3f} [{rmin:.3f}] {o:>7.3f} [{omin:.3f}] {c:>7.3f} [{cmin:.3f}] {o / r:>12.3f} {c / o:>15.2f}")
        print(f"raw instances with the regions asked at once (as opsdeck asks them): {raw_at_once[0]:.3f} [{raw_at_once[1]:.3f}] s;"
              f" opsdeck / that: {rows[0][3][0] / raw_at_once[0]:.3f}")
        print("\nfirst rows: opsdeck ls --stream (process start to first row) vs the raw first page (a full one), ms; totals in s")
        print(f"{'listing':<10} {'n':>6} {'raw page 1':>11} {'opsdeck row 1':>14} {'gap':>7} {'raw total':>10} {'opsdeck total':>14} {'total/raw':>10}")
        for name, n, rf, rt, of, ot in firsts:
            print(f"{name:<10} {n:>6} {rf * 1000:>11.1f} {of * 1000:>14.1f} {(of - rf) * 1000:>7.1f} {rt:>10.3f} {ot:>14.3f} {ot / rt:>10.3f}")
        print(f"raw first page of 50 instances (opsdeck's first page when it streams): {raw_small * 1000:.1f} ms")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
