"""Audio in: files -> waveforms -> spectrograms, and the data sets the package knows.

- `audio_files`: read, check, resample and write audio files (any format, rate, depth, channels).
- `stft`: the one STFT convention, its inverse and clip length.
- `spectrogram`: `SpectrogramConfig` and the waveform <-> model-input transforms.
- `pipeline`: the `tf.data` pipeline from files (or labelled records) to batches.
- `fsdd`: the Free Spoken Digit Dataset: find, download, verify, list and split it.
"""
