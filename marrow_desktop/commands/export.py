"""`marrow export CHECKPOINT -o model.onnx`: ONNX graph + weights + metadata, checked for parity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a training checkpoint to ONNX (+ optional int8 model)",
        description="Write NAME.onnx (outputs logits, features, classifier_weight), "
        "NAME.safetensors and NAME.json beside -o, and check that ONNX Runtime and PyTorch give "
        "the same probabilities (max difference must stay below 1e-4).",
    )
    p.add_argument("checkpoint", help="training checkpoint metadata, e.g. RUN/best.json")
    p.add_argument("-o", "--out", required=True, help="output .onnx path")
    p.add_argument("--name", default=None, help="model name in the metadata (default: file stem)")
    p.add_argument("--parity-images", default=None,
                   help="folder of images for the parity check (default: the bundled samples)")
    p.add_argument("--opset", type=int, default=17)
    q = p.add_argument_group("int8 quantisation")
    q.add_argument("--quantize-int8", action="store_true",
                   help="also write NAME.int8.onnx (static QDQ, per-channel), kept only if its "
                   "accuracy stays within --max-drop points of fp32")
    q.add_argument("--calibration", default=None, help="data set to calibrate on")
    q.add_argument("--calibration-count", type=int, default=256,
                   help="calibration images, spread over the classes")
    q.add_argument("--validation", default=None,
                   help="data set to compare accuracies on (default: the run's val split)")
    q.add_argument("--split", default=None, help="a run's split.csv to take --subset from")
    q.add_argument("--subset", choices=("train", "val", "all"), default=None)
    q.add_argument("--max-drop", type=float, default=0.5,
                   help="largest accepted accuracy drop of int8, in points")
    p.set_defaults(run=run)


def _parity_images(folder: str | None) -> list:
    from marrow_desktop.core.errors import ImageLoadError, MarrowError
    from marrow_desktop.core.imageio import is_image_path, load_image
    from marrow_desktop.core.paths import samples_dir

    root = Path(folder) if folder else samples_dir()
    if not root.is_dir():
        raise MarrowError(f"{root}: parity image folder not found")
    images = []
    for path in sorted(p for p in root.iterdir() if is_image_path(p))[:32]:
        try:
            images.append(load_image(path).rgb)
        except ImageLoadError as exc:
            print(f"warning: {exc}", file=sys.stderr)
    if not images:
        raise MarrowError(f"{root}: no readable images for the parity check")
    return images


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def run(args: argparse.Namespace) -> int:
    from marrow_desktop.core.errors import MarrowError
    from marrow_desktop.training.export import PARITY_TOLERANCE, export_onnx

    if args.quantize_int8 and not args.calibration:
        raise MarrowError("--quantize-int8 needs --calibration DATASET (real images)")
    images = _parity_images(args.parity_images)
    spec, diff = export_onnx(args.checkpoint, args.out, images, name=args.name, opset=args.opset)
    assert spec.path is not None
    folder = spec.path.parent
    print(f"exported {spec.name}: {spec.architecture}, {spec.num_classes} classes, "
          f"{spec.input_size} px")
    for role, file in spec.files.items():
        print(f"  {role}: {folder / file} ({_mb(folder / file)})")
    print(f"  metadata: {spec.path}")
    print(f"parity ONNX Runtime vs PyTorch on {len(images)} images: max probability difference "
          f"{diff:.2e} (limit {PARITY_TOLERANCE:.0e})")
    if not args.quantize_int8:
        return 0
    return _int8(args, spec)


def _int8(args: argparse.Namespace, spec) -> int:
    from marrow_desktop.core.errors import MarrowError
    from marrow_desktop.training.evaluate import class_mapping, load_eval_dataset
    from marrow_desktop.training.quantize import calibration_samples, quantize_model

    split = args.split
    if not (args.validation or split):
        candidate = Path(args.checkpoint).parent / "split.csv"
        if not candidate.is_file():
            raise MarrowError("int8 needs a validation set: --validation DATASET or --split CSV")
        split = candidate
    val, described = load_eval_dataset(args.validation, split, args.subset)
    labels = class_mapping(val, spec)[[s.label for s in val.samples]]
    calib_set, _ = load_eval_dataset(args.calibration, subset="all")
    exclude = {Path(s.source).name for s in val.samples}
    calib = calibration_samples(calib_set, args.calibration_count, exclude)
    out = Path(args.out).with_suffix("").with_suffix(".int8.onnx")
    print(f"int8: calibrating on {len(calib)} images of {args.calibration}, "
          f"checking on {len(val.samples)} images ({described})")
    result = quantize_model(spec, out, calib, val.samples, labels, args.max_drop)
    print(f"accuracy fp32 {result.fp32_accuracy:.4f}, int8 {result.int8_accuracy:.4f} "
          f"({(result.int8_accuracy - result.fp32_accuracy) * 100:+.2f} points)")
    if not result.kept:
        print(f"int8 model discarded: accuracy dropped more than {args.max_drop} points",
              file=sys.stderr)
        return 1
    assert result.spec is not None and result.spec.path is not None
    print(f"  int8: {out} ({result.size_mb:.1f} MB), metadata {result.spec.path}")
    return 0
