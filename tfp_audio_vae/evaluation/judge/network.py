"""The judge's network: a small CNN that hears which class an 8 kHz waveform belongs to.

The judge takes WAVEFORMS, so it hears exactly what a listener would, Griffin-Lim artefacts
included:

    waveform [batch, 8192] -> (training only: random gain, time shift, noise)
      -> 64-bin log-mel (n_fft 256, hop 128) [batch, 64, 64, 1]
      -> 4 conv blocks -> 128-d features (the Fréchet space) -> softmax over the classes

`build_judge` makes the untrained network (`training.train_judge` trains it); `Judge` wraps a
trained one with NumPy in and out.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.data.audio_files import resample
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.data.stft import fit_length, stft_magnitude
from tfp_audio_vae.deprecation import renamed_keywords
from tfp_audio_vae.seeds import derive_seed, glorot_uniform

JUDGE_VERSION = "v2"  # v2: explicitly seeded initialisers and augmentation
"""Bump when the architecture, input features or training recipe change: the cache file's name."""
SAMPLE_RATE = 8000
NUM_SAMPLES = SpectrogramConfig().num_samples  # 8,192 samples, 1.024 s
FEATURES_LAYER = "features"


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class LogMel(keras.layers.Layer):
    """Waveforms ``[batch, samples]`` -> log-mel power spectrograms ``[batch, frames, mels, 1]``.

    Hann-windowed STFT (``pad_end=True``, so ``frames = ceil(samples / hop_length)``), power,
    a triangular mel filterbank from `tf.signal.linear_to_mel_weight_matrix`, natural log of the
    power plus ``epsilon`` (1e-6 is 60 dB below a full-scale sine's bin power of about 1).

    Args:
      sample_rate: of the waveforms, in Hz.
      n_fft: STFT frame and FFT length, in samples.
      hop_length: STFT hop, in samples.
      num_mel_bins: mel bands between ``lower_hz`` and ``upper_hz``.
      lower_hz, upper_hz: edges of the filterbank, in Hz.
      epsilon: added to the mel power before the log.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = 256,
        hop_length: int = 128,
        num_mel_bins: int = 64,
        lower_hz: float = 60.0,
        upper_hz: float = 3800.0,
        epsilon: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.num_mel_bins = int(num_mel_bins)
        self.lower_hz = float(lower_hz)
        self.upper_hz = float(upper_hz)
        self.epsilon = float(epsilon)
        self.mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=self.num_mel_bins,
            num_spectrogram_bins=self.n_fft // 2 + 1,
            sample_rate=self.sample_rate,
            lower_edge_hertz=self.lower_hz,
            upper_edge_hertz=self.upper_hz,
        )  # [n_fft // 2 + 1, mels]

    def call(self, wave: tf.Tensor) -> tf.Tensor:
        magnitude = stft_magnitude(wave, self.n_fft, self.hop_length)  # [b, frames, n_fft//2+1]
        power = tf.math.square(magnitude)
        mel = tf.matmul(power, self.mel_matrix)  # [batch, frames, mels]
        return tf.math.log(mel + self.epsilon)[..., tf.newaxis]  # [batch, frames, mels, 1]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        samples = input_shape[-1]
        frames = None if samples is None else math.ceil(samples / self.hop_length)
        return (input_shape[0], frames, self.num_mel_bins, 1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "num_mel_bins": self.num_mel_bins,
            "lower_hz": self.lower_hz,
            "upper_hz": self.upper_hz,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class WaveAugment(keras.layers.Layer):
    """Training-time waveform augmentation; the identity at inference.

    Each clip gets a random gain (uniform in ``±max_gain_db`` dB), a random shift by up to
    ``max_shift`` samples either way (zeros fill in; what is shifted out is lost) and white noise
    whose standard deviation is uniform in ``[0, max_noise]`` (full scale is 1).

    Args:
      max_gain_db: largest gain change, in dB.
      max_shift: largest time shift, in samples.
      max_noise: largest noise standard deviation, in waveform units.
      seed: seeds the layer's random draws.
    """

    def __init__(
        self,
        max_gain_db: float = 6.0,
        max_shift: int = 400,
        max_noise: float = 0.005,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_gain_db = float(max_gain_db)
        self.max_shift = int(max_shift)
        self.max_noise = float(max_noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, wave: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not training:
            return wave
        batch, samples = tf.shape(wave)[0], tf.shape(wave)[1]
        gain_db = keras.random.uniform(
            [batch, 1], -self.max_gain_db, self.max_gain_db, seed=self.seed_generator
        )  # [batch, 1]
        shift = tf.cast(
            keras.random.randint(
                [batch, 1], -self.max_shift, self.max_shift + 1, seed=self.seed_generator
            ),
            tf.int32,
        )  # [batch, 1]
        source = tf.range(samples)[tf.newaxis, :] - shift  # [batch, samples]
        inside = (source >= 0) & (source < samples)
        shifted = tf.gather(wave, tf.clip_by_value(source, 0, samples - 1), batch_dims=1)
        shifted = tf.where(inside, shifted, 0.0)  # [batch, samples]
        noise_std = keras.random.uniform([batch, 1], 0.0, self.max_noise, seed=self.seed_generator)
        noise = noise_std * keras.random.normal(tf.shape(wave), seed=self.seed_generator)
        return shifted * 10.0 ** (gain_db / 20.0) + noise  # [batch, samples]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_gain_db": self.max_gain_db,
            "max_shift": self.max_shift,
            "max_noise": self.max_noise,
            "seed": self.seed,
        }


def build_judge(
    num_samples: int = NUM_SAMPLES,
    filters: tuple[int, ...] = (32, 64, 128, 128),
    feature_dim: int = 128,
    dropout: float = 0.3,
    seed: int = 0,
    num_classes: int = defaults.NUM_CLASSES,
) -> keras.Model:
    """The judge's network, untrained: waveforms ``[batch, num_samples]`` -> class probabilities.

    Each conv block is 3x3 conv -> batch norm -> ReLU -> 2x2 max-pool; global average pooling,
    a dense ReLU layer named ``"features"`` (``feature_dim``, the Fréchet space), dropout and a
    softmax over the ``num_classes`` classes (`defaults.NUM_CLASSES`, FSDD's ten, by default)
    follow.

    ``seed`` seeds every initial weight and the augmentation and dropout draws explicitly (each
    layer's from `seeds.derive_seed`); no global generator is touched.
    """
    wave = keras.Input((num_samples,), name="waveform")  # [batch, samples]
    h = WaveAugment(seed=derive_seed(seed, "WaveAugment"), name="augment")(wave)
    h = LogMel(name="log_mel")(h)  # [batch, 64, 64, 1] for 8,192 samples
    h = keras.layers.BatchNormalization(name="input_norm")(h)
    for i, width in enumerate(filters):
        h = keras.layers.Conv2D(
            width,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=glorot_uniform(seed, "judge", i),
            name=f"conv{i}",
        )(h)
        h = keras.layers.BatchNormalization(name=f"norm{i}")(h)
        h = keras.layers.ReLU(name=f"relu{i}")(h)
        h = keras.layers.MaxPooling2D(2, name=f"pool{i}")(h)  # [batch, 64 / 2^(i+1), ..., width]
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)  # [batch, filters[-1]]
    h = keras.layers.Dense(
        feature_dim,
        activation="relu",
        kernel_initializer=glorot_uniform(seed, "judge", len(filters)),
        name=FEATURES_LAYER,
    )(h)
    h = keras.layers.Dropout(dropout, seed=derive_seed(seed, "Dropout"), name="dropout")(h)
    probs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=glorot_uniform(seed, "judge", len(filters) + 1),
        name="classes",
    )(h)  # [batch, classes]
    return keras.Model(wave, probs, name=f"judge_{JUDGE_VERSION}")


class Judge:
    """A trained judge network with numpy in, numpy out.

    Waveforms at ``sample_rate`` are resampled to the network's own rate (`SAMPLE_RATE`: the
    judge hears the telephone band, whatever the model's rate), then trimmed or zero-padded at
    the end to its input's length, as the pipeline does.

    Args:
      model: a network from `build_judge`, `training.train_judge` or `cache.load_judge`.
      batch_size: clips per forward pass.
      sample_rate: of the waveforms it is given, in Hz; ``None``: the network's own
        (`hearing` gives the same judge at another rate).
    """

    def __init__(
        self, model: keras.Model, batch_size: int = 256, sample_rate: int | None = None
    ) -> None:
        self.model = model
        self.batch_size = int(batch_size)
        self.feature_model = keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output)
        self.sample_rate = int(sample_rate or SAMPLE_RATE)

    def hearing(self, sample_rate: int) -> Judge:
        """This judge, given waveforms at ``sample_rate`` Hz (a model's rate)."""
        judge = copy.copy(self)
        judge.sample_rate = int(sample_rate)
        return judge

    @property
    def num_classes(self) -> int:
        """The classes the judge tells apart (10 for FSDD's digits)."""
        return int(self.model.outputs[0].shape[-1])

    @property
    def num_samples(self) -> int:
        """Length of the waveforms the network takes, in samples."""
        return int(self.model.inputs[0].shape[-1])

    def _inputs(self, waves: np.ndarray) -> np.ndarray:
        """Waveforms ``[n, samples]`` at ``sample_rate`` -> ``[n, num_samples]`` at the network's
        rate, trimmed or zero-padded at the end."""
        waves = np.asarray(waves, np.float32)
        if waves.ndim != 2:
            raise ValueError(f"waves must be [n, samples], got shape {waves.shape}")
        if self.sample_rate != SAMPLE_RATE and len(waves):  # each clip a channel of one call
            waves = resample(waves.T, self.sample_rate, SAMPLE_RATE).T.reshape(len(waves), -1)
        return fit_length(waves, self.num_samples).numpy()

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        """Class probabilities, float ``[n, classes]`` (rows sum to 1), of waveforms ``[n, samples]``."""
        inputs = self._inputs(waves)
        if len(inputs) <= self.batch_size:  # one batch: a direct call skips predict's ~0.1 s set-up
            return self.model(inputs, training=False).numpy()
        return self.model.predict(inputs, batch_size=self.batch_size, verbose=0)

    def predict(self, waves: np.ndarray) -> np.ndarray:
        """The class the judge hears in each waveform, int ``[n]``."""
        return np.argmax(self.predict_proba(waves), axis=-1)

    def features(self, waves: np.ndarray) -> np.ndarray:
        """The judge's penultimate activations, float ``[n, 128]``: the Fréchet-distance space."""
        return self.feature_model.predict(
            self._inputs(waves), batch_size=self.batch_size, verbose=0
        )

    @renamed_keywords(digits="labels")
    def accuracy(self, waves: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of ``waves`` whose heard class equals ``labels`` ``[n]``."""
        return float(np.mean(self.predict(waves) == np.asarray(labels)))
