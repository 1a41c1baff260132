"""Where clips sit in latent space: posterior statistics of a dataset, and per-digit centres."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfp_audio_vae.priors import MixtureOfGaussiansPrior
from tfp_audio_vae.vae import VAE

NUM_DIGITS = 10


def encode_dataset(model: VAE, dataset: tf.data.Dataset) -> dict[str, np.ndarray]:
    """Posterior means and standard deviations of every example of ``dataset``.

    Args:
      dataset: batches ``{"spectrogram": [b, freq, time, 1], "digit"?: [b], "speaker"?: [b]}``
        (e.g. `pipeline.spectrogram_dataset`); missing labels become -1 and ``""``.
    Returns:
      ``{"mean": [n, latent], "stddev": [n, latent], "digit": int32 [n], "speaker": str [n]}``.
    Raises:
      ValueError: if the dataset holds no examples.
    """
    means, stddevs, digits, speakers = [], [], [], []
    for batch in dataset:
        posterior = model.encode(batch["spectrogram"])  # batch [b], event [latent]
        means.append(posterior.mean().numpy())  # [b, latent]
        stddevs.append(posterior.stddev().numpy())  # [b, latent]
        b = len(means[-1])
        digits.append(batch["digit"].numpy() if "digit" in batch else np.full(b, -1))
        speakers.extend(
            [s.decode() for s in batch["speaker"].numpy()] if "speaker" in batch else [""] * b
        )
    if not means:
        raise ValueError("the dataset holds no examples")
    return {
        "mean": np.concatenate(means),
        "stddev": np.concatenate(stddevs),
        "digit": np.concatenate(digits).astype(np.int32),
        "speaker": np.array(speakers),
    }


@dataclasses.dataclass(frozen=True)
class ClassMeans:
    """Where each digit's clips sit in latent space (the class-mean route to digit samples).

    Attributes:
      mean: ``[10, latent]``, the mean posterior mean of each digit's clips.
      spread: ``[10, latent]``, the root-mean-square posterior standard deviation of those clips.
      counts: ``[10]``, clips per digit.
    """

    mean: np.ndarray
    spread: np.ndarray
    counts: np.ndarray


def class_mean_latents(model: VAE, dataset: tf.data.Dataset) -> ClassMeans:
    """Each digit's mean posterior mean and posterior spread over ``dataset`` (use train clips).

    Raises:
      ValueError: if a digit has no clip in ``dataset``.
    """
    encoded = encode_dataset(model, dataset)
    digits = encoded["digit"]
    counts = np.bincount(digits[digits >= 0], minlength=NUM_DIGITS)[:NUM_DIGITS]  # [10]
    if np.any(counts == 0):
        raise ValueError(f"no clip of digit(s) {np.flatnonzero(counts == 0).tolist()} in dataset")
    mean = np.stack([encoded["mean"][digits == d].mean(axis=0) for d in range(NUM_DIGITS)])
    spread = np.stack(
        [np.sqrt(np.mean(encoded["stddev"][digits == d] ** 2, axis=0)) for d in range(NUM_DIGITS)]
    )  # [10, latent]
    return ClassMeans(mean=mean, spread=spread, counts=counts)


def fit_prior(model: VAE, dataset: tf.data.Dataset, *, iterations: int = 50, seed: int = 0) -> None:
    """Refits the model's mixture prior to the aggregate posterior of ``dataset`` (in place).

    See `MixtureOfGaussiansPrior.fit_to_posteriors`; a conditional prior uses the digits.

    Raises:
      TypeError: if the model's prior is not a `MixtureOfGaussiansPrior`.
    """
    if not isinstance(model.prior, MixtureOfGaussiansPrior):
        raise TypeError(f"only a mixture prior can be fitted, not {type(model.prior).__name__}")
    encoded = encode_dataset(model, dataset)
    labels = encoded["digit"] if model.prior.conditional else None
    model.prior.fit_to_posteriors(
        encoded["mean"], encoded["stddev"], labels, iterations=iterations, seed=seed
    )
