"""Classification metrics: accuracy, per-class precision/recall, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class Report:
    """How well predictions match the truth on one labelled set."""

    classes: list[str]
    confusion: np.ndarray  # [true, predicted] counts

    @classmethod
    def of(cls, classes: Sequence[str], truth: Sequence[int], predicted: Sequence[int]) -> "Report":
        """Tally predictions against the truth."""
        n = len(classes)
        cm = np.zeros((n, n), dtype=np.int64)
        for t, p in zip(truth, predicted):
            cm[int(t), int(p)] += 1
        return cls(list(classes), cm)

    @property
    def total(self) -> int:
        """Number of samples."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy in percent (0 for an empty set)."""
        return 100.0 * float(np.trace(self.confusion)) / self.total if self.total else 0.0

    def precision(self) -> list[float]:
        """Per-class precision (0 where the class was never predicted)."""
        col = self.confusion.sum(axis=0)
        return [float(self.confusion[i, i] / col[i]) if col[i] else 0.0 for i in range(len(self.classes))]

    def recall(self) -> list[float]:
        """Per-class recall (0 where the class has no samples)."""
        row = self.confusion.sum(axis=1)
        return [float(self.confusion[i, i] / row[i]) if row[i] else 0.0 for i in range(len(self.classes))]

    def as_dict(self) -> dict:
        """JSON-ready form for model cards."""
        p, r = self.precision(), self.recall()
        support = self.confusion.sum(axis=1)
        return {
            "accuracy": round(self.accuracy, 3),
            "samples": self.total,
            "per_class": {c: {"precision": round(p[i], 4), "recall": round(r[i], 4), "support": int(support[i])}
                          for i, c in enumerate(self.classes)},
            "confusion_matrix": {"rows": "true class", "columns": "predicted class",
                                 "classes": self.classes, "counts": self.confusion.tolist()},
        }

    def table(self) -> str:
        """A plain-text summary for the terminal."""
        p, r = self.precision(), self.recall()
        support = self.confusion.sum(axis=1)
        w = max(8, *(len(c) for c in self.classes))
        lines = [f"accuracy {self.accuracy:.2f}% on {self.total} images", f"{'class':<{w}}  precision  recall  support"]
        for i, c in enumerate(self.classes):
            lines.append(f"{c:<{w}}  {p[i]:9.3f}  {r[i]:6.3f}  {int(support[i]):7d}")
        return "\n".join(lines)
