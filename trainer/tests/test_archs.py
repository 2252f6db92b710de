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

from conftest import FASHION, REPO, fashion_subset, report, run_edged

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
    _report_agreement(name, model, ex.data, tfl, size, arch.mean, arch.std)
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


def _report_agreement(name: str, model: torch.nn.Module, data: bytes, tfl: TFLiteClassifier, size: int,
                      mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    """Report how often the int8 export's top-1 agrees with the float
    model's on 40 real Fashion-MNIST test images (grey as RGB), and the
    export's sha256: the same seed under two torch versions should give the
    same model and the same agreement."""
    import hashlib

    if not (FASHION / "t10k-images-idx3-ubyte.gz").exists():
        return
    agree = 0
    items = fashion_subset("t10k", list(range(10)), 4)
    for img, _ in items:
        rgb = np.array(Image.fromarray(img).convert("RGB").resize((size, size), Image.BILINEAR))
        x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]  # pixels, as the export's input
        x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
        with torch.no_grad():
            f = int(model(x)[0].argmax())
        agree += f == int(tfl.probabilities(rgb).argmax())
    report(f"arch/{name}", int8_agreement=100.0 * agree / len(items), sha256=hashlib.sha256(data).hexdigest())
