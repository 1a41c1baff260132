"""Training with Keras `fit`: repeatable, checkpointed every epoch, resumable, stopped on NaN.

A run folder holds everything of one training run::

    run_dir/
      train.json     the run's `RunSpec` (`run_spec`): data, model, training, seed
      checkpoints/   tf.train checkpoints (weights, optimizer state, epoch), one per finished epoch
        best/        the weights of the epoch with the best held-out bound (with validation data)
      logs/          TensorBoard event files
      history.csv    one row of metrics per epoch (``val_*``: the held-out bound, `HeldOut`)
      held_out.json  the held-out bound of the best and the last epoch, which one the model is,
                     and the calibration of its likelihood's scale (with validation data)
      model.keras    the final model, with its config and spectrogram normalisation

Started again with the same folder, `train` resumes after the last finished epoch. One process at
a time trains in a folder (`files.folder_lock`): under `tf.distribute.MultiWorkerMirroredStrategy`
the chief, while the other workers resume from its checkpoints and write theirs to
``run_dir/.worker-N/``, removed at the end (`training.distribute`). At the start, files a killed
run left half-written (``checkpoints/ckpt-*_temp/``, ``.tmp-*``) are removed, and a checkpoint or
file that cannot be written (read-only folder, full disk, file-size limit) ends training with an
`OSError` naming it, its partial files removed and the last finished epoch kept.

A run repeats bit for bit on one machine when its model and data are seeded: `build_vae`'s seed
fixes the initial weights and every draw of z (from the model's seed and the optimizer's step,
so a resumed run draws as the uninterrupted one would), and `pipeline.spectrogram_dataset`'s seed
the shuffling. `train` seeds no global generator.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.files import atomic_output, folder_lock
from tfp_audio_vae.models.held_out import HeldOutBound, calibrate_scale
from tfp_audio_vae.models.latents import fit_prior
from tfp_audio_vae.models.level import calibrate_level
from tfp_audio_vae.models.saving import save_model
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.training.callbacks import (
    EpochCheckpoint,
    EpochHistory,
    FitPrior,
    HeldOut,
    StopOnNonFinite,
)
from tfp_audio_vae.training.distribute import (
    fit_with_strategy_run,
    is_chief,
    is_mirrored,
    shard_by_data,
    task_name,
)
from tfp_audio_vae.training.run_spec import (
    RECORD,
    ResolutionSpec,
    RunSpec,
    Selection,
    TrainingSpec,
)

BEST = Path("checkpoints") / "best"
"""Where a run keeps the weights of its epoch with the best held-out bound."""
HELD_OUT = "held_out.json"
"""The run's held-out bounds (best and last epoch), its selection and its calibration."""


def _checkpoint(
    model: VAE, run_dir: Path, write_dir: Path
) -> tuple[tf.train.CheckpointManager, tf.Variable]:
    """A manager writing ``write_dir/checkpoints``, restored from ``run_dir``'s newest checkpoint."""
    model.optimizer.build(model.trainable_variables)  # so its slots exist before a restore
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=model.optimizer,
        epoch=epoch,
        # the position of the model's unseeded draws (validation), which are not weights
        seed_generator=model.seed_generator.state,
    )
    manager = tf.train.CheckpointManager(checkpoint, write_dir / "checkpoints", max_to_keep=2)
    latest = tf.train.latest_checkpoint(run_dir / "checkpoints")
    if latest:
        checkpoint.restore(latest).expect_partial()
    return manager, epoch


def weights_checkpoint(model: VAE) -> tf.train.Checkpoint:
    """A checkpoint of the model's weights (encoder, decoder, prior), without optimizer state
    (each by its place in the list: a Keras layer's sub-layers are not tf.train dependencies)."""
    parts = (model.encoder, model.decoder, model.prior)
    return tf.train.Checkpoint(weights=[w for part in parts for w in part.weights])


def _held_out_so_far(history: Path, initial_epoch: int) -> list[tuple[int, float]]:
    """``(epoch, val_neg_elbo)`` (1-based) of the rows of ``history`` before ``initial_epoch``."""
    if initial_epoch == 0 or not history.is_file():
        return []
    with open(history, newline="") as f:
        return [
            (int(row["epoch"]) + 1, float(row["val_neg_elbo"]))
            for row in csv.DictReader(f)
            if int(row["epoch"]) < initial_epoch and row.get("val_neg_elbo")
        ]


def refit_period(model: VAE, fit_prior_every: int | None) -> int:
    """``fit_prior_every`` as given, or for ``None`` `defaults.FIT_PRIOR_EVERY` when the model's
    prior can be refitted (it has ``fit_to_posteriors``) and 0 (never) when it cannot."""
    if fit_prior_every is not None:
        return fit_prior_every
    return defaults.FIT_PRIOR_EVERY if hasattr(model.prior, "fit_to_posteriors") else 0


def check_training_setup(
    model: VAE,
    train_data: tf.data.Dataset,
    epochs: int,
    learning_rate: float,
    fit_prior_every: int,
) -> None:
    """Refuses, with one sentence, settings that cannot work, before any training step.

    Raises:
      ValueError: ``epochs`` < 1; a learning rate that is not positive and finite; a negative
        ``fit_prior_every``, or refits asked of a prior with no ``fit_to_posteriors``; a
        conditional prior with unlabelled examples (label -1) or labels outside its classes.
    """
    prior = model.prior
    if int(epochs) < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(f"the learning rate must be positive and finite, got {learning_rate}")
    if fit_prior_every < 0:
        raise ValueError(f"fit_prior_every must be 0 (never) or positive, got {fit_prior_every}")
    if fit_prior_every and not hasattr(prior, "fit_to_posteriors"):
        raise ValueError(
            f"fit_prior_every={fit_prior_every} refits the prior, but {type(prior).__name__} has "
            "no fit_to_posteriors method: use fit_prior_every=0 or a MixtureOfGaussiansPrior"
        )
    if not prior.conditional:
        return
    batches = [model.unpack_batch(batch)[1] for batch in train_data]
    labels = np.concatenate([[-1] if b is None else np.reshape(b, [-1]) for b in batches])  # [n]
    if labels.min() < 0:
        raise ValueError(
            f"the conditional prior {type(prior).__name__} trains with labels, but "
            f"{int(np.sum(labels < 0))} training examples have none: use labelled files "
            "(e.g. FSDD records) or an unconditional prior"
        )
    classes = getattr(prior, "num_classes", None)
    if classes is not None and labels.max() >= classes:
        raise ValueError(
            f"labels run up to {int(labels.max())}, but the conditional prior has {classes} "
            f"classes (0-{classes - 1})"
        )


def learning_rate_schedule(
    learning_rate: float,
    schedule: Literal["constant", "cosine"],
    train_data: tf.data.Dataset,
    *,
    epochs: int,
    warmup_epochs: float = 1.0,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's learning rate: a constant, or a linear warm-up to ``learning_rate`` over
    ``warmup_epochs`` followed by a cosine decay to 0 at ``epochs``.

    The schedule is a function of the optimizer's step, so a resumed run continues it. A dataset
    whose length TensorFlow does not know (e.g. after ``filter``) is counted once.

    Raises:
      ValueError: for an unknown schedule, or ``"cosine"`` with an infinite dataset.
    """
    if schedule == "constant":
        return learning_rate
    if schedule != "cosine":
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {schedule!r}")
    steps_per_epoch = int(train_data.cardinality())
    if steps_per_epoch == tf.data.INFINITE_CARDINALITY:
        raise ValueError("lr_schedule='cosine' needs a finite training dataset: use 'constant'")
    if steps_per_epoch == tf.data.UNKNOWN_CARDINALITY:
        steps_per_epoch = sum(1 for _ in train_data)  # one pass, to know the epoch's length
    if steps_per_epoch <= 0:
        raise ValueError("lr_schedule='cosine' needs a training dataset with at least one batch")
    total = steps_per_epoch * int(epochs)
    warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
    return keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup
    )


def optimizer(
    model: VAE,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    clipnorm: float | None,
    weight_decay: float,
) -> keras.optimizers.Optimizer:
    """Adam, or AdamW when ``weight_decay`` > 0 with the prior's parameters (mixture weights,
    means and scales, pseudo-inputs, flow weights) left undecayed: the network is regularised,
    the prior is not pulled towards 0."""
    if weight_decay < 0 or not math.isfinite(weight_decay):
        raise ValueError(f"weight_decay must be 0 or positive and finite, got {weight_decay}")
    if weight_decay == 0:
        return keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)
    adamw = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm)
    adamw.exclude_from_weight_decay(var_list=model.prior.trainable_variables)
    return adamw


def _remove_partial_files(run_dir: Path) -> None:
    """Removes what a write cut short left: TensorFlow's ``ckpt-*_temp`` folders and
    `atomic_output`'s ``.tmp-*`` files (only ever called with the run folder's lock held)."""
    leftovers = [*run_dir.glob("checkpoints/**/ckpt-*_temp*"), *run_dir.glob(".tmp-*")]
    for leftover in leftovers:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextmanager
def _write_folder(run_dir: Path, strategy: tf.distribute.Strategy) -> Iterator[Path]:
    """The folder this process writes: ``run_dir`` (locked, cleared of partial files) for the
    chief; for another worker of a cluster ``run_dir/.worker-N/``, emptied before and removed
    after (the run folder stays the chief's)."""
    if not is_chief(strategy):
        folder = run_dir / f".{task_name(strategy)}"
        shutil.rmtree(folder, ignore_errors=True)  # what a killed worker left
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with folder_lock(run_dir):
        _remove_partial_files(run_dir)
        yield run_dir


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
    epochs: int = defaults.EPOCHS,
    validation_data: tf.data.Dataset | None = None,
    learning_rate: float = defaults.LEARNING_RATE,
    clipnorm: float | None = defaults.CLIPNORM,
    lr_schedule: Literal["constant", "cosine"] = defaults.LR_SCHEDULE,
    weight_decay: float = defaults.WEIGHT_DECAY,
    fit_prior_every: int | None = None,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
    spec: RunSpec | None = None,
    selection: Selection = defaults.CHECKPOINT_SELECTION,
) -> keras.callbacks.History:
    """Fits ``model`` for ``epochs`` epochs (in total, counting those of an earlier interrupted run).

    Under a distribution strategy (the one ``model`` was built in: `distribute.make_strategy`),
    ``train_data``'s batches are global batches, split among the replicas. Under
    `tf.distribute.MultiWorkerMirroredStrategy` every worker calls ``train`` with the same
    arguments; each keeps its share of every batch (`distribute.shard_by_data`) and the chief
    writes ``run_dir``. Under the mirrored strategies the steps run in
    `distribute.fit_with_strategy_run` instead of Keras ``fit`` (which fails under them).

    Args:
      model: a `VAE` (compiled here with Adam unless already compiled).
      train_data: batches of ``{"spectrogram", "label", ...}`` from `pipeline.spectrogram_dataset`.
      run_dir: the run folder (see the module docstring); created if missing. The workers of a
        cluster give the chief's run folder, on a shared file system or on one machine.
      epochs: total number of epochs.
      validation_data: optional held-out batches (never the test split): after each epoch their
        −ELBO with the likelihood's scale calibrated on them (`callbacks.HeldOut`, ``val_*``
        metrics), which selects the best epoch; when training ends the decoder's scale is
        calibrated on them for good (`models.held_out.calibrate_scale`).
      learning_rate, clipnorm: Adam's settings when this function compiles the model.
      lr_schedule: ``"constant"`` or ``"cosine"`` (`learning_rate_schedule`: a one-epoch warm-up,
        then a cosine decay to 0 at ``epochs``). The cosine schedule spans ``epochs``: resuming
        with the same ``epochs`` continues it exactly; resuming with more stretches what is left.
      weight_decay: AdamW's decoupled weight decay of the encoder's and decoder's weights (each
        step multiplies them by ``1 - learning rate x weight_decay``); the prior's parameters
        are not decayed. 0 trains with plain Adam.
      fit_prior_every: refit the prior to the aggregate posterior of ``train_data`` every this
        many epochs and at the end (`FitPrior`); 0 never does; ``None`` (the default) refits
        every `defaults.FIT_PRIOR_EVERY` epochs a prior that has ``fit_to_posteriors`` (the
        mixtures) and never refits others.
      seed: seeds the EM of the prior refits (`FitPrior`; the refit after epoch ``e`` uses
        ``seed + e``, the final one ``seed``). The model's initial weights and draws follow its
        own seed (`build_vae`), the shuffling the pipeline's; no global generator is seeded.
      callbacks: further Keras callbacks.
      verbose: Keras verbosity (progress bar by default).
      spec: the run's `RunSpec`, written as ``run_dir/train.json`` once the settings are checked
        (`runs.Run.train` passes it). ``None`` records this call's training settings, with no
        data or model (``train.json`` then says that this call chose them).
      selection: the weights the run ends on: ``"last"`` (the last epoch's) or ``"best"`` (the
        epoch with the best held-out bound; needs ``validation_data``). Either way the best is
        kept in ``checkpoints/best/`` and ``held_out.json`` records both and the choice.
    Returns:
      the Keras ``History`` of the epochs run now (empty when the run had already finished).
    Raises:
      ValueError: before any training, for a setting that cannot work with this model or data
        (see `check_training_setup`).
      NonFiniteLossError: the loss became NaN/inf; the last good checkpoint stays in ``run_dir``.
      FolderInUseError: another running process (not a worker of this cluster) trains in
        ``run_dir``.
      OSError: a checkpoint or file could not be written; its partial files were removed.

    #### Examples

    ```python
    import tempfile

    import numpy as np
    import tensorflow as tf

    from tfp_audio_vae import SpectrogramConfig, build_vae

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    x = np.random.default_rng(0).normal(size=(16, *config.shape)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices({"spectrogram": x}).batch(8)  # no labels
    model = build_vae(config, "standard", latent_dim=4)
    run_dir = tempfile.mkdtemp()
    history = train(model, data, run_dir, epochs=2, verbose=0)
    len(history.history["loss"])  # ==> 2
    len(train(model, data, run_dir, epochs=2, verbose=0).history)  # ==> 0  (already done)
    ```
    """
    fit_prior_every = refit_period(model, fit_prior_every)
    check_training_setup(model, train_data, epochs, learning_rate, fit_prior_every)
    if selection not in ("best", "last"):
        raise ValueError(f"selection must be 'best' or 'last', got {selection!r}")
    if selection == "best" and validation_data is None:
        raise ValueError("selection='best' needs validation_data: it picks the held-out best")
    run_dir = Path(run_dir)
    if spec is None:
        spec = RunSpec(
            data=None,
            resolution=ResolutionSpec.of(model.spectrogram_config),
            model=None,
            training=TrainingSpec(
                epochs=epochs,
                batch_size=None,
                learning_rate=learning_rate,
                lr_schedule=lr_schedule,
                weight_decay=weight_decay,
                speeds=None,
                fit_prior_every=fit_prior_every,
                cache=None,
                selection=selection,
            ),
            seed=seed,
        )
    with _write_folder(run_dir, model.distribute_strategy) as write_dir:
        if is_chief(model.distribute_strategy):
            with atomic_output(run_dir / RECORD) as tmp:
                tmp.write_text(json.dumps(spec.to_json(), indent=2))
        try:
            return _train(
                model,
                train_data,
                run_dir,
                write_dir,
                epochs=epochs,
                validation_data=validation_data,
                learning_rate=learning_rate,
                clipnorm=clipnorm,
                lr_schedule=lr_schedule,
                weight_decay=weight_decay,
                fit_prior_every=fit_prior_every,
                seed=seed,
                callbacks=callbacks,
                verbose=verbose,
                selection=selection,
            )
        except _WRITE_ERRORS as error:
            _remove_partial_files(write_dir)
            cause = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", str(error.message))  # no op names
            cause = " ".join(cause.split())[:300]
            raise OSError(
                f"{write_dir / 'checkpoints'}: cannot write the checkpoint ({cause}); the last "
                "finished epoch is kept: free space or fix permissions, then run again to resume"
            ) from None
        except OSError:
            _remove_partial_files(write_dir)
            raise


def _train(
    model: VAE,
    train_data: tf.data.Dataset,
    run_dir: Path,
    write_dir: Path,
    *,
    epochs: int,
    validation_data: tf.data.Dataset | None,
    learning_rate: float,
    clipnorm: float | None,
    lr_schedule: Literal["constant", "cosine"],
    weight_decay: float,
    fit_prior_every: int,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback],
    verbose: int | str,
    selection: Selection,
) -> keras.callbacks.History:
    strategy = model.distribute_strategy
    with strategy.scope():  # the optimizer's variables are mirrored like the model's
        if not model.compiled:
            rate = learning_rate_schedule(learning_rate, lr_schedule, train_data, epochs=epochs)
            model.compile(optimizer=optimizer(model, rate, clipnorm, weight_decay))
        manager, epoch = _checkpoint(model, run_dir, write_dir)
    initial_epoch = int(epoch.numpy())
    held_out = None
    if validation_data is not None:
        best = tf.train.CheckpointManager(
            weights_checkpoint(model), write_dir / BEST, max_to_keep=1
        )
        # the chief's history and best checkpoint, on every worker: they must agree on which
        # epoch is best and kept (a checkpoint write is collective under MultiWorkerMirrored)
        so_far = _held_out_so_far(run_dir / "history.csv", initial_epoch)
        kept = tf.train.latest_checkpoint(str(run_dir / BEST))
        kept_epoch = int(kept.rsplit("-", 1)[1]) if kept else 0
        held_out = HeldOut(validation_data, best, so_far, kept_epoch=kept_epoch, seed=seed)
    every_epoch = [
        StopOnNonFinite(manager),
        *([FitPrior(train_data, fit_prior_every, seed=seed)] if fit_prior_every else []),
        *([held_out] if held_out else []),
        # the row before the checkpoint: a run killed between the two has one row too many,
        # which resuming drops, never a kept epoch without its row
        EpochHistory(write_dir / "history.csv", initial_epoch),
        EpochCheckpoint(manager, epoch),
        *([held_out.keeper()] if held_out else []),
        keras.callbacks.TensorBoard(str(write_dir / "logs"), write_graph=False),
        *callbacks,
    ]
    if is_mirrored(strategy):
        with strategy.scope():
            history = fit_with_strategy_run(
                model,
                shard_by_data(train_data),
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=every_epoch,
                verbose=verbose,
            )
    else:
        history = model.fit(
            train_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the pipeline shuffles (seeded)
            verbose=verbose,
            callbacks=every_epoch,
        )
    refit = False
    if held_out is not None and selection == "best" and held_out.best.latest_checkpoint:
        held_out.best.checkpoint.restore(held_out.best.latest_checkpoint).expect_partial()
        refit = bool(fit_prior_every)  # the last epoch's refit was of the last weights
    validation = None if held_out is None else held_out.data
    bound = finish(model, train_data, validation, refit=refit, seed=seed)
    if held_out is not None:
        _write_held_out(held_out, bound, selection, write_dir)
    save_model(model, write_dir / "model.keras")
    return history


def finish(
    model: VAE,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None,
    *,
    refit: bool,
    seed: int,
) -> HeldOutBound | None:
    """How `train` ends once the model holds the weights it ends on: with ``refit``, the prior
    refitted to them (`latents.fit_prior`); the likelihood's scale calibrated on the validation
    clips for good (`held_out.calibrate_scale`, when there are some); the output level
    calibrated on the training clips (`level.calibrate_level`). Returns the calibrated bound."""
    if refit:
        fit_prior(model, train_data, seed=seed)
    bound = None
    if validation_data is not None:
        bound = calibrate_scale(model, validation_data, seed=seed)
    calibrate_level(model, train_data)  # the output level, saved with the model
    return bound


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _write_held_out(
    held_out: HeldOut, bound: HeldOutBound, selection: Selection, write_dir: Path
) -> None:
    """``held_out.json``: the best and last epochs' bounds, which one the run ended on, and its
    calibrated bound."""
    record = {
        "selection": selection,
        "epoch": held_out.best_epoch if selection == "best" else held_out.last_epoch,
        "best": {"epoch": held_out.best_epoch, "val_neg_elbo": _finite(held_out.best_so_far)},
        "last": {"epoch": held_out.last_epoch, "val_neg_elbo": _finite(held_out.last)},
        "calibrated": {"val_neg_elbo": bound.neg_elbo, "clips": bound.clips},
    }
    with atomic_output(write_dir / HELD_OUT) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
