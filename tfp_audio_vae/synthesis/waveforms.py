"""Audio out: model-space spectrograms (or latents) -> waveforms (Griffin-Lim) -> WAV files."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae import defaults
from tfp_audio_vae.data.audio_files import write_wav
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, to_magnitude
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim

tfd = tfp.distributions

AudioStatistic = Literal["median", "mean", "power"]
MOMENTUM = 0.99
"""Fast Griffin-Lim's momentum (as `librosa.griffinlim`'s)."""
SEED_BATCH = 100
"""Clips per Griffin-Lim seed in `to_audio`: batch ``i`` takes seed ``seed + i``."""


def spectrogram_to_waveform(
    spectrogram: tf.Tensor,
    config: SpectrogramConfig,
    *,
    n_iter: int = 32,
    momentum: float = MOMENTUM,
    seed: int = 0,
) -> tf.Tensor:
    """Normalised log-magnitudes ``[batch, freq, time, 1]`` -> waveforms ``[batch, num_samples]``.

    De-normalises with ``config``'s statistics, exponentiates to linear magnitude and recovers a
    phase with fast Griffin-Lim (``n_iter`` iterations, ``momentum``); amplitude in [-1, 1] units.
    """
    magnitude = to_magnitude(spectrogram, config)  # [batch, frames, n_fft // 2 + 1]
    return griffin_lim(
        magnitude,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_iter=n_iter,
        momentum=momentum,
        length=config.num_samples,
        seed=seed,
    )  # [batch, num_samples]


def to_audio(
    model: VAE,
    spectrograms: tf.Tensor | np.ndarray,
    *,
    n_iter: int = 32,
    seed: int = 0,
    batch_size: int = SEED_BATCH,
) -> np.ndarray:
    """Model-space spectrograms ``[n, freq, time, 1]`` -> waveforms ``[n, num_samples]`` (Griffin-Lim).

    Works ``batch_size`` clips at a time; batch ``i`` takes Griffin-Lim seed ``seed + i``.
    """
    config = model.audio_config()
    waves = [
        spectrogram_to_waveform(
            spectrograms[start : start + batch_size], config, n_iter=n_iter, seed=seed + i
        ).numpy()  # [b, num_samples]
        for i, start in enumerate(range(0, len(spectrograms), batch_size))
    ]
    return np.concatenate(waves) if waves else np.zeros([0, config.num_samples], np.float32)


def audible_spectrogram(
    likelihood: tfd.Distribution,
    config: SpectrogramConfig,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    residual_power: Sequence[float] | None = None,
) -> tf.Tensor:
    """The statistic of p(x | z) that becomes audio, as a model-space spectrogram.

    The decoder's Normal(mu, s) is over the normalised log-magnitude, so in log units
    (L = x * std + mean, per bin) the magnitude exp(L) is log-normal with mu_L = mu * std + mean
    and s_L = s * std. Its statistics, as model-space spectrograms to hand to `to_audio`:

    - ``"median"``: exp(mu_L), the decoder mean taken literally (a blurred log-spectrogram is a
      geometric mean of what it blurs: quiet);
    - ``"mean"``: exp(mu_L + s_L^2 / 2), the expected magnitude;
    - ``"power"`` (default, `defaults.AUDIO_STATISTIC`): the magnitude whose square is the
      expected power E[exp(2 L)], so the audio carries the energy of the data. With the decoder's
      ``residual_power`` r (per bin, `models.level.calibrate_level`) it is exp(mu_L + r):
      Duan's (1983) smearing estimate, the power the training clips' residuals really add, whose
      upper tail is heavier than a Normal's. Without it, exp(mu_L + s_L^2), the Normal's own,
      which leaves the audio quiet (``docs/data/level_sources.jsonl``; ``docs/results.md``, "The
      output level").

    Args:
      likelihood: p(x | z), batch ``[n]``, event ``[freq, time, 1]``; an ``Independent(Normal)``
        (the package's decoders). Any other distribution gives its ``mean()`` for every
        statistic.
      config: the model's spectrogram config (its per-bin ``std``).
      statistic: ``"median"``, ``"mean"`` or ``"power"``.
      residual_power: ``[freq]`` in nats of log-magnitude, for ``"power"``; ``None`` uses the
        Normal's scale.
    Returns:
      ``[n, freq, time, 1]`` in the model's normalised units, capped at the magnitude of a
      full-scale signal (``n_fft / 2``).
    """
    shifts = {"median": 0.0, "mean": 0.5, "power": 1.0}
    if statistic not in shifts:
        raise ValueError(f"statistic must be 'median', 'mean' or 'power', got {statistic!r}")
    normal = getattr(likelihood, "distribution", None)
    if not isinstance(normal, tfd.Normal):
        return likelihood.mean()
    std = tf.constant(config.std, tf.float32)[:, tf.newaxis, tf.newaxis]  # [freq, 1, 1]
    mean = tf.constant(config.mean, tf.float32)[:, tf.newaxis, tf.newaxis]
    if statistic == "power" and residual_power is not None:
        shift = tf.constant(residual_power, tf.float32)[:, tf.newaxis, tf.newaxis] / std
    else:  # exp(mu_L + c s_L^2) in log units is mu + c s^2 std in normalised ones
        shift = shifts[statistic] * tf.square(normal.scale) * std
    x = normal.loc + shift  # [n, freq, time, 1]
    # No magnitude above a full-scale signal's (a Hann frame of samples in [-1, 1] sums to at
    # most n_fft / 2): an unsure decoder's s^2 would otherwise overflow exp().
    ceiling = (math.log(config.n_fft / 2) - mean) / std  # [freq, 1, 1], normalised units
    return tf.minimum(x, ceiling)


def audible(
    model: VAE, z: tf.Tensor | np.ndarray, statistic: AudioStatistic = defaults.AUDIO_STATISTIC
) -> tf.Tensor:
    """Latents ``[n, latent]`` -> p(x | z) -> `audible_spectrogram` ``[n, freq, time, 1]``, with
    the decoder's level calibration (``residual_power``) when it has one."""
    return audible_spectrogram(
        model.decode(tf.convert_to_tensor(z, tf.float32)),
        model.audio_config(),
        statistic,
        getattr(model.decoder, "residual_power", None),
    )


def decode_waveforms(
    model: VAE,
    z: tf.Tensor | np.ndarray,
    *,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
    batch_size: int = SEED_BATCH,
) -> np.ndarray:
    """Latents ``[n, latent]`` -> `audible` spectrograms -> Griffin-Lim -> waveforms
    ``[n, num_samples]``."""
    z = tf.convert_to_tensor(z, tf.float32)
    spectrograms = tf.concat(
        [audible(model, z[i : i + batch_size], statistic) for i in range(0, len(z), batch_size)],
        axis=0,
    )  # [n, freq, time, 1]
    return to_audio(model, spectrograms, n_iter=n_iter, seed=seed, batch_size=batch_size)


def write_wavs(
    waveforms: np.ndarray | tf.Tensor | Sequence[np.ndarray],
    folder: str | Path,
    names: Sequence[str],
    sample_rate: int,
) -> list[Path]:
    """Writes ``waveforms`` (``[n, samples]``, or ``n`` clips ``[samples]`` of any lengths, as
    `generation.reconstruct_files` returns them) as ``folder/{name}.wav`` (16-bit PCM), each
    atomically.

    Clips whose peak exceeds full scale are scaled down to a 0.99 peak rather than clipped.
    """
    waveforms = [np.asarray(wave, dtype=np.float32) for wave in waveforms]
    if len(names) != len(waveforms):
        raise ValueError(f"{len(names)} names for {len(waveforms)} waveforms")
    paths = []
    for name, wave in zip(names, waveforms, strict=True):
        path = Path(folder) / f"{name}.wav"
        write_wav(path, limit_peak(wave), sample_rate)
        paths.append(path)
    return paths


def limit_peak(wave: np.ndarray) -> np.ndarray:
    """``wave`` ``[samples]``, scaled down to a 0.99 peak if it exceeds full scale (not clipped)."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return wave * (0.99 / peak) if peak > 0.99 else wave


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """One waveform ``[samples]`` as the bytes of a 16-bit PCM WAV file (peak-limited as
    `write_wavs` writes it), for serving without a file."""
    data = io.BytesIO()
    sf.write(
        data, limit_peak(np.asarray(wave, np.float32)), int(sample_rate), "PCM_16", format="WAV"
    )
    return data.getvalue()
