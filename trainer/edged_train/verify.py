"""Evaluation of a float PyTorch model and of an exported int8 model on the
same labelled images, and the export gate between them."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import metadata
from .checkpoint import load_checkpoint
from .data import Images, Sample, scan
from .export import TFLiteClassifier
from .images import load_rgb
from .metrics import Report

#: The largest accuracy drop (percentage points) from float to int8 an export may have.
MAX_INT8_DROP = 2.0


class VerificationError(RuntimeError):
    """The int8 model is too far below the float model."""


def float_predictions(model: nn.Module, samples: Sequence[Sample], size: int, mean: Sequence[float],
                      std: Sequence[float], device: torch.device, batch: int = 64) -> list[int]:
    """Top-1 class of the float model for each sample (no augmentation)."""
    loader = torch.utils.data.DataLoader(Images(samples, size, mean, std), batch_size=batch, shuffle=False)
    model.eval()
    out: list[int] = []
    with torch.no_grad():
        for x, _ in loader:
            out += model(x.to(device)).argmax(1).cpu().tolist()
    return out


def tflite_predictions(data: bytes, samples: Sequence[Sample], size: int, threads: int = 2) -> list[int]:
    """Top-1 class of a uint8-input TFLite model, run by the ai-edge-litert interpreter."""
    clf = TFLiteClassifier(data, threads)
    return [int(np.argmax(clf.probabilities(load_rgb(s.path, size)))) for s in samples]


def gate(float_report: Report, int8_report: Report, max_drop: float = MAX_INT8_DROP) -> None:
    """Raise VerificationError, naming both accuracies, when int8 falls more
    than `max_drop` points below float."""
    drop = float_report.accuracy - int8_report.accuracy
    if drop > max_drop:
        raise VerificationError(
            f"int8 model accuracy {int8_report.accuracy:.2f}% is {drop:.2f} points below the float model's "
            f"{float_report.accuracy:.2f}% on {int8_report.total} validation images (allowed: {max_drop})")


def evaluate_file(model_path: str, data_dir: str, labels_path: str | None = None,
                  threads: int = 2) -> tuple[Report, list[tuple[str, str]]]:
    """Evaluate a ``.tflite`` model (ai-edge-litert) or an edged-train
    checkpoint (PyTorch, float) on an image folder whose sub-folders are
    named after the model's classes. Returns the report and the skipped files.

    A .tflite model's labels come from `labels_path`, else ``labels.txt``
    beside the model, else the labels embedded in the model.
    """
    if model_path.endswith(".tflite"):
        with open(model_path, "rb") as f:
            data = f.read()
        classes = _tflite_labels(model_path, data, labels_path)
        size = int(TFLiteClassifier(data, threads).inp["shape"][1])
        folder = scan(data_dir, classes)
        pred = tflite_predictions(data, folder.samples, size, threads)
    else:
        model, ck = load_checkpoint(model_path)
        classes = list(ck["classes"])
        folder = scan(data_dir, classes)
        pred = float_predictions(model, folder.samples, int(ck["size"]), ck["mean"], ck["std"], torch.device("cpu"))
    return Report.of(classes, [s.label for s in folder.samples], pred), folder.skipped


def _tflite_labels(model_path: str, data: bytes, labels_path: str | None) -> list[str]:
    path = labels_path or os.path.join(os.path.dirname(model_path), "labels.txt")
    if labels_path or os.path.exists(path):
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    try:
        return metadata.read_labels(data)
    except Exception as e:
        raise ValueError(f"{model_path}: no labels.txt beside it and no embedded labels ({e})") from e
