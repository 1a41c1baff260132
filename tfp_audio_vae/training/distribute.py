"""Distribution strategies for `training.fit.train`: which one, which worker writes, and the
training loop that `tf.distribute.MultiWorkerMirroredStrategy` needs.

Several workers train one model in step: each computes the gradients of its share of every global
batch, and the gradients are all-reduced before each update, so every worker holds the same weights.
The chief (task ``chief``, else ``worker`` 0) writes the run folder; the other workers make the
same writes (checkpoints, history, model) into a folder of their own, ``run_dir/.worker-1/`` and
so on, removed at the end (and at the start, after a worker was killed), because a checkpoint
reads every variable and under this strategy a read can be a collective in which all workers
take part (the TensorFlow pattern). All workers resume from the chief's newest
checkpoint, so a cluster restarted after a worker died goes on after the last finished epoch (the
workers left find the loss within seconds, at their next collective, and stop with a
`WorkerLostError`).

Keras 3.15's ``fit`` fails under the mirrored strategies: before the first step it averages a
data batch across replicas to build the model, which fails for the pipeline's string field
(``speaker``) and, across workers, for any dict batch; across workers it then averages every
scalar metric along an axis it does not have (both seen with Keras 3.15.1 and TensorFlow 2.21;
``fit`` under this strategy has open upstream reports, e.g. keras-team/keras#20585). So under
`MirroredStrategy` and `MultiWorkerMirroredStrategy` `fit_with_strategy_run` runs the same
epochs, callbacks and History with each step a ``strategy.run``; other strategies (the default
one-device strategy included) keep Keras ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import keras
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.training.cluster import StrategyName, resolve_strategy


class WorkerLostError(ConnectionError):
    """A worker of the cluster stopped (it died, or its connection was lost) during training."""


# What a collective raises on a worker whose peer has gone.
_PEER_GONE = (
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
)


def make_strategy(name: StrategyName = defaults.STRATEGY) -> tf.distribute.Strategy:
    """The strategy called ``name``; create it before any other TensorFlow work (multiworker).

    ``"auto"`` is ``"multiworker"`` when ``TF_CONFIG`` is set and ``"default"`` otherwise
    (`cluster.resolve_strategy`); ``"default"`` is TensorFlow's one-device strategy,
    ``"mirrored"`` a replica on every local GPU (or the CPU), ``"multiworker"``
    `tf.distribute.MultiWorkerMirroredStrategy` over the cluster in ``TF_CONFIG`` (each worker
    mirrors over its own GPUs, or its CPU).

    Raises:
      ValueError: an unknown name, a malformed ``TF_CONFIG``, or ``"multiworker"`` without one.
    """
    resolved = resolve_strategy(name)
    if resolved == "default":
        return tf.distribute.get_strategy()
    if resolved == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_mirrored(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` mirrors the model over replicas, on one machine or several (trained by
    `fit_with_strategy_run`)."""
    return isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    )


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder: always, except for a worker of a cluster that
    is not its chief (task ``chief``, else ``worker`` 0)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def task_name(strategy: tf.distribute.Strategy) -> str:
    """This process's task in the cluster, e.g. ``"worker-1"`` (``"chief"`` outside a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return "chief"
    return f"{resolver.task_type}-{resolver.task_id}"


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with the `DATA` auto-shard policy: worker ``i`` of ``n`` keeps the ``i``-th
    ``1/n`` of every global batch. (FILE sharding needs a file-reading source such as
    ``TFRecordDataset``; the pipeline's source is a list of paths, decoded in a ``map``.)"""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


Step = Callable[[Any], dict[str, tf.Tensor]]


def _replicated(step: Step, strategy: tf.distribute.Strategy) -> Step:
    """``step`` (a batch -> metrics function) run on every replica, the metrics averaged."""

    @tf.function(reduce_retracing=True)
    def run(batch):
        outputs = strategy.run(step, args=(batch,))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in outputs.items()}

    return run


@contextmanager
def _peers_checked(strategy: tf.distribute.Strategy, epoch: int) -> Iterator[None]:
    """Turns the error of a collective whose peer has gone into a `WorkerLostError`."""
    try:
        yield
    except _PEER_GONE as error:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        cause = " ".join(str(error.message).split())[:120]
        raise WorkerLostError(
            f"a worker of the cluster stopped during epoch {epoch + 1}; the finished epochs are "
            f"kept in the chief's run folder: start every worker again with the same command to "
            f"resume ({cause})"
        ) from None


def _numbers(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}


def _epoch(
    model: keras.Model,
    callback_list: keras.callbacks.CallbackList,
    epoch: int,
    train_step: Step,
    batches: Iterable,
) -> dict[str, float]:
    """One epoch of training steps; the last step's logs."""
    logs: dict[str, float] = {}
    model.reset_metrics()
    callback_list.on_epoch_begin(epoch)
    for step, batch in enumerate(batches):
        callback_list.on_train_batch_begin(step)
        logs = _numbers(train_step(batch))
        callback_list.on_train_batch_end(step, logs)
        if model.stop_training:
            break
    return logs


def fit_with_strategy_run(
    model: keras.Model,
    train_data: tf.data.Dataset,
    *,
    epochs: int,
    initial_epoch: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """What ``model.fit`` does for these arguments, each step a ``strategy.run`` of
    ``model.train_step`` on the model's strategy.

    ``train_data`` yields global batches: each of the strategy's replicas trains on its share.
    Callbacks see the same calls and logs (replica means) as under ``fit`` (held-out figures come
    from a callback: `callbacks.HeldOut`), and ``model.stop_training`` stops after the current step.

    Raises:
      WorkerLostError: under `MultiWorkerMirroredStrategy`, when another worker has stopped
        (found at the next step or checkpoint that needs it, within seconds).
    """
    strategy = model.distribute_strategy
    steps = int(train_data.cardinality())
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history],
        add_progbar=verbose != 0,
        model=model,
        verbose=1 if verbose == "auto" else verbose,
        epochs=epochs,
        steps=steps if steps > 0 else None,
    )
    train_step = _replicated(model.train_step, strategy)
    train_batches = strategy.experimental_distribute_dataset(train_data)
    model.stop_training = False
    logs: dict[str, float] = {}
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        with _peers_checked(strategy, epoch):
            logs = _epoch(model, callback_list, epoch, train_step, train_batches)
            callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
