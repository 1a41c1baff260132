"""Encoders: spectrograms ``[batch, freq, time, 1]`` -> posteriors q(z | x) over ``[latent_dim]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class ConvEncoder(keras.layers.Layer):
    """A stride-2 convolutional encoder returning a diagonal Gaussian posterior q(z | x).

    Each of ``len(filters)`` blocks halves frequency and time (128 x 128 -> 4 x 4 with the
    default five blocks); a dense layer maps the flattened features to the posterior's location
    and scale. Scales pass through softplus plus ``scale_floor``, so they never collapse to 0.

    Args:
      latent_dim: size of z.
      filters: channels of each stride-2 block.
      kernel_size: convolution kernel size.
      scale_floor: smallest posterior standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`); the same seed
        builds the same encoder, and no global generator is touched.
    """

    def __init__(
        self,
        latent_dim: int = 32,
        filters: Sequence[int] = (16, 32, 64, 128, 256),
        kernel_size: int = 3,
        scale_floor: float = 1e-3,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.scale_floor = float(scale_floor)
        self.seed = int(seed)
        self.blocks = [
            keras.layers.Conv2D(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation="silu",
                kernel_initializer=glorot_uniform(self.seed, "ConvEncoder", i),
            )
            for i, f in enumerate(self.filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.to_params = keras.layers.Dense(
            2 * self.latent_dim,
            kernel_initializer=glorot_uniform(self.seed, "ConvEncoder", len(self.filters)),
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, *input_shape[1:]]))  # creates every sub-layer's weights

    def call(self, x: tf.Tensor) -> tfd.MultivariateNormalDiag:
        """x ``[batch, freq, time, 1]`` -> q(z | x), batch shape ``[batch]``, event ``[latent_dim]``."""
        h = x
        for block in self.blocks:
            h = block(h)  # [batch, freq / 2^i, time / 2^i, filters[i]]
        return diagonal_posterior(self.to_params(self.flatten(h)), self.scale_floor)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class Conv1DEncoder(keras.layers.Layer):
    """A frequency-as-channels encoder: 1-D stride-2 convolutions over time, q(z | x) diagonal.

    The ``freq`` bins of each frame are the channels of a sequence over ``time``, so the first
    layer sees a whole spectrum per frame (a harmonic comb is one pattern, not many local ones).
    Each of ``len(filters)`` blocks halves time (128 -> 8 frames with the default four); a dense
    layer maps the flattened ``[time / 2^L, filters[-1]]`` features to the posterior's location
    and scale (softplus plus ``scale_floor``). About 22 M multiply-adds per 128 x 128 input,
    against 19 M for `ConvEncoder`.

    Args:
      latent_dim: size of z.
      filters: channels of each stride-2 block.
      kernel_size: convolution kernel size, over time.
      scale_floor: smallest posterior standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`).
    """

    def __init__(
        self,
        latent_dim: int = 32,
        filters: Sequence[int] = (256, 256, 384, 512),
        kernel_size: int = 3,
        scale_floor: float = 1e-3,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.scale_floor = float(scale_floor)
        self.seed = int(seed)
        self.blocks = [
            keras.layers.Conv1D(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation="silu",
                kernel_initializer=glorot_uniform(self.seed, "Conv1DEncoder", i),
            )
            for i, f in enumerate(self.filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.to_params = keras.layers.Dense(
            2 * self.latent_dim,
            kernel_initializer=glorot_uniform(self.seed, "Conv1DEncoder", len(self.filters)),
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, *input_shape[1:]]))  # creates every sub-layer's weights

    def call(self, x: tf.Tensor) -> tfd.MultivariateNormalDiag:
        """x ``[batch, freq, time, 1]`` -> q(z | x), batch shape ``[batch]``, event ``[latent_dim]``."""
        h = tf.transpose(x[..., 0], [0, 2, 1])  # [batch, time, freq]: a spectrum per frame
        for block in self.blocks:
            h = block(h)  # [batch, time / 2^(i+1), filters[i]]
        return diagonal_posterior(self.to_params(self.flatten(h)), self.scale_floor)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
        }


def diagonal_posterior(params: tf.Tensor, scale_floor: float) -> tfd.MultivariateNormalDiag:
    """``[batch, 2 * latent]`` (locations, then raw scales) -> q(z | x), event ``[latent]``;
    scales are ``softplus(raw) + scale_floor``, so they never collapse to 0."""
    loc, raw_scale = tf.split(params, 2, axis=-1)  # [batch, latent] each
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw_scale) + scale_floor)
