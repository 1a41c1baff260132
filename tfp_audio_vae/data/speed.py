"""Speed perturbation: a clip played faster or slower, its pitch and tempo scaled together.

The augmentation of Ko et al. (2015, "Audio augmentation for speech recognition"): a waveform
sampled at ``rate`` is read as if it had been sampled at ``speed * rate`` and resampled back to
``rate`` (soxr), so ``speed = 1.1`` is 10% shorter and 10% higher. Unlike stretching a
spectrogram along frequency, which interpolates between bins and smooths harmonics, every
variant is a real waveform whose STFT has harmonics as sharp as the original's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

from tfp_audio_vae.data.audio_files import resample


def checked_speeds(speeds: Sequence[float]) -> tuple[float, ...]:
    """``speeds`` as a tuple of floats, after checking each is in [0.5, 2] and none repeats.

    Raises:
      ValueError: naming the offending value.
    """
    speeds = tuple(float(s) for s in speeds)
    if not speeds:
        raise ValueError("speeds must name at least one speed (1.0: the clips as they are)")
    for speed in speeds:
        if not 0.5 <= speed <= 2.0:
            raise ValueError(f"each speed must be between 0.5 and 2, got {speed}")
    if len(set(speeds)) < len(speeds):
        raise ValueError(f"speeds must be distinct, got {list(speeds)}")
    return speeds


def parse_speeds(text: str) -> tuple[float, ...]:
    """A command line's ``--speeds`` (``"0.9,1.0,1.1"``) -> checked speeds.

    Raises:
      argparse.ArgumentTypeError: naming what is wrong, so argparse prints it as a usage error.
    """
    try:
        return checked_speeds([float(value) for value in text.split(",")])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def input_samples(num_samples: int, speeds: Sequence[float]) -> int:
    """Samples of the original clip that the fastest of ``speeds`` turns into ``num_samples``."""
    return math.ceil(num_samples * max(speeds))


def perturb_speed(wave: np.ndarray, speed: float, sample_rate: int) -> np.ndarray:
    """One clip at ``speed`` times its speed (pitch and tempo), at the same sample rate.

    Args:
      wave: float ``[samples]``.
      speed: > 1 is faster and higher, < 1 slower and lower; 1 returns a copy.
      sample_rate: the clip's rate, in Hz.
    Returns:
      float32 ``[round(samples / speed)]``.
    """
    return resample(wave, speed * sample_rate, sample_rate)


def speed_variants(
    wave: np.ndarray, speeds: Sequence[float], sample_rate: int, num_samples: int
) -> np.ndarray:
    """A clip at each of ``speeds``.

    Args:
      wave: float ``[samples]`` at ``sample_rate`` (at least `input_samples` of them, or the
        variants are zero-padded).
      speeds: the speeds, as `checked_speeds` accepts them.
      sample_rate: in Hz.
      num_samples: the length of each variant, in samples (trimmed or zero-padded).
    Returns:
      float32 ``[len(speeds), num_samples]``.
    """
    out = np.zeros([len(speeds), num_samples], np.float32)  # zero-padded where short
    for i, speed in enumerate(speeds):
        varied = perturb_speed(wave, speed, sample_rate)[:num_samples]
        out[i, : len(varied)] = varied
    return out
