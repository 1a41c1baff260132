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
    "Conv1DDecoder": "tfp_audio_vae.models.decoders",
    "Conv1DEncoder": "tfp_audio_vae.models.encoders",
    "Conv2DDecoder": "tfp_audio_vae.models.decoders",
    "Conv2DEncoder": "tfp_audio_vae.models.encoders",
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
    # training and runs
    "train": "tfp_audio_vae.training.fit",
    "DataSpec": "tfp_audio_vae.training.run_spec",
    "ModelSpec": "tfp_audio_vae.training.run_spec",
    "RunSpec": "tfp_audio_vae.training.run_spec",
    "TrainingSpec": "tfp_audio_vae.training.run_spec",
    "Run": "tfp_audio_vae.runs",
    # synthesis
    "generate": "tfp_audio_vae.synthesis.generation",
    "interpolate": "tfp_audio_vae.synthesis.generation",
    "reconstruct_files": "tfp_audio_vae.synthesis.generation",
    "write_wavs": "tfp_audio_vae.synthesis.waveforms",
    # evaluation
    "evaluate": "tfp_audio_vae.evaluation.metrics",
}

__all__ = sorted(_EXPORTS)

_RENAMED = {"ConvDecoder": "Conv2DDecoder", "ConvEncoder": "Conv2DEncoder"}
"""Old names served, with a `DeprecationWarning`, until 0.3 (not in ``__all__``)."""


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        from tfp_audio_vae.deprecation import warn

        warn(name, _RENAMED[name])
        name = _RENAMED[name]
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfp_audio_vae' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
