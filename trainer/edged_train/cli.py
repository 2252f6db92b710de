"""The ``edged-train`` command line: parses flags and calls the stage modules.

Subcommands: ``train`` (image folder → verified int8 model folder),
``export`` (checkpoint → verified int8 model folder), ``evaluate`` (a
.tflite or a checkpoint on an image folder) and ``export-imagenet``
(edged's default model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from . import __version__, plots
from .archs import ARCHS
from .checkpoint import torch_load
from .data import scan
from .deploy import DeployTarget, deploy
from .imagenet import export_imagenet
from .pull import pull
from .package import export_checkpoint, export_trained
from .train import TrainConfig, train
from .verify import MAX_INT8_DROP, evaluate_file


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edged-train",
                                description="Train image classifiers and export fully-integer int8 TFLite models for edged.")
    p.add_argument("--version", action="version", version=f"edged-train {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train on an image folder, export and verify DIR/model.tflite",
                       description="DATA_DIR holds one sub-folder of images per class. Writes model.tflite, "
                                   "labels.txt, model_card.json, training_curves.png, confusion_matrix.png, "
                                   "train_log.jsonl and checkpoints/ into --out.")
    t.add_argument("data_dir", help="image folder: one sub-folder per class")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--arch", default="efficientnet_lite0", help="architecture (see `edged-train archs`)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA (mixed precision) when available, else CPU")
    t.add_argument("--val", dest="val_dir", help="separate validation folder (default: a stratified split)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="validation share of the split (default 0.2)")
    t.add_argument("--img-size", type=int, help="square input size in pixels (default: the architecture's)")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine schedule)")
    t.add_argument("--weights", help="initial weights: a PyTorch state dict, e.g. torchvision's .pth")
    t.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                   help="efficientnet_lite0: start from scratch instead of the ImageNet weights")
    t.add_argument("--freeze-epochs", type=int, help="epochs with the pretrained backbone frozen")
    t.add_argument("--patience", type=int, default=5, help="early stopping: epochs without a better val accuracy")
    t.add_argument("--balance", default="auto", choices=["auto", "on", "off"],
                   help="class-balanced sampling (auto: when the folder is skewed)")
    t.add_argument("--resume", help="checkpoint (checkpoints/last.pt) to resume from")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--workers", type=int, default=2, help="data loader processes")
    t.add_argument("--calibration", type=int, default=200, help="training images used to calibrate int8")
    t.add_argument("--max-int8-drop", type=float, default=MAX_INT8_DROP,
                   help="fail when int8 val accuracy is more than this many points below float")

    _deploy_args(t)
    e = sub.add_parser("export", help="export a checkpoint to a verified int8 TFLite model folder")
    e.add_argument("checkpoint", help="checkpoints/best.pt or last.pt written by `train`")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--calib", help="image folder to calibrate on (default: the checkpoint's training images)")
    e.add_argument("--val", help="image folder to verify on (default: the checkpoint's validation images)")
    e.add_argument("--max-int8-drop", type=float, default=MAX_INT8_DROP)

    _deploy_args(e)
    v = sub.add_parser("evaluate", help="accuracy, per-class precision/recall and confusion matrix on a folder")
    v.add_argument("model", help="a .tflite (run by ai-edge-litert) or a checkpoint .pt (PyTorch, float)")
    v.add_argument("data_dir", help="image folder whose sub-folders are the model's class names")
    v.add_argument("--labels", help="labels file (default: labels.txt beside the model, else embedded)")
    v.add_argument("--json", dest="json_out", help="also write the report as JSON to this file")
    v.add_argument("--plot", help="also draw the confusion matrix to this PNG")

    ei = sub.add_parser("export-imagenet", help="write edged's default model (EfficientNet-Lite0, ImageNet, int8)")
    ei.add_argument("--out", default="models", help="output folder (default: models)")

    sub.add_parser("archs", help="list the architectures")
    pl = sub.add_parser("pull", help="fetch the samples labelled on edged boxes into one image folder")
    pl.add_argument("urls", nargs="+", help="a box's HTTP endpoint (http://box:9464) or its /api/dataset.tar URL")
    pl.add_argument("--out", required=True, help="image folder to merge into (one sub-folder per class)")
    pl.add_argument("--token-file", help="file holding the box's http token (needed off loopback)")
    return p


def _deploy_args(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("deployment", "hand the verified model to `edged deploy` (docs/fleet.md)")
    d.add_argument("--deploy", action="store_true", help="sign and publish the model once it is verified")
    d.add_argument("--broker", help="MQTT broker URL of the fleet")
    d.add_argument("--key", help="signing key (NAME.key from `edged keygen`)")
    d.add_argument("--group", help="target group")
    d.add_argument("--deploy-device", action="append", default=[], help="target device (repeatable)")
    d.add_argument("--slot", default="default", help="the model slot (models[].name) it replaces")
    d.add_argument("--canary", type=int, default=0, help="deploy to N boxes of the group first")
    d.add_argument("--mqtt-username", default="", help="MQTT user name")
    d.add_argument("--mqtt-password-file", default="", help="file holding the MQTT password")
    d.add_argument("--edged", default="edged", help="the edged binary (default: edged on PATH)")


def _deploy_target(args: argparse.Namespace) -> DeployTarget | None:
    if not args.deploy:
        return None
    t = DeployTarget(broker=args.broker or "", key=args.key or "", group=args.group or "",
                     devices=args.deploy_device, slot=args.slot, canary=args.canary,
                     username=args.mqtt_username, password_file=args.mqtt_password_file, edged=args.edged)
    t.check()
    return t


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return _run(args)
    except (ValueError, OSError, RuntimeError) as e:
        # Data, configuration and verification failures: one clear line, exit 1.
        logging.getLogger("edged_train").debug("failure", exc_info=True)
        print(f"edged-train {args.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "pull":
        token = ""
        if args.token_file:
            with open(args.token_file) as f:
                token = f.readline().strip()
        rep = pull(args.urls, args.out, token)
        for cls, n in sorted(rep.written.items()):
            print(f"{cls:30s} {n:5d} new")
        for s in rep.skipped:
            print(f"skipped {s}", file=sys.stderr)
        print(f"{sum(rep.written.values())} images written to {args.out}, {rep.duplicates} already there, "
              f"{len(rep.skipped)} entries skipped")
        return 0
    if args.cmd == "archs":
        for a in ARCHS.values():
            print(f"{a.name:20s} default {a.default_size}px, min {a.min_size}px")
        return 0
    if args.cmd == "train":
        target = _deploy_target(args)  # checked before hours of training
        kw = {k: v for k, v in vars(args).items() if k not in ("cmd", "verbose", "out") + _DEPLOY_KEYS}
        card = export_trained(train(TrainConfig(out_dir=args.out, **kw)))
        _summary(card, args.out)
        return deploy(args.out, target) if target else 0
    if args.cmd == "export":
        classes = torch_load(args.checkpoint)["classes"]
        calib = scan(args.calib, classes).samples if args.calib else None
        val = scan(args.val, classes).samples if args.val else None
        target = _deploy_target(args)
        card = export_checkpoint(args.checkpoint, args.out, calib, val, max_drop=args.max_int8_drop)
        _summary(card, args.out)
        return deploy(args.out, target) if target else 0
    if args.cmd == "evaluate":
        report, skipped = evaluate_file(args.model, args.data_dir, args.labels)
        print(report.table())
        out = dict(report.as_dict(), model=args.model, data_dir=args.data_dir, skipped=[list(s) for s in skipped])
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(out, f, indent=2)
                f.write("\n")
        if args.plot:
            plots.confusion_matrix(report.classes, report.confusion, args.plot,
                                   f"{os.path.basename(args.model)} on {args.data_dir}")
        print(f"accuracy {report.accuracy:.2f}% on {report.total} images ({len(skipped)} skipped)")
        return 0
    if args.cmd == "export-imagenet":
        card = export_imagenet(args.out)
        for c in card["known_photos"]:
            print(f"{c['photo']:20s} want {c['want']!r}: float {c['float_top1']!r} {c['float_score']}, "
                  f"int8 {c['int8_top1']!r} {c['int8_score']}")
        print(f"wrote {args.out}/efficientnet_lite0_int8.tflite sha256 {card['sha256']}")
        return 0
    raise AssertionError(f"unhandled command {args.cmd}")


_DEPLOY_KEYS = ("deploy", "broker", "key", "group", "deploy_device", "slot", "canary", "mqtt_username",
                "mqtt_password_file", "edged")


def _summary(card: dict, out: str) -> None:
    print(f"float val accuracy {card['float_val_accuracy']:.2f}%, int8 val accuracy "
          f"{card['int8_val_accuracy']:.2f}% -> {os.path.join(out, 'model.tflite')}")


if __name__ == "__main__":
    sys.exit(main())
