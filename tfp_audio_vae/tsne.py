"""Exact t-SNE in NumPy: a 2-D map of a few thousand points at most, for pictures of latent spaces.

t-distributed stochastic neighbour embedding (van der Maaten & Hinton, "Visualizing Data using
t-SNE", JMLR 9, 2008): Gaussian neighbour probabilities in the data, each point's bandwidth set by
a binary search to a given perplexity, are matched by Student-t (one degree of freedom)
probabilities in the map, minimising KL(P || Q) by gradient descent with momentum, per-parameter
gains and early exaggeration. Every step is O(n^2) in time and memory (no Barnes-Hut tree), which
is fine up to ~1,500 points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _squared_distances(x: np.ndarray) -> np.ndarray:
    """``[n, d]`` -> ``[n, n]`` squared Euclidean distances."""
    norms = np.sum(x * x, axis=1)  # [n]
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * (x @ x.T), 0.0)  # [n, n]


def _conditional_probabilities(
    sq_dist: np.ndarray, perplexity: float, tol: float = 1e-5, max_iter: int = 200
) -> np.ndarray:
    """p_{j|i} ``[n, n]`` (rows sum to 1, zero diagonal), each row's entropy ``log(perplexity)``.

    All rows' precisions beta_i = 1 / (2 sigma_i^2) are searched at once: doubled while the row is
    too flat (entropy above target) and no upper bound is known, bisected otherwise.
    """
    n = len(sq_dist)
    d = sq_dist.copy()
    np.fill_diagonal(d, np.inf)
    d -= d.min(axis=1, keepdims=True)  # shifts each row: p unchanged, exp never underflows to 0/0
    np.fill_diagonal(d, 0.0)
    target = np.log(perplexity)
    beta, lo, hi = np.ones(n), np.zeros(n), np.full(n, np.inf)
    for _ in range(max_iter):
        p = np.exp(-d * beta[:, None])  # [n, n]
        np.fill_diagonal(p, 0.0)
        sum_p = p.sum(axis=1)  # [n]
        entropy = np.log(sum_p) + beta * np.sum(d * p, axis=1) / sum_p  # [n], nats
        converged = np.abs(entropy - target) < tol
        if converged.all():
            break
        too_flat = entropy > target
        lo = np.where(too_flat, beta, lo)
        hi = np.where(too_flat, hi, beta)
        searched = np.where(np.isinf(hi), 2.0 * beta, 0.5 * (lo + hi))
        beta = np.where(converged, beta, searched)
    return p / sum_p[:, None]


def tsne(
    x: ArrayLike,
    *,
    perplexity: float = 30.0,
    n_iter: int = 500,
    early_exaggeration: float = 12.0,
    learning_rate: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Embeds ``x`` ``[n, d]`` in 2-D with exact t-SNE; the same seed gives the same map.

    The map starts at N(0, 1e-4 I) draws; the first ``min(250, n_iter // 2)`` iterations multiply P
    by ``early_exaggeration`` with momentum 0.5, the rest use momentum 0.8.

    Args:
      x: points ``[n, d]``, n >= 5.
      perplexity: effective number of neighbours of each point, in (1, n - 1); 5 to 50 is usual.
      n_iter: gradient steps.
      early_exaggeration: factor on P during the first phase (clusters form, then spread out).
      learning_rate: step size; by default ``max(n / early_exaggeration / 4, 50)`` (Belkina et
        al. 2019), as scikit-learn's ``"auto"``.
      seed: seeds the initial map.
    Returns:
      float64 ``[n, 2]``, centred at the origin; the axes have no units.
    Raises:
      ValueError: for a non-2-D ``x``, fewer than 5 points, or a perplexity outside (1, n - 1).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"tsne needs points [n, d], got shape {x.shape}")
    n = len(x)
    if n < 5:
        raise ValueError(f"tsne needs at least 5 points, got {n}")
    if not 1.0 < perplexity < n - 1:
        raise ValueError(f"perplexity must be in (1, n - 1) = (1, {n - 1}), got {perplexity}")
    conditional = _conditional_probabilities(_squared_distances(x), perplexity)  # [n, n]
    p = np.maximum((conditional + conditional.T) / (2.0 * n), 1e-12)  # [n, n], symmetric, sums to 1
    if learning_rate is None:
        learning_rate = max(n / early_exaggeration / 4.0, 50.0)
    exaggerated_iters = min(250, n_iter // 2)

    rng = np.random.default_rng(seed)
    y = rng.normal(scale=1e-4, size=(n, 2))  # [n, 2]
    velocity = np.zeros_like(y)
    gains = np.ones_like(y)
    for step in range(n_iter):
        exaggeration, momentum = (
            (early_exaggeration, 0.5) if step < exaggerated_iters else (1.0, 0.8)
        )
        kernel = 1.0 / (1.0 + _squared_distances(y))  # [n, n], Student-t with one dof
        np.fill_diagonal(kernel, 0.0)
        q = np.maximum(kernel / kernel.sum(), 1e-12)  # [n, n]
        w = (exaggeration * p - q) * kernel  # [n, n]
        grad = 4.0 * (w.sum(axis=1)[:, None] * y - w @ y)  # [n, 2], dKL/dy
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8)
        gains = np.maximum(gains, 0.01)
        velocity = momentum * velocity - learning_rate * gains * grad
        y = y + velocity
    return y - y.mean(axis=0)
