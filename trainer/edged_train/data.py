"""Image-folder datasets: scanning, corrupt-file reporting, stratified split,
augmentation and class balancing.

The layout is the one every tool in the field reads: ``DATA_DIR/<class>/*.jpg``,
one sub-folder per class, class index = position in the sorted folder names,
so labels.txt, the model's output and the folder names always line up.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .images import load_rgb

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class Sample:
    """One labelled image file."""

    path: str
    label: int


@dataclass
class ImageFolder:
    """The readable images of a class-per-folder tree, and what was skipped."""

    root: str
    classes: list[str]
    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def counts(self) -> list[int]:
        """Images per class, in class order."""
        c = [0] * len(self.classes)
        for s in self.samples:
            c[s.label] += 1
        return c


@dataclass
class Split:
    """Training and validation images of one run."""

    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)


class DataError(ValueError):
    """The data folder cannot be used (missing, empty, classes not matching)."""


def check_image(path: str) -> str | None:
    """Decode `path` fully; return None when readable, else the reason."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))  # JPEG: decode at reduced size, still reads every byte
            im.load()
            if im.width < 1 or im.height < 1:
                return "empty image"
        return None
    except Exception as e:  # PIL raises many types for broken files
        return f"{type(e).__name__}: {e}"


def scan(root: str, classes: Sequence[str] | None = None, check: bool = True) -> ImageFolder:
    """Read the class folders under `root`. Unreadable images are logged by path
    (WARNING) and listed in ``skipped``, never dropped silently.

    With `classes` given (a validation folder), its folders must be among them
    and indices follow that list. `check=False` skips decoding each image.
    """
    if not os.path.isdir(root):
        raise DataError(f"{root}: not a folder")
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if classes is None:
        classes = found
        if len(classes) < 2:
            raise DataError(f"{root}: {len(classes)} class folders, need at least 2 (one sub-folder per class)")
    else:
        extra = [d for d in found if d not in classes]
        if extra:
            raise DataError(f"{root}: class folders {extra} are not among the model's classes {list(classes)}")
    index = {c: i for i, c in enumerate(classes)}
    samples: list[Sample] = []
    skipped: list[tuple[str, str]] = []
    for c in found:
        for dirpath, dirs, files in os.walk(os.path.join(root, c)):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                if f.startswith("."):
                    continue
                if not f.lower().endswith(IMAGE_EXTENSIONS):
                    log.warning("skipping %s: not an image file name", p)
                    skipped.append((p, "not an image file name"))
                    continue
                reason = check_image(p) if check else None
                if reason:
                    log.warning("skipping unreadable image %s: %s", p, reason)
                    skipped.append((p, reason))
                    continue
                samples.append(Sample(p, index[c]))
    if not samples:
        raise DataError(f"{root}: no readable images")
    return ImageFolder(root, list(classes), samples, skipped)


def stratified_split(samples: Sequence[Sample], val_fraction: float,
                     seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """Split per class with a fixed seed: the same files land in the same half
    on every run and every machine (order of `samples` does not matter).
    Each class with 2+ images gives at least one to validation and keeps at
    least one for training."""
    if not 0 < val_fraction < 1:
        raise DataError(f"validation fraction {val_fraction}: want 0 < f < 1")
    by_class: dict[int, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    train: list[Sample] = []
    val: list[Sample] = []
    for label in sorted(by_class):
        items = sorted(by_class[label], key=lambda s: s.path)
        order = np.random.default_rng([seed, label]).permutation(len(items))
        n_val = int(round(len(items) * val_fraction))
        n_val = min(max(n_val, 1), len(items) - 1) if len(items) >= 2 else 0
        val += [items[i] for i in order[:n_val]]
        train += [items[i] for i in order[n_val:]]
    return train, val


def class_weights(samples: Sequence[Sample], num_classes: int) -> list[float]:
    """Per-sample weights that make every class equally likely to be drawn."""
    counts = np.bincount([s.label for s in samples], minlength=num_classes).astype(np.float64)
    return [1.0 / counts[s.label] for s in samples]


def is_skewed(samples: Sequence[Sample], num_classes: int, ratio: float = 1.5) -> bool:
    """Whether the largest class has more than `ratio` times the images of the smallest."""
    counts = np.bincount([s.label for s in samples], minlength=num_classes)
    counts = counts[counts > 0]
    return bool(counts.max() > ratio * counts.min())


def normalise(rgb: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8-valued CHW RGB → float CHW, (x - mean) / std in pixel units."""
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (rgb.float() - m) / s


class Images(torch.utils.data.Dataset):
    """Labelled images as normalised tensors.

    Without augmentation an image is stretched to size×size exactly as
    ``images.load_rgb`` does (the same pixels the int8 check sees, and what
    edged's default ``stretch`` resize feeds). With augmentation: random
    resized crop, horizontal flip (unless disabled), colour jitter, small
    rotation.
    """

    def __init__(self, samples: Sequence[Sample], size: int, mean: Sequence[float], std: Sequence[float],
                 augment: bool = False, flip: bool = True) -> None:
        self.samples = list(samples)
        self.size, self.mean, self.std = size, tuple(mean), tuple(std)
        self.augment = None
        if augment:
            from torchvision import transforms as T

            steps = [T.RandomResizedCrop(size, scale=(0.6, 1.0))]
            if flip:
                steps.append(T.RandomHorizontalFlip())
            steps += [T.ColorJitter(0.3, 0.3, 0.3), T.RandomRotation(10)]
            self.augment = T.Compose(steps)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        s = self.samples[i]
        if self.augment is None:
            rgb = load_rgb(s.path, self.size)
        else:
            with Image.open(s.path) as im:
                rgb = np.asarray(self.augment(im.convert("RGB")), dtype=np.uint8)
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)
        return normalise(x, self.mean, self.std), s.label
