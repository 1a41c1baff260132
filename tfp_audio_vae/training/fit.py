"""Training with Keras `fit`: seeded, checkpointed every epoch, resumable, stopped on NaN.

A run folder holds everything of one training run::

    run_dir/
      checkpoints/   tf.train checkpoints (weights, optimizer state, epoch), one per finished epoch
      logs/          TensorBoard event files
      history.csv    one row of metrics per epoch
      model.keras    the final model, with its config and spectrogram normalisation

Started again with the same folder, `train` resumes after the last finished epoch. One process at
a time trains in a folder (`files.folder_lock`); at the start, files a killed run left half-written
(``checkpoints/ckpt-*_temp/``, ``.tmp-*``) are removed, and a checkpoint or file that cannot be
written (read-only folder, full disk, file-size limit) ends training with an `OSError` naming it,
its partial files removed and the last finished epoch kept.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from tfp_audio_vae.files import folder_lock
from tfp_audio_vae.models.saving import save_model
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.training.callbacks import (
    EpochCheckpoint,
    EpochHistory,
    FitPrior,
    StopOnNonFinite,
)


def _checkpoint(model: VAE, run_dir: Path) -> tuple[tf.train.CheckpointManager, tf.Variable]:
    model.optimizer.build(model.trainable_variables)  # so its slots exist before a restore
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, run_dir / "checkpoints", max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
    return manager, epoch


def _remove_partial_files(run_dir: Path) -> None:
    """Removes what a write cut short left: TensorFlow's ``ckpt-*_temp`` folders and
    `atomic_output`'s ``.tmp-*`` files (only ever called with the run folder's lock held)."""
    for leftover in [*run_dir.glob("checkpoints/ckpt-*_temp*"), *run_dir.glob(".tmp-*")]:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


# Errors of a checkpoint write that the user can fix: permissions, disk space, file-size limits.
_WRITE_ERRORS = (
    tf.errors.PermissionDeniedError,
    tf.errors.ResourceExhaustedError,
    tf.errors.OutOfRangeError,
    tf.errors.UnavailableError,
    tf.errors.DataLossError,
    tf.errors.FailedPreconditionError,
)


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
      train_data: batches of ``{"spectrogram", "label", ...}`` from `pipeline.spectrogram_dataset`.
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
      FolderInUseError: another running process trains in ``run_dir``.
      OSError: a checkpoint or file could not be written; its partial files were removed.
    """
    run_dir = Path(run_dir)
    with folder_lock(run_dir):
        _remove_partial_files(run_dir)
        try:
            return _train(
                model,
                train_data,
                run_dir,
                epochs=epochs,
                validation_data=validation_data,
                learning_rate=learning_rate,
                clipnorm=clipnorm,
                fit_prior_every=fit_prior_every,
                seed=seed,
                callbacks=callbacks,
                verbose=verbose,
            )
        except _WRITE_ERRORS as error:
            _remove_partial_files(run_dir)
            cause = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", str(error.message))  # no op names
            cause = " ".join(cause.split())[:300]
            raise OSError(
                f"{run_dir / 'checkpoints'}: cannot write the checkpoint ({cause}); the last "
                "finished epoch is kept: free space or fix permissions, then run again to resume"
            ) from None
        except OSError:
            _remove_partial_files(run_dir)
            raise


def _train(
    model: VAE,
    train_data: tf.data.Dataset,
    run_dir: Path,
    *,
    epochs: int,
    validation_data: tf.data.Dataset | None,
    learning_rate: float,
    clipnorm: float | None,
    fit_prior_every: int,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback],
    verbose: int | str,
) -> keras.callbacks.History:
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
