"""`models.augment` and `VAE(frequency_warp=...)`: warped training clips, untouched evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.models.augment import warp_frequency
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train

# a normalisation that is not the identity, so the warp must undo and redo it
CONFIG = SpectrogramConfig(
    num_samples=2048, mean=tuple(np.linspace(-3, 0, 128)), std=tuple(np.linspace(1, 2, 128))
)


def _normalised(log_magnitude: np.ndarray) -> tf.Tensor:
    mean, std = np.array(CONFIG.mean)[:, None, None], np.array(CONFIG.std)[:, None, None]
    return tf.constant((log_magnitude - mean) / std, tf.float32)


def test_a_harmonic_moves_with_the_factor_and_factor_one_changes_nothing():
    log_magnitude = np.full((3, 128, 4, 1), -5.0)
    log_magnitude[:, 40] = 2.0  # one partial at bin 40 in every frame
    x = _normalised(log_magnitude)
    warped = warp_frequency(x, tf.constant([1.0, 1.1, 0.9]), CONFIG).numpy()
    np.testing.assert_allclose(warped[0], x[0], atol=1e-5)
    back = warped * np.array(CONFIG.std)[:, None, None] + np.array(CONFIG.mean)[:, None, None]
    assert np.argmax(back[1, :, 0, 0]) == 44 and np.argmax(back[2, :, 0, 0]) == 36
    np.testing.assert_allclose(back[1, 44], 2.0, atol=1e-4)  # 44 / 1.1 = 40 exactly
    assert back[:, :, :, 0].min() >= -5.0 - 1e-4  # interpolation never leaves the range


def test_training_sees_warped_clips_repeatably_and_evaluation_the_clips_themselves(tmp_path):
    def trained(warp: float, folder: str):
        model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0, frequency_warp=warp)
        history = train(model, random_batches(), tmp_path / folder, epochs=2, verbose=0)
        return model, history.history["loss"][-1]

    warped, loss = trained(0.1, "a")
    again, loss_again = trained(0.1, "b")
    plain, plain_loss = trained(0.0, "c")
    assert loss == loss_again and loss != plain_loss
    x = next(iter(random_batches()))["spectrogram"]
    np.testing.assert_array_equal(warped.encode(x).mean(), again.encode(x).mean())
    # outside training steps the model scores the clip it is given, as a model without warping
    twin = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
    twin.set_weights(warped.get_weights())
    np.testing.assert_allclose(warped.elbo(x, seed=1), twin.elbo(x, seed=1), rtol=1e-6)
    save_model(warped, tmp_path / "warped.keras")
    assert load_model(tmp_path / "warped.keras").frequency_warp == pytest.approx(0.1)


def test_bad_warps_are_refused():
    with pytest.raises(ValueError, match=r"frequency_warp must be in \[0, 1\), got 1.5"):
        build_vae(TINY_CONFIG, "standard", latent_dim=4, frequency_warp=1.5)
    unnormalised = SpectrogramConfig(num_samples=2048)
    with pytest.raises(ValueError, match="needs a normalised spectrogram_config"):
        build_vae(unnormalised, "standard", latent_dim=4, frequency_warp=0.1)
