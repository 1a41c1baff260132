"""The output level's calibration (`models.level`): the smearing estimate of the power that the
residuals add, how the ``"power"`` statistic uses it, and that a trained model carries it."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.models.decoders import Conv1DDecoder
from tfp_audio_vae.models.level import calibrate_level
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis.waveforms import audible, audible_spectrogram
from tfp_audio_vae.training.fit import train

tfd = tfp.distributions
STD = 0.5  # log-magnitude nats per normalised unit, in every bin


class _ZeroMeanModel:
    """A stand-in VAE whose decoder predicts 0 everywhere: the residuals are the data."""

    def __init__(self) -> None:
        self.decoder = type("Decoder", (), {"residual_power": None})()
        self.config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(STD,) * 128)

    def audio_config(self) -> SpectrogramConfig:
        return self.config

    def reconstruct(self, x: tf.Tensor) -> tf.Tensor:
        return tf.zeros_like(x)  # the decoder's mean at the posterior mean


def _residuals(values: np.ndarray) -> tf.data.Dataset:
    """Batches of spectrograms ``[64, 128, 32, 1]`` holding ``values`` (normalised units)."""
    x = values.reshape(64, *TINY_CONFIG.shape).astype("float32")
    return tf.data.Dataset.from_tensor_slices({"spectrogram": x}).batch(16)


def test_normal_residuals_give_the_normals_own_power():
    sigma = 0.6  # normalised units: sigma * STD = 0.3 nats of log-magnitude
    rng = np.random.default_rng(0)
    model = _ZeroMeanModel()
    power = calibrate_level(model, _residuals(sigma * rng.normal(size=64 * 128 * 32)))
    # E[exp(2 e)] = exp(2 s^2) for e ~ N(0, s^2): 0.5 log of it is s^2 = 0.09 nats
    assert power.shape == (128,)
    assert abs(power.mean() - (sigma * STD) ** 2) < 0.003  # over 262,144 cells
    np.testing.assert_allclose(power, (sigma * STD) ** 2, atol=0.035)  # 2,048 cells a bin
    np.testing.assert_array_equal(model.decoder.residual_power, power)


def test_a_heavier_upper_tail_adds_more_power_than_a_normal_of_the_same_variance():
    rng = np.random.default_rng(1)
    skewed = rng.gamma(2.0, 1.0, size=64 * 128 * 32)  # mean 2, variance 2, long upper tail
    skewed = (skewed - 2.0) / np.sqrt(2.0) * 0.6  # mean 0, sd 0.6
    power = calibrate_level(_ZeroMeanModel(), _residuals(skewed))
    assert power.mean() > (0.6 * STD) ** 2 + 0.02  # about 0.125 against 0.09 nats


def test_the_power_statistic_adds_the_residual_power_or_else_the_normals():
    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(STD,) * 128)
    loc = tf.random.stateless_normal([2, *config.shape], seed=[0, 1])
    likelihood = tfd.Independent(tfd.Normal(loc, 0.4), reinterpreted_batch_ndims=3)
    power = np.linspace(0.0, 0.3, 128)  # nats
    calibrated = audible_spectrogram(likelihood, config, "power", power)
    np.testing.assert_allclose(
        calibrated.numpy(), loc.numpy() + (power / STD)[:, None, None], rtol=1e-5, atol=1e-6
    )
    # without a calibration: exp(mu_L + s_L^2), i.e. s^2 * std in normalised units
    normal = audible_spectrogram(likelihood, config, "power")
    np.testing.assert_allclose(normal.numpy(), loc.numpy() + 0.16 * STD, rtol=1e-5, atol=1e-6)
    # the other statistics ignore it
    np.testing.assert_array_equal(
        audible_spectrogram(likelihood, config, "median", power).numpy(), loc.numpy()
    )


def test_training_calibrates_the_level_and_the_saved_model_carries_it(tmp_path):
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
    assert model.decoder.residual_power is None
    data = random_batches()
    train(model, data, tmp_path / "run", epochs=1, verbose=0)
    power = np.asarray(model.decoder.residual_power)
    assert power.shape == (128,) and np.all(np.isfinite(power)) and np.all(power > 0)
    loaded = load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_allclose(loaded.decoder.residual_power, power)
    z = tf.random.stateless_normal([3, 4], seed=[2, 3])
    np.testing.assert_allclose(
        audible(loaded, z).numpy(),
        audible_spectrogram(loaded.decode(z), TINY_CONFIG, "power", power).numpy(),
        rtol=1e-6,
    )


def test_a_model_saved_before_calibration_existed_loads_and_uses_the_normals_power(tmp_path):
    decoder = Conv1DDecoder(TINY_CONFIG.shape, scale="bin", seed=3)
    decoder.build((None, 4))
    config = decoder.get_config()
    del config["residual_power"]  # as an older version of the package saved it
    older = Conv1DDecoder.from_config(config)
    assert older.residual_power is None
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
    save_model(model, tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    z = tf.zeros([1, 4])
    likelihood = loaded.decode(z)
    expected = likelihood.mean() + tf.square(likelihood.distribution.scale) * 1.0  # std 1
    np.testing.assert_allclose(audible(loaded, z).numpy(), expected.numpy(), rtol=1e-5)
