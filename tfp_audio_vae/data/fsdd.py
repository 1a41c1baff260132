"""The Free Spoken Digit Dataset (FSDD): finding, downloading, verifying and listing it.

FSDD (github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0) holds 3,000 mono 16-bit WAV
recordings at 8 kHz named ``{digit}_{speaker}_{index}.wav``: 6 speakers x 10 digits x 50 takes.
The official split puts takes 0-4 in the test set (300 files) and 5-49 in training (2,700).

The package pins release `FSDD_VERSION` and ships the SHA-256 of every recording
(``fsdd_recordings.sha256``, in ``sha256sum`` format), so a download is checked file by file.

#### Examples

```python
root = locate()                 # $TFP_AUDIO_VAE_FSDD, else the cache, else a download
train = records(root, "train")  # 2,700 FSDDRecord, sorted by file name
train[0]                        # FSDDRecord(path=.../0_george_10.wav, digit=0, speaker='george',
                                #            index=10)
```
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Literal

from tfp_audio_vae.data.archives import CACHE_ENV_VAR as CACHE_ENV_VAR  # re-exported
from tfp_audio_vae.data.archives import DatasetError, cache_dir, find_dataset, install, sha256

FSDD_VERSION = "v1.0.10"
ARCHIVE_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
    f"{FSDD_VERSION}.tar.gz"
)
ARCHIVE_TOP = f"free-spoken-digit-dataset-{FSDD_VERSION.removeprefix('v')}"
"""The archive's top folder, and the name of the dataset folder `download` creates."""
ENV_VAR = "TFP_AUDIO_VAE_FSDD"
"""Names a folder holding ``recordings/`` (an FSDD copy), used before the cache."""

MANIFEST = resources.files(__package__) / "fsdd_recordings.sha256"
SPEAKERS = resources.files(__package__) / "fsdd_speakers.json"

_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[A-Za-z0-9-]+)_(?P<index>[0-9]+)\.wav")
_TEST_TAKES = range(5)  # takes 0-4 are the official test set
NUM_DIGITS = 10
"""FSDD's classes: the digits 0-9."""


class FSDDError(DatasetError):
    """FSDD could not be downloaded, unpacked or verified; the message names the file or URL."""


@dataclasses.dataclass(frozen=True)
class FSDDRecord:
    """One FSDD recording, with the labels its name carries.

    Attributes:
      path: the WAV file.
      digit: the spoken digit, 0-9.
      speaker: the speaker's name, e.g. ``'jackson'`` (see `speakers`).
      index: the take, 0-49.
    """

    path: Path
    digit: int
    speaker: str
    index: int

    @property
    def label(self) -> int:
        """The class the pipeline trains with: the digit (see `pipeline.AudioRecord`)."""
        return self.digit

    @property
    def split(self) -> Literal["train", "test"]:
        """The official split: ``'test'`` for takes 0-4, ``'train'`` otherwise."""
        return "test" if self.index in _TEST_TAKES else "train"


def parse_filename(path: str | os.PathLike[str]) -> FSDDRecord:
    """Reads digit, speaker and take from an FSDD name, ``{digit}_{speaker}_{index}.wav``.

    Raises:
      ValueError: naming the file, if its name does not follow the pattern.
    """
    path = Path(path)
    match = _NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(
            f"{path}: not an FSDD recording name; expected {{digit}}_{{speaker}}_{{index}}.wav, "
            "e.g. 3_theo_27.wav"
        )
    return FSDDRecord(path, int(match["digit"]), match["speaker"], int(match["index"]))


def _manifest() -> dict[str, str]:
    """``{"recordings/<name>": sha256 hex}`` for every FSDD recording, from `MANIFEST`."""
    entries = (line.split(maxsplit=1) for line in MANIFEST.read_text().splitlines() if line)
    return {name: digest for digest, name in entries}


def _has_recordings(root: Path, source: str) -> Path:
    if not (root / "recordings").is_dir():
        raise FileNotFoundError(
            f"{root} (from {source}) has no recordings/ folder; it should be an FSDD copy"
        )
    return root


def _is_complete(root: Path) -> bool:
    """Every recording in the manifest exists under ``root`` (sizes and hashes unchecked)."""
    return all((root / name).is_file() for name in _manifest())


def locate(root: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Finds FSDD: the folder holding ``recordings/``.

    Looks, in order, at ``root``, ``$TFP_AUDIO_VAE_FSDD``, and the cache (``cache_dir()/``
    `ARCHIVE_TOP`, used only if every recording is there); otherwise downloads it into the cache.
    Only the presence of ``recordings/`` is checked; `verify` checks every file's hash.

    Args:
      root: an FSDD folder to use; if given, nothing else is tried.
      download: download FSDD into the cache if it is found nowhere.
    Returns:
      the FSDD folder.
    Raises:
      FileNotFoundError: if ``root`` or ``$TFP_AUDIO_VAE_FSDD`` has no ``recordings/``, or FSDD
        is nowhere and ``download`` is False (the message lists the places looked in).
      FSDDError: if the download fails.
    """
    return find_dataset(
        "FSDD",
        root,
        ENV_VAR,
        cache_dir() / ARCHIVE_TOP,
        checked=_has_recordings,
        is_complete=_is_complete,
        download=(lambda: _download_into(cache_dir(), ARCHIVE_URL, True)) if download else None,
        hint="a folder holding recordings/",
    )


def _mismatches(root: Path) -> list[str]:
    """``"recordings/<name> (missing)"`` or ``"... (SHA-256 mismatch)"`` for each bad recording."""
    bad = []
    for name, digest in _manifest().items():
        path = root / name
        if not path.is_file():
            bad.append(f"{name} (missing)")
        elif sha256(path) != digest:
            bad.append(f"{name} (SHA-256 mismatch)")
    return bad


def _listing(bad: list[str]) -> str:
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f"{len(bad)} of {len(_manifest())} FSDD recordings: {', '.join(bad[:5])}{more}"


def verify(root: str | os.PathLike[str]) -> None:
    """Checks every recording of the manifest is under ``root`` with the right SHA-256.

    Raises:
      FSDDError: listing (the first few) missing or mismatched files by name.
    """
    if bad := _mismatches(Path(root)):
        raise FSDDError(f"{root}: missing or damaged: {_listing(bad)}")


def download(
    dest: str | os.PathLike[str] | None = None, url: str = ARCHIVE_URL, progress: bool = True
) -> Path:
    """Downloads, unpacks and verifies FSDD into ``dest/``\\ `ARCHIVE_TOP`, replacing any old copy.

    The archive streams to ``<dest>/<name>.tar.gz.part`` and is renamed only once complete (its
    length checked against Content-Length); a complete archive already in ``dest`` is reused. It
    is unpacked into a temporary folder inside ``dest`` (refusing absolute paths, ``..``, links
    and device files), every recording is checked against the manifest, and only then is the
    folder moved into place. On failure nothing half-made is left behind.

    Args:
      dest: the folder to download into; default `cache_dir()`.
      url: where the ``.tar.gz`` of the FSDD release is.
      progress: show a progress bar (tqdm, on stderr).
    Returns:
      the FSDD folder (holding ``recordings/``).
    Raises:
      FSDDError: naming the URL, archive member or recording that went wrong.
    """
    return _download_into(Path(dest) if dest is not None else cache_dir(), url, progress)


def _download_into(dest: Path, url: str, progress: bool) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    prefix = f"{ARCHIVE_TOP}/recordings/"

    def check(unpacked: Path) -> None:
        if bad := _mismatches(unpacked):
            raise FSDDError(f"the archive from {url} does not match the manifest: {_listing(bad)}")

    return install(
        url,
        dest / f"{ARCHIVE_TOP}.tar.gz",
        dest / ARCHIVE_TOP,
        wanted=lambda name: name.startswith(prefix),
        check_unpacked=check,
        top=ARCHIVE_TOP,
        desc=f"FSDD {FSDD_VERSION}",
        progress=progress,
        error=FSDDError,
    )


def records(
    root: str | os.PathLike[str] | None = None,
    split: Literal["all", "train", "test"] = "all",
) -> list[FSDDRecord]:
    """The recordings of ``root/recordings/`` (or of `locate()`), sorted by file name.

    Args:
      root: an FSDD folder; ``None`` uses `locate`.
      split: ``'train'`` (takes 5-49, 2,700 files), ``'test'`` (takes 0-4, 300) or ``'all'``.
    Returns:
      one `FSDDRecord` per WAV file in the split.
    Raises:
      ValueError: for an unknown split, or a WAV file whose name is not an FSDD name.
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    recordings = locate(root) / "recordings"
    found = sorted((parse_filename(p) for p in recordings.glob("*.wav")), key=lambda r: r.path.name)
    return [r for r in found if split in ("all", r.split)]


def speakers() -> dict[str, dict[str, str]]:
    """Each speaker's metadata, e.g. ``{"jackson": {"gender": "male", "accent": "USA/neutral"}}``."""
    return json.loads(SPEAKERS.read_text())
