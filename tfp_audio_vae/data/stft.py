"""The project's one STFT convention, its least-squares inverse, and clip length.

Every spectrogram, distance and phase reconstruction in the package uses this STFT:

    tf.signal.stft(wave, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
                   window_fn=tf.signal.hann_window, pad_end=True)  # [batch, frames, n_fft // 2 + 1]

so a clip of ``num_samples`` samples has ``ceil(num_samples / hop_length)`` frames and the signal
behind a ``frames``-frame spectrogram is ``frames * hop_length`` samples long.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

ENVELOPE_FLOOR = 0.1  # of the summed squared window's peak


def stft(wave: tf.Tensor, n_fft: int = 256, hop_length: int = 64) -> tf.Tensor:
    """The project's STFT: float ``[..., samples]`` -> complex64 ``[..., frames, n_fft // 2 + 1]``
    with ``frames = ceil(samples / hop_length)``."""
    check_stft_sizes(n_fft, hop_length)
    return tf.signal.stft(
        tf.convert_to_tensor(wave, tf.float32),
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )


def stft_magnitude(wave: tf.Tensor, n_fft: int = 256, hop_length: int = 64) -> tf.Tensor:
    """Magnitude of the project's STFT (Hann window, ``pad_end=True``).

    Args:
      wave: float ``[batch, samples]`` (or ``[samples]``), amplitude in [-1, 1].
      n_fft: frame and FFT length, in samples.
      hop_length: hop between frames, in samples.
    Returns:
      float32 ``[batch, frames, n_fft // 2 + 1]`` with ``frames = ceil(samples / hop_length)``.
    """
    return tf.abs(stft(wave, n_fft, hop_length))


def inverse_stft(
    spectrum: tf.Tensor, envelope: tf.Tensor, n_fft: int = 256, hop_length: int = 64
) -> tf.Tensor:
    """Least-squares inverse of `stft`: complex ``[..., frames, bins]`` -> ``[..., frames * hop]``.

    Windowed overlap-add divided by ``envelope`` (`window_envelope`), the summed squared window,
    floored so the first samples, which the uncentred STFT barely sees, are damped rather than
    blown up when the STFT is not consistent (as it is not during Griffin-Lim).
    """
    samples = envelope.shape[0]
    overlap_added = tf.signal.inverse_stft(
        spectrum,
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
    )  # [..., (frames - 1) * hop + n_fft]
    return overlap_added[..., :samples] / envelope  # [..., frames * hop]


def window_envelope(frames: int, n_fft: int = 256, hop_length: int = 64) -> tf.Tensor:
    """Sum of the squared Hann windows of ``frames`` frames over ``frames * hop`` samples, floored
    at ``ENVELOPE_FLOOR`` of its peak.

    Unfloored, the sum falls to ~1e-9 at sample 1: dividing an inconsistent STFT's overlap-add by
    it made spikes of 10-1000x the clip's peak there. With the floor, the inverse stays exact
    wherever the sum is at least 10% of its peak (all but the first ~n_fft / 6 samples) and only
    damps the samples before.
    """
    window = tf.signal.hann_window(n_fft).numpy()
    envelope = np.zeros((frames - 1) * hop_length + n_fft, np.float32)
    for frame in range(frames):
        envelope[frame * hop_length : frame * hop_length + n_fft] += window**2
    envelope = envelope[: frames * hop_length]
    return tf.constant(np.maximum(envelope, ENVELOPE_FLOOR * envelope.max()))


def fit_length(wave: tf.Tensor | np.ndarray, num_samples: int) -> tf.Tensor:
    """Trims or zero-pads the last axis to ``num_samples``: the start of long clips is kept.

    Args:
      wave: float ``[..., samples]`` (any rank >= 1; ``samples`` may be unknown in a graph).
      num_samples: the length wanted, in samples.
    Returns:
      float32 ``[..., num_samples]``.
    """
    wave = tf.convert_to_tensor(wave, tf.float32)[..., :num_samples]
    missing = num_samples - tf.shape(wave)[-1]
    paddings = tf.concat([tf.zeros([tf.rank(wave) - 1, 2], tf.int32), [[0, missing]]], axis=0)
    return tf.ensure_shape(tf.pad(wave, paddings), [*wave.shape[:-1], num_samples])


def check_stft_sizes(n_fft: int, hop_length: int) -> None:
    """Raises ValueError unless ``n_fft`` is a positive even number and ``0 < hop_length <= n_fft``."""
    if n_fft <= 0 or n_fft % 2:
        raise ValueError(f"n_fft must be a positive even number of samples, got {n_fft}")
    if not 0 < hop_length <= n_fft:
        raise ValueError(f"hop_length must be in [1, n_fft={n_fft}], got {hop_length}")
