"""The frequency-as-channels network (`Conv1DEncoder`, `Conv1DDecoder`) and the cosine schedule."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.models.decoders import Conv1DDecoder
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import learning_rate_schedule, train

tfd = tfp.distributions


@pytest.mark.parametrize("scale", ["bin", "pixel", "global", "optimal"])
def test_conv1d_network_keeps_the_distribution_types_and_round_trips(tmp_path, scale):
    model = build_vae(
        TINY_CONFIG, "conditional", latent_dim=4, network="conv1d", decoder_scale=scale
    )
    x = next(iter(random_batches(n=4, batch_size=4)))["spectrogram"]
    posterior = model.encode(x)
    assert isinstance(posterior, tfd.MultivariateNormalDiag)
    assert posterior.event_shape == (4,) and posterior.batch_shape == (4,)
    likelihood = model.decode(posterior.mean())
    assert isinstance(likelihood, tfd.Independent)
    assert likelihood.event_shape == TINY_CONFIG.shape and likelihood.batch_shape == (4,)
    assert np.all(np.isfinite(likelihood.log_prob(x).numpy()))
    loaded = load_model(save_model(model, tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.reconstruct(x).numpy(), model.reconstruct(x).numpy())


def test_conv1d_decoder_puts_each_frames_features_into_that_frames_spectrum():
    """A 1x1 map from features to bins: a change that reaches one frame changes only its column."""
    decoder = Conv1DDecoder(TINY_CONFIG.shape, filters=(8, 8, 8, 8), scale="pixel", seed=1)
    decoder.build((None, 4))
    h = tf.random.stateless_normal([1, 32, 8], seed=[0, 1])  # [batch, time, channels]
    frames = decoder.to_params(h)  # [1, 32, 2 * 128]
    moved = decoder.to_params(tf.tensor_scatter_nd_add(h, [[0, 5]], [tf.ones(8)]))
    changed = np.any(np.abs(moved.numpy() - frames.numpy()) > 0, axis=-1)[0]  # [time]
    assert changed.tolist() == [t == 5 for t in range(32)]
    # and the layout: loc is the first 128 channels of a frame, the raw scale the next 128
    params = tf.reshape(frames, [1, 32, 2, 128])
    dist = decoder.likelihood(tf.transpose(params, [0, 3, 1, 2]))
    np.testing.assert_allclose(dist.mean()[0, :, 5, 0], frames[0, 5, :128], rtol=1e-6)


@pytest.mark.parametrize("network", ["conv1d", "conv2d"])
def test_a_network_is_built_for_any_spectrogram_shape(network):
    """125 bins x 35 frames: neither side divisible by the strides' 2^L; the decoder's last
    block is cropped, so the likelihood covers exactly the spectrogram's cells."""
    config = SpectrogramConfig(
        sample_rate=11025, num_samples=2200, n_fft=250, hop_length=64,
        mean=(0.0,) * 125, std=(1.0,) * 125,
    )  # fmt: skip
    assert config.shape == (125, 35, 1)
    model = build_vae(config, "standard", latent_dim=4, network=network)
    x = tf.random.stateless_normal([2, *config.shape], seed=[0, 3])
    likelihood = model.decode(model.encode(x).mean())
    assert likelihood.event_shape == config.shape and likelihood.batch_shape == (2,)
    assert np.all(np.isfinite(likelihood.log_prob(x).numpy()))
    default = build_vae(TINY_CONFIG, "standard", latent_dim=4, network=network)
    assert model.count_params() != default.count_params()  # sized by the shape


def test_a_decoder_refuses_a_spectrogram_shape_with_channels():
    with pytest.raises(ValueError, match=r"\(freq, time, 1\)"):
        Conv1DDecoder((128, 32, 2))


def test_unknown_network_is_refused():
    with pytest.raises(ValueError, match="network"):
        build_vae(TINY_CONFIG, "standard", network="conv3d")


def test_cosine_schedule_warms_up_then_decays_to_zero(tmp_path):
    data = random_batches(n=32, batch_size=16)  # 2 steps per epoch
    schedule = learning_rate_schedule(2e-3, "cosine", data, epochs=5, warmup_epochs=1)
    rates = [float(schedule(step)) for step in range(11)]
    assert rates[0] == 0.0 and rates[2] == pytest.approx(2e-3)
    assert all(a >= b for a, b in zip(rates[2:], rates[3:], strict=False))
    assert rates[10] == pytest.approx(0.0, abs=1e-9)
    assert learning_rate_schedule(1e-3, "constant", data, epochs=5) == 1e-3
    unknown = data.filter(lambda batch: True)  # TensorFlow no longer knows its length
    counted = learning_rate_schedule(2e-3, "cosine", unknown, epochs=5, warmup_epochs=1)
    assert [float(counted(step)) for step in range(11)] == rates
    with pytest.raises(ValueError, match="finite"):
        learning_rate_schedule(2e-3, "cosine", data.repeat(), epochs=5)
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, network="conv1d")
    history = train(model, data, tmp_path / "run", epochs=2, lr_schedule="cosine", verbose=0)
    assert np.isfinite(history.history["loss"]).all()
