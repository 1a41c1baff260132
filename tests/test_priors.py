"""Priors: distributions, shapes, serialisation, and that their weights really train."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.models import priors
from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior, Prior, StandardNormalPrior

tfd = tfp.distributions


def test_standard_normal_log_prob_is_the_closed_form():
    prior = StandardNormalPrior(latent_dim=3)
    z = tf.constant([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    expected = -0.5 * np.sum(z.numpy() ** 2, axis=-1) - 1.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(prior.log_prob(z).numpy(), expected, rtol=1e-6)
    assert prior.distribution().event_shape == [3]
    assert prior.sample(5, seed=1).shape == (5, 3)


def test_mixture_is_a_mixture_same_family_with_separated_components():
    prior = MixtureOfGaussiansPrior(latent_dim=16, num_components=10, seed=0)
    dist = prior.distribution()
    assert isinstance(dist, tfd.MixtureSameFamily)
    assert dist.event_shape == [16]
    means = prior.means.numpy()
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(10, 1)]
    assert gaps.min() > 2.0  # several component scales (1.0) apart
    np.testing.assert_allclose(prior.scales.numpy(), 1.0 + 1e-3, rtol=1e-5)


def test_mixture_log_prob_matches_manual_logsumexp():
    prior = MixtureOfGaussiansPrior(latent_dim=4, num_components=3, seed=2)
    z = tf.random.stateless_normal([7, 4], seed=[1, 2])
    components = tfd.MultivariateNormalDiag(prior.means, prior.scales)
    manual = tf.reduce_logsumexp(
        components.log_prob(z[:, None, :]) + tf.nn.log_softmax(prior.logits), axis=-1
    )
    np.testing.assert_allclose(prior.log_prob(z).numpy(), manual.numpy(), rtol=1e-5)


def test_distribution_is_rebuilt_from_current_weights():
    prior = MixtureOfGaussiansPrior(latent_dim=2, num_components=2)
    before = prior.distribution().mean().numpy()
    prior.means.assign(prior.means + 5.0)
    np.testing.assert_allclose(prior.distribution().mean().numpy(), before + 5.0, rtol=1e-5)


def test_conditional_mixture_returns_the_labelled_components():
    prior = MixtureOfGaussiansPrior(latent_dim=3, num_components=10, conditional=True)
    labels = tf.constant([0, 7, 7])
    dist = prior.distribution(labels)
    assert dist.batch_shape == [3]
    np.testing.assert_allclose(dist.mean().numpy(), tf.gather(prior.means, labels).numpy())
    assert isinstance(prior.distribution(), tfd.MixtureSameFamily)
    assert prior.sample(3, labels=labels, seed=0).shape == (3, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label"):
        prior.distribution(tf.constant([10]))


def test_priors_round_trip_through_keras_config():
    prior = MixtureOfGaussiansPrior(latent_dim=5, num_components=4, conditional=True, seed=3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(prior))
    assert isinstance(restored, MixtureOfGaussiansPrior)
    assert (restored.latent_dim, restored.num_components, restored.conditional) == (5, 4, True)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="latent_dim"):
        StandardNormalPrior(latent_dim=0)
    with pytest.raises(ValueError, match="num_components"):
        MixtureOfGaussiansPrior(latent_dim=2, num_components=0)
    with pytest.raises(NotImplementedError, match="distribution"):
        Prior(latent_dim=2).distribution()


def test_a_conditional_mixture_with_several_components_per_class():
    prior = MixtureOfGaussiansPrior(
        latent_dim=2, num_components=6, conditional=True, components_per_class=3, seed=1
    )
    assert prior.num_classes == 2
    assert prior.component_classes.numpy().tolist() == [0, 0, 0, 1, 1, 1]
    prior.logits.assign([0.0, 1.0, 2.0, 5.0, 5.0, 5.0])
    given = prior.distribution(tf.constant([1, 0]))
    assert isinstance(given, tfd.MixtureSameFamily) and given.batch_shape == [2]
    np.testing.assert_allclose(
        given.components_distribution.mean().numpy()[0], prior.means.numpy()[3:]
    )
    # the marginal weighs the two classes equally, whatever the logits within them
    weights = tf.nn.softmax(prior.mixture_logits).numpy()
    np.testing.assert_allclose([weights[:3].sum(), weights[3:].sum()], [0.5, 0.5], rtol=1e-6)
    # near temperature 0 every draw sits on the mean of the component it came from: class 0's
    # components, picked with class 0's weights
    draws = prior.sample(2000, labels=tf.fill([2000], 0), temperature=1e-4, seed=(3, 4)).numpy()
    nearest = np.argmin(((draws[:, None] - prior.means.numpy()) ** 2).sum(-1), axis=1)  # [2000]
    assert set(nearest) <= {0, 1, 2}
    np.testing.assert_allclose(
        np.bincount(nearest, minlength=3) / 2000, tf.nn.softmax([0.0, 1.0, 2.0]), atol=0.04
    )
    assert prior.sample(4, labels=tf.constant([0, 1, 0, 1]), seed=(1, 2)).shape == (4, 2)
    with pytest.raises(ValueError, match="divide"):
        MixtureOfGaussiansPrior(
            latent_dim=2, num_components=5, conditional=True, components_per_class=2
        )


def test_fit_to_posteriors_moment_matches_one_component_per_class():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    means = rng.normal(size=(100, 3)) + np.where(labels[:, None] == 0, -4.0, 4.0)
    stddevs = np.full((100, 3), 0.5)
    prior = MixtureOfGaussiansPrior(latent_dim=3, num_components=2, conditional=True)
    prior.fit_to_posteriors(means, stddevs, labels)
    for c in (0, 1):
        group = means[labels == c]
        np.testing.assert_allclose(prior.means.numpy()[c], group.mean(axis=0), rtol=1e-5)
        # the aggregate posterior's variance: spread of the means plus the posterior variance
        expected = np.sqrt(group.var(axis=0) + 0.25)
        np.testing.assert_allclose(prior.scales.numpy()[c], expected, rtol=1e-3)
    with pytest.raises(ValueError, match="labels"):
        prior.fit_to_posteriors(means, stddevs)


def test_fit_to_posteriors_finds_the_clusters_by_em():
    rng = np.random.default_rng(1)
    centres = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    truth = rng.integers(0, 3, size=600)
    means = centres[truth] + rng.normal(scale=0.5, size=(600, 2))
    prior = MixtureOfGaussiansPrior(latent_dim=2, num_components=3, seed=0)
    prior.fit_to_posteriors(means, np.full((600, 2), 0.1), iterations=100, seed=3)
    found = prior.means.numpy()
    nearest = np.min(np.linalg.norm(found[:, None] - centres[None], axis=-1), axis=0)
    assert np.all(nearest < 0.2), found
    weights = tf.nn.softmax(prior.mixture_logits).numpy()
    np.testing.assert_allclose(np.sort(weights), np.sort(np.bincount(truth) / 600), atol=0.02)


def test_em_over_posteriors_in_blocks_matches_em_over_all_at_once(monkeypatch):
    """The refit's EM works through blocks of `EM_CHUNK` posteriors (bounded memory for large
    sets); blocks of 64 give the fit of one block of all 600."""
    rng = np.random.default_rng(2)
    means, stddevs = rng.normal(size=(600, 4)), rng.uniform(0.1, 1.0, size=(600, 4))

    def fitted() -> list[np.ndarray]:
        prior = MixtureOfGaussiansPrior(latent_dim=4, num_components=5, seed=0)
        prior.fit_to_posteriors(means, stddevs, iterations=30, seed=1)
        return [prior.means.numpy(), prior.scales.numpy(), prior.mixture_logits.numpy()]

    whole = fitted()
    monkeypatch.setattr(priors, "EM_CHUNK", 64)
    for blocked, expected in zip(fitted(), whole, strict=True):
        np.testing.assert_allclose(blocked, expected, rtol=1e-5, atol=1e-6)
