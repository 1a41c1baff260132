"""Audio out: latents -> spectrograms -> waveforms -> WAV files.

- `griffin_lim`: phase reconstruction from magnitudes (fast Griffin-Lim, batched).
- `waveforms`: model spectrograms or latents -> waveforms, and writing WAV files.
- `generation`: prior and per-class samples, reconstructions of files, interpolations.
- `long_audio`: audio longer than the model's window, in cross-faded overlapping windows.
"""
