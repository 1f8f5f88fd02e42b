"""tf.data input pipelines for built-in offline data, text corpora and the TFDS catalog.

    >>> import pipelines
    >>> pipelines.list_datasets()
    ['adding_problem', 'blobs_4d3c', 'csv_series', 'digit_reversal', 'digits', 'gates',
     'iris', 'linear_1d', 'logistic_2d', 'signals_1d', 'synthetic_series', 'temporal_order']
    >>> ds = pipelines.load("digits", "train", batch_size=64, seed=0)

What kind of data a name is (built in, a text corpus, labelled text, TFDS,
...) is decided once, by `resolve`; the result is `DatasetInfo.source`.
Importing this package and listing or describing the built-in datasets
does not import TensorFlow.
"""

from pipelines.core import get_info, load, load_arrays, preprocessor
from pipelines.info import DatasetInfo, OptionError
from pipelines.naming import dataset_name
from pipelines.own import DataError
from pipelines.preprocessing import AUGMENTATIONS, NORMALIZATIONS
from pipelines.sources import get_source, list_datasets, resolve
from pipelines.tfds_source import DatasetUnavailableError, UnknownDatasetError

__all__ = [
    "AUGMENTATIONS",
    "NORMALIZATIONS",
    "DataError",
    "DatasetInfo",
    "DatasetUnavailableError",
    "OptionError",
    "UnknownDatasetError",
    "get_info",
    "get_source",
    "list_datasets",
    "load",
    "dataset_name",
    "load_arrays",
    "preprocessor",
    "resolve",
]
