"""The local source: walk a folder on disk."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from vidsync.models import FolderStatus, ManifestEntry
from vidsync.snapshot.manifest import EntrySpool, display_path
from vidsync.snapshot.skips import SkipKind, SkipLog
from vidsync.snapshot.source import CancelToken, SourceError, StepProgress


def check_folder(path: Path) -> None:
    """Raise SourceError with what to fix unless ``path`` is a readable directory."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SourceError(f"folder {path} does not exist") from None
    except OSError as exc:
        raise SourceError(f"cannot read folder {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        what = "a file, not a folder" if stat.S_ISREG(st.st_mode) else "not a folder"
        raise SourceError(f"{path} is {what}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise SourceError(f"folder {path} is not readable by the agent's user")


def check_root_still_there(path: Path) -> None:
    """Raise SourceError unless the project folder is still a readable directory.

    Called during and after a snapshot: a folder that vanished or became
    unreadable must fail the snapshot, not end it with a partial manifest.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SourceError(f"the project folder {path} vanished during the snapshot") from None
    except OSError as exc:
        raise SourceError(
            f"the project folder {path} became unreadable during the snapshot: {exc.strerror}"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise SourceError(
            f"the project folder {path} was replaced by something that is not a folder "
            "during the snapshot"
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise SourceError(f"the project folder {path} became unreadable during the snapshot")


class LocalSource:
    """Depth-first walk: each directory's entries sorted by name, a directory before
    its children. Symlinks are recorded, never followed. Entries that cannot be
    read are skipped, counted by kind and their paths kept (``skips``); so are
    entries that vanish during the walk. If the folder itself vanishes or becomes
    unreadable, the walk raises SourceError.
    """

    def __init__(self, root: Path, workers: int | None = None, nice: int = 0) -> None:
        self.root = root
        self.skips = SkipLog()
        # Processes for the parallel walk (fill_spool); None: one per core, at most 4.
        self.workers = workers
        # Added to the walk workers' niceness (a walk forked from the agent's server).
        self.nice = nice

    @property
    def skipped(self) -> int:
        return self.skips.total

    @property
    def vanished(self) -> int:
        return self.skips.counts[SkipKind.VANISHED]

    def check_root(self) -> None:
        check_root_still_there(self.root)

    def wait_ready(self, progress: StepProgress, cancel: CancelToken) -> None:
        progress.set_message("Checking project folder...")
        check_folder(self.root)

    def status(self, progress: StepProgress, cancel: CancelToken) -> FolderStatus:
        # A plain folder has no index: counts are known only once browsed.
        return FolderStatus()

    def _list(self, directory: str, rel: str) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(directory) as it:
                return sorted(it, key=_entry_name)
        except FileNotFoundError:
            self._skip(SkipKind.VANISHED, rel)
        except OSError:
            self._skip(SkipKind.UNREADABLE, rel)
        return None

    def _skip(self, kind: SkipKind, rel: str) -> None:
        # An entry that vanished or cannot be read may mean the whole folder went:
        # that fails the snapshot. Checked only on errors, so the walk stays cheap.
        if kind is not SkipKind.SPECIAL:
            self.check_root()
        self.skips.add(kind, display_path(rel)[0])

    def fill_spool(self, spool: EntrySpool, work: Path, progress: StepProgress,
                   cancel: CancelToken) -> bool:
        """Step 3 in parallel: the manifest's entries, encoded and compressed by worker
        processes, into ``spool`` as gzip parts under ``work``. The same entries in the
        same order as ``entries()``. False (nothing done) for a subclass that changes
        ``entries()``: its walk must go through it.
        """
        if type(self).entries is not LocalSource.entries:
            return False
        from vidsync.snapshot.walk import ParallelWalk, default_workers

        check_folder(self.root)
        workers = self.workers if self.workers is not None else default_workers()
        walk = ParallelWalk(os.fspath(self.root), self.skips, self.check_root, work, workers,
                            nice=self.nice)
        result = walk.run(progress, cancel)
        tally = result.tally
        spool.add_parts(result.parts, tally.files, tally.directories, tally.total_bytes)
        return True

    def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
        check_folder(self.root)
        root = os.fspath(self.root)
        top = self._list(root, ".")
        if top is None:
            raise SourceError(f"cannot list folder {root}")
        # Stack of (relative prefix, remaining entries reversed), so pop() is the next name.
        stack: list[tuple[str, list[os.DirEntry[str]]]] = [("", top[::-1])]
        unreported = 0
        S_ISDIR, S_ISLNK, S_ISREG = stat.S_ISDIR, stat.S_ISLNK, stat.S_ISREG
        while stack:
            prefix, pending = stack[-1]
            if not pending:
                stack.pop()
                continue
            item = pending.pop()
            # Progress and cancellation are checked per batch: per entry costs ~10%.
            if unreported >= 64:
                progress.advance(unreported)
                unreported = 0
                cancel.check()
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                self._skip(SkipKind.VANISHED, prefix + item.name)
                continue
            except OSError:
                self._skip(SkipKind.UNREADABLE, prefix + item.name)
                continue
            mode = st.st_mode
            rel = prefix + item.name
            text, raw = display_path(rel)
            if S_ISDIR(mode):
                yield ManifestEntry(text, 0, True, st.st_mtime_ns, False, raw)
                unreported += 1
                children = self._list(item.path, rel)
                if children:
                    stack.append((rel + "/", children[::-1]))
            elif S_ISREG(mode) or S_ISLNK(mode):
                yield ManifestEntry(text, st.st_size, False, st.st_mtime_ns, S_ISLNK(mode), raw)
                unreported += 1
            else:  # sockets, FIFOs, devices: nothing a collaborator could sync
                self._skip(SkipKind.SPECIAL, rel)
        if unreported:
            progress.advance(unreported)


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name
