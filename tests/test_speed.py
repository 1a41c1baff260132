"""Speed perturbation: real waveforms at other speeds, one per clip per epoch, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tfp_audio_vae.data import pipeline, speed
from tfp_audio_vae.data.spectrogram import SpectrogramConfig

RATE = 8000


def tone(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spectrum) * RATE / len(wave))


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_a_faster_clip_is_higher_and_shorter_by_the_same_factor(factor):
    wave = tone(500.0, 0.8)
    varied = speed.perturb_speed(wave, factor, RATE)
    assert len(varied) == pytest.approx(len(wave) / factor, abs=1)
    assert peak_hz(varied) == pytest.approx(500.0 * factor, rel=0.01)


def test_variants_are_stacked_at_the_clip_length_and_speed_one_is_the_clip():
    wave = tone(300.0, 1.2)
    variants = speed.speed_variants(wave, (0.9, 1.0, 1.1), RATE, 4096)
    assert variants.shape == (3, 4096) and variants.dtype == np.float32
    np.testing.assert_allclose(variants[1], wave[:4096], atol=1e-6)
    for row, factor in zip(variants, (0.9, 1.0, 1.1), strict=True):
        assert peak_hz(row) == pytest.approx(300.0 * factor, rel=0.01)
    short = speed.speed_variants(tone(300.0, 0.1), (0.9,), RATE, 4096)
    assert np.all(short[0, 1000:] == 0.0)  # zero-padded past the slowed clip's 889 samples


@pytest.mark.parametrize(
    "bad, message",
    [((), "at least one"), ((1.0, 3.0), "between 0.5 and 2"), ((1.0, 1.0), "distinct")],
)
def test_bad_speeds_are_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        speed.checked_speeds(bad)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Six tones of different pitch, as WAV files, and a config normalised on them."""
    folder = tmp_path_factory.mktemp("tones")
    paths = []
    for i, frequency in enumerate((200, 260, 330, 410, 520, 650)):
        path = folder / f"tone_{i}.wav"
        sf.write(path, tone(frequency, 0.5), RATE, subtype="PCM_16")
        paths.append(path)
    config = pipeline.fit_normalisation(paths, SpectrogramConfig(num_samples=4096))
    return paths, config


def spectrograms(dataset) -> list[np.ndarray]:
    return [element["spectrogram"].numpy() for element in dataset]


def test_each_epoch_takes_every_clip_once_at_one_of_its_speeds(clips):
    paths, config = clips
    speeds = (0.9, 1.0, 1.1)
    at_speed = {
        s: spectrograms(pipeline.spectrogram_dataset(paths, config, batch_size=None, speeds=(s,)))
        for s in speeds
    }
    dataset = pipeline.spectrogram_dataset(paths, config, batch_size=None, speeds=speeds, seed=3)
    assert int(dataset.cardinality()) == len(paths)
    epochs = [spectrograms(dataset) for _ in range(4)]
    chosen = []
    for epoch in epochs:
        assert epoch[0].shape == config.shape
        picks = []
        for i, x in enumerate(epoch):  # unshuffled: clip i, at one of the three speeds
            # the nearest speed by far; frames before the end, where the resampler's edge
            # differs with the length read (the fastest speed's share of the clip)
            gaps = {s: np.abs(x - at_speed[s][i])[:, :48].mean() for s in speeds}
            nearest = min(gaps, key=gaps.get)
            assert all(gaps[nearest] < 0.01 * gaps[s] for s in speeds if s != nearest)
            picks.append(nearest)
        chosen.append(picks)
    assert len({tuple(p) for p in chosen}) > 1  # drawn anew each epoch
    assert len({s for p in chosen for s in p}) == 3
    again = pipeline.spectrogram_dataset(paths, config, batch_size=None, speeds=speeds, seed=3)
    for x, y in zip(spectrograms(again), epochs[0], strict=True):
        np.testing.assert_array_equal(x, y)  # the same seed, the same draws


def test_speeds_of_one_leave_the_pipeline_as_it_was(clips):
    paths, config = clips
    plain = spectrograms(pipeline.spectrogram_dataset(paths, config, batch_size=None))
    same = pipeline.spectrogram_dataset(paths, config, batch_size=None, speeds=(1.0,))
    for x, y in zip(plain, spectrograms(same), strict=True):
        np.testing.assert_array_equal(x, y)


def test_speed_variants_survive_the_disk_cache(clips, tmp_path):
    paths, config = clips
    speeds = (0.9, 1.1)
    memory = pipeline.spectrogram_dataset(
        paths, config, batch_size=None, speeds=speeds, cache="memory", seed=1
    )
    disk = pipeline.spectrogram_dataset(
        paths, config, batch_size=None, speeds=speeds, cache="disk", cache_dir=tmp_path, seed=1
    )
    for x, y in zip(spectrograms(memory), spectrograms(disk), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
