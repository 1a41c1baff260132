"""The local level of a two-level latent: time-local latents u whose prior is conditioned on the
global latent z, p(u | z) (top-down, as in ladder VAEs and NVAE).

A model with local latents codes a clip as z ``[latent_dim]`` (what `priors.Prior` models, a
user's own prior included) and u ``[frames, local_dim]``: ``local_dim`` numbers for each of the
``frames`` coarse frames of the encoder's last block (8 frames of 128 ms for the default 8 kHz
network). The encoder's q(z, u | x) is one `tfd.MultivariateNormalDiag` over both (z, then u
frame by frame), so its two levels are independent given x; `LocalPrior` gives p(u | z) as a
`tfd.MultivariateNormalDiag` over ``[frames * local_dim]``, and the ELBO's KL is
KL(q(z | x) || p(z)) + KL(q(u | x) || p(u | z)) at the drawn z, analytic for the local level.

#### Examples

```python
import tensorflow as tf

prior = LocalPrior(frames=8, local_dim=4)
p_u = prior(tf.zeros([2, 16]))  # z [batch 2, latent 16]
p_u.event_shape  # ==> [32]  (8 frames x 4)
```
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.models.encoders import diagonal_posterior
from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class LocalPrior(keras.layers.Layer):
    """p(u | z): z ``[batch, latent]`` -> a diagonal Gaussian over u ``[batch, frames * local_dim]``.

    A dense layer spreads z over the frames (``width`` features each, SiLU), a convolution over
    time (kernel 3, SiLU) lets neighbouring frames agree, and a 1x1 convolution gives each
    frame's location and scale (softplus, floored at ``scale_floor``).

    Args:
      frames: coarse frames of the local level.
      local_dim: latents per frame.
      width: features per frame inside the network.
      scale_floor: smallest standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`).
    """

    def __init__(
        self,
        frames: int,
        local_dim: int,
        width: int = 128,
        scale_floor: float = 1e-3,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(frames) < 1 or int(local_dim) < 1:
            raise ValueError(f"frames and local_dim must be positive, got {frames}, {local_dim}")
        self.frames, self.local_dim, self.width = int(frames), int(local_dim), int(width)
        self.scale_floor, self.seed = float(scale_floor), int(seed)
        name = type(self).__name__
        self.spread = keras.layers.Dense(
            self.frames * self.width,
            activation="silu",
            kernel_initializer=glorot_uniform(seed, name, 0),
        )
        self.mix = keras.layers.Conv1D(
            self.width,
            3,
            padding="same",
            activation="silu",
            kernel_initializer=glorot_uniform(seed, name, 1),
        )
        self.to_params = keras.layers.Conv1D(
            2 * self.local_dim, 1, kernel_initializer=glorot_uniform(seed, name, 2)
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, input_shape[-1]]))  # creates every sub-layer's weights

    @property
    def size(self) -> int:
        """u's size, ``frames * local_dim``."""
        return self.frames * self.local_dim

    def call(self, z: tf.Tensor) -> tfd.MultivariateNormalDiag:
        """z ``[batch, latent]`` -> p(u | z), batch ``[batch]``, event ``[frames * local_dim]``."""
        h = tf.reshape(self.spread(z), [-1, self.frames, self.width])  # [batch, frames, width]
        params = self.to_params(self.mix(h))  # [batch, frames, 2 local]
        loc, raw = tf.split(params, 2, axis=-1)
        flat = [tf.reshape(t, [-1, self.size]) for t in (loc, raw)]
        return diagonal_posterior(tf.concat(flat, axis=-1), self.scale_floor)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "frames": self.frames,
            "local_dim": self.local_dim,
            "width": self.width,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
        }
