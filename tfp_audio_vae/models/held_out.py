"""The likelihood on held-out clips, with its scale calibrated there.

The σ-VAE's ``"optimal"`` decoder scale follows the *training* error down: by the last epochs
its per-bin RMS is far below what the network achieves on clips it has not seen, so held-out
clips are scored against a scale that is too small and their bound rises while their
reconstructions still improve. `held_out_bound` scores clips the way a likelihood should be
scored outside training: each frequency bin's scale is the maximum-likelihood one for the
held-out residuals themselves (closed form: their RMS), which plays the part temperature
scaling plays for a classifier. `calibrate_scale` keeps that scale in the decoder, so every
later bound (the test split's −ELBO and IWAE included) is scored with a scale fitted on the
validation split, never on the test split.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import tensorflow as tf

from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.seeds import stateless_seed


@dataclasses.dataclass(frozen=True)
class HeldOutBound:
    """Mean bound terms over held-out clips (nats per clip), and the scale they were scored with.

    Attributes:
      neg_elbo, nll, kl: −ELBO = nll + KL, one posterior draw per clip, KL to the marginal prior.
      bits_per_dim: ``neg_elbo / (freq * time * ln 2)``.
      scale: ``[freq]`` the calibrated per-bin scale (normalised units), or ``None`` when the
        decoder's own scale was used (a decoder without the ``"optimal"`` scale).
      clips: how many clips.
    """

    neg_elbo: float
    nll: float
    kl: float
    bits_per_dim: float
    scale: np.ndarray | None
    clips: int

    def logs(self, prefix: str = "val_") -> dict[str, float]:
        """The terms as Keras logs (``val_neg_elbo``, ...; ``val_loss`` is the −ELBO)."""
        terms = {"loss": self.neg_elbo, "neg_elbo": self.neg_elbo, "nll": self.nll, "kl": self.kl}
        return {f"{prefix}{k}": v for k, v in {**terms, "bits_per_dim": self.bits_per_dim}.items()}


def calibratable(model: VAE) -> bool:
    """Whether the model's decoder has the ``"optimal"`` scale that held-out clips calibrate."""
    return getattr(model.decoder, "scale", None) == "optimal"


def held_out_bound(model: VAE, dataset: tf.data.Dataset, seed: int = 0) -> HeldOutBound:
    """The −ELBO of ``dataset``'s clips with the likelihood's scale fitted to them.

    Each clip is encoded, one z is drawn from q(z | x) (batch ``i`` from the stateless seed
    ``(seed, i)``: no generator moves) and decoded; the squared residuals ``(x − loc)²`` are summed
    over time per bin. The bin's scale is ``σ_f = max(sqrt(mean_{clips, frames} residual²),
    floor)``, the one that maximises these clips' expected log-likelihood, and each clip's
    ``−log p(x | z) = Σ_f [S_f / (2 σ_f²) + T log σ_f] + F T log(2π) / 2``. The KL is the model's
    (analytic or Monte-Carlo, `VAE.kl_divergence`) to the marginal prior, as `metrics.likelihood`
    scores the test split. A decoder without the ``"optimal"`` scale is scored as it is
    (`VAE.elbo_terms`).

    Args:
      model: a `VAE`.
      dataset: batches ``{"spectrogram": [b, freq, time, 1], ...}``.
      seed: the draws of z.
    Raises:
      ValueError: if the dataset holds no clips.
    """
    calibrate = calibratable(model)
    squares, kls = [], []
    for i, batch in enumerate(dataset):
        x = batch["spectrogram"] if isinstance(batch, dict) else batch
        if calibrate:
            square, kl = _residuals(model, x, stateless_seed((seed, i)))
            squares.append(square.numpy().astype(np.float64))  # [b, freq]
        else:
            terms = model.elbo_terms(x, seed=(seed, i))
            squares.append(terms["nll"].numpy().astype(np.float64))  # [b]
            kl = terms["kl"]
        kls.append(kl.numpy().astype(np.float64))  # [b]
    if not kls:
        raise ValueError("the held-out dataset holds no clips")
    kl = np.concatenate(kls)
    freq, time, channels = model.spectrogram_shape
    cells = freq * time * channels
    scale = None
    if calibrate:
        square = np.concatenate(squares)  # [n, freq]
        floor = model.decoder.scale_floor
        scale = np.maximum(np.sqrt(square.mean(axis=0) / time), floor)  # [freq]
        nll = (square / (2.0 * scale**2)).sum(axis=1)  # [n]
        nll = nll + time * np.log(scale).sum() + 0.5 * cells * math.log(2.0 * math.pi)
    else:
        nll = np.concatenate(squares)
    neg_elbo = float(np.mean(nll + kl))
    return HeldOutBound(
        neg_elbo=neg_elbo,
        nll=float(np.mean(nll)),
        kl=float(np.mean(kl)),
        bits_per_dim=neg_elbo / (cells * math.log(2.0)),
        scale=scale,
        clips=int(kl.size),
    )


def calibrate_scale(
    model: VAE, dataset: tf.data.Dataset, seed: int = 0, split: str = "validation"
) -> HeldOutBound:
    """Sets the decoder's ``"optimal"`` scale to the one `held_out_bound` fits on ``dataset``,
    and records where it came from (``decoder.scale_calibration``: ``split`` and the number of
    clips), so that every later bound is scored with it; a decoder with another scale is left
    as it is. `training.fit.train` calls this on the validation split when training ends.

    Returns:
      the held-out bound with that scale.
    """
    bound = held_out_bound(model, dataset, seed)
    if bound.scale is not None:
        model.decoder.running_scale.assign(bound.scale.reshape(-1, 1, 1).astype(np.float32))
        model.decoder.scale_calibration = calibration_record(split, bound)
    return bound


def calibration_record(split: str, bound: HeldOutBound) -> dict[str, Any]:
    """What ``decoder.scale_calibration`` records of a calibration on ``split``."""
    return {"split": split, "clips": bound.clips, "neg_elbo": round(bound.neg_elbo, 3)}


@tf.function(reduce_retracing=True)
def _residuals(model: VAE, x: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per clip, squared residuals at one posterior draw summed over time ``[b, freq]``, and the
    KL to the marginal prior ``[b]``."""
    posterior = model.posterior(x)
    codes = posterior.sample(model.kl_samples, seed=seed)  # [S, b, code]
    loc = model.decode(codes[0]).mean()  # [b, freq, time, 1]
    square = tf.reduce_sum(tf.square(x - loc), axis=[2, 3])  # [b, freq]
    return square, model.code_kl(posterior, codes)
