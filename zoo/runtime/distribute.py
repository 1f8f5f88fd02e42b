"""tf.distribute for `zoo.train`: which strategy, how many replicas, which worker writes.

Strategies (`zoo train --strategy`):

    auto         TPU if a TPU resolver finds one, else MirroredStrategy over the
                 visible GPUs (or the logical CPU devices of `--cpu-replicas`) when
                 there are several, else MultiWorkerMirroredStrategy when TF_CONFIG
                 names several workers, else the default strategy.
    default      one device, no distribution (`tf.distribute.get_strategy()`).
    mirrored     synchronous data parallelism over the local GPUs, or over the
                 logical CPU devices when there is no GPU.
    multiworker  MultiWorkerMirroredStrategy over the processes listed in TF_CONFIG
                 (start them on one machine with `zoo launch --workers N -- train ...`).
    tpu          TPUStrategy; fails at once when no TPU is found.

`batch_size` is always the GLOBAL batch: each of the R replicas gets batch_size / R
examples, and Keras scales each replica's loss by 1 / R before the gradients are
summed, so one step sees the same mean gradient as one device with the whole batch.

A strategy that talks to other processes (multiworker) must be created before
TensorFlow runs its first operation, and logical CPU devices must be configured
before TensorFlow initialises its devices: `zoo.train` does both first.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

from zoo._common import check_positive_int

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
# Logical CPU devices to split the CPU into (MirroredStrategy on a CPU-only machine).
CPU_REPLICAS_ENV = "ZOO_CPU_REPLICAS"
# TPU discovery looks only at these (Cloud TPU / GKE / TPU VM settings), never the network
# unless one of them is set.
_TPU_ENV = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "COLAB_TPU_ADDR")


@dataclasses.dataclass
class Distribution:
    """The strategy a run trains under, and this process's place in the cluster."""

    strategy: Any  # tf.distribute.Strategy
    name: str  # "default", "mirrored", "multiworker" or "tpu"
    replicas: int  # replicas in sync, over all workers
    workers: int = 1
    task_type: str | None = None
    task_id: int = 0
    reason: str = ""

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run's files (the others write to temporary folders)."""
        return is_chief(self.task_type, self.task_id)

    def describe(self) -> dict:
        """What run.json records under "distribution" (not part of the compared settings)."""
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def is_chief(task_type: str | None, task_id: int) -> bool:
    """The chief is task "chief", or worker 0 when the cluster has no "chief" task."""
    if task_type is None or task_type == "chief":
        return True
    if task_type != "worker" or task_id != 0:
        return False
    cluster = tf_config().get("cluster", {})
    return "chief" not in cluster


def tf_config() -> dict:
    """The parsed TF_CONFIG environment variable ({} when unset)."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}). Received: {text!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object. Received: {text!r}")
    return config


def configure_cpu_replicas(n: int | None) -> int:
    """Split the CPU into `n` logical devices (n=None reads $ZOO_CPU_REPLICAS, default 1).

    Must run before TensorFlow initialises its devices (before its first operation).
    Returns the number of logical CPU devices configured.
    """
    if n is None:
        text = os.environ.get(CPU_REPLICAS_ENV, "").strip()
        if not text:
            return 1
        try:
            n = int(text)
        except ValueError:
            raise ValueError(
                f"${CPU_REPLICAS_ENV} must be an integer >= 1. Received: {text!r}") from None
    check_positive_int("cpu_replicas", n)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu) or []
    if max(len(current), 1) == n:
        return n
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        raise RuntimeError(
            f"Cannot split the CPU into {n} logical devices: TensorFlow has already "
            f"initialised its devices in this process ({max(len(current), 1)} logical CPU "
            f"device(s)). Set cpu_replicas (or ${CPU_REPLICAS_ENV}) before the first "
            f"TensorFlow operation, e.g. in a fresh process: zoo train ... --cpu-replicas {n}"
        ) from None
    return n


def find_tpu(timeout: float = 30.0):
    """A TPUClusterResolver when a TPU is reachable, else None; never hangs.

    A TPU VM is recognised by its accelerator devices and libtpu; a remote Cloud TPU only
    when one of the TPU environment variables names it (then resolving it may query
    the Cloud TPU API, bounded by `timeout` seconds).
    """
    import glob
    import importlib.util
    import threading

    import tensorflow as tf

    # A TPU VM: TPU chips (/dev/accel*, or VFIO devices on newer TPUs) and libtpu installed.
    local = bool(importlib.util.find_spec("libtpu")) and bool(
        glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))
    if not local and not any(os.environ.get(k) for k in _TPU_ENV):
        return None
    found: list = []

    def resolve():
        try:
            found.append(tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu="local" if local else None))
        except (ValueError, RuntimeError, OSError, ImportError) as e:
            found.append(e)

    thread = threading.Thread(target=resolve, daemon=True)
    thread.start()
    thread.join(timeout)
    if not found or isinstance(found[0], Exception):
        return None
    return found[0]


def make_strategy(
    name: str = "auto",
    cpu_replicas: int | None = None,
    say: Callable[[str], Any] = print,
) -> Distribution:
    """Create the strategy `name` (one of `STRATEGIES`) and print which one was chosen.

    Args:
        name: "auto", "default", "mirrored", "multiworker" or "tpu".
        cpu_replicas: Logical CPU devices to create first (default $ZOO_CPU_REPLICAS
            or 1); MirroredStrategy uses them when there is no GPU.
        say: Where the choice is printed.

    Example:
        >>> dist = make_strategy("mirrored", cpu_replicas=2)   # in a fresh process
        Strategy: mirrored, 2 replicas (/job:localhost/replica:0/task:0/device:CPU:0, ...)
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {', '.join(map(repr, STRATEGIES))}. "
            f"Received: strategy={name!r}")
    n_cpus = configure_cpu_replicas(cpu_replicas)
    import tensorflow as tf

    cluster_workers = _cluster_size(tf_config())
    reason = ""
    if name == "auto":
        if find_tpu() is not None:
            name, reason = "tpu", "a TPU was found"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name, reason = "mirrored", "several GPUs are visible"
        elif n_cpus > 1 and not tf.config.list_physical_devices("GPU"):
            name, reason = "mirrored", f"{n_cpus} logical CPU devices"
        elif cluster_workers > 1:
            name, reason = "multiworker", f"TF_CONFIG names {cluster_workers} workers"
        else:
            name, reason = "default", "one device, no TF_CONFIG cluster"
    if name == "tpu":
        dist = _tpu_strategy()
    elif name == "mirrored":
        dist = _mirrored_strategy()
    elif name == "multiworker":
        dist = _multiworker_strategy(cluster_workers)
    else:
        dist = Distribution(tf.distribute.get_strategy(), "default", 1)
    dist.reason = reason
    devices = ", ".join(dist.strategy.extended.worker_devices) if dist.name == "mirrored" else ""
    say(f"Strategy: {dist.name}, {dist.replicas} replica{'s' if dist.replicas != 1 else ''}"
        + (f" on {dist.workers} workers (this is {dist.task_type} {dist.task_id}"
           f"{', the chief' if dist.is_chief else ''})" if dist.workers > 1 else "")
        + (f" ({devices})" if devices and dist.replicas > 1 else "")
        + (f" [auto: {reason}]" if reason else ""))
    return dist


def _cluster_size(config: dict) -> int:
    cluster = config.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _mirrored_strategy() -> Distribution:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        strategy = tf.distribute.MirroredStrategy()
    else:
        # One replica per logical CPU device (`configure_cpu_replicas`).
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return Distribution(strategy, "mirrored", strategy.num_replicas_in_sync)


def _multiworker_strategy(cluster_workers: int) -> Distribution:
    import tensorflow as tf

    config = tf_config()
    if not config:
        raise ValueError(
            "--strategy multiworker reads its cluster from the TF_CONFIG environment "
            "variable, which is not set. On one machine start the workers with "
            "`zoo launch --workers N -- train ...`; on a cluster set TF_CONFIG on each "
            "worker (see README, Scale-out).")
    task = config.get("task", {})
    if "type" not in task or "index" not in task:
        raise ValueError(
            f'TF_CONFIG needs "task": {{"type": "worker", "index": i}}. Received: {config!r}')
    strategy = _multiworker_class()(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING))
    return Distribution(strategy, "multiworker", strategy.num_replicas_in_sync,
                        workers=cluster_workers, task_type=task["type"],
                        task_id=int(task["index"]))


def _multiworker_class():
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """MultiWorkerMirroredStrategy whose `reduce` accepts what Keras 3.15's `fit` passes.

        Keras reduces (1) its first (x, y) batch, a tuple, to build the metrics, and
        (2) each step's scalar losses and metrics with `axis=0`. The collective
        reduction takes one value at a time and an axis only on values that have
        one, so (1) fails with "Attempt to convert a value (PerReplica...)" and (2)
        with "Invalid reduction dimension 0 for input with 0 dimensions". Reducing
        each value, scalars across replicas (axis=None), is what Keras means.
        """

        def reduce(self, reduce_op, value, axis):
            parent = super(MultiWorkerMirroredStrategy, self)

            def one(v):
                local = self.experimental_local_results(v)[0]
                scalar = getattr(local, "shape", None) is not None and local.shape.rank == 0
                return parent.reduce(reduce_op, v, None if scalar else axis)

            return tf.nest.map_structure(one, value)

    return MultiWorkerMirroredStrategy


def _tpu_strategy() -> Distribution:
    import tensorflow as tf

    resolver = find_tpu()
    if resolver is None:
        raise ValueError(
            "--strategy tpu: no TPU found (no local TPU device, and none of "
            f"{', '.join(_TPU_ENV)} is set). Use --strategy auto to fall back to GPUs/CPU.")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = tf.distribute.TPUStrategy(resolver)
    return Distribution(strategy, "tpu", strategy.num_replicas_in_sync)


def shard_by_data(ds):
    """Shard `ds` by element (AutoShardPolicy.DATA) across workers.

    Built-in sets are in memory (no files to split among workers), so each worker
    reads the whole pipeline and keeps its part of every global batch.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def worker_backup(backup_dir: str, write_dir: str | None = None, **kwargs):
    """`keras.callbacks.BackupAndRestore` for multi-worker runs.

    Every worker restores the chief's backup in `backup_dir`, so all of them resume from
    the same epoch. Every worker also saves (saving reads variables, which may take part
    in collective operations), but only the chief into `backup_dir`; the others save into
    `write_dir`, a temporary folder the caller deletes (the Keras multi-worker rules).
    """
    import keras

    class WorkerBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)  # restores from the chief's folder
            if write_dir and write_dir != backup_dir:
                _retarget(self, write_dir)

    return WorkerBackupAndRestore(backup_dir, **kwargs)


def _retarget(callback, folder: str) -> None:
    """Point a BackupAndRestore's saving paths at `folder` (its restoring is done)."""
    callback.backup_dir = folder
    callback._weights_path = os.path.join(folder, "latest.weights.h5")
    callback._training_metadata_path = os.path.join(folder, "training_metadata.json")
    callback._prev_weights_path = f"{callback._weights_path}.bkp"
    callback._prev_training_metadata_path = f"{callback._training_metadata_path}.bkp"
