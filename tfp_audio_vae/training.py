"""Training with Keras `fit`: seeded, checkpointed every epoch, resumable, stopped on NaN.

A run folder holds everything of one training run::

    run_dir/
      checkpoints/   tf.train checkpoints (weights, optimizer state, epoch), one per finished epoch
      logs/          TensorBoard event files
      history.csv    one row of metrics per epoch
      model.keras    the final model, with its config and spectrogram normalisation

Started again with the same folder, `train` resumes after the last finished epoch.
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from tfp_audio_vae import models  # noqa: F401  (registers every layer a saved model may name)
from tfp_audio_vae.files import atomic_output, save_keras
from tfp_audio_vae.latents import fit_prior
from tfp_audio_vae.vae import VAE


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
            "input files with tfp_audio_vae.pipeline.validate_files"
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
    term for the current encoder. Measured on FSDD after 30 epochs: digit samples recognised 76%
    instead of 27%, and a better IWAE bound (1,717 instead of 1,739 nats).
    """

    def __init__(self, data: tf.data.Dataset, every: int) -> None:
        super().__init__()
        self.data = data
        self.every = int(every)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            fit_prior(self.model, self.data, seed=epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        fit_prior(self.model, self.data)


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


def _checkpoint(model: VAE, run_dir: Path) -> tuple[tf.train.CheckpointManager, tf.Variable]:
    model.optimizer.build(model.trainable_variables)  # so its slots exist before a restore
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, run_dir / "checkpoints", max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
    return manager, epoch


def train(
    model: VAE,
    train_data: tf.data.Dataset,
    run_dir: str | Path,
    *,
    epochs: int,
    validation_data: tf.data.Dataset | None = None,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 10.0,
    fit_prior_every: int = 0,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Fits ``model`` for ``epochs`` epochs (in total, counting those of an earlier interrupted run).

    Args:
      model: a `VAE` (compiled here with Adam unless already compiled).
      train_data: batches of ``{"spectrogram", "digit", ...}`` from `pipeline.spectrogram_dataset`.
      run_dir: the run folder (see the module docstring); created if missing.
      epochs: total number of epochs.
      validation_data: optional batches, evaluated after each epoch (``val_*`` metrics).
      learning_rate, clipnorm: Adam's settings when this function compiles the model.
      fit_prior_every: for a mixture prior, refit it to the aggregate posterior of
        ``train_data`` every this many epochs and at the end (`FitPrior`); 0 never does.
      seed: seeds Python, NumPy and TensorFlow, so a run repeats on the same machine.
      callbacks: further Keras callbacks.
      verbose: Keras verbosity (progress bar by default).
    Returns:
      the Keras ``History`` of the epochs run now (empty when the run had already finished).
    Raises:
      NonFiniteLossError: the loss became NaN/inf; the last good checkpoint stays in ``run_dir``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    if not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm))
    manager, epoch = _checkpoint(model, run_dir)
    initial_epoch = int(epoch.numpy())
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,  # the pipeline shuffles (seeded)
        verbose=verbose,
        callbacks=[
            StopOnNonFinite(manager),
            *([FitPrior(train_data, fit_prior_every)] if fit_prior_every else []),
            EpochCheckpoint(manager, epoch),
            EpochHistory(run_dir / "history.csv", initial_epoch),
            keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
            *callbacks,
        ],
    )
    save_model(model, run_dir / "model.keras")
    return history


def save_model(model: VAE, path: str | Path) -> Path:
    """Saves the whole model (config, weights, spectrogram normalisation) as one ``.keras`` file."""
    return save_keras(model, path)


def load_model(path: str | Path) -> VAE:
    """Loads a model saved by `save_model`, in Keras safe mode (no code from the file runs).

    A model with a user's own `Prior` subclass loads once that class is defined (imported).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model file")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as error:
        raise ValueError(f"{path}: cannot load the model: {error}") from error
    if not isinstance(model, VAE):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a tfp_audio_vae VAE")
    return model
