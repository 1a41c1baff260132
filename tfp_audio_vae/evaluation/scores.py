"""Scores that compare generated audio with real audio: plain functions over arrays.

- `spectral_convergence` and `log_spectral_distance`: distances between two STFT magnitudes of
  the same clip (a reconstruction against its original).
- `inception_score` and `frechet_distance`: statistics of a classifier's view of a set of clips
  (the judge's probabilities and features), as for images (Salimans et al. 2016;
  Heusel et al. 2017).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


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


def _check_pair(reference: tf.Tensor, estimate: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    reference = tf.convert_to_tensor(reference, tf.float32)
    estimate = tf.convert_to_tensor(estimate, tf.float32)
    if reference.shape != estimate.shape or reference.shape.rank not in (2, 3):
        raise ValueError(
            "reference and estimate magnitudes must share one [batch, frames, bins] or "
            f"[frames, bins] shape, got {reference.shape} and {estimate.shape}"
        )
    return reference, estimate


def inception_score(probs: np.ndarray) -> float:
    """Inception Score ``exp(E_x KL(p(y | x) || p(y)))`` of class probabilities ``[n, classes]``.

    ``p(y)`` is the mean of the rows. It is 1 when every clip gets the same prediction and
    ``classes`` (10 for digits) when predictions are confident and spread evenly over the classes.
    """
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"probs must be [n, classes] with n > 0, got shape {probs.shape}")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probs must be a probability distribution")
    marginal = probs.mean(axis=0)  # [classes]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * (np.log(probs) - np.log(marginal)), 0.0)  # [n, cls]
    return float(np.exp(terms.sum(axis=1).mean()))


def gaussian_frechet_distance(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein squared) distance of N(mean_a, cov_a) and N(mean_b, cov_b).

    ``|mean_a - mean_b|^2 + tr(cov_a) + tr(cov_b) - 2 tr((cov_a cov_b)^(1/2))``, where the last
    trace is that of the symmetric ``(cov_a^(1/2) cov_b cov_a^(1/2))^(1/2)`` (same eigenvalues),
    from eigenvalues clipped at 0 against round-off. Units: squared feature units.
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    sqrt_a = _sqrtm_psd(cov_a)  # [d, d]
    cross = sqrt_a @ cov_b @ sqrt_a  # [d, d], symmetric positive semi-definite
    cross_eigenvalues = np.linalg.eigvalsh((cross + cross.T) / 2.0)  # [d]
    trace_sqrt = np.sqrt(np.clip(cross_eigenvalues, 0.0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets ``[n, d]`` and ``[m, d]``.

    The judge's features play the part Inception features play in FID. The estimate is biased
    upwards for small sets (it grows as ``n`` and ``m`` shrink), so compare figures computed
    with the same numbers of clips.
    """
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"need [n, d] and [m, d], got {features_a.shape} and {features_b.shape}")
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("each feature set needs at least 2 rows for a covariance")
    return gaussian_frechet_distance(
        features_a.mean(axis=0),
        np.cov(features_a, rowvar=False),  # [d, d]
        features_b.mean(axis=0),
        np.cov(features_b, rowvar=False),
    )


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative round-off clipped)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def level_difference_db(waves: np.ndarray, reference: np.ndarray) -> float:
    """How much louder ``waves`` ``[n, samples]`` are than ``reference`` ``[m, samples]``, in dB:
    ``20 log10`` of the ratio of their median clip RMS (0 dB is the same level)."""
    rms = np.sqrt(np.mean(np.square(np.asarray(waves, np.float64)), axis=1))  # [n]
    reference_rms = np.sqrt(np.mean(np.square(np.asarray(reference, np.float64)), axis=1))
    return float(20.0 * np.log10(np.median(rms) / np.median(reference_rms)))
