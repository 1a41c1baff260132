"""Standard perceptual scores of audio against references: PESQ and STOI.

- PESQ (ITU-T P.862): predicted listening quality of a degraded clip against its clean
  reference, as MOS-LQO: narrow-band (P.862 mapped by P.862.1: about 1.0 up to 4.55, the score
  of a clip against itself) at every rate, wide-band (P.862.2, up to 4.64) from 16 kHz up.
  PESQ works at 8 or 16 kHz only: clips at other rates are resampled (soxr) to 16 kHz from
  16 kHz up, else to 8 kHz.
- STOI (Taal et al. 2011): short-time objective intelligibility, from 0 to 1 (1: as
  intelligible as the reference), at any rate.

A clip a measure cannot score is excluded and counted, never averaged: PESQ refuses clips
under 1/4 s (``too_short``) and those in whose reference its voice detector finds no speech
(``no_utterances``, silent clips among them), and fails on an all-zero degraded clip
(``silent_degraded``; near-silence scores about 1.2); STOI needs 30 frames (about 0.4 s) of
speech within 40 dB of the clip's loudest frame (``too_short``, where pystoi would return a
1e-5 placeholder) and gets nothing from an all-zero reference (``silent``).

Needs the ``perceptual`` extra: ``pip install 'tfp-audio-vae[perceptual]'`` (pesq builds from
source with a C compiler).
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import numpy as np
import soxr

INSTALL = "pip install 'tfp-audio-vae[perceptual]'"
NARROW_BAND_RATE = 8000  # Hz; PESQ accepts this rate and the next only
WIDE_BAND_RATE = 16000  # Hz, from which PESQ's wide-band mode applies


def require() -> tuple[ModuleType, ModuleType]:
    """The ``pesq`` and ``pystoi`` modules.

    Raises:
      ImportError: naming the missing package and the extra that installs it.
    """
    try:
        import pesq
        import pystoi
    except ImportError as error:
        raise ImportError(
            f"perceptual scores need the 'perceptual' extra ({error.name} is missing): {INSTALL}",
            name=error.name,
        ) from error
    return pesq, pystoi


def perceptual_scores(
    reference: np.ndarray, degraded: np.ndarray, sample_rate: int
) -> dict[str, dict[str, Any]]:
    """Mean PESQ and STOI of ``degraded`` clips against their ``reference`` clips.

    Args:
      reference: float ``[n, samples]``, the clean clips, amplitude in [-1, 1].
      degraded: float ``[n, samples]``, the clips judged, row ``i`` against ``reference[i]``.
      sample_rate: of both, in Hz.
    Returns:
      ``pesq_nb``, ``stoi`` and, from 16 kHz up, ``pesq_wb``, each
      ``{"mean", "scored", "excluded": {reason: clips}}`` (``mean`` is ``None`` when no clip was
      scored); the PESQ entries also give the ``sample_rate`` (Hz) they were scored at.
    Raises:
      ValueError: if the two arrays are not of one ``[n, samples]`` shape.
      ImportError: without the ``perceptual`` extra.
    """
    reference, degraded = np.asarray(reference), np.asarray(degraded)
    if reference.ndim != 2 or reference.shape != degraded.shape:
        raise ValueError(
            f"need two [n, samples] arrays of one shape, got {reference.shape} and {degraded.shape}"
        )
    rate = pesq_rate(sample_rate)
    pesq_reference = _resample(reference, sample_rate, rate)  # [n, samples at rate]
    pesq_degraded = _resample(degraded, sample_rate, rate)
    scores = {"pesq_nb": pesq_summary(pesq_reference, pesq_degraded, rate, "nb")}
    if rate == WIDE_BAND_RATE:
        scores["pesq_wb"] = pesq_summary(pesq_reference, pesq_degraded, rate, "wb")
    scores["stoi"] = stoi_summary(reference, degraded, sample_rate)
    return scores


def pesq_rate(sample_rate: int) -> int:
    """The rate PESQ scores clips of ``sample_rate`` at (Hz): 16 kHz from 16 kHz up, else 8 kHz."""
    return WIDE_BAND_RATE if sample_rate >= WIDE_BAND_RATE else NARROW_BAND_RATE


def pesq_summary(
    reference: np.ndarray, degraded: np.ndarray, sample_rate: int, mode: str
) -> dict[str, Any]:
    """Mean PESQ (MOS-LQO) over the clips it can score, at 8 or 16 kHz, ``mode`` "nb" or "wb".

    ``reference`` and ``degraded`` are float ``[n, samples]`` at ``sample_rate`` (Hz).
    """
    pesq, _ = require()
    results = [
        _pesq_clip(pesq, ref, deg, sample_rate, mode) for ref, deg in _pairs(reference, degraded)
    ]
    reasons = ("too_short", "no_utterances", "silent_degraded")
    return {**_summary(results, reasons), "sample_rate": sample_rate}


def stoi_summary(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """Mean STOI (0 to 1) over the clips it can score; float ``[n, samples]`` at ``sample_rate`` Hz."""
    _, pystoi = require()
    results = [
        _stoi_clip(pystoi, ref, deg, sample_rate) for ref, deg in _pairs(reference, degraded)
    ]
    return _summary(results, ("too_short", "silent"))


def _pesq_clip(
    pesq: ModuleType, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, mode: str
) -> float | str:
    """PESQ of one clip ``[samples]`` against its reference, or why it has none."""
    if not np.any(reference):
        return "no_utterances"  # what pesq says of silence, after dividing by its zero peak
    if not np.any(degraded):
        return "silent_degraded"  # pesq fails on it (a NaN inside); near-silence scores about 1.2
    try:
        return float(pesq.pesq(sample_rate, reference, degraded, mode))
    except pesq.BufferTooShortError:
        return "too_short"
    except pesq.NoUtterancesError:
        return "no_utterances"


def _stoi_clip(
    pystoi: ModuleType, reference: np.ndarray, degraded: np.ndarray, sample_rate: int
) -> float | str:
    """STOI of one clip ``[samples]`` against its reference, or why it has none."""
    if not np.any(reference):
        return "silent"
    with warnings.catch_warnings():
        # pystoi warns, then returns a 1e-5 placeholder, when too little speech is left to score
        warnings.filterwarnings("error", "Not enough STFT frames", RuntimeWarning)
        try:
            return float(pystoi.stoi(reference, degraded, sample_rate))
        except RuntimeWarning:
            return "too_short"


def _pairs(reference: np.ndarray, degraded: np.ndarray) -> zip:
    """Row ``i`` of each ``[n, samples]`` array, as float64 ``[samples]`` pairs."""
    return zip(reference.astype(np.float64), degraded.astype(np.float64), strict=True)


def _summary(results: list[float | str], reasons: tuple[str, ...]) -> dict[str, Any]:
    """``{"mean", "scored", "excluded": {reason: clips}}`` of per-clip scores or exclusion reasons."""
    scores = [result for result in results if not isinstance(result, str)]
    return {
        "mean": float(np.mean(scores)) if scores else None,
        "scored": len(scores),
        "excluded": {reason: results.count(reason) for reason in reasons},
    }


def _resample(waves: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """float ``[n, samples]`` at ``from_rate`` -> ``[n, samples']`` at ``to_rate`` (Hz), by soxr."""
    if from_rate == to_rate:
        return waves
    return np.stack([soxr.resample(wave, from_rate, to_rate) for wave in waves])
