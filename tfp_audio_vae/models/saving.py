"""Saving and loading whole models: one ``.keras`` file with config, weights and normalisation.

Importing this module registers every layer of the package (through `variants`), so a saved model
loads in a fresh process.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import keras

from tfp_audio_vae.files import save_keras
from tfp_audio_vae.models import variants  # noqa: F401  (registers every layer a model may name)
from tfp_audio_vae.models.vae import VAE

MAX_MEMBER_BYTES = 16 * 2**20
"""The most a ``.keras`` file's ``config.json``, ``metadata.json`` (or any member but the
weights) may inflate to: a model's config is a few kB."""
MAX_WEIGHTS_BYTES = 2**30
"""The most a ``.keras`` file's weights (``model.weights.h5``) may inflate to: 1 GiB."""


def _check_archive(path: Path) -> None:
    """Refuses a ``.keras`` file whose members would inflate past the limits above, or whose data
    fails its CRC check; reads the members a block at a time (memory stays bounded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                limit = MAX_WEIGHTS_BYTES if member.filename.endswith(".h5") else MAX_MEMBER_BYTES
                if member.file_size > limit:
                    raise ValueError(
                        f"{path}: not a model file of this package ({member.filename} would "
                        f"inflate to {member.file_size:,} bytes, over the limit of {limit:,})"
                    )
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as error:
        reason = " ".join(str(error).split())[:200]
        raise ValueError(f"{path}: damaged .keras file ({reason})") from None
    except NotImplementedError as error:  # a compression method zipfile lacks
        raise ValueError(f"{path}: not a .keras model file ({error})") from None
    if damaged is not None:
        raise ValueError(
            f"{path}: damaged .keras file ({damaged} fails its CRC check: the file was changed "
            "or cut short after it was saved)"
        )


def save_model(model: VAE, path: str | Path) -> Path:
    """Saves the whole model (config, weights, spectrogram normalisation) as one ``.keras`` file."""
    return save_keras(model, path)


def load_model(path: str | Path) -> VAE:
    """Loads a model saved by `save_model`, in Keras safe mode (no code from the file runs).

    A model with a user's own `Prior` subclass loads once that class is defined (imported).

    Raises:
      FileNotFoundError: no such file.
      ValueError: naming the file, for a file that is not a ``.keras`` archive, one whose
        members fail their CRC check or would inflate past `MAX_MEMBER_BYTES` (configs) or
        `MAX_WEIGHTS_BYTES` (weights), or one Keras cannot load (the message is kept short).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model file")
    _check_archive(path)
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())
        if len(reason) > 200:  # Keras' messages may hold the whole model config
            reason = reason[:199] + "…"
        raise ValueError(f"{path}: cannot load the model: {reason}") from error
    if not isinstance(model, VAE):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a tfp_audio_vae VAE")
    return model
