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
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pipelines
from zoo._common import check_finite_number, check_positive_int, jsonable, safe_folder_name
from zoo.registry import ModelSpec, compile_model, get_spec, make_optimizer, repeat_targets
from zoo.runtime.names import LR_SCHEDULES, RUNS_ROOT
from zoo.runtime.plan import DataPlan, plan_data
from zoo.tasks import get_task
from zoo.runtime.run import (VOCABULARY_FILE, _backup_epoch, _previous_run_completed,
    _removed_unless_an_epoch_finishes, _rewrite_history, _write_json, load_model,
    read_history)


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
    runs_root: str | os.PathLike = RUNS_ROOT,
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
            task = get_task(spec)
            if not task.trained_by_gradients:
                return _fit_without_gradients(model, spec, plan, val_ds, run_dir, settings,
                                              seed, say, chief)
            pretrained = None if resumed_from else task.pretrain(spec, model, plan, seed=seed,
                                                                 batch_size=batch_size)
            if pretrained is not None:
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
        if pipelines.get_source(plan.info.source).in_memory:  # no files to shard by
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
        *get_task(spec).training_callbacks(spec, model, plan, write_dir),
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


def _fit_without_gradients(model, spec, plan, val_ds, run_dir, settings, seed, say, chief=True):
    """Train a model whose spec has a `fit` function (e.g. counts + SVD): one fit on
    the training split, recorded as one epoch with its validation loss."""
    fitted = get_task(spec).fit_without_gradients(spec, model, plan, seed=seed)
    row = {"epoch": 0, "val_loss": float(model.evaluate(val_ds, verbose=0, return_dict=True)["loss"])}
    say(f"Fitted {spec.name} without gradient descent: {jsonable(fitted)}; val_loss {row['val_loss']:.4f}")
    if not chief:
        return TrainResult(model, [row], run_dir, spec, plan)
    _rewrite_history(run_dir / "history.csv", [row])
    model.save(run_dir / "best.keras")
    model.save(run_dir / "model.keras")
    _write_json(run_dir / "run.json", {"settings": settings, "status": "completed"})
    return TrainResult(model, [row], run_dir, spec, plan)



def _steps_per_epoch(ds) -> int:
    steps = int(ds.cardinality())
    if steps < 0:  # unknown or infinite: count one pass
        steps = sum(1 for _ in ds)
    return max(steps, 1)
