"""opsdeck's SSM test peer: the moto server whose SSM side executes commands.

Usage (the tests start it, one per test binary, on a free loopback port):

    OPSDECK_PEER_DIR=DIR python ssm_peer.py -H 127.0.0.1 -p PORT

moto answers the SSM API but runs nothing: SendCommand is an instant Success
with empty output, and without Targets it sends to *every* EC2 instance of
the region. This file patches moto 5.2 in place (plain monkey-patching of its
backend and response classes, no fork) so that Run Command behaves like
Systems Manager with an agent on each managed instance:

* Managed instances are the files DIR/hosts/<instance-id>.json, written by
  the tests: {"root": DIR, "env": {...}, "path_prepend": [...],
  "ping": "Online" | "ConnectionLost" | "Inactive", "region": "..."}.
  `root` is the instance's filesystem root (exported as OPSDECK_ROOT, the
  scripts' `${OPSDECK_ROOT:-}` prefix) and the script's working directory;
  AWS_SSM_INSTANCE_ID names the instance, as the SSM agent's does.
* SendCommand (AWS-RunShellScript): InstanceIds (each must be managed and in
  the region, else InvalidInstanceId) or Targets (InstanceIds, tag:K,
  tag-key; unmanaged instances are skipped), MaxConcurrency and MaxErrors
  (N or N%), TimeoutSeconds (delivery: an instance whose agent is not Online
  stays Pending, then DeliveryTimedOut), executionTimeout (the process group
  is killed: TimedOut / ExecutionTimedOut). Each invocation runs
  `bash -c SCRIPT` in its own process group, asynchronously.
* GetCommandInvocation walks Pending -> InProgress -> Success / Failed /
  TimedOut / Cancelled with the real exit code; it answers
  InvocationDoesNotExist until the invocation exists, 0.5 s after the send
  (SSM creates invocations asynchronously; OPSDECK_PEER_CREATE_MS changes
  it); stdout is cut at 24,000 and stderr at 8,000 characters.
* ListCommands (live status and counts), ListCommandInvocations (Details:
  plugin output cut at 2,500 characters; MaxResults/NextToken),
  CancelCommand (kills the invocations' process groups),
  DescribeInstanceInformation (PingStatus per managed instance; Filters by
  InstanceIds and PingStatus; MaxResults/NextToken).
* Not started because MaxErrors was reached: Cancelled / "Cancelled" (the
  peer's convention; AWS only says it stops sending to more targets).
* EC2 images and launches carry the agent along: CreateImage of a managed
  instance copies its root (to ROOT/../../images/<ami>, marked with the
  instance it first was, as opsdeck's sandbox does), and RunInstances of
  such an image makes the new instance managed, Online, with a copy of that
  tree as its root (ROOT/../<new-id>), its environment and region.
* Every SSM call is appended to DIR/calls.jsonl ({"t", "action", "command",
  "instance"}; "instance" joins InstanceIds with commas) so that tests and
  benchmarks count API calls per command and per instance.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2 import ec2_backends
from moto.ssm import models as ssm_models
from moto.ssm import responses as ssm_responses

PEER_DIR = os.environ.get("OPSDECK_PEER_DIR") or sys.exit("OPSDECK_PEER_DIR is not set")
HOSTS_DIR = os.path.join(PEER_DIR, "hosts")
CALLS = os.path.join(PEER_DIR, "calls.jsonl")
STDOUT_CAP = 24_000
STDERR_CAP = 8_000
PLUGIN_OUTPUT_CAP = 2_500
CREATE_DELAY = int(os.environ.get("OPSDECK_PEER_CREATE_MS", "500")) / 1000
TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")

LOCK = threading.RLock()
RUNS = {}  # command id -> CommandRun
CALL_LOCK = threading.Lock()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def host_file(instance_id):
    if "/" in instance_id or instance_id.startswith("."):
        return None
    path = os.path.join(HOSTS_DIR, instance_id + ".json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def managed_hosts():
    try:
        names = sorted(os.listdir(HOSTS_DIR))
    except OSError:
        return []
    out = []
    for name in names:
        if name.endswith(".json"):
            h = host_file(name[: -len(".json")])
            if h is not None:
                out.append((name[: -len(".json")], h))
    return out


def in_region(host, region):
    return host.get("region") in (None, region)


def limit(value, total, default):
    """MaxConcurrency / MaxErrors: "N" or "N%" of the targets."""
    value = (value or default).strip()
    try:
        if value.endswith("%"):
            pct = int(value[:-1])
            return max(1, (total * pct + 99) // 100) if pct > 0 else 0
        return int(value)
    except ValueError:
        raise JsonRESTError("ValidationException", f"invalid limit {value!r}")


class Invocation:
    def __init__(self, command, instance_id):
        self.command = command
        self.instance_id = instance_id
        self.status = "Pending"
        self.details = "Pending"
        self.code = -1
        self.stdout = ""
        self.stderr = ""
        self.start = None
        self.end = None
        self.proc = None
        self.created = time.monotonic() + CREATE_DELAY

    def finish(self, status, details, code):
        self.status, self.details, self.code = status, details, code
        self.end = now()

    def elapsed(self):
        if self.start is None:
            return "PT0S"
        secs = ((self.end or now()) - self.start).total_seconds()
        return f"PT{secs:.3f}S"

    def as_get(self):
        return {
            "CommandId": self.command.command_id,
            "InstanceId": self.instance_id,
            "Comment": self.command.comment,
            "DocumentName": self.command.document_name,
            "DocumentVersion": "$DEFAULT",
            "PluginName": "aws:runShellScript",
            "ResponseCode": self.code,
            "ExecutionStartDateTime": self.start.isoformat() if self.start else "",
            "ExecutionElapsedTime": self.elapsed(),
            "ExecutionEndDateTime": self.end.isoformat() if self.end else "",
            "Status": self.status,
            "StatusDetails": self.details,
            "StandardOutputContent": self.stdout[:STDOUT_CAP],
            "StandardOutputUrl": "",
            "StandardErrorContent": self.stderr[:STDERR_CAP],
            "StandardErrorUrl": "",
        }

    def as_listed(self, details):
        out = {
            "CommandId": self.command.command_id,
            "InstanceId": self.instance_id,
            "InstanceName": "",
            "Comment": self.command.comment,
            "DocumentName": self.command.document_name,
            "DocumentVersion": "$DEFAULT",
            "RequestedDateTime": self.command.requested_date_time,
            "Status": self.status,
            "StatusDetails": self.details,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "ServiceRole": "",
        }
        if details:
            plugin = {
                "Name": "aws:runShellScript",
                "Status": self.status,
                "StatusDetails": self.details,
                "ResponseCode": self.code,
                "Output": (self.stdout + self.stderr)[:PLUGIN_OUTPUT_CAP],
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
            }
            if self.start:
                plugin["ResponseStartDateTime"] = self.start
            if self.end:
                plugin["ResponseFinishDateTime"] = self.end
            out["CommandPlugins"] = [plugin]
        return out


class CommandRun:
    """The agent side of one command: runs its invocations, at most
    MaxConcurrency at a time, and stops sending once MaxErrors is passed."""

    def __init__(self, command, instance_ids):
        self.command = command
        self.invocations = {i: Invocation(command, i) for i in instance_ids}
        self.order = list(instance_ids)
        params = command.parameters or {}
        self.script = "\n".join(params.get("commands", []))
        try:
            self.exec_timeout = int((params.get("executionTimeout") or ["3600"])[0])
        except ValueError:
            self.exec_timeout = 3600
        total = len(self.order)
        self.max_concurrency = max(1, limit(command.max_concurrency, total, "50"))
        self.max_errors = limit(command.max_errors, total, "0")
        self.delivery_timeout = command.timeout_seconds or 3600
        self.cancelled = False
        threading.Thread(target=self.schedule, daemon=True).start()

    def errors(self):
        return sum(
            1
            for i in self.invocations.values()
            if i.status == "Failed" or (i.status == "TimedOut" and i.details == "ExecutionTimedOut")
        )

    def schedule(self):
        waiting = list(self.order)
        sent_at = time.monotonic()
        while True:
            with LOCK:
                if self.cancelled or self.errors() > self.max_errors:
                    why = "Cancelled"
                    for i in waiting:
                        self.invocations[i].finish("Cancelled", why, -1)
                    waiting = []
                running = [i for i in self.invocations.values() if i.status == "InProgress"]
                for iid in list(waiting):
                    if len(running) >= self.max_concurrency:
                        break
                    host = host_file(iid)
                    inv = self.invocations[iid]
                    if host is None or host.get("ping", "Online") != "Online":
                        if time.monotonic() - sent_at > self.delivery_timeout:
                            inv.finish("TimedOut", "DeliveryTimedOut", -1)
                            waiting.remove(iid)
                        continue
                    waiting.remove(iid)
                    self.start(inv, host)
                    running.append(inv)
                if not waiting and not running:
                    return
            time.sleep(0.05)

    def start(self, inv, host):
        root = host["root"]
        env = {
            "PATH": ":".join(list(host.get("path_prepend", [])) + [os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "OPSDECK_ROOT": root,
            # The agent tells a command which instance it runs on.
            "AWS_SSM_INSTANCE_ID": inv.instance_id,
        }
        env.update(host.get("env", {}))
        inv.status = inv.details = "InProgress"
        inv.start = now()
        inv.proc = subprocess.Popen(
            ["bash", "-c", self.script],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        threading.Thread(target=self.wait, args=(inv,), daemon=True).start()

    def wait(self, inv):
        try:
            out, err = inv.proc.communicate(timeout=self.exec_timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            kill_group(inv.proc)
            out, err = inv.proc.communicate()
            timed_out = True
        with LOCK:
            inv.stdout = out.decode("utf-8", "replace")
            inv.stderr = err.decode("utf-8", "replace")
            if inv.status == "Cancelled":
                return
            if timed_out:
                inv.finish("TimedOut", "ExecutionTimedOut", -1)
            elif inv.proc.returncode == 0:
                inv.finish("Success", "Success", 0)
            else:
                code = inv.proc.returncode
                inv.finish("Failed", "Failed", code if code >= 0 else 128 - code)

    def cancel(self, instance_ids):
        with LOCK:
            for iid, inv in self.invocations.items():
                if instance_ids and iid not in instance_ids:
                    continue
                if inv.status in TERMINAL:
                    continue
                if inv.proc is not None:
                    kill_group(inv.proc, wait=False)
                inv.finish("Cancelled", "Cancelled", -1)
            if not instance_ids:
                self.cancelled = True

    def status(self):
        """The command's aggregate status and counts, as ListCommands shows them."""
        invs = list(self.invocations.values())
        done = [i for i in invs if i.status in TERMINAL]
        errors = self.errors()
        delivery = sum(1 for i in invs if i.details == "DeliveryTimedOut")
        if self.cancelled:
            status = "Cancelled" if len(done) == len(invs) else "Cancelling"
        elif len(done) < len(invs):
            status = "InProgress" if any(i.start for i in invs) else "Pending"
        elif all(i.status == "Success" for i in invs):
            status = "Success"
        elif errors > self.max_errors:
            status = "Failed"
        else:
            status = "Failed" if errors else "TimedOut" if delivery else "Success"
        return status, len(done), errors, delivery


def kill_group(proc, wait=True):
    """TERM the invocation's process group, KILL it 2 s later."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def later():
        time.sleep(2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    if wait:
        later()
    else:
        threading.Thread(target=later, daemon=True).start()


# --- moto's Command: targets resolved like SSM, live status ---------------


def targets_instance_ids(self):
    ids = []
    ec2 = ec2_backends[self.account_id][self.backend_region]
    for t in self.targets:
        key, values = t.get("Key", ""), t.get("Values", [])
        if key == "InstanceIds":
            ids += values
        elif key.startswith("tag:") or key == "tag-key":
            for r in ec2.all_reservations(filters={key: values}):
                ids += [i.id for i in r.instances]
        else:
            raise JsonRESTError("InvalidTarget", f"unsupported target key {key}")
    return [i for i in ids if (h := host_file(i)) is not None and in_region(h, self.backend_region)]


ssm_models.Command._get_instance_ids_from_targets = targets_instance_ids

_response_object = ssm_models.Command.response_object


def response_object(self):
    out = _response_object(self)
    run = RUNS.get(self.command_id)
    if run is not None:
        with LOCK:
            status, completed, errors, delivery = run.status()
        out.update(
            Status=status,
            StatusDetails=status,
            CompletedCount=completed,
            ErrorCount=errors,
            DeliveryTimedOutCount=delivery,
            TargetCount=len(run.order),
            InstanceIds=self.instance_ids,
        )
    return out


ssm_models.Command.response_object = response_object

_send_command = ssm_models.SimpleSystemManagerBackend.send_command


def send_command(self, **kwargs):
    for iid in kwargs.get("instance_ids") or []:
        h = host_file(iid)
        if h is None or not in_region(h, self.region_name):
            raise JsonRESTError("InvalidInstanceId", f"Instances [[{iid}]] not in a valid state for account")
    if kwargs.get("document_name") != "AWS-RunShellScript":
        raise JsonRESTError("InvalidDocument", "the peer runs AWS-RunShellScript only")
    command = _send_command(self, **kwargs)
    # moto de-duplicates through a set; keep the order SSM was given.
    explicit = list(dict.fromkeys((kwargs.get("instance_ids") or []) + [i for i in command.instance_ids]))
    command.instance_ids = explicit
    with LOCK:
        RUNS[command.command_id] = CommandRun(command, explicit)
    return command


ssm_models.SimpleSystemManagerBackend.send_command = send_command


def get_command_invocation(self, command_id, instance_id, plugin_name):
    run = RUNS.get(command_id)
    if run is None:
        raise JsonRESTError("InvalidCommandId", "Invalid command id.")
    with LOCK:
        inv = run.invocations.get(instance_id)
        if inv is None or time.monotonic() < inv.created:
            raise JsonRESTError("InvocationDoesNotExist", "")
        return inv.as_get()


ssm_models.SimpleSystemManagerBackend.get_command_invocation = get_command_invocation


# --- the calls moto lacks ------------------------------------------------


def page(items, max_results, token, cap):
    start = int(token) if token else 0
    size = max(1, min(int(max_results or cap), cap))
    chunk = items[start : start + size]
    nxt = str(start + size) if start + size < len(items) else None
    return chunk, nxt


def list_command_invocations(self):
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details", False))
    rows = []
    with LOCK:
        runs = [RUNS[command_id]] if command_id in RUNS else ([] if command_id else list(RUNS.values()))
        for run in runs:
            if run.command.backend_region != self.region:
                continue
            for iid in run.order:
                if instance_id and iid != instance_id:
                    continue
                rows.append(run.invocations[iid].as_listed(details))
    chunk, nxt = page(rows, self._get_param("MaxResults"), self._get_param("NextToken"), 50)
    out = {"CommandInvocations": chunk}
    if nxt:
        out["NextToken"] = nxt
    return ActionResult(out)


def cancel_command(self):
    command_id = self._get_param("CommandId")
    run = RUNS.get(command_id)
    if run is None:
        raise JsonRESTError("InvalidCommandId", "Invalid command id.")
    run.cancel(self._get_param("InstanceIds") or [])
    return EmptyResult()


def describe_instance_information(self):
    want_ids, want_ping = None, None
    for f in (self._get_param("Filters") or []) + (self._get_param("InstanceInformationFilterList") or []):
        key = f.get("Key") or f.get("key")
        values = f.get("Values") or f.get("valueSet") or []
        if key == "InstanceIds":
            want_ids = set(values)
        elif key == "PingStatus":
            want_ping = set(values)
    rows = []
    for iid, h in managed_hosts():
        ping = h.get("ping", "Online")
        if not in_region(h, self.region):
            continue
        if want_ids is not None and iid not in want_ids:
            continue
        if want_ping is not None and ping not in want_ping:
            continue
        rows.append(
            {
                "InstanceId": iid,
                "PingStatus": ping,
                "LastPingDateTime": now(),
                "AgentVersion": "3.3.0.0",
                "IsLatestVersion": True,
                "PlatformType": "Linux",
                "PlatformName": "Debian GNU/Linux",
                "PlatformVersion": "12",
                "ResourceType": "EC2Instance",
                "ComputerName": h.get("name", iid),
                "IPAddress": "10.0.0.10",
            }
        )
    chunk, nxt = page(rows, self._get_param("MaxResults"), self._get_param("NextToken"), 50)
    out = {"InstanceInformationList": chunk}
    if nxt:
        out["NextToken"] = nxt
    return ActionResult(out)


R = ssm_responses.SimpleSystemManagerResponse
R.list_command_invocations = list_command_invocations
R.cancel_command = cancel_command
R.describe_instance_information = describe_instance_information

_call_action = R.call_action


def call_action(self):
    record = {
        "t": time.time(),
        "action": self._get_action(),
        "command": self._get_param("CommandId"),
        "instance": self._get_param("InstanceId") or ",".join(self._get_param("InstanceIds") or []) or None,
    }
    with CALL_LOCK, open(CALLS, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return _call_action(self)


R.call_action = call_action


# ---- images and launches carry the managed host along ----

from moto.ec2.models import EC2Backend  # noqa: E402
import shutil  # noqa: E402

IMAGES = os.path.join(PEER_DIR, "images.json")  # ami -> {"root", "host"}
ORIGIN = "var/lib/docker-sim/origin-host"


def images():
    try:
        with open(IMAGES, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)


_create_image = EC2Backend.create_image


def create_image(self, instance_id, name, description, tag_specifications):
    ami = _create_image(self, instance_id, name, description, tag_specifications)
    host = host_file(instance_id)
    if host is not None:
        root = os.path.abspath(host["root"])
        copy = os.path.join(os.path.dirname(os.path.dirname(root)), "images", ami.id)
        shutil.copytree(root, copy, symlinks=True)
        mark = os.path.join(copy, ORIGIN)
        if not os.path.exists(mark):
            os.makedirs(os.path.dirname(mark), exist_ok=True)
            origin = host.get("env", {}).get("OPSDECK_HOST") or instance_id
            with open(mark, "w", encoding="utf-8") as f:
                f.write(origin + "\n")
        with LOCK:
            known = images()
            known[ami.id] = {"root": copy, "host": host}
            write_json(IMAGES, known)
    return ami


_run_instances = EC2Backend.run_instances


def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    reservation = _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    image = images().get(image_id)
    if image is not None:
        for inst in reservation.instances:
            root = os.path.join(os.path.dirname(os.path.abspath(image["host"]["root"])), inst.id)
            shutil.copytree(image["root"], root, symlinks=True)
            host = dict(image["host"], root=root, ping="Online", region=self.region_name)
            host["env"] = dict(host.get("env", {}), OPSDECK_HOST=inst.id)
            write_json(os.path.join(HOSTS_DIR, inst.id + ".json"), host)
    return reservation


EC2Backend.create_image = create_image
EC2Backend.run_instances = run_instances


if __name__ == "__main__":
    os.makedirs(HOSTS_DIR, exist_ok=True)
    from moto.server import main

    main(sys.argv[1:])
