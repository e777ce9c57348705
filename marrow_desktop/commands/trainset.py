"""`marrow trainset FOLDER -o DIR`: a case's labelled cells as a class-folder training set.

Copies (or links) the case's images into DIR/<class>/ with DIR/manifest.csv, ready for
`marrow train DIR`. Only cells a person reviewed by default: the model's unchecked labels are
added only with --include-unreviewed (training on its own guesses reinforces its errors);
excluded cells never. Exporting again into the same DIR updates it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from marrow_desktop.commands._batch_args import DEFAULT_BLUR_THRESHOLD
from marrow_desktop.commands._case_common import add_case_arguments

if TYPE_CHECKING:
    from marrow_desktop.core.store import ResultStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trainset", help="export a case's reviewed cells as a class-folder training set",
        description="Copy a case's labelled images into DIR/<class>/ (the layout `marrow train` "
        "reads) with DIR/manifest.csv (source, SHA-256, class, who labelled it and when). By "
        "default only cells a person reviewed; excluded cells never. DIR must be new, empty, "
        "or an earlier export (which is updated: relabelled cells move, excluded ones go). "
        "The model options matter only with --include-unreviewed.",
    )
    p.add_argument("folder", metavar="FOLDER", help="the case folder")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR",
                   help="training-set folder")
    p.add_argument("--include-unreviewed", action="store_true",
                   help="also export unreviewed cells under the model's class (classifies what "
                   "the store lacks; not recommended: it teaches the model its own errors)")
    p.add_argument("--link", action="store_true",
                   help="hard-link (else symlink) instead of copying, copying where links fail")
    add_case_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from marrow_desktop.commands._batch_common import load_model, open_store
    from marrow_desktop.commands._case_common import case_folder, case_images, classify_case
    from marrow_desktop.core.case_files import open_case
    from marrow_desktop.core.training_export import export_training_set

    folder = case_folder(args.folder)
    images = case_images(folder, args.recursive, leave_out=args.output)
    with open_store(args) as store:
        handle = open_case([str(folder)], store, [str(p) for p in images])
        reader = handle.reader()
        case_id = handle.case_id
        reviews = reader.reviews(case_id) if reader is not None else {}
        case = handle.case()
        handle.close()
        if args.include_unreviewed:
            results = classify_case(args, images, load_model(args), store,
                                    DEFAULT_BLUR_THRESHOLD)
            cells = [(r.path, r.content_sha256, r.predicted_class,
                      reviews.get(r.cell) if r.cell else None)
                     for r in results]
        else:
            cells = [(str(p), sha, "", reviews.get(sha) if sha else None)
                     for p, sha in _hashes(images, store)]
    if not reviews and not args.include_unreviewed:
        print(f"warning: no cell of case {folder} has been reviewed: nothing to export "
              "(review cells in the viewer, or pass --include-unreviewed)", file=sys.stderr)
    summary = export_training_set(cells, args.output, include_unreviewed=args.include_unreviewed,
                                  link=args.link)
    print(summary.text())
    if not case.signed:
        print(f"note: case {folder} is not signed off: its labels are preliminary",
              file=sys.stderr)
    return 0


def _hashes(images: list[Path], store: ResultStore) -> list[tuple[Path, str]]:
    """(image, content SHA-256) without decoding: the store's hash for an unchanged file, else
    the file's; '' for a file that cannot be read."""
    from marrow_desktop.core.hashing import sha256_file

    out = []
    for path in images:
        try:
            st = path.stat()
            sha = store.known_hash(str(path), st.st_size, st.st_mtime_ns) or sha256_file(path)
        except OSError:
            sha = ""
        out.append((path, sha))
    return out
