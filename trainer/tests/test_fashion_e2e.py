"""End to end on real data: a Fashion-MNIST subset (Debian's
dataset-fashion-mnist) trains for a few epochs through the CLI, exports a
verified int8 model, and edged classifies held-back images with it through
its real daemon path (bin/edged run --source FOLDER --stdout)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from edged_train import metadata
from edged_train.cli import main
from edged_train.export import TFLiteClassifier
from edged_train.images import load_rgb

from conftest import FASHION_CLASSES, fashion_subset, report, run_edged, write_folder

CLASSES = [0, 1, 7, 8]  # T-shirt, trouser, sneaker, bag
SIZE = 32


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("fashion")
    write_folder(root / "train", fashion_subset("train", CLASSES, 100))
    held = write_folder(root / "held", fashion_subset("t10k", CLASSES, 25), by_class=False)
    corrupt = root / "train" / FASHION_CLASSES[CLASSES[0]] / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = root / "out"
    logs = _Capture()
    logging.getLogger().addHandler(logs)
    try:
        rc = main(["train", str(root / "train"), "--out", str(out), "--arch", "lenet5", "--img-size", str(SIZE),
                   "--epochs", "8", "--batch", "32", "--lr", "3e-3", "--device", "cpu", "--workers", "0",
                   "--val-fraction", "0.25", "--seed", "1"])
    finally:
        logging.getLogger().removeHandler(logs)
    assert rc == 0, "edged-train train failed"
    return {"out": out, "held": held, "held_dir": root / "held", "corrupt": corrupt, "logs": logs.text()}


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.lines)


def test_outputs_and_card(trained: dict) -> None:
    out: Path = trained["out"]
    for name in ("model.tflite", "labels.txt", "model_card.json", "training_curves.png", "confusion_matrix.png"):
        assert (out / name).is_file(), f"{name} missing from {sorted(p.name for p in out.iterdir())}"
    card = json.loads((out / "model_card.json").read_text())
    labels = (out / "labels.txt").read_text().splitlines()
    assert labels == sorted(FASHION_CLASSES[c] for c in CLASSES)
    assert metadata.read_labels((out / "model.tflite").read_bytes()) == labels
    report("fashion/train", float_val_accuracy=card["float_val_accuracy"], int8_val_accuracy=card["int8_val_accuracy"],
           arch=card.get("arch", ""))
    assert card["float_val_accuracy"] >= 80, card["float_val_accuracy"]
    assert card["int8_val_accuracy"] >= card["float_val_accuracy"] - 2, \
        (card["float_val_accuracy"], card["int8_val_accuracy"])
    for key in ("classes", "input", "sha256", "confusion_matrix", "per_class"):
        assert key in card, f"model card lacks {key!r}: {sorted(card)}"


def test_corrupt_image_reported_and_skipped(trained: dict) -> None:
    corrupt = str(trained["corrupt"])
    card_text = (trained["out"] / "model_card.json").read_text()
    assert corrupt in trained["logs"], "the corrupt image's path was not logged"
    assert corrupt in card_text, "the corrupt image is not listed in the model card"


def test_evaluate_command(trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ev = tmp_path / "held_by_class"
    for path, c in trained["held"]:
        d = ev / FASHION_CLASSES[c]
        d.mkdir(parents=True, exist_ok=True)
        (d / path.name).write_bytes(path.read_bytes())
    report = tmp_path / "report.json"
    assert main(["evaluate", str(trained["out"] / "model.tflite"), str(ev), "--json", str(report),
                 "--plot", str(tmp_path / "cm.png")]) == 0
    r = json.loads(report.read_text())
    assert r["accuracy"] >= 75, r["accuracy"]
    assert (tmp_path / "cm.png").is_file()
    assert main(["evaluate", str(trained["out"] / "checkpoints" / "best.pt"), str(ev)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_edged_classifies_held_back_images(trained: dict, edged: Path) -> None:
    out: Path = trained["out"]
    labels = (out / "labels.txt").read_text().splitlines()
    truth = {p.name: labels.index(FASHION_CLASSES[c]) for p, c in trained["held"]}
    tfl = TFLiteClassifier((out / "model.tflite").read_bytes())
    interp = {p.name: int(tfl.probabilities(load_rgb(str(p), SIZE)).argmax()) for p, _ in trained["held"]}
    interp_acc = 100 * np.mean([interp[n] == truth[n] for n in truth])

    results = run_edged(trained["held_dir"], out / "model.tflite", out / "labels.txt")
    got = {r["file"]: r["labels"][0] for r in results}
    assert set(got) == set(truth), f"edged reported {len(got)} files, want {len(truth)}"
    for r in got.values():
        assert r["label"] == labels[r["index"]], r
    edged_acc = 100 * np.mean([got[n]["index"] == truth[n] for n in truth])
    agree = 100 * np.mean([got[n]["index"] == interp[n] for n in truth])
    report("fashion/held-back", interpreter_accuracy=interp_acc, edged_accuracy=edged_acc)
    assert edged_acc >= 75, f"edged accuracy {edged_acc:.1f}% on held-back images"
    assert edged_acc >= interp_acc - 4, f"edged {edged_acc:.1f}% vs interpreter {interp_acc:.1f}%"
    assert agree >= 92, f"edged and the interpreter agree on only {agree:.1f}% of images"
