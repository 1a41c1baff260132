"""Small models and data shared by the tests (kept tiny so the suite runs on two CPU cores)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_audio_vae.data.spectrogram import SpectrogramConfig

# 128 bins x 32 frames: the smallest clip whose sides still halve through five stride-2 blocks.
TINY_CONFIG = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
BAD_STFT_ARGUMENTS = [
    ({"seed": 1.5}, "seed"),
    ({"n_fft": 255}, "n_fft"),
    ({"hop_length": 0}, "hop_length"),
    ({"n_fft": 512}, r"\[batch, frames, 257\]"),
]
"""``(keyword arguments, error message)`` that every phase function given ``[batch, frames, 129]``
magnitudes refuses with a ValueError (`griffin_lim`, `pghi_phase`)."""


def random_batches(n: int = 32, batch_size: int = 16, seed: int = 0) -> tf.data.Dataset:
    """Batches of ``{"spectrogram": [b, 128, 32, 1], "label": [b]}`` of smooth random images."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *TINY_CONFIG.shape)).astype("float32")
    x = np.cumsum(x, axis=1) / 10.0  # correlated along frequency, like a spectrogram
    digits = (np.arange(n) % 10).astype("int32")
    return tf.data.Dataset.from_tensor_slices({"spectrogram": x, "label": digits}).batch(batch_size)
