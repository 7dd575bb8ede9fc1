"""Generated project folders."""

from __future__ import annotations

import os
from pathlib import Path


def make_tree(root: Path, spec: dict[str, object]) -> Path:
    """Create files from a nested dict: str/bytes values are file contents, dicts are
    folders, ``Symlink(target)`` values are symlinks."""
    root.mkdir(parents=True, exist_ok=True)
    for name, value in spec.items():
        path = root / name
        if isinstance(value, dict):
            make_tree(path, value)
        elif isinstance(value, Symlink):
            os.symlink(value.target, path)
        elif isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(str(value))
    return root


class Symlink:
    def __init__(self, target: str) -> None:
        self.target = target


def make_flat_tree(root: Path, files: int, per_dir: int = 100, size: int = 10) -> Path:
    """``files`` small files spread over folders of ``per_dir`` files."""
    root.mkdir(parents=True, exist_ok=True)
    body = b"x" * size
    for i in range(files):
        d = root / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(exist_ok=True)
        (d / f"f{i:06d}.bin").write_bytes(body)
    return root


def deep_unreachable_dir(root: Path) -> None:
    """A folder whose full path exceeds PATH_MAX: unreadable by path, even for root."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for depth in range(17):
            name = f"{depth:02d}" + "n" * 248
            os.mkdir(name, dir_fd=fd)
            new = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.close(os.open("deep.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
