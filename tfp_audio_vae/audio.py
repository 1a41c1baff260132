"""Audio out: model-space spectrograms -> waveforms (Griffin-Lim) -> WAV files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfp_audio_vae.audio_io import write_wav
from tfp_audio_vae.griffin_lim import griffin_lim
from tfp_audio_vae.spectrogram import SpectrogramConfig, to_magnitude


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
