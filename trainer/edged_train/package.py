"""Export a trained model, verify it, and write what edged and people read:
``model.tflite``, ``labels.txt``, ``model_card.json``, ``confusion_matrix.png``
and (after training) ``training_curves.png``. The model comes from a finished
training run (``export_trained``) or from a checkpoint (``export_checkpoint``).

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
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import __version__, plots
from .checkpoint import load_checkpoint, samples_from_json
from .data import DataError, Sample
from .export import export_int8
from .images import load_rgb
from .metrics import Report
from .train import TrainResult
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


@dataclass
class PackageJob:
    """What ``package`` exports, verifies and writes, and where."""

    model: nn.Module
    arch: str
    classes: Sequence[str]
    size: int  # square input size in pixels
    mean: Sequence[float]  # per-channel normalisation in pixels, folded into the graph
    std: Sequence[float]
    calib: Sequence[Sample]  # images to draw the int8 calibration set from
    val: Sequence[Sample]  # images the int8 model is verified on against the float one
    out_dir: str
    history: Sequence[dict] = ()  # per-epoch training records: training_curves.png unless empty
    skipped: Sequence[tuple[str, str]] = ()  # (path, reason) of unreadable images, for the card
    calibration: int = 200  # how many of `calib` to calibrate on
    seed: int = 0  # picks them
    threads: int = 2  # of the verifying interpreter
    max_drop: float = MAX_INT8_DROP
    extra: dict | None = None  # merged into the model card


def package(job: PackageJob) -> dict:
    """Export ``job.model`` to ``job.out_dir``, verify it on ``job.val``, return the model card."""
    import tensorflow as tf
    import ai_edge_litert

    model, arch, classes, size, mean, std = job.model, job.arch, job.classes, job.size, job.mean, job.std
    val, out_dir, max_drop = job.val, job.out_dir, job.max_drop
    if not val:
        raise ValueError("export needs validation images to verify the int8 model against the float one")
    os.makedirs(out_dir, exist_ok=True)
    model = model.to("cpu").eval()
    gen, n_cal = _calibration(job.calib, job.calibration, job.seed, size)
    exported = export_int8(model, size, mean, std, gen, classes, f"edged-train {arch}",
                           f"{arch} classifying {len(classes)} classes; uint8 RGB input {size}x{size}, raw pixels.")
    truth = [s.label for s in val]
    rf = Report.of(classes, truth, float_predictions(model, val, size, mean, std, torch.device("cpu")))
    rq = Report.of(classes, truth, tflite_predictions(exported.data, val, size, job.threads))
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
    if job.history:
        plots.training_curves(job.history, os.path.join(out_dir, "training_curves.png"))
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
        "skipped_files": [{"path": p, "reason": r} for p, r in job.skipped],
        "sha256": exported.sha256,
        "tools": {"edged-train": __version__, "torch": torch.__version__, "tensorflow": tf.__version__,
                  "ai-edge-litert": getattr(ai_edge_litert, "__version__", "2.3.0"),
                  "python": platform.python_version()},
    }
    if job.extra:
        card.update(job.extra)
    with open(os.path.join(out_dir, "model_card.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    log.info("wrote %s (sha256 %s)", path, exported.sha256)
    return card


def export_trained(result: TrainResult) -> dict:
    """Export and verify the model of a finished training run into its output
    folder, with the run's history and training facts in the model card."""
    cfg, split = result.config, result.split
    return package(PackageJob(result.model, cfg.arch, split.classes, result.size, result.arch.mean, result.arch.std,
                              split.train, split.val, cfg.out_dir, history=result.history, skipped=split.skipped,
                              calibration=cfg.calibration, seed=cfg.seed, threads=cfg.threads,
                              max_drop=cfg.max_int8_drop, extra={"training": result.summary()}))


def export_checkpoint(path: str, out_dir: str, calib: Sequence[Sample] | None = None,
                      val: Sequence[Sample] | None = None, max_drop: float = MAX_INT8_DROP) -> dict:
    """Export and verify a checkpoint. Without `calib`/`val` the checkpoint's
    own training and validation file lists are used."""
    model, ck = load_checkpoint(path)
    calib = list(calib) if calib else samples_from_json(ck.get("train_files", []))
    val = list(val) if val else samples_from_json(ck.get("val_files", []))
    missing = [s.path for s in calib + val if not os.path.exists(s.path)]
    if missing:
        raise DataError(f"checkpoint {path}: {len(missing)} recorded images are gone, e.g. {missing[0]}; "
                        "pass the image folders explicitly")
    return package(PackageJob(model, ck["arch"], ck["classes"], int(ck["size"]), ck["mean"], ck["std"], calib, val,
                              out_dir, max_drop=max_drop, extra={"checkpoint": os.path.abspath(path)}))
