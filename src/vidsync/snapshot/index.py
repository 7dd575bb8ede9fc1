"""The folder index of a manifest: which bytes hold which folder's contents.

A manifest from the parallel walk is a row of gzip members, and the contents
of each folder a worker walked (everything below it, depth first) are whole
members of their own. The index lists those byte ranges with their totals, so a
reader that needs only a folder's size (the tree one level deep, the tree of
another folder) skips its bytes instead of inflating and parsing them: the top
of a million-entry snapshot reads a few kilobytes.

The index travels inside the manifest, as empty gzip members right after the
first one, in the ``FEXTRA`` field of their headers (RFC 1952 §2.3.1.1).
Every gzip reader skips that field and an empty member adds no text, so to
everyone else the manifest is the same JSON as before.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Generator, Iterator
from typing import BinaryIO, NamedTuple

# The FEXTRA subfield id of an index chunk ("VI": vidsync index).
_SUBFIELD = b"VI"
# Subfield data per member: XLEN is 16 bits and holds the 4-byte subfield head.
_CHUNK_BYTES = 65_000
_FEXTRA = 4
# An empty member's body: a final empty deflate block, CRC32 0 and length 0.
_EMPTY_BODY = b"\x03\x00" + bytes(8)
_READ = 1 << 18
_FIRST_FEED = 1 << 12
# Folders with fewer entries below them than this are read, not indexed: reading
# them costs less than their index row.
MIN_INDEXED = 64
# The most text of one folder held to decide whether a reader wants it.
KEEP_MAX = 8 << 20
# After this many folders checked, checking stops if most of them were wanted.
_KEEP_TRIES = 64


class Range(NamedTuple):
    """A folder's contents: ``length`` bytes of whole gzip members from ``offset``."""

    folder: str  # its path in the manifest
    offset: int  # from the first byte after the index
    length: int
    entries: int
    files: int
    total_bytes: int


class Summary(NamedTuple):
    """Everything below folder ``path``, as totals: what a skipped range held."""

    path: str
    entries: int
    files: int
    total_bytes: int


def index_members(ranges: list[Range]) -> bytes:
    """The index as empty gzip members, written right after the manifest's first
    member; ``b""`` when no range is worth indexing."""
    rows = [list(r) for r in ranges if r.entries >= MIN_INDEXED]
    if not rows:
        return b""
    data = zlib.compress(json.dumps({"v": 1, "ranges": rows},
                                    separators=(",", ":")).encode(), 6)
    members = []
    for start in range(0, len(data), _CHUNK_BYTES):
        chunk = data[start:start + _CHUNK_BYTES]
        extra = _SUBFIELD + struct.pack("<H", len(chunk)) + chunk
        head = b"\x1f\x8b\x08" + bytes([_FEXTRA]) + bytes(4) + b"\x00\xff"
        members.append(head + struct.pack("<H", len(extra)) + extra + _EMPTY_BODY)
    return b"".join(members)


class _Raw:
    """Compressed bytes from a stream, by absolute offset; skips by seeking where
    the stream can (a file), else by reading past (a network body)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        try:
            self._seekable = stream.seekable()
        except (AttributeError, OSError):
            self._seekable = False
        self._buf = b""
        self._at = 0  # the next byte of _buf to hand out
        self.pos = 0  # its offset in the stream

    def _fill(self, size: int) -> None:
        """At least ``size`` bytes buffered past ``_at``, unless the stream ends."""
        if len(self._buf) - self._at >= size:
            return
        parts = [self._buf[self._at:]]
        have = len(parts[0])
        while have < size and (data := self._stream.read(max(_READ, size - have))):
            parts.append(data)
            have += len(data)
        self._buf, self._at = b"".join(parts), 0

    def read(self, limit: int | None, size: int) -> bytes:
        """Up to ``size`` bytes (at most ``limit``); b"" at the end."""
        want = size if limit is None else min(size, limit)
        if self._at >= len(self._buf):
            self._fill(1)
        data = self._buf[self._at:self._at + want]
        self._at += len(data)
        self.pos += len(data)
        return data

    def unread(self, size: int) -> None:
        """Give back the last ``size`` bytes read (all from the last ``read``)."""
        assert size <= self._at
        self._at -= size
        self.pos -= size

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end of the stream), left unread."""
        self._fill(size)
        return self._buf[self._at:self._at + size]

    def skip_to(self, offset: int) -> None:
        ahead = offset - self.pos
        if ahead <= len(self._buf) - self._at:
            self._at += ahead
        elif self._seekable:
            self._stream.seek(offset)
            self._buf, self._at = b"", 0
        else:
            left = ahead - (len(self._buf) - self._at)
            self._buf, self._at = b"", 0
            while left:
                data = self._stream.read(min(left, 1 << 20))
                if not data:
                    raise EOFError("the manifest ends inside a folder's range")
                left -= len(data)
        self.pos = offset


def _members(raw: _Raw, end: int | None, *, one: bool = False) -> Iterator[bytes]:
    """The text of the members from ``raw.pos`` up to offset ``end`` (the end of the
    stream if None; only the next member if ``one``), inflated a piece at a time.

    Each member is fed a little first, then more and more: what zlib gives back
    past a member's end is copied, so a row of small members (the folders' own
    lines) must not cost a large copy each."""
    while end is None or raw.pos < end:
        size = _FIRST_FEED
        data = raw.read(None if end is None else end - raw.pos, size)
        if not data:
            return
        member = zlib.decompressobj(31)  # 31: gzip framing, trailer checked
        while True:
            text = member.decompress(data)
            if text:
                yield text
            if member.eof:
                raw.unread(len(member.unused_data))
                break
            size = min(size * 4, _READ)
            data = raw.read(None if end is None else end - raw.pos, size)
            if not data:
                raise EOFError("the manifest ends inside a gzip member")
        if one:
            return


def _read_index(raw: _Raw) -> list[Range]:
    """The index members at ``raw.pos``, if any; ``raw`` is left after them."""
    data = b""
    while True:
        head = raw.peek(12)
        if len(head) < 12 or head[:4] != b"\x1f\x8b\x08" + bytes([_FEXTRA]):
            break
        xlen = struct.unpack("<H", head[10:12])[0]
        member = raw.peek(12 + xlen + len(_EMPTY_BODY))
        extra = member[12:12 + xlen]
        if extra[:2] != _SUBFIELD:
            break
        if len(member) < 12 + xlen + len(_EMPTY_BODY) or not member.endswith(_EMPTY_BODY):
            raise ValueError("the manifest's index is damaged")
        data += extra[4:4 + struct.unpack("<H", extra[2:4])[0]]
        raw.skip_to(raw.pos + len(member))
    if not data:
        return []
    try:
        rows = json.loads(zlib.decompress(data))["ranges"]
        base = raw.pos
        return [Range(str(r[0]), base + int(r[1]), int(r[2]), int(r[3]), int(r[4]),
                      int(r[5])) for r in rows]
    except (zlib.error, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"the manifest's index is damaged: {exc}") from None


def read_index(stream: BinaryIO) -> list[Range]:
    """The index of the manifest in ``stream``, offsets from its start; [] if none."""
    raw = _Raw(stream)
    for _ in _members(raw, None, one=True):
        pass
    return _read_index(raw)


def read_pieces(stream: BinaryIO, totals_only: Callable[[str], bool],
                keep: Callable[[bytes], bool] | None = None
                ) -> Generator[bytes | Summary, None, None]:
    """The manifest's text in pieces, in order, except that the contents of every
    indexed folder for which ``totals_only(path)`` holds come as one Summary
    (their bytes are skipped). With ``keep``, the contents of the other indexed
    folders are inflated first and come as a Summary too unless ``keep(text)``
    holds (up to ``KEEP_MAX`` bytes of text; a larger folder always comes whole;
    once most of the folders checked were wanted, the rest come whole unchecked).
    A manifest with no index comes whole. Closes ``stream`` when done or closed."""
    with stream:
        raw = _Raw(stream)
        yield from _members(raw, None, one=True)  # the header (or, unindexed, everything)
        tried = wanted = 0
        for rng in _read_index(raw):
            yield from _members(raw, rng.offset)
            summary = Summary(rng.folder, rng.entries, rng.files, rng.total_bytes)
            if totals_only(rng.folder):
                yield summary
                raw.skip_to(rng.offset + rng.length)
            elif keep is not None:
                kept = yield from _kept(_members(raw, rng.offset + rng.length), keep, summary)
                tried, wanted = tried + 1, wanted + kept
                if tried >= _KEEP_TRIES and wanted * 2 > tried:
                    keep = None  # most folders are wanted: checking them only costs
        yield from _members(raw, None)


def _kept(pieces: Iterator[bytes], keep: Callable[[bytes], bool],
          summary: Summary) -> Generator[bytes | Summary, None, bool]:
    """A folder's text if ``keep`` wants it (or it is too large to hold), else its
    Summary; returns whether the text came."""
    held: list[bytes] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size > KEEP_MAX:
            yield from held
            yield from pieces
            return True
    text = b"".join(held)
    if keep(text):
        yield text
        return True
    yield summary
    return False
