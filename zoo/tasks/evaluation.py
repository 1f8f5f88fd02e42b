"""What `zoo evaluate` measures per task, accumulated batch by batch.

A task's `Task.evaluator(spec, plan)` returns one of these (None: the task has no
evaluation beyond its loss and metrics). Each keeps running sums only (a
confusion matrix, squared and absolute errors), so memory does not grow with the
split, and writes its own figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from zoo._common import atomic_path

CONFUSION_PNG = "confusion_matrix.png"
ANNOTATED_CLASSES = 30  # counts are written in the cells up to this many classes


class Evaluator:
    """Accumulates `(targets, outputs)` batches; `result()` gives the figures."""

    def update(self, targets, outputs) -> None:
        raise NotImplementedError

    def result(self) -> dict:
        raise NotImplementedError

    def write_figures(self, folder: Path) -> list[str]:
        """Write the evaluator's figures into `folder`; returns their file names."""
        return []


class ClassificationEvaluator(Evaluator):
    """Accuracy, per-class precision, recall, F1 and support, and the confusion matrix.

    Outputs are class probabilities (or scores), or one probability of class 1
    for a binary classifier (`binary`), thresholded at 0.5.
    """

    def __init__(self, class_names, binary: bool = False):
        self.class_names = [str(c) for c in class_names]
        self.binary = binary
        size = len(self.class_names)
        self.matrix = np.zeros((size, size), dtype=np.int64)  # rows: true, columns: predicted

    def update(self, targets, outputs) -> None:
        outputs = np.asarray(outputs)
        if self.binary:
            predicted = (outputs.reshape(len(outputs), -1)[:, 0] > 0.5).astype(np.int64)
        else:
            predicted = outputs.reshape(len(outputs), -1).argmax(axis=1)
        true = np.asarray(targets).reshape(-1).astype(np.int64)
        size = len(self.class_names)
        self.matrix += np.bincount(true * size + predicted,
                                   minlength=size * size).reshape(size, size)

    def result(self) -> dict:
        matrix = self.matrix
        support = matrix.sum(axis=1)
        predicted = matrix.sum(axis=0)
        correct = np.diag(matrix)
        classes = []
        for i, name in enumerate(self.class_names):
            precision = _ratio(correct[i], predicted[i])
            recall = _ratio(correct[i], support[i])
            f1 = (0.0 if precision is None or recall is None or precision + recall == 0
                  else 2 * precision * recall / (precision + recall))
            classes.append({"class": name, "precision": precision, "recall": recall,
                            "f1": f1, "support": int(support[i])})
        return {"accuracy": _ratio(correct.sum(), matrix.sum()), "classes": classes,
                "confusion_matrix": matrix.tolist()}

    def write_figures(self, folder: Path) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        size = len(self.class_names)
        side = min(4 + 0.5 * size, 20)
        fig, ax = plt.subplots(figsize=(side, side))
        ax.imshow(self.matrix, cmap="Blues")
        ax.set(xticks=range(size), yticks=range(size), xlabel="predicted", ylabel="true",
               title="Confusion matrix")
        ax.set_xticklabels(self.class_names, rotation=90)
        ax.set_yticklabels(self.class_names)
        if size <= ANNOTATED_CLASSES:
            high = self.matrix.max() / 2 if self.matrix.size else 0
            for (i, j), count in np.ndenumerate(self.matrix):
                ax.text(j, i, str(count), ha="center", va="center",
                        color="white" if count > high else "black", fontsize=8)
        fig.tight_layout()
        with atomic_path(Path(folder) / CONFUSION_PNG) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        return [CONFUSION_PNG]


class RegressionEvaluator(Evaluator):
    """RMSE, MAE and R² over every output value (sums of errors and targets, in float64)."""

    def __init__(self):
        self.count = 0
        self.squared = self.absolute = self.total = self.total_squared = 0.0

    def update(self, targets, outputs) -> None:
        true = np.asarray(targets, dtype=np.float64).reshape(-1)
        error = np.asarray(outputs, dtype=np.float64).reshape(-1) - true
        self.count += true.size
        self.squared += float(np.sum(error ** 2))
        self.absolute += float(np.sum(np.abs(error)))
        self.total += float(np.sum(true))
        self.total_squared += float(np.sum(true ** 2))

    def result(self) -> dict:
        if not self.count:
            return {"rmse": None, "mae": None, "r2": None}
        variance = self.total_squared - self.total ** 2 / self.count  # n times the variance
        return {"rmse": math.sqrt(self.squared / self.count), "mae": self.absolute / self.count,
                "r2": None if variance <= 0 else 1.0 - self.squared / variance}


def _ratio(a, b) -> float | None:
    return None if b == 0 else float(a) / float(b)
