"""`marrow train DATASET -o RUN_DIR`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a classifier on a class-folder data set or a data pack",
        description="Train a timm model (default rexnet_150) from scratch or from --init weights. "
        "DATASET is ROOT/<class>/<images>, ROOT/train/<class> + ROOT/val/<class>, or a .npz pack.",
    )
    p.add_argument("dataset", help="class-folder data set or .npz pack")
    p.add_argument("-o", "--out", required=True, help="run directory (created)")
    p.add_argument("--arch", default="rexnet_150", help="timm architecture (default rexnet_150)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 60)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--input-size", type=int, default=224, help="model input size in pixels")
    p.add_argument("--start-size", type=int, default=0,
                   help="progressive resizing: start at this size, reach --input-size at 75%%")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="last fraction of each class (by file number) held out for validation")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--ema-decay", type=float, default=0.999, help="0 disables weight averaging")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"],
                   help="mixed precision (auto: bf16 on CUDA, off on CPU)")
    p.add_argument("--init", default="", help="weights file to start from (.safetensors/.pt)")
    p.add_argument("--name", default="", help="model name written into the metadata")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.training.train import TrainConfig, train

    config = TrainConfig(
        dataset=args.dataset, out=args.out, architecture=args.arch,
        epochs=args.epochs or 60, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, input_size=args.input_size, start_size=args.start_size,
        val_fraction=args.val_fraction, label_smoothing=args.label_smoothing,
        ema_decay=args.ema_decay, seed=args.seed, device=args.device, amp=args.amp,
        init=args.init, name=args.name,
    )
    out = train(config, resume=args.resume, epochs=args.epochs)
    print(f"run written to {out} (best.json / best.safetensors, metrics.csv, "
          "learning_curves.png)")
    return 0
