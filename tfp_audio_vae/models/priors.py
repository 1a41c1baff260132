"""Priors p(z) over the latent space, as Keras layers that return `tfd.Distribution` objects.

A prior is a `Prior` subclass with one method, `distribution`, that builds a distribution with event
shape ``[latent_dim]`` from the layer's current weights. Weights made with ``add_weight`` (or Keras 3
layers held as attributes) train with the rest of the VAE. Subclasses are registered for safe Keras
serialisation automatically, so a model with a user's own prior saves and loads (the class must be
defined, e.g. imported, before loading). A prior that needs the model's encoder (a VampPrior) gets
it through `Prior.connect` when the VAE is built.

Built in: `StandardNormalPrior`, `MixtureOfGaussiansPrior` (optionally conditional on a class),
`VampPrior` (Tomczak & Welling 2018) and `RealNVPPrior` (a flow, Dinh et al. 2017); `Prior`'s
docstring writes a Student-t.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.seeds import derive_seed

tfd = tfp.distributions
tfb = tfp.bijectors

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

    #### Examples

    ```python
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions


    class StudentTPrior(Prior):
        def __init__(self, latent_dim, df=4.0, **kwargs):
            super().__init__(latent_dim, **kwargs)
            self.df = float(df)
            self.log_scale = self.add_weight(shape=(latent_dim,), initializer="zeros")

        def distribution(self, labels=None):
            scale = tf.exp(self.log_scale)  # built from the weights on every call
            return tfd.Independent(tfd.StudentT(self.df, tf.zeros(self.latent_dim), scale), 1)

        def get_config(self):
            return {**super().get_config(), "df": self.df}


    prior = StudentTPrior(latent_dim=3)
    prior.sample(4, seed=(0, 1)).shape  # ==> (4, 3)
    prior.log_prob(tf.zeros([1, 3])).shape  # ==> (1,)
    ```
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

    def connect(self, encoder: keras.layers.Layer, input_shape: tuple[int, ...]) -> None:
        """Called once by `VAE` as it is built, with the model's encoder (x -> q(z | x); for a
        model with local latents its `VAE.encode`) and one input's shape
        ``(freq, time, 1)``: the hook for a prior that needs them (`VampPrior` keeps the encoder
        and makes its pseudo-inputs here). Weights created here train and save like any other.
        The default does nothing."""
        del encoder, input_shape

    def sample(
        self,
        n: int,
        labels: tf.Tensor | None = None,
        *,
        temperature: float = 1.0,
        seed: int | tuple[int, int] | None = None,
    ) -> tf.Tensor:
        """``n`` draws ``[n, latent_dim]``; a conditional prior given ``labels`` ``[n]`` draws one
        per label. An ``(int, int)`` seed is stateless: the same pair gives the same draws.

        ``temperature`` (> 0; 1 samples the prior itself) shrinks each draw towards the centre
        it came from (`sample_with_temperature`): a mixture's draw towards its own component's
        mean, a flow's base draw towards the base mean, any other distribution's towards its mean.
        Override this for a prior where none of these is right.
        """
        return sample_with_temperature(
            self.distribution(labels), n, temperature=temperature, seed=seed
        )

    def call(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        return self.distribution(labels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "latent_dim": self.latent_dim}


def check_temperature(temperature: float | tf.Tensor) -> None:
    """Raises ValueError unless ``temperature`` is a positive finite number. A tensor (a
    graph's, e.g. an exported model's input) is checked when it runs: InvalidArgumentError."""
    if tf.is_tensor(temperature):
        tf.debugging.assert_positive(temperature, message="temperature must be positive")
        tf.debugging.assert_all_finite(temperature, "temperature must be finite")
        return
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")


def sample_with_temperature(
    distribution: tfd.Distribution,
    n: int,
    *,
    temperature: float = 1.0,
    seed: int | tuple[int, int] | None = None,
) -> tf.Tensor:
    """``n`` draws of a distribution over ``[latent]``, each pulled towards its centre.

    ``z = c + temperature * (x - c)`` for a draw ``x`` and its centre ``c``:
    - a `tfd.MixtureSameFamily`: the mean of the component the draw came from;
    - a `tfd.TransformedDistribution` (a flow): ``x`` and ``c`` are the base distribution's draw
      and mean, and ``z`` is pushed through the bijector;
    - anything else: the distribution's mean (an error names the distribution if it has no
      finite mean).
    At temperature 1 this is plain sampling and no centre is computed (a scalar tensor
    ``temperature``, as in a graph, always takes the shrinking path).

    Args:
      distribution: event ``[latent]``; batch ``[]`` (``n`` draws) or ``[n]`` (one draw each).
      n: number of draws.
      temperature: > 0; a float, or a float32 scalar tensor.
      seed: an int, a stateless ``(int, int)`` pair (or int32 ``[2]`` tensor), or None.
    Returns:
      ``[n, latent]``.
    """
    check_temperature(temperature)
    per_draw = distribution.batch_shape.rank > 0  # batch [n]: one draw from each
    shape = [] if per_draw else [n]
    if not tf.is_tensor(temperature) and temperature == 1.0:
        return distribution.sample(shape, seed=seed)  # [n, latent]
    index_seed, draw_seed = tfp.random.split_seed(seed, n=2)
    if hasattr(distribution, "mixture_distribution"):  # tfd.MixtureSameFamily
        index = distribution.mixture_distribution.sample(shape, seed=index_seed)  # [n]
        components = distribution.components_distribution  # batch [K] or [n, K]
        draws = components.sample(shape, seed=draw_seed)  # [n, K, latent]
        centres = components.mean()  # [K, latent] or [n, K, latent]
        x = tf.gather(draws, index, batch_dims=1)  # [n, latent]
        c = tf.gather(centres, index, batch_dims=1 if per_draw else 0)  # [n, latent]
        return c + temperature * (x - c)
    if hasattr(distribution, "bijector"):  # tfd.TransformedDistribution (a flow)
        base = distribution.distribution
        x = base.sample(shape if per_draw or base.batch_shape.rank == 0 else [], seed=draw_seed)
        c = base.mean()
        return distribution.bijector.forward(c + temperature * (x - c))  # [n, latent]
    x = distribution.sample(shape, seed=draw_seed)  # [n, latent]
    try:
        c = distribution.mean()
    except NotImplementedError:
        c = None
    if c is None or (tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(c)))):
        raise ValueError(
            f"temperature {temperature} needs a centre to shrink towards, and "
            f"{type(distribution).__name__} has no mean: sample at temperature 1, or override "
            "Prior.sample"
        )
    return c + temperature * (x - c)


class StandardNormalPrior(Prior):
    """The standard normal N(0, I) over ``[latent_dim]``: no parameters, analytic KL to a diagonal
    Gaussian posterior.

    #### Examples

    ```python
    prior = StandardNormalPrior(latent_dim=2)
    prior.distribution().log_prob([0.0, 0.0])  # ==> -1.837877  (nats: -log 2 pi)
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

    #### Examples

    ```python
    prior = MixtureOfGaussiansPrior(latent_dim=2, num_components=4, conditional=True,
                                    components_per_class=2)  # 2 classes x 2 components
    prior.distribution().batch_shape  # ==> []  (the marginal over both classes)
    prior.distribution(labels=[1, 0, 1]).batch_shape  # ==> [3]  (p(z | y) per label)
    prior.sample(3, labels=[1, 0, 1], temperature=0.5, seed=(0, 1)).shape  # ==> (3, 2)
    ```
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
    chunks = [slice(start, start + EM_CHUNK) for start in range(0, n, EM_CHUNK)]
    for _ in range(iterations if k > 1 else 1):
        resp = np.concatenate(
            [_responsibilities(means[c], weights, locs, var) for c in chunks]
        )  # [n, k]: E-step
        totals = resp.sum(axis=0) + 1e-9  # [k]: M-step
        locs = resp.T @ means / totals[:, None]  # [k, d]
        spread = resp.T @ variances + sum(
            np.einsum("nk,nkd->kd", resp[c], (means[c, None] - locs) ** 2) for c in chunks
        )  # [k, d]
        var = spread / totals[:, None] + 1e-6  # [k, d]
        weights = totals / totals.sum()  # [k]
    return weights, locs, np.sqrt(var)


EM_CHUNK = 8192
"""Posteriors per block of the EM's ``[block, k, d]`` float64 temporaries (64 MiB at k = 32,
d = 32), so a refit over any number of clips holds only ``[n, k]`` and ``[n, d]`` arrays whole."""


def _responsibilities(
    means: np.ndarray, weights: np.ndarray, locs: np.ndarray, var: np.ndarray
) -> np.ndarray:
    """``[n, k]`` posterior probabilities of each component for points ``means`` ``[n, d]``."""
    log_p = np.log(weights) - 0.5 * np.sum(
        (means[:, None] - locs) ** 2 / var + np.log(2 * np.pi * var), axis=-1
    )  # [n, k]
    resp = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    return resp / resp.sum(axis=1, keepdims=True)


class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling 2018): a mixture of the encoder's own posteriors at
    ``num_pseudo_inputs`` learned inputs, ``p(z) = (1/K) sum_k q(z | u_k)``.

    It follows the aggregate posterior by construction, sharing the encoder's weights; its KL has
    no closed form (Monte Carlo). The pseudo-inputs ``u_k`` ``[K, freq, time, 1]`` live in the
    model's normalised spectrogram space, start as N(0, ``init_scale``^2) draws, and are made by
    `connect` once the VAE gives the prior its encoder and input shape.

    #### Examples

    ```python
    from tfp_audio_vae import SpectrogramConfig, build_vae

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    model = build_vae(config, VampPrior(latent_dim=4, num_pseudo_inputs=3))  # calls connect
    model.prior.pseudo_inputs.shape  # ==> (3, 128, 32, 1)
    model.prior.distribution().event_shape  # ==> [4]
    ```

    Args:
      latent_dim: size of the latent space.
      num_pseudo_inputs: K, the mixture's components.
      init_scale: standard deviation of the initial pseudo-inputs (normalised units).
      seed: seed of the initial pseudo-inputs.
    """

    def __init__(
        self,
        latent_dim: int,
        num_pseudo_inputs: int = 50,
        init_scale: float = 1.0,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, **kwargs)
        if int(num_pseudo_inputs) < 1:
            raise ValueError(f"num_pseudo_inputs must be at least 1, got {num_pseudo_inputs}")
        self.num_pseudo_inputs = int(num_pseudo_inputs)
        self.init_scale = float(init_scale)
        self.seed = seed
        self.pseudo_inputs = None

    def connect(self, encoder: keras.layers.Layer, input_shape: tuple[int, ...]) -> None:
        # The encoder belongs to the VAE (which trains and saves it): kept out of Keras' tracking
        # here so its weights are not counted, or saved, twice.
        self.__dict__["_encoder"] = encoder
        if self.pseudo_inputs is None:
            self.pseudo_inputs = self.add_weight(
                shape=(self.num_pseudo_inputs, *input_shape),
                initializer=keras.initializers.RandomNormal(stddev=self.init_scale, seed=self.seed),
                name="pseudo_inputs",
            )  # [K, freq, time, 1]

    def distribution(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        del labels  # unconditional
        encoder = self.__dict__.get("_encoder")
        if encoder is None:
            raise RuntimeError("a VampPrior needs an encoder: use it inside a VAE (build_vae)")
        posteriors = encoder(self.pseudo_inputs)  # batch [K], event [latent]
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=tf.zeros([self.num_pseudo_inputs])),
            components_distribution=posteriors,
        )  # batch [], event [latent]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_pseudo_inputs": self.num_pseudo_inputs,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }


class RealNVPPrior(Prior):
    """A normalising-flow prior: N(0, I) pushed through ``num_layers`` RealNVP affine couplings
    (Dinh et al. 2017), ``p(z) = N(f^-1(z); 0, I) |det df^-1/dz|``.

    Each coupling keeps half of z and shifts and scales the other half by a small Keras 3 MLP of
    the kept half (the halves swap between couplings); the MLPs' last layers start at zero, so the
    flow starts as the identity and the prior as N(0, I). Log-scales pass through ``tanh`` times
    ``max_log_scale``, so a step never scales by more than ``e^max_log_scale``. Density and
    sampling are both one pass; the KL is Monte Carlo. Temperature scales the base draw.

    #### Examples

    ```python
    prior = RealNVPPrior(latent_dim=2, num_layers=2, hidden_units=(8,))
    prior.distribution().log_prob([[0.0, 0.0]])  # ==> [-1.837877]  (N(0, I) at the start)
    prior.sample(5, temperature=0.5, seed=(0, 1)).shape  # ==> (5, 2)
    ```

    Args:
      latent_dim: size of the latent space (at least 2).
      num_layers: affine couplings.
      hidden_units: the MLPs' hidden layer widths.
      max_log_scale: bound of each coupling's log-scale.
      seed: seed of the MLPs' initial weights.
    """

    def __init__(
        self,
        latent_dim: int,
        num_layers: int = 4,
        hidden_units: tuple[int, ...] = (128, 128),
        max_log_scale: float = 2.0,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, **kwargs)
        if self.latent_dim < 2:
            raise ValueError(f"a RealNVPPrior needs latent_dim >= 2, got {latent_dim}")
        self.num_layers = int(num_layers)
        self.hidden_units = tuple(int(h) for h in hidden_units)
        self.max_log_scale = float(max_log_scale)
        self.seed = seed
        kept = self.latent_dim // 2
        self.couplings = [
            _coupling_network(
                kept if i % 2 == 0 else self.latent_dim - kept,
                self.latent_dim - kept if i % 2 == 0 else kept,
                self.hidden_units,
                None if seed is None else derive_seed(seed, "coupling", i),
            )
            for i in range(self.num_layers)
        ]

    def distribution(self, labels: tf.Tensor | None = None) -> tfd.Distribution:
        del labels  # unconditional
        d, kept = self.latent_dim, self.latent_dim // 2
        swap = tfb.Permute(permutation=list(range(kept, d)) + list(range(kept)))
        steps = []
        for i, network in enumerate(self.couplings):
            steps.append(
                tfb.RealNVP(
                    num_masked=kept if i % 2 == 0 else d - kept,
                    shift_and_log_scale_fn=self._shift_and_log_scale(network),
                )
            )
            steps.append(swap if i % 2 == 0 else tfb.Invert(swap))
        base = tfd.MultivariateNormalDiag(loc=tf.zeros([d]))
        return tfd.TransformedDistribution(base, tfb.Chain(list(reversed(steps))))

    def _shift_and_log_scale(self, network: keras.Sequential):
        def shift_and_log_scale(x: tf.Tensor, output_units: int) -> tuple[tf.Tensor, tf.Tensor]:
            flat = tf.reshape(x, [-1, x.shape[-1]])  # [N, kept]: any leading axes, flattened
            out = tf.reshape(network(flat), tf.concat([tf.shape(x)[:-1], [2 * output_units]], 0))
            shift, raw = tf.split(out, 2, axis=-1)  # [..., output_units] each
            return shift, self.max_log_scale * tf.tanh(raw / self.max_log_scale)

        return shift_and_log_scale

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "hidden_units": list(self.hidden_units),
            "max_log_scale": self.max_log_scale,
            "seed": self.seed,
        }


def _coupling_network(
    inputs: int, outputs: int, hidden_units: tuple[int, ...], seed: int | None
) -> keras.Sequential:
    """An MLP ``[..., inputs] -> [..., 2 * outputs]`` (shift and raw log-scale), last layer zero."""
    layers: list[keras.layers.Layer] = [keras.Input((inputs,))]
    for j, width in enumerate(hidden_units):
        layers.append(
            keras.layers.Dense(
                width,
                activation="silu",
                kernel_initializer=keras.initializers.GlorotUniform(
                    seed=None if seed is None else derive_seed(seed, j)
                ),
            )
        )
    layers.append(keras.layers.Dense(2 * outputs, kernel_initializer="zeros"))
    return keras.Sequential(layers)
