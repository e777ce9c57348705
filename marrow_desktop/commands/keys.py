"""`marrow keys`: reviewers' signing keys on this computer (list, create, import a public key)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys", help="reviewers' signing keys: list, create one, import a colleague's public key",
        description="Sign-offs and reopenings are signed with the reviewer's own Ed25519 key "
        "(one per reviewer, not per computer account), kept passphrase-protected in the app's "
        "data folder. `create` makes one (the viewer also offers this at the first sign-off); "
        "copy the printed .pub file to the computers that check cases and `import` it there.",
    )
    p.add_argument("action", nargs="?", choices=("list", "create", "import"), default="list")
    p.add_argument("name", nargs="?", metavar="NAME|FILE",
                   help="the reviewer's name (create) or a .pub file (import)")
    p.add_argument("--keys", metavar="DIR", help="key folder (default: the app's data folder)")
    p.set_defaults(run=run)


def _new_passphrase(name: str) -> str:
    import getpass

    from marrow_desktop.core.errors import MarrowError

    first = getpass.getpass(f"passphrase for {name}'s new key: ")
    if getpass.getpass("the same passphrase again: ") != first:
        raise MarrowError("the two passphrases differ; no key was made")
    return first


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.core.errors import MarrowError
    from marrow_desktop.core.signing import Keyring, SigningError

    ring = Keyring(args.keys)
    try:
        if args.action == "create":
            if not args.name:
                raise MarrowError("name the reviewer: marrow keys create \"Dr. A. Name\"")
            key = ring.create(args.name, _new_passphrase(args.name))
            print(f"created {key.name}'s signing key, fingerprint {key.fingerprint}")
            print(f"public key to copy to the computers that check cases: "
                  f"{ring.public_path(key.name)}")
            return 0
        if args.action == "import":
            if not args.name:
                raise MarrowError("name the .pub file: marrow keys import FILE.pub")
            key = ring.import_public(args.name)
            print(f"trusted {key.name}'s key {key.fingerprint}")
            return 0
    except SigningError as exc:
        raise MarrowError(str(exc)) from exc
    keys = ring.public_keys()
    print(f"key folder: {ring.folder}")
    if not keys:
        print("no keys yet (the first sign-off in the viewer, or `marrow keys create NAME`, "
              "makes one)")
    for key in keys:
        own = "signs here" if ring.has_private(key.name) else "public only"
        print(f"{key.name:32} {key.fingerprint}  {own:12} {key.created[:10]}")
    return 0
