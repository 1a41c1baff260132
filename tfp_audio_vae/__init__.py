"""tfp_audio_vae: variational autoencoders for audio spectrograms with TensorFlow Probability.

Importing the package registers its Keras layers, so saved models load in a fresh process.
"""

from tfp_audio_vae.decoders import ConvDecoder
from tfp_audio_vae.encoders import ConvEncoder
from tfp_audio_vae.models import build_vae
from tfp_audio_vae.priors import MixtureOfGaussiansPrior, Prior, StandardNormalPrior
from tfp_audio_vae.spectrogram import SpectrogramConfig
from tfp_audio_vae.training import load_model, save_model, train
from tfp_audio_vae.vae import VAE

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "ConvDecoder",
    "ConvEncoder",
    "MixtureOfGaussiansPrior",
    "Prior",
    "SpectrogramConfig",
    "StandardNormalPrior",
    "build_vae",
    "load_model",
    "save_model",
    "train",
]
