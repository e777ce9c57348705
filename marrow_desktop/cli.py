"""`marrow`: one sub-command per job. Heavy imports happen inside each command's run()."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from marrow_desktop import __version__
from marrow_desktop.commands import COMMANDS
from marrow_desktop.core.errors import MarrowError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marrow",
        description="Classify bone-marrow cell images offline, check their quality, and train, "
        "evaluate and export the models behind it.",
    )
    parser.add_argument("--version", action="version", version=f"marrow-desktop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MarrowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
