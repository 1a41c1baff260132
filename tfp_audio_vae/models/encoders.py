"""Encoders: spectrograms ``[batch, freq, time, 1]`` -> posteriors q(z | x) over ``[latent_dim]``
(and, for a model with local latents, q(z, u | x) over ``[latent_dim + frames * local_dim]``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.deprecation import module_getattr
from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions


class StridedConvEncoder(keras.layers.Layer):
    """What the package's encoders share: ``len(filters)`` stride-2 convolutions (SiLU), then a
    dense layer to the location and scale of a diagonal Gaussian posterior q(z | x).

    A subclass names its convolution (``conv``) and how a spectrogram ``[batch, freq, time, 1]``
    becomes that convolution's input (``inputs``).

    Args:
      latent_dim: size of z.
      filters: channels of each stride-2 block.
      kernel_size: convolution kernel size.
      scale_floor: smallest posterior standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`); the same seed
        builds the same encoder, and no global generator is touched.
      local_dim: time-local latents per frame of the last block's output (0: none); see
        `Conv1DEncoder`, the one network that has them.
    """

    conv: type[keras.layers.Layer]

    def __init__(
        self,
        latent_dim: int,
        filters: Sequence[int],
        kernel_size: int,
        scale_floor: float,
        seed: int,
        local_dim: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.local_dim = int(local_dim)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.scale_floor = float(scale_floor)
        self.seed = int(seed)
        name = type(self).__name__
        self.blocks = [
            self.conv(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation="silu",
                kernel_initializer=glorot_uniform(self.seed, name, i),
            )
            for i, f in enumerate(self.filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.to_params = keras.layers.Dense(
            2 * self.latent_dim, kernel_initializer=glorot_uniform(self.seed, name, len(filters))
        )
        if self.local_dim:  # a 1x1 convolution: each coarse frame's own q(u_t | x)
            self.to_local = keras.layers.Conv1D(
                2 * self.local_dim,
                1,
                kernel_initializer=glorot_uniform(self.seed, name, len(filters) + 1),
            )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, *input_shape[1:]]))  # creates every sub-layer's weights

    def inputs(self, x: tf.Tensor) -> tf.Tensor:
        """``[batch, freq, time, 1]`` -> the first convolution's input."""
        raise NotImplementedError

    def call(self, x: tf.Tensor) -> tfd.MultivariateNormalDiag:
        """x ``[batch, freq, time, 1]`` -> q(z | x), batch shape ``[batch]``, event ``[latent_dim]``;
        with local latents, q(z, u | x), event ``[latent_dim + frames * local_dim]`` (z first,
        then u frame by frame)."""
        h = self.inputs(x)
        for block in self.blocks:
            h = block(h)  # each halves every spatial side
        params = self.to_params(self.flatten(h))  # [batch, 2 latent]
        if self.local_dim:
            loc, raw = tf.split(params, 2, axis=-1)
            local = self.to_local(h)  # [batch, frames, 2 local]
            local_loc, local_raw = tf.split(local, 2, axis=-1)
            flat = [tf.reshape(t, [tf.shape(t)[0], -1]) for t in (local_loc, local_raw)]
            params = tf.concat([loc, flat[0], raw, flat[1]], axis=-1)
        return diagonal_posterior(params, self.scale_floor)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
            **({"local_dim": self.local_dim} if self.local_dim else {}),
        }


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class Conv2DEncoder(StridedConvEncoder):
    """An image-style encoder: 2-D stride-2 convolutions over frequency and time.

    Each of ``len(filters)`` blocks halves frequency and time (128 x 128 -> 4 x 4 with the
    default five blocks); about 19 M multiply-adds per 128 x 128 input. Arguments as
    `StridedConvEncoder`.
    """

    conv = keras.layers.Conv2D

    def __init__(
        self,
        latent_dim: int = 32,
        filters: Sequence[int] = (16, 32, 64, 128, 256),
        kernel_size: int = 3,
        scale_floor: float = 1e-3,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, filters, kernel_size, scale_floor, seed, **kwargs)

    def inputs(self, x: tf.Tensor) -> tf.Tensor:
        return x  # [batch, freq, time, 1]


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class Conv1DEncoder(StridedConvEncoder):
    """A frequency-as-channels encoder: 1-D stride-2 convolutions over time.

    The ``freq`` bins of each frame are the channels of a sequence over ``time``, so the first
    layer sees a whole spectrum per frame (a harmonic comb is one pattern, not many local ones).
    Each of ``len(filters)`` blocks halves time (128 -> 8 frames with the default four); about
    22 M multiply-adds per 128 x 128 input. With ``local_dim``, each of those frames also gives
    the posterior of its own ``local_dim`` time-local latents (`models.local_prior`). Arguments as
    `StridedConvEncoder`.
    """

    conv = keras.layers.Conv1D

    def __init__(
        self,
        latent_dim: int = 32,
        filters: Sequence[int] = (256, 256, 384, 512),
        kernel_size: int = 3,
        scale_floor: float = 1e-3,
        seed: int = 0,
        local_dim: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, filters, kernel_size, scale_floor, seed, local_dim, **kwargs)

    def inputs(self, x: tf.Tensor) -> tf.Tensor:
        return tf.transpose(x[..., 0], [0, 2, 1])  # [batch, time, freq]: a spectrum per frame


# Models saved by 0.1 name the 2-D encoder by its old registered name: it loads as this class.
keras.saving.get_custom_objects()["tfp_audio_vae>ConvEncoder"] = Conv2DEncoder
__getattr__ = module_getattr(__name__, {"ConvEncoder": "Conv2DEncoder"})


def diagonal_posterior(params: tf.Tensor, scale_floor: float) -> tfd.MultivariateNormalDiag:
    """``[batch, 2 * latent]`` (locations, then raw scales) -> q(z | x), event ``[latent]``;
    scales are ``softplus(raw) + scale_floor``, so they never collapse to 0."""
    loc, raw_scale = tf.split(params, 2, axis=-1)  # [batch, latent] each
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw_scale) + scale_floor)
