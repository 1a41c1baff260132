"""Data larger than memory: the cache chosen by size, spectrogram shards on disk, bounded shuffling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tfp_audio_vae.data import fsdd, pipeline, shards
from tfp_audio_vae.data.spectrogram import SpectrogramConfig


@pytest.fixture(scope="module")
def records(fsdd_root):
    return fsdd.records(fsdd_root, "train")[::180]  # 15 clips, every digit


@pytest.fixture(scope="module")
def config(records):
    return pipeline.fit_normalisation(records, SpectrogramConfig())


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr(shards, "CLIPS_PER_SHARD", 4)  # 15 clips -> 4 shards


def clips(dataset) -> list[tuple[bytes, int, bytes]]:
    """Every clip of an unbatched dataset: (spectrogram bytes, label, speaker), in order."""
    return [
        (e["spectrogram"].tobytes(), int(e["label"]), e["speaker"])
        for e in dataset.as_numpy_iterator()
    ]


def folders(root):
    return sorted(p for p in root.iterdir()) if root.exists() else []


def test_the_cache_is_chosen_by_size(records, config, tmp_path):
    assert pipeline.chosen_cache(2_700, config) == "memory"  # FSDD's train split
    assert pipeline.chosen_cache(100_000, config) == "disk"  # 6.5 GB
    pipeline.spectrogram_dataset(records, config, cache_dir=tmp_path)
    assert folders(tmp_path) == []  # in memory: nothing written
    pipeline.spectrogram_dataset(records, config, cache_dir=tmp_path, memory_budget=15 * 2**16 - 1)
    [folder] = folders(tmp_path)
    assert shards.is_complete(folder)
    assert json.loads((folder / shards.MANIFEST).read_text())["clips"] == 15


def test_shards_hold_exactly_the_in_memory_spectrograms(records, config, tmp_path, small_shards):
    memory = pipeline.spectrogram_dataset(records, config, batch_size=None, cache="memory")
    disk = pipeline.spectrogram_dataset(
        records, config, batch_size=None, cache="disk", cache_dir=tmp_path
    )
    assert int(disk.cardinality()) == 15
    assert clips(disk) == clips(memory)
    [folder] = folders(tmp_path)
    assert len(list(folder.glob("shard-*.tfrecord"))) == 4
    # a second dataset over the same files and config reuses the shards
    written = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    pipeline.spectrogram_dataset(records, config, cache="disk", cache_dir=tmp_path)
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    # other statistics are another set of spectrograms: other shards
    other = SpectrogramConfig(mean=(0.0,) * 128, std=(1.0,) * 128)
    pipeline.spectrogram_dataset(records, other, cache="disk", cache_dir=tmp_path)
    assert len(folders(tmp_path)) == 2


def test_damaged_or_interrupted_shards_are_rebuilt_not_read(
    records, config, tmp_path, small_shards, monkeypatch
):
    expected = clips(pipeline.spectrogram_dataset(records, config, batch_size=None))
    build = lambda: pipeline.spectrogram_dataset(  # noqa: E731
        records, config, batch_size=None, cache="disk", cache_dir=tmp_path
    )
    build()
    [folder] = folders(tmp_path)
    shard = folder / "shard-00001.tfrecord"
    shard.write_bytes(shard.read_bytes()[:1000])  # cut short
    assert not shards.is_complete(folder)
    assert clips(build()) == expected
    (folder / shards.MANIFEST).unlink()
    assert clips(build()) == expected
    assert shards.is_complete(folder)

    # a write that fails part-way leaves nothing that a later run could take for complete
    writes = 0

    def failing(*args):
        nonlocal writes
        writes += 1
        if writes > 6:
            raise OSError(28, "No space left on device")
        return original(*args)

    original = shards._example
    monkeypatch.setattr(shards, "_example", failing)
    with pytest.raises(OSError, match="cannot write the spectrogram shards"):
        pipeline.spectrogram_dataset(records, config, cache="disk", cache_dir=tmp_path / "new")
    assert folders(tmp_path / "new") == []
    monkeypatch.setattr(shards, "_example", original)

    # the staging folder of a killed writer (its process gone) is removed, never read
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True).stdout.strip()  # fmt: skip
    key = folder.name
    abandoned = tmp_path / f".partial-{key}-{dead}-0000"
    abandoned.mkdir()
    (abandoned / "shard-00000.tfrecord").write_bytes(b"half")
    (folder / shards.MANIFEST).unlink()
    assert clips(build()) == expected
    assert not abandoned.exists()


def test_streamed_shuffling_is_seeded_per_epoch_and_bounded(
    records, config, tmp_path, small_shards
):
    def epochs(seed, buffer=4, count=2):
        dataset = pipeline.spectrogram_dataset(
            records, config, batch_size=None, shuffle=True, seed=seed, cache="disk",
            cache_dir=tmp_path, shuffle_buffer=buffer,
        )  # fmt: skip
        return [clips(dataset) for _ in range(count)]

    in_order = clips(pipeline.spectrogram_dataset(records, config, batch_size=None))
    first, second = epochs(seed=1)
    assert sorted(first) == sorted(second) == sorted(in_order)  # each epoch: every clip once
    assert first != second  # reshuffled each epoch
    assert epochs(seed=1) == [first, second]  # the same orders in every run
    assert epochs(seed=2)[0] != first
    # a one-clip buffer only interleaves shards: the epoch starts with some shard's first clip
    shard_starts = in_order[:: shards.CLIPS_PER_SHARD]
    assert all(epochs(seed, buffer=1, count=1)[0][0] in shard_starts for seed in range(5))


def test_memory_cache_keeps_its_whole_set_shuffle(records, config):
    """FSDD-sized data takes the path it always took: a cache in memory shuffled as a whole."""
    auto = pipeline.spectrogram_dataset(records, config, batch_size=None, shuffle=True, seed=3)
    memory = pipeline.spectrogram_dataset(
        records, config, batch_size=None, shuffle=True, seed=3, cache="memory"
    )
    assert clips(auto) == clips(memory)


def test_unknown_cache_is_refused(records, config):
    with pytest.raises(ValueError, match="cache must be"):
        pipeline.spectrogram_dataset(records, config, cache="ram")


@pytest.mark.slow
def test_train_command_streams_from_shards_in_the_named_folder(fsdd_root, tmp_path):
    command = [
        sys.executable, "-m", "tfp_audio_vae.cli", "train", "--run-dir", str(tmp_path / "run"),
        "--fsdd", str(fsdd_root), "--limit", "20", "--epochs", "1", "--latent-dim", "4",
        "--batch-size", "8", "--cache", "disk", "--cache-dir", str(tmp_path / "shards"), "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    [folder] = folders(tmp_path / "shards")
    assert json.loads((folder / shards.MANIFEST).read_text())["clips"] == 20
    assert (tmp_path / "run" / "model.keras").is_file()
