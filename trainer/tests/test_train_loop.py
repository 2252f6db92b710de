"""Tests of the training loop's parts: metrics, the int8 gate, class
balancing, early stopping and checkpoint/resume on real Fashion-MNIST images."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest
from PIL import Image

from edged_train.data import Sample, class_weights, is_skewed
from edged_train.metrics import Report
from edged_train.verify import VerificationError, gate

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.parametrize("truth,pred,acc,precision,recall", [
    ([0, 0, 1, 1], [0, 0, 1, 1], 100.0, [1.0, 1.0], [1.0, 1.0]),
    ([0, 0, 1, 1], [0, 1, 1, 1], 75.0, [1.0, 2 / 3], [0.5, 1.0]),
    ([0, 0, 0, 1], [1, 1, 1, 1], 25.0, [0.0, 0.25], [0.0, 1.0]),
])
def test_report(truth, pred, acc, precision, recall):
    r = Report.of(["a", "b"], truth, pred)
    assert r.accuracy == pytest.approx(acc)
    assert r.precision() == pytest.approx(precision)
    assert r.recall() == pytest.approx(recall)
    d = r.as_dict()
    assert d["confusion_matrix"]["counts"] == r.confusion.tolist()
    assert sum(v["support"] for v in d["per_class"].values()) == len(truth)


@pytest.mark.parametrize("float_right,int8_right,fails", [
    (90, 90, False), (90, 88, False), (90, 87, True), (80, 95, False),
])
def test_gate(float_right, int8_right, fails):
    truth = [0] * 100
    rf = Report.of(["a", "b"], truth, [0] * float_right + [1] * (100 - float_right))
    rq = Report.of(["a", "b"], truth, [0] * int8_right + [1] * (100 - int8_right))
    if fails:
        with pytest.raises(VerificationError) as e:
            gate(rf, rq)
        assert f"{float_right:.2f}%" in str(e.value) and f"{int8_right:.2f}%" in str(e.value)
    else:
        gate(rf, rq)


def test_class_weights_balance_classes():
    samples = [Sample(f"a{i}", 0) for i in range(90)] + [Sample(f"b{i}", 1) for i in range(10)]
    assert is_skewed(samples, 2)
    assert not is_skewed(samples[80:], 2)
    w = np.array(class_weights(samples, 2))
    per_class = [w[:90].sum(), w[90:].sum()]
    assert per_class == pytest.approx([1.0, 1.0])


def _fashion_folder(root: str, per_class: int, size: int) -> None:
    """Write real Fashion-MNIST images (3 classes) as an image folder."""
    with gzip.open(f"{FASHION}/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{FASHION}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    for c, name in {1: "trouser", 7: "sneaker", 8: "bag"}.items():
        os.makedirs(os.path.join(root, name))
        for i, idx in enumerate(np.where(y == c)[0][:per_class]):
            Image.fromarray(x[idx]).convert("RGB").resize((size, size), Image.BILINEAR).save(
                os.path.join(root, name, f"{i:03d}.png"))


@pytest.mark.skipif(not os.path.exists(FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_resume_continues_the_run(tmp_path):
    from edged_train.checkpoint import torch_load
    from edged_train.package import export_trained
    from edged_train.train import TrainConfig, train

    data = tmp_path / "data"
    _fashion_folder(str(data), 40, 28)
    out = tmp_path / "out"
    base = dict(data_dir=str(data), out_dir=str(out), arch="lenet5", img_size=28, batch=16, workers=0,
                calibration=30)
    card1 = export_trained(train(TrainConfig(epochs=1, **base)))
    assert card1["training"]["epochs_run"] == 1
    card2 = export_trained(train(TrainConfig(epochs=3, resume=str(out / "checkpoints" / "last.pt"), **base)))
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert torch_load(str(out / "checkpoints" / "last.pt"))["epoch"] == 3
    assert card2["training"]["epochs_run"] == 3
    assert card2["int8_val_accuracy"] >= card2["float_val_accuracy"] - 2.0
    for name in ("model.tflite", "labels.txt", "model_card.json", "confusion_matrix.png", "training_curves.png"):
        assert (out / name).stat().st_size > 0, name


def test_user_weights_load_into_another_class_count(tmp_path):
    import torch

    from edged_train.archs import LeNet5
    from edged_train.train import TrainConfig, build_model

    trained = LeNet5(10)
    torch.save(trained.state_dict(), tmp_path / "w.pth")
    model, pretrained = build_model(TrainConfig(data_dir="-", out_dir="-", arch="lenet5",
                                                weights=str(tmp_path / "w.pth")), 3)
    assert pretrained
    assert torch.equal(model.features[0].weight, trained.features[0].weight), "backbone weights not loaded"
    assert model.classifier[-1].out_features == 3


def test_user_weights_of_another_shape_are_refused(tmp_path):
    import torch

    from edged_train.archs import LeNet5
    from edged_train.train import TrainConfig, build_model

    state = LeNet5(3).state_dict()
    state["features.0.weight"] = torch.zeros(6, 3, 3, 3)
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="features.0.weight"):
        build_model(TrainConfig(data_dir="-", out_dir="-", arch="lenet5", weights=str(tmp_path / "w.pth")), 3)
