"""Training: seeds, checkpoints and resume, NaN handling, and tf.distribute."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.callbacks import EpochCheckpoint, NonFiniteLossError
from tfp_audio_vae.training.fit import train

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def losses(run_dir) -> list[float]:
    with open(run_dir / "history.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_the_same_seed_gives_the_same_losses(tmp_path):
    runs = []
    for name in ("a", "b"):
        model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)
        train(model, random_batches(), tmp_path / name, epochs=2, seed=7, verbose=0)
        runs.append(losses(tmp_path / name))
    assert runs[0] == runs[1]  # bit for bit on the same machine


def test_a_run_folder_holds_model_history_logs_and_checkpoints(tmp_path):
    # A learned scale's loss falls within 2 short epochs even on random images (with the default
    # "optimal" scale it starts at its best, and structureless data leaves little else to learn);
    # a constant rate, as the cosine schedule's warm-up starts at 0.
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, decoder_scale="bin")
    history = train(model, random_batches(), tmp_path, epochs=2, lr_schedule="constant", verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert {"model.keras", "history.csv", "checkpoints", "logs"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert len(losses(tmp_path)) == 2
    assert load_model(tmp_path / "model.keras").spectrogram_config == TINY_CONFIG
    assert not list(tmp_path.glob(".tmp-*"))  # nothing half-written left behind


class WeightsAtTrainBegin(keras.callbacks.Callback):
    """Keeps the weights and optimizer step the model starts `fit` with (after any restore)."""

    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]
        self.iterations = int(self.model.optimizer.iterations.numpy())


CONSTANT = {"lr_schedule": "constant"}  # as `restored_from` compiles its probe


def restored_from(run_dir, checkpoint: str, variant: str) -> list[np.ndarray]:
    """The weights stored in ``run_dir/checkpoints/<checkpoint>``, read into a fresh model."""
    probe = build_vae(TINY_CONFIG, variant, latent_dim=4, seed=123)
    probe.compile(optimizer=keras.optimizers.Adam())  # as the runs below: a constant rate
    probe.optimizer.build(probe.trainable_variables)
    tf.train.Checkpoint(model=probe, optimizer=probe.optimizer).restore(
        str(run_dir / "checkpoints" / checkpoint)
    ).expect_partial()
    return probe.get_weights()


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_an_interrupted_run_resumes_after_its_last_finished_epoch(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    model = build_vae(TINY_CONFIG, "mog", latent_dim=4)
    with pytest.raises(KeyboardInterrupt):
        train(
            model,
            random_batches(),
            tmp_path,
            epochs=4,
            verbose=0,
            callbacks=[Interrupt()],
            **CONSTANT,
        )
    interrupted = [w.copy() for w in model.get_weights()]  # those of epoch 2's end
    steps = int(model.optimizer.iterations.numpy())
    # the checkpoint on disk holds exactly the weights the interrupted run ended with
    assert_same_weights(restored_from(tmp_path, "ckpt-2", "mog"), interrupted)

    fresh = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=99)  # different initial weights
    initial = [w.copy() for w in fresh.get_weights()]
    start = WeightsAtTrainBegin()
    history = train(
        fresh, random_batches(), tmp_path, epochs=4, verbose=0, callbacks=[start], **CONSTANT
    )
    # training went on from the saved weights and optimizer step, not from seed 99's
    assert_same_weights(start.weights, interrupted)
    assert not any(np.array_equal(a, b) for a, b in zip(start.weights, initial, strict=True))
    assert start.iterations == steps
    assert history.epoch == [2, 3]  # epochs 0 and 1 are not redone
    assert int(fresh.optimizer.iterations.numpy()) == 2 * steps
    assert len(losses(tmp_path)) == 4


@pytest.mark.parametrize("after_save", [False, True], ids=["before", "after"])
def test_a_run_stopped_just_before_or_after_a_checkpoint_resumes_to_one_row_per_epoch(
    tmp_path, monkeypatch, after_save
):
    """A kill can land between an epoch's history row and its checkpoint, on either side of
    the checkpoint's write: the resumed run's history still holds each epoch once."""
    save = EpochCheckpoint.on_epoch_end

    def stop_at_epoch_two(self, epoch, logs=None):
        if epoch == 1:
            if after_save:
                save(self, epoch, logs)
            raise KeyboardInterrupt
        save(self, epoch, logs)

    monkeypatch.setattr(EpochCheckpoint, "on_epoch_end", stop_at_epoch_two)
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    with pytest.raises(KeyboardInterrupt):
        train(model, random_batches(), tmp_path, epochs=3, verbose=0, **CONSTANT)
    monkeypatch.undo()
    history = train(
        build_vae(TINY_CONFIG, "standard", latent_dim=4),
        random_batches(),
        tmp_path,
        epochs=3,
        verbose=0,
        **CONSTANT,
    )
    assert history.epoch == ([2] if after_save else [1, 2])
    with open(tmp_path / "history.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2]


def test_a_nan_batch_stops_training_and_restores_the_last_good_checkpoint(tmp_path):
    good = random_batches(n=32, batch_size=16)  # 2 steps per epoch
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    train(model, good, tmp_path, epochs=1, verbose=0, **CONSTANT)

    def poison(batch):
        x = batch["spectrogram"]
        return {**batch, "spectrogram": tf.tensor_scatter_nd_update(x, [[1, 0, 0, 0]], [np.nan])}

    class WeightsBeforeEachStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.last = [w.copy() for w in self.model.get_weights()]

    failing = WeightsBeforeEachStep()
    second_batch_poisoned = good.take(1).concatenate(good.skip(1).map(poison))
    with pytest.raises(
        NonFiniteLossError, match=r"epoch 2, step 2.*reset to the last good checkpoint"
    ):
        train(
            model,
            second_batch_poisoned,
            tmp_path,
            epochs=3,
            verbose=0,
            callbacks=[failing],
            **CONSTANT,
        )
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    # the model in memory is the one in the last good checkpoint (epoch 1's end) ...
    assert_same_weights(after, restored_from(tmp_path, "ckpt-1", "standard"))
    assert int(model.optimizer.iterations.numpy()) == 2  # optimizer state came back too
    # ... not the weights the failing step started from (which one good step had moved)
    assert not all(np.array_equal(a, b) for a, b in zip(after, failing.last, strict=True))
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*.index"))
    assert checkpoints == ["ckpt-1.index"]  # no diverged checkpoint was written


@pytest.mark.slow  # a subprocess that imports TensorFlow and trains or loads
def test_training_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        sys.path.insert(0, {str(REPO)!r})
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tests.helpers import TINY_CONFIG, random_batches
        from tfp_audio_vae.models.variants import build_vae
        from tfp_audio_vae.training.fit import train
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build_vae(TINY_CONFIG, "mog", latent_dim=4)
        history = train(model, random_batches(), {str(tmp_path)!r}, epochs=2, verbose=0)
        loss = history.history["loss"]
        assert np.isfinite(loss).all() and loss[-1] < loss[0], loss
        print("replicas", strategy.num_replicas_in_sync, "loss", loss)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout


@pytest.mark.slow  # a subprocess that imports TensorFlow and trains or loads
def test_a_saved_model_loads_in_a_fresh_process(tmp_path):
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4)
    save_model(model, tmp_path / "m.keras")
    script = (
        "import sys, tfp_audio_vae as t; m = t.load_model(sys.argv[1]); "
        "print(type(m.prior).__name__, m.sample(2, seed=0).shape)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m.keras")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MixtureOfGaussiansPrior (2, 128, 32, 1)" in result.stdout


def test_fit_prior_every_epoch_moves_the_mixture_onto_the_posteriors(tmp_path):
    from tfp_audio_vae.models.latents import encode_dataset

    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=2)
    initial = model.prior.means.numpy().copy()
    train(model, random_batches(), tmp_path, epochs=2, fit_prior_every=1, verbose=0)
    assert not np.allclose(model.prior.means.numpy(), initial)
    encoded = encode_dataset(model, random_batches())
    prior_means = model.prior.means.numpy().reshape(10, 2, 4)
    class_means = np.stack([encoded["mean"][encoded["label"] == d].mean(0) for d in range(10)])
    # each digit's components lie among that digit's posteriors, not at their random start
    gap = np.linalg.norm(prior_means.mean(axis=1) - class_means, axis=-1)
    assert np.all(gap < 0.5), gap
