"""Honest numbers: bounds, scores through real audio, the judge, and pictures.

- `scores`: spectral distances, Inception Score and Fréchet distance (plain functions).
- `judge`: a classifier trained on the data set's own labelled clips, which hears generated audio.
- `latent_geometry`: 2-D projections of latents and a mixture's component ellipses (no drawing).
- `evaluate`: every figure for a trained model beside the real-audio ceiling.
- `perceptual`: PESQ and STOI of audio against its reference (the optional ``perceptual`` extra).
- `plots`: spectrograms, latent maps, the prior and training curves.
"""
