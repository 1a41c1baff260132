"""Audio of any length through a window-sized model: overlapping windows, each reconstructed on
its own, cross-faded back together.

A model hears ``window`` samples at a time (``SpectrogramConfig.num_samples``: 8192 at 8 kHz,
1.024 s). A longer waveform is cut into windows that start every ``hop`` samples (default half a
window), the last one zero-padded; every window of every waveform goes through one batched
``reconstruct`` call; and the reconstructed windows are overlap-added with `crossfade_weights`,
divided by the weights summed at each sample so that they sum to one there, and trimmed to the
waveform's length. A waveform no longer than the window is one window: its reconstruction,
trimmed, unchanged by the cross-fade.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Reconstruct = Callable[[np.ndarray], np.ndarray]
"""Windows ``[windows, window]`` -> their reconstructions ``[windows, window]``, in order."""


def _check(window: int, hop: int) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1 sample, got {window}")
    if not 1 <= hop <= window:
        raise ValueError(f"hop must be 1 to {window} samples (the window), got {hop}")


def window_count(length: int, window: int, hop: int) -> int:
    """Windows of ``window`` samples, ``hop`` apart, that cover ``length`` samples (at least 1)."""
    _check(window, hop)
    return 1 + math.ceil(max(0, length - window) / hop)


def split_windows(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``wave`` ``[samples]`` -> windows ``[windows, window]`` starting every ``hop`` samples;
    the last is zero-padded past the end of ``wave``."""
    count = window_count(len(wave), window, hop)
    padded = np.zeros((count - 1) * hop + window, np.float32)  # [covered samples]
    padded[: len(wave)] = wave
    return np.stack([padded[k * hop : k * hop + window] for k in range(count)])


def crossfade_weights(window: int) -> np.ndarray:
    """``[window]`` float64 raised-cosine weights sin^2(pi (n + 1/2) / window), n = 0 .. window - 1:
    a Hann window sampled half a sample off its zeros, so no weight is 0, and two of them half a
    window apart sum to exactly one (sin^2 + cos^2)."""
    n = np.arange(window, dtype=np.float64)
    return np.sin(np.pi * (n + 0.5) / window) ** 2


def overlap_add(windows: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Windows ``[windows, window]``, ``hop`` samples apart, -> one waveform ``[length]``.

    Each window is weighted by `crossfade_weights` and the weighted sum is divided by the summed
    weights, so the weights of the windows overlapping at any sample sum to one: a cross-fade
    between neighbours, and a sample only one window covers (the first and last ``hop`` samples,
    or all of a single window) is that window's own sample. ``hop == window`` is plain
    concatenation.

    Raises:
      ValueError: if there are no windows, they cover fewer than ``length`` samples, or ``hop``
        is not in 1 .. window.
    """
    count, window = windows.shape
    _check(window, hop)
    covered = (count - 1) * hop + window
    if count < 1 or not 0 <= length <= covered:
        raise ValueError(
            f"{count} windows of {window} samples, {hop} apart, cannot cover {length} samples"
        )
    weights = crossfade_weights(window)  # [window]
    total = np.zeros(covered)  # [covered], float64
    summed = np.zeros(covered)
    for k, piece in enumerate(windows):
        total[k * hop : k * hop + window] += weights * piece
        summed[k * hop : k * hop + window] += weights
    return (total / summed)[:length].astype(np.float32)


def reconstruct_long(
    waves: Sequence[np.ndarray],
    reconstruct: Reconstruct,
    window: int,
    hop: int | None = None,
) -> list[np.ndarray]:
    """Waveforms of any lengths ``[samples_i]`` -> their reconstructions ``[samples_i]``.

    Every wave is `split_windows`, all the windows go through one ``reconstruct`` call, and each
    wave's reconstructed windows are `overlap_add`-ed and trimmed to its length. The batch holds
    the waves' first windows first, in order, then the other windows: with every wave no longer
    than ``window`` it is just the waves, and a short wave keeps its place in the batch (and with
    it, its Griffin-Lim seed) whatever the waves beside it.

    Args:
      waves: waveforms ``[samples_i]``, in the samples of the model's rate.
      reconstruct: windows ``[windows, window]`` -> reconstructions ``[windows, window]``.
      window: the model's clip length, in samples.
      hop: samples between window starts, 1 .. window; default ``window // 2``.
    Returns:
      one float32 waveform ``[samples_i]`` per wave.
    """
    hop = max(1, window // 2) if hop is None else hop
    if not waves:
        return []
    pieces = [split_windows(np.asarray(w, np.float32), window, hop) for w in waves]
    batch = np.concatenate([p[:1] for p in pieces] + [p[1:] for p in pieces])  # [all, window]
    rebuilt = np.asarray(reconstruct(batch))  # [all, window]
    if rebuilt.shape != batch.shape:
        raise ValueError(f"reconstruct gave {rebuilt.shape} for windows {batch.shape}")
    firsts, rest = rebuilt[: len(pieces)], rebuilt[len(pieces) :]
    others = np.split(rest, np.cumsum([len(p) - 1 for p in pieces])[:-1])
    return [
        overlap_add(np.concatenate([first[np.newaxis], more]), len(wave), hop)
        for wave, first, more in zip(waves, firsts, others, strict=True)
    ]
