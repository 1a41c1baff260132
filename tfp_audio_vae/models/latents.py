"""Where clips sit in latent space: posterior statistics of a dataset, per-class centres, and
latents refined per clip beyond the encoder's guess."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.models.vae import VAE


def encode_dataset(model: VAE, dataset: tf.data.Dataset) -> dict[str, np.ndarray]:
    """Posterior means and standard deviations of every example of ``dataset``.

    Args:
      dataset: batches ``{"spectrogram": [b, freq, time, 1], "label"?: [b], "speaker"?: [b]}``
        (e.g. `pipeline.spectrogram_dataset`); missing labels become -1 and ``""``.
    Returns:
      ``{"mean": [n, latent], "stddev": [n, latent], "label": int32 [n], "speaker": str [n]}``.
    Raises:
      ValueError: if the dataset holds no examples.
    """
    means, stddevs, labels, speakers = [], [], [], []
    for batch in dataset:
        posterior = model.encode(batch["spectrogram"])  # batch [b], event [latent]
        means.append(posterior.mean().numpy())  # [b, latent]
        stddevs.append(posterior.stddev().numpy())  # [b, latent]
        b = len(means[-1])
        labels.append(batch["label"].numpy() if "label" in batch else np.full(b, -1))
        speakers.extend(
            [s.decode() for s in batch["speaker"].numpy()] if "speaker" in batch else [""] * b
        )
    if not means:
        raise ValueError("the dataset holds no examples")
    return {
        "mean": np.concatenate(means),
        "stddev": np.concatenate(stddevs),
        "label": np.concatenate(labels).astype(np.int32),
        "speaker": np.array(speakers),
    }


@dataclasses.dataclass(frozen=True)
class ClassMeans:
    """Where each class's clips sit in latent space (the class-mean route to per-class samples).

    Attributes:
      mean: ``[classes, latent]``, the mean posterior mean of each class's clips.
      spread: ``[classes, latent]``, the root-mean-square posterior standard deviation of those.
      counts: ``[classes]``, clips per class.
    """

    mean: np.ndarray
    spread: np.ndarray
    counts: np.ndarray


def class_mean_latents(
    model: VAE, dataset: tf.data.Dataset, num_classes: int | None = None
) -> ClassMeans:
    """Each class's mean posterior mean and posterior spread over ``dataset`` (use train clips).

    Args:
      num_classes: classes 0 .. num_classes - 1; ``None`` takes the largest label + 1.
    Raises:
      ValueError: if the dataset has no labels, or a class has no clip in it.
    """
    encoded = encode_dataset(model, dataset)
    labels = encoded["label"]
    known = labels[labels >= 0]
    if not len(known):
        raise ValueError("class means need labelled clips; the dataset has none")
    num_classes = num_classes or int(known.max()) + 1
    counts = np.bincount(known, minlength=num_classes)[:num_classes]  # [classes]
    if np.any(counts == 0):
        raise ValueError(f"no clip of class(es) {np.flatnonzero(counts == 0).tolist()} in dataset")
    mean = np.stack([encoded["mean"][labels == c].mean(axis=0) for c in range(num_classes)])
    spread = np.stack(
        [np.sqrt(np.mean(encoded["stddev"][labels == c] ** 2, axis=0)) for c in range(num_classes)]
    )  # [classes, latent]
    return ClassMeans(mean=mean, spread=spread, counts=counts)


def fit_prior(model: VAE, dataset: tf.data.Dataset, *, iterations: int = 50, seed: int = 0) -> None:
    """Refits the model's prior to the aggregate posterior of ``dataset`` (in place).

    The prior must offer ``fit_to_posteriors(means, stddevs, labels, iterations=, seed=)`` (see
    `MixtureOfGaussiansPrior.fit_to_posteriors`); a conditional prior gets the labels.

    Raises:
      TypeError: if the model's prior cannot be fitted.
    """
    fit = getattr(model.prior, "fit_to_posteriors", None)
    if fit is None:
        raise TypeError(
            f"{type(model.prior).__name__} has no fit_to_posteriors method: it cannot be refitted"
        )
    encoded = encode_dataset(model, dataset)
    labels = encoded["label"] if model.prior.conditional else None
    fit(encoded["mean"], encoded["stddev"], labels, iterations=iterations, seed=seed)


def refine_latents(
    model: VAE,
    x: tf.Tensor | np.ndarray,
    steps: int = defaults.REFINE_STEPS,
    *,
    learning_rate: float = defaults.REFINE_LEARNING_RATE,
    batch_size: int = 64,
) -> tf.Tensor:
    """Latents of spectrograms, refined per clip: semi-amortised inference.

    Each z starts at the mean of q(z | x), the encoder's guess, and takes ``steps`` Adam steps up
    log p(x | z) + log p(z) (nats; the marginal prior for a conditional one), towards the MAP
    latent of that clip. An encoder trained on 2,700 clips guesses new clips' latents worse than
    its training clips' (`experiments/refine_latents.py` measures how much). With local latents
    the whole code climbs, up log p(x | z, u) + log p(z) + log p(u | z). Deterministic; the
    model is not changed.

    Args:
      x: normalised spectrograms ``[n, freq, time, 1]``.
      steps: Adam steps; 0 returns the posterior means.
      learning_rate: Adam's step size, in latent units.
      batch_size: clips refined together (each clip's steps depend on it alone).
    Returns:
      codes ``[n, code_dim]`` (z ``[n, latent]`` without local latents).
    Raises:
      ValueError: for negative ``steps`` or a learning rate that is not positive.
    """
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    if not learning_rate > 0:
        raise ValueError(f"the learning rate must be positive, got {learning_rate}")
    x = tf.convert_to_tensor(x, tf.float32)
    means = [model.posterior(x[i : i + batch_size]).mean() for i in range(0, len(x), batch_size)]
    if steps == 0:
        return tf.concat(means, axis=0)

    batches = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
    steps_, rate = tf.constant(steps), tf.constant(learning_rate, tf.float32)
    return tf.concat(
        [_climb(model, z, batch, steps_, rate) for z, batch in zip(means, batches, strict=True)],
        axis=0,
    )


@tf.function(reduce_retracing=True)
def _climb(
    model: VAE, z: tf.Tensor, batch: tf.Tensor, steps: tf.Tensor, learning_rate: tf.Tensor
) -> tf.Tensor:
    """``steps`` Adam steps (Kingma & Ba 2015, per coordinate) of ``z [b, latent]`` up
    log p(batch | z) + log p(z); traced once per model and batch shape."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    m, v = tf.zeros_like(z), tf.zeros_like(z)
    for t in tf.range(1, tf.cast(steps, tf.float32) + 1):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = -tf.reduce_sum(model.decode(z).log_prob(batch) + model.code_log_prior(z))
        g = tape.gradient(loss, z)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        z = z - learning_rate * (m / (1 - b1**t)) / (tf.sqrt(v / (1 - b2**t)) + eps)
    return z
