"""Phase from STFT magnitude alone: phase-gradient heap integration (PGHI), batched, in TensorFlow.

Průša, Balazs & Søndergaard (2017), "A Noniterative Method for Reconstruction of Phase From STFT
Magnitude", IEEE/ACM TASLP 25(5): for a Gaussian window the STFT's log-magnitude and phase are
the real and imaginary parts of one analytic function, so the phase's time derivative
(instantaneous frequency) follows from the log-magnitude's frequency derivative and the phase's
frequency derivative (local group delay) from its time derivative; integrating those gradients
over the time-frequency plane, largest coefficients first, gives a phase without iterations. A
Hann window is treated as the Gaussian ``exp(-pi t^2 / gamma)`` with ``gamma = 0.25645 n_fft^2``
samples^2 (the paper's Table I; ltfat's ``pghi_findgamma``).

The integration is the real-time variant's (RTPGHI: Průša & Holighaus 2017, as in ltfat's
``rtpghi``): frame by frame, a heap over the current frame's bins and the previous frame's, so a
bin takes its phase from the previous frame (integrating the instantaneous frequency) or from a
neighbouring bin of its own frame (integrating the group delay), whichever the heap reaches
first; the log-magnitude's time derivative is a centred difference (one frame of look-ahead).
Instead of popping a heap one coefficient at a time, this module computes, for every frame of
every clip at once, the level at which the heap would reach each bin (a max-min prefix scan over
the bins, ``log2(bins)`` steps), hence which neighbour each bin takes its phase from, and then
integrates frame by frame, one gather per frame, in a `tf.while_loop`: the result is what the
heap gives, up to ties, at the cost of a few Griffin-Lim iterations.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_audio_vae.data.stft import check_stft_sizes

HANN_GAMMA = 0.25645  # gamma / n_fft^2 of the Gaussian equivalent to a Hann window (samples^2)
DEFAULT_TOLERANCE = 1e-5  # of the clip's largest magnitude; smaller coefficients get random phase


def pghi_phase(
    magnitude: tf.Tensor,
    n_fft: int = 256,
    hop_length: int = 64,
    tolerance: float = DEFAULT_TOLERANCE,
    gamma: float | None = None,
    seed: int = 0,
) -> tf.Tensor:
    """The phase that phase-gradient heap integration gives ``magnitude``, in the project's STFT.

    The phase is in the convention of `data.stft.stft` (``tf.signal.stft``: each frame's phase
    referred to the frame's first sample, Hann window of ``n_fft`` samples, hop ``hop_length``), so
    ``magnitude * exp(1j * phase)`` is an STFT to invert or to start Griffin-Lim from.

    #### Examples

    ```python
    from tfp_audio_vae.data.stft import stft_magnitude

    wave = np.sin(2 * np.pi * 1031.25 / 8000 * np.arange(8192)).astype(np.float32)
    phase = pghi_phase(stft_magnitude(wave)).numpy()  # [128, 129]; the tone is on bin 33
    advance = np.angle(np.exp(1j * (phase[1:, 33] - phase[:-1, 33])))  # [127], per hop
    # 2 pi 1031.25 / 8000 * 64 = 16.5 pi, which is pi / 2 modulo 2 pi
    float(np.round(np.median(advance), 3))  # ==> 1.571
    ```

    Args:
      magnitude: float ``[batch, frames, n_fft // 2 + 1]`` STFT magnitude (or one
        ``[frames, n_fft // 2 + 1]`` spectrogram), non-negative, including the Nyquist bin.
      n_fft: frame and FFT length, in samples (the Hann window's length).
      hop_length: hop between frames, in samples.
      tolerance: in (0, 1): coefficients below ``tolerance`` times their clip's largest
        magnitude are left out of the integration and get a random phase.
      gamma: time-frequency ratio of the equivalent Gaussian window ``exp(-pi t^2 / gamma)``,
        in samples^2; ``None`` is a Hann window's, ``0.25645 * n_fft**2``.
      seed: seed of the random phase of coefficients below ``tolerance`` and of each
        integration's starting coefficient (where no earlier frame reaches it).
    Returns:
      float32 ``[batch, frames, n_fft // 2 + 1]`` phase in radians, in [0, 2 pi)
      (``[frames, bins]`` for a single spectrogram).
    Raises:
      ValueError: if ``n_fft`` or ``hop_length`` are invalid, ``tolerance`` is not in (0, 1),
        ``gamma`` is not positive, ``seed`` is not an integer, or ``magnitude`` does not have
        ``n_fft // 2 + 1`` bins and a known, non-zero number of frames.
      tf.errors.InvalidArgumentError: if ``magnitude`` holds negative or non-finite values.
    """
    magnitude, single = check_magnitude(magnitude, n_fft, hop_length)
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    if gamma is None:
        gamma = HANN_GAMMA * n_fft**2
    if not gamma > 0:
        raise ValueError(f"gamma must be positive (samples^2), got {gamma}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    phase = pghi_graph(
        magnitude,
        n_fft,
        hop_length,
        tf.constant(tolerance, tf.float32),
        tf.constant(gamma, tf.float32),
        tf.constant(seed, tf.int32),
    )  # [batch, frames, bins]
    return phase[0] if single else phase


def check_magnitude(magnitude: tf.Tensor, n_fft: int, hop_length: int) -> tuple[tf.Tensor, bool]:
    """``magnitude`` as float32 ``[batch, frames, bins]`` and whether it was one ``[frames, bins]``.

    Raises ValueError on bad STFT sizes or shapes, InvalidArgumentError on negative or non-finite
    values (the checks `griffin_lim` and `pghi_phase` share).
    """
    check_stft_sizes(n_fft, hop_length)
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
    return (magnitude[tf.newaxis] if single else magnitude), single


@tf.function
def pghi_graph(
    magnitude: tf.Tensor,
    n_fft: int,
    hop_length: int,
    tolerance: tf.Tensor,
    gamma: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """`pghi_phase` without the argument checks: ``[batch, frames, bins]`` -> phase, same shape.

    A `tf.function` of TensorFlow ops only (no Python callbacks), traced once per ``n_fft``,
    ``hop_length`` and input shape; ``tolerance``, ``gamma`` and ``seed`` are tensors. Works
    frames-first, ``[frames, batch, bins]``, the order the frame-by-frame integration needs.
    """
    magnitude = tf.transpose(magnitude, [1, 0, 2])  # [frames, batch, bins]
    frames, bins = magnitude.shape[0], magnitude.shape[2]
    time_step, bin_step = phase_gradients(magnitude, n_fft, hop_length, gamma)
    # time_step [frames, batch, bins]: phase advance from the previous frame (trapezoid rule);
    # bin_step [frames, batch, bins]: phase advance from bin k - 1 to bin k (trapezoid rule).

    peak = tf.reduce_max(magnitude, axis=[0, 2], keepdims=True)  # [1, batch, 1]
    # Heap priorities as positive levels (log-magnitude above the tolerance); 0 leaves a
    # coefficient out.
    level = tf.maximum(tf.math.log(tf.math.divide_no_nan(magnitude, tolerance * peak)), 0.0)
    kept = level > 0.0  # [frames, batch, bins]
    previous = _shift(level, 1, axis=0)  # [frames, batch, bins]
    # A bin is reached from the previous frame at the previous bin's level. Where that bin is out
    # (or there is no previous frame), the bin can only start an integration of its own: below
    # every level reached from the previous frame, in the order of its own magnitude.
    offset = 1.0 + tf.reduce_max(level, axis=[0, 2], keepdims=True)  # [1, batch, 1]
    continued = previous > 0.0
    source = tf.where(continued, previous + offset, level)  # [frames, batch, bins]
    ceiling = tf.where(kept, level + offset, 0.0)  # [frames, batch, bins]
    from_left = _max_min_scan(source, ceiling, upward=True)  # best level from bins <= k
    from_right = _max_min_scan(source, ceiling, upward=False)  # best level from bins >= k
    left = _shift(from_left, 1, axis=-1)  # arriving from bin k - 1 (0 at bin 0)
    right = _shift(from_right, -1, axis=-1)  # arriving from bin k + 1 (0 at the last bin)
    # Where each bin takes its phase from: the previous frame (or afresh) if that reaches it
    # first, else the neighbouring bin that does. Bins left out are their own roots.
    is_root = (source >= left) & (source >= right) | ~kept  # [frames, batch, bins]
    from_below = ~is_root & (left >= right)  # phase from bin k - 1

    # Each bin's root, the bin of its frame whose phase comes from the previous frame (or
    # afresh): the last root at or below it if its phase comes from below, else the first at or
    # above it. The bins in between integrate the group delay.
    index = tf.range(bins)  # [bins]
    root_below = _cumulative_extreme(tf.where(is_root, index, -1), upward=True)
    root_above = _cumulative_extreme(tf.where(is_root, index, bins), upward=False)
    root = tf.where(is_root, index, tf.where(from_below, root_below, root_above))

    along_bins = tf.math.cumsum(bin_step, axis=-1)  # [frames, batch, bins]
    # One random field for every clip, so a clip's phase does not depend on its batch.
    random = tf.random.stateless_uniform(
        [frames, 1, bins], seed=tf.stack([seed, 1]), maxval=2 * np.pi
    )  # [frames, 1, bins]
    follows = continued & kept  # roots that continue the previous frame
    start = tf.where(follows, time_step, random)  # the root's phase less the previous frame's
    offset_phase = _gather_bins(start - along_bins, root) + along_bins  # [frames, batch, bins]

    # Frame by frame: phase[m] = phase[m - 1][root] (where the root follows) + offset_phase[m].
    def integrate(before: tf.Tensor, frame: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        frame_root, frame_follows, frame_offset = frame  # each [batch, bins]
        carried = tf.gather(before * frame_follows, frame_root, batch_dims=1)  # [batch, bins]
        return tf.math.floormod(carried + frame_offset, 2 * np.pi)

    # A `tf.while_loop` (`tf.scan`): unrolled over 128 frames, the function took 10 s instead of
    # 2 s to trace, for a gain in run time lost in the noise of a shared 2-core machine.
    phase = tf.scan(
        integrate,
        (root, tf.cast(follows, tf.float32), offset_phase),
        initializer=tf.zeros_like(magnitude[0]),
    )  # [frames, batch, bins]
    return tf.transpose(phase, [1, 0, 2])  # [batch, frames, bins]


def phase_gradients(
    magnitude: tf.Tensor, n_fft: int, hop_length: int, gamma: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Phase steps between neighbouring coefficients, from the log-magnitude's derivatives.

    For the Gaussian window ``exp(-pi t^2 / gamma)``, with ``s = log|STFT|``, time ``x`` and
    frequency ``w`` in samples and cycles per sample, and the phase ``phi`` referred to time 0,
    ``d phi / dx = (1 / gamma) ds/dw`` and ``d phi / dw = -2 pi x - gamma ds/dx``. The project's
    STFT refers each frame's phase to its first sample, ``n_fft / 2`` before the window's centre
    ``x``: that adds ``2 pi w x - pi k``, so the phase advances by
    ``hop (2 pi k / n_fft + (n_fft / gamma) ds/dk)`` per frame and by
    ``-(gamma / (hop n_fft)) ds/dm + pi`` per bin (``m``, ``k``: frame and bin; derivatives as
    centred differences, the spectrum mirrored at DC and Nyquist, the first and last frames
    repeated).

    Args:
      magnitude: float32 ``[frames, batch, bins]`` (frames first).
      n_fft, hop_length: the STFT's sizes, in samples.
      gamma: the equivalent Gaussian's time-frequency ratio, in samples^2.
    Returns:
      ``time_step``: float32 ``[frames, batch, bins]``, radians from frame ``m - 1`` to ``m`` (the
      trapezoid rule over the two frames' instantaneous frequencies; frame 0's is unused), and
      ``bin_step``: float32 ``[frames, batch, bins]``, radians from bin ``k - 1`` to ``k``
      (bin 0's is 0). Neither is wrapped to [0, 2 pi).
    """
    peak = tf.reduce_max(magnitude, axis=[0, 2], keepdims=True)  # [1, batch, 1]
    # Floored 240 dB below each clip's peak so silence has finite (zero) derivatives.
    log_magnitude = tf.math.log(tf.maximum(magnitude, 1e-12 * peak + 1e-30))  # [f, b, bins]
    mirrored = tf.concat(
        [log_magnitude[..., 1:2], log_magnitude, log_magnitude[..., -2:-1]], axis=-1
    )  # [frames, batch, bins + 2]
    edged = tf.concat(
        [log_magnitude[:1], log_magnitude, log_magnitude[-1:]], axis=0
    )  # [frames + 2, batch, bins]
    bins = n_fft // 2 + 1
    centre = tf.constant(2 * np.pi * hop_length / n_fft * np.arange(bins), tf.float32)  # [bins]
    # rad per frame, and rad per bin less pi (the pi per bin is added back below)
    frequency = centre + (0.5 * hop_length * n_fft / gamma) * (
        mirrored[..., 2:] - mirrored[..., :-2]
    )
    group_delay = (-0.5 / (hop_length * n_fft) * gamma) * (edged[2:] - edged[:-2])
    time_step = 0.5 * (frequency + _shift(frequency, 1, axis=0))
    bin_step = 0.5 * (group_delay + _shift(group_delay, 1, axis=-1)) + np.pi
    return time_step, bin_step * tf.cast(tf.range(bins) > 0, tf.float32)


def _shift(x: tf.Tensor, by: int, axis: int) -> tf.Tensor:
    """``x`` moved by one place along ``axis`` (0 or -1), to higher indices if ``by`` is 1 and
    to lower ones if it is -1, zero-filled."""
    if axis == 0:
        zeros = tf.zeros_like(x[:1])
        return tf.concat([zeros, x[:-1]] if by > 0 else [x[1:], zeros], axis=0)
    zeros = tf.zeros_like(x[..., :1])
    return tf.concat([zeros, x[..., :-1]] if by > 0 else [x[..., 1:], zeros], axis=-1)


def _gather_bins(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """``x[..., index[..., k]]`` for every leading position: float ``[..., bins]`` gathered by
    int32 ``[..., bins]`` (one flat gather)."""
    bins = x.shape[-1]
    rows = tf.reshape(tf.range(tf.size(index) // bins) * bins, tf.shape(index[..., :1]))
    return tf.reshape(tf.gather(tf.reshape(x, [-1]), tf.reshape(index + rows, [-1])), tf.shape(x))


def _cumulative_extreme(x: tf.Tensor, upward: bool) -> tf.Tensor:
    """Running maximum of int32 ``[..., bins]`` along the last axis from bin 0 up (``upward``),
    or running minimum from the last bin down (a Hillis-Steele scan)."""
    bins = x.shape[-1]
    distance = 1
    while distance < bins:
        if upward:
            x = tf.maximum(x, tf.concat([x[..., :distance], x[..., :-distance]], -1))
        else:
            x = tf.minimum(x, tf.concat([x[..., distance:], x[..., -distance:]], -1))
        distance *= 2
    return x


def _max_min_scan(source: tf.Tensor, ceiling: tf.Tensor, upward: bool) -> tf.Tensor:
    """``reach[k] = min(ceiling[k], max(source[k], reach[k - 1]))`` along the last axis, with
    ``reach[-1] = 0``: the best bottleneck level at which bins ``<= k`` reach bin ``k``; with
    ``upward=False`` the same from the last bin down (bins ``>= k``, ``reach[k + 1]``).

    Each step ``x -> min(c, max(s, x))`` is the clamp of ``x`` to ``[min(s, c), c]``; clamps
    compose into clamps, so a Hillis-Steele scan takes ``ceil(log2(bins))`` steps. All inputs are
    ``>= 0`` and of shape ``[..., bins]``.
    """
    low = tf.minimum(source, ceiling)  # [..., bins]
    high = ceiling
    bins = source.shape[-1]
    distance = 1
    while distance < bins:
        # Bins beyond the ends have the identity clamp, [0, inf).
        low_edge = tf.zeros_like(low[..., :distance])
        high_edge = tf.fill(tf.shape(low_edge), np.inf)
        if upward:
            low_before = tf.concat([low_edge, low[..., :-distance]], -1)
            high_before = tf.concat([high_edge, high[..., :-distance]], -1)
        else:
            low_before = tf.concat([low[..., distance:], low_edge], -1)
            high_before = tf.concat([high[..., distance:], high_edge], -1)
        low, high = (
            tf.minimum(high, tf.maximum(low, low_before)),
            tf.minimum(high, tf.maximum(low, high_before)),
        )
        distance *= 2
    return low  # the composed clamp applied to 0
