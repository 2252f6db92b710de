"""edged's default model (models/efficientnet_lite0_int8.tflite): right on
real photos of known ImageNet classes in PyTorch (float), in the
ai-edge-litert interpreter (int8) and through edged's daemon path."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from edged_train import imagenet, metadata
from edged_train.export import TFLiteClassifier
from edged_train.images import load_rgb

from conftest import REPO, report, run_edged

MODEL = REPO / "models" / "efficientnet_lite0_int8.tflite"
LABELS = REPO / "models" / "labels.txt"
CARD = REPO / "models" / "efficientnet_lite0_int8.json"


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return MODEL.read_bytes()


@pytest.fixture(scope="module")
def photos() -> list[tuple[str, int]]:
    known = imagenet.known_photos()
    missing = [p for p, _ in known if not Path(p).exists()]
    if missing:
        pytest.skip(f"photos missing (opencv-doc, gocv module cache): {missing}")
    return known


def test_files_agree(model_bytes: bytes) -> None:
    labels = LABELS.read_text().splitlines()
    assert len(labels) == 1000, f"labels.txt has {len(labels)} lines, want 1000"
    assert metadata.read_labels(model_bytes) == labels, "labels embedded in the model differ from models/labels.txt"
    card = json.loads(CARD.read_text())
    assert card["sha256"] == hashlib.sha256(model_bytes).hexdigest(), "model card sha256 is not the model's"
    assert labels == imagenet.class_names(), "labels.txt is not the short ImageNet names from opencv-doc"


def test_input_is_raw_uint8_pixels(model_bytes: bytes) -> None:
    c = TFLiteClassifier(model_bytes)
    assert list(c.inp["shape"]) == [1, 224, 224, 3]
    assert c.inp["dtype"] == np.uint8 and c.out["dtype"] == np.uint8
    assert c.inp["quantization"] == (1.0, 0), f"input quantization {c.inp['quantization']}, want (1.0, 0)"


def test_known_photos_float_and_int8(model_bytes: bytes, photos: list[tuple[str, int]]) -> None:
    names = imagenet.class_names()
    model = imagenet.float_model()
    tfl = TFLiteClassifier(model_bytes)
    tops = []
    for path, want in photos:
        rgb = load_rgb(path, imagenet.SIZE)
        x = (torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] - 127.0) / 128.0
        with torch.no_grad():
            f = int(model(x)[0].argmax())
        tops.append((path, want, f, int(tfl.probabilities(rgb).argmax())))
    report("default-model/photos", float_accuracy=100.0 * np.mean([f == w for _, w, f, _ in tops]),
           int8_accuracy=100.0 * np.mean([q == w for _, w, _, q in tops]))
    for path, want, f, q in tops:
        assert f == want, f"{path}: float top-1 {names[f]!r}, want {names[want]!r}"
        assert q == want, f"{path}: int8 top-1 {names[q]!r}, want {names[want]!r}"


def test_edged_classifies_known_photos(edged: Path, photos: list[tuple[str, int]], tmp_path: Path) -> None:
    for path, _ in photos:
        shutil.copy(path, tmp_path / Path(path).name)
    want = {Path(p).name: i for p, i in photos}
    results = run_edged(tmp_path, MODEL, LABELS)
    got = {r["file"]: r["labels"][0]["index"] for r in results}
    assert got == want, f"edged top-1 indices {got}, want {want}"
