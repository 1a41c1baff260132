"""Evaluation: the scores against closed forms, and every audio figure on tiny models and real clips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.pipeline import load_waveforms, waveform_dataset
from tfp_audio_vae.evaluation import metrics
from tfp_audio_vae.evaluation.judge import Judge, build_judge
from tfp_audio_vae.evaluation.metrics import active_units
from tfp_audio_vae.evaluation.scores import (
    frechet_distance,
    gaussian_frechet_distance,
    inception_score,
)
from tfp_audio_vae.models.latents import class_mean_latents, encode_dataset
from tfp_audio_vae.models.variants import build_vae


@pytest.fixture(scope="module")
def clips(fsdd_root):
    """20 real test clips, 2 of every digit, trimmed to the tiny config: ``[20, 2048]``, ``[20]``."""
    test = fsdd.records(fsdd_root, "test")
    records = [r for d in range(10) for r in [r for r in test if r.digit == d][:2]]
    return load_waveforms(records, TINY_CONFIG)


@pytest.fixture(scope="module")
def judge():
    """An untrained judge: the figures' plumbing, not their values, is under test here."""
    return Judge(build_judge(num_samples=2048, seed=0))


# --------------------------------------------------------------------------- scores


def test_inception_score_is_the_number_of_classes_for_confident_even_predictions():
    assert inception_score(np.tile(np.eye(10), (3, 1))) == pytest.approx(10.0)
    assert inception_score(np.full((7, 10), 0.1)) == pytest.approx(1.0)
    assert inception_score(np.tile(np.eye(10)[4], (5, 1))) == pytest.approx(1.0)
    two_classes = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert inception_score(two_classes) == pytest.approx(1.0)  # zeros are 0 log 0 = 0
    with pytest.raises(ValueError, match="probability"):
        inception_score(np.full((2, 10), 0.2))


def test_frechet_distance_of_a_set_with_itself_is_zero_and_of_a_shifted_copy_the_shift_squared():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))  # correlated features
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.25])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-8)


def test_frechet_distance_is_symmetric_and_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 5)), 2.0 * rng.normal(size=(200, 5)) + 1.0
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mean_a, mean_b = np.zeros(3), np.array([1.0, 1.0, 0.0])
    closed_form = 2.0 + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)  # |dm|^2 + sum (s_a - s_b)^2
    assert gaussian_frechet_distance(
        mean_a, np.diag(var_a), mean_b, np.diag(var_b)
    ) == pytest.approx(closed_form)
    with pytest.raises(ValueError, match="2 rows"):
        frechet_distance(a[:1], b)


def test_frechet_distance_survives_singular_covariances():
    rng = np.random.default_rng(2)
    a = np.zeros((50, 8))
    a[:, :2] = rng.normal(size=(50, 2))  # rank 2 in 8 dimensions
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert math.isfinite(frechet_distance(a[:5], rng.normal(size=(40, 8))))


# --------------------------------------------------------------------------- latents and bounds


def test_active_units_counts_only_dimensions_whose_posterior_mean_moves():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=8)
    kernel, bias = model.encoder.to_params.get_weights()  # [features, 2 * latent], [2 * latent]
    kernel[:, :3] = 0.0  # the posterior means of z_0..z_2 ignore x: inactive
    kernel[:, 3:8] *= 100.0  # the other five follow x closely
    model.encoder.to_params.set_weights([kernel, bias])
    data = random_batches(n=32)
    assert active_units(model, data) == 5
    assert active_units(model, data, threshold=np.inf) == 0
    means = encode_dataset(model, data)["mean"]
    assert means.shape == (32, 8)
    np.testing.assert_allclose(means[:, :3], np.tile(bias[:3], (32, 1)), atol=1e-5)


def test_likelihood_reports_consistent_bounds_with_iwae_at_least_the_elbo():
    tf.random.set_seed(0)
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    result = metrics.likelihood(model, random_batches(n=32), k=20)
    assert result["examples"] == 32 and result["k"] == 20
    assert result["neg_iwae"] <= result["neg_elbo"]  # log p(x) >= IWAE >= ELBO, on average
    assert result["neg_elbo"] == pytest.approx(result["nll"] + result["kl"], rel=1e-6)
    dims = 128 * 32
    assert result["bits_per_dim_elbo"] == pytest.approx(result["neg_elbo"] / (dims * math.log(2)))
    assert result["bits_per_dim_iwae"] == pytest.approx(result["neg_iwae"] / (dims * math.log(2)))


def test_mixture_assignment_tabulates_components_against_digits():
    data = random_batches(n=40)
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4)
    result = metrics.mixture_assignment(model, data)
    confusion = np.array(result["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 40
    assert len(result["assignment"]) == 40
    assert 0.1 <= result["accuracy"] <= 1.0  # majority mapping: at least the largest digit's share
    assert 0.0 <= result["label_accuracy"] <= result["accuracy"]
    assert result["components_used"] == int(np.sum(confusion.sum(axis=1) > 0))
    with pytest.raises(TypeError, match="mixture prior"):
        metrics.mixture_assignment(build_vae(TINY_CONFIG, "standard", latent_dim=4), data)


# --------------------------------------------------------------------------- audio


def test_reconstruction_metrics_on_real_clips_are_finite_and_agree_for_arrays_and_datasets(
    clips, judge, fsdd_root
):
    waves, digits = clips
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    from_arrays = metrics.reconstruction_metrics(model, (waves[:4], digits[:4]), judge=judge)
    assert from_arrays["examples"] == 4
    assert all(math.isfinite(v) for v in from_arrays.values())
    assert from_arrays["spectral_convergence"] > 0 and from_arrays["log_spectral_distance_db"] > 0
    assert 0.0 <= from_arrays["judge_accuracy"] <= 1.0
    records = [r for d in range(2) for r in fsdd.records(fsdd_root, "test") if r.digit == d][::5]
    dataset = waveform_dataset(records[:4], TINY_CONFIG)  # unbatched
    array_data = load_waveforms(records[:4], TINY_CONFIG)
    assert metrics.reconstruction_metrics(model, dataset) == pytest.approx(
        metrics.reconstruction_metrics(model, array_data)
    )


def test_generation_and_ceiling_figures_are_complete(clips, judge):
    waves, digits = clips
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    class_means = class_mean_latents(model, random_batches(n=20))
    result = metrics.generation_metrics(
        model, judge, waves, n=20, class_means=class_means, n_iter=2
    )
    for part in ("unconditional", "conditional"):
        assert 1.0 <= result[part]["inception_score"] <= 10.0
        assert result[part]["frechet_distance"] >= 0
        assert sum(result[part]["digit_histogram"]) == pytest.approx(1.0)
    assert result["conditional"]["route"] == "class-mean"
    assert len(result["conditional"]["per_digit_accuracy"]) == 10
    no_route = metrics.generation_metrics(model, judge, waves, n=10, n_iter=2)
    assert no_route["conditional"] is None
    ceiling = metrics.real_audio_ceiling(judge, waves, digits)
    assert ceiling["frechet_between"] == "test halves"
    assert 0.0 <= ceiling["accuracy"] <= 1.0
    across = metrics.real_audio_ceiling(judge, waves, digits, train_waves=waves[::-1])
    assert across["frechet_between"] == "train vs test"


def test_evaluate_returns_json_ready_figures_for_a_mixture_model(clips, judge):
    waves, digits = clips
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4)
    result = metrics.evaluate(model, waves, digits, judge, k=3, n_samples=10, n_iter=2)
    json.dumps(result)  # plain floats, ints and lists only
    assert set(result) == {
        "likelihood",
        "active_units",
        "latent_dim",
        "reconstruction",
        "generation",
        "real_audio",
        "mixture",
    }
    assert result["generation"]["conditional"]["route"] == "prior"
    assert "assignment" not in result["mixture"]
    assert result["likelihood"]["examples"] == 20
