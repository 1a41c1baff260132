"""A trained model as a self-contained TensorFlow SavedModel: latents, or classes and a
temperature, in; waveforms out, with no Python from this package (or TensorFlow Probability) at
serving time.

    RUN/export/saved_model.pb, variables/   the graph and the weights (`AudioGenerator`)
    RUN/export/export.json                  what was exported: versions, the run's RunSpec,
                                            the spectrogram config, signatures, TFLite status

The graph holds the decoder, the audio statistic with the decoder's level calibration
(`synthesis.waveforms.audible`), the de-normalisation and fast Griffin-Lim
(`synthesis.griffin_lim`), the prior's stateless sampling and the encoder behind the spectrogram
front end (`data.spectrogram.waveform_to_spectrogram`). Its signatures reproduce the package:

- ``decode(z)`` is `synthesis.waveforms.decode_waveforms` (seed of the export, 0 by default); a
  model with local latents decodes z with u at p(u | z)'s mean, as `VAE.decode` does;
- ``sample(labels, temperature, seed)`` is `synthesis.generation.generate` with
  ``method="prior"`` (labels ``-1``: the prior's marginal, as with no labels);
- ``encode(waveform)`` is the posterior q(z | x) of `synthesis.generation.encode_files`, for
  waveforms already at the model's rate and length.

```python
from tfp_audio_vae.export import export_model
from tfp_audio_vae.runs import Run

run = Run.at("runs/my_vae")
export_model(run.load_model(), "runs/my_vae/export", spec=run.spec())
```

TFLite: the converter cannot carry the graph in TFLite's built-in ops (complex numbers, the
inverse FFT and stateless random draws; `convert_to_tflite`, ``docs/export.md``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import tensorflow as tf

from tfp_audio_vae import __version__, defaults
from tfp_audio_vae.data.spectrogram import to_magnitude, waveform_to_spectrogram
from tfp_audio_vae.data.stft import fit_length, window_envelope
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim_from_phase
from tfp_audio_vae.synthesis.waveforms import MOMENTUM, SEED_BATCH, AudioStatistic, audible

if TYPE_CHECKING:
    from tfp_audio_vae.models.vae import VAE
    from tfp_audio_vae.training.run_spec import RunSpec

ExportFormat = Literal["savedmodel", "tflite"]

FORMAT_VERSION = 1
"""Version of the export's layout (signatures, ``export.json``); raised when either changes."""

RECORD = "export.json"
TFLITE_FILE = "decode.tflite"


class ExportError(ValueError):
    """An export that cannot be made (e.g. a format the converter cannot carry): one line."""


class AudioGenerator(tf.Module):
    """A trained `VAE` as a `tf.Module` whose `tf.function` signatures make audio.

    Holds the model's encoder, decoder and prior (so their weights save with it) and, as
    non-trainable variables, the metadata a server needs: ``sample_rate`` (Hz), ``num_samples``,
    ``latent_dim``, ``n_iter`` and ``class_names`` (string ``[classes]``, empty for unlabelled
    data). Each signature takes a batch of any size (``None``).

    Args:
      model: a trained VAE with a normalised spectrogram config.
      n_iter: Griffin-Lim iterations.
      seed: the Griffin-Lim seed of `decode` (`sample` takes its own).
      statistic: the statistic of p(x | z) that becomes audio (`waveforms.audible_spectrogram`).

    #### Examples

    ```python
    import tensorflow as tf

    from tfp_audio_vae import SpectrogramConfig, build_vae

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    generator = AudioGenerator(build_vae(config, "conditional", latent_dim=4), n_iter=2)
    generator.decode(tf.zeros([3, 4]))["waveform"].shape  # ==> [3, 2048]
    out = generator.sample(tf.constant([7, -1]), tf.constant(0.5), tf.constant(0))
    out["z"].shape  # ==> [2, 4]  (class 7's component, then the marginal prior)
    generator.encode(tf.zeros([1, 2048]))["mean"].shape  # ==> [1, 4]
    ```
    """

    def __init__(
        self,
        model: VAE,
        *,
        n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
        seed: int = 0,
        statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    ) -> None:
        super().__init__(name="audio_generator")
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2^31), got {seed!r}")
        # the VAE, for `audible` and `encode`; out of tf.Module's tracking (its layers are
        # tracked below, its optimizer and metrics need not be saved)
        self.__dict__["_model"] = model
        self.encoder, self.decoder, self.prior = model.encoder, model.decoder, model.prior
        if model.local_prior is not None:  # p(u | z) of local latents: its weights save too
            self.local_prior = model.local_prior
        self._config = model.audio_config()
        self._statistic = statistic
        self._seed = seed
        self._n_iter = n_iter
        self._conditional = bool(model.prior.conditional)
        config = self._config
        self.sample_rate = tf.Variable(config.sample_rate, trainable=False, name="sample_rate")
        self.num_samples = tf.Variable(config.num_samples, trainable=False, name="num_samples")
        self.latent_dim = tf.Variable(model.latent_dim, trainable=False, name="latent_dim")
        self.n_iter = tf.Variable(n_iter, trainable=False, name="n_iter")
        self.class_names = tf.Variable(
            tf.constant(
                list(model.class_names or ()), tf.string, shape=[len(model.class_names or ())]
            ),
            trainable=False,
            name="class_names",
        )
        self._envelope = window_envelope(config.frames, config.n_fft, config.hop_length)
        latent = model.latent_dim
        self.decode = tf.function(
            self._decode, input_signature=[tf.TensorSpec([None, latent], tf.float32, name="z")]
        )
        self.sample = tf.function(
            self._sample,
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="labels"),
                tf.TensorSpec([], tf.float32, name="temperature"),
                tf.TensorSpec([], tf.int32, name="seed"),
            ],
        )
        self.encode = tf.function(
            self._encode,
            input_signature=[
                tf.TensorSpec([None, config.num_samples], tf.float32, name="waveform")
            ],
        )

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The serving signatures: ``decode`` (also ``serving_default``), ``sample``, ``encode``."""
        decode = self.decode.get_concrete_function()
        return {
            "serving_default": decode,
            "decode": decode,
            "sample": self.sample.get_concrete_function(),
            "encode": self.encode.get_concrete_function(),
        }

    # ------------------------------------------------------------------ the signatures

    def _decode(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        """z ``[n, latent]`` -> ``{"waveform": [n, num_samples]}`` in [-1, 1] units."""
        return {"waveform": self._waveforms(z, tf.constant(self._seed))}

    def _sample(
        self, labels: tf.Tensor, temperature: tf.Tensor, seed: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """One clip per label ``[n]`` (``-1``: the prior's marginal; any label for an
        unconditional prior) at ``temperature``, seeded by ``seed`` as `generation.generate` is
        (with local latents, u drawn from p(u | z) at the same temperature):
        ``{"waveform": [n, num_samples], "z": [n, latent]}``."""
        classes = getattr(self.prior, "num_classes", None) if self._conditional else None
        message = f"labels must be -1 (the prior) or a class 0 .. {(classes or 0) - 1}"
        checks = [tf.debugging.assert_greater_equal(labels, -1, message=message)]
        if classes is not None:
            checks.append(tf.debugging.assert_less(labels, classes, message=message))
        with tf.control_dependencies(checks):  # before any gather reads a label
            labels = tf.identity(labels)
        n = tf.shape(labels)[0]
        z = self._draw(n, None, temperature, seed)  # [n, latent], the marginal p(z)
        if self._conditional:
            given = self._draw(n, tf.maximum(labels, 0), temperature, seed)  # [n, latent]
            z = tf.where((labels >= 0)[:, tf.newaxis], given, z)
        code = self._model.complete(z, temperature=temperature, seed=tf.stack([seed, 4]))
        return {"waveform": self._waveforms(code, seed), "z": z}

    def _encode(self, waveform: tf.Tensor) -> dict[str, tf.Tensor]:
        """Waveforms ``[n, num_samples]`` at the model's rate -> q(z | x)'s ``{"mean",
        "stddev"}``, each ``[n, latent]``."""
        x = waveform_to_spectrogram(waveform, self._config)  # [n, freq, time, 1]
        posterior = self._model.encode(x)  # batch [n], event [latent]
        return {"mean": posterior.mean(), "stddev": posterior.stddev()}

    # ------------------------------------------------------------------ inside the graph

    def _draw(
        self, n: tf.Tensor, labels: tf.Tensor | None, temperature: tf.Tensor, seed: tf.Tensor
    ) -> tf.Tensor:
        """`Prior.sample` as `generation.sample_latents` calls it (seed ``(seed, 0)``): plain
        sampling at temperature 1 exactly, as the package takes it."""
        pair = tf.stack([seed, 0])  # [2]
        return tf.cond(
            tf.equal(temperature, 1.0),
            lambda: self.prior.sample(n, labels, temperature=1.0, seed=pair),
            lambda: self.prior.sample(n, labels, temperature=temperature, seed=pair),
        )  # [n, latent]

    def _waveforms(self, z: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """`waveforms.decode_waveforms`: latents ``[n, latent]`` (or whole codes) ->
        ``[n, num_samples]``; a bare z decodes with u at p(u | z)'s mean (`VAE.decode`)."""
        config = self._config
        spectrogram = audible(self._model, z, self._statistic)  # [n, freq, time, 1]
        magnitude = to_magnitude(spectrogram, config)  # [n, frames, n_fft // 2 + 1]
        phase = _initial_phase(
            tf.shape(magnitude)[0], config.frames, config.n_fft // 2 + 1, seed
        )  # [n, frames, bins]
        wave = griffin_lim_from_phase(
            magnitude,
            phase,
            self._envelope,
            config.n_fft,
            config.hop_length,
            tf.constant(self._n_iter),
            tf.constant(MOMENTUM, tf.float32),
        )  # [n, frames * hop]
        return fit_length(wave, config.num_samples)  # [n, num_samples]


def _initial_phase(n: tf.Tensor, frames: int, bins: int, seed: tf.Tensor) -> tf.Tensor:
    """Griffin-Lim's random initial phase ``[n, frames, bins]``, drawn as `waveforms.to_audio`
    draws it: ``SEED_BATCH`` clips at a time, batch ``i`` from stateless seed
    ``(seed + i, 0)``."""

    def draw(i: tf.Tensor, phase: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        size = tf.minimum(SEED_BATCH, n - i * SEED_BATCH)
        more = tf.random.stateless_uniform(
            tf.stack([size, frames, bins]), seed=tf.stack([seed + i, 0]), maxval=2 * np.pi
        )  # [size, frames, bins]
        return i + 1, tf.concat([phase, more], axis=0)

    _, phase = tf.while_loop(
        lambda i, phase: tf.shape(phase)[0] < n,
        draw,
        (tf.constant(0), tf.zeros([0, frames, bins])),
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, frames, bins])),
    )
    return phase  # [n, frames, bins]


# --------------------------------------------------------------------------- writing it


def export_model(
    model: VAE,
    out_dir: str | Path,
    *,
    format: ExportFormat = "savedmodel",
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    seed: int = 0,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    spec: RunSpec | None = None,
) -> Path:
    """Writes ``model`` as a SavedModel folder ``out_dir`` (an `AudioGenerator`) with its
    ``export.json``; returns ``out_dir``.

    The folder appears complete or not at all: it is written beside ``out_dir`` and renamed
    into place, replacing an earlier export there.

    Args:
      model: a trained VAE with a normalised spectrogram config.
      out_dir: the SavedModel folder to write.
      format: ``"savedmodel"``; ``"tflite"`` also converts the ``decode`` signature to
        ``decode.tflite`` in TFLite's built-in ops, which the converter cannot do for this
        graph (`convert_to_tflite`): it raises `ExportError` and writes nothing.
      n_iter, seed: Griffin-Lim iterations, and the seed of the ``decode`` signature.
      statistic: the statistic of p(x | z) that becomes audio.
      spec: the run's `RunSpec` (`runs.Run.spec`), recorded in ``export.json``.
    Returns:
      ``out_dir`` as a Path.
    Raises:
      ValueError: on a model without a normalised config, or bad ``format``, ``n_iter`` or
        ``seed``; `ExportError` (a ValueError) when the TFLite conversion fails.
    """
    if format not in ("savedmodel", "tflite"):
        raise ValueError(f"format must be 'savedmodel' or 'tflite', got {format!r}")
    out_dir = Path(out_dir)
    generator = AudioGenerator(model, n_iter=n_iter, seed=seed, statistic=statistic)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".tmp-{secrets.token_hex(6)}-{out_dir.name}")
    try:
        tf.saved_model.save(generator, str(tmp), signatures=generator.signatures())
        tflite = None
        if format == "tflite":
            (tmp / TFLITE_FILE).write_bytes(convert_to_tflite(tmp))
            tflite = TFLITE_FILE
        record = {**export_record(generator, spec=spec), "tflite": tflite}
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        _replace_folder(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def export_record(generator: AudioGenerator, *, spec: RunSpec | None = None) -> dict[str, Any]:
    """The ``export.json`` of an export: what it holds and how it was made, as JSON types."""
    model, config = generator._model, generator._config
    return {
        "format": FORMAT_VERSION,
        "tfp_audio_vae": __version__,
        "tensorflow": tf.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sample_rate": config.sample_rate,
        "num_samples": config.num_samples,
        "latent_dim": model.latent_dim,
        "class_names": list(model.class_names or ()),
        "prior": type(model.prior).__name__,
        "conditional": generator._conditional,
        "statistic": generator._statistic,
        "griffin_lim": {
            "n_iter": generator._n_iter,
            "momentum": MOMENTUM,
            "decode_seed": generator._seed,
        },
        "default_temperature": defaults.TEMPERATURE,
        "signatures": {
            name: _signature_record(function)
            for name, function in generator.signatures().items()
            if name != "serving_default"
        },
        "spectrogram_config": config.to_dict(),
        "run_spec": None if spec is None else spec.to_json(),
    }


def _signature_record(function: tf.types.experimental.ConcreteFunction) -> dict[str, Any]:
    """``{"inputs": {name: [dtype, shape]}, "outputs": {...}}`` of a signature (``None``: any)."""

    def described(specs: Any) -> dict[str, Any]:
        return {name: [spec.dtype.name, spec.shape.as_list()] for name, spec in specs}

    args, _ = function.structured_input_signature
    return {
        "inputs": described((spec.name, spec) for spec in args),
        "outputs": described(sorted(function.structured_outputs.items())),
    }


def convert_to_tflite(saved_model: str | Path) -> bytes:
    """The ``decode`` signature of a SavedModel as a TFLite flatbuffer of TFLite's built-in ops.

    The converter's own log (an MLIR dump on failure) is held back; its findings are in the
    error.

    Raises:
      ExportError: one line naming the ops TFLite's built-ins cannot carry. For this package's
        graph (TensorFlow 2.21) they are ``tf.Complex``, ``tf.IRFFT``, ``tf.Sub`` on complex
        numbers, ``tf.StatelessRandomGetKeyCounter`` and ``tf.StatelessRandomUniformV2``: the
        Flex delegate (Select TF ops) carries them, which ``tf.lite.Interpreter`` of the
        TensorFlow wheel does not link (``docs/export.md``).
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model), signature_keys=["decode"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with _held_stderr():
            return converter.convert()
    except Exception as error:  # tf.lite's ConverterError, which TensorFlow does not export
        found = re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(error))
        for part in getattr(error, "errors", ()):
            found += re.findall(r"'(tf\.\w+)' op is neither", part.error_message)
        what = ", ".join(sorted(set(found))) or " ".join(str(error).split())[:300]
        raise ExportError(
            f"TFLite's built-in ops cannot carry this graph ({what}): they need the Flex "
            "delegate (Select TF ops), which tf.lite.Interpreter does not link; export "
            "--format savedmodel (docs/export.md)"
        ) from None


@contextlib.contextmanager
def _held_stderr() -> Iterator[None]:
    """Sends file descriptor 2 (the converter's C++ log) to a temporary file for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _replace_folder(new: Path, target: Path) -> None:
    """Renames the folder ``new`` onto ``target``, moving an earlier ``target`` aside first."""
    if not target.exists():
        os.replace(new, target)
        return
    if not target.is_dir():
        raise ValueError(f"{target}: exists and is not a folder")
    old = target.with_name(f".old-{secrets.token_hex(6)}-{target.name}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
