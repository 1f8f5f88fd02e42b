"""Autoencoding: the input is its own target; reconstruction losses come with the model.

The export adds `encode`, `decode` and `reconstruct` signatures; the figures
show what a trained autoencoder learned: its first layer's hidden units as
image tiles, and 2-D codes against PCA (`zoo tiles`, `zoo codes`).
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import ops

from zoo._common import atomic_path, check_positive_int
from zoo.models.autoencoders import CODE_LAYER, RECONSTRUCTION_LAYER, decoder, encoder
from zoo.tasks.base import Task, register_task
from zoo.tasks.serving import Endpoint, serving_model, verification_sample


class Autoencoding(Task):
    name = "autoencoder"
    loss = None
    metrics = ()
    output_name = "reconstruction"
    targets = "features"

    def export_endpoints(self, spec, model, plan) -> dict:
        """`encode` (raw input -> code), `decode` (code -> reconstruction) and
        `reconstruct` (raw input -> reconstruction, the same as `serving_default`)."""
        info = plan.info
        raw_shape, raw_dtype = tuple(info.feature_shape), info.feature_dtype
        input_name = self.serving_input_name(plan)
        sample = verification_sample(plan, 16, preprocess=False)[0]
        encode = serving_model(encoder(model), plan.preprocessor(), raw_shape, raw_dtype,
                               input_name, CODE_LAYER)
        reconstruct = serving_model(model, plan.preprocessor(), raw_shape, raw_dtype,
                                    input_name, RECONSTRUCTION_LAYER)
        codes = keras.ops.convert_to_numpy(encode(sample.astype(raw_dtype), training=False))
        decode_inner = decoder(model)
        code_in = keras.Input(shape=decode_inner.input_shape[1:], name=CODE_LAYER)
        decode = keras.Model(code_in, keras.layers.Identity(name=RECONSTRUCTION_LAYER)(
            decode_inner(code_in)), name=f"{model.name}_decode")
        return {
            "encode": Endpoint(encode, input_name, CODE_LAYER, raw_dtype, sample),
            "decode": Endpoint(decode, CODE_LAYER, RECONSTRUCTION_LAYER, "float32", codes),
            "reconstruct": Endpoint(reconstruct, input_name, RECONSTRUCTION_LAYER, raw_dtype,
                                    sample),
        }

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """A reconstruction of the input."""
        return tuple(input_shape)


register_task(Autoencoding())


# --- Figures: hidden units, 2-D codes -------------------------------------------


def hidden_unit_images(model) -> np.ndarray:
    """The input weights of each first-layer hidden unit as an image, (units, H, W, C).

    A dense first layer's column j, reshaped to the input shape, is the input
    pattern that drives unit j most (for a unit-norm input): the classic
    picture of what an autoencoder learned. A convolutional first layer gives
    its kernels. Flat inputs of D values are shown as sqrt(D) x sqrt(D) squares.
    """
    layer = next((l for l in model.layers if hasattr(l, "kernel")), None)
    if layer is None:
        raise ValueError(f"Model {model.name!r} has no layer with a kernel to render.")
    kernel = ops.convert_to_numpy(layer.kernel)
    if kernel.ndim == 4:  # Conv2D (kh, kw, in, out) -> (out, kh, kw, in)
        images = kernel.transpose(3, 0, 1, 2)
    elif kernel.ndim == 2:  # Dense (D, units) -> (units, *input_shape)
        shape = tuple(model.input_shape[1:])
        if math.prod(shape) != kernel.shape[0]:
            raise ValueError(
                f"Layer {layer.name!r} is not the first layer on the input: its kernel takes "
                f"{kernel.shape[0]} values, the input has shape {shape}."
            )
        if len(shape) == 1:
            side = math.isqrt(shape[0])
            if side * side != shape[0]:
                raise ValueError(f"Cannot show {shape[0]} input values as a square image; "
                                 f"expected an image input or a square number of features.")
            shape = (side, side, 1)
        images = kernel.T.reshape(-1, *shape)
        if images.ndim == 3:
            images = images[..., None]
    else:
        raise ValueError(f"Cannot render the kernel of layer {layer.name!r}, shape {kernel.shape}.")
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"Tiles need 1 or 3 input channels. Received: {images.shape[-1]} channels "
                         f"in layer {layer.name!r}.")
    return images


def save_hidden_units(model, path, columns=None, scale=8):
    """Write `hidden_unit_images(model)` as one PNG tile grid (each tile scaled to its
    own min..max, so black is the most negative weight and white the most positive).

    Returns:
        (path, (rows, columns)) of the grid.
    """
    from zoo.images import save_grid  # TODO(layers): images belong below tasks

    images = hidden_unit_images(model)
    if columns is not None:
        check_positive_int("columns", columns)
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / columns))
    return save_grid(images, path, columns=columns, scale=scale), (rows, columns)


def split_arrays(plan, split):
    """(preprocessed inputs, labels) of a whole split, in order."""
    import pipelines

    ds = pipelines.load(plan.dataset, split, batch_size=256, shuffle=False, **plan.data_options)
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys)


def compare_codes_with_pca(model, plan, path=None, k=5) -> dict:
    """2-D codes of an autoencoder against the first 2 principal components.

    PCA is fitted on the training split; both are measured on the test split
    (validation when there is none): reconstruction mean squared error per
    value, and the accuracy of a k-nearest-neighbour classifier in the 2-D
    codes (fitted on the training codes), which says how well each
    2-D map keeps the classes apart. With `path`, writes one PNG with both
    maps coloured by class (matplotlib, Agg).
    """
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier

    encode = encoder(model)
    if tuple(encode.output_shape[1:]) != (2,):
        raise ValueError(f"The code plot needs a 2-unit code. Received: code shape "
                         f"{tuple(encode.output_shape[1:])}; train with --set code_size=2.")
    x_train, y_train = split_arrays(plan, plan.train_split)
    split = plan.test_split or plan.validation_split
    x_test, y_test = split_arrays(plan, split)
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(n_components=2, random_state=0).fit(flat_train)
    codes = {
        "autoencoder": (np.asarray(encode.predict(x_train, verbose=0)),
                        np.asarray(encode.predict(x_test, verbose=0))),
        "pca": (pca.transform(flat_train), pca.transform(flat_test)),
    }
    reconstructions = {
        "autoencoder": np.asarray(model.predict(x_test, verbose=0)).reshape(len(x_test), -1),
        "pca": pca.inverse_transform(codes["pca"][1]),
    }
    figures = {"split": split, "examples": len(x_test), "k": k}
    for method, (train_codes, test_codes) in codes.items():
        knn = KNeighborsClassifier(n_neighbors=k).fit(train_codes, y_train)
        figures[method] = {
            "reconstruction_mse": float(np.mean((reconstructions[method] - flat_test) ** 2)),
            "knn_accuracy": float(knn.score(test_codes, y_test)),
        }
    if path is not None:
        classes = plan.info.num_classes or int(y_test.max()) + 1
        _plot_codes({m: c[1] for m, c in codes.items()}, y_test, classes, figures, path)
    return figures


def code_figures_table(figures) -> str:
    """`compare_codes_with_pca` figures as a small text table."""
    k = figures["k"]
    lines = [f"{'method':<12} {'reconstruction MSE':>19} {f'{k}-NN accuracy':>15}  "
             f"({figures['split']} split, {figures['examples']} examples)"]
    for method in ("autoencoder", "pca"):
        f = figures[method]
        lines.append(f"{method:<12} {f['reconstruction_mse']:>19.4f} {f['knn_accuracy']:>15.3f}")
    return "\n".join(lines)


def _plot_codes(codes, labels, classes, figures, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {"autoencoder": "autoencoder (2-unit code)", "pca": "PCA (2 components)"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, (method, points) in zip(axes, codes.items()):
        scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, s=9, vmin=-0.5,
                             vmax=classes - 0.5, cmap="tab10" if classes <= 10 else "viridis")
        f = figures[method]
        ax.set_title(f"{titles[method]}\nreconstruction MSE {f['reconstruction_mse']:.4f}\n"
                     f"{figures['k']}-NN accuracy {f['knn_accuracy']:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(scatter, ax=axes, ticks=range(classes) if classes <= 10 else None, label="class")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=80)
    finally:
        plt.close(fig)
    return Path(path)

