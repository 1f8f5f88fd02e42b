"""In-graph checks of a serving signature's input: shape, emptiness, values.

A SavedModel signature trusts its declared input spec: TensorFlow runs it on
a tensor of any shape, and NaN or an id outside the vocabulary flows through
the model into a silently wrong answer (or an internal error far inside it).
`checked` puts assertions in front of the model, so a bad request fails with
one `InvalidArgumentError` that names what was expected and what was received:

    `image` must have shape (batch, 8, 8, 1). Received: shape (2, 28, 28, 1)

The checks run in this order, each only once the previous one passed: shape,
not empty (no batch of 0 examples, no size 0), sizes that must be a multiple
of something (`size_multiple`), then values (floats finite, integer ids in
`value_range`). They change no value, so a checked signature gives the same
outputs as the model. XLA drops assertions (its shapes are static anyway);
`tf.ensure_shape` still holds there. TensorFlow prints a failed assertion as
`assertion failed: [<message>]`, numbers after it in brackets of their own:

    assertion failed: [`token_ids` must hold values in [0, 66). Received: min and max] [-1 2]

Python and Grappler fold what the declared spec makes static (a fully static
spec, with `--static-batch`, folds the whole shape assertion to true; the
declared rank is static too, so the assertion sees a wrong rank only through
a missing size or the element count). There, and for an input of higher rank
whose extra sizes are all 1, `tf.ensure_shape` refuses the input with
TensorFlow's own message: "Shape of tensor image [2,8,8,1,1] is not compatible
with expected shape [?,8,8,1]."
"""

from __future__ import annotations

from typing import Sequence

# How messages write a size the spec leaves open (not the batch).
ANY = "any"


def expected_shape(shape: Sequence[int | None]) -> str:
    """The declared shape as messages write it: `(batch, 8, 8, 1)`, `(batch, any)`, `(batch,)`."""
    dims = ["batch" if i == 0 and d is None else ANY if d is None else str(d)
            for i, d in enumerate(shape)]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def checked(x, name: str, shape: Sequence[int | None], value_range=None, size_multiple: int = 1):
    """`x` once it has passed every check; a failed check raises `InvalidArgumentError`.

    Args:
        x: The signature's input tensor.
        name: The input's name, for messages.
        shape: The declared shape, batch first (None: any size).
        value_range: `(low, high)`: integer inputs must lie in [low, high)
            (ids of a vocabulary). Float inputs must always be finite.
        size_multiple: Every open size but the batch's must be a multiple of it.
    """
    import tensorflow as tf

    shape = tuple(shape)
    expected = expected_shape(shape)
    actual = tf.shape(x, out_type=tf.int64)
    received = ("Received: shape ", _shape_text(actual))
    x = _assert(x, _has_shape(x, actual, shape),
                f"`{name}` must have shape {expected}. ", *received)
    x = tf.ensure_shape(x, shape)  # what the assertion cannot see (see the module docstring)
    x = _assert(x, tf.size(x, out_type=tf.int64) > 0, f"`{name}` must not be empty. ", *received)
    open_sizes = [i for i, d in enumerate(shape) if i > 0 and d is None]
    if size_multiple > 1 and open_sizes:
        x = _assert(x, tf.reduce_all(tf.gather(actual, open_sizes) % size_multiple == 0),
                    f"`{name}` must have shape {expected} with every `{ANY}` size a multiple "
                    f"of {size_multiple}. ", *received)
    if x.dtype.is_floating:
        x = _assert(x, tf.reduce_all(tf.math.is_finite(x)),
                    f"`{name}` must hold finite values (no NaN or inf).")
    elif value_range is not None:
        low, high = value_range
        smallest, largest = tf.reduce_min(x), tf.reduce_max(x)
        # The extremes go to the assertion as numbers: string ops on data do not compile with XLA.
        x = _assert(x, tf.logical_and(smallest >= low, largest < high),
                    f"`{name}` must hold values in [{low}, {high}). Received: min and max",
                    data=tf.stack([smallest, largest]))
    return x


def _has_shape(x, actual, shape):
    """Whether `actual` (the runtime shape of `x`) is `shape`: the static sizes match and
    the rank is right (a missing dimension reads -1; an extra one changes the size)."""
    import tensorflow as tf

    rank = len(shape)
    padded = tf.pad(actual, [[0, rank]], constant_values=-1)[:rank]
    static = [i for i, d in enumerate(shape) if d is not None]
    conditions = [tf.reduce_all(padded >= 0),
                  tf.equal(tf.size(x, out_type=tf.int64), tf.reduce_prod(padded))]
    if static:
        conditions.append(tf.reduce_all(
            tf.equal(tf.gather(padded, static), tf.constant([shape[i] for i in static], tf.int64))))
    return tf.reduce_all(tf.stack(conditions))


def _shape_text(actual):
    """`(2, 28, 28, 1)`, `(5,)` or `()` from a runtime shape (a string tensor).

    String ops do not compile with XLA, but under XLA every shape is static,
    so this folds to a constant before compilation.
    """
    import tensorflow as tf

    joined = tf.strings.reduce_join(tf.strings.as_string(actual), separator=", ")
    # One size takes a comma; tf.size(actual) would be folded from the declared rank.
    comma = tf.where(tf.strings.regex_full_match(joined, "[0-9]+"), ",", "")
    return tf.strings.join(["(", joined, comma, ")"])


def _assert(x, condition, *message, data=None):
    """`x`, computed only after `condition` held; else InvalidArgumentError with the
    message (and `data`, a numeric tensor, printed after it)."""
    import tensorflow as tf

    items = [tf.strings.join(list(message)) if len(message) > 1 else message[0]]
    if data is not None:
        items.append(data)
    check = tf.debugging.Assert(condition, items)
    with tf.control_dependencies([check]):
        return tf.identity(x)


def checked_columns(columns: dict, shape) -> dict:
    """A table's columns (name -> (batch,) tensor) once each passed `checked` and all
    have the same number of rows, as (batch, 1) tensors for the model."""
    import tensorflow as tf

    columns = {name: checked(x, name, shape) for name, x in columns.items()}
    names = list(columns)
    sizes = tf.stack([tf.shape(columns[n], out_type=tf.int64)[0] for n in names])
    same = tf.reduce_all(tf.equal(sizes, sizes[0]))
    message = (f"Every column ({', '.join(f'`{n}`' for n in names)}) must hold the same "
               "number of rows. Received: rows per column")
    first = _assert(columns[names[0]], same, message, data=sizes)
    columns[names[0]] = first
    # By name, in sorted order: the order Keras keeps a functional model's dict inputs in.
    return {name: tf.expand_dims(columns[name], -1) for name in sorted(columns)}
