"""Saving and loading whole models: one ``.keras`` file with config, weights and normalisation.

Importing this module registers every layer of the package (through `variants`), so a saved model
loads in a fresh process.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import keras

from tfp_audio_vae import pretrained
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


class MissingClassError(ValueError):
    """A saved model names a class (a user's prior, encoder or decoder) not defined here."""


def _saved_classes(config: Any) -> Iterator[tuple[str, str]]:
    """(class name, registered name) of every non-Keras object a model's config names."""
    if isinstance(config, dict):
        if "class_name" in config and "config" in config:
            module = str(config.get("module") or "")
            if not module.startswith("keras"):
                name = str(config["class_name"])
                yield name, str(config.get("registered_name") or name)
        for value in config.values():
            yield from _saved_classes(value)
    elif isinstance(config, list):
        for value in config:
            yield from _saved_classes(value)


def _resolve_classes(
    path: Path, config: dict[str, Any], custom_objects: Mapping[str, type] | Iterable[type]
) -> dict[str, type]:
    """Keras ``custom_objects`` for every class the saved config names, found by plain name.

    A class is looked up as saved (``"module>Class"``, as Keras registered it), then by its plain
    name among ``custom_objects`` and every class registered now: so a class saved from a script
    run directly (``"__main__>Class"``) loads wherever a class of that name is defined.
    """
    given = (
        dict(custom_objects)
        if isinstance(custom_objects, Mapping)
        else {cls.__name__: cls for cls in custom_objects}
    )
    registered = keras.saving.get_custom_objects()  # {"package>Class": class}
    by_name = {cls.__name__: cls for cls in registered.values() if isinstance(cls, type)}
    resolved: dict[str, type] = {}
    for name, saved_as in _saved_classes(config):
        if saved_as in registered:
            continue
        cls = given.get(name) or given.get(saved_as) or by_name.get(name)
        if cls is None:
            raise MissingClassError(
                f"{path}: the model needs the class {name} (saved as {saved_as}), which is not "
                f"defined here: pass it with load_model(..., custom_objects=[{name}]), or "
                "--import the module that defines it on the command line"
            )
        resolved[saved_as] = cls
    return resolved


def load_model(path: str | Path, custom_objects: Mapping[str, type] | Iterable[type] = ()) -> VAE:
    """Loads a model saved by `save_model`, in Keras safe mode (no code from the file runs):
    ``path`` is the ``.keras`` file, a run folder holding ``model.keras``, or a model shipped with
    the package (``"pretrained:fsdd"``, checked by SHA-256: `tfp_audio_vae.pretrained`).

    The package's own classes are always found. A user's own `Prior` subclass (or encoder,
    decoder) must be defined in this process: passed in ``custom_objects`` by plain name (a list
    of classes, or a mapping from name to class), or defined anywhere before loading (imported).

    Raises:
      FileNotFoundError: no such file.
      MissingClassError: (a ValueError) naming a class the model needs and how to provide it.
      ValueError: naming the file, for a file that is not a ``.keras`` archive, one whose
        members fail their CRC check or would inflate past `MAX_MEMBER_BYTES` (configs) or
        `MAX_WEIGHTS_BYTES` (weights), or one Keras cannot load (the message is kept short).
    """
    if pretrained.is_pretrained(path):
        path = pretrained.folder(path)
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model file")
    _check_archive(path)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"{path}: not a model file of this package (no readable config.json)"
        ) from error
    objects = _resolve_classes(path, config, custom_objects)
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False, custom_objects=objects)
    except (ValueError, TypeError, OSError, KeyError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())
        if len(reason) > 200:  # Keras' messages may hold the whole model config
            reason = reason[:199] + "…"
        raise ValueError(f"{path}: cannot load the model: {reason}") from error
    if not isinstance(model, VAE):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a tfp_audio_vae VAE")
    return model
