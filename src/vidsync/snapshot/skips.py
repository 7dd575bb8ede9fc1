"""Entries a snapshot left out, counted by kind, with the first paths kept."""

from __future__ import annotations

from enum import StrEnum

# Paths kept per snapshot; the counts go on past it. Bounds memory and the database.
MAX_SKIPPED_PATHS = 10_000


class SkipKind(StrEnum):
    VANISHED = "vanished"  # gone between listing and reading
    UNREADABLE = "unreadable"  # permission denied, I/O error, path too long
    SPECIAL = "special"  # sockets, FIFOs, devices: nothing to sync


class SkipLog:
    """Counts every skipped entry by kind; keeps the first ``limit`` (kind, path) pairs."""

    def __init__(self, limit: int = MAX_SKIPPED_PATHS) -> None:
        self.limit = limit
        self.counts: dict[SkipKind, int] = dict.fromkeys(SkipKind, 0)
        self.paths: list[tuple[str, str]] = []

    def add(self, kind: SkipKind, path: str) -> None:
        self.counts[kind] += 1
        if len(self.paths) < self.limit:
            self.paths.append((kind.value, path))

    def extend(self, kind: SkipKind, paths: list[str]) -> None:
        for path in paths:
            self.add(kind, path)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_kind(self) -> dict[str, int]:
        """``{"vanished": n, "unreadable": n, "special": n}``, the wire shape."""
        return {kind.value: n for kind, n in self.counts.items()}
