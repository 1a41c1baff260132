"""Honest numbers: bounds, scores through real audio, the digit judge, and pictures.

- `scores`: spectral distances, Inception Score and Fréchet distance (plain functions).
- `judge`: the digit classifier that hears generated audio.
- `evaluate`: every figure for a trained model beside the real-audio ceiling.
- `plots`: spectrograms, latent maps, the prior and training curves.
"""
