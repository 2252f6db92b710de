"""Export a trained model, verify it, and write what edged and people read:
``model.tflite``, ``labels.txt``, ``model_card.json``, ``confusion_matrix.png``
and (after training) ``training_curves.png``.

Verification always runs: the int8 model classifies the validation images in
the ai-edge-litert interpreter and must stay within ``max_drop`` points of the
float model, else the export fails with both numbers (the rejected model is
kept as ``model.rejected.tflite`` for inspection).
"""

from __future__ import annotations

import json
import logging
import os
import platform
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import __version__, plots
from .data import Sample
from .export import export_int8
from .images import load_rgb
from .metrics import Report
from .verify import MAX_INT8_DROP, float_predictions, gate, tflite_predictions

log = logging.getLogger(__name__)


def _calibration(samples: Sequence[Sample], n: int, seed: int, size: int):
    order = np.random.default_rng(seed).permutation(len(samples))[:n]
    chosen = [samples[i] for i in sorted(order)]

    def gen():
        for s in chosen:
            img = load_rgb(s.path, size).astype(np.float32)
            yield img
            yield img[:, ::-1]  # flipped views widen the activation ranges a little

    return gen, len(chosen)


def package(model: nn.Module, arch: str, classes: Sequence[str], size: int, mean: Sequence[float],
            std: Sequence[float], calib: Sequence[Sample], val: Sequence[Sample], out_dir: str, *,
            history: Sequence[dict] | None = None, skipped: Sequence[tuple[str, str]] = (),
            calibration: int = 200, seed: int = 0, threads: int = 2, max_drop: float = MAX_INT8_DROP,
            extra: dict | None = None) -> dict:
    """Export `model` to ``out_dir``, verify it on `val`, return the model card."""
    import tensorflow as tf
    import ai_edge_litert

    if not val:
        raise ValueError("export needs validation images to verify the int8 model against the float one")
    os.makedirs(out_dir, exist_ok=True)
    model = model.to("cpu").eval()
    gen, n_cal = _calibration(calib, calibration, seed, size)
    exported = export_int8(model, size, mean, std, gen, classes, f"edged-train {arch}",
                           f"{arch} classifying {len(classes)} classes; uint8 RGB input {size}x{size}, raw pixels.")
    truth = [s.label for s in val]
    rf = Report.of(classes, truth, float_predictions(model, val, size, mean, std, torch.device("cpu")))
    rq = Report.of(classes, truth, tflite_predictions(exported.data, val, size, threads))
    log.info("validation accuracy: float %.2f%%, int8 %.2f%% (%d images)", rf.accuracy, rq.accuracy, rq.total)
    try:
        gate(rf, rq, max_drop)
    except Exception:
        with open(os.path.join(out_dir, "model.rejected.tflite"), "wb") as f:
            f.write(exported.data)
        raise

    path = os.path.join(out_dir, "model.tflite")
    with open(path, "wb") as f:
        f.write(exported.data)
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(classes) + "\n")
    plots.confusion_matrix(classes, rq.confusion, os.path.join(out_dir, "confusion_matrix.png"),
                           f"int8 model, validation: {rq.accuracy:.1f}%")
    if history:
        plots.training_curves(history, os.path.join(out_dir, "training_curves.png"))
    q = rq.as_dict()
    card = {
        "name": os.path.basename(os.path.abspath(out_dir)),
        "architecture": arch,
        "classes": list(classes),
        "labels_file": "labels.txt",
        "input": {"shape": [1, size, size, 3], "type": "uint8", "color": "rgb", "resize": "stretch",
                  "scale": exported.input_scale, "zero_point": exported.input_zero_point,
                  "normalisation_in_graph": {"mean": list(mean), "std": list(std),
                                             "formula": "(pixel - mean) / std, per RGB channel"}},
        "output": {"type": "uint8", "meaning": "probabilities (softmax in the graph)"},
        "float_val_accuracy": round(rf.accuracy, 3),
        "int8_val_accuracy": round(rq.accuracy, 3),
        "max_int8_drop_points": max_drop,
        "validation_images": rq.total,
        "per_class": q["per_class"],
        "float_per_class": rf.as_dict()["per_class"],
        "confusion_matrix": q["confusion_matrix"],
        "calibration_images": n_cal,
        "skipped_files": [{"path": p, "reason": r} for p, r in skipped],
        "sha256": exported.sha256,
        "tools": {"edged-train": __version__, "torch": torch.__version__, "tensorflow": tf.__version__,
                  "ai-edge-litert": getattr(ai_edge_litert, "__version__", "2.3.0"),
                  "python": platform.python_version()},
    }
    if extra:
        card.update(extra)
    with open(os.path.join(out_dir, "model_card.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    log.info("wrote %s (sha256 %s)", path, exported.sha256)
    return card
