"""The spectrogram representation: `SpectrogramConfig` and the tensor transforms it defines.

    waveform -> STFT -> |.| -> log (floored) -> per-bin standardisation   (and back, for audio out)

The default shape is 128 frequency bins x 128 frames: FSDD's native 8 kHz, ``n_fft`` 256 (31.25 Hz
bins; the Nyquist bin is dropped so the height is a power of two), hop 64 (8 ms), 8,192 samples
(1.024 s, longer than 99% of FSDD clips). Both sides halve cleanly through five stride-2 convolutions.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import tensorflow as tf

from tfp_audio_vae.data.stft import stft_magnitude


@dataclasses.dataclass(frozen=True)
class SpectrogramConfig:
    """How waveforms become model inputs, and back.

    Attributes:
      sample_rate: rate the audio is resampled to, in Hz.
      num_samples: clip length after padding/trimming, in samples (``num_samples / sample_rate`` s).
      n_fft: STFT frame and FFT length, in samples (Hann window).
      hop_length: STFT hop, in samples.
      log_floor: smallest STFT magnitude kept before the natural log (1e-3 is 80 dB below the loudest
        FSDD bins); silence and padding sit exactly at ``log(log_floor)``, never at -inf.
      mean, std: per-frequency-bin statistics of the log-magnitude over a training set, each of
        length ``freq_bins``; ``None`` until `fit_normalisation` has run.
    """

    sample_rate: int = 8000
    num_samples: int = 8192
    n_fft: int = 256
    hop_length: int = 64
    log_floor: float = 1e-3
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("sample_rate", "num_samples", "n_fft", "hop_length"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(
                    f"SpectrogramConfig.{name} must be positive, got {getattr(self, name)}"
                )
        if self.n_fft % 2:
            raise ValueError(f"SpectrogramConfig.n_fft must be even, got {self.n_fft}")
        if not self.log_floor > 0:
            raise ValueError(f"SpectrogramConfig.log_floor must be > 0, got {self.log_floor}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("SpectrogramConfig.mean and .std must be given together")
        if self.mean is not None:
            if len(self.mean) != self.freq_bins or len(self.std) != self.freq_bins:
                raise ValueError(
                    f"SpectrogramConfig.mean/std need {self.freq_bins} values (one per bin), "
                    f"got {len(self.mean)}/{len(self.std)}"
                )
            if min(self.std) <= 0:
                raise ValueError("SpectrogramConfig.std must be positive in every bin")

    @property
    def freq_bins(self) -> int:
        """Number of frequency bins kept: ``n_fft // 2`` (the Nyquist bin is dropped)."""
        return self.n_fft // 2

    @property
    def frames(self) -> int:
        """Number of STFT frames of a clip (``pad_end=True``)."""
        return math.ceil(self.num_samples / self.hop_length)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one model input: ``(freq_bins, frames, 1)``."""
        return (self.freq_bins, self.frames, 1)

    @property
    def is_normalised(self) -> bool:
        """Whether the normalisation statistics are set."""
        return self.mean is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_dict` reverses it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpectrogramConfig:
        """Rebuild a config from `to_dict` output (lists become tuples; unknown keys are an error)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown SpectrogramConfig fields: {sorted(unknown)}")
        values = {
            k: tuple(float(x) for x in v) if k in ("mean", "std") and v is not None else v
            for k, v in values.items()
        }
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SpectrogramConfig:
        return cls.from_dict(json.loads(text))

    def _require_stats(self) -> tuple[tf.Tensor, tf.Tensor]:
        if not self.is_normalised:
            raise ValueError(
                "this SpectrogramConfig has no normalisation statistics: "
                "call fit_normalisation(train_files, config) first"
            )
        mean = tf.constant(self.mean, tf.float32)[:, tf.newaxis, tf.newaxis]  # [freq, 1, 1]
        std = tf.constant(self.std, tf.float32)[:, tf.newaxis, tf.newaxis]
        return mean, std


# --------------------------------------------------------------------------- tensor transforms


def log_magnitude(wave: tf.Tensor, config: SpectrogramConfig) -> tf.Tensor:
    """Waveform -> natural log of the STFT magnitude, floored.

    Args:
      wave: float32 ``[..., num_samples]`` in [-1, 1].
    Returns:
      float32 ``[..., freq_bins, frames, 1]`` (frequency first, like an image of height ``freq``).
    """
    magnitude = stft_magnitude(wave, config.n_fft, config.hop_length)  # [..., frames, n_fft//2+1]
    magnitude = magnitude[..., : config.freq_bins]  # [..., frames, freq]  (Nyquist dropped)
    log_mag = tf.math.log(tf.maximum(magnitude, config.log_floor))
    return tf.expand_dims(tf.linalg.matrix_transpose(log_mag), -1)  # [..., freq, frames, 1]


def normalise(log_mag: tf.Tensor, config: SpectrogramConfig) -> tf.Tensor:
    """``[..., freq, time, 1]`` log-magnitude -> zero-mean, unit-variance per bin."""
    mean, std = config._require_stats()
    return (log_mag - mean) / std


def waveform_to_spectrogram(wave: tf.Tensor, config: SpectrogramConfig) -> tf.Tensor:
    """Waveforms -> model input: the one composition every reader of audio uses.

    Args:
      wave: float32 ``[..., num_samples]`` in [-1, 1] at ``config.sample_rate``.
    Returns:
      float32 ``[..., freq_bins, frames, 1]``, the normalised log-magnitude (`normalise` of
      `log_magnitude`).
    """
    return normalise(log_magnitude(wave, config), config)


def denormalise(spectrogram: tf.Tensor, config: SpectrogramConfig) -> tf.Tensor:
    """Inverse of `normalise`: ``[..., freq, time, 1]`` model space -> log-magnitude."""
    mean, std = config._require_stats()
    return spectrogram * std + mean


def to_magnitude(spectrogram: tf.Tensor, config: SpectrogramConfig) -> tf.Tensor:
    """Model-space ``[batch, freq, time, 1]`` -> linear STFT magnitude ``[batch, frames, n_fft//2+1]``.

    The layout `synthesis.griffin_lim.griffin_lim` takes: time first, with a zero Nyquist bin
    appended.
    """
    log_mag = denormalise(tf.convert_to_tensor(spectrogram, tf.float32), config)
    magnitude = tf.linalg.matrix_transpose(tf.exp(log_mag[..., 0]))  # [batch, frames, freq]
    nyquist = tf.zeros_like(magnitude[..., :1])
    return tf.concat([magnitude, nyquist], axis=-1)  # [batch, frames, n_fft // 2 + 1]
