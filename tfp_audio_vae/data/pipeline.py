"""One spectrogram pipeline: audio files -> normalised log-magnitude STFTs in a `tf.data.Dataset`.

Every model, benchmark and command of the package reads audio through this module, so training,
evaluation and generation agree on the representation:

    decode -> mono -> resample -> pad/trim -> STFT -> log-magnitude -> normalise

16-bit PCM WAV at the configured rate (all of FSDD) decodes in-graph with `tf.audio.decode_wav`;
every other format, bit depth or rate goes through `audio_files.read_audio` (soundfile + soxr).

The pipeline knows no data set: a file is a path (no labels) or a record from a data set that
carries its labels (`AudioRecord`, e.g. `fsdd.FSDDRecord`). The representation itself
(`SpectrogramConfig`, STFT, log, normalisation) is in `spectrogram.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import tensorflow as tf

from tfp_audio_vae.data.audio_files import AudioFileError, probe, read_audio
from tfp_audio_vae.data.spectrogram import (
    SpectrogramConfig,
    log_magnitude,
    waveform_to_spectrogram,
)
from tfp_audio_vae.data.stft import fit_length

AUTOTUNE = tf.data.AUTOTUNE


# --------------------------------------------------------------------------- files -> waveforms


@runtime_checkable
class AudioRecord(Protocol):
    """An audio file with the labels a data set knows for it (e.g. `fsdd.FSDDRecord`).

    Attributes:
      path: the audio file.
      label: its class, an int >= 0 (-1 where unknown).
      speaker: its speaker ("" where unknown).
    """

    @property
    def path(self) -> Path: ...

    @property
    def label(self) -> int: ...

    @property
    def speaker(self) -> str: ...


AudioSource = str | Path | AudioRecord
"""What the pipeline reads: a path (unlabelled) or an `AudioRecord`."""


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: str
    in_graph: bool
    label: int
    speaker: str


def _entries(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    on_error: Literal["raise", "skip"],
) -> tuple[list[_Entry], list[AudioFileError]]:
    """Validate every file's header up front, so a bad file fails here with its name, not in-graph."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    entries, skipped = [], []
    for item in files:
        record = item if isinstance(item, AudioRecord) else None
        path = Path(record.path if record else item)
        try:
            info = probe(path)
        except AudioFileError as error:
            if on_error == "raise":
                raise
            skipped.append(error)
            continue
        entries.append(
            _Entry(
                path=str(path),
                in_graph=info.tf_decodable and info.sample_rate == config.sample_rate,
                label=record.label if record else -1,
                speaker=record.speaker if record else "",
            )
        )
    if not entries:
        problems = "; ".join(str(e) for e in skipped[:3])
        raise ValueError(f"no usable audio files among {len(files)} given. {problems}")
    return entries, skipped


def _decoder(config: SpectrogramConfig):
    """A tf.data map function: (path, in_graph) -> mono float32 waveform ``[num_samples]``."""

    def read_with_library(path: bytes) -> np.ndarray:
        # only the clip's length is read and resampled, whatever the file's length
        duration = config.num_samples / config.sample_rate
        wave, _ = read_audio(path.decode(), sample_rate=config.sample_rate, max_duration=duration)
        return wave.astype(np.float32)

    def decode(path: tf.Tensor, in_graph: tf.Tensor) -> tf.Tensor:
        def in_graph_branch() -> tf.Tensor:
            audio, _ = tf.audio.decode_wav(tf.io.read_file(path))  # [samples, channels]
            return tf.reduce_mean(audio, axis=-1)

        def library_branch() -> tf.Tensor:
            wave = tf.numpy_function(read_with_library, [path], tf.float32, stateful=False)
            return tf.reshape(wave, [-1])

        wave = tf.cond(in_graph, in_graph_branch, library_branch)
        return fit_length(wave, config.num_samples)

    return decode


def _dataset_of(entries: list[_Entry]) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(
        {
            "path": [e.path for e in entries],
            "in_graph": [e.in_graph for e in entries],
            "label": tf.constant([e.label for e in entries], tf.int32),
            "speaker": [e.speaker for e in entries],
        }
    )


def waveform_dataset(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    *,
    on_error: Literal["raise", "skip"] = "raise",
) -> tf.data.Dataset:
    """Files -> unbatched ``{"waveform": [num_samples], "label": int32, "speaker": string}``.

    Labels and speakers come from `AudioRecord` items; plain paths get -1 and "".
    With ``on_error="skip"`` unreadable files are left out (see `validate_files` to list them).
    """
    entries, _ = _entries(files, config, on_error)
    decode = _decoder(config)

    def to_waveform(e: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {
            "waveform": decode(e["path"], e["in_graph"]),
            "label": e["label"],
            "speaker": e["speaker"],
        }

    return _dataset_of(entries).map(to_waveform, num_parallel_calls=AUTOTUNE, deterministic=True)


def evenly_spaced(items: Sequence, limit: int | None) -> list:
    """At most ``limit`` items spread evenly over ``items`` (all of them when limit is None)."""
    items = list(items)
    if not limit or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def validate_files(files: Sequence[AudioSource], config: SpectrogramConfig) -> list[AudioFileError]:
    """Check every file's header; returns the errors of the unusable ones (empty if all are fine)."""
    return _entries(files, config, "skip")[1]


def load_waveforms(
    files: Sequence[AudioSource], config: SpectrogramConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Files -> (waveforms float32 ``[n, num_samples]``, labels int32 ``[n]``), in memory."""
    dataset = waveform_dataset(files, config).batch(256)
    waves, labels = [], []
    for batch in dataset:
        waves.append(batch["waveform"].numpy())
        labels.append(batch["label"].numpy())
    return np.concatenate(waves), np.concatenate(labels)


# --------------------------------------------------------------------------- datasets


def _log_magnitude_dataset(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    on_error: Literal["raise", "skip"],
    normalised: bool = False,
) -> tf.data.Dataset:
    """Unbatched ``{"spectrogram": [freq, time, 1], "label", "speaker"}`` (log-magnitude, or the
    model input if ``normalised``); the STFT runs on batches of 64 clips (measured twice as fast
    as one clip at a time) and is unbatched after."""

    def to_log_magnitude(e: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        to_spectrogram = waveform_to_spectrogram if normalised else log_magnitude
        return {
            "spectrogram": to_spectrogram(e["waveform"], config),  # [b, freq, time, 1]
            "label": e["label"],
            "speaker": e["speaker"],
        }

    waves = waveform_dataset(files, config, on_error=on_error)
    clips = waves.cardinality()
    spectrograms = waves.batch(64).map(to_log_magnitude, num_parallel_calls=AUTOTUNE).unbatch()
    # unbatch forgets the length; Keras needs it to average the loss over the right batch count
    return spectrograms.apply(tf.data.experimental.assert_cardinality(clips))


def fit_normalisation(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    *,
    on_error: Literal["raise", "skip"] = "raise",
) -> SpectrogramConfig:
    """Per-bin mean and standard deviation of the log-magnitude over ``files`` (use the train split).

    Returns:
      a copy of ``config`` with ``mean`` and ``std`` set (``std`` floored at 1e-3 for constant bins).
    """
    total = tf.zeros([config.freq_bins], tf.float64)
    total_sq = tf.zeros([config.freq_bins], tf.float64)
    count = 0
    for batch in _log_magnitude_dataset(files, config, on_error).batch(256):
        x = tf.cast(batch["spectrogram"][..., 0], tf.float64)  # [b, freq, time]
        total += tf.reduce_sum(x, axis=[0, 2])
        total_sq += tf.reduce_sum(tf.square(x), axis=[0, 2])
        count += int(x.shape[0]) * int(x.shape[2])
    mean = total / count
    std = tf.sqrt(tf.maximum(total_sq / count - tf.square(mean), 1e-6))
    return dataclasses.replace(
        config, mean=tuple(float(v) for v in mean.numpy()), std=tuple(float(v) for v in std.numpy())
    )


def spectrogram_dataset(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    *,
    batch_size: int | None = 64,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool | str | Path = True,
    drop_remainder: bool = False,
    on_error: Literal["raise", "skip"] = "raise",
) -> tf.data.Dataset:
    """Files -> ``{"spectrogram": [batch, freq, time, 1], "label": [batch], "speaker": [batch]}``.

    Spectrograms are normalised with ``config``'s statistics (see `fit_normalisation`). Decoding and
    the STFT run once: the result is cached in memory (``cache=True``), in a file (a path), or not
    at all (``False``); shuffling (seeded, reshuffled each epoch), batching and prefetch follow.

    Raises:
      AudioFileError: naming the first unreadable file, unless ``on_error="skip"``.
      ValueError: when ``config`` has no normalisation statistics, or no file is usable.
    """
    config._require_stats()
    dataset = _log_magnitude_dataset(files, config, on_error, normalised=True)
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if batch_size:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(AUTOTUNE)
