"""tfp_audio_vae: variational autoencoders for audio spectrograms with TensorFlow Probability.

The names below load on first use, so ``import tfp_audio_vae`` (and the command line's ``--help``)
does not pay for importing TensorFlow until a model, prior or config is touched.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "VAE": "tfp_audio_vae.vae",
    "ConvDecoder": "tfp_audio_vae.decoders",
    "ConvEncoder": "tfp_audio_vae.encoders",
    "MixtureOfGaussiansPrior": "tfp_audio_vae.priors",
    "Prior": "tfp_audio_vae.priors",
    "StandardNormalPrior": "tfp_audio_vae.priors",
    "SpectrogramConfig": "tfp_audio_vae.spectrogram",
    "build_vae": "tfp_audio_vae.models",
    "load_model": "tfp_audio_vae.training",
    "save_model": "tfp_audio_vae.training",
    "train": "tfp_audio_vae.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfp_audio_vae' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
