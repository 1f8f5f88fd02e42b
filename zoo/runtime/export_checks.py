"""What every export format's verification shares: its error and its tolerances.

(A module of its own so that `exporter` and `formats` both use them without importing
each other.)
"""

import numpy as np

TOLERANCE = 1e-5  # SavedModel (and ONNX, LiteRT) vs live model
XLA_TOLERANCE = 1e-4  # XLA may fuse and reorder float operations
# Integer outputs (uint8 images): a float difference far below 1e-5 can still move
# a value across a rounding boundary, so one step is allowed, never more.
INTEGER_TOLERANCE = 1


class ExportError(RuntimeError):
    """An export could not be written or failed its verification."""


def tolerance_for(expected) -> float:
    """The verification's tolerance for a signature's outputs (see TOLERANCE)."""
    integer = np.issubdtype(np.asarray(expected).dtype, np.integer)
    return INTEGER_TOLERANCE if integer else TOLERANCE
