"""Evaluation: the scores against closed forms, and every audio figure on tiny models and real clips."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

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

tfd = tfp.distributions


@pytest.fixture(scope="module")
def clips(fsdd_root):
    """20 real test clips, 2 of every digit, trimmed to the tiny config: ``[20, 2048]``, ``[20]``."""
    test = fsdd.records(fsdd_root, "test")
    records = [r for d in range(10) for r in [r for r in test if r.digit == d][:2]]
    return load_waveforms(records, TINY_CONFIG)


@pytest.fixture(scope="module")
def judge():
    """An untrained judge: for figures whose plumbing, not values, is under test."""
    return Judge(build_judge(num_samples=2048, seed=0))


class StubJudge(Judge):
    """A judge whose answers are known: row ``i`` of any call is heard as ``heard[i]``.

    Features are ``real_features`` for the clips it was told are real, and those plus ``shift``
    for any other clips, so a Fréchet distance to the real clips is exactly ``|shift|^2``.
    `predict` and `accuracy` are `Judge`'s own.
    """

    def __init__(self, heard, real_waves, real_features, shift):
        self.heard = np.asarray(heard)
        self.real_waves, self.real_features = real_waves, real_features
        self.shift = np.asarray(shift, np.float64)
        self.calls = []  # the shapes of the clips it was asked about

    @property
    def num_samples(self):
        return TINY_CONFIG.num_samples

    @property
    def num_classes(self):
        return 10

    def predict_proba(self, waves):
        self.calls.append(np.shape(waves))
        return np.eye(10)[self.heard[: len(waves)]]

    def features(self, waves):
        if np.array_equal(waves, self.real_waves):
            return self.real_features
        return self.real_features[: len(waves)] + self.shift


def entropy(histogram):
    p = np.asarray(histogram, np.float64)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


# --------------------------------------------------------------------------- scores


def test_inception_score_is_the_number_of_classes_for_confident_even_predictions():
    assert inception_score(np.tile(np.eye(10), (3, 1))) == pytest.approx(10.0)
    assert inception_score(np.full((7, 10), 0.1)) == pytest.approx(1.0)
    assert inception_score(np.tile(np.eye(10)[4], (5, 1))) == pytest.approx(1.0)
    two_classes = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert inception_score(two_classes) == pytest.approx(1.0)  # zeros are 0 log 0 = 0
    for k in (2, 3, 7):  # confident predictions spread evenly over k of 10 classes: exactly k
        assert inception_score(np.eye(10)[np.arange(4 * k) % k]) == pytest.approx(k)
    # confident but uneven (counts 1, 1, 2): exp of the entropy of the class histogram
    uneven = np.eye(3)[[0, 1, 2, 2]]
    assert inception_score(uneven) == pytest.approx(math.exp(entropy([0.25, 0.25, 0.5])))
    # half the rows (a, 1 - a), half (1 - a, a): p(y) is even, so IS = exp(log 2 - H(a))
    a = 0.8
    mixture = np.array([[a, 1 - a], [1 - a, a]] * 3)
    closed_form = math.exp(a * math.log(2 * a) + (1 - a) * math.log(2 * (1 - a)))
    assert inception_score(mixture) == pytest.approx(closed_form, rel=1e-12)
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


def test_frechet_distance_of_non_commuting_gaussians_and_of_samples_matches_the_closed_form():
    # in 2-D, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) with M = A^1/2 B A^1/2: tr(AB), det A det B
    cov_a = np.array([[2.0, 0.9], [0.9, 1.0]])
    cov_b = np.array([[0.5, -0.3], [-0.3, 3.0]])
    mean_a, mean_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    trace_sqrt = math.sqrt(
        np.trace(cov_a @ cov_b) + 2 * math.sqrt(np.linalg.det(cov_a) * np.linalg.det(cov_b))
    )
    closed_form = 8.0 + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    assert gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(closed_form)
    assert closed_form > 8.0  # the covariances differ, on top of the means' |dm|^2 = 8

    # fitted to large samples, the estimate approaches the same figure
    rng = np.random.default_rng(3)
    a = rng.multivariate_normal(mean_a, cov_a, size=20_000)
    b = rng.multivariate_normal(mean_b, cov_b, size=20_000)
    assert frechet_distance(a, b) == pytest.approx(closed_form, rel=0.02)
    # two samples of one Gaussian: zero up to the small-sample bias; a known shift adds |dm|^2
    a2 = rng.multivariate_normal(mean_a, cov_a, size=20_000)
    assert frechet_distance(a, a2) < 0.01
    shifted = [frechet_distance(a, a2 + step * np.ones(2)) for step in (0.5, 1.0, 2.0)]
    assert shifted == pytest.approx([0.5, 2.0, 8.0], rel=0.02, abs=0.02)  # |dm|^2 = 2 step^2


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


def latents_at(model, monkeypatch):
    """Makes ``model.encode`` read the posterior mean straight from the input: a dataset whose
    "spectrogram" is ``points`` ``[n, latent]`` then has its clips exactly at those latents."""
    monkeypatch.setattr(model, "encode", lambda z: tfp.distributions.MultivariateNormalDiag(loc=z))


def separated_mixture(variant):
    """A 10-component mixture with means 5 apart (5 e_k in 10-D) and unit scales."""
    model = build_vae(TINY_CONFIG, variant, latent_dim=10, components_per_class=1)
    model.prior.means.assign(5.0 * np.eye(10, dtype="float32"))
    return model


def test_latents_at_the_conditional_components_are_assigned_to_their_digits(monkeypatch):
    model = separated_mixture("conditional")
    latents_at(model, monkeypatch)
    components = np.repeat(np.arange(10), 3)  # 3 clips at each component k, with digit k
    z = model.prior.means.numpy()[components]
    data = tf.data.Dataset.from_tensor_slices(
        {"spectrogram": z, "label": components.astype("int32")}
    ).batch(7)
    result = metrics.mixture_assignment(model, data)
    assert result["assignment"] == components.tolist()
    np.testing.assert_array_equal(result["confusion"], 3 * np.eye(10, dtype=int))
    assert result["component_class"] == list(range(10))
    assert result["accuracy"] == 1.0 and result["label_accuracy"] == 1.0
    assert result["components_used"] == 10


def test_mixture_assignment_names_components_by_their_majority_digit(monkeypatch):
    model = separated_mixture("mog")
    latents_at(model, monkeypatch)
    # components 0-8 get 3 clips of digit (k + 3) % 10 each; component 9 none; component 0 one
    # more clip, of digit 5 (a mistake); component 4 one clip without a digit (-1)
    components = np.concatenate([np.repeat(np.arange(9), 3), [0, 4]])
    digits = np.concatenate([(np.repeat(np.arange(9), 3) + 3) % 10, [5, -1]]).astype("int32")
    z = model.prior.means.numpy()[components]
    data = tf.data.Dataset.from_tensor_slices({"spectrogram": z, "label": digits}).batch(8)
    result = metrics.mixture_assignment(model, data)
    assert result["assignment"] == components.tolist()
    expected = np.zeros((10, 10), int)
    for k in range(9):
        expected[k, (k + 3) % 10] = 3
    expected[0, 5] = 1
    np.testing.assert_array_equal(result["confusion"], expected)  # the -1 clip is not counted
    assert result["component_class"] == [(k + 3) % 10 for k in range(9)] + [-1]
    assert result["accuracy"] == pytest.approx(27 / 28)  # every clip but the mistake
    assert result["components_used"] == 9
    assert "label_accuracy" not in result  # components of an unsupervised mixture have no digit
    with pytest.raises(TypeError, match="mixture prior"):
        metrics.mixture_assignment(build_vae(TINY_CONFIG, "standard", latent_dim=4), data)


def test_mixture_assignment_through_the_real_encoder(monkeypatch):
    """An encoder that ignores its input puts all 40 clips (4 of each digit) on component 3."""
    model = separated_mixture("mog")
    kernel, bias = model.encoder.to_params.get_weights()  # [features, 2 * latent], [2 * latent]
    kernel[:, :10] = 0.0
    bias[:10] = model.prior.means.numpy()[3]
    model.encoder.to_params.set_weights([kernel, bias])
    result = metrics.mixture_assignment(model, random_batches(n=40))
    assert result["assignment"] == [3] * 40
    assert result["confusion"][3] == [4] * 10
    assert result["components_used"] == 1
    assert result["accuracy"] == pytest.approx(0.1)  # one component for ten digits


# --------------------------------------------------------------------------- audio


def test_reconstruction_metrics_measure_against_the_original_clips_and_hear_labelled_ones(
    clips, fsdd_root, monkeypatch
):
    waves, _ = clips
    waves = waves[::5]  # 4 clips, of digits 0, 2, 5 and 7
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    untrained = metrics.reconstruction_metrics(model, (waves, np.zeros(4)), n_iter=16)
    assert untrained["examples"] == 4
    assert all(math.isfinite(v) for v in untrained.values())
    # a model that gives back its input exactly (z is x, p(x | z) a Normal at z with a negligible
    # scale): only Griffin-Lim's phase error is left. Its "latents" are spectrograms, which no
    # prior scores, so it is measured at the posterior mean (refine_steps=0)
    monkeypatch.setattr(model, "posterior", lambda x: tfd.Independent(tfd.Deterministic(x), 3))
    monkeypatch.setattr(model, "decode", lambda z: tfd.Independent(tfd.Normal(z, 1e-4), 3))
    at_mean = {"refine_steps": 0}
    perfect = metrics.reconstruction_metrics(model, (waves, np.zeros(4)), n_iter=16, **at_mean)
    assert perfect["spectral_convergence"] < 0.5 * untrained["spectral_convergence"]
    assert perfect["log_spectral_distance_db"] < 0.5 * untrained["log_spectral_distance_db"]
    # the judge hears only the clips with a known digit: rows 0, 1, 2 heard as 0, 1, 2
    stub = StubJudge(np.arange(10), waves, np.zeros((4, 2)), [0.0, 0.0])
    heard = metrics.reconstruction_metrics(
        model, (waves, [0, 1, 7, -1]), judge=stub, n_iter=2, **at_mean
    )
    assert heard["judge_accuracy"] == pytest.approx(2 / 3)
    assert stub.calls == [(3, TINY_CONFIG.num_samples)]

    records = [r for d in range(2) for r in fsdd.records(fsdd_root, "test") if r.digit == d][::5]
    dataset = waveform_dataset(records[:4], TINY_CONFIG)  # unbatched
    array_data = load_waveforms(records[:4], TINY_CONFIG)
    assert metrics.reconstruction_metrics(model, dataset, n_iter=4, **at_mean) == pytest.approx(
        metrics.reconstruction_metrics(model, array_data, n_iter=4, **at_mean)
    )


def test_generation_and_ceiling_figures_are_what_a_known_judge_gives(clips):
    waves, _ = clips  # 20 real clips
    heard = np.arange(20) % 10
    heard[heard == 3] = 4  # the judge hears every 3 as a 4, everything else right
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20, 3))
    real[1::2] = real[0::2] + [0.0, 2.0, 0.0]  # odd clips: the even ones moved by |(0, 2, 0)|
    stub = StubJudge(heard, waves, real, shift=[1.0, -1.0, 0.5])  # others: |shift|^2 = 2.25
    histogram = [0.1, 0.1, 0.1, 0.0, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]
    score = math.exp(entropy(histogram))  # one-hot predictions: IS = exp H(p(y))

    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    class_means = class_mean_latents(model, random_batches(n=20))
    result = metrics.generation_metrics(model, stub, waves, n=20, class_means=class_means, n_iter=2)
    assert result["samples"] == 20
    for part in ("unconditional", "conditional"):
        assert result[part]["inception_score"] == pytest.approx(score)
        assert result[part]["frechet_distance"] == pytest.approx(2.25, abs=1e-9)
        assert result[part]["class_histogram"] == pytest.approx(histogram)
    conditional = result["conditional"]
    assert conditional["route"] == "class-mean"
    assert conditional["accuracy"] == pytest.approx(0.9)  # digits asked: 0-9 twice
    assert conditional["per_class_accuracy"] == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert (20, TINY_CONFIG.num_samples) in stub.calls  # the judge heard 20 generated clips
    no_route = metrics.generation_metrics(model, stub, waves, n=10, n_iter=2)
    assert no_route["conditional"] is None

    digits = np.arange(20) % 10  # the digits the real clips are said to hold
    ceiling = metrics.real_audio_ceiling(stub, waves, digits)
    assert ceiling["accuracy"] == pytest.approx(0.9)
    assert ceiling["inception_score"] == pytest.approx(score)
    assert ceiling["class_histogram"] == pytest.approx(histogram)
    assert ceiling["frechet_between"] == "test halves"
    assert ceiling["frechet_distance"] == pytest.approx(4.0, abs=1e-9)  # even vs odd clips
    across = metrics.real_audio_ceiling(stub, waves, digits, train_waves=waves[::-1])
    assert across["frechet_between"] == "train vs test"
    assert across["frechet_distance"] == pytest.approx(2.25, abs=1e-9)


def test_evaluate_returns_json_ready_figures_for_a_mixture_model(clips, judge):
    waves, digits = clips
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4)
    started = time.perf_counter()
    result = metrics.evaluate(model, waves, digits, judge, k=3, n_samples=10, n_iter=2)
    elapsed = time.perf_counter() - started
    json.dumps(result)  # plain floats, ints and lists only
    assert set(result) == {
        "likelihood",
        "active_units",
        "latent_dim",
        "reconstruction",
        "generation",
        "real_audio",
        "mixture",
        "seconds",
    }
    stages = result["seconds"]  # each stage's wall time, within the call's
    assert set(stages) == {"likelihood", "reconstruction", "generation", "rest"}
    assert all(t > 0 for t in stages.values()) and sum(stages.values()) <= elapsed
    assert result["generation"]["conditional"]["route"] == "prior"
    assert "assignment" not in result["mixture"]
    assert result["likelihood"]["examples"] == 20
