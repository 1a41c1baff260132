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
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.data import shards, speed
from tfp_audio_vae.data.audio_files import AudioFileError, probe, read_audio
from tfp_audio_vae.data.fsdd import cache_dir
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


def _decoder(config: SpectrogramConfig, num_samples: int | None = None):
    """A tf.data map function: (path, in_graph) -> mono float32 waveform ``[num_samples]``
    (default: ``config.num_samples``)."""
    num_samples = num_samples or config.num_samples

    def read_with_library(path: bytes) -> np.ndarray:
        # only the clip's length is read and resampled, whatever the file's length
        duration = num_samples / config.sample_rate
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
        return fit_length(wave, num_samples)

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
    return _waveforms(_entries(files, config, on_error)[0], config)


def _waveforms(
    entries: list[_Entry], config: SpectrogramConfig, speeds: Sequence[float] = (1.0,)
) -> tf.data.Dataset:
    """Unbatched ``{"waveform", "label", "speaker"}``; the waveform ``[num_samples]``, or
    ``[len(speeds), num_samples]`` (`speed.speed_variants`) when ``speeds`` is not ``(1.0,)``."""
    varied = tuple(speeds) != (1.0,)
    decode = _decoder(config, speed.input_samples(config.num_samples, speeds))

    def waveform(path: tf.Tensor, in_graph: tf.Tensor) -> tf.Tensor:
        wave = decode(path, in_graph)
        if not varied:
            return wave
        stacked = tf.numpy_function(
            lambda samples: speed.speed_variants(
                samples, speeds, config.sample_rate, config.num_samples
            ),
            [wave],
            tf.float32,
            stateful=False,
        )
        return tf.ensure_shape(stacked, [len(speeds), config.num_samples])

    def to_waveform(e: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {
            "waveform": waveform(e["path"], e["in_graph"]),
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
    entries: list[_Entry],
    config: SpectrogramConfig,
    normalised: bool = False,
    speeds: Sequence[float] = (1.0,),
) -> tf.data.Dataset:
    """Unbatched ``{"spectrogram": [freq, time, 1], "label", "speaker"}`` (log-magnitude, or the
    model input if ``normalised``; ``[len(speeds), freq, time, 1]``, one per speed, when
    ``speeds`` is not ``(1.0,)``); the STFT runs on batches of 64 clips (measured twice as fast
    as one clip at a time) and is unbatched after."""

    def to_log_magnitude(e: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        to_spectrogram = waveform_to_spectrogram if normalised else log_magnitude
        return {
            "spectrogram": to_spectrogram(e["waveform"], config),  # [b, freq, time, 1]
            "label": e["label"],
            "speaker": e["speaker"],
        }

    waves = _waveforms(entries, config, speeds)
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
    entries, _ = _entries(files, config, on_error)
    for batch in _log_magnitude_dataset(entries, config).batch(256):
        x = tf.cast(batch["spectrogram"][..., 0], tf.float64)  # [b, freq, time]
        total += tf.reduce_sum(x, axis=[0, 2])
        total_sq += tf.reduce_sum(tf.square(x), axis=[0, 2])
        count += int(x.shape[0]) * int(x.shape[2])
    mean = total / count
    std = tf.sqrt(tf.maximum(total_sq / count - tf.square(mean), 1e-6))
    return dataclasses.replace(
        config, mean=tuple(float(v) for v in mean.numpy()), std=tuple(float(v) for v in std.numpy())
    )


CacheChoice = Literal["auto", "memory", "disk", "none"]
"""Where `spectrogram_dataset` keeps computed spectrograms (see there)."""


def chosen_cache(
    clips: int, config: SpectrogramConfig, memory_budget: int = defaults.CACHE_MEMORY_BYTES
) -> Literal["memory", "disk"]:
    """``"memory"`` when ``clips`` spectrograms of ``config`` (float32) fit in ``memory_budget``
    bytes, else ``"disk"``: the choice of ``cache="auto"``."""
    size = clips * int(np.prod(config.shape)) * 4  # bytes
    return "memory" if size <= memory_budget else "disk"


def spectrogram_cache_dir() -> Path:
    """The default folder for spectrogram shards: ``spectrograms/`` in the package's cache
    (`fsdd.cache_dir`: ``$TFP_AUDIO_VAE_CACHE``, ``$XDG_CACHE_HOME/tfp_audio_vae``, or
    ``~/.cache/tfp_audio_vae``)."""
    return cache_dir() / "spectrograms"


def _shard_key(
    entries: list[_Entry], config: SpectrogramConfig, speeds: Sequence[float] = (1.0,)
) -> str:
    """Names the shards of these files under this config: their paths, sizes, modification
    times and labels, the config with its statistics, and the speeds (when not ``(1.0,)``)."""

    def described(e: _Entry) -> tuple:
        stat = os.stat(e.path)
        return (e.path, stat.st_size, stat.st_mtime_ns, e.label, e.speaker, e.in_graph)

    varied = [] if tuple(speeds) == (1.0,) else [("speeds", *speeds)]
    return shards.fingerprint([config.to_json(), *varied, *(described(e) for e in entries)])


def _one_speed_per_clip(dataset: tf.data.Dataset, speeds: int, seed: int) -> tf.data.Dataset:
    """Clips ``{"spectrogram": [speeds, freq, time, 1], ...}`` -> each clip at one of its speeds,
    drawn uniformly, seeded by ``seed`` and drawn anew each epoch."""
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def pick(clip: dict[str, tf.Tensor], draw: tf.Tensor) -> dict[str, tf.Tensor]:
        return {**clip, "spectrogram": clip["spectrogram"][draw % speeds]}

    return tf.data.Dataset.zip(dataset, draws).map(pick, num_parallel_calls=AUTOTUNE)


def spectrogram_dataset(
    files: Sequence[AudioSource],
    config: SpectrogramConfig,
    *,
    batch_size: int | None = defaults.BATCH_SIZE,
    shuffle: bool = False,
    seed: int = 0,
    cache: CacheChoice = "auto",
    cache_dir: str | Path | None = None,
    memory_budget: int = defaults.CACHE_MEMORY_BYTES,
    shuffle_buffer: int = defaults.SHUFFLE_BUFFER,
    drop_remainder: bool = False,
    on_error: Literal["raise", "skip"] = "raise",
    speeds: Sequence[float] = defaults.SPEEDS,
) -> tf.data.Dataset:
    """Files -> ``{"spectrogram": [batch, freq, time, 1], "label": [batch], "speaker": [batch]}``.

    Spectrograms are normalised with ``config``'s statistics (see `fit_normalisation`). Decoding
    and the STFT run once, and the result is kept by ``cache``:

    - ``"memory"``: in memory, filled during the first epoch; shuffled whole.
    - ``"disk"``: in TFRecord shards (`shards`), written now, before this returns, into
      ``cache_dir/<key>`` (default `spectrogram_cache_dir`), the key a fingerprint of the files
      (paths, sizes, modification times, labels) and ``config``, so a later run over the same
      files reuses them and changed files get new shards. Shuffled by shard order (seeded,
      reshuffled each epoch) and a buffer of ``shuffle_buffer`` clips: memory stays bounded.
    - ``"none"``: computed again every epoch (shuffled with a ``shuffle_buffer`` buffer).
    - ``"auto"`` (default): ``"memory"`` when the spectrograms fit ``memory_budget`` bytes
      (`chosen_cache`; 1 GiB by default, FSDD's 3,000 clips take 188 MiB), else ``"disk"``.

    Shuffling is seeded by ``seed`` and reshuffled each epoch: every epoch's order is the same
    from run to run. Batching and prefetch follow.

    ``speeds`` other than ``(1.0,)`` perturb the speed (`speed`: pitch and tempo together, as in
    Ko et al. 2015): each clip is computed and cached at every speed, and each epoch takes it at
    one of them, drawn uniformly (seeded by ``seed``, drawn anew each epoch), so an epoch still
    has one example per clip. For training sets only.

    Raises:
      AudioFileError: naming the first unreadable file, unless ``on_error="skip"``.
      ValueError: when ``config`` has no normalisation statistics, no file is usable, or
        ``cache`` is unknown.
      OSError: naming the folder, when shards cannot be written there.
    """
    config._require_stats()
    if cache not in ("auto", "memory", "disk", "none"):
        raise ValueError(f"cache must be 'auto', 'memory', 'disk' or 'none', got {cache!r}")
    speeds = speed.checked_speeds(speeds)
    entries, _ = _entries(files, config, on_error)
    if cache == "auto":
        cache = chosen_cache(len(entries) * len(speeds), config, memory_budget)
    buffer = min(len(entries), max(1, shuffle_buffer // len(speeds)))
    computed = _log_magnitude_dataset(entries, config, normalised=True, speeds=speeds)
    if cache == "disk":
        root = Path(cache_dir) if cache_dir is not None else spectrogram_cache_dir()
        folder = shards.write_once(computed, root, _shard_key(entries, config, speeds))
        dataset = shards.read(folder, shuffle=shuffle, seed=seed)
    else:
        dataset = computed
        if cache == "memory":
            dataset = dataset.cache()
            buffer = len(entries)
    if shuffle:
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if speeds != (1.0,):
        dataset = _one_speed_per_clip(dataset, len(speeds), seed)
    if batch_size:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(AUTOTUNE)
