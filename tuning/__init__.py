"""Keras Tuner search over the registered models.

The architecture choices are each model's own search space (beside its
builder in `zoo/`); this package adds the shared training choices (learning
rate, batch size), runs the tuner resumably and writes a results table.

    >>> import tuning
    >>> result = tuning.search("mlp", "digits", tuner="random", max_trials=5, epochs=3)
    >>> print(result.table)
    >>> result.best_builder_args["depth"]
"""

from tuning.best import (BestModel, check_export_options, check_plateau_schedule, export_best,
                         train_best)
from tuning.hypermodel import ZooHyperModel, check_search_space, training_space
from tuning.results import format_table, read_table
from tuning.search import SearchFailedError, SearchResult, search
from tuning.tuners import TUNERS

__all__ = [
    "BestModel",
    "SearchFailedError",
    "SearchResult",
    "TUNERS",
    "ZooHyperModel",
    "check_export_options",
    "check_plateau_schedule",
    "check_search_space",
    "export_best",
    "format_table",
    "read_table",
    "search",
    "train_best",
    "training_space",
]
