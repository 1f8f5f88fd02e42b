"""DCGAN: layout, the two-phase training step, per-epoch grids and scores, resume, export, CLI."""

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo.models.dcgan import DCGAN, mmd
from zoo.runtime.artifacts import sample_images
from zoo.tasks.gan import (SampleScore, inception_score, score_classifier, score_classifier_path,
                           serving_models)
from zoo.images import read_png, to_uint8
from zoo.tasks import compile_model
from zoo.runtime.plan import plan_data
from zoo.runtime.run import Run, read_history

from conftest import sigkill_after_epochs, zoo_env

SPEC = zoo.get_spec("dcgan")


@pytest.fixture(scope="module")
def score_cache(tmp_path_factory):
    """A shared score-classifier cache (ZOO_CACHE_DIR) holding a quickly trained LeNet-5
    for the test plan, so each training test does not train its own."""
    cache = tmp_path_factory.mktemp("zoo_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_CACHE_DIR", str(cache))
        plan = plan_data(SPEC, overrides=SPEC.test_args)
        score_classifier(plan, score_classifier_path(plan, None), epochs=2)
        yield cache


def _tiny_gan():
    keras.utils.set_random_seed(0)
    plan = plan_data(SPEC, overrides=SPEC.test_args)
    model = compile_model(SPEC.builder(**plan.builder_args), SPEC)
    real = next(iter(plan.load(plan.train_split, 16, seed=0)))[0]
    return model, plan, real


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def test_inception_score_formula_matches_hand_computations():
    # Confident and spread evenly over the K classes: the score is K.
    assert inception_score(np.eye(10)) == pytest.approx(10.0)
    assert inception_score(np.repeat(np.eye(4), 3, axis=0)) == pytest.approx(4.0)
    # The same one-hot prediction for every image, or uniform predictions: 1.
    assert inception_score(np.tile([0.0, 1.0, 0.0], (5, 1))) == pytest.approx(1.0)
    assert inception_score(np.full((6, 10), 0.1)) == pytest.approx(1.0)
    # By hand: p(y) = (0.55, 0.45), score = exp(mean_x sum_y p log(p / p(y))).
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    kl = [0.9 * math.log(0.9 / 0.55) + 0.1 * math.log(0.1 / 0.45),
          0.2 * math.log(0.2 / 0.55) + 0.8 * math.log(0.8 / 0.45)]
    assert inception_score(p) == pytest.approx(math.exp(sum(kl) / 2))
    with pytest.raises(ValueError, match=r"Expected probabilities of shape \(N, K\)\. Received: shape \(3,\)"):
        inception_score(np.ones(3))


def test_mmd_is_zero_for_equal_batches_and_grows_with_the_gap():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(16, 8, 8, 1)).astype("float32")
    assert float(mmd(x, x)) == pytest.approx(0.0, abs=1e-6)
    near, far = float(mmd(x, np.clip(x + 0.1, -1, 1))), float(mmd(x, -np.ones_like(x)))
    assert 0 < near < far


def test_networks_follow_the_paper_layout_at_each_image_size():
    for size, channels in ((28, 1), (32, 3), (16, 1)):
        gan = zoo.build("dcgan", image_size=size, channels=channels, latent_dim=100, filters=8)
        assert gan.output_shape == (None, size, size, channels)
        assert gan.discriminator.output_shape == (None, 1)
        g_layers, d_layers = gan.generator.layers, gan.discriminator.layers
        assert isinstance(g_layers[1], keras.layers.Dense)  # projection, then reshape
        assert g_layers[-1].get_config()["activation"] == "tanh"
        deconvs = [l for l in g_layers if isinstance(l, keras.layers.Conv2DTranspose)]
        assert all(l.strides == (2, 2) for l in deconvs)
        # Batch normalisation + ReLU after every generator block but the output.
        assert sum(isinstance(l, keras.layers.BatchNormalization) for l in g_layers) == len(deconvs)
        convs = [l for l in d_layers if isinstance(l, keras.layers.Conv2D)]
        assert all(l.strides == (2, 2) for l in convs)
        assert not any("pool" in type(l).__name__.lower() for l in d_layers)
        assert {l.negative_slope for l in d_layers if isinstance(l, keras.layers.LeakyReLU)} == {0.2}
        # No batch normalisation right after the first discriminator convolution.
        first = d_layers.index(convs[0])
        assert not isinstance(d_layers[first + 1], keras.layers.BatchNormalization)
        assert sum(isinstance(l, keras.layers.BatchNormalization) for l in d_layers) == len(convs) - 1
    assert zoo.build("dcgan", image_size=28).generator.get_layer("dcgan_generator_reshape").output.shape[1:3] == (7, 7)
    with pytest.raises(ValueError, match=r"`image_size` must be even\. Received: image_size=9"):
        zoo.build("dcgan", image_size=9)
    with pytest.raises(ValueError, match=r"`channels` must be 1 or 3\. Received: channels=2"):
        zoo.build("dcgan", channels=2)


def test_the_spec_trains_with_adam_beta1_half_on_symmetric_images():
    model, plan, real = _tiny_gan()
    assert (SPEC.optimizer, SPEC.learning_rate, SPEC.monitor) == ("gan_adam", 2e-4, "val_mmd")
    for optimizer in (model.optimizer, model.generator_optimizer):
        assert type(optimizer).__name__ == "Adam"
        assert float(optimizer.beta_1) == 0.5
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
    assert model.optimizer is not model.generator_optimizer
    assert plan.data_options["normalization"] == "symmetric"
    assert float(np.min(real)) == -1.0 and float(np.max(real)) == 1.0
    with pytest.raises(ValueError, match=r"DCGAN computes its own adversarial losses; pass no loss\. Received: loss='mse'"):
        model.compile(optimizer="adam", loss="mse")


def test_each_update_changes_only_its_own_network():
    model, _, real = _tiny_gan()
    g_vars, d_vars = model.generator.trainable_variables, model.discriminator.trainable_variables
    noise = np.random.default_rng(0).standard_normal((16, model.latent_dim)).astype("float32")

    g0, d0 = _values(g_vars), _values(d_vars)
    model.discriminator_step(real, noise)  # phase 1: the discriminator's update
    assert all(_changed(d0, d_vars)), "every discriminator variable moves"
    assert not any(_changed(g0, g_vars)), "the generator's variables stay"

    g1, d1 = _values(g_vars), _values(d_vars)
    model.generator_step(noise)  # phase 2: the generator's update
    assert all(_changed(g1, g_vars)), "every generator variable moves"
    assert not any(_changed(d1, d_vars)), "the discriminator's variables stay"
    assert int(model.optimizer.iterations) == int(model.generator_optimizer.iterations) == 1

    # One training step (`fit`'s unit) is both phases.
    g2, d2 = _values(g_vars), _values(d_vars)
    logs = model.train_on_batch(real, np.zeros(16), return_dict=True)
    assert all(_changed(g2, g_vars)) and all(_changed(d2, d_vars))
    assert set(logs) == {"d_loss", "g_loss", "d_accuracy"}
    assert int(model.optimizer.iterations) == int(model.generator_optimizer.iterations) == 2


def test_keras_file_round_trip_keeps_both_networks_and_optimizers(tmp_path):
    model, _, real = _tiny_gan()
    model.train_on_batch(real, np.zeros(16))
    model.save(tmp_path / "gan.keras")
    reloaded = zoo.load_model(tmp_path / "gan.keras")
    assert isinstance(reloaded, DCGAN) and reloaded.seed == model.seed
    for a, b in ((model.discriminator, reloaded.discriminator), (model.generator, reloaded.generator),
                 (model.optimizer, reloaded.optimizer),
                 (model.generator_optimizer, reloaded.generator_optimizer)):
        assert all(np.array_equal(x, y) for x, y in zip(_values(a.variables), _values(b.variables)))
    assert int(reloaded.generator_optimizer.iterations) == 1


def test_training_saves_a_grid_and_logs_the_score_every_epoch(tmp_path, score_cache):
    run = tmp_path / "run"
    result = zoo.train("dcgan", epochs=2, overrides=SPEC.test_args, run_dir=run, verbose=0)
    grids = sorted(p.name for p in (run / "samples").glob("epoch_*.png"))
    assert grids == ["epoch_001.png", "epoch_002.png"]
    grid = read_png(run / "samples" / "epoch_002.png")
    assert grid.shape == ((8 * 17 - 1) * 4,) * 2  # 8x8 fixed-noise images of 16 px, shown 4x
    assert grid.dtype == np.uint8 and grid.std() > 0
    history = read_history(run / "history.csv")
    assert [row["epoch"] for row in history] == [0, 1]
    for row in history:
        assert math.isfinite(row["sample_score"]) and 1.0 <= row["sample_score"] <= 10.0
        assert math.isfinite(row["val_mmd"]) and row["val_mmd"] > 0
    # Real held-out digits score far above an untrained generator's samples.
    assert history[-1]["real_score"] > 5.0 > history[-1]["sample_score"]
    assert (run / "best.keras").exists() and isinstance(result.model, DCGAN)
    assert not (run / "score_lenet5-digits-16x16x1.keras").exists()  # cached in ZOO_CACHE_DIR
    # `zoo export RUN` re-plans from the recorded settings (normalization included).
    assert Run(run).plan()[1].builder_args == result.plan.builder_args

    # `zoo sample` from the run folder: the seeds' images as a grid.
    from zoo.cli import main

    assert main(["sample", str(run), "--count", "6", "--seed", "2", "--columns", "3",
                 "--out", str(tmp_path / "grid.png"), "--scale", "1"]) == 0
    assert read_png(tmp_path / "grid.png").shape == (2 * 16 + 1, 3 * 16 + 2)


class _Crash(Exception):
    pass


class _CrashAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Crash(f"interrupted after epoch {epoch + 1}")


def test_interrupted_training_resumes_from_the_backup_without_losing_epochs(tmp_path, score_cache,
                                                                          capsys):
    run = tmp_path / "run"
    args = dict(epochs=3, overrides=SPEC.test_args, run_dir=run)
    with pytest.raises(_Crash):
        zoo.train("dcgan", callbacks=[_CrashAfterEpoch(1)], verbose=0, **args)
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [0, 1]
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    noise = np.load(run / "samples" / "noise.npy")

    result = zoo.train("dcgan", verbose=1, **args)
    assert "resuming after epoch 2" in capsys.readouterr().out
    assert result.resumed_from_epoch == 2
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [0, 1, 2]
    assert sorted(p.name for p in (run / "samples").glob("epoch_*.png")) == [
        "epoch_001.png", "epoch_002.png", "epoch_003.png"]
    np.testing.assert_array_equal(np.load(run / "samples" / "noise.npy"), noise)
    # Both optimizers came back from the backup: 3 epochs of steps each, not 1.
    steps = math.ceil(result.plan.info.splits["train"] / 32)
    assert int(result.model.optimizer.iterations) == 3 * steps
    assert int(result.model.generator_optimizer.iterations) == 3 * steps
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_export_serves_uint8_images_from_latents_and_from_seeds(tmp_path):
    import tensorflow as tf

    from zoo.runtime.exporter import export_trained

    model, plan, _ = _tiny_gan()
    exported = export_trained(model, SPEC, plan, base_dir=tmp_path, verify=False)
    manifest = exported.manifest
    assert manifest["inputs"] == {"latent": {"shape": [None, 16], "dtype": "float32"}}
    assert manifest["outputs"] == {"images": {"shape": [None, 16, 16, 1], "dtype": "uint8"}}
    assert manifest["signatures"]["sample"]["inputs"] == {"seed": {"shape": [None], "dtype": "int32"}}
    loaded = tf.saved_model.load(str(exported.path))
    latents = np.random.default_rng(1).standard_normal((5, 16)).astype("float32")
    served = loaded.signatures["serving_default"](latent=tf.constant(latents))["images"].numpy()
    assert served.dtype == np.uint8 and served.shape == (5, 16, 16, 1)
    expected = to_uint8(np.asarray(model.generator(latents)), value_range=(-1, 1))
    assert np.max(np.abs(served.astype(int) - expected.astype(int))) <= 1

    # One image per seed, whatever else is in the request; the run and the export agree.
    by_seed = loaded.signatures["sample"](seed=tf.constant([3, 4, 5, 6], "int32"))["images"].numpy()
    np.testing.assert_array_equal(sample_images(exported.path, count=2, seed=5), by_seed[2:])
    live = np.asarray(serving_models(model.generator)[1](np.arange(3, 7, dtype="int32")))
    np.testing.assert_array_equal(live, by_seed)
    assert len(np.unique(by_seed.reshape(4, -1), axis=0)) == 4


def test_seed_latents_are_standard_normal_per_seed_and_identical_under_xla():
    import tensorflow as tf

    from zoo.models.dcgan import LatentFromSeeds

    layer = LatentFromSeeds(64)
    seeds = tf.constant(np.arange(-3, 1000, dtype="int32"))
    latents = layer(seeds).numpy()
    assert latents.shape == (1003, 64)
    assert abs(latents.mean()) < 0.02 and abs(latents.std() - 1) < 0.02
    assert abs(np.mean((latents - latents.mean()) ** 4) / latents.var() ** 2 - 3) < 0.1
    # Neighbouring latent dimensions and neighbouring seeds are uncorrelated.
    assert abs(np.corrcoef(latents[:, :-1].ravel(), latents[:, 1:].ravel())[0, 1]) < 0.02
    assert abs(np.corrcoef(latents[:-1].ravel(), latents[1:].ravel())[0, 1]) < 0.02
    # XLA draws other numbers from TensorFlow's stateless RNG; the int32 mixing agrees.
    compiled = tf.function(layer, jit_compile=True)(seeds).numpy()
    np.testing.assert_allclose(compiled, latents, atol=1e-5)
    np.testing.assert_array_equal(layer(tf.constant([997, 0], "int32")).numpy(), latents[[1000, 3]])


def test_sample_rejects_what_is_not_a_generator(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a run folder"):
        sample_images(tmp_path)
    with pytest.raises(ValueError, match=r"`count` must be an integer >= 1\. Received: count=0"):
        sample_images(tmp_path, count=0)


def test_score_callback_logs_a_finite_score_with_any_classifier():
    model, plan, real = _tiny_gan()
    images = keras.Input((16, 16, 1))
    probabilities = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(images))
    callback = SampleScore(keras.Model(images, probabilities), np.asarray(real), samples=100)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert callback.samples == 16  # never more samples than real reference images
    assert math.isfinite(logs["sample_score"]) and math.isfinite(logs["real_score"])


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "zoo.cli", "train", "dcgan", "--epochs", "6",
           "--set", "filters=8", "--set", "latent_dim=16", "--run-dir", str(run)]
    env = zoo_env(ZOO_CACHE_DIR=str(tmp_path / "cache"))
    seen = sigkill_after_epochs(cmd, run, 2, cwd=tmp_path, env=env, timeout=300)
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    resumed = int(rerun.stdout.split("resuming after epoch ")[1].split(")")[0])
    assert resumed >= seen
    assert [r["epoch"] for r in read_history(run / "history.csv")] == list(range(6))
    assert len(list((run / "samples").glob("epoch_*.png"))) == 6
