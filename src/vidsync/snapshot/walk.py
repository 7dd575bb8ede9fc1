"""The local walk in parallel: manifest lines encoded and compressed by worker processes.

The manifest's order is depth-first, each folder's entries sorted by name, a
folder before its children (``LocalSource.entries``). That order is cut into
*units*: the contents of one sub-folder, in order. The parent lists the top
levels itself until there are enough units to share, then forked workers take
units one at a time (a ticket pipe gives the next index), walk each one and
append its entries as one complete gzip member to the worker's file. Joined in
unit order, the members form one gzip stream whose text is exactly what the
serial walk writes: step 4 only copies bytes.

Workers list a folder by file descriptor and ``lstat`` its names relative to it
(``fstatat``: no path resolution per entry), encode each entry straight to its
JSON line (no model objects), and compress in the same process, so the walk,
the encoding and the compression all run on every core. Threads cannot do this:
the per-entry Python work holds the GIL.

What the serial walk skips is skipped here too, counted by kind; an entry whose
full path is longer than PATH_MAX stays unreadable (as it is by path), and if
the project folder itself vanishes, the walk raises SourceError.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gc
import os
import pickle
import select
import signal
import stat
import struct
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import BinaryIO

from vidsync.snapshot.manifest import Part, display_path
from vidsync.snapshot.skips import SkipKind, SkipLog
from vidsync.snapshot.source import CancelToken, SourceError, StepProgress

# Same level as the serial manifest writer (manifest._COMPRESS_LEVEL).
COMPRESS_LEVEL = 3
# A full path this long (bytes, without the NUL) cannot be opened by path on Linux.
PATH_MAX = 4096
# The parent stops splitting the tree at this many units (one record each in memory).
MAX_UNITS = 16_000
# Split the top levels until there are this many units per worker (load balance).
UNITS_PER_WORKER = 8
_O_DIR = os.O_RDONLY | os.O_DIRECTORY
_FLUSH_CHARS = 1 << 18
_PROGRESS_EVERY = 4096
_POLL_MS = 50
# A lead up to this many bytes is stored in its gzip member, not compressed.
_STORED_MAX = 2048

# A run of listed entries: their manifest lines (each with ",\n" first); when the run
# ends with a folder, that folder's path and rel (its contents come next).
_Item = tuple[str, str | None, str]


def default_workers() -> int:
    """One worker per core this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass
class Tally:
    entries: int = 0
    files: int = 0
    directories: int = 0
    total_bytes: int = 0

    def add(self, other: Tally) -> None:
        self.entries += other.entries
        self.files += other.files
        self.directories += other.directories
        self.total_bytes += other.total_bytes


@dataclass
class WalkResult:
    """The gzip members, in manifest order, each with its entry count."""

    parts: list[Part]
    tally: Tally


@dataclass
class _Unit:
    lead: str  # lines written before the folder's contents (its own line among them)
    path: str
    rel: str


@dataclass
class _Done:
    tally: Tally = field(default_factory=Tally)
    skips: list[tuple[SkipKind, str]] = field(default_factory=list)
    part: Part | None = None


class Lister:
    """Lists one folder at a time into encoded manifest lines, and tallies them."""

    def __init__(self, root: str, on_skip: Callable[[SkipKind, str], None]) -> None:
        self.root = root
        self.on_skip = on_skip
        self.tally = Tally()
        self._second = -1
        self._prefix = ""

    def items(self, path: str, rel: str, *, follow: bool = False) -> list[_Item] | None:
        """The entries of folder ``path`` (``rel`` in the manifest; "" for the root)."""
        try:
            fd = os.open(path, _O_DIR if follow else _O_DIR | os.O_NOFOLLOW)
        except FileNotFoundError:
            self.on_skip(SkipKind.VANISHED, rel or ".")
            return None
        except OSError:
            self.on_skip(SkipKind.UNREADABLE, rel or ".")
            return None
        try:
            try:
                names = os.listdir(fd)
            except FileNotFoundError:
                self.on_skip(SkipKind.VANISHED, rel or ".")
                return None
            except OSError:
                self.on_skip(SkipKind.UNREADABLE, rel or ".")
                return None
            return self._encode(fd, path, rel + "/" if rel else "", sorted(names))
        finally:
            os.close(fd)

    def _encode(self, fd: int, path: str, prefix: str, names: list[str]) -> list[_Item]:
        # Items are runs of lines, each run ending with a folder's line (then its
        # contents come), the last one maybe with none: the walk loops per folder.
        out: list[_Item] = []
        lines: list[str] = []
        append, lstat, enc = lines.append, os.lstat, encode_basestring
        S_ISDIR, S_ISREG, S_ISLNK = stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK
        entries = files = directories = total = 0
        # Below this many characters no path can reach PATH_MAX bytes (4 bytes a character).
        short = len(path) + 1 + 255 < PATH_MAX // 4
        # '"name":"<name>","path":"<prefix><name>"' from one escape of the name.
        ascii_prefix = prefix.isascii()
        path_open = enc(prefix)[:-1]
        last_second, stamp = self._second, self._prefix
        for name in names:
            try:
                st = lstat(name, dir_fd=fd)
            except FileNotFoundError:
                self.on_skip(SkipKind.VANISHED, prefix + name)
                continue
            except OSError:
                self.on_skip(SkipKind.UNREADABLE, prefix + name)
                continue
            if not short and len(os.fsencode(f"{path}/{name}")) >= PATH_MAX:
                self.on_skip(SkipKind.UNREADABLE, prefix + name)  # as lstat by path says
                continue
            mode = st.st_mode
            if ascii_prefix and name.isascii():
                shown = enc(name)
                names_json = f'"name":{shown},"path":{path_open}{shown[1:]}'
                raw = None
            else:
                text, raw = display_path(prefix + name)
                names_json = f'"name":{enc(text.rpartition("/")[2])},"path":{enc(text)}'
            second, frac = divmod(st.st_mtime_ns, 1_000_000_000)
            if second != last_second:
                last_second = second
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            end = "}" if raw is None else f',"pathBase64":"{base64.b64encode(raw).decode()}"}}'
            if S_ISREG(mode):
                size = st.st_size
                append(f',\n{{{names_json},"size":{size},"isDirectory":false,'
                       f'"modTime":"{stamp}.{frac:09d}Z"{end}')
                files += 1
                total += size
            elif S_ISDIR(mode):
                append(f',\n{{{names_json},"size":0,"isDirectory":true,'
                       f'"modTime":"{stamp}.{frac:09d}Z"{end}')
                out.append(("".join(lines), f"{path}/{name}", prefix + name))
                lines.clear()
                directories += 1
            elif S_ISLNK(mode):
                size = st.st_size
                append(f',\n{{{names_json},"size":{size},"isDirectory":false,'
                       f'"modTime":"{stamp}.{frac:09d}Z","isSymlink":true{end}')
                files += 1
                total += size
            else:  # sockets, FIFOs, devices: nothing a collaborator could sync
                self.on_skip(SkipKind.SPECIAL, prefix + name)
                continue
            entries += 1
        if lines:
            out.append(("".join(lines), None, ""))
        self._second, self._prefix = last_second, stamp
        tally = self.tally
        tally.entries += entries
        tally.files += files
        tally.directories += directories
        tally.total_bytes += total
        return out

    def walk(self, unit: _Unit, write: Callable[[str], None],
             tick: Callable[[], None] = lambda: None) -> None:
        """Write every entry below ``unit``'s folder, depth first (not its lead)."""
        top = self.items(unit.path, unit.rel)
        if not top:
            return
        stack = [top[::-1]]
        while stack:
            pending = stack[-1]
            if not pending:
                stack.pop()
                continue
            line, child, rel = pending.pop()
            write(line)
            if child is not None:
                below = self.items(child, rel)
                tick()
                if below:
                    stack.append(below[::-1])


class _Member:
    """One gzip member appended to an open file, written from text."""

    def __init__(self, file: BinaryIO, level: int) -> None:
        self._file = file
        self.offset = file.tell()
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip framing
        self._text: list[str] = []
        self._chars = 0

    def write(self, text: str) -> None:
        self._text.append(text)
        self._chars += len(text)
        if self._chars >= _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        self._file.write(self._zip.compress("".join(self._text).encode("utf-8")))
        self._text.clear()
        self._chars = 0

    def close(self) -> int:
        """Finish the member; its length in bytes."""
        self._flush()
        self._file.write(self._zip.flush())
        return self._file.tell() - self.offset


class ParallelWalk:
    """Walk ``root`` into gzip parts under ``out_dir`` with ``workers`` processes."""

    def __init__(self, root: str, skips: SkipLog, check_root: Callable[[], None],
                 out_dir: Path, workers: int, level: int = COMPRESS_LEVEL,
                 nice: int = 0) -> None:
        self.root = root
        self.skips = skips
        self.check_root = check_root
        self.out_dir = out_dir
        self.workers = workers
        self.level = level
        self.nice = nice  # added to the workers' niceness
        self.worker_pids: list[int] = []  # the processes the last run forked

    def _skip(self, kind: SkipKind, rel: str) -> None:
        if kind is not SkipKind.SPECIAL:
            self.check_root()  # may mean the whole folder went: that fails the snapshot
        self.skips.add(kind, display_path(rel)[0])

    def run(self, progress: StepProgress, cancel: CancelToken) -> WalkResult:
        lister = Lister(self.root, self._skip)
        top = lister.items(self.root, "", follow=True)
        if top is None:
            raise SourceError(f"cannot list folder {self.root}")
        units, tail = _split(top)
        target = self.workers * UNITS_PER_WORKER
        while units and len(units) < target:
            cancel.check()
            units, more = _expand(units, lister)
            tail = more + tail
        progress.advance(lister.tally.entries)
        # The first entry of the manifest has no "," before it.
        if units:
            units[0].lead = units[0].lead[2:]
        else:
            tail = tail[2:]
        tally = Tally()
        tally.add(lister.tally)
        if self.workers > 1 and len(units) > 1:
            done = self._fork(units, progress, cancel)
        else:
            done = self._here(units, progress, cancel)
        # Each unit's lead is a member of its own, so that its contents are whole
        # members: the manifest's index lists them, and a reader that needs only
        # the folder's totals skips them.
        parts: list[Part] = []
        leads_path = self.out_dir / "part-leads.gz"
        with open(leads_path, "wb") as leads:

            def lead(text: str) -> Part:
                offset = leads.tell()
                data = text.encode("utf-8")
                if len(data) <= _STORED_MAX:  # most leads: one folder's line
                    leads.write(_stored_member(data))
                    return Part(leads_path, offset, leads.tell() - offset, _count_lines(text))
                member = _Member(leads, self.level)
                member.write(text)
                return Part(leads_path, offset, member.close(), _count_lines(text))

            for unit, unit_done in zip(units, done, strict=True):
                tally.add(unit_done.tally)
                for kind, rel in unit_done.skips:
                    self.skips.add(kind, rel)
                assert unit_done.part is not None
                path, offset, length, *_ = unit_done.part
                unit_tally = unit_done.tally
                parts.append(lead(unit.lead))
                parts.append(Part(path, offset, length, unit_tally.entries,
                                  display_path(unit.rel)[0], unit_tally.files,
                                  unit_tally.total_bytes))
            parts.append(lead(tail))
        return WalkResult(parts, tally)

    def _here(self, units: list[_Unit], progress: StepProgress,
              cancel: CancelToken) -> list[_Done]:
        """The units walked in this process (one core, or too little to share)."""
        done: list[_Done] = []
        path = self.out_dir / "part-main.gz"
        with open(path, "wb") as file:
            for unit in units:
                cancel.check()
                result = _Done()
                lister = Lister(self.root, functools.partial(self._unit_skip, result))
                member = _Member(file, self.level)
                lister.walk(unit, member.write)
                result.part = Part(path, member.offset, member.close(), 0)
                result.tally = lister.tally
                progress.advance(lister.tally.entries)
                done.append(result)
        return done

    def _unit_skip(self, result: _Done, kind: SkipKind, rel: str) -> None:
        if kind is not SkipKind.SPECIAL:
            self.check_root()
        result.skips.append((kind, display_path(rel)[0]))

    def _fork(self, units: list[_Unit], progress: StepProgress,
              cancel: CancelToken) -> list[_Done]:
        tickets_r, tickets_w = os.pipe()
        tickets = _Tickets(tickets_w, len(units))
        pids: dict[int, int] = {}  # result fd -> worker pid
        ended = False
        # The workers' garbage collector must not write to every object they inherit
        # (each write copies a page): what exists now is left out of collections.
        gc.freeze()
        try:
            for worker in range(min(self.workers, len(units))):
                result_r, result_w = os.pipe()
                with warnings.catch_warnings():
                    # Python >= 3.12 warns on fork() in a threaded process; the child
                    # only walks, writes files and exits (no locks, no imports).
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:  # pragma: no cover - runs in the child
                    os.close(result_r)
                    os.close(tickets_w)  # or it would never see the end of the tickets
                    _child(self, units, tickets_r, result_w,
                           self.out_dir / f"part-w{worker}.gz")
                os.close(result_w)
                pids[result_r] = pid
                self.worker_pids.append(pid)
            gc.unfreeze()
            done = self._collect(units, pids, tickets, progress, cancel)
            ended = True
            return done
        finally:
            gc.unfreeze()
            os.close(tickets_r)
            tickets.close()
            for fd, pid in pids.items():
                if not ended:  # cancelled or failed: stop the others now
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.waitpid(pid, 0)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _collect(self, units: list[_Unit], pids: dict[int, int], tickets: _Tickets,
                 progress: StepProgress, cancel: CancelToken) -> list[_Done]:
        done: list[_Done | None] = [None] * len(units)
        buffers = {fd: bytearray() for fd in pids}
        poller = select.poll()
        for fd in pids:
            poller.register(fd, select.POLLIN)
        poller.register(tickets.fd, select.POLLOUT)
        open_fds = set(pids)
        while open_fds:
            cancel.check()
            for fd, _ in poller.poll(_POLL_MS):
                if fd == tickets.fd:
                    if tickets.feed():  # every ticket given: the workers see the end
                        poller.unregister(fd)
                        tickets.close()
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                buf = buffers[fd]
                buf += chunk
                while len(buf) >= 4:
                    size = int.from_bytes(buf[:4], "little")
                    if len(buf) < 4 + size:
                        break
                    message = pickle.loads(bytes(buf[4:4 + size]))
                    del buf[:4 + size]
                    kind = message[0]
                    if kind == "progress":
                        progress.advance(message[1])
                    elif kind == "done":
                        _, index, result, unreported = message
                        done[index] = result
                        progress.advance(unreported)
                    elif kind == "error":
                        raise SourceError(message[1])
        missing = [i for i, d in enumerate(done) if d is None]
        if missing:
            raise SourceError(
                f"a walk worker process ended before it walked {len(missing)} of "
                f"{len(units)} folders"
            )
        return [d for d in done if d is not None]


class _Tickets:
    """The write end of the pipe the workers draw units from: one ticket (a unit's
    index, 4 bytes) per unit. Written at most PIPE_BUF bytes at a time, so a write
    is whole or not at all and a worker's 4-byte read always gets a whole ticket."""

    def __init__(self, fd: int, units: int) -> None:
        os.set_blocking(fd, False)  # fed as the workers drain it
        self.fd = fd
        self._pending = b"".join(i.to_bytes(4, "little") for i in range(units))
        self._open = True

    def feed(self) -> bool:
        """Write what the pipe takes now; True once every ticket is written."""
        with contextlib.suppress(BlockingIOError):
            while self._pending:
                written = os.write(self.fd, self._pending[:select.PIPE_BUF])
                self._pending = self._pending[written:]
        return not self._pending

    def close(self) -> None:
        if self._open:
            self._open = False
            os.close(self.fd)


def _stored_member(data: bytes) -> bytes:
    """``data`` as a gzip member with one stored (uncompressed) deflate block: for a
    few lines, a compressor's set-up costs 30x more than it saves."""
    head = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x00\xff"  # no flags, no mtime, OS unknown
    block = b"\x01" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF)  # final, stored
    return head + block + data + struct.pack("<II", zlib.crc32(data), len(data))


def _count_lines(text: str) -> int:
    """Entries in a run of lines that each start with ",\\n" (the first maybe not)."""
    # Encoded lines hold no raw newline: each one after the first adds one.
    if not text:
        return 0
    return text.count("\n") + (0 if text.startswith(",\n") else 1)


def _split(items: list[_Item]) -> tuple[list[_Unit], str]:
    """A listed folder as units (one per sub-folder) and the lines after the last one."""
    out: list[_Unit] = []
    carry: list[str] = []
    for line, child, rel in items:
        carry.append(line)
        if child is not None:
            out.append(_Unit("".join(carry), child, rel))
            carry = []
    return out, "".join(carry)


def _expand(units: list[_Unit], lister: Lister) -> tuple[list[_Unit], str]:
    """Replace each unit by its folder's lines and one unit per sub-folder, in order."""
    out: list[_Unit] = []
    carry: list[str] = []
    for i, unit in enumerate(units):
        if len(out) >= MAX_UNITS:  # enough: keep the rest whole
            rest = units[i:]
            rest[0] = _Unit("".join(carry) + rest[0].lead, rest[0].path, rest[0].rel)
            return out + rest, ""
        carry.append(unit.lead)
        for line, child, rel in lister.items(unit.path, unit.rel) or ():
            carry.append(line)
            if child is not None:
                out.append(_Unit("".join(carry), child, rel))
                carry = []
    return out, "".join(carry)


def _child(walk: ParallelWalk, units: list[_Unit], tickets: int, results: int,
           path: Path) -> None:  # pragma: no cover - runs in a forked worker
    """A worker: walk the units whose tickets it draws into one file, one gzip
    member each, report each, then exit."""
    code = 0
    try:
        # Nothing the parent had open stays open here: a server's sockets (its port,
        # its clients' connections) must close when the server closes them, not when
        # this walk ends.
        _close_all_but(tickets, results)
        if walk.nice:
            os.nice(walk.nice)
        file = open(path, "wb")  # noqa: SIM115 - closed by the exit
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it kills us

        def send(message: object) -> None:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            frame = len(data).to_bytes(4, "little") + data
            while frame:
                frame = frame[os.write(results, frame):]

        reported = 0

        def tick() -> None:
            nonlocal reported
            if lister.tally.entries - reported >= _PROGRESS_EVERY:
                send(("progress", lister.tally.entries - reported))
                reported = lister.tally.entries

        while ticket := os.read(tickets, 4):
            index = int.from_bytes(ticket, "little")
            result = _Done()

            def skip(kind: SkipKind, rel: str, r: _Done = result) -> None:
                if kind is not SkipKind.SPECIAL:
                    walk.check_root()
                r.skips.append((kind, display_path(rel)[0]))

            lister = Lister(walk.root, skip)
            reported = 0
            member = _Member(file, walk.level)
            lister.walk(units[index], member.write, tick)
            result.part = Part(path, member.offset, member.close(), 0)
            file.flush()  # the parent reads it once told
            result.tally = lister.tally
            send(("done", index, result, lister.tally.entries - reported))
    except SourceError as exc:
        with contextlib.suppress(OSError):
            send(("error", str(exc)))
        code = 1
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            send(("error", f"walk worker: {type(exc).__name__}: {exc}"))
        code = 1
    finally:
        os._exit(code)


def _close_all_but(*keep: int) -> None:  # pragma: no cover - runs in a forked worker
    """Close every descriptor above stderr except ``keep``."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))
