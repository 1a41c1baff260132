"""Priors p(z) over the latent space, as Keras layers that return `tfd.Distribution` objects.

A prior is a `Prior` subclass with one method, `distribution`, that builds a distribution with event
shape ``[latent_dim]`` from the layer's current weights. Weights made with ``add_weight`` train with
the rest of the VAE. Subclasses are registered for safe Keras serialisation automatically, so a
model with a user's own prior saves and loads (the class must be defined, e.g. imported, before
loading).

#### Examples

```python
class StudentTPrior(Prior):
    def distribution(self, labels=None):
        return tfd.Independent(tfd.StudentT(df=5.0, loc=tf.zeros(self.latent_dim), scale=1.0), 1)
```
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

_SOFTPLUS_INVERSE_OF_ONE = 0.5413248546129181  # log(e - 1)


class Prior(keras.layers.Layer):
    """A prior p(z) (or a conditional prior p(z | y)) with event shape ``[latent_dim]``.

    Subclass it and implement `distribution`; create trainable parameters with ``add_weight`` in
    ``__init__`` or ``build``, and build the distribution from them on every call (never cache a
    distribution: it would keep the weights' initial values).

    A prior that depends on class labels sets ``conditional = True``: the VAE then trains it with
    the labels, and generation can ask it for a class. Every module asks this attribute, none
    checks the prior's class.

    Args:
      latent_dim: size of the latent space.
    """

    conditional: bool = False
    """Whether `distribution` takes class labels (p(z | y)); ``False`` for an unconditional p(z)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        keras.saving.register_keras_serializable(package=cls.__module__)(cls)

    def __init__(self, latent_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(latent_dim) <= 0:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.latent_dim = int(latent_dim)

    def distribution(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        """The prior as a distribution with event shape ``[latent_dim]``.

        Args:
          labels: int32 ``[batch]`` class labels, for conditional priors; others ignore them.
        Returns:
          a distribution with event shape ``[latent_dim]`` and batch shape ``[]`` (or ``[batch]``
          for a conditional prior given labels).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement distribution()")

    def log_prob(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """log p(z) in nats: z ``[..., batch, latent_dim]`` -> ``[..., batch]``."""
        return self.distribution(labels).log_prob(z)

    def sample(
        self, n: int, labels: tf.Tensor | None = None, seed: int | tuple[int, int] | None = None
    ) -> tf.Tensor:
        """``n`` draws ``[n, latent_dim]``; a conditional prior given ``labels`` ``[n]`` draws one
        per label. An ``(int, int)`` seed is stateless: the same pair gives the same draws."""
        dist = self.distribution(labels)
        if labels is not None and dist.batch_shape.rank:  # one distribution per label
            return dist.sample(seed=seed)  # [n, latent]
        return dist.sample(n, seed=seed)  # [n, latent]

    def call(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        return self.distribution(labels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "latent_dim": self.latent_dim}


class StandardNormalPrior(Prior):
    """The standard normal N(0, I) over ``[latent_dim]``: no parameters, analytic KL to a diagonal
    Gaussian posterior.

    #### Examples

    ```python
    prior = StandardNormalPrior(latent_dim=2)
    prior.distribution().log_prob([0.0, 0.0])  # -1.837877 nats = -log(2 pi)
    ```
    """

    def distribution(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        del labels  # unconditional
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]))


class MixtureOfGaussiansPrior(Prior):
    """A learnable mixture of ``num_components`` diagonal Gaussians, `tfd.MixtureSameFamily`.

    All of the mixture logits, component means and component scales train. Means start at
    ``N(0, init_spread^2)`` draws so components do not sit on top of each other (their typical
    distance, ``init_spread * sqrt(2 * latent_dim)``, is several component scales); scales start at 1.

    With ``conditional=True`` the components are tied to classes (e.g. digits), ``components_per_class``
    (M) each: components ``y*M .. y*M+M-1`` belong to class ``y``. Given labels, `distribution` returns
    the per-example p(z | y): the class's single Gaussian when M = 1 (so the KL to the posterior is
    analytic), else a mixture of its M Gaussians with learned weights (Monte-Carlo KL) — useful when
    a class spreads over several clusters, as FSDD's digits do over its six speakers. Without labels
    it returns the marginal p(z) = sum_y (1/C) p(z | y) over the C classes.

    Args:
      latent_dim: size of the latent space.
      num_components: number of mixture components (classes x components_per_class when
        conditional).
      conditional: tie components to class labels (see above).
      components_per_class: M, components per class when conditional.
      init_spread: standard deviation of the initial component means.
      scale_floor: smallest component scale.
      seed: seed of the initial means.
    """

    def __init__(
        self,
        latent_dim: int,
        num_components: int = 10,
        conditional: bool = False,
        components_per_class: int = 1,
        init_spread: float = 1.0,
        scale_floor: float = 1e-3,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, **kwargs)
        if int(num_components) < 1:
            raise ValueError(f"num_components must be at least 1, got {num_components}")
        self.num_components = int(num_components)
        self.conditional = bool(conditional)
        self.components_per_class = int(components_per_class)
        if self.components_per_class < 1 or self.num_components % self.components_per_class:
            raise ValueError(
                f"components_per_class ({components_per_class}) must divide num_components "
                f"({num_components})"
            )
        self.init_spread = float(init_spread)
        self.scale_floor = float(scale_floor)
        self.seed = seed
        k, d = self.num_components, self.latent_dim
        # Conditional: classes weigh equally (their frequencies are not learned); only the
        # weights within a class train, and with one component per class there are none.
        self.logits = self.add_weight(
            shape=(k,),
            initializer="zeros",
            trainable=not self.conditional or self.components_per_class > 1,
            name="logits",
        )
        self.means = self.add_weight(
            shape=(k, d),
            initializer=keras.initializers.RandomNormal(stddev=self.init_spread, seed=seed),
            name="means",
        )
        self.raw_scales = self.add_weight(
            shape=(k, d),
            initializer=keras.initializers.Constant(_SOFTPLUS_INVERSE_OF_ONE),
            name="raw_scales",
        )

    @property
    def scales(self) -> tf.Tensor:
        """Component scales ``[num_components, latent_dim]`` (softplus of a raw weight, floored)."""
        return tf.nn.softplus(self.raw_scales) + self.scale_floor

    @property
    def num_classes(self) -> int:
        """Number of classes C of a conditional prior (``num_components / components_per_class``)."""
        return self.num_components // self.components_per_class

    @property
    def component_classes(self) -> tf.Tensor:
        """int32 ``[num_components]``: the class each component belongs to (conditional priors)."""
        return tf.range(self.num_components) // self.components_per_class

    @property
    def mixture_logits(self) -> tf.Tensor:
        """Log-weights ``[num_components]`` of the marginal mixture p(z) (classes equal if conditional)."""
        if not self.conditional:
            return self.logits
        per_class = tf.reshape(self.logits, [self.num_classes, self.components_per_class])
        return tf.reshape(tf.nn.log_softmax(per_class, axis=-1), [-1]) - tf.math.log(
            float(self.num_classes)
        )

    def sample_components(
        self, n: int, labels: tf.Tensor | None = None, seed: tuple[int, int] = (0, 1)
    ) -> tf.Tensor:
        """int32 ``[n]`` component indices drawn from the mixture weights (within ``labels``'
        classes if given, for a conditional prior)."""
        if labels is None:
            return tfd.Categorical(logits=self.mixture_logits).sample(n, seed=seed)
        labels = tf.convert_to_tensor(labels, tf.int32)  # [n]
        per_class = tf.reshape(self.logits, [self.num_classes, self.components_per_class])
        within = tfd.Categorical(logits=tf.gather(per_class, labels)).sample(seed=seed)  # [n]
        return labels * self.components_per_class + within

    def components(self) -> tfd.MultivariateNormalDiag:
        """The components as one distribution with batch shape ``[num_components]``."""
        return tfd.MultivariateNormalDiag(loc=self.means, scale_diag=self.scales)

    def distribution(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        if labels is not None and self.conditional:
            labels = tf.convert_to_tensor(labels, tf.int32)
            tf.debugging.assert_less(
                labels, self.num_classes, message="label outside the mixture's classes"
            )
            tf.debugging.assert_non_negative(
                labels, message="a conditional prior needs a label for every example"
            )
            if self.components_per_class == 1:
                return tfd.MultivariateNormalDiag(
                    loc=tf.gather(self.means, labels),  # [batch, latent]
                    scale_diag=tf.gather(self.scales, labels),  # [batch, latent]
                )
            c, m, d = self.num_classes, self.components_per_class, self.latent_dim
            return tfd.MixtureSameFamily(
                mixture_distribution=tfd.Categorical(
                    logits=tf.gather(tf.reshape(self.logits, [c, m]), labels)  # [batch, M]
                ),
                components_distribution=tfd.MultivariateNormalDiag(
                    loc=tf.gather(tf.reshape(self.means, [c, m, d]), labels),  # [batch, M, latent]
                    scale_diag=tf.gather(tf.reshape(self.scales, [c, m, d]), labels),
                ),
            )  # batch [batch], event [latent]
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=self.mixture_logits),  # [K]
            components_distribution=self.components(),  # batch [K], event [latent]
        )

    def fit_to_posteriors(
        self,
        means: np.ndarray,
        stddevs: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        iterations: int = 50,
        seed: int = 0,
    ) -> None:
        """Sets the mixture to the one that best matches the aggregate posterior (in place).

        For a fixed encoder the prior maximising ``E_x E_q[log p(z)]`` over Gaussians is moment
        matching, and over mixtures it is found by EM, which this runs on the posteriors
        N(means_i, stddevs_i^2) (Dempster et al. 1977; "ex-post density estimation", Ghosh et al.
        2020). A conditional prior fits each class's components to that class's clips only (one
        component per class: closed form). Used after or during training, it lets the prior catch
        up with an encoder that moved faster than gradient steps on the prior could follow.

        Args:
          means, stddevs: posterior means and standard deviations ``[n, latent_dim]``.
          labels: int ``[n]`` classes, required by a conditional prior.
          iterations: EM iterations (ignored for one component per class).
          seed: picks the initial components among the points.
        """
        means = np.asarray(means, np.float64)
        variances = np.asarray(stddevs, np.float64) ** 2
        if self.conditional:
            if labels is None:
                raise ValueError("a conditional prior is fitted with the class labels")
            labels = np.asarray(labels)
            groups = [labels == c for c in range(self.num_classes)]
            missing = [c for c, g in enumerate(groups) if not g.any()]
            if missing:
                raise ValueError(f"no posterior of class(es) {missing} to fit their components")
        else:
            groups = [np.ones(len(means), bool)]
        m = self.num_components // len(groups)
        rng = np.random.default_rng(seed)
        fitted = [_fit_gaussians(means[g], variances[g], m, iterations, rng) for g in groups]
        weights, locs, scales = (np.concatenate(parts) for parts in zip(*fitted, strict=True))
        self.means.assign(locs.astype(np.float32))  # [K, latent]
        raw = np.log(np.expm1(np.maximum(scales - self.scale_floor, 1e-6)))  # softplus inverse
        self.raw_scales.assign(raw.astype(np.float32))
        if self.logits.trainable:
            self.logits.assign(np.log(weights).astype(np.float32))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_components": self.num_components,
            "conditional": self.conditional,
            "components_per_class": self.components_per_class,
            "init_spread": self.init_spread,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
        }


def _fit_gaussians(
    means: np.ndarray, variances: np.ndarray, k: int, iterations: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM for ``k`` diagonal Gaussians fitted to posteriors N(means_i, variances_i), started from
    ``k`` distinct points (one Gaussian: the closed-form moment match).

    Returns:
      (weights ``[k]``, means ``[k, d]``, standard deviations ``[k, d]``).
    """
    n = len(means)
    locs = means[rng.choice(n, size=k, replace=n < k)]  # [k, d]
    var = np.broadcast_to(means.var(axis=0) + variances.mean(axis=0) + 1e-6, locs.shape)
    weights = np.full(k, 1.0 / k)
    for _ in range(iterations if k > 1 else 1):
        log_p = np.log(weights) - 0.5 * np.sum(
            (means[:, None] - locs) ** 2 / var + np.log(2 * np.pi * var), axis=-1
        )  # [n, k]: E-step
        resp = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        resp /= resp.sum(axis=1, keepdims=True)
        totals = resp.sum(axis=0) + 1e-9  # [k]: M-step
        locs = resp.T @ means / totals[:, None]  # [k, d]
        spread = resp.T @ variances + np.einsum("nk,nkd->kd", resp, (means[:, None] - locs) ** 2)
        var = spread / totals[:, None] + 1e-6  # [k, d]
        weights = totals / totals.sum()  # [k]
    return weights, locs, np.sqrt(var)
