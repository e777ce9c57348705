"""`marrow verify FOLDER`: check a case's audit trail and every signature, naming what fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from marrow_desktop.core.paths import default_store_path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="check a case's audit trail and the signatures of its sign-offs",
        description="Replay the case's hash-chained audit trail, compare every shown field "
        "(labels, reviewers, sign-off, details, model) with it, and check each sign-off's and "
        "reopening's signature against the reviewers' keys known on this computer. Exit 0: "
        "intact; 1: something fails (each failure is named); 2: nothing to check (not a "
        "folder, or no case recorded for it).",
    )
    p.add_argument("folder", metavar="FOLDER", help="the case folder")
    p.add_argument("--store", type=Path, metavar="PATH",
                   help=f"results store for cases of read-only folders (default "
                   f"{default_store_path()})")
    p.add_argument("--keys", metavar="DIR", help="key folder (default: the app's data folder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.commands._batch_common import open_store
    from marrow_desktop.commands._case_common import case_folder
    from marrow_desktop.core.case_files import open_case
    from marrow_desktop.core.discovery import find_images
    from marrow_desktop.core.signing import Keyring

    folder = case_folder(args.folder)
    images = [str(p) for p in find_images([folder], recursive=True)]
    with open_store(args) as store:
        handle = open_case([str(folder)], store, images)
        try:
            reader = handle.reader()
            case = handle.case()
            if reader is None or not case.exists:
                print(f"{folder}: no reviews, sign-off or trail recorded for this case")
                return 2
            check = reader.verify_case(handle.case_id, Keyring(args.keys).known())
        finally:
            handle.close()
    print(f"case {case.folder or folder} ({handle.case_id}) in {handle.where}")
    state = (f"signed off by {case.signed_by} on {case.signed_at[:16].replace('T', ' ')} UTC"
             if case.signed else "not signed off")
    print(f"{check.entries} entries, head {check.head}; {state}")
    for line in check.signed:
        print(f"signed: {line}")
    for line in check.notes:
        print(f"note: {line}")
    for line in check.problems:
        print(f"FAILED: {line}")
    print(check.summary())
    return 0 if check.ok else 1
