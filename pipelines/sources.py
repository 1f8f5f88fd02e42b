"""The sources of data, in the order `resolve` asks them, and `resolve` itself.

Built-in names come first (a built-in name is never read as a path or a TFDS
name), then the kinds that the options or a path select, then the TFDS
catalog. A new kind is a `Source` subclass placed in
`SOURCES` before the sources it must shadow.
"""

from __future__ import annotations

from pipelines import sequences, tfds_source
from pipelines.builtin import BUILTINS, ArraySource
from pipelines.folders import ImageFolderSource, TextFolderSource
from pipelines.own import OwnArraySource
from pipelines.tables import TableSource
from pipelines.tfdata import TfDataSource
from pipelines.source import Source
from pipelines.text import TextCorpusSource
from pipelines.text_classification import LabelledTextSource
from pipelines.word_pairs import WordPairsSource

SOURCES: tuple[Source, ...] = (
    ArraySource("builtin", BUILTINS),  # BUILTINS holds the pipelines.sequences sets too
    ArraySource("csv_series", {"csv_series": sequences.CSV_SERIES}),
    # Own data (pipelines.own): arrays and .npz, tables, tf.data, class-per-folder trees.
    OwnArraySource(),
    TableSource(),
    TfDataSource(),
    ImageFolderSource(),
    TextFolderSource(),
    WordPairsSource(),  # a text corpus with the `pairs` option
    TextCorpusSource(),
    LabelledTextSource(),
    tfds_source.TfdsSource(),
)


def resolve(name, data_dir=None, **options) -> Source:
    """The source that reads dataset `name` with these options: decided here only.

    Only the name, `data_dir` and the options that select a reading (`corpus`,
    `pairs`) count; the others are checked by the source when it reads.
    Looking a TFDS name up reads the catalog's metadata, never its data.

    Raises:
        UnknownDatasetError: (a ValueError) for a name no source reads, with
            close names.

    Example:
        >>> pipelines.resolve("digits").kind, pipelines.resolve("lm1b").kind
        ('builtin', 'text')
    """
    for source in SOURCES:
        if source.matches(name, data_dir, options):
            return source
    raise tfds_source.unknown_dataset(str(name), list_datasets())


def get_source(kind: str) -> Source:
    """The source of a `DatasetInfo.source` kind, e.g. to ask whether it is `in_memory`."""
    for source in SOURCES:
        if source.kind == kind:
            return source
    raise ValueError(f"Unknown source kind {kind!r}. Expected one of: "
                     f"{', '.join(repr(s.kind) for s in SOURCES)}.")


def list_datasets() -> list[str]:
    """Names of the built-in datasets. Any TFDS catalog name also works."""
    return sorted(name for source in SOURCES for name in source.names())
