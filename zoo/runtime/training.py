"""Training: build, compile with the spec's defaults, fit, resume after a kill.

`zoo.train` and every search trial (`tuning.ZooHyperModel`) train through the
same functions, driven by one frozen `TrainConfig`: `build_for_training`,
`compile_for_training`, `training_data` and `fit`, which calls the model's task
for everything task-specific (builder arguments, callbacks, pre-training,
fitting without gradients). `train` adds the run folder (`zoo.runtime.run.Run`)
around them.

Each set of settings gets its own run folder, `runs/<model>-<dataset>/version_N`.
Rerunning the same `zoo.train` call after an interruption (even SIGKILL)
resumes from the last finished epoch; rerunning a completed run returns it
unchanged, or, with more `epochs`, continues it from its final state. Every
setting, the model and its data are checked before the folder is written, and a
new run that fails before its first epoch ends is removed again.

Distributed runs (`strategy`, see `zoo.runtime.distribute`) build, compile and read their
data inside the strategy's scope; `batch_size` is the global batch. In a
multi-worker run only the chief writes the run folder; the other workers write
their checkpoints and logs to temporary folders that are deleted at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import keras

import pipelines
from zoo._common import (atomic_path, check_finite_number, check_positive_int, jsonable,
                         safe_folder_name, version_folders, versioned_folder)
from zoo.registry import ModelSpec, get_spec, make_optimizer, repeat_targets
from zoo.runtime.callbacks import plateau_callbacks
from zoo.runtime.names import LR_SCHEDULES, RUNS_ROOT
from zoo.runtime.plan import DataPlan, plan_data
from zoo.runtime.run import CHECKPOINTS, RUN_FILE, Run, load_model, read_history, settings_differ
from zoo.tasks import compile_model, get_task



def _silent(*args, **kwargs) -> None:
    """A `say` that prints nothing."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How a model is trained: what `zoo.train` records in run.json, and what a
    search trial uses (its optimizer, learning rate and batch size chosen by the tuner).

    `optimizer` and `learning_rate` None mean the spec's defaults; `resolved`
    fills them in (`ModelSpec.default_learning_rate`, the one place that
    default is decided). `mixed_precision` is a Keras policy name or None.
    `clipnorm` clips each gradient's norm; `early_stopping` and
    `reduce_lr_on_plateau` are patiences in epochs (`zoo.runtime.callbacks`),
    used by `zoo.train` (a search adds its own). `loss` None is the task's own loss;
    otherwise one of the task's `loss_choices` (e.g. "mse" for a binary classifier).
    """

    epochs: int = 10
    batch_size: int = 32
    optimizer: str | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    lr_schedule: str = "constant"
    seed: int = 0
    jit_compile: bool | str = "auto"
    mixed_precision: str | None = None
    clipnorm: float | None = None
    early_stopping: int | None = None
    reduce_lr_on_plateau: int | None = None
    loss: str | None = None

    def resolved(self, spec: ModelSpec) -> "TrainConfig":
        """This config with the spec's optimizer and its learning rate where none is given;
        a loss the spec's task does not offer (`Task.check_loss`) is refused."""
        get_task(spec).check_loss(spec, self.loss)
        optimizer = spec.optimizer if self.optimizer is None else self.optimizer
        rate = self.learning_rate
        if rate is None:
            rate = spec.default_learning_rate(optimizer)
        return dataclasses.replace(self, optimizer=optimizer, learning_rate=rate)

    def check(self, replicas: int = 1, strategy: str = "default") -> None:
        """Refuse a setting before anything is read or written."""
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        if self.batch_size % replicas:
            raise ValueError(
                f"`batch_size` is the global batch, split evenly across the {replicas} "
                f"replicas of the {strategy} strategy, so it must be a multiple of "
                f"{replicas}. Received: batch_size={self.batch_size}")
        # A negative rate climbs the loss (to 1e9 in one epoch); NaN or inf ruins the weights.
        check_finite_number("learning_rate", self.learning_rate)
        if self.weight_decay is not None:
            check_finite_number("weight_decay", self.weight_decay, allow_zero=True)
        if self.clipnorm is not None:
            check_finite_number("clipnorm", self.clipnorm)
        for patience in ("early_stopping", "reduce_lr_on_plateau"):
            if getattr(self, patience) is not None:
                check_positive_int(patience, getattr(self, patience))
        make_optimizer(self.optimizer, 0.0)  # an unknown name fails before the run folder exists
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"`lr_schedule` must be one of {', '.join(map(repr, LR_SCHEDULES))}. "
                f"Received: lr_schedule={self.lr_schedule!r}")
        if self.reduce_lr_on_plateau is not None and self.lr_schedule != "constant":
            raise ValueError(
                f"`reduce_lr_on_plateau` lowers a constant learning rate; it cannot change the "
                f"{self.lr_schedule!r} schedule. Use one or the other. Received: "
                f"reduce_lr_on_plateau={self.reduce_lr_on_plateau}, "
                f"lr_schedule={self.lr_schedule!r}")
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(f"`jit_compile` must be True, False or 'auto'. "
                             f"Received: jit_compile={self.jit_compile!r}")

    def settings(self, spec: ModelSpec, plan: DataPlan) -> dict:
        """The run.json settings: what a rerun must match to resume."""
        settings = {
            "model": spec.name, "dataset": plan.dataset,
            "builder_args": jsonable(plan.builder_args),
            "data_options": jsonable(plan.data_options),
            "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "lr_schedule": self.lr_schedule,
            "optimizer": self.optimizer, "weight_decay": self.weight_decay, "seed": self.seed,
        }
        # Only when set, so runs from before these options still resume. The strategy
        # and replica count are not settings: a run may resume on other hardware with
        # the same global batch (they are recorded under "distribution").
        for name in ("mixed_precision", "clipnorm", "early_stopping", "reduce_lr_on_plateau",
                     "loss"):
            if getattr(self, name):
                settings[name] = getattr(self, name)
        if pipelines.get_source(plan.info.source).own:
            # A file or folder may change under its name: other data is another run.
            settings["data"] = plan.info.signature()
        return settings

    def callbacks(self, spec: ModelSpec) -> list:
        """Early stopping and rate reduction on the spec's monitor, when asked for."""
        return plateau_callbacks(spec.monitor, self.early_stopping, self.reduce_lr_on_plateau)


# --- the one fit path: zoo.train and every search trial ---

def build_for_training(spec: ModelSpec, plan: DataPlan, config: TrainConfig, replicas: int = 1):
    """The model, seeded, with the builder arguments its task trains with (e.g. a
    stateful model's fixed batch size); outputs float32 under mixed precision."""
    from zoo.runtime import precision

    args = get_task(spec).training_builder_args(spec, plan, config.batch_size, replicas)
    keras.utils.set_random_seed(config.seed)  # same initial weights for the same config
    model = spec.builder(**args)
    if config.mixed_precision:
        precision.float32_outputs(model)
    return model


def compile_for_training(model, spec: ModelSpec, config: TrainConfig, steps_per_epoch=None):
    """Compile with the config's optimizer, rate and schedule (the spec's loss and metrics).

    A cosine schedule needs `steps_per_epoch`: the step count lives in the
    optimizer state, so a resumed run continues the same curve.
    """
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, config.epochs * steps_per_epoch)
    return compile_model(model, spec, learning_rate=rate, optimizer=config.optimizer,
                         weight_decay=config.weight_decay, clipnorm=config.clipnorm,
                         jit_compile=config.jit_compile, loss=config.loss)


def training_data(plan: DataPlan, config: TrainConfig, static_shapes: bool = False):
    """Fresh, seeded training and validation pipelines (a pipeline reshuffles on each
    pass, so one is never reused across runs or trials). TPUs compile for static
    shapes: `static_shapes` drops the smaller last batch."""
    static = {"drop_remainder": True} if static_shapes else {}
    return tuple(plan.load(split, config.batch_size, seed=config.seed, **static)
                 for split in (plan.train_split, plan.validation_split))


def fit(model, spec: ModelSpec, plan: DataPlan, config: TrainConfig, train_ds, val_ds, *,
        callbacks=(), write_dir: Path | None = None, pretrain: bool = True,
        scope: Callable[[], Any] = contextlib.nullcontext, say=_silent, **fit_kwargs):
    """Fit `model` the way its task trains: the one fit of `zoo.train` and of every trial.

    A model not trained by gradient descent is fitted by its task and
    evaluated: the result is `{"val_loss": ...}`. Otherwise the task pre-trains
    it (when `pretrain`: a new run or trial), its callbacks go before
    `callbacks` (so values they log reach checkpoints and the history), and
    the result is `model.fit`'s History. `scope` is entered around the task's
    own fitting (a distribution strategy's); `write_dir` is the run folder (None
    in a search trial); `fit_kwargs` go to `model.fit` (epochs: the config's).
    """
    task = get_task(spec)
    train_ds, val_ds = repeat_targets(train_ds, model), repeat_targets(val_ds, model)
    with scope():
        fitted = task.fit_without_gradients(spec, model, plan, seed=config.seed)
        if fitted is not None:
            val_loss = float(model.evaluate(val_ds, verbose=0, return_dict=True)["loss"])
            say(f"Fitted {spec.name} without gradient descent: {jsonable(fitted)}; "
                f"val_loss {val_loss:.4f}")
            return {"val_loss": val_loss}
        if pretrain:
            pretrained = task.pretrain(spec, model, plan, seed=config.seed,
                                       batch_size=config.batch_size)
            if pretrained is not None:
                say(f"Pre-trained {spec.name}: {jsonable(pretrained)}")
    callbacks = [*task.training_callbacks(spec, model, plan, write_dir), *callbacks]
    fit_kwargs = {"epochs": config.epochs, **fit_kwargs}
    # The pipeline shuffles, seeded; Keras must not shuffle again.
    return model.fit(train_ds, validation_data=val_ds, callbacks=callbacks, shuffle=False,
                     **fit_kwargs)


# --- zoo.train: the one fit inside a run folder ---

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
        return self.run_dir / CHECKPOINTS["best"]


@dataclasses.dataclass(frozen=True)
class _Training:
    """One `zoo.train` call, its settings checked: what the run-folder steps share."""

    spec: ModelSpec
    plan: DataPlan
    config: TrainConfig
    dist: Any  # zoo.runtime.distribute.Distribution
    run: Run
    write_dir: Path  # the run folder on the chief; a temporary folder on other workers
    settings: dict
    distribution: dict
    verbose: int | str
    say: Callable
    extend_from: int | None = None  # a completed run continued: its epochs done

    @property
    def chief(self) -> bool:
        return self.write_dir == self.run.folder

    def scope(self):
        """The strategy's scope under the run's dtype policy."""
        from zoo.runtime import precision

        stack = contextlib.ExitStack()
        stack.enter_context(self.dist.strategy.scope())
        stack.enter_context(precision.dtype_policy(self.config.mixed_precision))
        return stack


def train(
    model_name: str, dataset: str | None = None, *, epochs: int = 10, batch_size: int = 32,
    learning_rate: float | None = None, optimizer: str | None = None,
    weight_decay: float | None = None, lr_schedule: str = "constant", seed: int = 0,
    overrides: Mapping[str, Any] | None = None, data_options: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike | None = None, runs_root: str | os.PathLike = RUNS_ROOT,
    callbacks: list | None = None, verbose: int | str = "auto", strategy: str = "auto",
    cpu_replicas: int | None = None, mixed_precision: bool = False, loss: str | None = None,
    jit_compile: bool | str = "auto", clipnorm: float | None = None,
    early_stopping: int | None = None, reduce_lr_on_plateau: int | None = None,
) -> TrainResult:
    """Train a registered model on a dataset, resumably, in a run folder (`zoo.runtime.run`).

    Args:
        model_name: A registered model (`zoo.list_models()`).
        dataset: A dataset name (default: the spec's own).
        epochs, batch_size, learning_rate, seed: Training settings. More epochs than a
            completed run of these settings had continue it from its final state.
        optimizer: Optimizer name (default: the spec's; see `zoo.registry.make_optimizer`).
            Without `learning_rate`, the spec's default rate for that optimizer is used.
        weight_decay: Decoupled weight decay (e.g. 1e-4 for ResNet with SGD).
        lr_schedule: "constant", or "cosine" to decay the learning rate to zero over
            the run (Loshchilov & Hutter 2017, without restarts).
        clipnorm: Clip each gradient to this L2 norm (Keras' optimizer `clipnorm`).
        early_stopping, reduce_lr_on_plateau: Patiences in epochs without a new best of
            the spec's monitor: stop (the run is completed), or halve a constant rate.
        loss: One of the task's `loss_choices`, instead of its own loss (e.g. "mse").
        overrides, data_options: Builder arguments (e.g. `{"depth": 3}`) and extra
            `pipelines.load` options (e.g. `{"gate": "xor"}`).
        run_dir: The run folder; default `runs_root/<model>-<dataset>/version_N`, the
            version holding these settings, else a new one (`_run_folder`); the dataset
            made one plain folder name (`zoo._common.safe_folder_name`).
        callbacks: Extra Keras callbacks.
        strategy: "auto", "default", "mirrored", "multiworker" or "tpu" (see
            `zoo.runtime.distribute`); the choice is printed. `batch_size` is the
            global batch, split evenly across the replicas.
        cpu_replicas: Split the CPU into this many logical devices first (for
            "mirrored" on a CPU-only machine; default $ZOO_CPU_REPLICAS or 1).
            Only possible before TensorFlow's first operation in the process.
        mixed_precision: Train under the "mixed_bfloat16" Keras policy ("mixed_float16"
            on GPU), outputs and losses kept float32.
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

    say = print if verbose else _silent  # the strategy first: before TF's first operation
    dist = distribute.make_strategy(strategy, cpu_replicas=cpu_replicas, say=say)
    spec = get_spec(model_name)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                         learning_rate=learning_rate, weight_decay=weight_decay,
                         lr_schedule=lr_schedule, seed=seed, jit_compile=jit_compile,
                         clipnorm=clipnorm, early_stopping=early_stopping, loss=loss,
                         mixed_precision=precision.mixed_policy_name() if mixed_precision else None,
                         reduce_lr_on_plateau=reduce_lr_on_plateau).resolved(spec)
    config.check(dist.replicas, dist.name)
    plan = plan_data(spec, dataset, overrides, data_options)
    settings = config.settings(spec, plan)
    run = _run_folder(run_dir, Path(runs_root) / f"{spec.name}-{safe_folder_name(plan.dataset)}",
                      settings, dist.name)
    completed, extend_from = _completed_run(run, run.check_settings(settings), epochs, say)
    if completed is not None:
        return TrainResult(completed, run.history(), run.folder, spec, plan, extend_from)
    # Only the chief writes the run folder; other workers write into a temporary one.
    write_dir = run.folder if dist.is_chief else Path(
        tempfile.mkdtemp(prefix=f"zoo-{dist.task_type}{dist.task_id}-"))
    job = _Training(spec, plan, config, dist, run, write_dir, settings,
                    {**dist.describe(), "jit_compile": jit_compile}, verbose, say, extend_from)
    with contextlib.ExitStack() as cleanup:
        if not job.chief:
            cleanup.callback(shutil.rmtree, write_dir, ignore_errors=True)
        return _train_run(job, list(callbacks or []))


def _run_folder(run_dir, group: Path, settings: dict, strategy: str) -> Run:
    """The run folder of these settings: `run_dir` when given (which must not be a group of
    version folders), else the version folder of `group` holding them (`versioned_folder`).

    A version matches when its settings do (`epochs` may differ: the run resumes or
    continues); a completed version must also have been trained under this strategy, as
    a new experiment, while an unfinished one resumes on whatever hardware is here. A
    `group` folder that is itself a run (written before version folders) is used when its
    settings match.
    """
    if run_dir is not None:
        folder = Path(run_dir)
        versions = version_folders(folder)
        if versions and not (folder / RUN_FILE).is_file():
            names = ", ".join(v.name for v in versions)
            raise ValueError(
                f"Run folder {folder} holds versioned runs ({names}), not one run. Give "
                f"--run-dir one version folder (e.g. {versions[-1]}) or a new folder, or "
                f"leave it out to get the version of these settings.")
        return Run(folder, resolve=False)
    legacy = Run(group, resolve=False)
    if legacy.exists() and not settings_differ(legacy.settings, settings):
        return legacy

    def holds_same(folder: Path) -> bool:
        run = Run(folder, resolve=False)
        if not run.exists() or settings_differ(run.settings, settings):
            return False
        trained = run.record().get("distribution", {}).get("strategy", strategy)
        return not run.is_completed() or trained == strategy

    return Run(versioned_folder(group, holds_same), resolve=False)


def _completed_run(run: Run, record: dict | None, epochs: int, say) -> tuple[Any, int | None]:
    """For a completed run: its final model when `epochs` asks for no more than it had
    (or it was fitted without gradients), else None; and its epochs done. For any other
    run: (None, None)."""
    if record is None or not run.is_completed():
        return None, None
    done = record.get("epochs_done", len(run.history()))
    if epochs > record["settings"]["epochs"] and not record.get("without_gradients"):
        return None, done  # to be continued
    say(f"Run {run.folder} is already complete ({_epochs(done)}{_trained_under(record)}); "
        "loading its model.")
    return load_model(run.folder / CHECKPOINTS["final"]), done


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"


def _trained_under(record: dict) -> str:
    """", trained under the mirrored strategy (2 replicas)" from a run.json ("" if unknown)."""
    dist = record.get("distribution")
    if not dist:
        return ""
    replicas = dist.get("replicas", 1)
    return (f", trained under the {dist.get('strategy')} strategy "
            f"({replicas} replica{'s' if replicas != 1 else ''})")


def _train_run(job: _Training, callbacks: list) -> TrainResult:
    """`train` once the settings are checked.

    The model, its data and its optimizer are made before the run folder is
    written, so a bad builder argument or data that cannot be loaded leaves
    nothing behind; a failure before the first epoch ends removes what a new
    run wrote.
    """
    run, spec, plan = job.run, job.spec, job.plan
    new_run = job.chief and not run.exists()
    model, train_ds, val_ds = _prepare_model(job)
    with run.removed_unless_an_epoch_finishes(new_run):
        run.folder.mkdir(parents=True, exist_ok=True)
        before = run.record() if run.exists() else {}
        if job.chief:
            if job.extend_from is not None:
                run.restore_backup_from_final(job.extend_from)
            run.write_record(job.settings, "running", job.distribution, monitor=spec.monitor)
            get_task(spec).run_files(spec, plan, run)
        resumed_from = run.finished_epochs()
        prior_rows = run.history()
        # Drop history rows newer than the backup: they will be recomputed.
        if job.chief and len(prior_rows) > resumed_from:
            run.write_history(prior_rows[:resumed_from])
        prior_rows = prior_rows[:resumed_from]
        job.say(f"Run folder: {run.folder} ({_progress_note(job, resumed_from, before)})")
        run_callbacks = _run_callbacks(job, prior_rows)
        # Before the backup, so that a lowered rate or a stop is in the epoch's backup.
        plateau = job.config.callbacks(spec)
        outcome = fit(model, spec, plan, job.config, train_ds, val_ds,
                      callbacks=[*plateau, *run_callbacks, *callbacks],
                      write_dir=job.write_dir, pretrain=not resumed_from, scope=job.scope,
                      say=job.say, verbose=job.verbose)
        if isinstance(outcome, dict):
            return _record_fit_without_gradients(job, model, outcome)
        # Without callbacks of the caller's (which may change the weights when training
        # ends), the final model is the last epoch's backup.
        checkpoint = run_callbacks[1] if not callbacks else None
        return _finish(job, model, prior_rows, checkpoint, _stopped_epoch(plateau))


def _progress_note(job: _Training, resumed_from: int, before: dict) -> str:
    """"new run", "resuming after epoch 3 ...", or "continuing the completed run ..."."""
    if job.extend_from is not None:
        return (f"continuing the completed run of {_epochs(job.extend_from)} to "
                f"{_epochs(job.config.epochs)}")
    if not resumed_from:
        return "new run"
    note = f"resuming after epoch {resumed_from}"
    trained = before.get("distribution", {})
    if trained and trained.get("strategy") != job.dist.name:
        note += (f"; started under the {trained.get('strategy')} strategy, now under "
                 f"{job.dist.name} with the same global batch")
    return note


def _stopped_epoch(callbacks: list) -> int | None:
    """The epoch an EarlyStopping among `callbacks` stopped training at (None: it did not)."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.stopped_epoch:
            return int(callback.stopped_epoch)
    return None


def _prepare_model(job: _Training):
    """The compiled model and its training and validation data, all made inside the
    strategy's scope (nothing is written)."""
    from zoo.runtime import distribute

    with job.scope():
        model = build_for_training(job.spec, job.plan, job.config, job.dist.replicas)
        train_ds, val_ds = training_data(job.plan, job.config, static_shapes=job.dist.name == "tpu")
        if pipelines.get_source(job.plan.info.source).in_memory:  # no files to shard by
            train_ds, val_ds = distribute.shard_by_data(train_ds), distribute.shard_by_data(val_ds)
        steps = _steps_per_epoch(train_ds) if job.config.lr_schedule == "cosine" else None
        compile_for_training(model, job.spec, job.config, steps)
    return model, train_ds, val_ds


def _run_callbacks(job: _Training, prior_rows: list[dict]) -> list:
    """The run folder's callbacks: backup, best checkpoint, CSV history, TensorBoard."""
    from zoo.runtime import distribute

    monitor, write_dir = job.spec.monitor, job.write_dir
    prior = [r[monitor] for r in prior_rows if monitor in r]
    # Every worker restores the chief's backup; the others save into write_dir.
    backup = distribute.worker_backup(  # deleted by _finish, once the final model is saved
        str(job.run.backup_dir), str(write_dir / "backup"), save_freq="epoch",
        delete_checkpoint=False, double_checkpoint=True,
    )
    # Saving once per epoch, its batch hook does nothing: Keras may then hand batch ends
    # to its background thread, as in a bare fit, instead of reading the logs after
    # every batch.
    backup.async_safe = True
    return [
        backup,
        BestCheckpoint(write_dir / CHECKPOINTS["best"], backup, monitor,
                       min(prior) if prior else None),
        keras.callbacks.CSVLogger(str(write_dir / "history.csv"), append=True),
        EpochTensorBoard(str(write_dir / "logs")),
    ]


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback writing once per epoch (no graph, no profile): its
    batch hooks, which would only count batches and write batch summaries that no
    writer takes, are Keras' empty defaults, so batch ends stay asynchronous."""

    on_train_batch_begin = keras.callbacks.Callback.on_train_batch_begin
    on_train_batch_end = keras.callbacks.Callback.on_train_batch_end
    on_test_batch_begin = keras.callbacks.Callback.on_test_batch_begin

    def __init__(self, log_dir: str):
        super().__init__(log_dir, write_graph=False, update_freq="epoch", profile_batch=0)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model when the monitored value reaches a new minimum (as Keras'
    `ModelCheckpoint(save_best_only=True, mode="min")`), at a fraction of the cost.

    `backup`, the run's BackupAndRestore callback placed before this one, has
    just written the epoch's weights (model and optimizer) in the layout of a
    `.keras` file's `model.weights.h5`. The first checkpoint is Keras' own
    `model.save`; later ones are that file's config.json with those weights
    (and fresh metadata), instead of a second pass over every variable. A model
    whose file holds anything else (assets) is always saved by `model.save`.
    """

    def __init__(self, path: Path, backup, monitor: str, threshold: float | None = None):
        super().__init__()
        self.path, self.backup, self.monitor = Path(path), backup, monitor
        self.best = float("inf") if threshold is None else threshold
        self._config: bytes | None = None
        self._reusable = True

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.",
                          stacklevel=2)
            return
        if not value < self.best:
            return
        self.best = float(value)
        if not self.save_from_backup(self.path):
            self._save(self.path)

    def save_from_backup(self, path: Path) -> bool:
        """Write the model as of the last backup to `path` without walking its variables,
        when that can be done (False: it cannot, nothing was written)."""
        weights = Path(self.backup._weights_path)
        if self._config is None or not self._reusable or not weights.is_file():
            return False
        self._zip(weights, path)
        return True

    def _save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            self.model.save(tmp)
            with zipfile.ZipFile(tmp) as archive:
                self._reusable = set(archive.namelist()) == set(_KERAS_FILE)
                self._config = archive.read("config.json")

    def _zip(self, weights: Path, path: Path) -> None:
        metadata = json.dumps({"keras_version": keras.__version__, "date_saved":
                               datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr("metadata.json", metadata)
            archive.writestr("config.json", self._config)
            archive.write(weights, "model.weights.h5")


# The members of a `.keras` file without assets.
_KERAS_FILE = ("metadata.json", "config.json", "model.weights.h5")


def _finish(job: _Training, model, prior_rows: list[dict],
            checkpoint: BestCheckpoint | None, stopped_epoch: int | None = None) -> TrainResult:
    """Save the final model (from the last backup when `checkpoint` can; it holds the
    optimizer state a longer rerun continues from), delete the backup, mark the run
    completed (with its epochs done and the epoch early stopping stopped at) and plot
    its curves; the history it wrote."""
    final = job.write_dir / CHECKPOINTS["final"]  # every worker saves; the chief's is kept
    if checkpoint is None or not checkpoint.save_from_backup(final):
        model.save(final)
    shutil.rmtree(job.write_dir / "backup", ignore_errors=True)
    if job.chief:
        history = job.run.history()
        extra = {"epochs_done": len(history), "monitor": job.spec.monitor}
        if stopped_epoch is not None:
            extra["stopped_epoch"] = stopped_epoch
        job.run.write_record(job.settings, "completed", job.distribution, **extra)
        _plot(job, history)
    else:  # the chief may still be writing its history: this worker's own rows
        history = prior_rows + read_history(job.write_dir / "history.csv")
    return TrainResult(model, history, job.run.folder, job.spec, job.plan, len(prior_rows))


def _record_fit_without_gradients(job: _Training, model, outcome: dict) -> TrainResult:
    """A model fitted without gradient descent: one epoch, with its validation loss."""
    row = {"epoch": 0, **outcome}
    if job.chief:
        job.run.write_history([row])
        model.save(job.run.folder / CHECKPOINTS["best"])
        model.save(job.run.folder / CHECKPOINTS["final"])
        job.run.write_record(job.settings, "completed", epochs_done=1, without_gradients=True,
                             monitor=job.spec.monitor)
        _plot(job, [row])
    return TrainResult(model, [row], job.run.folder, job.spec, job.plan)


def _plot(job: _Training, history: list[dict]) -> None:
    """The run's curves.png: loss and metrics against epoch, training and validation."""
    from zoo.images import save_curves

    if history:
        save_curves(history, job.run.curves_file, f"{job.spec.name} on {job.plan.dataset}")


def _steps_per_epoch(ds) -> int:
    steps = int(ds.cardinality())
    if steps < 0:  # unknown or infinite: count one pass
        steps = sum(1 for _ in ds)
    return max(steps, 1)
