"""Generative adversarial training (DCGAN): the model's own train_step, samples scored
each epoch, the generator exported alone.

Per epoch, `SampleGrid` saves the images of one fixed noise batch and
`SampleScore` logs the Inception-Score formula computed with LeNet-5 trained on
the same data (`score_classifier`). The export maps latents, or seeds, to uint8
images (`serving_models`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from zoo._common import atomic_path
from zoo.models.dcgan import DCGAN, LatentFromSeeds, ToUint8
from zoo.tasks.base import Task, register_task
from zoo.tasks.serving import Endpoint

SCORE_SAMPLES = 1000
CLASSIFIER_EPOCHS = 10
SAMPLE_SIGNATURE = "sample"


class Gan(Task):
    name = "generative"
    loss = None
    metrics = ()
    output_name = "images"

    def training_callbacks(self, spec, model, plan, write_dir: Path | None) -> list:
        """A fixed-noise sample grid and the sample score, every epoch (a run only: a
        search trial has no folder to write them to)."""
        if write_dir is None:
            return []
        classifier = score_classifier(plan, score_classifier_path(plan, write_dir))
        return [SampleGrid(Path(write_dir) / "samples"),
                SampleScore(classifier, reference_images(plan))]

    def image_options(self, spec, info, args: dict, overrides: dict, options: dict,
                      image_size, channels) -> None:
        """A generator's output is the data's image: size (square) and channels follow it."""
        size = overrides.get("image_size", info.feature_shape[0])
        if image_size is not None and "image_size" not in overrides:
            if len(set(image_size)) != 1:
                raise ValueError(
                    f"{spec.name} makes square images. Received: image_size={tuple(image_size)}")
            size = image_size[0]
        args["image_size"] = int(size)
        args["channels"] = overrides.get("channels", channels or info.feature_shape[-1])
        options["image_size"] = (args["image_size"], args["image_size"])
        options["channels"] = args["channels"]

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict:
        """The generator alone. `serving_default`: latent (B, Z) float32 -> images
        (B, H, W, C) uint8. `sample`: seed (B,) int32 -> images, one image per seed (ask
        for a seed s and a count n with seeds s, s+1, ..., s+n-1, as `zoo sample` does)."""
        generator = model.generator if isinstance(model, DCGAN) else model
        from_latent, from_seed = serving_models(generator, self.output_name_for(spec))
        latent_dim = generator.input_shape[-1]
        sample = np.random.default_rng(0).standard_normal((8, latent_dim)).astype("float32")
        return dict(
            serving=from_latent,
            input_name=self.serving_input_name(plan),
            output_name=self.output_name_for(spec),
            sample=sample,
            endpoints={SAMPLE_SIGNATURE: Endpoint(from_seed, "seed", self.output_name_for(spec), "int32",
                                                  np.arange(8, dtype="int32"))},
            metadata={**metadata, "latent_dim": int(latent_dim),
                      "image_shape": list(generator.output_shape[1:]), "pixel_range": [0, 255]},
        )

    def serving_input_name(self, plan) -> str:
        return "latent"

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """The generator: latent (B, Z) -> images (B, S, S, C)."""
        return (input_shape[0], args["image_size"], args["image_size"], args["channels"])

    def forward_inputs(self, spec, model, data_inputs):
        """The forward pass is the generator's: latents in, whatever the data."""
        return self.example_batch(spec, model)

    def fit_loss_key(self, model) -> str:
        """Adversarial: no joint loss falls. With the generator frozen, the training step
        must lower the discriminator's loss."""
        model.generator.trainable = False
        return "d_loss"


register_task(Gan())


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, save the generator's images of one fixed noise batch as
    `folder/epoch_001.png`, ... (1-based, like the progress bar).

    The noise is drawn once from `seed` and kept in `folder/noise.npy`, so a
    resumed run keeps drawing the same vectors.
    """

    def __init__(self, folder, count: int = 64, seed: int = 0, scale: int | None = None):
        super().__init__()
        self.folder, self.count, self.seed, self.scale = Path(folder), count, seed, scale
        self.noise = None

    def on_train_begin(self, logs=None):
        path = self.folder / "noise.npy"
        latent_dim = self.model.generator.input_shape[-1]
        if path.exists():
            self.noise = np.load(path, allow_pickle=False)
        else:
            rng = np.random.default_rng(self.seed)
            self.noise = rng.standard_normal((self.count, latent_dim)).astype("float32")
            self.folder.mkdir(parents=True, exist_ok=True)
            np.save(path, self.noise)

    def on_epoch_end(self, epoch, logs=None):
        from zoo.images import save_grid  # TODO(layers): images belong below tasks

        images = np.asarray(self.model.generator(self.noise, training=False))
        save_grid(images, self.folder / f"epoch_{epoch + 1:03d}.png", value_range=(-1, 1),
                  scale=self.scale or grid_scale(images.shape[1]))


def grid_scale(size: int) -> int:
    """Pixel repetition that shows small images at about 64 pixels."""
    return max(1, 64 // int(size))


def inception_score(probabilities) -> float:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities (N, K) (Salimans et al. 2016).

    1 when every image gets the same prediction, K when predictions are
    confident (one-hot) and spread evenly over the K classes.

    Example:
        >>> inception_score(np.eye(10))
        10.0
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"Expected probabilities of shape (N, K). Received: shape {p.shape}")
    marginal = p.mean(axis=0, keepdims=True)  # p(y), (1, K)
    # 0 * log 0 = 0: terms with p(y|x) = 0 add nothing.
    terms = np.where(p > 0, p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(marginal, 1e-300))), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def _predict(model, inputs, batch: int = 250) -> np.ndarray:
    return np.concatenate([np.asarray(model(inputs[i:i + batch], training=False))
                           for i in range(0, len(inputs), batch)])


class SampleScore(keras.callbacks.Callback):
    """Log the sample-quality score of the generator after every epoch.

    `sample_score` is `inception_score` of `classifier` on images generated
    from a fixed noise batch; `real_score` is the same formula on the same
    number of real held-out images, the ceiling the samples aim at. Both go
    into the epoch logs (so the CSV history and TensorBoard record them; the
    callback must come before those).

    Args:
        classifier: images in [-1, 1] -> class probabilities (`score_classifier`).
        real_images: Held-out real images in [-1, 1] (`reference_images`).
        samples: Generated images per score (at most as many as `real_images`).
        seed: Seed of the fixed noise.
    """

    def __init__(self, classifier, real_images, samples: int = SCORE_SAMPLES, seed: int = 1):
        super().__init__()
        self.classifier = classifier
        self.samples = min(samples, len(real_images))
        self.real_score = inception_score(_predict(classifier, real_images[: self.samples]))
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        rng = np.random.default_rng(self.seed)
        noise = rng.standard_normal((self.samples, self.model.generator.input_shape[-1]))
        images = _predict(self.model.generator, noise.astype("float32"))
        if logs is not None:
            logs["sample_score"] = inception_score(_predict(self.classifier, images))
            logs["real_score"] = self.real_score


def reference_images(plan, limit: int = SCORE_SAMPLES) -> np.ndarray:
    """Up to `limit` held-out real images of the plan (test split, else validation), as
    the generator sees them: its size and channels, in [-1, 1]."""
    split = plan.test_split or plan.validation_split
    batches = [np.asarray(x) for x, _ in plan.load(split, 256, shuffle=False)]
    return np.concatenate(batches)[:limit]


def score_classifier_path(plan, run_dir) -> Path:
    """Where the score classifier of a plan is cached: `$ZOO_CACHE_DIR/score_classifiers/`
    when that variable is set (shared by runs on the same data), else the run folder."""
    size, channels = plan.builder_args["image_size"], plan.builder_args["channels"]
    cache = os.environ.get("ZOO_CACHE_DIR")
    folder = Path(cache) / "score_classifiers" if cache else Path(run_dir)
    return folder / f"score_lenet5-{plan.dataset}-{size}x{size}x{channels}.keras"


def score_classifier(plan, path=None, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0,
                     batch_size: int = 64):
    """LeNet-5 from the zoo, trained on the plan's training images exactly as the
    generator sees them ([-1, 1], its size), for `inception_score`.

    The images are mapped to LeNet's own input in the graph ([0, 1], resized up
    to at least 32x32). Trained once: a model at `path` is loaded instead, and
    a new one is saved there with its test accuracy in `<path>.json`.
    """
    from zoo.registry import get_spec
    from zoo.tasks import compile_model

    if path is not None and Path(path).exists():  # safe mode: never arbitrary code
        return keras.saving.load_model(str(path), safe_mode=True)
    size, channels = plan.builder_args["image_size"], plan.builder_args["channels"]
    lenet_spec = get_spec("lenet5")
    lenet_size = max(size, 32)
    keras.utils.set_random_seed(seed)
    lenet = lenet_spec.builder(**lenet_spec.resolve_args({
        "input_shape": (lenet_size, lenet_size, channels), "classes": plan.info.num_classes,
        "name": "score_lenet5"}))
    image = keras.Input(shape=(size, size, channels), name="image")
    x = keras.layers.Rescaling(0.5, offset=0.5, name="to_unit")(image)  # [-1, 1] -> [0, 1]
    if lenet_size != size:
        x = keras.layers.Resizing(lenet_size, lenet_size, name="resize")(x)
    classifier = keras.Model(image, lenet(x), name="score_classifier")
    compile_model(classifier, lenet_spec)
    classifier.fit(plan.load(plan.train_split, batch_size, seed=seed), epochs=epochs, verbose=0,
                   shuffle=False)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        split = plan.test_split or plan.validation_split
        accuracy = classifier.evaluate(plan.load(split, 256, shuffle=False), verbose=0,
                                       return_dict=True)["accuracy"]
        with atomic_path(path) as tmp:  # concurrent runs never read half a file
            classifier.save(tmp)
        Path(f"{path}.json").write_text(json.dumps(
            {"dataset": plan.dataset, "image_shape": [size, size, channels], "epochs": epochs,
             "split": split, "accuracy": round(float(accuracy), 4)}, indent=2))
    return classifier


def serving_models(generator, output_name: str = "images"):
    """(latent (B, Z) float32 -> uint8 images, seed (B,) int32 -> uint8 images)."""
    latent = keras.Input(shape=(generator.input_shape[-1],), name="latent")
    images = ToUint8(name=output_name)(generator(latent))
    from_latent = keras.Model(latent, images, name=f"{generator.name}_serving")
    seed = keras.Input(shape=(), dtype="int32", name="seed")
    noise = LatentFromSeeds(generator.input_shape[-1], name="latent_from_seed")(seed)
    from_seed = keras.Model(seed, ToUint8(name=output_name)(generator(noise)),
                            name=f"{generator.name}_sample")
    return from_latent, from_seed
