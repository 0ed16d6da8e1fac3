"""Where a run computes: tf.distribute strategies, workers and replicas.

`strategy = "default" | "mirrored" | "multi_worker" | "tpu"` in a config.
The runner makes the strategy before anything else that touches TensorFlow's
runtime (a multi-worker strategy configures collective ops, which TensorFlow
accepts only before any dataset exists).
"""

from __future__ import annotations

import json
import os

from flarekit.experiments.config import STRATEGIES, ConfigError


def make_strategy(name: str):
    """A tf.distribute strategy by config name.

    "default": one device; "mirrored": all local devices (GPUs, or the CPU
    devices configured as logical devices); "multi_worker": synchronous data
    parallelism across the workers named in TF_CONFIG; "tpu": a TPU cluster.

    Raises:
        ConfigError: an unknown strategy name.
    """
    if name not in _STRATEGIES:
        _STRATEGIES[name] = _new_strategy(name)
    return _STRATEGIES[name]


# One strategy object per name and process: two MirroredStrategy objects in one
# process (two runs in a notebook) number their collective ops from the same
# start, and the second run's all-reduce fails with "Shape mismatch in the
# collective instance".
_STRATEGIES: dict = {}


def _new_strategy(name: str):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # No GPU: the CPU's logical devices (one, unless the program split it
        # with tf.config.set_logical_device_configuration before TF started).
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multi_worker":

        class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
            # Two mismatches of Keras 3.15 and TF 2.21's collective reduce, which
            # takes one tensor at a time and only reduces an axis it has: Keras
            # reduces a whole (inputs, targets) batch in one call (to build a
            # distributed model), and its scalar logs "along axis 0".
            def reduce(self, reduce_op, value, axis):
                def reduce_one(item):
                    local = self.experimental_local_results(item)[0]
                    item_axis = None if getattr(local, "shape", ()) == () else axis
                    return super(MultiWorkerStrategy, self).reduce(
                        reduce_op, item, item_axis
                    )

                return tf.nest.map_structure(reduce_one, value)

        return MultiWorkerStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(
        f"config key 'strategy' is {name!r}; expected one of {', '.join(STRATEGIES)}."
    )


def _task_of_tf_config() -> tuple:
    """(task type, index) from TF_CONFIG; ("worker", 0) when unset."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = cluster.get("task", {})
    return task.get("type", "worker"), int(task.get("index", 0))


def worker_index() -> int:
    """This process's index among the workers of TF_CONFIG (0 when unset)."""
    return _task_of_tf_config()[1]


def is_chief() -> bool:
    """Whether this process writes the run folder in multi-worker training: the
    "chief" task, or worker 0 of a cluster that names no chief."""
    kind, index = _task_of_tf_config()
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    if "chief" in cluster:
        return kind == "chief"
    return kind == "worker" and index == 0


def replica_batch_size(num_examples: int, batch_size: int, replicas: int) -> int:
    """The batch size of an evaluation split under `replicas` replicas.

    Keras builds a distributed model from the first batch, which must split
    evenly across replicas, and no replica may get an empty batch (TF's CPU
    kernels reject them). tf.distribute fills replicas in order, batch_size /
    replicas each, so a last batch must be empty or fill all but the last
    replica. One replica: `batch_size`. Several: the largest multiple of
    `replicas` up to `batch_size` (and the split's size) that satisfies both.
    """
    if replicas < 2:
        return batch_size
    candidate = min(batch_size, num_examples) // replicas * replicas
    while candidate > replicas:
        if not starves_a_replica(num_examples, candidate, replicas):
            return candidate
        candidate -= replicas
    return replicas


def starves_a_replica(num_examples: int, batch_size: int, replicas: int) -> bool:
    """Whether the last batch leaves a replica with no example."""
    remainder = num_examples % batch_size
    return 0 < remainder <= batch_size - batch_size // replicas


def synchronize_batch_statistics(model, strategy) -> None:
    """Under a strategy with several replicas, batch normalisation uses the
    statistics of the global batch, as on one device (else each replica
    normalises by its own share of the batch, and metrics depend on the
    number of devices)."""
    if strategy.num_replicas_in_sync < 2:
        return
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
