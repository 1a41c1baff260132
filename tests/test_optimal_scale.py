"""The σ-VAE's calibrated decoder (``decoder_scale="optimal"``): the training likelihood's scale is
the batch's RMS error per bin, and the running scale that evaluation uses follows it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.decoders import OPTIMAL_SCALE_MOMENTUM, Conv1DDecoder
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train


def _decoder() -> Conv1DDecoder:
    decoder = Conv1DDecoder(TINY_CONFIG.shape, scale="optimal", scale_floor=0.05, seed=3)
    decoder.build((None, 4))
    return decoder


def test_calibrated_scale_is_the_batchs_rms_error_per_bin_and_maximises_the_likelihood():
    decoder = _decoder()
    likelihood = decoder(tf.random.stateless_normal([6, 4], seed=[1, 2]))
    loc = likelihood.mean()  # [6, freq, time, 1]
    bins = tf.range(TINY_CONFIG.shape[0], dtype=tf.float32)[:, None, None]  # [freq, 1, 1]
    noise = tf.random.stateless_normal(loc.shape, seed=[3, 4])
    x = loc + noise * (0.1 + 0.01 * bins)  # a different error in every bin
    calibrated = decoder.calibrated(likelihood, x)
    rms = np.sqrt(np.mean(np.square((x - loc).numpy()), axis=(0, 2, 3)))  # [freq]
    np.testing.assert_allclose(calibrated.distribution.scale.numpy().ravel(), rms, rtol=1e-5)
    np.testing.assert_array_equal(calibrated.mean().numpy(), loc.numpy())
    # the scale that maximises the batch's likelihood: 10% either way scores lower
    best = tf.reduce_sum(calibrated.log_prob(x))
    for factor in (0.9, 1.1):
        other = tf.reduce_sum(
            type(calibrated)(
                type(calibrated.distribution)(loc, calibrated.distribution.scale * factor), 3
            ).log_prob(x)
        )
        assert float(other) < float(best)


def test_calibrated_scale_is_floored_and_moves_the_running_scale_by_its_momentum():
    decoder = _decoder()
    likelihood = decoder(tf.zeros([2, 4]))
    x = likelihood.mean()  # a perfect reconstruction: RMS error 0
    calibrated = decoder.calibrated(likelihood, x)
    np.testing.assert_allclose(calibrated.distribution.scale.numpy(), 0.05)
    expected = OPTIMAL_SCALE_MOMENTUM * 1.0 + (1 - OPTIMAL_SCALE_MOMENTUM) * 0.05
    np.testing.assert_allclose(decoder.running_scale.numpy(), expected, rtol=1e-6)
    # outside training the likelihood uses the running scale
    np.testing.assert_allclose(decoder(tf.zeros([2, 4])).distribution.scale.numpy(), expected)


@pytest.mark.parametrize("scale", ["bin", "pixel", "global"])
def test_other_scales_are_not_calibrated(scale):
    decoder = Conv1DDecoder(TINY_CONFIG.shape, scale=scale, seed=3)
    decoder.build((None, 4))
    likelihood = decoder(tf.zeros([2, 4]))
    assert decoder.calibrated(likelihood, tf.ones([2, *TINY_CONFIG.shape])) is likelihood


def test_training_moves_the_running_scale_to_the_training_error_and_it_is_saved(tmp_path):
    model = build_vae(
        TINY_CONFIG, "standard", latent_dim=4, network="conv1d", decoder_scale="optimal", seed=0
    )
    data = random_batches(n=32, batch_size=16)
    train(model, data, tmp_path / "run", epochs=3, learning_rate=1e-3, seed=0, verbose=0)
    running = model.decoder.running_scale.numpy().ravel()  # [freq]
    # the data's spread grows with the bin (sqrt(bin) / 10): from its start, 1, the running scale
    # moves down in the low bins and up in the high ones, following the batches' errors
    spread = np.concatenate([b["spectrogram"].numpy() for b in data]).std(axis=(0, 2, 3))
    assert running[0] < 1.0 < running[-1]
    assert np.corrcoef(running, spread)[0, 1] > 0.9
    loaded = load_model(save_model(model, tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.decoder.running_scale.numpy().ravel(), running)
    x = next(iter(data))["spectrogram"]
    np.testing.assert_allclose(
        loaded.elbo(x, seed=(0, 1)).numpy(), model.elbo(x, seed=(0, 1)).numpy(), rtol=1e-6
    )
