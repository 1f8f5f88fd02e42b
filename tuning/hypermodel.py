"""The Keras Tuner hypermodel of a registered model, and the shared training space.

The architecture choices come from the spec's own search space, which sits
beside its builder in `zoo/`; this module adds only the training choices
every model shares (learning rate, batch size) and the checks that make a bad
space fail before any trial starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import keras
import keras_tuner
import numpy as np
from keras_tuner.src.engine import tuner_utils

from zoo.registry import ModelSpec
from zoo.runtime import training
from zoo.runtime.plan import DataPlan
from zoo.runtime.training import TrainConfig

def batch_size_choices(batch_size: int) -> list[int]:
    """Half, the given and twice the given batch size."""
    return sorted({max(1, batch_size // 2), batch_size, batch_size * 2})


def training_space(hp, learning_rates: Mapping[str, float], batch_size: int):
    """The shared training choices, centred on the given defaults.

    Args:
        hp: A `keras_tuner.HyperParameters`.
        learning_rates: Optimizer name -> its default learning rate, the
            default optimizer first (`ModelSpec.learning_rates`). With one
            optimizer the space has `learning_rate`; with several it has an
            `optimizer` choice and, active only for that choice, a
            `<optimizer>_learning_rate` for each. Each spans a factor of ten
            either side of its default, sampled on a log scale.
        batch_size: The default batch size; half and twice it are tried too.

    Returns:
        `(optimizer, learning_rate, batch_size)` for this trial.
    """
    names = list(learning_rates)
    if len(names) == 1:
        optimizer, rate = names[0], _rate(hp, "learning_rate", learning_rates[names[0]])
    else:
        optimizer = hp.Choice("optimizer", names, default=names[0])
        for name in names:
            with hp.conditional_scope("optimizer", [name]):
                value = _rate(hp, f"{name}_learning_rate", learning_rates[name])
            if name == optimizer:
                rate = value
    batch = hp.Choice("batch_size", batch_size_choices(batch_size), default=batch_size)
    return optimizer, rate, batch


def _rate(hp, name: str, default: float):
    return hp.Float(name, default / 10, default * 10, sampling="log", default=default)


def training_names(spec: ModelSpec) -> list[str]:
    """Hyperparameter names of the shared training space for `spec`."""
    hp = keras_tuner.HyperParameters()
    training_space(hp, spec.learning_rates, 1)
    return [p.name for p in hp.space]


class ZooHyperModel(keras_tuner.HyperModel):
    """A registered model as a `keras_tuner.HyperModel`.

    A trial is trained exactly as `zoo.train` trains, through the same
    functions of `zoo.runtime.training` and one `TrainConfig` (the trial's
    optimizer, learning rate and batch size). `build(hp)` merges the spec's
    search-space choices over the data plan's builder arguments, builds and
    compiles; `fit(hp, model, **kwargs)` trains on the plan's training and
    validation splits, from pipelines built afresh for each trial: a pipeline reshuffles on each
    pass, so one reused across trials would give a trial a data order that
    depends on the trials run before it in the same process. With the seed
    set in `build`, the same trial gets the same weights and data order
    whatever ran before it, and a resumed search reproduces its scores.

    Args:
        spec: The model's `ModelSpec`.
        plan: The `DataPlan` agreed between the model and the dataset.
        batch_size: Default batch size of the training space.
        seed: Seeds weight initialization and data shuffling of every trial.

    Example:
        >>> spec = zoo.get_spec("mlp")
        >>> hypermodel = ZooHyperModel(spec, zoo.runtime.plan.plan_data(spec, "digits"))
        >>> model = hypermodel.build(keras_tuner.HyperParameters())
    """

    def __init__(self, spec: ModelSpec, plan: DataPlan, *, batch_size: int = 32, seed: int = 0):
        super().__init__(name=spec.name)
        self.spec = spec
        self.plan = plan
        self.batch_size = batch_size
        self.seed = seed

    def architecture_args(self, hp) -> dict:
        """The builder arguments the spec's search space chooses (may be empty)."""
        if self.spec.search_space is None:
            return {}
        return dict(self.spec.search_space(hp) or {})

    def builder_args(self, hp) -> dict:
        """Full builder arguments: the plan's, with the space's choices over them."""
        return {**self.plan.builder_args, **self.architecture_args(hp)}

    def training_choices(self, hp) -> tuple[str, float, int]:
        """`(optimizer, learning_rate, batch_size)` of this trial."""
        return training_space(hp, self.spec.learning_rates, self.batch_size)

    def declared_names(self) -> list[str]:
        """Hyperparameter names in declaration order: the model's, then the training ones."""
        hp = keras_tuner.HyperParameters()
        self.architecture_args(hp)
        self.training_choices(hp)
        return [p.name for p in hp.space]

    def trial_config(self, hp) -> TrainConfig:
        """The trial's training config: its optimizer, learning rate and batch size."""
        optimizer, learning_rate, batch_size = self.training_choices(hp)
        return TrainConfig(batch_size=batch_size, optimizer=optimizer,
                           learning_rate=learning_rate, seed=self.seed)

    def trial_plan(self, hp) -> DataPlan:
        """The data plan with the trial's builder arguments."""
        return dataclasses.replace(self.plan, builder_args=self.builder_args(hp))

    def build(self, hp):
        config = self.trial_config(hp)
        model = training.build_for_training(self.spec, self.trial_plan(hp), config)
        training.compile_for_training(model, self.spec, config)
        # Hyperband continues a trial from another's checkpoint: with the optimizer
        # built, its slots are restored too instead of skipped with a warning.
        model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Train a trial the way `zoo.train` trains (`zoo.runtime.training.fit`), on
        pipelines built afresh; `kwargs` (epochs, callbacks, ...) come from Keras Tuner."""
        if args:
            raise TypeError(
                f"{type(self).__name__}.fit() takes its data from the data plan; "
                f"pass no positional arguments. Received {len(args)}."
            )
        config, plan = self.trial_config(hp), self.trial_plan(hp)
        train, validation = training.training_data(plan, config)
        callbacks = [_for_trial(c) for c in kwargs.pop("callbacks", ())]
        # A Hyperband trial that continues another's checkpoint (`tuner/trial_id`) already
        # holds fine-tuned weights: pre-training them again would overwrite them.
        return training.fit(model, self.spec, plan, config, train, validation,
                            callbacks=callbacks, pretrain="tuner/trial_id" not in hp.values,
                            **kwargs)

    def check_data(self) -> None:
        """Build the training and validation pipelines once, before any trial.

        Data that cannot be loaded (e.g. a TFDS dataset not prepared, offline)
        then fails the search at once with `zoo.train`'s error, instead of
        failing every trial.
        """
        training.training_data(self.plan, TrainConfig(batch_size=self.batch_size, seed=self.seed))


def _for_trial(callback):
    """Keras Tuner's callbacks of a trial, made as cheap as a bare fit's: its best-epoch
    checkpoint written once (`BestEpochAtEnd`), and its `TunerCallback`, which forwards
    every batch to the tuner's batch hooks, marked safe to run off the training thread
    when those hooks are Keras Tuner's empty ones (Keras otherwise reads the logs after
    every batch)."""
    if isinstance(callback, tuner_utils.SaveBestEpoch):
        return BestEpochAtEnd(callback)
    if isinstance(callback, tuner_utils.TunerCallback) and all(
            getattr(type(callback.tuner), hook) is getattr(keras_tuner.Tuner, hook)
            for hook in ("on_batch_begin", "on_batch_end")):
        callback.async_safe = True
    return callback


class BestEpochAtEnd(keras.callbacks.Callback):
    """Keras Tuner's best-epoch checkpoint of a trial (`SaveBestEpoch`), written once,
    when the trial's fit ends, instead of at every better epoch.

    The best epoch's variables (model and optimizer) are copied in memory until
    then, a fraction of a file write. Nothing is lost: a trial that does not
    finish is run again from its start, and its checkpoint is read only after.
    """

    def __init__(self, checkpoint):
        super().__init__()
        self.checkpoint = checkpoint  # holds the objective, the file and the best value so far
        self._best: list | None = None

    def _variables(self) -> list:
        return [*self.model.variables, *self.model.optimizer.variables]

    def on_epoch_end(self, epoch, logs=None):
        objective = self.checkpoint.objective
        if objective.has_value(logs):  # else (a metric computed after fit): every epoch
            value = objective.get_value(logs)
            if not objective.better_than(value, self.checkpoint.best_value):
                return
            self.checkpoint.best_value = value
        self._best = [np.array(v) for v in self._variables()]

    def on_train_end(self, logs=None):
        if self._best is None:
            return
        variables = self._variables()
        current = [np.array(v) for v in variables]
        for variable, value in zip(variables, self._best):
            variable.assign(value)
        self.model.save_weights(self.checkpoint.filepath)
        for variable, value in zip(variables, current):
            variable.assign(value)


def check_search_space(
    hypermodel: ZooHyperModel,
    overrides: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> keras_tuner.HyperParameters:
    """Fail early, with the value received, on a space that cannot be searched.

    Runs the spec's search space on fresh `HyperParameters`, checks that it
    returns builder arguments the caller did not fix with `overrides`, that
    every `fixed` name is in the space with an allowed value, and builds the
    model once with the default values (and the fixed ones).

    Returns:
        `HyperParameters` holding the `fixed` values as `Fixed` entries, to
        register with the tuner before its search space is populated.

    Raises:
        ValueError: naming the model and the problem.
    """
    spec = hypermodel.spec
    hp = keras_tuner.HyperParameters()
    _check_space_choices(spec, hp, overrides)
    hypermodel.training_choices(hp)
    fixed_hp = _fixed_hyperparameters(spec, {p.name: p for p in hp.space}, dict(fixed or {}))
    try:
        hypermodel.build(fixed_hp.copy())
    except Exception as e:
        raise ValueError(
            f"Invalid search space for {spec.name!r}: the model does not build with the "
            f"default hyperparameter values"
            f"{' and the fixed ones' if fixed else ''}: {e}"
        ) from e
    finally:
        keras.backend.clear_session()
    return fixed_hp


def _check_space_choices(spec: ModelSpec, hp, overrides) -> None:
    """Run the spec's search space on `hp`: it must choose known builder arguments,
    none of the shared training ones and none that `overrides` fix."""
    prefix = f"Invalid search space for {spec.name!r}:"
    try:
        space = spec.search_space(hp) if spec.search_space is not None else None
    except Exception as e:  # KT rejects e.g. a default outside its Choice values
        raise ValueError(f"{prefix} {e}") from e
    if space is None:
        space = {}
    if not isinstance(space, Mapping):
        raise ValueError(
            f"{prefix} it must return a dict of builder arguments (or None). "
            f"Received: {type(space).__name__}"
        )
    unknown = sorted(set(space) - set(spec.defaults))
    if unknown:
        raise ValueError(
            f"{prefix} unknown builder argument(s) {', '.join(unknown)}. "
            f"Accepted arguments: {', '.join(sorted(spec.defaults))}."
        )
    reserved = sorted(set(hp.values) & set(training_names(spec)))
    if reserved:
        raise ValueError(
            f"{prefix} {', '.join(reserved)} belong(s) to the shared training space; "
            f"a model's space chooses builder arguments only."
        )
    clash = sorted(set(space) & set(overrides or {}))
    if clash:
        raise ValueError(
            f"{prefix} overrides set {', '.join(clash)}, which the search space chooses. "
            f"Fix a searched value with `fixed` instead."
        )


def _fixed_hyperparameters(spec: ModelSpec, entries: dict, fixed: dict):
    """`HyperParameters` holding the `fixed` values, each checked against its entry."""
    unknown = sorted(set(fixed) - set(entries))
    if unknown:
        raise ValueError(
            f"Invalid fixed hyperparameter(s) for {spec.name!r}: {', '.join(unknown)}. "
            f"Hyperparameters in the search space: {', '.join(entries)}."
        )
    fixed_hp = keras_tuner.HyperParameters()
    for name, value in fixed.items():
        allowed = _allowed_values(entries[name], value)
        if allowed is not None:
            raise ValueError(
                f"Invalid fixed value for {spec.name!r}: `{name}` must be {allowed}. "
                f"Received: {name}={value!r}"
            )
        fixed_hp.Fixed(name, value)
    return fixed_hp


def _allowed_values(entry, value) -> str | None:
    """None when `value` is allowed for the hyperparameter `entry`, else what is."""
    kind = type(entry).__name__
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "Boolean":
        return None if isinstance(value, bool) else "True or False"
    if kind in ("Choice", "Fixed"):
        values = list(entry.values)
        same = any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in values)
        return None if same else "one of " + ", ".join(repr(v) for v in values)
    if kind == "Int":
        step = entry.step if entry.step is not None else 1
        where = f"an integer in [{entry.min_value}, {entry.max_value}]"
        if step != 1:
            where += _step_text(entry)
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and entry.min_value <= value <= entry.max_value
        if ok and step != 1:
            ok = _on_grid(entry, value)
        return None if ok else where
    if kind == "Float":
        where = f"a float in [{entry.min_value:g}, {entry.max_value:g}]"
        ok = is_number and entry.min_value <= value <= entry.max_value
        if entry.step is not None:
            where += _step_text(entry)
            ok = ok and _on_grid(entry, value)
        return None if ok else where
    return None  # an unknown kind: let Keras Tuner judge


def _step_text(entry) -> str:
    if entry.sampling == "linear":
        return f" on steps of {entry.step:g}"
    return f" on its {entry.sampling} grid of step {entry.step:g}"


def _on_grid(entry, value) -> bool:
    """Whether `value` is one of the values a stepped Int/Float can take."""
    low, high, step = entry.min_value, entry.max_value, entry.step
    if entry.sampling == "linear":
        index = (value - low) / step
    elif entry.sampling == "log":
        index = math.log(value / low, step)
    else:  # reverse_log
        index = math.log((high - value + low) / low, step)
    return math.isclose(index, round(index), abs_tol=1e-6)
