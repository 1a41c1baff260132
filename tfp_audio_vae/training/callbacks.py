"""The callbacks `training.fit.train` runs: NaN stop, checkpoints, prior refits, the held-out
bound and its best checkpoint, history."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from tfp_audio_vae.files import atomic_output
from tfp_audio_vae.models.held_out import held_out_bound
from tfp_audio_vae.models.latents import fit_prior


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint was kept."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` at the first step whose loss is NaN or infinite.

    Before raising, the model's weights and optimizer state are restored from the last good
    checkpoint (when one exists), so the model in memory is the one kept on disk.
    """

    def __init__(self, manager: tf.train.CheckpointManager | None = None) -> None:
        super().__init__()
        self.manager = manager
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if math.isfinite(loss):
            return
        if self.manager is not None and self.manager.latest_checkpoint:
            self.manager.checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
            kept = (
                f"the model was reset to the last good checkpoint, {self.manager.latest_checkpoint}"
            )
        else:
            kept = "no checkpoint had been written yet"
        raise NonFiniteLossError(
            f"loss became {loss} at epoch {self.epoch + 1}, step {batch + 1}; {kept}. "
            "Try a lower learning rate, gradient clipping (clipnorm), a KL warm-up, or check the "
            "input files with tfp_audio_vae.data.pipeline.validate_files"
        )


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights, optimizer state and the epoch number after every finished epoch.

    TensorFlow writes each checkpoint to new files and then swaps its index file atomically, so a
    run killed at any moment leaves the previous checkpoint intact.
    """

    def __init__(self, manager: tf.train.CheckpointManager, epoch: tf.Variable) -> None:
        super().__init__()
        self.manager = manager
        self.epoch = epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never replace a good checkpoint with a diverged one
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


class FitPrior(keras.callbacks.Callback):
    """Every ``every`` epochs, and when training ends, refits a mixture prior to the aggregate
    posterior of ``data`` by EM (`latents.fit_prior`).

    Gradient steps move a mixture's means at most about one learning rate per step, too slowly to
    follow the encoder; fitting them to where the posteriors are is the exact optimum of the KL
    term for the current encoder, and gave class samples the judge recognises far more often
    and a better IWAE bound than gradient steps alone.

    The EM's initial components are picked with seed ``seed + epoch`` after epoch ``epoch``
    (0-based) and with ``seed`` at the end.
    """

    def __init__(self, data: tf.data.Dataset, every: int, seed: int = 0) -> None:
        super().__init__()
        self.data = data
        self.every = int(every)
        self.seed = int(seed)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            fit_prior(self.model, self.data, seed=self.seed + epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        fit_prior(self.model, self.data, seed=self.seed)


class HeldOut(keras.callbacks.Callback):
    """After every epoch, the −ELBO of the validation clips with the likelihood's scale
    calibrated on them (`models.held_out.held_out_bound`, the same draws every epoch), logged as
    ``val_neg_elbo``, ``val_nll``, ``val_kl``, ``val_bits_per_dim`` and ``val_loss``; the weights
    of the epoch with the lowest so far are kept by ``best`` (a checkpoint manager of the
    model), for `training.fit.train` to end on when the run selects ``"best"``.

    The weights are written by `keeper`, a callback to run after the epoch's checkpoint: a run
    killed in between resumes holding that epoch's weights, and if it was the best, they are
    written when training starts again, so the best checkpoint always holds the best epoch's.

    Args:
      data: the validation batches.
      best: writes the best epoch's checkpoint.
      so_far: ``(epoch, val_neg_elbo)`` (1-based epochs) of the epochs an interrupted run
        finished.
      kept_epoch: the epoch (1-based) whose weights the run's best checkpoint holds, 0 for
        none; on every worker of a cluster, the chief's.
      seed: the draws of z.
    """

    def __init__(
        self,
        data: tf.data.Dataset,
        best: tf.train.CheckpointManager,
        so_far: Sequence[tuple[int, float]] = (),
        kept_epoch: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.data = data
        self.best = best
        self.kept_epoch = int(kept_epoch)
        self.seed = int(seed)
        self.best_epoch, self.best_so_far = min(so_far, key=lambda e: e[1], default=(0, math.inf))
        self.last_epoch, self.last = so_far[-1] if so_far else (0, math.inf)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.best_epoch and self.best_epoch == self.last_epoch != self.kept_epoch:
            self.best.save(checkpoint_number=self.best_epoch)  # the restored weights are its

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        bound = held_out_bound(self.model, self.data, seed=self.seed)
        if logs is not None:
            logs.update(bound.logs())
        self.last_epoch, self.last = epoch + 1, bound.neg_elbo
        if bound.neg_elbo < self.best_so_far:
            self.best_epoch, self.best_so_far = epoch + 1, bound.neg_elbo

    def keeper(self) -> keras.callbacks.Callback:
        """The callback that writes the best epoch's weights, to run after its checkpoint."""
        return KeepBest(self)


class KeepBest(keras.callbacks.Callback):
    """Writes `HeldOut`'s best weights when the epoch just ended is its best."""

    def __init__(self, held_out: HeldOut) -> None:
        super().__init__()
        self.held_out = held_out

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.held_out.best_epoch == epoch + 1:
            self.held_out.best.save(checkpoint_number=epoch + 1)


class EpochHistory(keras.callbacks.Callback):
    """Keeps ``history.csv`` (one row of metrics per finished epoch), rewritten atomically.

    On resumption the rows of epochs after the restored checkpoint are dropped, so every row
    belongs to an epoch whose weights were kept, and none is written twice.
    """

    def __init__(self, path: Path, initial_epoch: int) -> None:
        super().__init__()
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file() and initial_epoch > 0:
            with open(path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < initial_epoch]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.rows.append(
            {"epoch": str(epoch), **{k: repr(float(v)) for k, v in (logs or {}).items()}}
        )
        names = list(dict.fromkeys(name for row in self.rows for name in row))
        with atomic_output(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=names, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
