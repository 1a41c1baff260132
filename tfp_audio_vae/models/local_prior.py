"""The local level of a two-level latent: time-local latents u whose prior is conditioned on the
global latent z, p(u | z) (top-down, as in ladder VAEs and NVAE).

A model with local latents codes a clip as z ``[latent_dim]`` (what `priors.Prior` models, a
user's own prior included) and u ``[frames, local_dim]``: ``local_dim`` numbers for each of the
``frames`` coarse frames of the encoder's last block (8 frames of 128 ms for the default 8 kHz
network). The encoder's q(z, u | x) is one `tfd.MultivariateNormalDiag` over both (z, then u
frame by frame), so its two levels are independent given x; `LocalPrior` gives p(u | z) as a
`tfd.MultivariateNormalDiag` over ``[frames * local_dim]``, and the ELBO's KL is
KL(q(z | x) || p(z)) + KL(q(u | x) || p(u | z)) at the drawn z, analytic for the local level.

With ``autoregressive=True`` each frame's u is also conditioned on the frames before it,
p(u | z) = prod_t p(u_t | u_<t, z), so the frames a sample draws follow one another as a real
clip's do: the distribution given all of u (`LocalPrior.call` with ``u``) is then diagonal
Gaussian in each frame given the earlier ones, its KL a Monte-Carlo estimate, and a draw
(`LocalPrior.draw`) takes one pass of the network per frame. With ``components=K`` above 1 each
frame's Gaussian becomes a mixture of K (a `tfd.MixtureSameFamily`), for u that can take one of
several shapes given z; its KL is a Monte-Carlo estimate too.

#### Examples

```python
import tensorflow as tf

prior = LocalPrior(frames=8, local_dim=4)
p_u = prior(tf.zeros([2, 16]))  # z [batch 2, latent 16]
p_u.event_shape  # ==> [32]  (8 frames x 4)
ar = LocalPrior(frames=8, local_dim=4, autoregressive=True)
u = ar.draw(tf.zeros([2, 16]), temperature=0.5, seed=(0, 0))  # [2, 32], frame after frame
ar(tf.zeros([2, 16]), u).log_prob(u).shape  # ==> [2]  (log p(u | z), nats)
```
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions
tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class LocalPrior(keras.layers.Layer):
    """p(u | z): z ``[batch, latent]`` -> a distribution over u ``[batch, frames * local_dim]``,
    diagonal Gaussian per frame (or a mixture of ``components`` of them).

    A dense layer spreads z over the frames (``width`` features each, SiLU), a convolution over
    time (kernel 3, SiLU) lets neighbouring frames agree, and a 1x1 convolution gives each
    frame's location and scale (softplus, floored at ``scale_floor``), and with several
    components their logits. Autoregressive, each frame's features also hold the previous
    frame's u and the convolution is causal, so frame t reads z and u_<t alone.

    Args:
      frames: coarse frames of the local level.
      local_dim: latents per frame.
      width: features per frame inside the network.
      scale_floor: smallest standard deviation.
      autoregressive: condition each frame on the frames before it too.
      components: Gaussians in each frame's mixture (1: one Gaussian).
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`).
    """

    def __init__(
        self,
        frames: int,
        local_dim: int,
        width: int = 128,
        scale_floor: float = 1e-3,
        autoregressive: bool = False,
        components: int = 1,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if min(int(frames), int(local_dim), int(components)) < 1:
            raise ValueError(
                "frames, local_dim and components must be positive, got "
                f"{frames}, {local_dim}, {components}"
            )
        self.frames, self.local_dim, self.width = int(frames), int(local_dim), int(width)
        self.scale_floor, self.seed = float(scale_floor), int(seed)
        self.autoregressive, self.components = bool(autoregressive), int(components)
        name = type(self).__name__
        self.spread = keras.layers.Dense(
            self.frames * self.width,
            activation="silu",
            kernel_initializer=glorot_uniform(seed, name, 0),
        )
        self.mix = keras.layers.Conv1D(
            self.width,
            3,
            padding="causal" if self.autoregressive else "same",
            activation="silu",
            kernel_initializer=glorot_uniform(seed, name, 1),
        )
        mixture = self.components if self.components > 1 else 0  # logits, when a mixture
        self.to_params = keras.layers.Conv1D(
            mixture + 2 * self.components * self.local_dim,
            1,
            kernel_initializer=glorot_uniform(seed, name, 2),
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, input_shape[-1]]), tf.zeros([1, self.size]))  # every weight

    @property
    def size(self) -> int:
        """u's size, ``frames * local_dim``."""
        return self.frames * self.local_dim

    def call(self, z: tf.Tensor, u: tf.Tensor | None = None) -> tfd.Distribution:
        """z ``[batch, latent]`` -> p(u | z), batch ``[batch]``, event ``[frames * local_dim]``:
        a `tfd.MultivariateNormalDiag`, or with several components a mixture in each frame.

        Autoregressive, it needs u ``[batch, frames * local_dim]`` too: frame t's distribution
        is then p(u_t | u_<t, z), so the distribution's ``log_prob(u)`` is log p(u | z).
        """
        logits, loc, scale = self._frame_params(z, u)
        if logits is None:
            return tfd.MultivariateNormalDiag(
                tf.reshape(loc, [-1, self.size]), tf.reshape(scale, [-1, self.size])
            )
        per_frame = tfd.MixtureSameFamily(  # batch [batch, frames], event [local]
            tfd.Categorical(logits=logits), tfd.MultivariateNormalDiag(loc, scale)
        )
        return tfd.TransformedDistribution(
            tfd.Independent(per_frame, 1),
            tfb.Reshape([self.size], [self.frames, self.local_dim]),
        )

    def _frame_params(
        self, z: tf.Tensor, u: tf.Tensor | None
    ) -> tuple[tf.Tensor | None, tf.Tensor, tf.Tensor]:
        """Each frame's component logits ``[batch, frames, K]`` (``None`` for one Gaussian),
        locations and scales ``[batch, frames, K, local]`` (``[batch, frames, local]`` for one)."""
        h = tf.reshape(self.spread(z), [-1, self.frames, self.width])  # [batch, frames, width]
        if self.autoregressive:
            if u is None:
                raise ValueError("an autoregressive p(u | z) needs u's earlier frames: pass u")
            frames = tf.reshape(u, [-1, self.frames, self.local_dim])  # [batch, frames, local]
            before = tf.pad(frames[:, :-1], [[0, 0], [1, 0], [0, 0]])  # u_{t-1}, 0 at t = 0
            h = tf.concat([h, before], axis=-1)  # [batch, frames, width + local]
        params = self.to_params(self.mix(h))  # [batch, frames, (K +) 2 K local]
        if self.components == 1:
            logits = None
            loc, raw = tf.split(params, 2, axis=-1)  # [batch, frames, local] each
        else:
            k = self.components
            logits, rest = params[..., :k], params[..., k:]
            loc, raw = (
                tf.reshape(t, [-1, self.frames, k, self.local_dim]) for t in tf.split(rest, 2, -1)
            )
        return logits, loc, tf.nn.softplus(raw) + self.scale_floor

    def draw(
        self, z: tf.Tensor, temperature: float = 1.0, seed: tf.Tensor | None = None
    ) -> tf.Tensor:
        """u ``[batch, frames * local_dim]`` given z ``[batch, latent]``: each frame
        ``temperature`` times its Gaussian's spread from its mean (a stateless ``seed``), or the
        mean itself when ``seed`` is ``None``; with several components, from the component the
        seed picks by its weights (the most probable one without a seed). Autoregressive, frame
        by frame, each given the frames already drawn."""
        size = tf.concat([tf.shape(z)[0:1], [self.size]], 0)
        eps = tf.zeros(size) if seed is None else tf.random.stateless_normal(size, seed=seed)
        gumbel = 0.0  # Gumbel-max: argmax(logits + gumbel) draws a component by its weight
        if seed is not None and self.components > 1:
            shape = tf.concat([tf.shape(z)[0:1], [self.frames, self.components]], 0)
            uniform = tf.random.stateless_uniform(
                shape, seed=tf.random.experimental.stateless_fold_in(seed, 1), minval=1e-20
            )
            gumbel = -tf.math.log(-tf.math.log(uniform))  # [batch, frames, K]

        def drawn(u: tf.Tensor) -> tf.Tensor:  # every frame, given u's earlier frames
            logits, loc, scale = self._frame_params(z, u)
            if logits is not None:  # the chosen component's location and scale
                chosen = tf.one_hot(tf.argmax(logits + gumbel, axis=-1), self.components)
                loc, scale = (tf.einsum("bfk,bfkl->bfl", chosen, t) for t in (loc, scale))
            step = loc + temperature * scale * tf.reshape(eps, tf.shape(loc))
            return tf.reshape(step, size)  # [batch, frames * local]

        if not self.autoregressive:
            return drawn(None)
        u = tf.zeros(size)
        for t in range(self.frames):  # frame t reads frames < t alone: the rest may be anything
            keep = tf.range(self.size) < (t + 1) * self.local_dim  # frames <= t
            u = tf.where(keep, drawn(u), u)
        return u

    def kl(self, q_u: tfd.Distribution, z: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
        """KL(q(u | x) || p(u | z)) per example, ``[batch]`` (nats), given the draws z
        ``[S, batch, latent]`` and u ``[S, batch, frames * local_dim]`` from q: analytic at the
        first draw's z, or, autoregressive or a mixture, the mean over draws of
        log q(u | x) - log p(u | z)."""
        if not self.autoregressive and self.components == 1:
            return tfd.kl_divergence(q_u, self(z[0]))
        return tf.reduce_mean(q_u.log_prob(u) - self.log_prob(z, u), axis=0)

    def log_prob(self, z: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
        """log p(u | z) in nats, ``[...]``, of z ``[..., latent]`` and u ``[..., frames *
        local_dim]`` with any leading dimensions (draws, batch)."""
        flat_z = tf.reshape(z, tf.stack([-1, tf.shape(z)[-1]]))
        flat_u = tf.reshape(u, [-1, self.size])
        return tf.reshape(self(flat_z, flat_u).log_prob(flat_u), tf.shape(u)[:-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "frames": self.frames,
            "local_dim": self.local_dim,
            "width": self.width,
            "scale_floor": self.scale_floor,
            "autoregressive": self.autoregressive,
            "components": self.components,
            "seed": self.seed,
        }
