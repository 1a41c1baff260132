"""Decoders: latents ``[batch, latent_dim]`` -> likelihoods p(x | z) over ``[freq, time, 1]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae import defaults
from tfp_audio_vae.deprecation import module_getattr
from tfp_audio_vae.seeds import glorot_uniform

tfd = tfp.distributions

DecoderScale = Literal["pixel", "bin", "global", "optimal"]
"""How the likelihood's scale is set (see `SpectrogramDecoder`)."""
DECODER_SCALES: tuple[str, ...] = get_args(DecoderScale)
OPTIMAL_SCALE_MOMENTUM = 0.99
"""Per training step, the running estimate of the ``"optimal"`` scale keeps this much of itself."""


class SpectrogramDecoder(keras.layers.Layer):
    """What every decoder here shares: the likelihood ``Independent(Normal(loc, scale), 3)`` over
    ``[freq, time, 1]`` and its learned scale, floored at ``scale_floor`` (normalised units, where
    each frequency bin has unit variance over the training set):

    - ``"optimal"`` (the default, `defaults.DECODER_SCALE`): the σ-VAE's calibrated decoder
      (Rybkin et al. 2021), per bin. In training each bin's scale is the root-mean-square error
      of the batch's means in that bin (the scale that maximises the batch's likelihood, see
      `calibrated`), so the weight of reconstruction against the KL is right from the first
      step, where a learned scale moves by about the learning rate per step. Outside training
      the scale is the one calibrated on held-out clips when training ends
      (`models.held_out.calibrate_scale`: each bin's maximum-likelihood scale on the
      validation split's residuals, recorded as ``scale_calibration``), or, for a model
      trained without validation clips, a running average of the training batches' values.
    - ``"bin"``: one learned weight per frequency bin, shared over time and examples.
    - ``"pixel"``: predicted per time-frequency cell; the likelihood is markedly higher, mostly by
      giving the silent padding a tiny variance, and the audio collapses (the fine structure is
      explained as noise).
    - ``"global"``: one learned weight.

    ``docs/results.md`` ("What each lever did") has what each measured.

    A subclass builds its network in ``__init__`` and maps z to ``params`` ``[batch, freq, time,
    2 or 1]`` (location, and the raw scale for ``"pixel"``), then returns `likelihood`.

    ``residual_power`` (``[freq]`` or ``None``) is the decoder's level calibration, set after
    training by `models.level.calibrate_level` and saved in its config: per frequency bin,
    ``0.5 log mean exp(2 e)`` over the training clips' residuals ``e = L - mu_L`` (natural-log
    magnitude, nats) at the posterior mean, so ``exp(mu_L + residual_power)`` has the training
    clips' expected power (`synthesis.waveforms.audible_spectrogram`).
    """

    def __init__(
        self,
        output_shape: Sequence[int],
        filters: Sequence[int],
        kernel_size: int,
        scale: DecoderScale,
        scale_floor: float,
        seed: int,
        residual_power: Sequence[float] | None = None,
        scale_calibration: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.residual_power = None if residual_power is None else tuple(map(float, residual_power))
        self.scale_calibration = None if scale_calibration is None else dict(scale_calibration)
        """Where the ``"optimal"`` scale used outside training came from, e.g. ``{"split":
        "validation", "clips": 240}`` (`models.held_out.calibrate_scale`); ``None``: the running
        average of the training batches' scales."""
        if scale not in DECODER_SCALES:
            raise ValueError(f"scale must be one of {', '.join(DECODER_SCALES)}, got {scale!r}")
        self.spectrogram_shape = tuple(int(s) for s in output_shape)
        if len(self.spectrogram_shape) != 3 or self.spectrogram_shape[2] != 1:
            raise ValueError(f"output_shape must be (freq, time, 1), got {self.spectrogram_shape}")
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.scale = scale
        self.scale_floor = float(scale_floor)
        self.seed = int(seed)
        self.params_per_cell = 2 if scale == "pixel" else 1
        if scale in ("bin", "global"):
            shape = (self.spectrogram_shape[0], 1, 1) if scale == "bin" else (1, 1, 1)
            self.raw_scale = self.add_weight(shape=shape, initializer="zeros", name="raw_scale")
        elif scale == "optimal":
            self.running_scale = self.add_weight(
                shape=(self.spectrogram_shape[0], 1, 1),
                initializer="ones",
                trainable=False,
                aggregation="mean",
                name="running_scale",
            )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, input_shape[-1]]))  # creates every sub-layer's weights

    def _make_layers(
        self,
        grid: tuple[int, ...],
        upsample: type[keras.layers.Layer],
        to_params: Callable[[keras.initializers.Initializer], keras.layers.Layer],
    ) -> None:
        """The network: a dense layer from z to ``grid``, one stride-2 ``upsample`` block (SiLU)
        per entry of ``filters``, then ``to_params(kernel_initializer)``; each layer seeded from
        ``seed``."""
        name = type(self).__name__
        self.grid = grid
        self.from_latent = keras.layers.Dense(
            int(np.prod(grid)),
            activation="silu",
            kernel_initializer=glorot_uniform(self.seed, name, 0),
        )
        self.blocks = [
            upsample(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation="silu",
                kernel_initializer=glorot_uniform(self.seed, name, i + 1),
            )
            for i, f in enumerate(self.filters)
        ]
        self.to_params = to_params(glorot_uniform(self.seed, name, len(self.filters) + 1))

    def likelihood(self, params: tf.Tensor) -> tfd.Independent:
        """``params`` ``[batch, freq, time, 2 or 1]`` -> p(x | z), event ``[freq, time, 1]``."""
        if self.scale == "optimal":
            return _normal(params, self.running_scale)  # running_scale [freq, 1, 1]
        if self.scale == "pixel":
            loc, raw_scale = params[..., :1], params[..., 1:]  # [batch, freq, time, 1] each
        else:
            loc, raw_scale = params, self.raw_scale  # raw_scale [freq or 1, 1, 1]
        return _normal(loc, tf.nn.softplus(raw_scale) + self.scale_floor)

    def calibrated(self, likelihood: tfd.Independent, x: tf.Tensor) -> tfd.Independent:
        """The training step's likelihood: for ``"optimal"``, ``likelihood``'s means with each
        bin's scale set to the batch's RMS error there, ``sqrt(mean_{batch,time} (x - loc)^2)``
        floored at ``scale_floor`` (the running scale moves towards it); other scales as given.

        Args:
          likelihood: this decoder's p(x | z) for the batch, event ``[freq, time, 1]``.
          x: the batch ``[batch, freq, time, 1]`` (normalised units).
        """
        if self.scale != "optimal":
            return likelihood
        loc = likelihood.mean()  # [batch, freq, time, 1]
        error = tf.reduce_mean(tf.square(x - loc), axis=[0, 2, 3], keepdims=True)[0]  # [freq, 1, 1]
        scale = tf.maximum(tf.sqrt(error), self.scale_floor)
        momentum = OPTIMAL_SCALE_MOMENTUM
        self.running_scale.assign(
            momentum * self.running_scale + (1.0 - momentum) * tf.stop_gradient(scale)
        )
        return _normal(loc, scale)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": list(self.spectrogram_shape),
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "scale": self.scale,
            "scale_floor": self.scale_floor,
            "seed": self.seed,
            "residual_power": None if self.residual_power is None else list(self.residual_power),
            "scale_calibration": self.scale_calibration,
        }


def _coarse(size: int, filters: Sequence[int]) -> int:
    """The side of the first grid that ``len(filters)`` doublings take to at least ``size``."""
    return -(-size // 2 ** len(filters))


def _normal(loc: tf.Tensor, scale: tf.Tensor) -> tfd.Independent:
    """``Independent(Normal(loc, scale), 3)``: event ``[freq, time, 1]``."""
    return tfd.Independent(tfd.Normal(loc=loc, scale=scale), reinterpreted_batch_ndims=3)


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class Conv2DDecoder(SpectrogramDecoder):
    """A transposed-convolution decoder returning ``Independent(Normal(loc, scale), 3)``.

    A dense layer maps z to a ``[ceil(freq / 2^L), ceil(time / 2^L), filters[0]]`` grid; each
    of the ``L`` blocks doubles both sides; the last block's output is cropped to ``[freq,
    time]`` and a convolution gives each cell's parameters. The scale is as
    `SpectrogramDecoder` describes.

    Args:
      output_shape: ``(freq, time, 1)`` of the spectrograms, any size.
      filters: channels of each upsampling block, coarse to fine.
      kernel_size: convolution kernel size.
      scale: ``"pixel"``, ``"bin"``, ``"global"`` or ``"optimal"``.
      scale_floor: smallest likelihood standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`); the same seed
        builds the same decoder, and no global generator is touched.
    """

    def __init__(
        self,
        output_shape: Sequence[int] = (128, 128, 1),
        filters: Sequence[int] = (256, 128, 64, 32, 16),
        kernel_size: int = 3,
        scale: DecoderScale = defaults.DECODER_SCALE,
        scale_floor: float = 0.05,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(output_shape, filters, kernel_size, scale, scale_floor, seed, **kwargs)
        freq, time, _ = self.spectrogram_shape
        self._make_layers(
            (_coarse(freq, self.filters), _coarse(time, self.filters), self.filters[0]),
            keras.layers.Conv2DTranspose,
            lambda init: keras.layers.Conv2D(
                self.params_per_cell, self.kernel_size, padding="same", kernel_initializer=init
            ),
        )

    def call(self, z: tf.Tensor) -> tfd.Independent:
        """z ``[batch, latent]`` -> p(x | z), batch shape ``[batch]``, event ``[freq, time, 1]``."""
        freq, time, _ = self.spectrogram_shape
        h = tf.reshape(self.from_latent(z), [-1, *self.grid])  # [batch, f', t', filters[0]]
        for block in self.blocks:
            h = block(h)  # [batch, f' 2^(i+1), t' 2^(i+1), filters[i]]
        params = self.to_params(h[:, :freq, :time])  # [batch, freq, time, 2 or 1]
        return self.likelihood(params)


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class Conv1DDecoder(SpectrogramDecoder):
    """A frequency-as-channels decoder: 1-D upsampling over time, then a whole spectrum per frame.

    z -> dense -> ``[ceil(time / 2^L), filters[0]]``; each of the ``L = len(filters)`` blocks
    doubles time with a stride-2 transposed convolution (kernel 4), cropped to ``time`` frames
    after the last; a 1x1 convolution maps each frame's
    features to the ``freq`` bins of ``loc`` (and of the raw scale for ``"pixel"``), so harmonic
    combs across frequency come from one feature vector per frame. About 55 M multiply-adds per
    example, against 88 M for `Conv2DDecoder`, whose last layers spend most of theirs on 16-32
    channels at full resolution. The scale is as `SpectrogramDecoder` describes.

    With ``local_dim``, its input is a model's whole code ``[batch, latent + frames * local_dim]``:
    the global z, then ``local_dim`` time-local latents for each of the ``frames =
    ceil(time / 2^L)`` frames of the first grid, which join z's features there as extra channels.

    Args:
      output_shape: ``(freq, time, 1)``, any size.
      filters: channels of each upsampling block, coarse to fine.
      kernel_size: kernel of the upsampling convolutions, over time.
      scale: ``"pixel"``, ``"bin"``, ``"global"`` or ``"optimal"``.
      scale_floor: smallest likelihood standard deviation.
      seed: seeds the initial weights (each layer's from `seeds.derive_seed`).
      local_dim: time-local latents per frame of the first grid (0: none).
    """

    def __init__(
        self,
        output_shape: Sequence[int] = (128, 128, 1),
        filters: Sequence[int] = (512, 384, 256, 256),
        kernel_size: int = 4,
        scale: DecoderScale = defaults.DECODER_SCALE,
        scale_floor: float = 0.05,
        seed: int = 0,
        local_dim: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(output_shape, filters, kernel_size, scale, scale_floor, seed, **kwargs)
        self.local_dim = int(local_dim)
        freq, time, _ = self.spectrogram_shape
        self._make_layers(
            (_coarse(time, self.filters), self.filters[0]),
            keras.layers.Conv1DTranspose,
            lambda init: keras.layers.Conv1D(  # a spectrum per frame
                freq * self.params_per_cell, 1, kernel_initializer=init
            ),
        )

    def call(self, z: tf.Tensor) -> tfd.Independent:
        """z ``[batch, latent]`` -> p(x | z), batch shape ``[batch]``, event ``[freq, time, 1]``."""
        freq, time, _ = self.spectrogram_shape
        if self.local_dim:  # the code: z, then u [batch, t' * local_dim]
            frames = self.grid[0]
            z, u = z[:, : -frames * self.local_dim], z[:, -frames * self.local_dim :]
        h = tf.reshape(self.from_latent(z), [-1, *self.grid])  # [batch, t', filters[0]]
        if self.local_dim:
            h = tf.concat([h, tf.reshape(u, [-1, frames, self.local_dim])], axis=-1)
        for block in self.blocks:
            h = block(h)  # [batch, t' 2^(i+1), filters[i]]
        frames = self.to_params(h[:, :time])  # [batch, time, freq * (2 or 1)]: a spectrum per frame
        frames = tf.reshape(frames, [-1, time, self.params_per_cell, freq])
        return self.likelihood(tf.transpose(frames, [0, 3, 1, 2]))  # [batch, freq, time, 2|1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **({"local_dim": self.local_dim} if self.local_dim else {})}


# Models saved by 0.1 name the 2-D decoder by its old registered name: it loads as this class.
keras.saving.get_custom_objects()["tfp_audio_vae>ConvDecoder"] = Conv2DDecoder
__getattr__ = module_getattr(__name__, {"ConvDecoder": "Conv2DDecoder"})
