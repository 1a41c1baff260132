"""A user's folder as a data set: classes from sub-folders (the Keras layout), a flat folder
without labels, the train/ and test/ split or a seeded hold-out, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfp_audio_vae.data import pipeline
from tfp_audio_vae.data.folders import FolderRecord, read_folder
from tfp_audio_vae.data.pipeline import AudioRecord

from .helpers import TINY_CONFIG


def _clips(folder: Path, count: int, suffix: str = ".wav") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"clip{i:02d}{suffix}" for i in range(count)]
    for i, path in enumerate(paths):
        sf.write(path, np.full(400, 0.01 * (i + 1)), 8000)
    return paths


def test_sub_folders_are_classes_sorted_like_keras(tmp_path: Path) -> None:
    _clips(tmp_path / "dog", 12)
    _clips(tmp_path / "cat", 10, ".flac")
    _clips(tmp_path / "bird" / "nested", 3)  # any depth under the class folder
    (tmp_path / ".hidden").mkdir()
    _clips(tmp_path / ".hidden", 2)
    data = read_folder(tmp_path)
    assert data.class_names == ("bird", "cat", "dog") and data.labelled
    everything = data.train + data.test
    assert all(isinstance(r, FolderRecord) and isinstance(r, AudioRecord) for r in everything)
    assert {r.path.parts[len(tmp_path.parts)]: r.label for r in everything} == {
        "bird": 0,
        "cat": 1,
        "dog": 2,
    }
    # a tenth of each class held out, none from a class of fewer than ten
    assert sorted(r.label for r in data.test) == [1, 2]
    assert len(data.train) == 3 + 9 + 11


def test_the_hold_out_is_seeded_and_repeatable(tmp_path: Path) -> None:
    _clips(tmp_path / "a", 40)
    first, again, other = (read_folder(tmp_path, seed=s).test for s in (0, 0, 1))
    assert first == again and len(first) == 4
    assert first != other


def test_a_flat_folder_gives_unlabelled_paths(tmp_path: Path) -> None:
    paths = _clips(tmp_path, 20)
    data = read_folder(tmp_path)
    assert data.class_names == () and not data.labelled
    assert sorted(data.train + data.test) == paths and len(data.test) == 2
    labels = [int(e["label"]) for e in pipeline.waveform_dataset(data.test, TINY_CONFIG)]
    assert labels == [-1, -1]


def test_train_and_test_folders_are_the_split(tmp_path: Path) -> None:
    _clips(tmp_path / "train" / "yes", 3)
    _clips(tmp_path / "train" / "no", 3)
    _clips(tmp_path / "test" / "yes", 2)
    data = read_folder(tmp_path)
    assert data.class_names == ("no", "yes")
    assert [(r.path.parent.name, r.label) for r in data.test] == [("yes", 1), ("yes", 1)]
    assert all(r.path.parts[-3] == "train" for r in data.train) and len(data.train) == 6
    waves, labels = pipeline.load_waveforms(data.test, TINY_CONFIG)
    assert waves.shape == (2, TINY_CONFIG.num_samples) and labels.tolist() == [1, 1]


def test_a_test_class_missing_from_train_is_refused(tmp_path: Path) -> None:
    _clips(tmp_path / "train" / "yes", 2)
    _clips(tmp_path / "test" / "maybe", 2)
    with pytest.raises(ValueError, match=f"{tmp_path / 'test'}: classes maybe are not in"):
        read_folder(tmp_path)


def test_audio_beside_class_folders_is_refused(tmp_path: Path) -> None:
    _clips(tmp_path, 1)
    _clips(tmp_path / "dog", 1)
    with pytest.raises(ValueError, match=f"{tmp_path}: holds audio files .clip00.wav"):
        read_folder(tmp_path)


def test_a_folder_without_audio_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="no .* files in this folder"):
        read_folder(tmp_path)
