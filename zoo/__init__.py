"""modelzoo: registered Keras 3 model builders with search spaces and exports.

    >>> import zoo
    >>> zoo.list_models("*regression")
    ['linear_regression', 'logistic_regression', 'softmax_regression']
    >>> model = zoo.build("lenet5", classes=10)
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo.registry import (  # noqa: E402
    ArgumentError,
    ModelSpec,
    UnknownModelError,
    build,
    get_spec,
    list_models,
    register_model,
)

__all__ = [
    "ArgumentError",
    "ModelSpec",
    "UnknownModelError",
    "build",
    "compile_model",
    "evaluate",
    "get_spec",
    "list_models",
    "register_model",
    "export",
    "export_run",
    "load_model",
    "train",
]
__version__ = "0.1.0"


def __getattr__(name):
    # Training and export pull in TensorFlow-heavy modules; load them lazily.
    if name == "export":
        from zoo.runtime.exporter import export

        return export
    if name == "evaluate":
        from zoo.runtime.evaluate import evaluate

        return evaluate
    if name == "export_run":
        from zoo.runtime.exporter import export_run

        return export_run
    if name == "train":
        from zoo.runtime.training import train

        return train
    if name == "compile_model":
        from zoo.tasks import compile_model

        return compile_model
    if name == "load_model":
        from zoo.runtime.run import load_model

        return load_model
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
