"""The model registry: one `ModelSpec` per registered builder.

A builder is a plain function returning a `keras.Model`. It is registered
where it is defined with `@register_model(...)`, under its own function name,
so the name is written once. The spec carries everything the rest of the
project needs to know about the model without building it: its task (which
picks the default loss, metrics and optimizer), its data contract, its
Keras Tuner search space and the paper it follows.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import importlib
import inspect
from typing import Any, Callable, Mapping


class ArgumentError(TypeError):
    """Raised for a builder argument that the builder does not take."""


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text.
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything known about a registered model without building it.

    Attributes:
        name: Registry key, the builder function's name.
        family: Architecture family (one module per family under `zoo/`).
        task: The name of its task: the task object (`zoo.tasks.get_task`) owns the
            default loss, metrics and output name, and trains, exports and tests it.
        builder: The plain function returning a `keras.Model`, called with the flat
            arguments of `defaults` (`flat_builder`: a grouped argument's fields are
            arguments of their own).
        defaults: The builder's keyword defaults, read from its signature; a
            parameter whose default is a dataclass (a family's grouped arguments,
            e.g. `convnet`'s `ConvStack`) gives its fields instead.
        search_space: `fn(hp: keras_tuner.HyperParameters) -> dict` of builder
            arguments, or None when the model has nothing to search.
        reference: The paper or source the architecture follows.
        optimizer: Default optimizer (a Keras identifier, or "momentum" for
            SGD with momentum 0.9; see `make_optimizer`).
        learning_rate: Default learning rate for that optimizer.
        alternative_optimizers: Other optimizers a search may pick, each with
            its own default learning rate (e.g. `{"momentum": 0.1}`).
        loss: The model's own loss identifier, over its task's (None: the task's;
            `zoo.tasks.Task.loss_for`).
        metrics: The model's own metric identifiers, over its task's (None: the task's).
        dataset: The built-in dataset it is classically taught with, used by
            `zoo train` when no `--data` is given; None when it has none (the
            ImageNet models: `zoo train` then needs `--data`).
        dataset_options: Options passed to `pipelines.load` for that dataset.
        test_args: Builder overrides for a small, fast instance in tests.
        test_dataset: The dataset the test harness trains that instance on:
            `dataset`, unless the model has none (ImageNet models use digits).
        output_name: Name of the output tensor in serving signatures (None: the task's).
        input_normalization: How images are normalized for this model, read
            by `pipelines`: "unit" ([0, 1]), "symmetric" ([-1, 1], for tanh
            generators) or "caffe" (keras.applications ResNet/VGG: BGR,
            ImageNet means subtracted).
        large: Too big to train and export in the default test run; the test
            harness checks it in the slow suite (`pytest -m slow`).
        monitor: The logged quantity checkpoints and searches minimize.
    """

    name: str
    family: str
    task: str
    builder: Callable[..., Any]
    defaults: Mapping[str, Any]
    search_space: Callable[[Any], dict] | None
    reference: str
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    alternative_optimizers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    loss: str | None = None
    metrics: tuple[str, ...] | None = None
    dataset: str | None = None
    dataset_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    test_args: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    test_dataset: str | None = None
    output_name: str | None = None
    input_normalization: str = "unit"
    large: bool = False
    monitor: str = "val_loss"

    @property
    def summary(self) -> str:
        """First line of the builder's docstring."""
        doc = inspect.getdoc(self.builder) or ""
        return doc.splitlines()[0] if doc else ""

    def default_learning_rate(self, optimizer: str | None = None) -> float:
        """The learning rate used when none is given, for `optimizer` (default: the
        spec's): its own rate for the spec's optimizer or a searchable alternative,
        else the spec's `learning_rate`. The one place this default is decided."""
        rates = {self.optimizer: self.learning_rate, **self.alternative_optimizers}
        return rates.get(self.optimizer if optimizer is None else optimizer, self.learning_rate)

    @property
    def learning_rates(self) -> dict[str, float]:
        """Default learning rate of each optimizer, the spec's default first."""
        return {name: self.default_learning_rate(name)
                for name in (self.optimizer, *self.alternative_optimizers)}

    def resolve_args(self, overrides: Mapping[str, Any] | None = None) -> dict:
        """Defaults merged with `overrides`, after checking every name."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            accepted = ", ".join(sorted(self.defaults))
            close = list(dict.fromkeys(  # each suggestion once, in order
                m for u in unknown for m in difflib.get_close_matches(u, list(self.defaults), n=1)
            ))
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ArgumentError(
                f"{self.name}() got unexpected argument(s) {', '.join(unknown)}.{hint} "
                f"Accepted arguments: {accepted}."
            )
        return {**self.defaults, **overrides}


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    *,
    family: str,
    task: str,
    reference: str,
    search_space: Callable[[Any], dict] | None = None,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    alternative_optimizers: Mapping[str, float] | None = None,
    loss: str | None = None,
    metrics: tuple[str, ...] | None = None,
    dataset: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    test_args: Mapping[str, Any] | None = None,
    test_dataset: str | None = None,
    output_name: str | None = None,
    input_normalization: str = "unit",
    large: bool = False,
    monitor: str = "val_loss",
):
    """Decorator registering a builder under its function name.

    Every builder argument must be keyword-with-default, so that
    `zoo.build(name)` works with no arguments at all.
    """
    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"Model {name!r} is registered twice.")
        defaults = flat_defaults(builder)
        spec = ModelSpec(
            name=name,
            family=family,
            task=task,
            builder=flat_builder(builder),
            defaults=defaults,
            search_space=search_space,
            reference=reference,
            optimizer=optimizer,
            learning_rate=learning_rate,
            alternative_optimizers=dict(alternative_optimizers or {}),
            loss=loss,
            metrics=None if metrics is None else tuple(metrics),
            dataset=dataset,
            dataset_options=dict(dataset_options or {}),
            test_args=dict(test_args or {}),
            test_dataset=test_dataset or dataset,
            output_name=output_name,
            input_normalization=input_normalization,
            large=large,
            monitor=monitor,
        )
        unknown = set(spec.test_args) - set(defaults)
        if unknown:
            raise TypeError(f"{name}: test_args names unknown arguments {sorted(unknown)}.")
        _REGISTRY[name] = spec
        return builder

    return decorate


def _is_group(default) -> bool:
    """A parameter default that groups arguments: a dataclass instance."""
    return dataclasses.is_dataclass(default) and not isinstance(default, type)


def _groups(builder) -> dict[str, Any]:
    """The builder's grouped arguments: parameter name -> its dataclass default."""
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if _is_group(p.default)}


def flat_defaults(builder) -> dict[str, Any]:
    """The builder's keyword defaults, a grouped argument's fields in its place.

    Every argument needs a default (so `zoo.build(name)` works with none at all), and
    every name is an argument once.
    """
    defaults: dict[str, Any] = {}
    params = inspect.signature(builder).parameters
    for param in params.values():
        if param.default is inspect.Parameter.empty:
            raise TypeError(
                f"Builder {builder.__name__}() argument {param.name!r} needs a default value.")
        if not _is_group(param.default):
            defaults[param.name] = param.default
            continue
        for field in dataclasses.fields(param.default):
            if field.name in params or field.name in defaults:
                raise TypeError(f"Builder {builder.__name__}(): {param.name}.{field.name} is "
                                f"named like another argument.")
            defaults[field.name] = getattr(param.default, field.name)
    return defaults


def flat_builder(builder: Callable[..., Any]) -> Callable[..., Any]:
    """`builder` taking flat keyword arguments (`flat_defaults`): the fields of each
    grouped argument go into a copy of its default (`dataclasses.replace`). A builder
    without groups is returned as it is."""
    groups = _groups(builder)
    if not groups:
        return builder

    fields = {group: {f.name for f in dataclasses.fields(d)} for group, d in groups.items()}

    @functools.wraps(builder)
    def flat(**args):
        for group, default in groups.items():
            args[group] = dataclasses.replace(
                default, **{k: args.pop(k) for k in list(args) if k in fields[group]})
        return builder(**args)

    flat.__signature__ = inspect.Signature([
        inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
        for k, v in flat_defaults(builder).items()])
    return flat


# The package whose modules hold the registered builders. It is imported by name,
# as plugins are: the registry sits below the models and never imports them.
MODELS_PACKAGE = "zoo.models"


def _ensure_models_imported() -> None:
    """Import every family module (`zoo.models.import_all`), which registers its builders."""
    importlib.import_module(MODELS_PACKAGE)


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registered model names, optionally filtered by an fnmatch pattern.

    Example:
        >>> zoo.list_models("*regression")
        ['linear_regression', 'logistic_regression', 'softmax_regression']
    """
    _ensure_models_imported()
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` registered under `name`.

    Raises:
        UnknownModelError: listing the closest registered names.
    """
    _ensure_models_imported()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_model_error(name, list(_REGISTRY)) from None


def unknown_model_error(name: str, registered: list[str]) -> UnknownModelError:
    """The error for an unregistered `name`: the closest of the `registered` names, or
    all of them (also used by `zoo.catalog`, which answers without the registry)."""
    close = closest_names(str(name), registered)
    hint = (
        f"Did you mean: {', '.join(close)}?"
        if close
        else f"Registered models: {', '.join(sorted(registered))}."
    )
    return UnknownModelError(f"Unknown model {name!r}. {hint}")


def closest_names(name: str, candidates: list[str], cutoff: float = 0.7) -> list[str]:
    """Up to three close names: those about as similar as the best one (the suggestions of
    every "Unknown ..." error: models, claims)."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in candidates), reverse=True
    )
    if not scored or scored[0][0] < cutoff:
        return []
    best = scored[0][0]
    return [c for ratio, c in scored[:3] if ratio >= max(cutoff, best - 0.05)]


def build(name: str, **overrides: Any):
    """Build the registered model `name` with its defaults and `overrides`.

    Example:
        >>> model = zoo.build("lenet5", classes=10)
        >>> model.count_params()
        61706
    """
    spec = get_spec(name)
    return spec.builder(**spec.resolve_args(overrides))


# Optimizer names beyond Keras' own identifiers: name -> (Keras identifier, arguments).
OPTIMIZER_ALIASES = {
    "momentum": ("sgd", {"momentum": 0.9}),
    # Adam with beta_1 = 0.5, which Radford et al. 2015 found to stabilise GAN training.
    "gan_adam": ("adam", {"beta_1": 0.5}),
}


def make_optimizer(name: str, learning_rate, weight_decay: float | None = None,
                   clipnorm: float | None = None):
    """A fresh optimizer: a Keras identifier ("adam", "sgd", "adamw", "rmsprop", ...)
    or "momentum", SGD with momentum 0.9 as in the AlexNet, VGG and ResNet papers,
    or "gan_adam", Adam with beta_1 0.5 as in DCGAN (Radford et al. 2015).

    `weight_decay` is Keras' decoupled decay (each step subtracts
    `learning_rate * weight_decay * w`), which for plain SGD equals an L2
    penalty of `weight_decay / 2 * |w|^2`. `clipnorm` clips each gradient to that
    L2 norm before the update (Keras' own `clipnorm`).
    """
    import keras

    base, extra = OPTIMIZER_ALIASES.get(name, (name, {}))
    try:
        optimizer_class = type(keras.optimizers.get(base))
    except ValueError:
        raise ValueError(
            f"Unknown optimizer {name!r}. Expected a Keras optimizer name (e.g. adam, "
            f"adamw, sgd, rmsprop) or one of: {', '.join(OPTIMIZER_ALIASES)}."
        ) from None
    if weight_decay is not None:
        extra = {**extra, "weight_decay": weight_decay}
    if clipnorm is not None:
        extra = {**extra, "clipnorm": clipnorm}
    return optimizer_class(learning_rate=learning_rate, **extra)


def repeat_targets(ds, model):
    """Feed one target to every output of a multi-output model: (x, y) -> (x, (y, y, ...))."""
    n_outputs = len(model.outputs)
    if n_outputs == 1:
        return ds
    return ds.map(lambda x, y: (x, tuple(y for _ in range(n_outputs))))
