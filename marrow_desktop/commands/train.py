"""`marrow train DATASET... -o RUN_DIR [--map NAME:SRC=DST ...]`."""

from __future__ import annotations

import argparse
import os

EPILOG = """\
Several data sets: give each path; validation is the last block of each class of each data set,
and metrics are reported per data set. A class map turns a data set's folder names into class
codes: --map NAME:SRC=DST, where NAME is the data set's folder name and SRC a folder or
FOLDER/FILE_PATTERN, or --map NAME:FILE.json with a JSON object {"SRC": "DST"}. A data set with a
map contributes only what its map names; without one, its folder names are the codes (with
several data sets, folders that are not taxonomy codes are left out and listed). Example:

  marrow train ../shared/data/matek7 ../shared/data/pbc8 ../shared/data/pbc_more \\
      ../shared/data/matek_art -o runs/v2 --input-size 128 \\
      --map pbc8:eosinophil=EOS --map pbc8:lymphocyte=LYT --map pbc8:monocyte=MON \\
      --map 'pbc8:neutrophil/SNE_*=NGS' --map 'pbc8:ig/PMY_*=PMO'

Several GPUs (or CPU processes): start it with torchrun, one process per GPU; rank 0 writes the
run folder, and --resume works the same way (see docs/cluster.md):

  torchrun --standalone --nproc-per-node 4 -m marrow_desktop train DATASET... -o runs/v2
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from marrow_desktop.training.config import add_config_arguments

    p = sub.add_parser(
        "train", help="train a classifier on one or more class-folder data sets or data packs",
        description="Train a timm model (default rexnet_150) from scratch or from --init weights. "
        "Each DATASET is ROOT/<class>/<images>, ROOT/train/<class> + ROOT/val/<class> (one data "
        "set only), or a .npz pack.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("datasets", nargs="+", metavar="DATASET",
                   help="class-folder data set(s) or .npz pack(s)")
    p.add_argument("-o", "--out", required=True, help="run directory (created)")
    p.add_argument("--map", action="append", default=[], metavar="NAME:SRC=DST",
                   help="class map entry for data set NAME (repeat), or NAME:FILE.json")
    add_config_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (its config.json; --epochs may extend it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.training.config import config_from_args
    from marrow_desktop.training.sources import parse_map_args
    from marrow_desktop.training.train import train

    maps = {name: {r.source: r.code for r in rules}
            for name, rules in parse_map_args(args.map).items()}
    config = config_from_args(args, list(args.datasets), maps)
    out = train(config, resume=args.resume, epochs=getattr(args, "epochs", None))
    if os.environ.get("RANK", "0") != "0":  # under torchrun: rank 0 speaks for the run
        return 0
    print(f"run written to {out} (best.json / best.safetensors, last.json, metrics.csv, "
          "learning_curves.png)")
    return 0
