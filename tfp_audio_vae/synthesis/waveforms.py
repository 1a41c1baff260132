"""Audio out: model-space spectrograms (or latents) -> waveforms (Griffin-Lim) -> WAV files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfp_audio_vae.data.audio_files import write_wav
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, to_magnitude
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim


def spectrogram_to_waveform(
    spectrogram: tf.Tensor,
    config: SpectrogramConfig,
    *,
    n_iter: int = 32,
    momentum: float = 0.99,
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
    batch_size: int = 100,
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


def decode_waveforms(
    model: VAE, z: tf.Tensor | np.ndarray, *, n_iter: int = 32, seed: int = 0, batch_size: int = 100
) -> np.ndarray:
    """Latents ``[n, latent]`` -> decoder means -> Griffin-Lim -> waveforms ``[n, num_samples]``."""
    z = tf.convert_to_tensor(z, tf.float32)
    means = tf.concat(
        [model.decode(z[i : i + batch_size]).mean() for i in range(0, len(z), batch_size)], axis=0
    )  # [n, freq, time, 1]
    return to_audio(model, means, n_iter=n_iter, seed=seed, batch_size=batch_size)


def write_wavs(
    waveforms: np.ndarray | tf.Tensor,
    folder: str | Path,
    names: Sequence[str],
    sample_rate: int,
) -> list[Path]:
    """Writes ``waveforms`` ``[n, samples]`` as ``folder/{name}.wav`` (16-bit PCM), each atomically.

    Clips whose peak exceeds full scale are scaled down to a 0.99 peak rather than clipped.
    """
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if len(names) != len(waveforms):
        raise ValueError(f"{len(names)} names for {len(waveforms)} waveforms")
    paths = []
    for name, wave in zip(names, waveforms, strict=True):
        peak = float(np.max(np.abs(wave))) if wave.size else 0.0
        if peak > 0.99:
            wave = wave * (0.99 / peak)
        path = Path(folder) / f"{name}.wav"
        write_wav(path, wave, sample_rate)
        paths.append(path)
    return paths
