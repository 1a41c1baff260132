"""Held-out likelihoods: a validation split carved from the training clips, the likelihood's scale
calibrated on it, the held-out bound after every epoch and the checkpoint it selects."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data.splitting import carve_validation
from tfp_audio_vae.models.held_out import calibrate_scale, held_out_bound
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.callbacks import KeepBest
from tfp_audio_vae.training.fit import BEST, HELD_OUT, train, weights_checkpoint
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec, changed_settings


@dataclasses.dataclass(frozen=True)
class Record:
    path: str
    label: int
    speaker: str


def records(per_group: int = 45) -> list[Record]:
    return [
        Record(f"{d}_{s}_{i}.wav", d, s)
        for d in range(10)
        for s in ("a", "b", "c")
        for i in range(per_group)
    ]


# --------------------------------------------------------------------------- the split


def test_validation_is_carved_from_train_stratified_by_class_and_speaker_and_seeded():
    given = records()
    train, validation = carve_validation(given, 0.1, seed=0)
    assert not set(train) & set(validation)
    assert sorted(train + validation, key=given.index) == given
    counts = Counter((r.label, r.speaker) for r in validation)
    assert set(counts.values()) == {4}  # round(0.1 x 45) of every class and speaker
    assert len(counts) == 30
    assert carve_validation(given, 0.1, seed=0) == (train, validation)
    assert carve_validation(given, 0.1, seed=1)[1] != validation
    assert carve_validation(given, 0.0) == (given, [])


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError, match="validation fraction"):
        carve_validation(records(), fraction)


def test_a_fraction_that_leaves_a_group_without_training_clips_is_refused():
    with pytest.raises(ValueError, match="class 0, speaker 'a'"):
        carve_validation(records(per_group=1), 0.9)


def test_fsdd_validates_on_clips_carved_from_its_train_split_never_the_test_split(fsdd_root):
    splits = DataSpec("fsdd", str(fsdd_root)).splits()
    assert len(splits.train) + len(splits.validation) == len(splits.all_train) == 2700
    assert len(splits.validation) == 240
    paths = {r.path for r in splits.validation}
    assert not paths & {r.path for r in splits.test}
    assert not paths & {r.path for r in splits.train}
    assert Counter(r.speaker for r in splits.validation) == Counter(
        {s: 40 for s in {r.speaker for r in splits.test}}
    )


def test_runs_recorded_before_the_carve_keep_the_test_split_as_validation(fsdd_root):
    old = {"format": 2, "data": {"dataset": "fsdd", "root": str(fsdd_root)}, "training": {}}
    spec = RunSpec.from_json(old)
    assert spec.data.validation_fraction is None
    assert spec.training.selection == "last"
    assert spec.data.splits().validation == spec.data.splits().test
    # resuming such a run with today's defaults changes its split: refused by name
    assert "data.validation_fraction" in changed_settings(old, RunSpec())
    # a new run may validate on nothing, never on the test split
    assert DataSpec("fsdd", str(fsdd_root), validation_fraction=0.0).splits().validation == []


# --------------------------------------------------------------------------- the calibrated scale


def model_and_data():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=3)
    return model, random_batches(n=24, batch_size=8, seed=5)


def test_the_held_out_scale_is_each_bins_rms_residual_and_scores_as_the_likelihood_does():
    model, data = model_and_data()
    bound = held_out_bound(model, data, seed=7)
    again = held_out_bound(model, data, seed=7)
    assert bound.neg_elbo == again.neg_elbo  # the same draws, no generator moved
    residuals, terms = [], []
    for i, batch in enumerate(data):
        x = batch["spectrogram"]
        seed = tf.constant([7, i], tf.int32)
        z = model.encode(x).sample(1, seed=seed)[0]
        loc = model.decode(z).mean()
        residuals.append((x - loc).numpy())
        terms.append((x, z))
    rms = np.sqrt(np.mean(np.square(np.concatenate(residuals)), axis=(0, 2, 3)))
    np.testing.assert_allclose(bound.scale, np.maximum(rms, 0.05), rtol=1e-5)
    # the same nats as TFP's Normal with that scale
    scale = tf.constant(bound.scale.reshape(-1, 1, 1), tf.float32)
    nll = [-tfp_normal(model.decode(z).mean(), scale).log_prob(x).numpy() for x, z in terms]
    np.testing.assert_allclose(bound.nll, np.mean(np.concatenate(nll)), rtol=1e-4)
    # and the maximum-likelihood scale: the running scale (1.0 untrained) scores worse
    plain = held_out_bound_with_scale(model, terms, model.decoder.running_scale)
    assert bound.nll < plain


def tfp_normal(loc, scale):
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    return tfd.Independent(tfd.Normal(loc, scale), 3)


def held_out_bound_with_scale(model, terms, scale) -> float:
    return float(
        np.mean(
            np.concatenate(
                [-tfp_normal(model.decode(z).mean(), scale).log_prob(x).numpy() for x, z in terms]
            )
        )
    )


def test_a_calibrated_scale_is_saved_with_the_model_and_scores_every_later_bound(tmp_path):
    model, data = model_and_data()
    bound = calibrate_scale(model, data, seed=1)
    np.testing.assert_allclose(model.decoder.running_scale.numpy().ravel(), bound.scale, rtol=1e-6)
    assert model.decoder.scale_calibration["split"] == "validation"
    assert model.decoder.scale_calibration["clips"] == 24
    save_model(model, tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.decoder.scale_calibration == model.decoder.scale_calibration
    np.testing.assert_array_equal(
        loaded.decoder.running_scale.numpy(), model.decoder.running_scale.numpy()
    )


def test_a_decoder_with_a_learned_scale_is_scored_as_it_is_and_left_alone():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=3, decoder_scale="bin")
    data = random_batches(n=8, batch_size=8)
    bound = calibrate_scale(model, data)
    assert bound.scale is None and model.decoder.scale_calibration is None
    x = next(iter(data))["spectrogram"]
    expected = model.elbo_terms(x, seed=(0, 0))["neg_elbo"].numpy().mean()
    assert bound.neg_elbo == pytest.approx(float(expected), rel=1e-5)


# --------------------------------------------------------------------------- training


def held_out_record(run_dir) -> dict:
    return json.loads((run_dir / HELD_OUT).read_text())


def test_training_logs_the_held_out_bound_keeps_the_best_epoch_and_calibrates(tmp_path):
    model, validation = model_and_data()
    history = train(
        model, random_batches(), tmp_path, epochs=3, validation_data=validation, verbose=0
    )
    values = history.history["val_neg_elbo"]
    assert len(values) == 3 and all(math.isfinite(v) for v in values)
    record = held_out_record(tmp_path)
    best = int(np.argmin(values)) + 1
    assert record["selection"] == "last" and record["epoch"] == 3
    assert record["best"] == {"epoch": best, "val_neg_elbo": min(values)}
    assert record["last"] == {"epoch": 3, "val_neg_elbo": values[-1]}
    assert record["calibrated"]["clips"] == 24
    assert tf.train.latest_checkpoint(tmp_path / BEST).endswith(f"ckpt-{best}")
    saved = load_model(tmp_path / "model.keras")
    assert saved.decoder.scale_calibration["clips"] == 24


def test_selection_best_ends_on_the_best_epochs_weights(tmp_path):
    model, validation = model_and_data()
    train(
        model,
        random_batches(),
        tmp_path,
        epochs=3,
        validation_data=validation,
        selection="best",
        verbose=0,
    )
    record = held_out_record(tmp_path)
    assert record["selection"] == "best" and record["epoch"] == record["best"]["epoch"]
    best, _ = model_and_data()
    weights_checkpoint(best).restore(tf.train.latest_checkpoint(tmp_path / BEST)).assert_consumed()
    for a, b in zip(best.encoder.get_weights(), model.encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    last, _ = model_and_data()
    last_epoch = tf.train.latest_checkpoint(tmp_path / "checkpoints")
    tf.train.Checkpoint(model=last).restore(last_epoch).expect_partial()
    if record["best"]["epoch"] != 3:  # the last epoch's weights are not what it ended on
        assert any(
            not np.array_equal(a, b)
            for a, b in zip(last.encoder.get_weights(), model.encoder.get_weights(), strict=True)
        )


def test_selection_best_needs_validation_data(tmp_path):
    model, _ = model_and_data()
    with pytest.raises(ValueError, match="validation_data"):
        train(model, random_batches(), tmp_path, epochs=1, selection="best", verbose=0)


def test_a_resumed_run_remembers_the_best_epoch_of_its_first_part(tmp_path):
    model, validation = model_and_data()
    train(model, random_batches(), tmp_path, epochs=1, validation_data=validation, verbose=0)
    first = held_out_record(tmp_path)["best"]
    resumed, _ = model_and_data()
    train(resumed, random_batches(), tmp_path, epochs=2, validation_data=validation, verbose=0)
    record = held_out_record(tmp_path)
    assert record["best"]["val_neg_elbo"] <= first["val_neg_elbo"]
    assert record["last"]["epoch"] == 2


def test_a_run_killed_before_keeping_its_best_epoch_keeps_it_when_resumed(tmp_path, monkeypatch):
    """Stopped after epoch 2's checkpoint but before its best weights were written: resumed, it
    holds epoch 2's weights and writes them, so the best checkpoint is the best epoch's."""
    model, validation = model_and_data()
    keep = KeepBest.on_epoch_end

    def stop_at_epoch_two(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        keep(self, epoch, logs)

    monkeypatch.setattr(KeepBest, "on_epoch_end", stop_at_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(model, random_batches(), tmp_path, epochs=3, validation_data=validation,
              lr_schedule="constant", verbose=0)  # fmt: skip
    monkeypatch.undo()
    with open(tmp_path / "history.csv") as f:
        bounds = [float(row["val_neg_elbo"]) for row in csv.DictReader(f)]
    assert len(bounds) == 2 and bounds[1] < bounds[0]  # epoch 2 was the best, and not kept
    assert tf.train.latest_checkpoint(tmp_path / BEST).endswith("ckpt-1")
    resumed, _ = model_and_data()
    train(resumed, random_batches(), tmp_path, epochs=3, validation_data=validation,
          lr_schedule="constant", selection="best", verbose=0)  # fmt: skip
    best = held_out_record(tmp_path)["best"]["epoch"]
    assert tf.train.latest_checkpoint(tmp_path / BEST).endswith(f"ckpt-{best}")
    assert best >= 2
