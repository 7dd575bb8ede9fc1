"""The snapshot manifest: streamed to disk, gzip-compressed, read back as a stream.

Format (one JSON document, laid out one entry per line so it can be streamed
both ways without holding the whole list in memory)::

    {"format":1,"projectId":...,"snapshotId":...,"createdAt":...,"fileCount":N,
     "directoryCount":D,"totalSize":BYTES,"skippedCount":K,"entries":[
    {"name":"a.mov","path":"clips/a.mov","size":1,"isDirectory":false,"modTime":"..."},
    ...
    ]}

``modTime`` is RFC 3339 UTC with nanoseconds. Symlinks add ``"isSymlink":true``.
A path that is not valid UTF-8 shows U+FFFD in ``name``/``path`` and carries its
exact bytes in ``pathBase64``.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import gzip
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple, cast

from vidsync.models import ManifestEntry, iso_utc
from vidsync.snapshot.index import Range, Summary, index_members, read_pieces


def display_path(rel: str) -> tuple[str, bytes | None]:
    """The text shown for a relative path, and its exact bytes if it is not valid UTF-8."""
    if rel.isascii():  # the common case, checked in C without encoding
        return rel, None
    try:
        rel.encode("utf-8")
        return rel, None
    except UnicodeEncodeError:
        raw = os.fsencode(rel)
        return raw.decode("utf-8", errors="replace"), raw

MANIFEST_SUFFIX = ".json.gz"
_ENTRIES_KEY = ',"entries":['
# Level 3: on manifests, 2x faster than the default 6 for ~10% more bytes.
_COMPRESS_LEVEL = 3
_CHUNK = 1 << 20

_encode: Callable[[str], str] = encode_basestring


class _TimeFormatter:
    """RFC 3339 with nanoseconds; caches the seconds part (files share it often)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ns: int) -> str:
        second, frac = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{frac:09d}Z"


def parse_mod_time(text: str) -> int:
    """Inverse of the manifest's modTime format, in nanoseconds."""
    # Fixed layout "YYYY-MM-DDTHH:MM:SS.fffffffffZ": slicing is ~10x faster than strptime.
    seconds = calendar.timegm(
        (int(text[0:4]), int(text[5:7]), int(text[8:10]),
         int(text[11:13]), int(text[14:16]), int(text[17:19]), 0, 0, 0)
    )
    frac = text[20:].rstrip("Z") if len(text) > 20 else ""
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0")[:9] or "0")


def entry_line(entry: ManifestEntry, fmt: Callable[[int], str]) -> str:
    name = entry.path.rpartition("/")[2]
    line = (
        f'{{"name":{_encode(name)},"path":{_encode(entry.path)},"size":{entry.size},'
        f'"isDirectory":{"true" if entry.is_directory else "false"},'
        f'"modTime":"{fmt(entry.mod_time_ns)}"'
    )
    if entry.is_symlink:
        line += ',"isSymlink":true'
    if entry.raw_path is not None:
        line += f',"pathBase64":"{base64.b64encode(entry.raw_path).decode("ascii")}"'
    return line + "}"


def entry_from_json(data: dict[str, Any]) -> ManifestEntry:
    raw = data.get("pathBase64")
    return ManifestEntry(
        path=data["path"],
        size=int(data["size"]),
        is_directory=bool(data["isDirectory"]),
        mod_time_ns=parse_mod_time(data["modTime"]),
        is_symlink=bool(data.get("isSymlink", False)),
        raw_path=base64.b64decode(raw) if raw else None,
    )


class Part(NamedTuple):
    """A gzip member inside a file: bytes ``offset`` to ``offset + length``.

    With ``folder``, the member holds exactly everything below that folder (its
    path in the manifest), and the manifest's index lists it with its totals.
    """

    path: Path
    offset: int
    length: int
    entries: int
    folder: str | None = None
    files: int = 0
    total_bytes: int = 0


class EntrySpool:
    """Step 3's output: entries encoded once, in a temporary file.

    It already holds the manifest's entry list as it will be compressed (one
    entry per line, separated by ``,``), so step 4 only compresses it. A
    parallel walk hands over its entries already compressed instead
    (``add_parts``): gzip members whose text, joined, is that same list, so
    step 4 only copies them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open(path, "w", encoding="utf-8", buffering=_CHUNK)  # noqa: SIM115
        self._fmt = _TimeFormatter()
        self.entry_count = 0
        self.file_count = 0
        self.directory_count = 0
        self.total_bytes = 0
        # The gzip members, in manifest order.
        self.parts: list[Part] = []

    def add_parts(self, parts: list[Part], files: int, directories: int,
                  total_bytes: int) -> None:
        """Take a whole entry list as gzip members (no ``add`` before or after)."""
        if self.entry_count or self.parts:
            raise ValueError("add_parts takes the whole entry list")
        self.parts = parts
        self.entry_count = sum(part.entries for part in parts)
        self.file_count = files
        self.directory_count = directories
        self.total_bytes = total_bytes

    def add(self, entry: ManifestEntry) -> None:
        if self.entry_count:
            self._file.write(",\n")
        self._file.write(entry_line(entry, self._fmt))
        self.entry_count += 1
        if entry.is_directory:
            self.directory_count += 1
        else:
            self.file_count += 1
            self.total_bytes += entry.size

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


@dataclass(frozen=True)
class ManifestHeader:
    project_id: str
    snapshot_id: str
    created_at: float
    file_count: int
    directory_count: int
    total_size: int
    skipped_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "projectId": self.project_id,
            "snapshotId": self.snapshot_id,
            "createdAt": iso_utc(self.created_at),
            "fileCount": self.file_count,
            "directoryCount": self.directory_count,
            "totalSize": self.total_size,
            "skippedCount": self.skipped_count,
        }


def write_manifest(
    spool: EntrySpool,
    header: ManifestHeader,
    out: Path,
    on_entries: Callable[[int], None],
    check: Callable[[], None],
) -> int:
    """Step 4: compress header and spooled entries into ``out``; returns its size.

    ``on_entries(n)`` is called as entries are compressed; ``check`` may raise to
    stop (cancellation).
    """
    spool.close()
    head = json.dumps(header.to_json(), separators=(",", ":"), ensure_ascii=False)
    opening = (head[:-1] + _ENTRIES_KEY + "\n").encode("utf-8")
    if spool.parts:
        return _join_parts(spool.parts, opening, out, on_entries, check)
    with (
        open(out, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=_COMPRESS_LEVEL, mtime=0) as gz,
        open(spool.path, "rb") as src,
    ):
        gz.write(opening)
        while chunk := src.read(_CHUNK):
            check()
            gz.write(chunk)
            on_entries(chunk.count(b"\n"))  # one newline between two entries
        if spool.entry_count:
            on_entries(1)  # the last entry has none after it
        gz.write(b"\n]}\n")
    return out.stat().st_size


def _member(text: bytes) -> bytes:
    """``text`` as one complete gzip member."""
    pack = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, 31)
    return pack.compress(text) + pack.flush()


def _join_parts(
    parts: list[Part],
    opening: bytes,
    out: Path,
    on_entries: Callable[[int], None],
    check: Callable[[], None],
) -> int:
    """A gzip file of several members reads as one stream (RFC 1952 §2.2): the
    header, the index of the folders' parts, the parts as they are, the closing
    bracket."""
    ranges, offset = [], 0
    for part in parts:
        if part.folder is not None:
            ranges.append(Range(part.folder, offset, part.length, part.entries, part.files,
                                part.total_bytes))
        offset += part.length
    with contextlib.ExitStack() as stack, open(out, "wb") as dst:
        dst.write(_member(opening))
        dst.write(index_members(ranges))
        sources: dict[Path, BinaryIO] = {}
        for part in parts:
            check()
            src = sources.get(part.path)
            if src is None:
                src = sources[part.path] = stack.enter_context(open(part.path, "rb"))
            src.seek(part.offset)
            left = part.length
            while left:
                chunk = src.read(min(left, _CHUNK))
                if not chunk:
                    raise OSError(f"{part.path} ends before its part at {part.offset}")
                dst.write(chunk)
                left -= len(chunk)
            on_entries(part.entries)
        dst.write(_member(b"\n]}\n"))
    return out.stat().st_size


def read_manifest_raw(stream: BinaryIO) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """Open a compressed manifest: its header now, its entries (as JSON objects) lazily."""
    header, entries = read_manifest_skipping(stream, _read_all)
    return header, cast(Iterator[dict[str, Any]], entries)  # nothing skipped: no Summary


def _read_all(folder: str) -> bool:
    return False


def read_manifest_skipping(
    stream: BinaryIO, totals_only: Callable[[str], bool],
    keep: Callable[[bytes], bool] | None = None,
) -> tuple[dict[str, Any], Iterator[dict[str, Any] | Summary]]:
    """Open a compressed manifest: its header now, its entries (as JSON objects)
    lazily, parsed ~1 MiB of lines per json.loads call. The contents of each folder
    in the manifest's index for which ``totals_only(path)`` holds come as one
    Summary, unread: its bytes are skipped (a manifest with no index comes whole).
    With ``keep``, so do the contents of other indexed folders whose text ``keep``
    does not want (they are inflated, not parsed): see ``index.read_pieces``."""
    pieces = read_pieces(stream, totals_only, keep)
    pending = bytearray()
    try:
        for piece in pieces:
            if isinstance(piece, Summary):
                raise ValueError("a folder's range before the header")
            pending += piece
            if b"\n" in pending:
                break
        first, _, rest = bytes(pending).partition(b"\n")
        line = first.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        pieces.close()
        raise ValueError(f"not a vidsync manifest: {exc}") from None
    if not line.endswith(_ENTRIES_KEY):
        pieces.close()
        raise ValueError("not a vidsync manifest")
    header: dict[str, Any] = json.loads(line[: -len(_ENTRIES_KEY)] + "}")

    def entries() -> Iterator[dict[str, Any] | Summary]:
        text = bytearray(rest)
        # Summaries met since the last parse, each with its place in ``text`` (a
        # line's end): the lines between them are parsed together, one json.loads
        # for many folders' own lines instead of one each.
        after: list[tuple[int, Summary]] = []

        def parse(upto: int) -> Iterator[dict[str, Any] | Summary]:
            parsed = _parse_lines(text[:upto])
            done, counted, later = 0, 0, []
            for at, summary in after:
                if at > upto:
                    later.append((at - upto, summary))
                    continue
                # Every entry's line starts so (a name's quotes are escaped).
                count = done + text.count(b'{"name":', counted, at)
                yield from parsed[done:count]
                yield summary
                done, counted = count, at
            yield from parsed[done:]
            del text[:upto]
            after[:] = later

        try:
            for piece in pieces:
                if isinstance(piece, Summary):
                    after.append((len(text), piece))
                    continue
                text += piece
                if len(text) >= _CHUNK:
                    yield from parse(text.rfind(b"\n") + 1)  # whole lines; the rest later
            yield from parse(len(text))
        except zlib.error as exc:
            raise ValueError(f"bad gzip data: {exc}") from None
        finally:
            pieces.close()

    return header, entries()


def _parse_lines(text: bytearray | bytes) -> list[dict[str, Any]]:
    """Entry lines (``{...},`` each, maybe the closing ``]}``) as JSON objects."""
    body = bytes(text).decode("utf-8").strip().removesuffix("]}").strip().strip(",")
    return json.loads("[" + body + "]") if body else []


def read_manifest(stream: BinaryIO) -> tuple[dict[str, Any], Iterator[ManifestEntry]]:
    """Open a compressed manifest: its header now, its entries as a lazy iterator."""
    header, raw = read_manifest_raw(stream)
    return header, (entry_from_json(e) for e in raw)
