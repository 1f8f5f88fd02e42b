"""Keras callbacks that `zoo train` and `zoo tune` add on request: stop early, lower the rate.

Both watch the run's monitored value (the spec's `monitor`, `val_loss` for most
models; a search's objective), so `--early-stopping 5` means the same thing in a
run and in a trial.
"""

from __future__ import annotations

from zoo._common import check_positive_int

# ReduceLROnPlateau's factor: the rate is halved after `patience` epochs without progress.
PLATEAU_FACTOR = 0.5


def plateau_callbacks(monitor: str, early_stopping: int | None = None,
                      reduce_lr_on_plateau: int | None = None, mode: str = "min") -> list:
    """`EarlyStopping(patience=early_stopping)` and `ReduceLROnPlateau(patience=...)` on
    `monitor`, each only when its patience is given (an integer >= 1). `mode` is "max"
    for a monitored value that improves upwards (a search's `val_accuracy` objective).

    Example:
        >>> [type(c).__name__ for c in plateau_callbacks("val_loss", 5, 2)]
        ['EarlyStopping', 'ReduceLROnPlateau']
    """
    import keras

    callbacks = []
    if early_stopping is not None:
        check_positive_int("early_stopping", early_stopping)
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=early_stopping,
                                                       mode=mode))
    if reduce_lr_on_plateau is not None:
        check_positive_int("reduce_lr_on_plateau", reduce_lr_on_plateau)
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, patience=reduce_lr_on_plateau, factor=PLATEAU_FACTOR, mode=mode))
    return callbacks
