"""Training: build, compile with the spec's defaults, fit, resume after a kill.

A run lives in one folder (printed at start), the dataset made one plain folder
name (a dataset path becomes e.g. `corpus_tiny.txt-<hash>`):

    runs/<model>-<dataset>/
        run.json          settings and status ("running" or "completed")
        history.csv       one row per finished epoch (Keras CSVLogger)
        logs/             TensorBoard event files
        backup/           Keras BackupAndRestore state, deleted on completion
        best.keras        the best epoch by the spec's monitor (val_loss)
        model.keras       the final model

Rerunning the same command after an interruption (even SIGKILL) resumes from
the last finished epoch; rerunning a completed run returns it unchanged. Every
setting, the model and its data are checked before the folder is written, and a
new run that fails before its first epoch ends is removed again.

Distributed runs (`strategy`, see `zoo.runtime.distribute`) build, compile and read their
data inside the strategy's scope; `batch_size` is the global batch. In a
multi-worker run only the chief writes the run folder; the other workers write
their checkpoints and logs to temporary folders that are deleted at the end.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from zoo._common import check_finite_number, check_positive_int, jsonable, safe_folder_name
from zoo.registry import ModelSpec, compile_model, get_spec, make_optimizer, repeat_targets


@dataclasses.dataclass
class DataPlan:
    """How a dataset is fed to a model: shapes agreed by both sides."""

    dataset: str
    info: Any  # pipelines.DatasetInfo
    builder_args: dict  # full builder arguments, defaults included
    data_options: dict  # options for pipelines.load / pipelines.preprocessor
    train_split: str
    validation_split: str
    test_split: str | None
    # "labels": (features, labels) pairs; "features": (features, features), the
    # preprocessed input as its own target (autoencoders).
    targets: str = "labels"

    def load(self, split: str, batch_size: int, seed: int = 0, **kwargs):
        import pipelines

        ds = pipelines.load(
            self.dataset, split, batch_size=batch_size, seed=seed,
            **{**self.data_options, **kwargs},
        )
        if self.targets == "features":
            ds = ds.map(lambda x, y: (x, x))
        return ds

    def dataset_options(self) -> dict:
        """Only the dataset's own options (e.g. `gate`), for `pipelines.load_arrays`."""
        generic = _LOAD_ONLY | {"image_size", "channels", "data_dir", "normalization"}
        return {k: v for k, v in self.data_options.items() if k not in generic}

    def preprocessor(self):
        """The in-graph preprocessing for this plan (None when there is none)."""
        import pipelines

        opts = {k: v for k, v in self.data_options.items() if k not in _LOAD_ONLY}
        return pipelines.preprocessor(self.dataset, **opts)


# pipelines.load arguments that the preprocessor does not take.
_LOAD_ONLY = {
    "manual_dir", "offline", "cache", "drop_remainder", "shuffle", "preprocess", "augment",
}


def plan_data(
    spec: ModelSpec,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_options: Mapping[str, Any] | None = None,
) -> DataPlan:
    """Agree on shapes between a model and a dataset.

    The builder's `input_shape` and `classes` follow the data unless the
    caller overrides them: tabular models take the feature shape; image
    models take the data's channels and the larger of the data's and the
    builder's default height/width (LeNet-5 needs 32x32, so 8x8 digits are
    resized up; an MLP on 28x28 MNIST takes 28x28). Images are then resized
    and channel-converted in the pipeline to what the model takes.
    """
    import pipelines

    dataset = dataset or spec.dataset
    if dataset is None:
        raise ValueError(f"Model {spec.name!r} has no default dataset; pass one.")
    overrides = dict(overrides or {})
    options = dict(spec.dataset_options) if dataset == spec.dataset else {}
    options.update(data_options or {})
    if spec.task == "embedding":
        _word_pair_options(spec, dataset, options)
    if spec.task == "language_model" and dataset not in pipelines.list_datasets():
        from pipelines import text, text_classification

        # A labelled text dataset (imdb_reviews) read as a corpus: labels dropped.
        if not text.is_text_corpus(str(dataset), options.get("data_dir")) and (
                text_classification.is_text_classification(dataset, options.get("data_dir"))):
            options.setdefault("corpus", True)
    image_size = options.pop("image_size", None)
    channels = options.pop("channels", None)
    # Text corpora build their vocabulary here, so they need the source folders too.
    # `normalization` (saved in image runs' settings) is the preprocessor's, not the dataset's.
    info_opts = {k: v for k, v in options.items()
                 if (k not in _LOAD_ONLY or k in ("manual_dir", "offline")) and k != "normalization"}
    info = pipelines.get_info(dataset, **info_opts)
    is_lm, takes_text = info.task == "language_model", spec.task == "language_model"
    if is_lm != takes_text:
        raise ValueError(
            f"Model {spec.name!r} is {'a' if takes_text else 'not a'} language model; "
            f"dataset {dataset!r} is {'a' if is_lm else 'not a'} text corpus."
        )
    if info.task == "unsupervised":
        raise ValueError(
            f"Dataset {dataset!r} has no (features, targets) pairs; model {spec.name!r} "
            f"cannot be trained on it."
        )

    args = spec.resolve_args(overrides)
    if "input_shape" in spec.defaults and "input_shape" not in overrides:
        default = tuple(spec.defaults["input_shape"])
        data_shape = tuple(info.feature_shape)
        if info.is_image and len(default) == 3:
            h = max(data_shape[0], default[0]) if image_size is None else image_size[0]
            w = max(data_shape[1], default[1]) if image_size is None else image_size[1]
            args["input_shape"] = (h, w, channels or data_shape[2])
        else:
            args["input_shape"] = data_shape
    if "classes" in spec.defaults and "classes" not in overrides and info.num_classes:
        args["classes"] = info.num_classes
    _check_targets(spec, dataset, info, args)
    _vocabulary_size(spec, dataset, info, overrides, args)
    if info.is_image:
        _image_options(spec, info, args, overrides, options, image_size, channels)

    splits = set(info.splits)
    if "validation" in splits:
        train_split, val_split = "train", "validation"
    else:
        train_split, val_split = "train[:90%]", "train[90%:]"
    test_split = "test" if "test" in splits else None
    targets = "features" if spec.task == "autoencoder" else "labels"
    return DataPlan(dataset, info, args, options, train_split, val_split, test_split, targets)


def _vocabulary_size(spec: ModelSpec, dataset, info, overrides: dict, args: dict) -> None:
    """A token model's `vocab_size` follows the data's vocabulary; another is refused."""
    takes_tokens = info.task in ("language_model", "sequence_to_sequence", "embedding")
    if (takes_tokens or info.vocabulary is not None) and "vocab_size" in spec.defaults:
        # Text classifiers: ids into info.vocabulary; the others: ids are the classes.
        tokens = len(info.vocabulary) if info.vocabulary is not None else info.num_classes
        if "vocab_size" in overrides and overrides["vocab_size"] != tokens:
            raise ValueError(
                f"Vocabulary mismatch: {spec.name} was given vocab_size="
                f"{overrides['vocab_size']}, but the vocabulary of {dataset!r} has "
                f"{tokens} tokens ([UNK] included). Leave vocab_size unset, or "
                f"set max_tokens={overrides['vocab_size']} in the data options."
            )
        args["vocab_size"] = tokens


def _image_options(spec: ModelSpec, info, args: dict, overrides: dict, options: dict,
                   image_size, channels) -> None:
    """Image size, channels and normalization of the pipeline, from the model's input."""
    if spec.task == "generative" and "image_size" in spec.defaults:
        # A generator's output is the data's image: size (square) and channels follow it.
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
    else:
        shape = tuple(args["input_shape"])
        if len(shape) == 3:
            options["image_size"] = shape[:2]
            options["channels"] = shape[2]
    options.setdefault("normalization", spec.input_normalization)


# Model tasks that learn class ids, or float values, and data tasks by target kind.
CLASSIFIER_TASKS = ("binary_classification", "classification", "image_classification")
REGRESSOR_TASKS = ("regression", "sequence_forecasting")
LABEL_DATA_TASKS = ("binary_classification", "classification")


def _check_targets(spec: ModelSpec, dataset, info, args: dict) -> None:
    """Refuse data whose targets the model's head cannot learn, read from the
    dataset's info (no data is read): float targets for a classifier, more
    classes than its head has, class labels for a regressor."""
    data = f"dataset {dataset!r} has {_target_kind(info)}"
    if spec.task in CLASSIFIER_TASKS:
        kind = "a binary classifier" if spec.task == "binary_classification" else "a classifier"
        classes = 2 if spec.task == "binary_classification" else args.get("classes")
        if info.task not in LABEL_DATA_TASKS or (
                spec.task == "binary_classification" and (info.num_classes or 0) > 2):
            raise ValueError(f"Model {spec.name!r} is {kind} (task {spec.task!r}), but "
                             f"{data}. {_models_for(info)}")
        if isinstance(classes, int) and info.num_classes and classes < info.num_classes:
            raise ValueError(
                f"Model {spec.name!r} has classes={classes} outputs, but {data}: labels "
                f"{classes}..{info.num_classes - 1} do not fit its head. Leave `classes` unset "
                f"(it follows the data) or set classes={info.num_classes}.")
    elif spec.task in REGRESSOR_TASKS and info.task == "classification":
        # Class ids are no quantities; binary 0/1 targets may be regressed (a linear
        # probability model).
        raise ValueError(f"Model {spec.name!r} is a regressor (task {spec.task!r}), but "
                         f"{data}. {_models_for(info)}")


def _target_kind(info) -> str:
    """What a dataset's targets are, for error messages."""
    if info.task == "regression":
        return "float targets (task 'regression')"
    if info.task == "binary_classification":
        return "binary labels 0/1 (task 'binary_classification')"
    if info.task == "classification":
        return f"class labels (task 'classification', {info.num_classes} classes)"
    return f"targets of task {info.task!r}"


def _models_for(info) -> str:
    """Which models fit a dataset's targets, for error messages."""
    tasks = {"regression": REGRESSOR_TASKS, "classification": CLASSIFIER_TASKS[1:],
             "binary_classification": CLASSIFIER_TASKS}.get(info.task, (info.task,))
    names = " or ".join(filter(None, [", ".join(map(repr, tasks[:-1])), repr(tasks[-1])]))
    return f"Choose a model of task {names} for it (`zoo list` shows each model's task)."


def _word_pair_options(spec: ModelSpec, dataset, options: dict) -> None:
    """Word vectors read a text corpus as word pairs (`pipelines.word_pairs`); the
    pairing (skip-gram or CBOW) is the model's own, whatever the corpus."""
    from pipelines import text

    if not text.is_text_corpus(str(dataset), options.get("data_dir")):
        raise ValueError(
            f"Model {spec.name!r} learns word vectors; dataset {dataset!r} is not a text corpus."
        )
    pairing = spec.dataset_options.get("pairs", "skipgram")
    if options.setdefault("pairs", pairing) != pairing:
        raise ValueError(
            f"Model {spec.name!r} trains on {pairing!r} pairs. Received: pairs={options['pairs']!r}"
        )


@dataclasses.dataclass
class TrainResult:
    model: Any
    history: list[dict]
    run_dir: Path
    spec: ModelSpec
    plan: DataPlan
    resumed_from_epoch: int = 0

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.keras"


def read_history(path: Path) -> list[dict]:
    """Rows of a CSVLogger file, one per finished epoch (duplicates dropped)."""
    if not path.exists():
        return []
    rows: dict[int, dict] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row.pop("epoch"))
            rows[epoch] = {"epoch": epoch, **{k: float(v) for k, v in row.items() if v != ""}}
    return [rows[e] for e in sorted(rows)]


def _backup_epoch(backup_dir: Path) -> int:
    """Epochs already finished according to BackupAndRestore's metadata."""
    meta = backup_dir / "training_metadata.json"
    if meta.exists():
        try:
            # Keras writes the number of finished epochs.
            return int(json.loads(meta.read_text()).get("epoch", 0))
        except (ValueError, OSError):
            return 0
    return 0


def train(
    model_name: str,
    dataset: str | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
    lr_schedule: str = "constant",
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    data_options: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike | None = None,
    runs_root: str | os.PathLike = "runs",
    callbacks: list | None = None,
    verbose: int | str = "auto",
    strategy: str = "auto",
    cpu_replicas: int | None = None,
    mixed_precision: bool = False,
    jit_compile: bool | str = "auto",
) -> TrainResult:
    """Train a registered model on a dataset, resumably.

    Args:
        model_name: A registered model (`zoo.list_models()`).
        dataset: A dataset name (default: the spec's own).
        epochs, batch_size, learning_rate, seed: Training settings.
        optimizer: Optimizer name (default: the spec's; see
            `zoo.registry.make_optimizer`). Without `learning_rate`, the
            spec's default learning rate for that optimizer is used.
        weight_decay: Decoupled weight decay (e.g. 1e-4 for ResNet with SGD).
        lr_schedule: "constant", or "cosine" to decay the learning rate to
            zero over the run (Loshchilov & Hutter 2017, without restarts).
        overrides: Builder arguments (e.g. `{"depth": 3}`).
        data_options: Extra `pipelines.load` options (e.g. `{"gate": "xor"}`).
        run_dir: The run folder; default `runs_root/<model>-<dataset>`, the dataset
            made one plain folder name (`zoo._common.safe_folder_name`: a path such
            as `../corpus/tiny.txt` becomes `corpus_tiny.txt-<hash>`).
        callbacks: Extra Keras callbacks.
        strategy: "auto", "default", "mirrored", "multiworker" or "tpu" (see
            `zoo.runtime.distribute`); the choice is printed. `batch_size` is the
            global batch, split evenly across the replicas.
        cpu_replicas: Split the CPU into this many logical devices first (for
            "mirrored" on a CPU-only machine; default $ZOO_CPU_REPLICAS or 1).
            Only possible before TensorFlow's first operation in the process.
        mixed_precision: Train under the "mixed_bfloat16" Keras policy
            ("mixed_float16" on GPU), outputs and losses kept float32.
        jit_compile: XLA-compile the training step (True/False; "auto" is
            Keras' choice: XLA on GPU/TPU without tf.distribute).

    Returns:
        A `TrainResult` with the trained model, the history rows and the run folder.

    Example:
        >>> result = zoo.train("mlp", "digits", epochs=5)
        >>> result.history[-1]["val_accuracy"] > 0.9
        True
    """
    from zoo.runtime import distribute, precision

    say = print if verbose else (lambda *a, **k: None)
    # First: multi-worker collectives and logical CPU devices must be set up before
    # TensorFlow's first operation.
    dist = distribute.make_strategy(strategy, cpu_replicas=cpu_replicas, say=say)
    spec = get_spec(model_name)
    optimizer = spec.optimizer if optimizer is None else optimizer
    if learning_rate is None:
        learning_rate = spec.learning_rates.get(optimizer, spec.learning_rate)
    _check_settings(dist, epochs, batch_size, learning_rate, optimizer, weight_decay,
                    lr_schedule, jit_compile)
    plan = plan_data(spec, dataset, overrides, data_options)
    policy = precision.mixed_policy_name() if mixed_precision else None
    # The dataset may be a path (../corpus/tiny.txt): the folder name is made safe.
    run_dir = Path(run_dir) if run_dir else (
        Path(runs_root) / f"{spec.name}-{safe_folder_name(plan.dataset)}")
    settings = {
        "model": spec.name,
        "dataset": plan.dataset,
        "builder_args": jsonable(plan.builder_args),
        "data_options": jsonable(plan.data_options),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": lr_schedule,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "seed": seed,
    }
    if policy:
        # Only when set, so runs from before this option still resume. The strategy
        # and replica count are not settings: a run may resume on other hardware with
        # the same global batch (they are recorded under "distribution").
        settings["mixed_precision"] = policy
    runtime = {**dist.describe(), "jit_compile": jit_compile}
    if _previous_run_completed(run_dir, settings):
        if verbose:
            print(f"Run {run_dir} is already complete; loading its model.")
        model = load_model(run_dir / "model.keras")
        return TrainResult(model, read_history(run_dir / "history.csv"), run_dir, spec, plan, epochs)
    # Only the chief writes the run folder; other workers write into a temporary one.
    write_dir = run_dir if dist.is_chief else Path(
        tempfile.mkdtemp(prefix=f"zoo-{dist.task_type}{dist.task_id}-"))
    with contextlib.ExitStack() as cleanup:
        if write_dir != run_dir:
            cleanup.callback(shutil.rmtree, write_dir, ignore_errors=True)
        return _train_run(
            spec, plan, dist, policy, settings, runtime, run_dir, write_dir, epochs,
            batch_size, seed, lr_schedule, optimizer, weight_decay, jit_compile, callbacks,
            verbose, say)


def _check_settings(dist, epochs, batch_size, learning_rate, optimizer, weight_decay,
                    lr_schedule, jit_compile) -> None:
    """Refuse a training setting before anything is read or written."""
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    if batch_size % dist.replicas:
        raise ValueError(
            f"`batch_size` is the global batch, split evenly across the {dist.replicas} "
            f"replicas of the {dist.name} strategy, so it must be a multiple of "
            f"{dist.replicas}. Received: batch_size={batch_size}")
    # A negative rate climbs the loss (to 1e9 in one epoch); NaN or inf ruins the weights.
    check_finite_number("learning_rate", learning_rate)
    if weight_decay is not None:
        check_finite_number("weight_decay", weight_decay, allow_zero=True)
    make_optimizer(optimizer, 0.0)  # an unknown name fails before the run folder exists
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(
            f"`lr_schedule` must be one of {', '.join(map(repr, LR_SCHEDULES))}. "
            f"Received: lr_schedule={lr_schedule!r}"
        )
    if jit_compile not in (True, False, "auto"):
        raise ValueError(
            f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={jit_compile!r}")


def _previous_run_completed(run_dir: Path, settings: dict) -> bool:
    """Whether `run_dir` holds this run, completed; refuses a run with other settings."""
    run_file = run_dir / "run.json"
    if not run_file.exists():
        return False
    previous = read_run_file(run_dir)
    if previous.get("settings") != settings:
        before = previous.get("settings", {})
        changed = sorted(k for k in set(settings) | set(before)
                         if before.get(k) != settings.get(k))
        raise ValueError(
            f"Run folder {run_dir} holds a run with other settings (differs in: "
            f"{', '.join(changed)}). Use another --run-dir, or delete that folder."
        )
    return previous.get("status") == "completed" and (run_dir / "model.keras").exists()


def _train_run(spec, plan, dist, policy, settings, runtime, run_dir, write_dir, epochs,
               batch_size, seed, lr_schedule, optimizer, weight_decay, jit_compile, callbacks,
               verbose, say) -> TrainResult:
    """`train` once the settings are checked: `write_dir` is `run_dir` on the chief.

    The model, its data and its optimizer are made before the run folder is
    written, so a bad builder argument or data that cannot be loaded leaves
    nothing behind; a failure before the first epoch ends removes what a new
    run wrote.
    """
    from zoo.runtime import precision

    chief = write_dir == run_dir
    run_file = run_dir / "run.json"
    new_run = chief and not run_file.exists()
    model, train_ds, val_ds, extra_callbacks = _prepare_model(
        spec, plan, dist, policy, settings, epochs, batch_size, seed, lr_schedule, optimizer,
        weight_decay, jit_compile)
    with _removed_unless_an_epoch_finishes(run_dir, new_run):
        run_dir.mkdir(parents=True, exist_ok=True)
        if chief:
            _write_json(run_file, {"settings": settings, "status": "running",
                                   "distribution": runtime})
        if chief and plan.info.task in ("language_model", "embedding"):
            # The vocabulary travels with the model (`zoo generate`, exports).
            from pipelines.text import write_vocabulary

            write_vocabulary(plan.info.class_names, run_dir / VOCABULARY_FILE)

        resumed_from = _backup_epoch(run_dir / "backup")
        history_rows = read_history(run_dir / "history.csv")
        # Drop CSV rows newer than the backup: they will be recomputed.
        if chief and len(history_rows) > resumed_from:
            _rewrite_history(run_dir / "history.csv", history_rows[:resumed_from])
        say(
            f"Run folder: {run_dir} "
            + (f"(resuming after epoch {resumed_from})" if resumed_from else "(new run)")
        )
        with dist.strategy.scope(), precision.dtype_policy(policy):
            if spec.fit is not None:
                return _fit_without_gradients(model, spec, plan, val_ds, run_dir, settings,
                                              seed, say, chief)
            if spec.pretrain is not None and not resumed_from:
                pretrained = spec.pretrain(model, plan, seed=seed, batch_size=batch_size)
                say(f"Pre-trained {spec.name}: {jsonable(pretrained)}")
        return _fit(model, spec, plan, train_ds, val_ds, settings, runtime, run_dir, write_dir,
                    epochs, history_rows[:resumed_from], [*extra_callbacks, *(callbacks or [])],
                    verbose)


def _prepare_model(spec, plan, dist, policy, settings, epochs, batch_size, seed, lr_schedule,
                   optimizer, weight_decay, jit_compile):
    """The compiled model, its training and validation data and the callbacks the data
    needs, all made inside the strategy's scope (nothing is written)."""
    import keras

    from zoo.runtime import distribute, precision

    keras.utils.set_random_seed(seed)
    builder_args, stateful_callbacks = dict(plan.builder_args), []
    if plan.data_options.get("stateful"):
        # Contiguous batches: the model carries its state from batch to batch.
        if "stateful_batch_size" not in spec.defaults:
            raise ValueError(
                f"Data option stateful=True carries recurrent state across batches; "
                f"{spec.name} has no stateful mode."
            )
        from zoo.models.language_models import StatefulReset

        if dist.replicas > 1:
            raise ValueError(
                f"Data option stateful=True carries state from batch to batch of one "
                f"device; it cannot be split across {dist.replicas} replicas.")
        builder_args["stateful_batch_size"] = batch_size
        stateful_callbacks = [StatefulReset()]
    # Model, optimizer and data pipeline are all created inside the strategy's scope.
    with dist.strategy.scope(), precision.dtype_policy(policy):
        model = spec.builder(**builder_args)
        if policy:
            precision.float32_outputs(model)
        # TPUs compile for static shapes: no smaller last batch.
        static = {"drop_remainder": True} if dist.name == "tpu" else {}
        train_ds = plan.load(plan.train_split, batch_size, seed=seed, **static)
        val_ds = plan.load(plan.validation_split, batch_size, seed=seed, **static)
        if plan.dataset in _builtin_names():
            train_ds, val_ds = distribute.shard_by_data(train_ds), distribute.shard_by_data(val_ds)
        rate = settings["learning_rate"]
        if lr_schedule == "cosine":
            # The step count lives in the optimizer state, so a resumed run
            # continues the same curve.
            rate = keras.optimizers.schedules.CosineDecay(rate, epochs * _steps_per_epoch(train_ds))
        compile_model(model, spec, learning_rate=rate, optimizer=optimizer,
                      weight_decay=weight_decay, jit_compile=jit_compile)
        train_ds, val_ds = repeat_targets(train_ds, model), repeat_targets(val_ds, model)
    return model, train_ds, val_ds, stateful_callbacks


def _fit(model, spec, plan, train_ds, val_ds, settings, runtime, run_dir, write_dir, epochs,
         prior_rows, callbacks, verbose) -> TrainResult:
    """`model.fit` with the run folder's callbacks: backup, best checkpoint, CSV
    history and TensorBoard; then the final model and the completed status."""
    import keras

    from zoo.runtime import distribute

    chief, resumed_from = write_dir == run_dir, len(prior_rows)
    prior = [r[spec.monitor] for r in prior_rows if spec.monitor in r]
    cbs = [
        # The spec's callbacks first: values they add to the epoch logs (e.g. a GAN's
        # sample score) then reach the checkpoint, the CSV history and TensorBoard.
        *(spec.callbacks(model, plan, write_dir) if spec.callbacks else []),
        # Every worker restores the chief's backup; the others save into write_dir.
        distribute.worker_backup(
            str(run_dir / "backup"), str(write_dir / "backup"), save_freq="epoch",
            delete_checkpoint=True, double_checkpoint=True,
        ),
        keras.callbacks.ModelCheckpoint(
            str(write_dir / "best.keras"), monitor=spec.monitor, mode="min",
            save_best_only=True, initial_value_threshold=min(prior) if prior else None,
        ),
        keras.callbacks.CSVLogger(str(write_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(write_dir / "logs"), write_graph=False),
        *callbacks,
    ]
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=cbs, verbose=verbose,
        shuffle=False,  # the pipeline shuffles, seeded
    )
    model.save(write_dir / "model.keras")  # every worker saves; only the chief's is kept
    if chief:
        _write_json(run_dir / "run.json", {"settings": settings, "status": "completed",
                                           "distribution": runtime})
        history = read_history(run_dir / "history.csv")
    else:  # the chief may still be writing its history: this worker's own rows
        history = prior_rows + read_history(write_dir / "history.csv")
    return TrainResult(model, history, run_dir, spec, plan, resumed_from)


@contextlib.contextmanager
def _removed_unless_an_epoch_finishes(run_dir: Path, new_run: bool):
    """Undo a new run that fails before its first epoch ends: remove the files and
    folders it created (never anything that was there before), so the corrected
    command starts afresh instead of meeting a "running" stub with other settings."""
    created = list(itertools.takewhile(lambda p: not p.exists(), (run_dir, *run_dir.parents)))
    before = set(run_dir.iterdir()) if run_dir.is_dir() else set()
    try:
        yield
    except BaseException:
        if new_run and not read_history(run_dir / "history.csv"):
            for path in (set(run_dir.iterdir()) if run_dir.is_dir() else set()) - before:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for folder in created:  # deepest first; a folder others wrote into stays
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def _builtin_names() -> set[str]:
    import pipelines

    return set(pipelines.list_datasets())


def _fit_without_gradients(model, spec, plan, val_ds, run_dir, settings, seed, say, chief=True):
    """Train a model whose spec has a `fit` function (e.g. counts + SVD): one fit on
    the training split, recorded as one epoch with its validation loss."""
    fitted = spec.fit(model, plan, seed=seed)
    row = {"epoch": 0, "val_loss": float(model.evaluate(val_ds, verbose=0, return_dict=True)["loss"])}
    say(f"Fitted {spec.name} without gradient descent: {jsonable(fitted)}; val_loss {row['val_loss']:.4f}")
    if not chief:
        return TrainResult(model, [row], run_dir, spec, plan)
    _rewrite_history(run_dir / "history.csv", [row])
    model.save(run_dir / "best.keras")
    model.save(run_dir / "model.keras")
    _write_json(run_dir / "run.json", {"settings": settings, "status": "completed"})
    return TrainResult(model, [row], run_dir, spec, plan)


LR_SCHEDULES = ("constant", "cosine")
VOCABULARY_FILE = "vocabulary.json"


def _steps_per_epoch(ds) -> int:
    steps = int(ds.cardinality())
    if steps < 0:  # unknown or infinite: count one pass
        steps = sum(1 for _ in ds)
    return max(steps, 1)


class RunFolderError(FileNotFoundError, ValueError):
    """A folder is not a `zoo train` run folder, or lacks the checkpoint asked for.

    A FileNotFoundError for the callers that catch one, and a ValueError, so that
    `zoo` reports it as one `zoo: error: ...` line.
    """


RUN_FOLDER = ("A run folder is what `zoo train` writes: runs/<model>-<dataset>, holding "
              "run.json and best.keras.")


def _not_a_run_folder(run_dir: Path) -> str:
    """Why `run_dir` is no run folder, with what one is (and, for a search, what to run)."""
    if (run_dir / "oracle.json").is_file():
        return (f"{run_dir} is a search project (oracle.json), not a run folder. {RUN_FOLDER} "
                "To export a search's best model, run `zoo tune ... --export` (it trains the "
                "best configuration in <project>/best_trial_<id>, a run folder).")
    reason = "no run.json" if run_dir.is_dir() else "it does not exist"
    return f"{run_dir} is not a run folder ({reason}). {RUN_FOLDER}"


def read_run_file(run_dir: str | os.PathLike) -> dict:
    """The run.json of a run folder (settings and status), checked: a folder without
    one raises `RunFolderError`, a damaged one a ValueError naming the file."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise RunFolderError(_not_a_run_folder(run_dir))
    try:
        record = json.loads(path.read_text())
        problem = None if isinstance(record, dict) and isinstance(
            record.get("settings"), dict) else 'no "settings" object'
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        problem = str(exc)
    if problem is not None:
        raise ValueError(f"{path} is corrupt: not the JSON that `zoo train` writes ({problem}). "
                         "Restore it, or train again in a new run folder.")
    return record


def plan_from_run(run_dir: str | os.PathLike) -> tuple[ModelSpec, DataPlan]:
    """The spec and data plan a `zoo train` run folder was trained with.

    A language model's plan uses the vocabulary saved in the run folder, so
    a changed corpus cannot silently change token ids.
    """
    run_dir = Path(run_dir)
    settings = read_run_file(run_dir)["settings"]
    spec = get_spec(settings["model"])

    def tuples(d):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    data_options = tuples(settings["data_options"])
    if (run_dir / VOCABULARY_FILE).exists():
        data_options["vocabulary"] = str(run_dir / VOCABULARY_FILE)
    plan = plan_data(spec, settings["dataset"], tuples(settings["builder_args"]), data_options)
    return spec, plan


CHECKPOINTS = {"best": "best.keras", "final": "model.keras"}


def checkpoint_path(run_dir: str | os.PathLike, checkpoint: str = "best") -> Path:
    """The `best.keras` or final `model.keras` of a run folder, which must exist."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"`checkpoint` must be one of {', '.join(map(repr, CHECKPOINTS))}. "
                         f"Received: checkpoint={checkpoint!r}")
    path = Path(run_dir) / CHECKPOINTS[checkpoint]
    if not path.exists():
        raise RunFolderError(f"{path} does not exist (has the run finished an epoch?).")
    return path


def load_model(path: str | os.PathLike, compile: bool = True):
    """Load a `.keras` file with `safe_mode=True` (never arbitrary code).

    A truncated, random or damaged file is a ValueError naming it (Keras itself
    says "File not found" for a file that is there but no zip archive).
    """
    import zipfile

    import keras

    import pipelines.layers  # noqa: F401  (registers preprocessing layers)
    import zoo.layers  # noqa: F401
    import zoo.models  # noqa: F401
    from zoo.runtime.precision import dtype_policy, saved_policy

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model file (a .keras zip archive): it is "
                         "truncated or corrupt.")
    # A mixed-precision model loads under its own policy: a few Keras ops read the
    # global policy when called, not the layer's.
    with dtype_policy(saved_policy(path)):
        try:
            return keras.saving.load_model(str(path), compile=compile, safe_mode=True)
        except (zipfile.BadZipFile, KeyError, EOFError, OSError, json.JSONDecodeError) as exc:
            # Missing or damaged members: config.json, metadata.json, model.weights.h5.
            raise ValueError(
                f"{path} is a corrupt Keras model file ({type(exc).__name__}: {exc})."
            ) from None


def _rewrite_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    keys = ["epoch"] + [k for k in rows[0] if k != "epoch"]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)

