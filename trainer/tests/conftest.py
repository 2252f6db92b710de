"""Shared fixtures: the repository's paths, real data from Debian packages,
a runner for edged's real daemon path (``bin/edged run ... --stdout``), and
the run's report of measured accuracies (``EDGED_TRAIN_REPORT=FILE``), which
``compare_reports.py`` holds against another torch's run."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[2]
EDGED = REPO / "bin" / "edged"
FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


_MEASURED: dict[str, dict[str, float | str]] = {}


def report(name: str, **values: float | str) -> None:
    """Record what a test measured under `name`, for EDGED_TRAIN_REPORT."""
    _MEASURED.setdefault(name, {}).update(values)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("EDGED_TRAIN_REPORT")
    if not path:
        return
    import torch
    import torchvision
    doc = {"torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
           "exitstatus": int(exitstatus), "measured": _MEASURED}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def edged() -> Path:
    """The edged binary built by `make build`; the test is skipped, saying
    so, when it has not been built."""
    if not EDGED.exists():
        pytest.skip(f"{EDGED} not built (run `make build`)")
    return EDGED


def run_edged(source: Path, model: Path, labels: Path | None = None, timeout: float = 300) -> list[dict]:
    """Run `edged run --source SOURCE --model MODEL --stdout` over an image
    folder and return its JSON results, one per image, in output order."""
    cmd = [str(EDGED), "run", "--source", str(source), "--model", str(model), "--stdout", "--no-mqtt"]
    if labels is not None:
        cmd += ["--labels", str(labels)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}\nstderr:\n{p.stderr[-4000:]}"
    results = [json.loads(line) for line in p.stdout.splitlines() if line.strip().startswith("{")]
    assert results, f"edged printed no results; stdout:\n{p.stdout[-2000:]}\nstderr:\n{p.stderr[-2000:]}"
    return results


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_subset(split: str, classes: list[int], per_class: int, offset: int = 0) -> list[tuple[np.ndarray, int]]:
    """The first `per_class` images (after `offset`) of each chosen class of
    Debian's Fashion-MNIST ("train" or "t10k"), as (28x28 uint8, class)."""
    if not (FASHION / f"{split}-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{FASHION} missing (apt-get install dataset-fashion-mnist)")
    images = _idx(FASHION / f"{split}-images-idx3-ubyte.gz")
    labels = _idx(FASHION / f"{split}-labels-idx1-ubyte.gz")
    out: list[tuple[np.ndarray, int]] = []
    for c in classes:
        idx = np.flatnonzero(labels == c)[offset:offset + per_class]
        out += [(images[i], c) for i in idx]
    return out


def write_folder(root: Path, items: list[tuple[np.ndarray, int]], by_class: bool = True) -> list[tuple[Path, int]]:
    """Write images as PNG: one sub-folder per class, or flat when
    `by_class` is False. Returns (path, class) in writing order."""
    written = []
    for i, (img, c) in enumerate(items):
        folder = root / FASHION_CLASSES[c] if by_class else root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{FASHION_CLASSES[c]}_{i:04d}.png"
        Image.fromarray(img).save(path)
        written.append((path, c))
    return written
