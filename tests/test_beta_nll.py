"""β-NLL for a decoder that predicts each cell's scale: the training loss weighs each cell's
−log p by its stop-gradient σ^(2β); bounds and reported terms stay the plain likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train


def pixel_model(beta_nll: float):
    return build_vae(
        TINY_CONFIG, "standard", latent_dim=4, seed=3, decoder_scale="pixel", beta_nll=beta_nll
    )


def test_the_training_loss_weighs_each_cell_by_its_scale_and_the_reported_nll_does_not():
    model = pixel_model(0.5)
    x = next(iter(random_batches(n=4, batch_size=4)))["spectrogram"]
    terms = model.elbo_terms(x, seed=(1, 2), training=True)
    z = model.encode(x).sample(1, seed=tf.constant([1, 2]))  # the same draw as the terms'
    cells = model.decode(z[0]).distribution
    expected = -np.sum(cells.scale.numpy() * cells.log_prob(x).numpy(), axis=(1, 2, 3))
    np.testing.assert_allclose(terms["loss_nll"].numpy(), expected, rtol=1e-5)
    plain = -np.sum(cells.log_prob(x).numpy(), axis=(1, 2, 3))
    np.testing.assert_allclose(terms["nll"].numpy(), plain, rtol=1e-5)
    assert "loss_nll" not in model.elbo_terms(x, seed=(1, 2))  # bounds: the plain likelihood
    assert "loss_nll" not in pixel_model(0.0).elbo_terms(x, seed=(1, 2), training=True)


def test_a_beta_nll_model_trains_saves_and_loads(tmp_path):
    model = pixel_model(0.5)
    history = train(model, random_batches(), tmp_path, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    save_model(model, tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").beta_nll == 0.5


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_beta_nll_outside_zero_to_one_is_refused(value):
    with pytest.raises(ValueError, match="beta_nll"):
        pixel_model(value)
