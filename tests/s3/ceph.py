"""A private single-node Ceph cluster (mon + memstore OSD + radosgw) for tests and benchmarks.

    cluster = CephCluster(Path("/tmp/x"))
    cluster.start()            # ~15 s; raises CephStartError with the logs on failure
    cluster.endpoint_url, cluster.access_key, cluster.secret_key
    cluster.stop()

Everything binds to 127.0.0.1 on free ports and lives under the given directory;
the OSD keeps objects in memory (memstore), so nothing is written to a disk device.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")


class CephStartError(RuntimeError):
    """The cluster did not come up; the message carries the relevant logs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CephCluster:
    def __init__(self, root: Path, *, memstore_bytes: int = 2 << 30) -> None:
        self.root = root
        self.memstore_bytes = memstore_bytes
        self.fsid = str(uuid.uuid4())
        self.mon_port = free_port()
        self.rgw_port = free_port()
        self.access_key = "VIDSYNC" + secrets.token_hex(6).upper()
        self.secret_key = secrets.token_hex(20)
        self.conf = root / "ceph.conf"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self.start_seconds: float | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    # -- start -------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        started = time.monotonic()
        deadline = started + timeout
        missing = [b for b in _BINARIES if not _which(b)]
        if missing:
            raise CephStartError(
                f"missing {', '.join(missing)}: run scripts/setup.sh --test "
                "(Debian packages radosgw ceph-mon ceph-osd)"
            )
        try:
            self._write_config()
            self._start_mon(deadline)
            self._start_osd(deadline)
            self._start_rgw(deadline)
            self.start_seconds = time.monotonic() - started
        except BaseException as exc:
            logs = self.logs()
            self.stop()
            if isinstance(exc, CephStartError):
                raise CephStartError(f"{exc}\n{logs}") from None
            raise

    def _write_config(self) -> None:
        for sub in ("mon", "osd", "run", "log", "rgw"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        r = self.root
        # auth none + crc modes: one node, no keys to hand around; without the crc
        # modes radosgw loops on an auth error (-13). Pool size one: a single OSD.
        self.conf.write_text(
            f"""[global]
fsid = {self.fsid}
mon host = [v2:127.0.0.1:{self.mon_port}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon data avail warn = 1
mon data avail crit = 1
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = {self.memstore_bytes}
osd memory target = 939524096
osd op num shards = 1
run dir = {r}/run
admin socket = {r}/run/$name.asok
pid file = {r}/run/$name.pid
log file = {r}/log/$name.log
log to stderr = false
err to stderr = false
mon data = {r}/mon/$cluster-$id
osd data = {r}/osd/$cluster-$id
keyring = {r}/keyring
crash dir = {r}/crash

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
rgw data = {r}/rgw
rgw enable usage log = false
rgw thread pool size = 64
"""
        )

    def _run(self, *args: str, deadline: float) -> str:
        try:
            done = subprocess.run(
                list(args),
                capture_output=True,
                timeout=max(1.0, deadline - time.monotonic()),
                cwd=self.root,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CephStartError(f"{' '.join(args)} timed out") from None
        if done.returncode != 0:
            raise CephStartError(
                f"{' '.join(args)} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')}{done.stdout.decode(errors='replace')}"
            )
        return done.stdout.decode(errors="replace")

    def _spawn(self, name: str, *args: str) -> None:
        out = open(self.root / "log" / f"{name}.stderr", "wb")  # noqa: SIM115 (kept by the child)
        with out:
            self._procs[name] = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # a Ctrl-C reaches pytest, which stops them in order
                preexec_fn=_die_with_parent,
            )

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise CephStartError(f"{name} exited early with {proc.returncode}")

    def _ceph(self, *args: str, deadline: float) -> str:
        return self._run(
            "ceph", "-c", str(self.conf), "--connect-timeout", "10", *args, deadline=deadline
        )

    def _start_mon(self, deadline: float) -> None:
        c = str(self.conf)
        monmap = str(self.root / "monmap")
        self._run(
            "monmaptool",
            "--create",
            "--clobber",
            "--fsid",
            self.fsid,
            "--addv",
            "a",
            f"[v2:127.0.0.1:{self.mon_port}]",
            monmap,
            deadline=deadline,
        )
        self._run("ceph-mon", "-c", c, "--mkfs", "-i", "a", "--monmap", monmap, deadline=deadline)
        self._spawn("mon", "ceph-mon", "-c", c, "-i", "a", "-f")

    def _start_osd(self, deadline: float) -> None:
        c = str(self.conf)
        osd_uuid = str(uuid.uuid4())
        osd_id = self._ceph("osd", "new", osd_uuid, deadline=deadline).strip()
        (self.root / "osd" / f"ceph-{osd_id}").mkdir(exist_ok=True)
        self._run(
            "ceph-osd", "-c", c, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid, deadline=deadline
        )
        self._spawn("osd", "ceph-osd", "-c", c, "-i", osd_id, "-f")
        while "1 up" not in self._ceph("osd", "stat", deadline=deadline):
            self._check_alive()
            if time.monotonic() > deadline:
                raise CephStartError("the OSD did not come up in time")
            time.sleep(0.2)

    def _start_rgw(self, deadline: float) -> None:
        c = str(self.conf)
        self._spawn("rgw", "radosgw", "-c", c, "-n", "client.rgw", "-f")
        while not self._rgw_answers():
            self._check_alive()
            if time.monotonic() > deadline:
                raise CephStartError("radosgw did not answer in time")
            time.sleep(0.2)
        self._run(
            "radosgw-admin",
            "-c",
            c,
            "-n",
            "client.rgw",
            "user",
            "create",
            "--uid",
            "vidsync-test",
            "--display-name",
            "vidsync test",
            "--access-key",
            self.access_key,
            "--secret-key",
            self.secret_key,
            deadline=deadline,
        )

    def _rgw_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer (403 for anonymous) means it is serving
        except OSError:
            return False

    def client(self) -> Any:
        """A boto3 S3 client for this cluster's test user."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> Any:
        """Create ``name`` and return a client; the first writes are made here.

        radosgw creates its data pools on the first object and first multipart
        upload (~2 s each): doing that now keeps it out of timed tests and benchmarks.
        """
        s3 = self.client()
        s3.create_bucket(Bucket=name)
        upload = s3.create_multipart_upload(Bucket=name, Key=".warm-up")
        part = s3.upload_part(
            Bucket=name, Key=".warm-up", UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
        )
        s3.complete_multipart_upload(
            Bucket=name,
            Key=".warm-up",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        s3.delete_object(Bucket=name, Key=".warm-up")
        return s3

    # -- stop and logs -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every daemon (rgw first, so it does not spin on a missing OSD)."""
        for name in ("rgw", "osd", "mon"):
            proc = self._procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self, tail: int = 40) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").splitlines()[-tail:]
                parts.append(f"--- {path.name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(parts)


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the test run itself is killed, so no daemon is left."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _which(name: str) -> bool:
    return any(
        os.access(os.path.join(d, name), os.X_OK)
        for d in [*os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep), "/usr/sbin"]
    )
