"""``firmtuf-client``: the TUF conformance client CLI on top of the verifier.

Implements the tuf-conformance client-under-test protocol (CLIENT-CLI.md)::

    firmtuf-client --metadata-dir DIR init TRUSTED_ROOT
    firmtuf-client --metadata-dir DIR --metadata-url URL refresh
    firmtuf-client --metadata-dir DIR --metadata-url URL --target-name NAME \\
        [--target-name NAME ...] --target-base-url URL --target-dir DIR download

Exit codes: 0 success, 1 any failure (one line on stderr), 2 usage error (argparse).
Trusted metadata is stored under unversioned names at the top of DIR; device state and
partial downloads live in ``DIR/firmtuf/``. A target is stored in the target dir under
its url-quoted name (``a/b.bin`` -> ``a%2Fb.bin``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from verifier import Updater


class _Parser(argparse.ArgumentParser):
    # The conformance protocol knows two outcomes: 0 and 1. Usage errors are failures.
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def _updater(args: argparse.Namespace, target_base_url: str | None = None) -> Updater:
    from verifier import Config, Updater

    if not args.metadata_url:
        raise ValueError("--metadata-url is required")
    config = Config(max_root_rotations=args.max_root_rotations)
    offset = float(args.days_in_future) * 86400
    return Updater(
        args.metadata_dir,
        args.metadata_url,
        target_base_url,
        config=config,
        clock=(lambda: time.time() + offset) if offset else None,
    )


def cmd_init(args: argparse.Namespace) -> None:
    from verifier import Config
    from verifier._internal.storage import atomic_write

    limit = Config().root_max_length
    with open(args.trusted_root, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{args.trusted_root} is larger than {limit} bytes: not a root")
    directory = Path(args.metadata_dir)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / "root.json", data)


def cmd_refresh(args: argparse.Namespace) -> None:
    _updater(args).refresh()


def cmd_download(args: argparse.Namespace) -> None:
    if not args.target_name or not args.target_base_url or not args.target_dir:
        raise ValueError("download needs --target-name, --target-base-url and --target-dir")
    up = _updater(args, args.target_base_url)
    up.refresh()
    target_dir = Path(args.target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in args.target_name:
        target = up.get_targetinfo(name)
        if target is None:
            raise LookupError(f"target {name!r} not found")
        # Partials go to DIR/firmtuf/partial/, named by the target (name and hashes).
        up.download(target, target_dir / quote(name, safe=""))


def build_parser() -> _Parser:
    parser = _Parser(
        prog="firmtuf-client", description="TUF conformance client on the firmtuf verifier"
    )
    parser.add_argument("--metadata-dir", required=True)
    parser.add_argument("--metadata-url")
    parser.add_argument("--target-name", action="append")
    parser.add_argument("--target-base-url")
    parser.add_argument("--target-dir")
    parser.add_argument("--max-root-rotations", type=int, default=32)
    parser.add_argument("--days-in-future", default="0", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="store TRUSTED_ROOT as the trusted root (no network)")
    init.add_argument("trusted_root")
    sub.add_parser("refresh", help="update trusted metadata from --metadata-url")
    sub.add_parser("download", help="refresh, then download and verify --target-name")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 failure)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (1)
        return 0 if e.code in (0, None) else 1
    commands = {"init": cmd_init, "refresh": cmd_refresh, "download": cmd_download}
    try:
        commands[args.command](args)
    except KeyboardInterrupt:
        print("firmtuf-client: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - every failure is exit 1 with one line
        print(f"firmtuf-client: {args.command} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
