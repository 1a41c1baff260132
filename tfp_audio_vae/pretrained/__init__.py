"""Pretrained models shipped inside the package, one folder each, checked by SHA-256 when used.

``pretrained:fsdd`` (or plain ``fsdd`` on the command line, where no such folder exists) is the
default mixture VAE trained on FSDD's train split by `tfp_audio_vae.pretrained.release`, beside
the judge it was evaluated with. Each folder holds::

    model.keras      the model: weights stored in float16, no optimizer state
    train.json       its `RunSpec` (so commands know its data: FSDD's official split)
    judge.keras      the judge of that data, weights in float16
    MODEL_CARD.md    data, split, settings, seed, machine, its results-table row, the date
    sha256.json      every file's SHA-256 and size, and the judge's data fingerprint

Nothing here downloads anything; a file that does not match its SHA-256 is refused by name.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from tfp_audio_vae.data.archives import sha256

PREFIX = "pretrained:"
NAMES = ("fsdd",)
"""The shipped models."""
MANIFEST = "sha256.json"
_verified: set[Path] = set()


def is_pretrained(reference: str | Path) -> bool:
    """Whether ``reference`` names a shipped model (``pretrained:fsdd``)."""
    return str(reference).startswith(PREFIX)


def folder(reference: str | Path) -> Path:
    """The shipped folder of ``pretrained:NAME`` (or ``NAME``), its files checked (`verify`).

    Raises:
      ValueError: an unknown name, or a file that does not match its SHA-256 (named).
    """
    name = str(reference).removeprefix(PREFIX)
    if name not in NAMES:
        raise ValueError(f"{reference}: no such pretrained model (there is: {', '.join(NAMES)})")
    path = Path(str(resources.files(__name__) / name))
    if path not in _verified:  # once a process: the files are the package's, read-only
        verify(path)
        _verified.add(path)
    return path


def manifest(path: Path) -> dict[str, Any]:
    """A shipped folder's ``sha256.json``: ``{"files": {name: {"sha256", "bytes"}}, ...}``."""
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path / MANIFEST}: missing or damaged ({error})") from None


def verify(path: Path) -> None:
    """Checks every file ``sha256.json`` lists against its size and SHA-256.

    Raises:
      ValueError: naming the first file that is missing or changed.
    """
    for name, expected in manifest(path)["files"].items():
        file = path / name
        if not file.is_file() or file.stat().st_size != expected["bytes"]:
            raise ValueError(f"{file}: missing or of the wrong size: reinstall the package")
        if sha256(file) != expected["sha256"]:
            raise ValueError(f"{file}: its SHA-256 does not match {MANIFEST}: reinstall it")
