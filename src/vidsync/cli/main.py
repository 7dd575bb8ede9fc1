"""The ``vidsync`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vidsync.settings import Settings, SettingsError


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir).expanduser()
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    return settings.with_(**changes) if changes else settings


def cmd_serve(args: argparse.Namespace) -> int:
    from vidsync.api.server import serve

    settings = _settings(args)
    print(f"vidsync agent on http://{settings.host}:{settings.port}/", file=sys.stderr, flush=True)
    serve(settings, log_level=args.log_level)
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from vidsync.cli.snapshot import snapshot_in_process

    return snapshot_in_process(_settings(args), Path(args.path), json_lines=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidsync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the agent (HTTP API, SSE, web UI)")
    serve.add_argument("--host", help="address to listen on (VIDSYNC_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (VIDSYNC_PORT, default 5001)")
    serve.add_argument("--data-dir", help="database and local store (VIDSYNC_DATA_DIR)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.set_defaults(func=cmd_serve)

    snap = sub.add_parser("snapshot", help="snapshot a folder now, with a live progress bar")
    snap.add_argument("path", help="the project folder")
    snap.add_argument("--json", action="store_true", help="print one JSON event per line")
    snap.add_argument("--data-dir", help="database and local store (VIDSYNC_DATA_DIR)")
    snap.set_defaults(func=cmd_snapshot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"vidsync: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
