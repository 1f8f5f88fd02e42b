"""`dataset_name`: what the user passes as data, made the dataset string a run records.

A name or path stays as it is; a Python object is registered in this process
under its content name by the source that reads it (`pipelines.own`,
`pipelines.tables`, `pipelines.tfdata`).
"""

from __future__ import annotations

import os

import numpy as np

from pipelines import tables, tfdata
from pipelines.own import SPLITS, DataError, register_arrays


def dataset_name(data, **options) -> str:
    """The dataset string of `data`: a name or path as it is; a Python object registered
    under its content name (see the module docstring).

    Raises DataError for an object that is no dataset, naming what is accepted.
    """
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, dict):
        unknown = sorted(set(map(str, data)) - set(SPLITS))
        if unknown:
            raise DataError(f"A dict of splits takes the keys {', '.join(map(repr, SPLITS))}. "
                            f"Received unknown key(s): {', '.join(map(repr, unknown))}.")
        if "train" not in data:
            raise DataError("A dict of splits needs a 'train' split.")
        parts = list(data.values())
    else:
        parts = [data]
    if all(tables.is_dataframe(p) for p in parts):
        return tables.register_frames(data if isinstance(data, dict) else {"train": data})
    if all(tfdata.is_dataset(p) for p in parts):
        return tfdata.register(data if isinstance(data, dict) else {"train": data})
    if all(_is_pair(p) for p in parts):
        splits = data if isinstance(data, dict) else {"train": data}
        return register_arrays({k: (np.asarray(v[0]), np.asarray(v[1]))
                                for k, v in splits.items()})
    raise DataError(
        "Data must be a dataset name or path, numpy arrays (x, y), a pandas DataFrame "
        "(with target=...), a tf.data.Dataset of (x, y), or a dict of those by split "
        f"('train', 'validation', 'test'). Received: {_describe(data)}."
    )


def _is_pair(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and not isinstance(value[0], str)


def _describe(value) -> str:
    if isinstance(value, dict):
        return "a dict of " + ", ".join(sorted({type(v).__name__ for v in value.values()}))
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__module__}.{type(value).__name__}"
