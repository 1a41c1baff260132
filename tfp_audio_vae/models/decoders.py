"""Decoders: latents ``[batch, latent_dim]`` -> likelihoods p(x | z) over ``[freq, time, 1]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae import defaults
from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class ConvDecoder(keras.layers.Layer):
    """A transposed-convolution decoder returning ``Independent(Normal(loc, scale), 3)``.

    A dense layer maps z to a ``[freq / 2^L, time / 2^L, filters[0]]`` grid; each of the ``L``
    blocks doubles both sides. The scale is learned, floored at ``scale_floor`` (in normalised
    units, where each frequency bin has unit variance over the training set):

    - ``"bin"`` (default, `defaults.DECODER_SCALE`): one weight per frequency bin, shared over
      time and examples. Measured on FSDD at 15 epochs: reconstructions recognised 55% against
      51% for ``"pixel"``, Inception Score 2.1 against 1.5.
    - ``"pixel"``: predicted per time-frequency cell; the likelihood is markedly higher, mostly by
      giving the silent padding a tiny variance, which does not make the audio better.
    - ``"global"``: one weight.

    Args:
      output_shape: ``(freq, time, 1)`` of the spectrograms; both sides divisible by ``2^L``.
      filters: channels of each upsampling block, coarse to fine.
      kernel_size: convolution kernel size.
      scale: ``"pixel"``, ``"bin"`` or ``"global"``.
      scale_floor: smallest likelihood standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`); the same seed
        builds the same decoder, and no global generator is touched.
    """

    def __init__(
        self,
        output_shape: Sequence[int] = (128, 128, 1),
        filters: Sequence[int] = (256, 128, 64, 32, 16),
        kernel_size: int = 3,
        scale: Literal["pixel", "bin", "global"] = defaults.DECODER_SCALE,
        scale_floor: float = 0.05,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spectrogram_shape = tuple(int(s) for s in output_shape)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.scale = scale
        self.scale_floor = float(scale_floor)
        self.seed = int(seed)
        if scale not in ("pixel", "bin", "global"):
            raise ValueError(f"scale must be 'pixel', 'bin' or 'global', got {scale!r}")
        freq, time, channels = self.spectrogram_shape
        factor = 2 ** len(self.filters)
        if freq % factor or time % factor or channels != 1:
            raise ValueError(
                f"output_shape {self.spectrogram_shape} needs freq and time divisible by "
                f"2^{len(self.filters)} = {factor} and one channel"
            )
        self.grid = (freq // factor, time // factor, self.filters[0])
        self.from_latent = keras.layers.Dense(
            self.grid[0] * self.grid[1] * self.grid[2],
            activation="silu",
            kernel_initializer=glorot_uniform(self.seed, "ConvDecoder", 0),
        )
        self.blocks = [
            keras.layers.Conv2DTranspose(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation="silu",
                kernel_initializer=glorot_uniform(self.seed, "ConvDecoder", i + 1),
            )
            for i, f in enumerate(self.filters)
        ]
        self.to_params = keras.layers.Conv2D(
            2 if scale == "pixel" else 1,
            self.kernel_size,
            padding="same",
            kernel_initializer=glorot_uniform(self.seed, "ConvDecoder", len(self.filters) + 1),
        )
        if scale != "pixel":
            shape = (freq, 1, 1) if scale == "bin" else (1, 1, 1)
            self.raw_scale = self.add_weight(shape=shape, initializer="zeros", name="raw_scale")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, input_shape[-1]]))  # creates every sub-layer's weights

    def call(self, z: tf.Tensor) -> tfd.Independent:
        """z ``[batch, latent]`` -> p(x | z), batch shape ``[batch]``, event ``[freq, time, 1]``."""
        h = tf.reshape(self.from_latent(z), [-1, *self.grid])  # [batch, f / 2^L, t / 2^L, c]
        for block in self.blocks:
            h = block(h)  # [batch, f / 2^(L-i-1), t / 2^(L-i-1), filters[i]]
        params = self.to_params(h)  # [batch, freq, time, 2 or 1]
        if self.scale == "pixel":
            loc, raw_scale = params[..., :1], params[..., 1:]  # [batch, freq, time, 1] each
        else:
            loc, raw_scale = params, self.raw_scale  # raw_scale [freq or 1, 1, 1]
        scale = tf.nn.softplus(raw_scale) + self.scale_floor
        return tfd.Independent(tfd.Normal(loc=loc, scale=scale), reinterpreted_batch_ndims=3)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": list(self.spectrogram_shape),
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "scale": self.scale,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
        }
