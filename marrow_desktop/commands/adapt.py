"""`marrow adapt LABELLED... [-o NAME.json]`: fit a model to a lab's own reviewed cells."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "adapt", help="adapt a model to this lab's reviewed cells (clinic runtime, seconds)",
        description="Fit the model to a laboratory's own labelled cells: LABELLED is a "
        "class-folder set such as `marrow trainset` exports (DIR/<class code>/<images>), one or "
        "more. The network is not retrained: the lab gets a head of its own and its statistics "
        "join the lab-shift check; cells that look like the model's training lab keep the base "
        "head. Prints cross-validated accuracy on the local cells before and after and writes a "
        "new model (by default into your model folder; see `marrow models`).",
    )
    p.add_argument("labelled", nargs="+", metavar="LABELLED",
                   help="folder(s) of class folders named by class code")
    p.add_argument("-o", "--output", type=Path, metavar="NAME.json",
                   help="the adapted model's metadata file (default: NAME.json in the user "
                   "model folder)")
    p.add_argument("--name", default="", help="model name (default BASE-LAB)")
    p.add_argument("--lab", default="", help="the laboratory's name (default: the first "
                   "LABELLED folder's name)")
    p.add_argument("--model", default=None, metavar="BASE",
                   help="model to adapt (.json path or a model name; default the bundled one)")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"), default="onnx",
                   help="backend for the features (default onnx: no torch needed)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    p.add_argument("--map", action="append", default=[], metavar="NAME:SRC=DST",
                   help="class map entry for a LABELLED folder whose class folders are not "
                   "codes, as in `marrow train` (repeat)")
    p.set_defaults(run=run)


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "lab"


def run(args: argparse.Namespace) -> int:
    import sys

    from marrow_desktop.core.model_registry import find_model, user_models_dir
    from marrow_desktop.core.paths import default_model_path
    from marrow_desktop.inference.loader import load_classifier
    from marrow_desktop.training.adapt import (
        AdaptError,
        adapt_heads,
        base_head,
        check_output,
        describe,
        read_local,
        require_domain,
        write_adapted,
    )
    from marrow_desktop.training.loading import load_sample
    from marrow_desktop.training.sources import combine, make_sources, parse_map_args

    for folder in args.labelled:
        if not Path(folder).is_dir():
            raise AdaptError(f"{folder}: not a folder of class folders")
    base_path = find_model(args.model) if args.model else default_model_path()
    classifier = load_classifier(base_path, backend=args.backend, threads=args.threads)
    spec = classifier.spec
    stats = require_domain(classifier)
    lab = _slug(args.lab or Path(args.labelled[0]).resolve().name)
    name = _slug(args.name or f"{spec.name}-{lab}")
    out = args.output or user_models_dir() / f"{name}.json"
    check_output(out)
    combined = combine(make_sources(args.labelled, parse_map_args(args.map)))
    data = combined.dataset
    unknown = sorted({data.classes[s.label] for s in data.samples} - set(spec.classes))
    local = read_local(classifier, data.samples, data.classes)
    local.left_out = [*(f"{c} (not a class of {spec.name})" for c in unknown),
                      *(f"{n}: {'; '.join(items)}" for n, items in combined.left_out.items())]
    images = [load_sample(s).rgb for s in data.samples[:8]]
    weight, bias = base_head(classifier, images)
    adaptation = adapt_heads(stats, weight, bias, spec.temperature, local, spec.classes, lab)
    out.parent.mkdir(parents=True, exist_ok=True)
    adapted = write_adapted(spec, adaptation, out, name, local, lab)
    for line in local.left_out:
        print(f"left out: {line}", file=sys.stderr)
    if local.skipped:
        print(f"skipped {len(local.skipped)} unreadable image(s), e.g. {local.skipped[0]}",
              file=sys.stderr)
    print("\n".join([f"adapted {spec.name} to {lab} in {adaptation.seconds:.1f} s",
                     *describe(adaptation), f"model: {out} (identity {adapted.identity[:12]})"]))
    return 0
