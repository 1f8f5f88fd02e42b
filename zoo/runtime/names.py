"""Names and default folders the runtime accepts, importable without TensorFlow.

The `zoo` command reads its choices and defaults from here (and from the other
TensorFlow-free constants: `zoo.runtime.distribute.STRATEGIES`,
`zoo.runtime.run.CHECKPOINTS`), so the command line never repeats them.
"""

# Learning-rate schedules of `zoo.train` (`lr_schedule=`).
LR_SCHEDULES = ("constant", "cosine")

# Where exports go: <EXPORT_BASE_DIR>/<name>/<version>/.
EXPORT_BASE_DIR = "saved_models"

# Where run folders go: <RUNS_ROOT>/<model>-<dataset>/.
RUNS_ROOT = "runs"
