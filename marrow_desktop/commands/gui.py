"""`marrow gui [FOLDER]`: open the desktop viewer (the same as `marrow-desktop`)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop viewer",
                       description="Open the desktop viewer on a folder (default: the last one, "
                                   "or the bundled sample images).")
    p.add_argument("path", nargs="?", help="folder (or image) to open")
    p.add_argument("--model", help="model metadata (.json) or .onnx")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"), help="inference backend")
    p.add_argument("--settings", metavar="INI", help="settings file instead of the per-user one")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.gui.app import main

    argv = [args.path] if args.path else []
    for flag in ("model", "backend", "settings"):
        value = getattr(args, flag, None)
        if value:
            argv += [f"--{flag}", value]
    return main(argv)
