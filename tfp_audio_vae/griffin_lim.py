"""Phase reconstruction from STFT magnitudes: fast Griffin-Lim, batched, in TensorFlow.

Plain functions over tensors, named like `librosa.griffinlim` and `librosa.stft`. Every function uses
the project's STFT convention (the one `tfp_audio_vae.pipeline` uses):

    tf.signal.stft(wave, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
                   window_fn=tf.signal.hann_window, pad_end=True)  # [batch, frames, n_fft // 2 + 1]

so a clip of ``num_samples`` samples has ``ceil(num_samples / hop_length)`` frames and the signal
behind a ``frames``-frame spectrogram is ``frames * hop_length`` samples long.

`spectral_convergence` and `log_spectral_distance` are the project's single definitions of the two
distances between magnitude spectrograms; evaluation code imports them from here.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

ENVELOPE_FLOOR = 0.1  # of the summed squared window's peak

__all__ = ["griffin_lim", "log_spectral_distance", "spectral_convergence", "stft_magnitude"]


def stft_magnitude(wave: tf.Tensor, n_fft: int = 256, hop_length: int = 64) -> tf.Tensor:
    """Magnitude of the project's STFT (Hann window, ``pad_end=True``).

    Args:
      wave: float ``[batch, samples]`` (or ``[samples]``), amplitude in [-1, 1].
      n_fft: frame and FFT length, in samples.
      hop_length: hop between frames, in samples.
    Returns:
      float32 ``[batch, frames, n_fft // 2 + 1]`` with ``frames = ceil(samples / hop_length)``.
    """
    _check_stft_sizes(n_fft, hop_length)
    return tf.abs(_stft(tf.convert_to_tensor(wave, tf.float32), n_fft, hop_length))


def spectral_convergence(
    reference_magnitude: tf.Tensor, estimate_magnitude: tf.Tensor
) -> tf.Tensor:
    """Spectral convergence ``||S - S_hat||_F / ||S||_F`` of each example (0 is a perfect match).

    Args:
      reference_magnitude: float ``[batch, frames, bins]``, the target magnitude ``S``.
      estimate_magnitude: float, same shape, the magnitude ``S_hat`` being judged.
    Returns:
      float32 ``[batch]`` (a scalar for unbatched ``[frames, bins]`` inputs); NaN or inf where
      the reference is all zeros.
    Raises:
      ValueError: if the shapes differ.
    """
    reference, estimate = _check_pair(reference_magnitude, estimate_magnitude)
    error = tf.norm(reference - estimate, ord="fro", axis=[-2, -1])  # [batch]
    return error / tf.norm(reference, ord="fro", axis=[-2, -1])


def log_spectral_distance(
    reference_magnitude: tf.Tensor, estimate_magnitude: tf.Tensor, floor: float = 1e-5
) -> tf.Tensor:
    """Log-spectral distance of each example, in dB.

    Per frame, the RMS over frequency bins of ``20 log10(max(S, floor)) - 20 log10(max(S_hat,
    floor))``; then the mean over frames.

    Args:
      reference_magnitude: float ``[batch, frames, bins]``, the target magnitude ``S``.
      estimate_magnitude: float, same shape, the magnitude ``S_hat`` being judged.
      floor: smallest magnitude kept before the log (1e-5 is -100 dB), so silence is finite.
    Returns:
      float32 ``[batch]`` in dB (a scalar for unbatched ``[frames, bins]`` inputs).
    Raises:
      ValueError: if the shapes differ or ``floor`` is not positive.
    """
    if not floor > 0:
        raise ValueError(f"floor must be > 0, got {floor}")
    reference, estimate = _check_pair(reference_magnitude, estimate_magnitude)
    to_db = 20.0 / math.log(10.0)
    difference = to_db * (
        tf.math.log(tf.maximum(reference, floor)) - tf.math.log(tf.maximum(estimate, floor))
    )  # [batch, frames, bins]
    per_frame = tf.sqrt(tf.reduce_mean(tf.square(difference), axis=-1))  # [batch, frames]
    return tf.reduce_mean(per_frame, axis=-1)  # [batch]


def griffin_lim(
    magnitude: tf.Tensor,
    n_fft: int = 256,
    hop_length: int = 64,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    seed: int = 0,
) -> tf.Tensor:
    """Waveforms whose STFT magnitude approximates ``magnitude``: fast Griffin-Lim.

    The fast Griffin-Lim algorithm (Perraudin, Balazs & Sondergaard 2013) with the same update as
    `librosa.griffinlim`: starting from a random phase, alternate an inverse STFT and an STFT, and
    keep the new phase after extrapolating it with ``momentum`` (``0`` gives the classic algorithm
    of Griffin & Lim 1984). The inverse STFT inside the loop is the least-squares one (overlap-add
    divided by the summed squared window), exact on the first ``n_fft - hop_length`` samples too,
    where the ``inverse_stft_window_fn`` inverse is not: after 32 iterations on the 300 FSDD test
    clips that takes the mean spectral convergence from 0.071 to 0.068.

    Args:
      magnitude: float ``[batch, frames, n_fft // 2 + 1]`` STFT magnitude in the project's
        convention (see `stft_magnitude`), or one ``[frames, n_fft // 2 + 1]`` spectrogram.
        The Nyquist bin is needed: `tfp_audio_vae.pipeline` drops it, so append a row to its
        magnitudes (zeros are fine) before calling this.
      n_fft: frame and FFT length, in samples.
      hop_length: hop between frames, in samples.
      n_iter: number of iterations (>= 0); each costs one STFT and one inverse STFT.
      momentum: in [0, 1); 0.99 is fast Griffin-Lim as in librosa.
      length: number of output samples; the ``frames * hop_length`` samples the spectrogram
        covers are trimmed or zero-padded to it. ``None`` keeps ``frames * hop_length``.
      seed: seed of the random initial phase; the same seed gives the same waveforms.
    Returns:
      float32 ``[batch, length]`` waveforms (``[length]`` for a single spectrogram).
    Raises:
      ValueError: on a negative or non-integer ``n_iter``, ``momentum`` outside [0, 1), a
        non-positive ``length``, a non-integer ``seed``, or a ``magnitude`` whose shape does not
        match ``n_fft``.
      tf.errors.InvalidArgumentError: if ``magnitude`` holds negative or non-finite values.
    """
    _check_stft_sizes(n_fft, hop_length)
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if length is not None and length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    magnitude = tf.convert_to_tensor(magnitude, tf.float32)
    bins = n_fft // 2 + 1
    if magnitude.shape.rank not in (2, 3) or magnitude.shape[-1] != bins:
        raise ValueError(
            f"magnitude must be [batch, frames, {bins}] or [frames, {bins}] for n_fft={n_fft}, "
            f"got shape {magnitude.shape}"
        )
    if not magnitude.shape[-2]:
        raise ValueError(
            f"magnitude needs a known, non-zero number of frames, got {magnitude.shape}"
        )
    tf.debugging.assert_all_finite(magnitude, "magnitude must be finite")
    tf.debugging.assert_non_negative(magnitude, "magnitude must be non-negative")

    single = magnitude.shape.rank == 2
    if single:
        magnitude = magnitude[tf.newaxis]  # [1, frames, bins]
    envelope = _window_envelope(magnitude.shape[1], n_fft, hop_length)  # [frames * hop]
    wave = _fast_griffin_lim(
        magnitude,
        envelope,
        n_fft,
        hop_length,
        tf.constant(n_iter),
        tf.constant(momentum, tf.float32),
        tf.constant(seed, tf.int32),
    )  # [batch, frames * hop]
    if length is not None:
        wave = _fit_length(wave, length)  # [batch, length]
    return wave[0] if single else wave


@tf.function
def _fast_griffin_lim(
    magnitude: tf.Tensor,
    envelope: tf.Tensor,
    n_fft: int,
    hop_length: int,
    n_iter: tf.Tensor,
    momentum: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """The iteration, in a `tf.while_loop`.

    On a 2-core CPU (batch 64 of 128 x 129) it runs as fast as a Python loop unrolled over a static
    ``n_iter`` (within 4%), traces 4x faster (0.4 s vs 1.8 s) and does not retrace for a new
    ``n_iter``, ``momentum`` or ``seed``; ``jit_compile=True`` is about 1.7x slower.
    """
    phase = tf.random.stateless_uniform(
        tf.shape(magnitude), seed=tf.stack([seed, 0]), maxval=2 * np.pi
    )  # [batch, frames, bins]
    estimate = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
    extrapolation = tf.complex(momentum / (1.0 + momentum), 0.0)

    def step(
        iteration: tf.Tensor, estimate: tf.Tensor, previous: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        wave = _inverse_stft(estimate, envelope, n_fft, hop_length)  # [batch, frames * hop]
        rebuilt = _stft(wave, n_fft, hop_length)  # [batch, frames, bins]
        direction = rebuilt - extrapolation * previous  # `previous` is 0 on the first step
        real, imag = tf.math.real(direction), tf.math.imag(direction)
        # The target magnitude with the new phase; a zero direction keeps a zero estimate.
        scale = tf.math.divide_no_nan(magnitude, tf.sqrt(real * real + imag * imag))
        return iteration + 1, tf.complex(scale * real, scale * imag), rebuilt

    _, estimate, _ = tf.while_loop(
        lambda iteration, *_: iteration < n_iter,
        step,
        (tf.constant(0), estimate, tf.zeros_like(estimate)),
    )
    return _inverse_stft(estimate, envelope, n_fft, hop_length)  # [batch, frames * hop]


def _stft(wave: tf.Tensor, n_fft: int, hop_length: int) -> tf.Tensor:
    """The project's STFT: complex64 ``[..., ceil(samples / hop), n_fft // 2 + 1]``."""
    return tf.signal.stft(
        wave,
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )


def _inverse_stft(stft: tf.Tensor, envelope: tf.Tensor, n_fft: int, hop_length: int) -> tf.Tensor:
    """Least-squares inverse of `_stft`: ``[..., frames, bins]`` -> ``[..., frames * hop]``.

    Windowed overlap-add divided by ``envelope``, the summed squared window, floored (see
    `_window_envelope`) so the first samples, which the uncentred STFT barely sees, are damped
    rather than blown up when the STFT is not consistent (as it is not during Griffin-Lim).
    """
    samples = envelope.shape[0]
    overlap_added = tf.signal.inverse_stft(
        stft,
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
    )  # [..., (frames - 1) * hop + n_fft]
    return overlap_added[..., :samples] / envelope  # [..., frames * hop]


def _window_envelope(frames: int, n_fft: int, hop_length: int) -> tf.Tensor:
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


def _fit_length(wave: tf.Tensor, length: int) -> tf.Tensor:
    """Trim or zero-pad the last axis of ``wave`` to ``length`` samples."""
    samples = wave.shape[-1]
    if samples >= length:
        return wave[..., :length]
    return tf.pad(wave, [[0, 0], [0, length - samples]])


def _check_stft_sizes(n_fft: int, hop_length: int) -> None:
    if n_fft <= 0 or n_fft % 2:
        raise ValueError(f"n_fft must be a positive even number of samples, got {n_fft}")
    if not 0 < hop_length <= n_fft:
        raise ValueError(f"hop_length must be in [1, n_fft={n_fft}], got {hop_length}")


def _check_pair(reference: tf.Tensor, estimate: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    reference = tf.convert_to_tensor(reference, tf.float32)
    estimate = tf.convert_to_tensor(estimate, tf.float32)
    if reference.shape != estimate.shape or reference.shape.rank not in (2, 3):
        raise ValueError(
            "reference and estimate magnitudes must share one [batch, frames, bins] or "
            f"[frames, bins] shape, got {reference.shape} and {estimate.shape}"
        )
    return reference, estimate
