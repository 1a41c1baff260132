"""A user's own folder of audio as a data set: labelled by sub-folder (the Keras layout) or flat.

The layout is that of `keras.utils.audio_dataset_from_directory`: a folder whose sub-folders are
classes, each holding its clips (in any depth of further folders), class names sorted
alphabetically and numbered from 0::

    root/dog/a.wav, root/dog/b.flac, root/cat/c.wav   ->  class_names ('cat', 'dog')

A folder with audio files only at its top (or in no sub-folder) is flat: its clips have no
labels. A folder holding both audio files and class sub-folders is refused, rather than some of
its files silently left out.

The split: a folder with ``train/`` and ``test/`` sub-folders is split by them (each laid out as
above; test's classes must be among train's). Any other folder is split by a seeded hold-out:
`HOLD_OUT` of each class's clips (none from a class of fewer than 10), drawn with ``seed``, so
the same folder always splits the same way.

#### Examples

```python
data = read_folder("my_sounds")     # my_sounds/{cat,dog}/*.wav
data.class_names                    # ('cat', 'dog')
data.train[0]                       # FolderRecord(path=.../cat/c.wav, label=0, speaker='')
```
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from tfp_audio_vae.data.audio_files import find_audio_files

HOLD_OUT = 0.1
"""The fraction of each class's clips held out for testing when there is no ``test/`` folder."""
SPLIT_FOLDERS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class FolderRecord:
    """A clip of a labelled folder (a `pipeline.AudioRecord`).

    Attributes:
      path: the audio file.
      label: its class, the index of its sub-folder in the sorted class names.
      speaker: always ``""`` (a folder does not say).
    """

    path: Path
    label: int
    speaker: str = ""


@dataclasses.dataclass(frozen=True)
class FolderData:
    """A folder read as a data set.

    Attributes:
      root: the folder.
      class_names: the sorted class sub-folder names; ``()`` for a flat folder.
      train: the training clips: `FolderRecord`\\ s, or plain paths for a flat folder.
      test: the held-out clips, likewise.
    """

    root: Path
    class_names: tuple[str, ...]
    train: list[FolderRecord] | list[Path]
    test: list[FolderRecord] | list[Path]

    @property
    def labelled(self) -> bool:
        """Whether the clips carry labels (the folder has class sub-folders)."""
        return bool(self.class_names)


def _layout(folder: Path) -> tuple[tuple[str, ...], list[list[Path]]]:
    """(class names, files of each class) of a labelled folder, or ((), [files]) of a flat one."""
    files = find_audio_files(folder)  # raises for a missing folder or one without audio
    top = [p for p in files if p.parent == folder]
    classes = sorted({p.relative_to(folder).parts[0] for p in files if p.parent != folder})
    if not classes:
        return (), [files]
    if top:
        raise ValueError(
            f"{folder}: holds audio files ({top[0].name}, ...) beside class sub-folders "
            f"({', '.join(classes[:3])}, ...); move them into a class folder, or the class "
            "folders' files up, for a flat folder"
        )
    return tuple(classes), [find_audio_files(folder / name) for name in classes]


def _records(
    class_names: tuple[str, ...], files: list[list[Path]]
) -> list[FolderRecord] | list[Path]:
    if not class_names:
        return files[0]
    return [FolderRecord(path, label) for label, paths in enumerate(files) for path in paths]


def read_folder(
    root: str | os.PathLike[str], *, hold_out: float = HOLD_OUT, seed: int = 0
) -> FolderData:
    """Reads a folder of audio (labelled by sub-folder, or flat) and splits it.

    Args:
      root: the folder (see the module's docstring for the layouts).
      hold_out: the fraction of each class held out when there is no ``test/`` folder.
      seed: seeds that hold-out (a NumPy generator of its own; nothing global).
    Returns:
      the folder's `FolderData`, files sorted within each class.
    Raises:
      FileNotFoundError, NotADirectoryError: for a missing folder or a file.
      ValueError: naming the folder, if it (or its ``train/``) holds no audio, mixes audio files
        with class folders, or its ``test/`` has classes that ``train/`` lacks.
    """
    root = Path(root)
    if all((root / name).is_dir() for name in SPLIT_FOLDERS):
        class_names, train = _layout(root / "train")
        test_names, test = _layout(root / "test")
        if unknown := sorted(set(test_names) - set(class_names)):
            raise ValueError(
                f"{root / 'test'}: classes {', '.join(unknown)} are not in {root / 'train'}"
            )
        if class_names:  # test/ may lack a class: its files line up with train's labels
            by_name = dict(zip(test_names, test, strict=True))
            test = [by_name.get(name, []) for name in class_names]
        return FolderData(
            root, class_names, _records(class_names, train), _records(class_names, test)
        )
    class_names, files = _layout(root)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for paths in files:
        held = set(rng.permutation(len(paths))[: int(len(paths) * hold_out)].tolist())
        train.append([p for i, p in enumerate(paths) if i not in held])
        test.append([p for i, p in enumerate(paths) if i in held])
    return FolderData(root, class_names, _records(class_names, train), _records(class_names, test))
