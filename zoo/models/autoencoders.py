"""Autoencoders: dense, tied, denoising, sparse and convolutional.

An autoencoder maps an input x to a code h = f(W x + b) and back to a
reconstruction x' = g(W' h + b'), and learns by making x' close to x.

Every model here is one flat functional graph with two fixed layer names:
"code" (the encoder's output) and "reconstruction" (the decoder's output).
`encoder(model)` and `decoder(model)` cut the graph there into two models
that share the trained weights. The graph is flat rather than two nested
sub-models because a tied autoencoder's encoder and decoder share one kernel
variable, and a layer shared by two nested models would come back from a
`.keras` file as two layers with two kernels.

Loss: each model computes its own reconstruction loss in its last layer
(`ReconstructionLoss`), chosen by `output_activation`: "sigmoid" with binary
cross-entropy for data in [0, 1] (images as the pipelines scale them),
"linear" with squared error for unbounded data (standardized features). So
the loss always matches the output layer whatever the builder arguments are;
the specs' loss is None and `fit` on (x, x) batches minimizes the model's own
losses (plus the sparsity penalty and weight decay where a model has them).
The `mse` metric reports the per-value squared error for every variant.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.layers import NearestUpsampling2x
from zoo.registry import register_model

# Output activation -> the reconstruction loss that matches it.
OUTPUT_LOSSES = {"sigmoid": "binary_crossentropy", "linear": "squared_error"}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
CORRUPTIONS = ("mask", "gaussian")
CODE_LAYER, RECONSTRUCTION_LAYER = "code", "reconstruction"


# --- Layers -----------------------------------------------------------------


@keras.saving.register_keras_serializable(package="zoo")
class TiedDense(keras.layers.Layer):
    """A dense layer whose kernel also decodes, transposed: one variable for W and Wᵀ.

    `layer(x)` computes x W + b (`units` outputs); `layer(h, transpose=True)`
    computes h Wᵀ + b' back to the input size, with its own bias b'. Calling
    it twice in one graph ties the encoder and decoder weights, as in
    Vincent et al. 2008. The first call must be the forward one (it builds W).
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        features = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(features, self.units), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
        self.transpose_bias = self.add_weight(shape=(features,), name="transpose_bias",
                                              initializer="zeros")

    def call(self, inputs, transpose=False):
        if transpose:  # (B, units) -> (B, features)
            return ops.matmul(inputs, ops.transpose(self.kernel)) + self.transpose_bias
        return ops.matmul(inputs, self.kernel) + self.bias  # (B, features) -> (B, units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="zoo")
class MaskingNoise(keras.layers.Layer):
    """Masking corruption (Vincent et al. 2008): in training each input value is set
    to 0 with probability `rate` (no rescaling, unlike Dropout); at inference the
    input passes unchanged."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate("rate", rate)
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return inputs * ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def kl_sparsity_penalty(activations, rho, beta):
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of unit j (Ng 2011).

    KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q)) is the
    divergence between two Bernoulli distributions; it is 0 when unit j is
    active on average exactly `rho` of the time. `activations` (B, H) in (0, 1).
    """
    rho_hat = ops.clip(ops.mean(activations, axis=0), 1e-7, 1.0 - 1e-7)  # (H,)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
    return beta * ops.sum(kl)


@keras.saving.register_keras_serializable(package="zoo")
class KLSparsity(keras.layers.Layer):
    """Identity on sigmoid activations that adds `kl_sparsity_penalty` to the model's losses.

    A layer rather than a Keras activity regularizer: Keras divides activity
    penalties by the batch size, but this one is already a function of the
    batch mean.
    """

    def __init__(self, rho=0.05, beta=3.0, **kwargs):
        super().__init__(**kwargs)
        _check_sparsity(rho, beta)
        self.rho, self.beta = float(rho), float(beta)

    def call(self, inputs):
        if self.beta > 0.0:
            self.add_loss(kl_sparsity_penalty(inputs, self.rho, self.beta))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "beta": self.beta}


@keras.saving.register_keras_serializable(package="zoo")
class ReconstructionLoss(keras.layers.Layer):
    """Identity on the reconstruction that adds the reconstruction loss against the
    (clean) input: per example summed over all values, then averaged over the batch.

    `loss`: "binary_crossentropy" (reconstructions in (0, 1), after a sigmoid)
    or "squared_error" (linear reconstructions).
    """

    def __init__(self, loss="binary_crossentropy", **kwargs):
        super().__init__(**kwargs)
        check_choice("loss", loss, OUTPUT_LOSSES.values())
        self.loss = loss

    def call(self, inputs, reconstruction):
        batch = ops.shape(inputs)[0]
        x = ops.reshape(inputs, (batch, -1))  # (B, D)
        x_hat = ops.reshape(reconstruction, (batch, -1))
        if self.loss == "binary_crossentropy":
            per_value = ops.binary_crossentropy(x, x_hat)
        else:
            per_value = ops.square(x - x_hat)
        self.add_loss(ops.mean(ops.sum(per_value, axis=1)))
        return reconstruction

    def compute_output_shape(self, inputs_shape, reconstruction_shape):
        return reconstruction_shape

    def get_config(self):
        return {**super().get_config(), "loss": self.loss}


# --- Encoder and decoder as separate models -----------------------------------


def _tensor(model, layer_name):
    try:
        return model.get_layer(layer_name).output
    except ValueError:
        raise ValueError(
            f"{model.name!r} is not a zoo autoencoder: it has no layer {layer_name!r}. "
            f"Expected a model built by zoo.models.autoencoders (layers 'code' and 'reconstruction')."
        ) from None


def encoder(model) -> keras.Model:
    """The encoder of a zoo autoencoder: input -> code, sharing the model's weights."""
    return keras.Model(model.inputs[0], _tensor(model, CODE_LAYER), name="encoder")


def decoder(model) -> keras.Model:
    """The decoder of a zoo autoencoder: code -> reconstruction, sharing the model's weights."""
    code = _tensor(model, CODE_LAYER)
    inner = keras.Model(code, _tensor(model, RECONSTRUCTION_LAYER), name="decoder_graph")
    codes = keras.Input(shape=tuple(code.shape[1:]), name="code")
    return keras.Model(codes, inner(codes), name="decoder")


def _check_sparsity(rho, beta):
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0.0 < rho < 1.0:
        raise ValueError(f"`rho` (target mean activation) must be in (0, 1). Received: rho={rho!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0.0:
        raise ValueError(f"`beta` (sparsity weight) must be a number >= 0. Received: beta={beta!r}")


def _check_sizes(arg, sizes):
    """A tuple of positive ints (layer sizes), possibly empty."""
    if isinstance(sizes, (int, str)) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u >= 1 for u in sizes
    ):
        raise ValueError(f"`{arg}` must be a tuple of positive ints. Received: {arg}={sizes!r}")
    return tuple(sizes)


def _dense_autoencoder(input_shape, units, code_size, activation, code_activation,
                       output_activation, name, *, tied=False, corruption=None,
                       noise_level=0.0, rho=None, beta=0.0, weight_decay=0.0):
    """The one dense builder behind the registered dense variants.

    Encoder: flatten, Dense(units[i], activation) ..., Dense(code_size,
    code_activation) -> "code". Decoder: the mirror image, ending in
    Dense(input size, output_activation) reshaped to the input shape ->
    "reconstruction". `tied` decodes with the encoder kernels transposed;
    `corruption` corrupts the input in training only; `rho` adds the KL
    sparsity penalty on the code; `weight_decay` is (weight_decay / 2) * |W|^2.
    """
    input_shape = as_shape("input_shape", input_shape)
    units = _check_sizes("units", units)
    check_positive_int("code_size", code_size)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("code_activation", code_activation, ACTIVATIONS)
    check_choice("output_activation", output_activation, tuple(OUTPUT_LOSSES))
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}")
    regularizer = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None

    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs
    if corruption == "mask":
        x = MaskingNoise(noise_level, name=f"{name}_corruption")(x)
    elif corruption == "gaussian":
        x = keras.layers.GaussianNoise(noise_level, name=f"{name}_corruption")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # (B, D)
    sizes = [*units, code_size]
    encoder_layers = []
    for i, size in enumerate(sizes, 1):
        is_code = i == len(sizes)
        if tied:
            layer = TiedDense(size, name=f"{name}_encoder{i}")
        else:
            layer = keras.layers.Dense(size, kernel_regularizer=regularizer, name=f"{name}_encoder{i}")
        encoder_layers.append(layer)
        x = keras.layers.Activation(code_activation if is_code else activation,
                                    name=CODE_LAYER if is_code else f"{name}_encoder{i}_act")(layer(x))
    if rho is not None:
        x = KLSparsity(rho, beta, name=f"{name}_sparsity")(x)
    # Decoder: back through the sizes in reverse, to the D input values.
    targets = [math.prod(input_shape), *units]
    for j, i in enumerate(reversed(range(len(sizes))), 1):
        if tied:
            x = encoder_layers[i](x, transpose=True)
        else:
            x = keras.layers.Dense(targets[i], kernel_regularizer=regularizer,
                                   name=f"{name}_decoder{j}")(x)
        x = keras.layers.Activation(output_activation if i == 0 else activation,
                                    name=f"{name}_decoder{j}_act")(x)
    x = keras.layers.Reshape(input_shape, name=RECONSTRUCTION_LAYER)(x)
    outputs = ReconstructionLoss(OUTPUT_LOSSES[output_activation], name=f"{name}_loss")(inputs, x)
    return keras.Model(inputs, outputs, name=name)


_COMMON = dict(family="autoencoder", task="autoencoder", dataset="digits", metrics=("mse",))


def _autoencoder_space(hp) -> dict:
    return {
        "code_size": hp.Choice("code_size", [2, 8, 16, 32], default=16),
        "activation": hp.Choice("activation", ["relu", "sigmoid", "tanh"], default="relu"),
    }


@register_model(
    reference="Hinton & Salakhutdinov 2006, Reducing the dimensionality of data with "
    "neural networks, Science 313(5786)",
    search_space=_autoencoder_space,
    test_args={"units": (16,), "code_size": 8},
    **_COMMON,
)
def autoencoder(input_shape=(8, 8, 1), units=(32,), code_size=16, activation="relu",
                code_activation="linear", output_activation="sigmoid", name="autoencoder"):
    """Dense autoencoder: input -> hidden layers -> code -> mirrored layers -> reconstruction.

    Linear code units, as in Hinton & Salakhutdinov 2006, so a 2-unit code is
    a nonlinear generalisation of PCA (`zoo reproduce autoencoders` compares
    them on digits).

    Args:
        input_shape: Shape of one example (e.g. (8, 8, 1) images, (4,) features).
        units: Hidden layer sizes between the input and the code (may be empty).
        code_size: Size of the code.
        activation: Hidden activation, one of "sigmoid", "tanh", "relu", "linear".
        code_activation: Activation of the code units.
        output_activation: "sigmoid" (binary cross-entropy; data in [0, 1]) or
            "linear" (squared error; e.g. standardized features).
        name: Model name.

    Returns:
        A `keras.Model` mapping inputs to reconstructions of the same shape;
        `encoder(model)` and `decoder(model)` give its halves.

    Example:
        >>> model = zoo.build("autoencoder", code_size=2)
        >>> encoder(model).output_shape
        (None, 2)
    """
    return _dense_autoencoder(input_shape, units, code_size, activation, code_activation,
                              output_activation, name)


def _tied_space(hp) -> dict:
    return {"code_size": hp.Choice("code_size", [16, 32, 64], default=32)}


@register_model(
    reference="Vincent et al. 2008, Extracting and composing robust features with "
    "denoising autoencoders, ICML (tied weights W' = W^T); Bengio et al. 2007",
    search_space=_tied_space,
    test_args={"code_size": 8},
    **_COMMON,
)
def tied_autoencoder(input_shape=(8, 8, 1), units=(), code_size=32, activation="sigmoid",
                     output_activation="sigmoid", name="tied_autoencoder"):
    """Dense autoencoder whose decoder kernels are the encoder kernels transposed.

    Each encoder layer is a `TiedDense` called a second time with
    `transpose=True` in the decoder, so W and W^T are one variable (half the
    weights; a classic regulariser).

    Args:
        input_shape: Shape of one example.
        units: Hidden layer sizes before the code (default: none, one layer).
        code_size: Size of the code.
        activation: Activation of the hidden and code units.
        output_activation: "sigmoid" (binary cross-entropy) or "linear" (squared error).
        name: Model name.

    Returns:
        A `keras.Model` mapping inputs to reconstructions of the same shape.
    """
    return _dense_autoencoder(input_shape, units, code_size, activation, activation,
                              output_activation, name, tied=True)


def _denoising_space(hp) -> dict:
    return {
        "corruption": hp.Choice("corruption", list(CORRUPTIONS), default="mask"),
        "noise_level": hp.Choice("noise_level", [0.1, 0.25, 0.4], default=0.25),
    }


@register_model(
    reference="Vincent et al. 2008, Extracting and composing robust features with "
    "denoising autoencoders, ICML",
    search_space=_denoising_space,
    test_args={"code_size": 8},
    **_COMMON,
)
def denoising_autoencoder(input_shape=(8, 8, 1), code_size=64, activation="sigmoid",
                          corruption="mask", noise_level=0.25, tied=True,
                          output_activation="sigmoid", name="denoising_autoencoder"):
    """One-hidden-layer autoencoder that reconstructs clean inputs from corrupted ones.

    Corruption acts in training only; inference (and serving) encodes the
    clean input. The loss compares the reconstruction with the clean input.

    Args:
        input_shape: Shape of one example.
        code_size: Hidden units (may exceed the input size: corruption, not a
            bottleneck, keeps the code from copying the input).
        activation: Activation of the code units.
        corruption: "mask" (each value set to 0 with probability
            `noise_level`, as in the paper) or "gaussian" (additive noise of
            standard deviation `noise_level`).
        noise_level: Masking probability or noise standard deviation.
        tied: Decode with the encoder kernel transposed, as in the paper.
        output_activation: "sigmoid" (binary cross-entropy) or "linear" (squared error).
        name: Model name.

    Returns:
        A `keras.Model` mapping inputs to reconstructions of the same shape.
    """
    check_choice("corruption", corruption, CORRUPTIONS)
    if corruption == "mask":
        check_rate("noise_level", noise_level)
    elif isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or noise_level < 0:
        raise ValueError(f"`noise_level` (a standard deviation) must be a number >= 0. "
                         f"Received: noise_level={noise_level!r}")
    check_choice("tied", tied, (True, False))
    return _dense_autoencoder(input_shape, (), code_size, activation, activation,
                              output_activation, name, tied=tied, corruption=corruption,
                              noise_level=noise_level)


def _sparse_space(hp) -> dict:
    return {
        "rho": hp.Choice("rho", [0.01, 0.05, 0.1], default=0.05),
        "beta": hp.Choice("beta", [0.0, 1.0, 3.0], default=3.0),
    }


@register_model(
    reference="Ng 2011, Sparse autoencoder, CS294A lecture notes (KL sparsity penalty "
    "and weight decay)",
    search_space=_sparse_space,
    test_args={"code_size": 16},
    **_COMMON,
)
def sparse_autoencoder(input_shape=(8, 8, 1), code_size=49, rho=0.05, beta=3.0,
                       weight_decay=3e-3, output_activation="sigmoid", name="sparse_autoencoder"):
    """One-hidden-layer sigmoid autoencoder with a KL-divergence sparsity penalty.

    The loss adds beta * sum_j KL(rho || rho_hat_j), rho_hat_j the mean
    activation of hidden unit j over the batch (`KLSparsity`), and weight
    decay (weight_decay / 2) * |W|^2, as in Ng's notes. `beta=0` switches
    sparsity off (the comparison in `zoo reproduce autoencoders`).

    Args:
        input_shape: Shape of one example.
        code_size: Hidden (code) units, sigmoid.
        rho: Target mean activation of each hidden unit, in (0, 1).
        beta: Weight of the sparsity penalty (>= 0).
        weight_decay: L2 weight decay lambda (>= 0); 3e-3 as in Ng's MNIST
            exercise. It also fades the weights from pixels that are always
            blank (the digits' borders) to 0, which no reconstruction
            gradient would do.
        output_activation: "sigmoid" (binary cross-entropy) or "linear" (squared error).
        name: Model name.

    Returns:
        A `keras.Model` mapping inputs to reconstructions of the same shape.
    """
    _check_sparsity(rho, beta)
    return _dense_autoencoder(input_shape, (), code_size, "sigmoid", "sigmoid", output_activation,
                              name, rho=rho, beta=beta, weight_decay=weight_decay)


def _conv_space(hp) -> dict:
    return {
        "kernel_size": hp.Choice("kernel_size", [3, 5], default=3),
        "activation": hp.Choice("activation", ["relu", "tanh"], default="relu"),
    }


@register_model(
    reference="Masci et al. 2011, Stacked convolutional auto-encoders for hierarchical "
    "feature extraction, ICANN",
    search_space=_conv_space,
    test_args={"filters": (8, 4)},
    **_COMMON,
)
def conv_autoencoder(input_shape=(8, 8, 1), filters=(16, 8), kernel_size=3, activation="relu",
                     output_activation="sigmoid", name="conv_autoencoder"):
    """Convolutional autoencoder: conv + max-pooling down to a code map, upsampling + conv back.

    With the defaults an 8x8 digit becomes a 2x2x8 code (28x28 MNIST: 7x7x8),
    half the input size.

    Args:
        input_shape: (height, width, channels); height and width divisible by
            2 ** len(filters).
        filters: Filters of each encoder stage (the decoder mirrors them).
        kernel_size: Convolution kernel size.
        activation: Hidden activation.
        output_activation: "sigmoid" (binary cross-entropy) or "linear" (squared error).
        name: Model name.

    Returns:
        A `keras.Model` mapping images to reconstructions of the same shape.
    """
    input_shape = as_shape("input_shape", input_shape, rank=3)
    if isinstance(filters, int) or not filters:
        raise ValueError(f"`filters` must be a non-empty tuple of positive ints. "
                         f"Received: filters={filters!r}")
    filters = _check_sizes("filters", filters)
    check_positive_int("kernel_size", kernel_size)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("output_activation", output_activation, tuple(OUTPUT_LOSSES))
    factor = 2 ** len(filters)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"`input_shape` height and width must be divisible by 2 ** len(filters) = {factor} "
            f"(one 2x2 pooling per stage). Received: input_shape={input_shape}, filters={filters}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, f in enumerate(filters, 1):
        x = keras.layers.Conv2D(f, kernel_size, padding="same", activation=activation,
                                name=f"{name}_encoder{i}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=CODE_LAYER if i == len(filters)
                                      else f"{name}_encoder{i}_pool")(x)  # (B, H/2^i, W/2^i, f)
    for i, f in enumerate(reversed(filters), 1):
        x = NearestUpsampling2x(name=f"{name}_decoder{i}_upsample")(x)
        x = keras.layers.Conv2D(f, kernel_size, padding="same", activation=activation,
                                name=f"{name}_decoder{i}_conv")(x)
    x = keras.layers.Conv2D(input_shape[-1], kernel_size, padding="same", name=f"{name}_output")(x)
    x = keras.layers.Activation(output_activation, name=RECONSTRUCTION_LAYER)(x)
    outputs = ReconstructionLoss(OUTPUT_LOSSES[output_activation], name=f"{name}_loss")(inputs, x)
    return keras.Model(inputs, outputs, name=name)
