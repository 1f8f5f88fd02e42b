"""DCGAN (Radford, Metz & Chintala 2015), trained by `fit` with its own `train_step`.

The generator maps a latent vector z ~ N(0, I) through a dense projection,
a reshape and stride-2 `Conv2DTranspose` blocks (batch normalisation, ReLU)
to a tanh image in [-1, 1]; the discriminator mirrors it with stride-2
convolutions and LeakyReLU 0.2, batch normalisation on every block but the
first, no pooling, and one logit. Both start from N(0, 0.02) weights and
train with Adam (learning rate 2e-4, beta_1 0.5), as in the paper.

`DCGAN` is a functional Keras model whose forward pass is the generator
(latent (B, Z) -> images (B, H, W, C)); it also holds the discriminator, so
`zoo.train` gets `fit`, the progress bar, checkpoints, BackupAndRestore and
TensorBoard unchanged. Its task (`zoo.tasks.gan`) adds the per-epoch sample
grid and score, and exports latents, or seeds, to uint8 images (`ToUint8`,
`LatentFromSeeds`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from zoo._common import check_positive_int
from zoo.registry import register_model

KERNEL_SIZE = 5  # Radford et al. 2015, Figure 1
LEAKY_SLOPE = 0.2
INIT_STDDEV = 0.02
MMD_BANDWIDTHS = (0.1, 0.5, 2.0)  # on the mean squared pixel difference of [-1, 1] images


# ----------------------------------------------------------------------------- networks


def _stages(image_size: int) -> tuple[int, int]:
    """(stride-2 stages, start size): halve while even and the result stays >= 4.

    28 -> (2, 7), 32 -> (3, 4), 16 -> (2, 4), 64 -> (4, 4) as in the paper.
    """
    stages, size = 0, image_size
    while size % 2 == 0 and size // 2 >= 4:
        stages, size = stages + 1, size // 2
    return stages, size


def _init():
    return keras.initializers.RandomNormal(0.0, INIT_STDDEV)


def build_generator(image_size, channels, latent_dim, filters, name):
    """Latent (B, Z) -> images (B, S, S, C) in [-1, 1]."""
    stages, start = _stages(image_size)
    width = filters * 2 ** (stages - 1)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    # (B, Z) -> (B, s * s * width) -> (B, s, s, width)
    x = keras.layers.Dense(start * start * width, use_bias=False, kernel_initializer=_init(),
                           name=f"{name}_project")(latent)
    x = keras.layers.BatchNormalization(name=f"{name}_project_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_project_relu")(x)
    x = keras.layers.Reshape((start, start, width), name=f"{name}_reshape")(x)
    for i in range(1, stages):
        # (B, s, s, w) -> (B, 2s, 2s, w / 2)
        width //= 2
        x = keras.layers.Conv2DTranspose(width, KERNEL_SIZE, strides=2, padding="same",
                                         use_bias=False, kernel_initializer=_init(),
                                         name=f"{name}_up{i}_deconv")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_up{i}_bn")(x)
        x = keras.layers.ReLU(name=f"{name}_up{i}_relu")(x)
    # (B, S/2, S/2, filters) -> (B, S, S, C); no batch normalisation on the output.
    x = keras.layers.Conv2DTranspose(channels, KERNEL_SIZE, strides=2, padding="same",
                                     kernel_initializer=_init(),
                                     name=f"{name}_up{stages}_deconv")(x)
    images = keras.layers.Activation("tanh", name=f"{name}_tanh")(x)
    return keras.Model(latent, images, name=name)


def build_discriminator(image_size, channels, filters, name):
    """Images (B, S, S, C) in [-1, 1] -> real/fake logits (B, 1)."""
    stages, _ = _stages(image_size)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = image
    for i in range(stages):
        # (B, s, s, .) -> (B, s/2, s/2, filters * 2^i); no batch normalisation on the first block.
        x = keras.layers.Conv2D(filters * 2**i, KERNEL_SIZE, strides=2, padding="same",
                                use_bias=i == 0, kernel_initializer=_init(),
                                name=f"{name}_down{i + 1}_conv")(x)
        if i:
            x = keras.layers.BatchNormalization(name=f"{name}_down{i + 1}_bn")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_down{i + 1}_lrelu")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    logits = keras.layers.Dense(1, kernel_initializer=_init(), name=f"{name}_logit")(x)
    return keras.Model(image, logits, name=name)


# ----------------------------------------------------------------------------- training


def _bce(logits, target: float):
    """Mean sigmoid cross-entropy of `logits` against a constant target (1 real, 0 fake)."""
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits,
                                            from_logits=True))


def _accuracy(real_logits, fake_logits):
    """Fraction of real and fake images the discriminator classifies right."""
    right = ops.concatenate([ops.cast(real_logits > 0, "float32"),
                             ops.cast(fake_logits <= 0, "float32")], axis=0)
    return ops.mean(right)


def mmd(x, y, bandwidths=MMD_BANDWIDTHS):
    """Squared maximum mean discrepancy (biased, Gretton et al. 2012) between two
    image batches: Gaussian kernels exp(-d / h) on the mean squared pixel
    difference d, averaged over the bandwidths h. 0 for equal batches."""
    x = ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))  # (n, D)
    y = ops.reshape(ops.cast(y, "float32"), (ops.shape(y)[0], -1))  # (m, D)
    dim = ops.cast(ops.shape(x)[1], "float32")

    def kernel(a, b):
        sq = (ops.sum(a * a, axis=1)[:, None] + ops.sum(b * b, axis=1)[None, :]
              - 2.0 * ops.matmul(a, ops.transpose(b)))
        d = ops.maximum(sq, 0.0) / dim  # (n, m) mean squared pixel difference
        return ops.mean(ops.stack([ops.exp(-d / h) for h in bandwidths]))

    return kernel(x, x) + kernel(y, y) - 2.0 * kernel(x, y)


def _real_images(data):
    """`fit` gives (images, labels) from the data plan; DCGAN is unconditional."""
    return data[0] if isinstance(data, (tuple, list)) else data


@keras.saving.register_keras_serializable(package="zoo")
class DCGAN(keras.Model):
    """A generator and its discriminator, trained adversarially by `fit`.

    Forward pass (`model(latent)`): the generator, latent (B, Z) -> images
    (B, H, W, C) in [-1, 1]. One training step (`train_step`): one
    discriminator update (real batch vs. a fresh fake batch, Adam on the
    discriminator's variables only), then one generator update (the
    non-saturating loss -log D(G(z)) on fresh noise, a clone of the optimizer
    on the generator's variables only). Logged: `d_loss` (real + fake
    cross-entropy, 2 ln 2 = 1.386 at chance), `g_loss`, `d_accuracy`; the
    test step adds `mmd` between validation images and generated ones, the
    quantity checkpoints and searches minimise (`val_mmd`).

    Args:
        generator: Functional model latent (B, Z) -> images (B, H, W, C).
        discriminator: Functional model images -> logits (B, 1).
    """

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        latent = keras.Input(shape=tuple(generator.input_shape[1:]), name="latent")
        super().__init__(inputs=latent, outputs=generator(latent), **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        # Training noise is a function of this seed and the step (see `training_noise`).
        self.seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
        self.validation_noise = keras.random.SeedGenerator(self.seed, name="validation_noise")
        self.trackers = {k: keras.metrics.Mean(name=k)
                         for k in ("d_loss", "g_loss", "d_accuracy", "mmd")}
        self.generator_optimizer = None

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """`optimizer` trains the discriminator; a clone of it trains the generator."""
        if loss is not None:
            raise ValueError(f"DCGAN computes its own adversarial losses; pass no loss. "
                             f"Received: loss={loss!r}")
        super().compile(optimizer=optimizer, loss=None, **kwargs)
        config = {**self.optimizer.get_config(), "name": f"{self.optimizer.name}_generator"}
        self.generator_optimizer = type(self.optimizer).from_config(config)
        # Built here on their own network's variables, so saving and loading agree.
        self.optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "seed": self.seed,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        networks = {k: keras.saving.deserialize_keras_object(config.pop(k),
                                                             custom_objects=custom_objects)
                    for k in ("generator", "discriminator")}
        return cls(**networks, **config)

    def training_noise(self, batch, stream: int = 0):
        """Latent vectors (batch, Z) ~ N(0, I) for this training step and `stream`
        (0: the discriminator's fakes, 1: the generator's). A function of the
        model's seed and the optimizer's step count, which checkpoints and
        backups hold: a resumed run draws what an uninterrupted one would."""
        import tensorflow as tf

        step = tf.cast(self.optimizer.iterations, "int64")
        key = tf.stack([tf.constant(self.seed, "int64"), 2 * step + stream])
        return tf.random.stateless_normal((batch, self.latent_dim), seed=key, alg="philox")

    def discriminator_step(self, real, noise):
        """One discriminator update; touches only the discriminator's variables.

        Returns (d_loss, d_accuracy) before the update.
        """
        import tensorflow as tf  # the TensorFlow backend's gradient tape

        fake = self.generator(noise, training=True)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
        if variables:
            self.optimizer.apply(tape.gradient(d_loss, variables), variables)
        return d_loss, _accuracy(real_logits, fake_logits)

    def generator_step(self, noise):
        """One generator update (non-saturating loss); touches only the generator's
        variables. Returns g_loss before the update."""
        import tensorflow as tf

        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = _bce(fake_logits, 1.0)
        if variables:  # a frozen generator (trainable=False) is left alone
            self.generator_optimizer.apply(tape.gradient(g_loss, variables), variables)
        return g_loss

    def train_step(self, data):
        real = _real_images(data)
        batch = ops.shape(real)[0]
        d_noise, g_noise = self.training_noise(batch, 0), self.training_noise(batch, 1)
        d_loss, d_accuracy = self.discriminator_step(real, d_noise)
        g_loss = self.generator_step(g_noise)
        return self._log(d_loss=d_loss, g_loss=g_loss, d_accuracy=d_accuracy)

    def test_step(self, data):
        real = _real_images(data)
        noise = keras.random.normal((ops.shape(real)[0], self.latent_dim),
                                    seed=self.validation_noise)
        fake = self.generator(noise, training=False)
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(fake, training=False)
        return self._log(d_loss=_bce(real_logits, 1.0) + _bce(fake_logits, 0.0),
                         g_loss=_bce(fake_logits, 1.0),
                         d_accuracy=_accuracy(real_logits, fake_logits),
                         mmd=mmd(real, fake))

    def _log(self, **values):
        for key, value in values.items():
            self.trackers[key].update_state(value)
        return {key: self.trackers[key].result() for key in values}


# ----------------------------------------------------------------------------- builder


def _dcgan_space(hp) -> dict:
    return {
        "filters": hp.Choice("filters", [32, 64], default=64),
        "latent_dim": hp.Choice("latent_dim", [64, 100], default=100),
    }


@register_model(
    family="gan",
    task="generative",
    reference="Radford, Metz & Chintala 2015, Unsupervised representation learning with "
    "deep convolutional generative adversarial networks, arXiv:1511.06434",
    search_space=_dcgan_space,
    optimizer="gan_adam",
    learning_rate=2e-4,
    dataset="digits",
    dataset_options={"image_size": (16, 16)},
    test_args={"filters": 8, "latent_dim": 16},
    input_normalization="symmetric",
    monitor="val_mmd",
)
def dcgan(image_size=28, channels=1, latent_dim=100, filters=64, name="dcgan"):
    """DCGAN: a convolutional generator and discriminator trained adversarially.

    "Forward pass" is the generator on a latent batch; "training step" is one
    discriminator update then one generator update (see `DCGAN`). Training
    images come in [-1, 1] (`input_normalization="symmetric"`); the data plan
    sets `image_size` and `channels` from the dataset.

    Args:
        image_size: Height and width of the (square) images, even and >= 8:
            28 (MNIST), 32 (CIFAR-10), 16 or 32 (digits resized), 64 (paper).
            The generator starts at `image_size / 2^k` (4x4, or 7x7 for 28)
            and doubles k times.
        channels: Image channels, 1 or 3.
        latent_dim: Size Z of the latent vector z ~ N(0, I) (paper: 100).
        filters: Channels of the widest-resolution block; they double at each
            halving (the paper's 64x64 generator is filters=128).
        name: Model name; the networks are `<name>_generator` and
            `<name>_discriminator`.

    Returns:
        A `DCGAN` model mapping (batch, latent_dim) to (batch, image_size,
        image_size, channels) in [-1, 1].

    Example:
        >>> gan = zoo.build("dcgan", image_size=32, channels=3)
        >>> gan(np.zeros((2, 100), "float32")).shape
        TensorShape([2, 32, 32, 3])
    """
    check_positive_int("image_size", image_size, minimum=8)
    if image_size % 2:
        raise ValueError(f"`image_size` must be even. Received: image_size={image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    check_positive_int("latent_dim", latent_dim)
    check_positive_int("filters", filters)
    generator = build_generator(image_size, channels, latent_dim, filters, f"{name}_generator")
    discriminator = build_discriminator(image_size, channels, filters, f"{name}_discriminator")
    return DCGAN(generator, discriminator, name=name)


# ----------------------------------------------------------------------------- export and sampling


@keras.saving.register_keras_serializable(package="zoo")
class ToUint8(keras.layers.Layer):
    """Images in [-1, 1] (tanh) -> uint8 [0, 255], rounded half to even like
    `zoo.images.to_uint8(images, (-1, 1))`."""

    def call(self, images):
        pixels = ops.clip(ops.round((images + 1.0) * 127.5), 0.0, 255.0)
        return ops.cast(pixels, "uint8")

    def compute_output_spec(self, images):
        return keras.KerasTensor(images.shape, dtype="uint8")


# Seeds are mixed with int32 arithmetic only (multiply, add, floor division and remainder):
# exact in TensorFlow, under XLA, in ONNX Runtime and in LiteRT's builtin ops, which have
# no bitwise or 64-bit integer division ops. The state is a pair (a, b) of residues mod a
# prime P with P^2 < 2^31, so every product stays in int32; a Feistel network whose round
# function cubes (a permutation mod P, as gcd(3, P - 1) = 1) mixes it.
_PRIME = 46337
_ROUND_KEYS = ((28411, 7919), (31337, 104), (9973, 40009), (12011, 2027), (44497, 31),
               (23459, 17389))
_INDEX_KEY = 22229  # index i enters as (a + i, b + 22229 i) mod P, for i < P


def _feistel(a, b):
    """A permutation of (a, b) in [0, P)^2: each round adds k b^3 + c to a, then swaps."""
    import tensorflow as tf

    for k, c in _ROUND_KEYS:
        cube = tf.math.floormod(tf.math.floormod(b * b, _PRIME) * b, _PRIME)
        a, b = b, tf.math.floormod(a + tf.math.floormod(cube * k, _PRIME) + c, _PRIME)
    return a, b


@keras.saving.register_keras_serializable(package="zoo")
class LatentFromSeeds(keras.layers.Layer):
    """Seeds (B,) int32 -> latent vectors (B, latent_dim) ~ N(0, I), one fixed
    vector per seed, whatever else is in the batch.

    Uniforms come from mixing (seed, index) with int32 arithmetic (`_feistel`), then
    Box-Muller. TensorFlow's stateless random ops would be simpler, but XLA
    draws other numbers from the same seed, and bitwise hashes do not convert to
    ONNX or LiteRT; the integer mixing agrees exactly everywhere, and the float
    steps differ by rounding only.
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)

    def call(self, seeds):
        import tensorflow as tf  # exact int32 arithmetic (export side)

        seeds = tf.math.floormod(tf.cast(seeds, "int32"), _PRIME * _PRIME)  # P^2 = 2,147,117,569
        a, b = _feistel(tf.math.floordiv(seeds, _PRIME), tf.math.floormod(seeds, _PRIME))
        index = tf.range(2 * self.latent_dim, dtype="int32")[None, :]  # (1, 2Z)
        a, b = _feistel(tf.math.floormod(a[:, None] + index, _PRIME),
                        tf.math.floormod(b[:, None] + _INDEX_KEY * index, _PRIME))  # (B, 2Z)
        # a P + b is uniform on [0, P^2); its top 24 bits, centred and scaled by 2^-24 (exact
        # in float32, so no runtime rounds differently), are uniform in (0, 1 - 1.5e-4).
        top = tf.math.floordiv(a * _PRIME + b, 128)  # [0, 16,774,356)
        uniform = (tf.cast(top, "float32") + 0.5) / 2.0**24
        u1, u2 = uniform[:, : self.latent_dim], uniform[:, self.latent_dim:]
        return tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * np.pi * u2)  # (B, Z)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}
