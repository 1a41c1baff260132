"""SC09: the ten digit words ("zero" ... "nine") of Google's Speech Commands, found and fetched.

Speech Commands v0.02 (Warden 2018, CC BY 4.0) holds one-second 16 kHz mono WAVs in one folder
per word, named ``{speaker hash}_nohash_{take}.wav``. SC09 keeps the ten digit words (about
23,000 clips from some 2,600 speakers), the set on which WaveGAN, DiffWave and SaShiMi report
Inception Scores. The official split is in the archive: ``validation_list.txt`` and
``testing_list.txt`` name their clips (``seven/0a2b400e_nohash_0.wav``); the rest train.

The package pins the archive `ARCHIVE_URL` by its size and SHA-256 and checks it as a whole
before unpacking only the ten digit folders and the two lists into ``cache_dir()/``\\ `FOLDER`.

Labels are the digit values (``"zero"`` is 0, ``"nine"`` is 9, as `CLASS_NAMES` orders them), so
a model or a judge reads SC09 and FSDD labels alike. Clips stay at 16 kHz on disk; the pipeline
resamples them to the model's rate: 16 kHz, their own, unless the run names another resolution
(`defaults.DATASET_RESOLUTIONS`; see ``docs/scaling-up.md``).

#### Examples

```python
root = locate()                  # $TFP_AUDIO_VAE_SC09, else the cache, else a download (2.4 GB)
train = records(root, "train")   # SC09Record(path=.../seven/0a2b400e_nohash_0.wav, label=7,
                                 #            speaker='0a2b400e', split='train')
```
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Literal

from tfp_audio_vae.data.archives import DatasetError, cache_dir, find_dataset, install, sha256

ARCHIVE_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
# Size and SHA-256 as TensorFlow Datasets pins them, in
# github.com/tensorflow/datasets/blob/333639b37af6c6fedf3610a4a2d42f1c6ef6f7d5/
# tensorflow_datasets/url_checksums/speech_commands.txt
ARCHIVE_SIZE = 2_428_923_189
ARCHIVE_SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
FOLDER = "speech_commands_v0.02_sc09"
"""The folder `download` creates in the cache: the ten word folders and the two split lists."""
ENV_VAR = "TFP_AUDIO_VAE_SC09"
"""Names a folder holding SC09 (the ten word folders and the two lists), used before the cache."""

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""SC09's classes, in label order: label d is the word for the digit d."""
LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
"""The official split lists, one ``word/file.wav`` a line; every other clip trains."""
SAMPLE_RATE = 16_000
"""The clips' rate on disk, in Hz."""

Split = Literal["all", "train", "validation", "test"]


class SC09Error(DatasetError):
    """SC09 could not be downloaded, unpacked or verified; the message names the file or URL."""


@dataclasses.dataclass(frozen=True)
class SC09Record:
    """One SC09 clip, with its labels (a `pipeline.AudioRecord`).

    Attributes:
      path: the WAV file.
      label: the digit the word says, 0-9 (``CLASS_NAMES[label]`` is the word).
      speaker: the speaker's hash, the file name's prefix (e.g. ``'0a2b400e'``).
      split: ``'train'``, ``'validation'`` or ``'test'``, from the official lists.
    """

    path: Path
    label: int
    speaker: str
    split: str


def _is_complete(root: Path) -> bool:
    """The ten word folders and both lists are there (file counts unchecked)."""
    folders = all((root / word).is_dir() for word in CLASS_NAMES)
    return folders and all((root / name).is_file() for name in LISTS.values())


def _checked(root: Path, source: str) -> Path:
    if not _is_complete(root):
        raise FileNotFoundError(
            f"{root} (from {source}) is not an SC09 folder: it needs zero/ ... nine/ and "
            f"{' and '.join(LISTS.values())}"
        )
    return root


def locate(root: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Finds SC09: ``root``, else ``$TFP_AUDIO_VAE_SC09``, else the cache, else a download.

    Args:
      root: an SC09 folder to use; if given, nothing else is tried.
      download: download SC09 into the cache (2.4 GB) if it is found nowhere.
    Returns:
      the SC09 folder.
    Raises:
      FileNotFoundError: if ``root`` or the variable's folder is not an SC09 folder, or SC09 is
        nowhere and ``download`` is False (the message lists the places looked in).
      SC09Error: if the download fails.
    """

    def fetch_into_cache() -> Path:
        return _download_into(cache_dir(), ARCHIVE_URL, ARCHIVE_SIZE, ARCHIVE_SHA256, True)

    return find_dataset(
        "SC09",
        root,
        ENV_VAR,
        cache_dir() / FOLDER,
        checked=_checked,
        is_complete=_is_complete,
        download=fetch_into_cache if download else None,
        hint="an SC09 folder",
    )


def _wanted(name: str) -> bool:
    """Whether an archive member belongs to SC09: a digit word's WAV, or a split list."""
    word, _, rest = name.partition("/")
    return name in LISTS.values() or (word in CLASS_NAMES and rest.endswith(".wav"))


def download(
    dest: str | os.PathLike[str] | None = None,
    *,
    url: str = ARCHIVE_URL,
    size: int | None = ARCHIVE_SIZE,
    digest: str = ARCHIVE_SHA256,
    progress: bool = True,
) -> Path:
    """Downloads Speech Commands v0.02, checks it, and unpacks SC09 into ``dest/``\\ `FOLDER`.

    The archive is streamed to ``dest`` (a complete one already there is reused), its size and
    SHA-256 are checked as a whole, and only the ten digit folders and the two lists are unpacked
    (refusing absolute paths, ``..``, links and device files anywhere in the archive) into a
    temporary folder moved into place at the end, replacing any old copy. The archive is deleted
    after; a bad one is deleted at once, so nothing half-made or wrong is reused.

    Args:
      dest: the folder to download into; default `cache_dir()`.
      url: where the ``.tar.gz`` is.
      size: its expected size in bytes (``None``: unchecked).
      digest: its expected SHA-256, hex.
      progress: show a progress bar (tqdm, on stderr).
    Returns:
      the SC09 folder.
    Raises:
      SC09Error: naming the URL or archive, for a failed download, a wrong size or checksum, a
        refused member, or an archive without SC09's folders and lists.
    """
    return _download_into(
        Path(dest) if dest is not None else cache_dir(), url, size, digest, progress
    )


def _download_into(dest: Path, url: str, size: int | None, digest: str, progress: bool) -> Path:
    dest.mkdir(parents=True, exist_ok=True)

    def check_archive(archive: Path) -> None:
        if size is not None and archive.stat().st_size != size:
            raise SC09Error(
                f"{archive} (from {url}) is {archive.stat().st_size} bytes, expected {size}; "
                "deleted, try again"
            )
        if sha256(archive) != digest:
            raise SC09Error(
                f"{archive} (from {url}) does not have the pinned SHA-256 {digest}; "
                "deleted, try again"
            )

    def check_unpacked(unpacked: Path) -> None:
        if not _is_complete(unpacked):
            raise SC09Error(f"the archive from {url} lacks some of SC09's word folders or lists")

    return install(
        url,
        dest / Path(ARCHIVE_URL).name,
        dest / FOLDER,
        wanted=_wanted,
        check_unpacked=check_unpacked,
        check_archive=check_archive,
        desc="Speech Commands v0.02",
        progress=progress,
        error=SC09Error,
    )


def records(root: str | os.PathLike[str] | None = None, split: Split = "all") -> list[SC09Record]:
    """The clips of the ten digit words, in label order, then sorted by file name.

    Args:
      root: an SC09 folder; ``None`` uses `locate`.
      split: ``'train'``, ``'validation'``, ``'test'`` (the official lists) or ``'all'``.
    Returns:
      one `SC09Record` per WAV file in the split.
    Raises:
      ValueError: for an unknown split.
    """
    if split not in ("all", "train", "validation", "test"):
        raise ValueError(f"split must be 'all', 'train', 'validation' or 'test', got {split!r}")
    root = locate(root)
    listed = {
        line.strip(): name
        for name, file in LISTS.items()
        for line in (root / file).read_text().splitlines()
        if line.strip()
    }
    found = []
    for label, word in enumerate(CLASS_NAMES):
        for path in sorted((root / word).glob("*.wav")):
            where = listed.get(f"{word}/{path.name}", "train")
            if split in ("all", where):
                found.append(SC09Record(path, label, path.name.split("_")[0], where))
    return found
