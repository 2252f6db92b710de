"""Every architecture the CLI offers builds, converts to a fully-integer
int8 TFLite with uint8 input at a small input size, runs in the
ai-edge-litert interpreter, and loads and runs in edged's engine.

VGG carries 4096-wide dense layers whatever the input size (120M+ weights),
which take TensorFlow's converter minutes per model here (measured 200 s
and 220 s on a busy machine): vgg11 runs always and stands for the family,
vgg16 only with EDGED_TRAIN_HEAVY=1 (`make test-python-heavy`). AlexNet (57M
weights, about 100 s) runs always."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edged_train import archs, metadata
from edged_train.export import TFLiteClassifier, export_int8

from conftest import REPO, run_edged

HEAVY = {"vgg16"}  # vgg11 stands for the VGG family in every run
LABELS = ["car", "truck", "person", "empty"]


def _params():
    for name in sorted(archs.ARCHS):
        marks = []
        if name in HEAVY and os.environ.get("EDGED_TRAIN_HEAVY") != "1":
            marks.append(pytest.mark.skip(reason=f"{name}: heavy dense layers; set EDGED_TRAIN_HEAVY=1"))
        yield pytest.param(name, marks=marks)


@pytest.mark.parametrize("name", list(_params()))
def test_arch_exports_and_runs(name: str, tmp_path: Path) -> None:
    arch = archs.ARCHS[name]
    size = max(arch.min_size, 32)
    torch.manual_seed(0)
    model = archs.build(name, len(LABELS)).eval()
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)

    ex = export_int8(model, size, arch.mean, arch.std,
                     lambda: (rng.uniform(0, 255, (size, size, 3)).astype(np.float32) for _ in range(3)),
                     LABELS, name, f"{name} test export")
    assert metadata.read_labels(ex.data) == LABELS

    tfl = TFLiteClassifier(ex.data)
    assert list(tfl.inp["shape"]) == [1, size, size, 3]
    assert tfl.inp["quantization"] == (1.0, 0)
    p = tfl.probabilities(photo)
    assert p.shape == (len(LABELS),) and abs(float(p.sum()) - 1) < 0.05, f"probabilities {p}"

    model_path = tmp_path / "model.tflite"
    model_path.write_bytes(ex.data)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    src = tmp_path / "frames"
    src.mkdir()
    Image.fromarray(photo).save(src / "frame.png")
    if not (REPO / "bin" / "edged").exists():
        pytest.skip("bin/edged not built (run `make build`): litert part passed")
    results = run_edged(src, model_path, tmp_path / "labels.txt")
    assert [r["file"] for r in results] == ["frame.png"]
    top = results[0]["labels"][0]
    assert top["label"] in LABELS and 0 <= top["index"] < len(LABELS)
    assert top["index"] == int(p.argmax()) or abs(top["score"] - float(p.max())) < 0.05, \
        f"edged top-1 {top}, interpreter {p}"
