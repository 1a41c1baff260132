"""Saving and loading whole models: one ``.keras`` file with config, weights and normalisation.

Importing this module registers every layer of the package (through `variants`), so a saved model
loads in a fresh process.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from tfp_audio_vae.files import save_keras
from tfp_audio_vae.models import variants  # noqa: F401  (registers every layer a model may name)
from tfp_audio_vae.models.vae import VAE


def save_model(model: VAE, path: str | Path) -> Path:
    """Saves the whole model (config, weights, spectrogram normalisation) as one ``.keras`` file."""
    return save_keras(model, path)


def load_model(path: str | Path) -> VAE:
    """Loads a model saved by `save_model`, in Keras safe mode (no code from the file runs).

    A model with a user's own `Prior` subclass loads once that class is defined (imported).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model file")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as error:
        raise ValueError(f"{path}: cannot load the model: {error}") from error
    if not isinstance(model, VAE):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a tfp_audio_vae VAE")
    return model
