"""Datasets the package can find, download and verify for you; one module per dataset.

- `fsdd`: the Free Spoken Digit Dataset (3,000 spoken digits, 8 kHz WAV).
"""

from tfp_audio_vae.datasets import fsdd

__all__ = ["fsdd"]
