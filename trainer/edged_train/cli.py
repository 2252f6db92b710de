"""The ``edged-train`` command line."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edged-train", description="Train and export int8 TFLite classifiers for edged.")
    sub = p.add_subparsers(dest="cmd", required=True)

    ei = sub.add_parser("export-imagenet", help="write edged's default model (EfficientNet-Lite0, ImageNet, int8)")
    ei.add_argument("--out", default="models", help="output folder (default: models)")

    args = p.parse_args(argv)
    if args.cmd == "export-imagenet":
        from .imagenet import export_imagenet

        card = export_imagenet(args.out)
        print(json.dumps(card["known_photos"], indent=1))
        print(f"wrote {args.out}/efficientnet_lite0_int8.tflite sha256 {card['sha256']}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
