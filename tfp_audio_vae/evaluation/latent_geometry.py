"""Latent space on a plane: 2-D projections of latent vectors and the shadows of a mixture
prior's components on them, as plain arrays and numbers (no drawing).

The figures (`plots.plot_latent_space`, `plots.plot_prior_components`) and the web explorer's map
(`explorer.session.Explorer.latent_map`) both place points and ellipses with these functions, so
what the page shows is what the figures show.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior


def fit_pca(x: np.ndarray) -> PCA:
    """scikit-learn's 2-component PCA of points ``[n, d]`` (exact SVD, signs fixed by sklearn).

    Raises:
      ValueError: unless ``x`` is ``[n, d]`` with ``n, d >= 2``.
    """
    if x.ndim != 2 or min(x.shape) < 2:
        raise ValueError(f"PCA to 2-D needs points [n, d] with n, d >= 2, got shape {x.shape}")
    return PCA(n_components=2, svd_solver="full").fit(x)


def projected_covariances(pca: PCA, variances: np.ndarray) -> np.ndarray:
    """Diagonal covariances ``[m, d]`` (variances) -> their projections ``W S W^T`` ``[m, 2, 2]``."""
    w = pca.components_  # [2, d]
    return np.einsum("kd,md,ld->mkl", w, np.asarray(variances, np.float64), w)


def axis_labels(pca: PCA, what: str) -> tuple[str, str]:
    """The PCA axes' labels: each one's share of the variance of ``what`` it holds."""
    ratio = pca.explained_variance_ratio_
    return (
        f"PC 1 ({ratio[0]:.0%} of {what} variance)",
        f"PC 2 ({ratio[1]:.0%} of {what} variance)",
    )


def project_latents(
    latents: ArrayLike,
    method: Literal["pca", "tsne"] = "pca",
    *,
    perplexity: float = 30.0,
    seed: int = 0,
) -> tuple[np.ndarray, tuple[str, str], PCA | None]:
    """Latent vectors ``[n, d]`` -> 2-D points ``[n, 2]``, their axis labels, and the fitted PCA
    (``None`` for t-SNE, which cannot place new points).

    ``"pca"`` is linear (its axes show the share of variance they hold); ``"tsne"`` is
    scikit-learn's Barnes-Hut `TSNE` with ``perplexity`` capped at ``(n - 1) / 3`` (keeps
    neighbourhoods, not distances; its axes have no units).
    """
    latents = np.asarray(latents, dtype=np.float64)
    if method == "pca":
        pca = fit_pca(latents)
        return pca.transform(latents), axis_labels(pca, "latent"), pca  # [n, 2]
    if method == "tsne":
        xy = TSNE(
            perplexity=min(perplexity, (len(latents) - 1) / 3), init="pca", random_state=seed
        ).fit_transform(latents)  # [n, 2]
        return xy, ("t-SNE 1", "t-SNE 2"), None
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def component_ellipses(pca: PCA, prior: MixtureOfGaussiansPrior) -> list[dict[str, float]]:
    """Each mixture component's shadow on the PCA plane: its projected mean and the ±2 standard
    deviation ellipse of N(W mu_k, W diag(sigma_k^2) W^T), ``W`` the two PCA axes ``[2, d]``.

    Returns:
      one ``{"x", "y", "width", "height", "angle"}`` per component (latent units; angle in
      degrees, of the width's axis from the first PCA axis).
    """
    centres = pca.transform(prior.means.numpy())  # [K, 2]
    covariances = projected_covariances(pca, prior.scales.numpy() ** 2)  # [K, 2, 2]
    ellipses = []
    for centre, covariance in zip(centres, covariances, strict=True):
        variances, axes = np.linalg.eigh(covariance)  # ascending; axes in columns
        ellipses.append(
            {
                "x": float(centre[0]),
                "y": float(centre[1]),
                "width": 4.0 * math.sqrt(max(variances[1], 0.0)),
                "height": 4.0 * math.sqrt(max(variances[0], 0.0)),
                "angle": math.degrees(math.atan2(axes[1, 1], axes[0, 1])),
            }
        )
    return ellipses
