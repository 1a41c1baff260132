"""The output level: calibrating how much power the audio statistic adds to the decoder's mean.

The decoder's Normal is over the log-magnitude L, so its mean mu_L is a blurred, geometric-mean
spectrogram, quieter than the clips it stands for. The expected power E[exp(2 L)] is
exp(2 mu_L) E[exp(2 e)] for the residual e = L - mu_L. A Normal residual gives E[exp(2 e)] =
exp(2 s_L^2); the residuals of a trained decoder have a heavier upper tail (onsets and harmonic
peaks it under-predicts), so that formula leaves the audio about 2 dB quiet. Duan's smearing
estimate (N. Duan, "Smearing estimate: a nonparametric retransformation method", JASA 1983)
takes the mean of exp(2 e) over the training residuals instead, one value per frequency bin.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_audio_vae.models.vae import VAE


def calibrate_level(model: VAE, dataset: tf.data.Dataset) -> np.ndarray | None:
    """Sets ``model.decoder.residual_power`` from the residuals of ``dataset`` and returns it.

    Each clip is encoded, decoded at its posterior mean, and its residual ``e = L - mu_L``
    (natural-log magnitude) is taken in every cell; per frequency bin the result is
    ``0.5 log mean_{clips, frames} exp(2 e)`` in nats, which `waveforms.audible_spectrogram`
    adds to ``mu_L`` for the ``"power"`` statistic. `training.fit.train` calls this on its
    training data when training ends, so a saved model carries it.

    Args:
      model: a trained VAE with a normalised spectrogram config.
      dataset: batches ``{"spectrogram": [b, freq, time, 1], ...}`` (the training data).
    Returns:
      ``[freq]`` float64, nats of log-magnitude; ``None`` (and nothing set) when the decoder has
      no ``residual_power`` (not a `SpectrogramDecoder`).
    Raises:
      ValueError: if the dataset holds no examples.
    """
    if not hasattr(model.decoder, "residual_power"):
        return None
    std = np.asarray(model.audio_config().std, np.float64)[:, None]  # [freq, 1]
    total, cells = 0.0, 0
    for batch in dataset:
        x = batch["spectrogram"]  # [b, freq, time, 1], normalised units
        loc = model.reconstruct(x)  # [b, freq, time, 1]
        error = (np.asarray(x, np.float64) - np.asarray(loc, np.float64))[..., 0] * std
        total = total + np.exp(2.0 * error).sum(axis=(0, 2))  # [freq]
        cells += error.shape[0] * error.shape[2]
    if not cells:
        raise ValueError("the dataset holds no examples")
    power = 0.5 * np.log(total / cells)  # [freq]
    model.decoder.residual_power = tuple(power.tolist())
    return power
