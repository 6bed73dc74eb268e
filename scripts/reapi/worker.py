#!/usr/bin/env python3
"""Minimal REAPI v2 worker for BuildGrid's Bots API (RWAPI v1test2), for llpar's tests.

Uses only the protos bundled in the `buildgrid` PyPI package (tested with
buildgrid 0.2.53 and 0.4.4) plus grpcio.  One process = one bot = one lease
at a time; start several processes for several workers.

For each lease it: reads the Action (lease payload is an Action, or a Digest
of one) and the Command from CAS, materialises the input root in a scratch
directory, runs Command.arguments there with Command.environment_variables
(only those, unless --inherit-env), uploads output files/directories and
stdout/stderr to CAS and reports an ActionResult as the lease result.

Usage:
  python bgd_worker.py --remote 127.0.0.1:50051 [--instance ""] \
      [--bot-id NAME] [--work-dir DIR] [--property OSFamily=linux ...]
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import grpc

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import worker_pb2
from buildgrid._protos.google.rpc import code_pb2, status_pb2

LOG = logging.getLogger("bgd-worker")
BATCH_LIMIT = 1 << 20          # blobs above this go through ByteStream
CHUNK = 1 << 20
POLL_TIMEOUT_S = 40            # long-poll deadline for Create/UpdateBotSession
CREATE_TIMEOUT_S = 3             # see CreateBotSession below
HEARTBEAT_S = 5                # UpdateBotSession period while a lease runs
_stop = threading.Event()
_busy = threading.Event()


def digest_of(data: bytes) -> re_pb2.Digest:
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class Cas:
    def __init__(self, channel: grpc.Channel, instance: str):
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bs = bytestream_pb2_grpc.ByteStreamStub(channel)

    def _rname(self, d: re_pb2.Digest) -> str:
        base = f"blobs/{d.hash}/{d.size_bytes}"
        return f"{self.instance}/{base}" if self.instance else base

    def read(self, d: re_pb2.Digest) -> bytes:
        if d.size_bytes == 0:
            return b""
        if d.size_bytes <= BATCH_LIMIT:
            resp = self.cas.BatchReadBlobs(
                re_pb2.BatchReadBlobsRequest(instance_name=self.instance, digests=[d]))
            r = resp.responses[0]
            if r.status.code != code_pb2.OK:
                raise MissingBlob(d, r.status.message)
            return r.data
        buf = bytearray()
        for resp in self.bs.Read(bytestream_pb2.ReadRequest(resource_name=self._rname(d))):
            buf += resp.data
        return bytes(buf)

    def read_msg(self, d: re_pb2.Digest, msg_cls):
        m = msg_cls()
        m.ParseFromString(self.read(d))
        return m

    def write(self, data: bytes) -> re_pb2.Digest:
        d = digest_of(data)
        if d.size_bytes == 0:
            return d
        if d.size_bytes <= BATCH_LIMIT:
            resp = self.cas.BatchUpdateBlobs(re_pb2.BatchUpdateBlobsRequest(
                instance_name=self.instance,
                requests=[re_pb2.BatchUpdateBlobsRequest.Request(digest=d, data=data)]))
            st = resp.responses[0].status
            if st.code != code_pb2.OK:
                raise RuntimeError(f"BatchUpdateBlobs failed: {st}")
            return d
        name = f"{self.instance + '/' if self.instance else ''}uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}"

        def reqs():
            off = 0
            while True:
                chunk = data[off:off + CHUNK]
                last = off + len(chunk) >= len(data)
                yield bytestream_pb2.WriteRequest(resource_name=name if off == 0 else "",
                                                  write_offset=off, data=chunk, finish_write=last)
                off += len(chunk)
                if last:
                    return
        self.bs.Write(reqs())
        return d


class MissingBlob(Exception):
    def __init__(self, d, msg=""):
        super().__init__(f"missing blob {d.hash}/{d.size_bytes} {msg}")


def materialize(cas: Cas, dir_digest: re_pb2.Digest, path: str) -> None:
    os.makedirs(path, exist_ok=True)
    directory = cas.read_msg(dir_digest, re_pb2.Directory)
    for f in directory.files:
        fp = os.path.join(path, f.name)
        with open(fp, "wb") as fh:
            fh.write(cas.read(f.digest))
        os.chmod(fp, 0o755 if f.is_executable else 0o644)
    for s in directory.symlinks:
        os.symlink(s.target, os.path.join(path, s.name))
    for sub in directory.directories:
        materialize(cas, sub.digest, os.path.join(path, sub.name))


def _file_node(cas: Cas, fp: str, name: str) -> re_pb2.FileNode:
    with open(fp, "rb") as fh:
        d = cas.write(fh.read())
    return re_pb2.FileNode(name=name, digest=d, is_executable=bool(os.stat(fp).st_mode & stat.S_IXUSR))


def upload_tree(cas: Cas, root: str) -> re_pb2.Digest:
    """Upload a directory as a REAPI Tree message; return the Tree's digest."""
    children: list[re_pb2.Directory] = []

    def build(path: str) -> re_pb2.Directory:
        dmsg = re_pb2.Directory()
        for name in sorted(os.listdir(path)):
            fp = os.path.join(path, name)
            if os.path.islink(fp):
                dmsg.symlinks.add(name=name, target=os.readlink(fp))
            elif os.path.isdir(fp):
                sub = build(fp)
                children.append(sub)
                dmsg.directories.add(name=name, digest=digest_of(sub.SerializeToString(deterministic=True)))
            elif os.path.isfile(fp):
                dmsg.files.append(_file_node(cas, fp, name))
        return dmsg

    root_msg = build(root)
    tree = re_pb2.Tree(root=root_msg, children=children)
    return cas.write(tree.SerializeToString(deterministic=True))


def execute_action(cas: Cas, action: re_pb2.Action, work_root: str, bot_id: str,
                   inherit_env: bool) -> re_pb2.ActionResult:
    meta = re_pb2.ExecutedActionMetadata(worker=bot_id)
    meta.worker_start_timestamp.GetCurrentTime()
    meta.input_fetch_start_timestamp.GetCurrentTime()
    command = cas.read_msg(action.command_digest, re_pb2.Command)
    scratch = tempfile.mkdtemp(prefix="action-", dir=work_root)
    try:
        materialize(cas, action.input_root_digest, scratch)
        meta.input_fetch_completed_timestamp.GetCurrentTime()
        cwd = os.path.join(scratch, command.working_directory)
        # REAPI: the worker creates parent dirs of declared outputs (relative to working dir).
        outs = list(command.output_paths) or (list(command.output_files) + list(command.output_directories))
        for p in outs:
            os.makedirs(os.path.dirname(os.path.join(cwd, p)) or cwd, exist_ok=True)
        env = dict(os.environ) if inherit_env else {}
        env.update({e.name: e.value for e in command.environment_variables})
        timeout = action.timeout.seconds + action.timeout.nanos / 1e9 if action.HasField("timeout") else None
        meta.execution_start_timestamp.GetCurrentTime()
        result = re_pb2.ActionResult()
        try:
            # The action stays in the worker's process group, so `kill -- -PGID` of the
            # test harness also ends running actions (on timeout only the direct child is killed).
            proc = subprocess.run(list(command.arguments), cwd=cwd, env=env, capture_output=True,
                                  timeout=timeout)
            result.exit_code = proc.returncode
            stdout, stderr = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            result.exit_code = -1
            stdout, stderr = e.stdout or b"", (e.stderr or b"") + b"\n[worker] action timed out\n"
        except OSError as e:  # e.g. ENOENT for argv[0]
            result.exit_code = 127
            stdout, stderr = b"", f"[worker] failed to start command: {e}\n".encode()
        meta.execution_completed_timestamp.GetCurrentTime()
        meta.output_upload_start_timestamp.GetCurrentTime()
        result.stdout_digest.CopyFrom(cas.write(stdout))
        result.stderr_digest.CopyFrom(cas.write(stderr))
        for p in outs:
            fp = os.path.join(cwd, p)
            if os.path.isfile(fp):
                node = _file_node(cas, fp, p)
                result.output_files.add(path=p, digest=node.digest, is_executable=node.is_executable)
            elif os.path.isdir(fp):
                result.output_directories.add(path=p, tree_digest=upload_tree(cas, fp))
        meta.output_upload_completed_timestamp.GetCurrentTime()
        meta.worker_completed_timestamp.GetCurrentTime()
        result.execution_metadata.CopyFrom(meta)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_lease(cas: Cas, lease: bots_pb2.Lease, args) -> None:
    """Fill lease.result/status and mark it COMPLETED (in place)."""
    LOG.info("lease %s started", lease.id)
    try:
        if lease.payload.Is(re_pb2.Action.DESCRIPTOR):
            action = re_pb2.Action()
            lease.payload.Unpack(action)
        else:
            d = re_pb2.Digest()
            lease.payload.Unpack(d)
            action = cas.read_msg(d, re_pb2.Action)
        result = execute_action(cas, action, args.work_dir, args.bot_id, args.inherit_env)
        lease.result.Pack(result)
        lease.status.CopyFrom(status_pb2.Status(code=code_pb2.OK))
        LOG.info("lease %s done exit_code=%d", lease.id, result.exit_code)
    except MissingBlob as e:
        lease.status.CopyFrom(status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(e)))
        LOG.warning("lease %s failed: %s", lease.id, e)
    except Exception as e:  # INTERNAL makes BuildGrid retry the job (max-job-attempts)
        LOG.exception("lease %s crashed", lease.id)
        lease.status.CopyFrom(status_pb2.Status(code=code_pb2.INTERNAL, message=repr(e)))
    lease.state = bots_pb2.LeaseState.COMPLETED


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--remote", default="127.0.0.1:50051")
    ap.add_argument("--instance", default="")
    ap.add_argument("--bot-id", default=f"{socket.gethostname()}-{os.getpid()}")
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--property", action="append", default=[],
                    help="KEY=VALUE platform property advertised by the bot (repeatable)")
    ap.add_argument("--inherit-env", action="store_true",
                    help="start from the worker's environment instead of an empty one")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.bot_id} %(levelname)s %(message)s")
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix=f"bgd-worker-{args.bot_id}-")
    os.makedirs(args.work_dir, exist_ok=True)

    def on_signal(*_):
        # exit at once when idle (we may be blocked in a long-poll); finish the lease otherwise
        _stop.set()
        if not _busy.is_set():
            os._exit(0)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    channel = grpc.insecure_channel(args.remote, options=[
        ("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)])
    cas = Cas(channel, args.instance)
    bots = bots_pb2_grpc.BotsStub(channel)

    props = args.property or ["OSFamily=linux"]
    device = worker_pb2.Device(handle=args.bot_id, properties=[
        worker_pb2.Device.Property(key=k, value=v) for k, v in (p.split("=", 1) for p in props)])
    session = bots_pb2.BotSession(
        bot_id=args.bot_id, status=bots_pb2.BotStatus.OK,
        worker=worker_pb2.Worker(devices=[device]))

    # CreateBotSession (retry until the server is up)
    while not _stop.is_set():
        try:
            # A short deadline (< 3.75 s) makes BuildGrid skip its lease long-poll in CreateBotSession
            # (it only waits when 0.8*deadline >= NETWORK_TIMEOUT=3 s), so registration returns at once;
            # leases are then long-polled with UpdateBotSession.
            session = bots.CreateBotSession(
                bots_pb2.CreateBotSessionRequest(parent=args.instance, bot_session=session),
                timeout=CREATE_TIMEOUT_S, wait_for_ready=True)
            break
        except grpc.RpcError as e:
            LOG.info("CreateBotSession: %s (server not up yet?), retrying", e.code())
            time.sleep(1)
    LOG.info("bot session %s", session.name)

    while not _stop.is_set():
        runnable = [l for l in session.leases if l.state in (bots_pb2.LeaseState.PENDING, bots_pb2.LeaseState.ACTIVE)]
        if runnable:
            lease = runnable[0]
            lease.state = bots_pb2.LeaseState.ACTIVE
            # run on a copy so heartbeats below can send the ACTIVE lease meanwhile
            work = bots_pb2.Lease()
            work.CopyFrom(lease)
            t = threading.Thread(target=run_lease, args=(cas, work, args), daemon=True)
            _busy.set()
            t.start()
            while t.is_alive():
                t.join(HEARTBEAT_S)
                if t.is_alive():      # keepalive while the action runs (non-blocking: we hold a lease)
                    try:
                        session = bots.UpdateBotSession(bots_pb2.UpdateBotSessionRequest(
                            name=session.name, bot_session=session), timeout=POLL_TIMEOUT_S)
                    except grpc.RpcError as e:
                        LOG.warning("heartbeat: %s %s", e.code(), e.details())
            for l in session.leases:
                if l.id == work.id:
                    l.CopyFrom(work)
            _busy.clear()
        try:
            session = bots.UpdateBotSession(
                bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                timeout=POLL_TIMEOUT_S)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                continue
            LOG.warning("UpdateBotSession: %s %s", e.code(), e.details())
            time.sleep(1)
    LOG.info("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
