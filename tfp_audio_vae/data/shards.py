"""Spectrograms cached on disk as TFRecord shards, for data sets larger than memory.

A shard folder is written once and read every epoch::

    cache_dir/<key>/
      shard-00000.tfrecord   `CLIPS_PER_SHARD` examples each: spectrogram (raw float32 bytes),
      shard-00001.tfrecord   label (int64), speaker (bytes)
      ...
      manifest.json          clip count, shape, and each shard's name and size in bytes

The folder is written under a temporary name (``.partial-<key>-<pid>-<token>``) and renamed into
place only when every shard and the manifest are on disk, so an interrupted write is never read
as complete; a folder whose manifest is missing or whose shards do not match it is rebuilt.
Reading shuffles the order of the shards (seeded, again each epoch) and interleaves a few of them,
so a bounded shuffle buffer after it mixes clips from across the whole set.

Why TFRecord shards rather than ``tf.data.Dataset.save``/``load`` or ``snapshot``: the reader
here is four lines of `tf.data` whose order is fully ours (shard order, interleave, buffer), the
files are plain and can be checked against the manifest, and the float32 bytes read back are the
bytes written, so a streamed epoch holds exactly the in-memory cache's values.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

CLIPS_PER_SHARD = 1024
"""Clips per shard file: 64 MiB of 128 x 128 float32 spectrograms."""
INTERLEAVED_SHARDS = 4
"""Shards read at once when shuffling."""
MANIFEST = "manifest.json"
_FORMAT = 1  # bump when the layout of a shard changes


def fingerprint(items: Iterable[object]) -> str:
    """A short hex key of ``items`` (their ``repr``s in order), naming a shard folder."""
    digest = hashlib.sha256(repr(_FORMAT).encode())
    for item in items:
        digest.update(repr(item).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a manifest and every shard it lists, at the listed size."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return all(
            (folder / name).stat().st_size == size for name, size in manifest["shards"].items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _example(spectrogram: np.ndarray, label: int, speaker: bytes) -> bytes:
    feature = tf.train.Feature
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "spectrogram": feature(
                    bytes_list=tf.train.BytesList(value=[spectrogram.astype("<f4").tobytes()])
                ),
                "label": feature(int64_list=tf.train.Int64List(value=[int(label)])),
                "speaker": feature(bytes_list=tf.train.BytesList(value=[speaker])),
            }
        )
    ).SerializeToString()


def _write_into(staging: Path, dataset: tf.data.Dataset) -> dict[str, object]:
    """Writes ``dataset``'s elements into shards under ``staging``; returns the manifest."""
    shards: dict[str, int] = {}
    writer, count, shape = None, 0, None
    for batch in dataset.batch(256).as_numpy_iterator():
        for spectrogram, label, speaker in zip(
            batch["spectrogram"], batch["label"], batch["speaker"], strict=True
        ):
            if count % CLIPS_PER_SHARD == 0:
                if writer is not None:
                    writer.close()
                name = f"shard-{count // CLIPS_PER_SHARD:05d}.tfrecord"
                shards[name] = 0
                writer = tf.io.TFRecordWriter(str(staging / name))
            writer.write(_example(spectrogram, label, speaker))
            shape = list(spectrogram.shape)
            count += 1
    if writer is not None:
        writer.close()
    for name in shards:
        shards[name] = (staging / name).stat().st_size
    return {"format": _FORMAT, "clips": count, "shape": shape, "shards": shards}


def _remove_abandoned(root: Path, key: str) -> None:
    """Removes ``.partial-<key>-<pid>-*`` folders whose writing process is no longer running."""
    for partial in root.glob(f".partial-{key}-*"):
        pid = partial.name.split("-")[2]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


def write_once(dataset: tf.data.Dataset, root: Path, key: str) -> Path:
    """The complete shard folder ``root/key`` of ``dataset``, written now unless already complete.

    Args:
      dataset: unbatched ``{"spectrogram": float32 [freq, time, 1], "label": int32, "speaker":
        string}``, iterated once (when the folder is missing or incomplete).
      root: the cache folder (created if missing).
      key: the folder's name, a `fingerprint` of what ``dataset`` holds.
    Raises:
      OSError: naming the folder, if it cannot be written (read-only, disk full); nothing
        partial is left behind.
    """
    folder = root / key
    if is_complete(folder):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root, key)
    staging = root / f".partial-{key}-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        manifest = _write_into(staging, dataset)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if folder.exists() and not is_complete(folder):
            shutil.rmtree(folder)  # damaged: a shard deleted or cut short
        try:
            staging.rename(folder)
        except OSError:
            if not is_complete(folder):  # not another process's finished copy
                raise
    except (OSError, tf.errors.OpError) as error:
        raise OSError(f"{folder}: cannot write the spectrogram shards ({error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def read(folder: Path, *, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A complete shard folder -> unbatched ``{"spectrogram", "label", "speaker"}``.

    In written order, or with ``shuffle`` in a seeded order of shards (a new one each epoch),
    `INTERLEAVED_SHARDS` at a time, one clip from each in turn.
    """
    manifest = json.loads((folder / MANIFEST).read_text())
    shape = manifest["shape"]
    paths = tf.data.Dataset.from_tensor_slices([str(folder / name) for name in manifest["shards"]])
    if shuffle:
        paths = paths.shuffle(len(manifest["shards"]), seed=seed, reshuffle_each_iteration=True)
    records = paths.interleave(
        tf.data.TFRecordDataset,
        cycle_length=INTERLEAVED_SHARDS if shuffle else 1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    features = {
        "spectrogram": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "speaker": tf.io.FixedLenFeature([], tf.string),
    }

    def parse(record: tf.Tensor) -> dict[str, tf.Tensor]:
        example = tf.io.parse_single_example(record, features)
        return {
            "spectrogram": tf.reshape(tf.io.decode_raw(example["spectrogram"], tf.float32), shape),
            "label": tf.cast(example["label"], tf.int32),
            "speaker": example["speaker"],
        }

    clips = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return clips.apply(tf.data.experimental.assert_cardinality(manifest["clips"]))
