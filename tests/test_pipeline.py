"""The spectrogram pipeline on real FSDD files and on the kinds of audio users bring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from tfp_audio_vae.data import fsdd, pipeline
from tfp_audio_vae.data.audio_files import AudioFileError, resample
from tfp_audio_vae.data.spectrogram import (
    SpectrogramConfig,
    denormalise,
    log_magnitude,
    to_magnitude,
    waveform_to_spectrogram,
)


@pytest.fixture(scope="module")
def records(fsdd_root):
    return fsdd.records(fsdd_root, "train")[::90]  # 30 clips, every digit and speaker


@pytest.fixture(scope="module")
def config(records):
    return pipeline.fit_normalisation(records, SpectrogramConfig())


def test_default_shape_convolves_cleanly():
    config = SpectrogramConfig()
    assert config.shape == (128, 128, 1)
    assert config.num_samples / config.sample_rate == pytest.approx(1.024)


def test_config_round_trips_through_json_and_validates(config):
    assert SpectrogramConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="n_fft"):
        SpectrogramConfig(n_fft=255)
    with pytest.raises(ValueError, match="log_floor"):
        SpectrogramConfig(log_floor=0.0)
    with pytest.raises(ValueError, match="one per bin"):
        SpectrogramConfig(mean=(0.0,), std=(1.0,))
    with pytest.raises(ValueError, match="unknown"):
        SpectrogramConfig.from_dict({"hop": 3})
    with pytest.raises(ValueError, match="fit_normalisation"):
        pipeline.spectrogram_dataset([], SpectrogramConfig())


def test_dataset_elements_have_documented_shapes_and_labels(records, config):
    batch = next(iter(pipeline.spectrogram_dataset(records, config, batch_size=8)))
    assert batch["spectrogram"].shape == (8, 128, 128, 1)
    assert batch["spectrogram"].dtype == tf.float32
    assert list(batch["label"].numpy()) == [r.digit for r in records[:8]]
    assert [s.decode() for s in batch["speaker"].numpy()] == [r.speaker for r in records[:8]]


def test_normalisation_is_global_per_bin_from_the_given_files(records, config):
    x = np.concatenate(
        [b["spectrogram"].numpy() for b in pipeline.spectrogram_dataset(records, config)]
    )
    per_bin_mean = x.mean(axis=(0, 2, 3))
    per_bin_std = x.std(axis=(0, 2, 3))
    np.testing.assert_allclose(per_bin_mean, 0.0, atol=1e-3)
    np.testing.assert_allclose(per_bin_std, 1.0, atol=1e-3)
    assert len(config.mean) == len(config.std) == 128


def test_log_magnitude_round_trips_to_the_stft_magnitude(config):
    rng = np.random.default_rng(0)
    wave = tf.constant(rng.normal(scale=0.1, size=(2, config.num_samples)), tf.float32)
    spectrogram = waveform_to_spectrogram(wave, config)  # [2, 128, 128, 1]
    np.testing.assert_allclose(
        denormalise(spectrogram, config).numpy(), log_magnitude(wave, config).numpy(), atol=1e-4
    )
    stft = tf.abs(tf.signal.stft(wave, 256, 64, 256, pad_end=True))  # [2, frames, 129]
    expected = tf.maximum(stft[..., :128], config.log_floor)
    magnitude = to_magnitude(spectrogram, config)  # [2, frames, 129] with a zero Nyquist bin
    np.testing.assert_allclose(magnitude[..., :128].numpy(), expected.numpy(), rtol=1e-3)
    assert np.all(magnitude[..., 128].numpy() == 0)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(4000),  # digital silence
        np.full(4000, 0.3),  # pure DC offset
        np.clip(np.sin(np.arange(4000)) * 10, -1, 1),  # hard-clipped
        np.full(4000, 1e-9),  # far below the log floor
    ],
    ids=["silent", "dc", "clipped", "near-silent"],
)
def test_degenerate_audio_never_gives_nan_or_inf(tmp_path, config, signal):
    path = tmp_path / "clip.wav"
    sf.write(path, signal, 8000, subtype="PCM_16")
    batch = next(iter(pipeline.spectrogram_dataset([path], config)))
    assert np.all(np.isfinite(batch["spectrogram"].numpy()))
    floor = (np.log(config.log_floor) - np.array(config.mean)) / np.array(config.std)
    assert np.all(batch["spectrogram"].numpy()[0, :, :, 0] >= floor[:, None] - 1e-4)


def test_other_rates_depths_and_channels_match_the_native_path(tmp_path, records, config):
    wave, rate = sf.read(records[0].path, dtype="float64")
    native = next(iter(pipeline.spectrogram_dataset([records[0].path], config)))["spectrogram"]
    # 24-bit stereo at 44.1 kHz, resampled with a real resampler back to 8 kHz.
    upsampled = resample(wave, rate, 44100)
    path = tmp_path / "stereo_24bit_44k.wav"
    sf.write(path, np.stack([upsampled, upsampled], axis=1), 44100, subtype="PCM_24")
    flac = tmp_path / "clip.flac"
    sf.write(flac, wave, rate, subtype="PCM_16")
    batch = next(iter(pipeline.spectrogram_dataset([path, flac], config, batch_size=2)))
    assert batch["label"].numpy().tolist() == [-1, -1]  # not FSDD names: no labels
    # Compare below 3.5 kHz (bin 112): the resampler's anti-aliasing filter rightly rolls off the
    # top of the band on the way through 44.1 kHz; and only where there is sound.
    reference = native.numpy()[0, :112]
    loud = reference > 0.5
    for converted in batch["spectrogram"].numpy():
        assert np.corrcoef(converted[:112][loud], reference[loud])[0, 1] > 0.999


def test_clips_longer_than_the_model_duration_are_trimmed(tmp_path, config):
    path = tmp_path / "long.wav"
    sf.write(path, np.random.default_rng(0).normal(scale=0.1, size=8000 * 5), 8000)
    waves, digits = pipeline.load_waveforms([path], config)
    assert waves.shape == (1, config.num_samples) and digits.tolist() == [-1]


def test_bad_files_raise_with_their_name_or_are_skipped_and_reported(tmp_path, records, config):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    files = [records[0].path, empty, records[1].path, text]
    with pytest.raises(AudioFileError, match="empty.wav"):
        pipeline.spectrogram_dataset(files, config)
    skipped = pipeline.validate_files(files, config)
    assert sorted(e.path.name for e in skipped) == ["empty.wav", "notes.wav"]
    dataset = pipeline.spectrogram_dataset(files, config, batch_size=None, on_error="skip")
    assert len(list(dataset)) == 2
    with pytest.raises(ValueError, match="no usable audio"):
        pipeline.spectrogram_dataset([empty, text], config, on_error="skip")


def test_stats_do_not_depend_on_a_stale_config(records, config):
    other = pipeline.fit_normalisation(
        records[:5], dataclasses.replace(config, mean=None, std=None)
    )
    assert other.mean != config.mean


def test_datasets_know_their_length_so_keras_averages_the_loss_right(records, config):
    dataset = pipeline.spectrogram_dataset(records, config, batch_size=8)
    assert int(dataset.cardinality()) == 4  # 30 clips in batches of 8
    assert int(pipeline.spectrogram_dataset(records, config, batch_size=None).cardinality()) == 30
