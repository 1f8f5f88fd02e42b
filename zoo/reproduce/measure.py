"""What the claims share: training through `zoo.train`, reading a linear model's fitted map,
and matplotlib figures drawn on the Agg canvas (no display, no pyplot state).

TensorFlow is imported inside the functions, so that importing a claim stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo._common import atomic_path


def train(model: str, data, work: Path, seed: int, **settings):
    """`zoo.train(model, data, ...)` silently, its run folder under `work` (a scratch folder).

    `settings` are `zoo.train`'s own (epochs, batch_size, optimizer, learning_rate,
    lr_schedule, overrides, data_options, ...); `data` a dataset name, arrays `(x, y)`
    or a dict of splits.
    """
    from zoo.runtime.training import train as zoo_train

    return zoo_train(model, data, seed=seed, runs_root=work, verbose=0, **settings)


def history_values(result, key: str) -> list[float]:
    """One value per epoch of `key` (e.g. "loss") from a `TrainResult`'s history."""
    return [float(row[key]) for row in result.history if key in row]


def affine_map(result) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of a one-layer model in the units of the raw inputs: the pre-activation of its
    `<name>_dense` layer (before its sigmoid or softmax) is z = x @ W + b, the data's
    standardization folded in.

    The zoo standardizes numeric features inside the pipeline, so the layer's own
    kernel is in standardized units; probing the preprocessing and the layer with
    0 and the unit vectors gives the map the model applies to raw x.
    """
    model = result.model
    kernel, bias = (np.asarray(w, dtype=np.float64)
                    for w in model.get_layer(f"{model.name}_dense").get_weights())
    features = kernel.shape[0]
    probes = np.vstack([np.zeros((1, features)), np.eye(features)]).astype("float32")
    preprocess = result.plan.preprocessor()
    if preprocess is not None:
        probes = np.asarray(preprocess(probes))
    z = probes.astype(np.float64) @ kernel + bias  # (1 + features, outputs)
    return z[1:] - z[0], z[0]


def new_figure(columns: int, width: float = 4.2, height: float = 3.4, rows: int = 1):
    """A matplotlib Figure with `rows` x `columns` panels, each `width` x `height` inches,
    and its axes (flat, row by row)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, columns, squeeze=False).ravel()


def save_figure(fig, path) -> Path:
    """Write `fig` as a PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path
