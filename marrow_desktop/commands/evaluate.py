"""`marrow evaluate MODEL DATASET -o DIR`: accuracy, per-class metrics, confusion, calibration."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a model on a labelled data set (metrics, confusion, "
        "calibration)",
        description="MODEL is model metadata (.json: a training checkpoint such as RUN/best.json, "
        "or an exported model; or the .onnx beside its .json). DATASET is a class-folder set, a "
        ".npz pack, or omitted with --split RUN/split.csv (the run's own data set). Data-set "
        "classes are matched to the model's classes by code.",
    )
    p.add_argument("model", help="model metadata .json (or .onnx / .safetensors beside it)")
    p.add_argument("dataset", nargs="*", default=None, metavar="DATASET",
                   help="class-folder data set(s) or .npz pack(s) (default with --split: the "
                   "run's own)")
    p.add_argument("--map", action="append", default=[], metavar="NAME:SRC=DST",
                   help="class map entry for data set NAME, as in `marrow train` (repeat)")
    p.add_argument("-o", "--out", required=True, help="report folder (created)")
    p.add_argument("--split", default=None, help="a training run's split.csv")
    p.add_argument("--subset", choices=("train", "val", "tune", "report", "all"), default=None,
                   help="which images: with --split or ROOT/train+val folders default val; on "
                   "class-folder sets train/val is the last-block split of `marrow train`; "
                   "tune/report are the first/second half of each validation block")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="validation fraction for --subset on a plain class-folder set")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                   help="auto: ONNX Runtime when the model has an .onnx file, else PyTorch")
    p.add_argument("--tta", action="store_true",
                   help="average probabilities over 8 flips/rotations")
    p.add_argument("--fit-temperature", action="store_true",
                   help="fit the softmax temperature on these (validation) images and store it "
                   "in the model metadata")
    p.add_argument("--domain-stats", action="store_true",
                   help="first compute the model's lab-shift statistics (from the training "
                   "images of --split or of the data set's last-block split; threshold on the "
                   "tune half of the validation blocks) and store them beside the model")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.training.evaluate import evaluate
    from marrow_desktop.training.sources import parse_map_args

    ev = evaluate(args.model, args.dataset or None, args.out, split=args.split,
                  subset=args.subset, backend=args.backend, tta=args.tta,
                  fit=args.fit_temperature, threads=args.threads, batch_size=args.batch_size,
                  val_fraction=args.val_fraction, show_progress=not args.no_progress,
                  maps=parse_map_args(args.map), domain_stats=args.domain_stats)
    r = ev.report
    print(f"{ev.spec.name} on {ev.description}: {len(ev.y_true)} images"
          + (f", {len(ev.skipped)} unreadable skipped" if ev.skipped else "")
          + f" [{ev.backend}{', TTA x8' if ev.tta else ''}]")
    print(f"accuracy {r.accuracy:.4f}  balanced accuracy {r.balanced_accuracy:.4f}  "
          f"macro-F1 {r.macro_f1:.4f}  ECE {ev.ece:.4f}  NLL {ev.nll:.4f}")
    for name, d in ev.per_dataset().items():
        print(f"  {name}: {d['images']} images, accuracy {d['accuracy']:.4f}, macro-F1 "
              f"{d['macro_f1']:.4f}, ECE {d['ece']:.4f}")
    if ev.calibration:
        c = ev.calibration
        print(f"temperature {c['temperature_before']:.3f} -> {c['temperature']:.3f}: "
              f"ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}, "
              f"NLL {c['nll_before']:.4f} -> {c['nll_after']:.4f} (cross-fitted ECE "
              f"{c['ece_cross_fitted']:.4f}); stored in {ev.spec.path}")
    print(f"report: {args.out}/report.md")
    return 0
