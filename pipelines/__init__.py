"""tf.data input pipelines for built-in offline data and the TFDS catalog.

    >>> import pipelines
    >>> pipelines.list_datasets()
    ['adding_problem', 'blobs_4d3c', 'csv_series', 'digit_reversal', 'digits', 'gates',
     'iris', 'linear_1d', 'logistic_2d', 'synthetic_series', 'temporal_order']
    >>> ds = pipelines.load("digits", "train", batch_size=64, seed=0)
"""

from pipelines.core import get_info, list_datasets, load, load_arrays, preprocessor
from pipelines.info import DatasetInfo, OptionError
from pipelines.tfds_source import DatasetUnavailableError

__all__ = [
    "DatasetInfo",
    "DatasetUnavailableError",
    "OptionError",
    "get_info",
    "list_datasets",
    "load",
    "load_arrays",
    "preprocessor",
]
