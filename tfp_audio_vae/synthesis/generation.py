"""Audio out of a trained model: prior samples, class-conditional samples and interpolations as
waveforms ``[n, num_samples]`` at the model's rate, and reconstructions of any audio file, whole,
one waveform ``[samples]`` each."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.data import pipeline
from tfp_audio_vae.data.audio_files import probe, read_audio
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, waveform_to_spectrogram
from tfp_audio_vae.deprecation import renamed_keywords
from tfp_audio_vae.models.latents import ClassMeans, refine_latents
from tfp_audio_vae.models.priors import check_temperature
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.synthesis import long_audio
from tfp_audio_vae.synthesis.waveforms import AudioStatistic, decode_waveforms

ConditionalMethod = Literal["auto", "prior", "class-mean"]


@renamed_keywords(digits="labels")
def sample_latents(
    model: VAE,
    n: int,
    *,
    labels: Sequence[int] | None = None,
    method: ConditionalMethod = "auto",
    class_means: ClassMeans | None = None,
    noise: float = 1.0,
    temperature: float = defaults.TEMPERATURE,
    local_temperature: float | None = None,
    seed: int = 0,
) -> tf.Tensor:
    """``n`` latents ``[n, latent]``: from the prior, or for the given class ``labels`` (length
    ``n``, each in 0 .. classes - 1; ``digits=`` is a deprecated alias until 0.3). A model with
    local latents gets whole codes ``[n, code_dim]``: each z's u drawn from p(u | z) at
    ``local_temperature`` (`VAE.complete`; 0: p(u | z)'s mean, or with a mixture in each frame
    a drawn component's mean; ``None``: ``temperature``).

    Class-conditional routes:
    - ``"prior"``: z ~ p(z | class), the conditional mixture prior's components of that class.
    - ``"class-mean"``: the class's mean posterior mean plus Gaussian noise of ``noise`` times
      the class's posterior spread (`latents.class_mean_latents`); works with any prior.
    - ``"auto"``: ``"prior"`` where the model has a conditional prior, else ``"class-mean"``.

    ``temperature`` scales each prior draw's distance from the centre it came from (see
    `Prior.sample`: a mixture's component mean, a flow's base mean); 1 samples the prior. The
    default is `defaults.TEMPERATURE`.
    """
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} samples")
    check_temperature(temperature)  # before any route, the class-mean one included
    local = temperature if local_temperature is None else local_temperature
    if not (local >= 0 and np.isfinite(local)):
        raise ValueError(f"local_temperature must be 0 or more and finite, got {local}")
    asked = labels
    labels = None if asked is None else tf.constant(asked, tf.int32)  # [n]
    if labels is not None and method == "auto":
        method = "prior" if model.prior.conditional else "class-mean"
    if labels is None or method == "prior":
        if labels is not None and not model.prior.conditional:
            raise ValueError(
                "method='prior' needs a conditional prior (build_vae(..., 'conditional')); "
                "use method='class-mean'"
            )
        labels = labels if model.prior.conditional else None
        z = model.prior.sample(n, labels, temperature=temperature, seed=(seed, 0))
        return model.complete(z, temperature=local, seed=(seed, 4))
    if method != "class-mean":
        raise ValueError(f"unknown method {method!r}: 'auto', 'prior' or 'class-mean'")
    if class_means is None:
        raise ValueError("method='class-mean' needs class_means (see latents.class_mean_latents)")
    if not 0 <= min(asked) <= max(asked) < len(class_means.mean):
        raise ValueError(f"labels must lie in 0-{len(class_means.mean) - 1}")
    centres = tf.gather(tf.constant(class_means.mean, tf.float32), labels)  # [n, latent]
    spread = tf.gather(tf.constant(class_means.spread, tf.float32), labels)  # [n, latent]
    eps = tf.random.stateless_normal(tf.shape(centres), seed=[seed, 3])  # [n, latent]
    z = centres + noise * temperature * spread * eps
    return model.complete(z, temperature=local, seed=(seed, 4))


@renamed_keywords(digits="labels")
def generate(
    model: VAE,
    n: int,
    *,
    labels: Sequence[int] | None = None,
    method: ConditionalMethod = "auto",
    class_means: ClassMeans | None = None,
    noise: float = 1.0,
    temperature: float = defaults.TEMPERATURE,
    local_temperature: float | None = None,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
) -> np.ndarray:
    """Waveforms ``[n, num_samples]`` of decoded latents from `sample_latents` (same arguments);
    ``statistic`` is the statistic of p(x | z) that becomes audio (`audible_spectrogram`).

    #### Examples

    ```python
    from tfp_audio_vae import SpectrogramConfig, build_vae

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    model = build_vae(config, "conditional", latent_dim=4, num_classes=10)
    generate(model, 3, seed=0, n_iter=2).shape  # ==> (3, 2048)  (prior samples, 8 kHz)
    generate(model, 2, labels=[7, 7], temperature=0.5, n_iter=2).shape  # ==> (2, 2048)
    ```
    """
    z = sample_latents(
        model,
        n,
        labels=labels,
        method=method,
        class_means=class_means,
        noise=noise,
        temperature=temperature,
        local_temperature=local_temperature,
        seed=seed,
    )
    return decode_waveforms(model, z, statistic=statistic, n_iter=n_iter, seed=seed)


def encode_files(
    model: VAE, files: Sequence[str | Path]
) -> tuple[tf.Tensor, tf.Tensor, np.ndarray]:
    """Any audio files (any rate, depth, channels, length) -> (spectrograms, posteriors, waveforms).

    Returns:
      model-space spectrograms ``[n, freq, time, 1]``, the posterior of the whole code (batch
      ``[n]``, event ``[code_dim]``: q(z | x), or q(z, u | x) with local latents), and the
      model-rate waveforms ``[n, num_samples]`` the spectrograms came from.
    Raises:
      AudioFileError: naming the first unreadable file.
    """
    config = model.audio_config()
    waves, _ = pipeline.load_waveforms(list(files), config)  # [n, num_samples]
    spectrograms = waveform_to_spectrogram(waves, config)  # [n, freq, time, 1]
    return spectrograms, model.posterior(spectrograms), waves


def reconstruct_waveforms(
    model: VAE,
    waves: np.ndarray,
    *,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
    refine_steps: int = defaults.REFINE_STEPS,
) -> np.ndarray:
    """Model-rate clips ``[n, num_samples]`` -> their reconstructions ``[n, num_samples]``: the
    posterior means refined by ``refine_steps`` (`latents.refine_latents`), decoded with the
    decoder's level calibration (`waveforms.decode_waveforms`), Griffin-Lim seeded by ``seed``."""
    spectrograms = waveform_to_spectrogram(waves, model.audio_config())  # [n, freq, time, 1]
    z = refine_latents(model, spectrograms, refine_steps)  # [n, latent]
    return decode_waveforms(model, z, n_iter=n_iter, seed=seed)


def reconstruct_files(
    model: VAE,
    files: Sequence[str | Path],
    *,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
    refine_steps: int = defaults.REFINE_STEPS,
) -> list[np.ndarray]:
    """Reconstructions of whole audio files, one waveform ``[samples]`` per file at the model's
    rate (`reconstruct_waveforms`'s arguments).

    A file no longer than the model's window (``num_samples``: 8192 samples, 1.024 s at 8 kHz)
    comes back as the ``[num_samples]`` clip it is padded to; a longer one at its own length,
    window by window, cross-faded (`long_audio.reconstruct_long`, hop half a window). All the
    files' windows are reconstructed as one batch.

    Raises:
      AudioFileError: naming the first unreadable file.
    """
    config = model.audio_config()
    clips, _ = pipeline.load_waveforms(list(files), config)  # [n, num_samples]
    waves = [_whole_waveform(file, clip, config) for file, clip in zip(files, clips, strict=True)]
    reconstruct = partial(
        reconstruct_waveforms, model, n_iter=n_iter, seed=seed, refine_steps=refine_steps
    )  # [windows, num_samples] -> [windows, num_samples]
    return long_audio.reconstruct_long(waves, reconstruct, config.num_samples)


def _whole_waveform(file: str | Path, clip: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    """The whole of ``file`` ``[samples]`` at the model's rate where it is longer than the window,
    else ``clip`` ``[num_samples]``, the file as the pipeline reads it (cut or padded)."""
    info = probe(file)
    if info.frames * config.sample_rate <= config.num_samples * info.sample_rate:
        return clip
    wave, _ = read_audio(file, sample_rate=config.sample_rate)  # [samples]
    return wave if len(wave) > config.num_samples else clip


def interpolate(
    model: VAE,
    file_a: str | Path,
    file_b: str | Path,
    *,
    steps: int = 8,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
) -> np.ndarray:
    """Waveforms ``[steps, num_samples]`` along the straight line between two clips' posterior
    means (of their whole codes: a model's local latents move with z)."""
    _, posterior, _ = encode_files(model, [file_a, file_b])
    z_a, z_b = tf.unstack(posterior.mean())  # [code] each
    return decode_waveforms(model, interpolate_latents(z_a, z_b, steps), n_iter=n_iter, seed=seed)


def interpolate_latents(
    z_a: tf.Tensor | np.ndarray, z_b: tf.Tensor | np.ndarray, steps: int, *, beyond: float = 0.0
) -> tf.Tensor:
    """``steps`` evenly spaced points ``[steps, latent]`` on the line through ``z_a`` and ``z_b``
    ``[latent]``: from ``z_a`` to ``z_b``, or, with ``beyond > 0``, extrapolated past both ends
    by that fraction of the distance between them (t from ``-beyond`` to ``1 + beyond``)."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if not 0.0 <= beyond <= 10.0:
        raise ValueError(f"beyond must be in [0, 10], got {beyond}")
    z_a = tf.convert_to_tensor(z_a, tf.float32)
    z_b = tf.convert_to_tensor(z_b, tf.float32)
    t = tf.linspace(-beyond, 1.0 + beyond, steps)[:, tf.newaxis]  # [steps, 1]
    return (1.0 - t) * z_a + t * z_b  # [steps, latent]
