"""`marrow selftest`: check an installation on the bundled samples (headless, no Qt)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from marrow_desktop.selftest import add_arguments

    p = sub.add_parser(
        "selftest", help="check this installation: classify the bundled samples",
        description="Load the bundled model, classify the bundled sample images, write a CSV "
        "report to a temporary folder and compare the predictions with those recorded when "
        "the model was shipped (exit 0: passed). Same as `marrow-desktop --selftest`.",
    )
    add_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.selftest import execute

    return execute(args)
