"""Image-folder scanning and splitting: stratified, deterministic, and
loud about unreadable images."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from edged_train.data import DataError, Sample, scan, stratified_split


def _samples(counts: list[int]) -> list[Sample]:
    return [Sample(f"/data/c{c}/img{i:03d}.png", c) for c, n in enumerate(counts) for i in range(n)]


@pytest.mark.parametrize("counts, fraction", [
    ([50, 50, 50], 0.2),
    ([200, 20, 5], 0.2),   # skewed: every class keeps its share
    ([10, 3, 2], 0.5),
    ([7, 9], 0.3),
])
def test_split_is_stratified(counts: list[int], fraction: float) -> None:
    samples = _samples(counts)
    train, val = stratified_split(samples, fraction, seed=3)
    assert sorted(s.path for s in train + val) == sorted(s.path for s in samples), "lost or duplicated images"
    per_val = Counter(s.label for s in val)
    for c, n in enumerate(counts):
        assert 1 <= per_val[c] <= n - 1, f"class {c}: {per_val[c]} of {n} in validation"
        assert abs(per_val[c] - n * fraction) <= 1, f"class {c}: {per_val[c]} of {n}, want about {n * fraction:.1f}"


def test_split_is_deterministic_and_order_free() -> None:
    samples = _samples([40, 30, 20])
    a = stratified_split(samples, 0.25, seed=7)
    b = stratified_split(list(reversed(samples)), 0.25, seed=7)
    assert [s.path for s in a[1]] == [s.path for s in b[1]], "split depends on input order"
    c = stratified_split(samples, 0.25, seed=8)
    assert {s.path for s in a[1]} != {s.path for s in c[1]}, "seed has no effect"


def _image(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def test_scan_reports_and_skips_corrupt_images(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _image(tmp_path / "cat" / "a.png", (255, 0, 0))
    _image(tmp_path / "dog" / "b.jpg", (0, 255, 0))
    _image(tmp_path / "dog" / "c.png", (0, 0, 255))
    broken = tmp_path / "cat" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    empty = tmp_path / "dog" / "empty.png"
    empty.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        folder = scan(str(tmp_path))
    assert folder.classes == ["cat", "dog"]
    assert sorted((Path(s.path).name, s.label) for s in folder.samples) == [("a.png", 0), ("b.jpg", 1), ("c.png", 1)]
    assert sorted(p for p, _ in folder.skipped) == sorted([str(broken), str(empty)])
    for p in (broken, empty):
        assert str(p) in caplog.text, f"{p} was skipped without a log line"


def test_scan_validation_folder_uses_training_classes(tmp_path: Path) -> None:
    _image(tmp_path / "dog" / "x.png", (1, 2, 3))
    folder = scan(str(tmp_path), ["cat", "dog"])
    assert [s.label for s in folder.samples] == [1]
    _image(tmp_path / "fox" / "y.png", (1, 2, 3))
    with pytest.raises(DataError, match="fox"):
        scan(str(tmp_path), ["cat", "dog"])


@pytest.mark.parametrize("layout, message", [
    ({}, "class folders"),
    ({"only": 1}, "class folders"),
])
def test_scan_rejects_unusable_folders(tmp_path: Path, layout: dict, message: str) -> None:
    for c, n in layout.items():
        for i in range(n):
            _image(tmp_path / c / f"{i}.png", (0, 0, 0))
    with pytest.raises(DataError, match=message):
        scan(str(tmp_path))
