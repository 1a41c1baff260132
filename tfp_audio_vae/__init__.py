"""tfp_audio_vae: variational autoencoders for audio spectrograms with TensorFlow Probability.

The names below load on first use, so ``import tfp_audio_vae`` (and the command line's ``--help``)
does not pay for importing TensorFlow until a model, prior or config is touched.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "SpectrogramConfig": "tfp_audio_vae.data.spectrogram",
    "fit_normalisation": "tfp_audio_vae.data.pipeline",
    "load_waveforms": "tfp_audio_vae.data.pipeline",
    "read_folder": "tfp_audio_vae.data.folders",
    "spectrogram_dataset": "tfp_audio_vae.data.pipeline",
    # models
    "VAE": "tfp_audio_vae.models.vae",
    "ConvDecoder": "tfp_audio_vae.models.decoders",
    "ConvEncoder": "tfp_audio_vae.models.encoders",
    "Conv1DDecoder": "tfp_audio_vae.models.decoders",
    "Conv1DEncoder": "tfp_audio_vae.models.encoders",
    "MixtureOfGaussiansPrior": "tfp_audio_vae.models.priors",
    "Prior": "tfp_audio_vae.models.priors",
    "StandardNormalPrior": "tfp_audio_vae.models.priors",
    "VampPrior": "tfp_audio_vae.models.priors",
    "RealNVPPrior": "tfp_audio_vae.models.priors",
    "build_vae": "tfp_audio_vae.models.variants",
    "with_prior": "tfp_audio_vae.models.variants",
    "refine_latents": "tfp_audio_vae.models.latents",
    "load_model": "tfp_audio_vae.models.saving",
    "save_model": "tfp_audio_vae.models.saving",
    # training
    "train": "tfp_audio_vae.training.fit",
    # synthesis
    "generate": "tfp_audio_vae.synthesis.generation",
    "interpolate": "tfp_audio_vae.synthesis.generation",
    "reconstruct_files": "tfp_audio_vae.synthesis.generation",
    "write_wavs": "tfp_audio_vae.synthesis.waveforms",
    # evaluation
    "evaluate": "tfp_audio_vae.evaluation.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfp_audio_vae' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
