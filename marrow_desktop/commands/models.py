"""`marrow models`: the bundled models and the user's own (adapted) models; remove a user model."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list the bundled and your own models, or remove one of yours",
        description="Models live in two places: the bundled folder (read-only, shipped with the "
        "application) and your model folder (app data), where `marrow adapt` writes. Any "
        "command's --model takes a model's name or its .json path.",
    )
    p.add_argument("action", nargs="?", choices=("list", "remove"), default="list")
    p.add_argument("name", nargs="?", help="the model to remove")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.core.errors import MarrowError
    from marrow_desktop.core.model_registry import (
        list_models,
        model_dirs,
        remove_user_model,
    )

    if args.action == "remove":
        if not args.name:
            raise MarrowError("name the model to remove: marrow models remove NAME")
        for path in remove_user_model(args.name):
            print(f"removed {path}")
        return 0
    entries = list_models()
    print("model folders: " + "; ".join(str(d) for d in model_dirs()))
    if not entries:
        print("no models found")
        return 0
    header = f"{'name':34} {'where':8} {'base':24} {'identity':14} {'date':10} local cells"
    print(header)
    for e in entries:
        where = "bundled" if e.bundled else "yours"
        if e.spec is None:
            print(f"{e.path.stem:34} {where:8} unreadable: {e.error}")
            continue
        counts = ", ".join(f"{c} {n}" for c, n in e.local_counts.items()) or "-"
        default = " (default)" if e.is_default else ""
        print(f"{e.name + default:34} {where:8} {e.base_name or '-':24} "
              f"{e.spec.identity[:12]:14} {e.created:10} {counts}")
    return 0
