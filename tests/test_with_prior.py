"""`variants.with_prior`: a trained network under another prior, fitted afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.latents import encode_dataset, fit_prior
from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior, StandardNormalPrior
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae, with_prior
from tfp_audio_vae.training.fit import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
    train(model, random_batches(), tmp_path_factory.mktemp("run"), epochs=2, verbose=0)
    return model


def test_the_network_is_shared_and_only_the_prior_changes(trained):
    prior = MixtureOfGaussiansPrior(4, num_components=10, conditional=True, seed=1)
    mixture = with_prior(trained, prior)
    assert mixture.encoder is trained.encoder and mixture.decoder is trained.decoder
    assert mixture.prior is prior and isinstance(trained.prior, StandardNormalPrior)
    x = next(iter(random_batches()))["spectrogram"]
    z = tf.zeros([2, 4])
    np.testing.assert_array_equal(mixture.encode(x).mean(), trained.encode(x).mean())
    np.testing.assert_array_equal(mixture.decode(z).mean(), trained.decode(z).mean())
    assert mixture.spectrogram_config == trained.spectrogram_config


def test_the_fitted_model_saves_and_loads_with_its_fitted_prior(trained, tmp_path):
    data = random_batches()
    mixture = with_prior(trained, MixtureOfGaussiansPrior(4, num_components=10, seed=1))
    fit_prior(mixture, data, seed=0)
    means = encode_dataset(trained, data)["mean"]  # [32, 4]
    # EM put the mixture where the posteriors are: its mean is theirs
    np.testing.assert_allclose(mixture.prior.distribution().mean(), means.mean(0), atol=1e-3)
    save_model(mixture, tmp_path / "fitted.keras")
    loaded = load_model(tmp_path / "fitted.keras")
    np.testing.assert_allclose(
        loaded.prior.log_prob(means), mixture.prior.log_prob(means), rtol=1e-5
    )
    np.testing.assert_allclose(
        loaded.decode(tf.zeros([1, 4])).mean(), trained.decode(tf.zeros([1, 4])).mean(), atol=1e-6
    )


def test_a_prior_of_another_size_is_refused(trained):
    with pytest.raises(ValueError, match="8 latent dimensions, the model 4"):
        with_prior(trained, StandardNormalPrior(8))
