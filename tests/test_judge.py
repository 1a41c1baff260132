"""The judge: its log-mel front end, augmentation, training, caching and safe loading."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from tfp_audio_vae import pretrained
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.audio_files import resample
from tfp_audio_vae.data.folders import FolderRecord
from tfp_audio_vae.data.pipeline import load_waveforms
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation.judge import (
    JUDGE_VERSION,
    Judge,
    LogMel,
    WaveAugment,
    build_judge,
    fingerprint,
    get_judge,
    judge_epochs,
    judge_path,
    load_judge,
    save_judge,
    train_judge,
)
from tfp_audio_vae.evaluation.judge import __main__ as judge_command
from tfp_audio_vae.evaluation.judge import cache as judge_cache


@pytest.fixture(scope="module")
def small_train(fsdd_root):
    """40 real training clips, 4 of every digit: ``[40, 8192]`` waveforms and their digits."""
    train = fsdd.records(fsdd_root, "train")
    records = [r for d in range(10) for r in [r for r in train if r.digit == d][::70]]
    return load_waveforms(records, SpectrogramConfig())


@pytest.fixture(scope="module")
def trained(small_train):
    waves, digits = small_train
    return train_judge(waves, digits, epochs=2, validation=(waves[:8], digits[:8]), verbose=0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(fsdd.CACHE_ENV_VAR, str(tmp_path))
    return tmp_path


def test_log_mel_has_64_bands_of_64_frames_and_stays_finite_on_silence():
    waves = np.zeros([2, 8192], np.float32)
    waves[1] = np.sin(2 * np.pi * 1000 * np.arange(8192) / 8000)  # a 1 kHz tone
    log_mel = LogMel()(waves).numpy()
    assert log_mel.shape == (2, 64, 64, 1)
    assert np.all(np.isfinite(log_mel))
    assert np.allclose(log_mel[0], np.log(1e-6))  # silence sits at log(epsilon)
    loudest_band = np.argmax(log_mel[1, 32, :, 0])
    assert 0 < loudest_band < 63  # a mid-band tone peaks inside the filterbank


def test_augmentation_is_the_identity_at_inference_and_only_shifts_without_gain_or_noise():
    impulse = np.zeros([8, 1000], np.float32)
    impulse[:, 500] = 1.0
    layer = WaveAugment(max_gain_db=0.0, max_shift=40, max_noise=0.0, seed=1)
    np.testing.assert_array_equal(layer(impulse, training=False).numpy(), impulse)
    shifted = layer(impulse, training=True).numpy()
    assert shifted.shape == impulse.shape
    np.testing.assert_allclose(shifted.sum(axis=1), 1.0)  # the impulse moves, intact
    assert np.all(np.abs(np.argmax(shifted, axis=1) - 500) <= 40)
    noisy = WaveAugment(seed=2)(impulse, training=True).numpy()
    assert np.std(noisy[:, :400]) > 0  # noise everywhere, gain on the impulse
    assert np.all(np.max(noisy, axis=1) > 0.4)


def test_judge_trains_briefly_on_real_clips_and_gives_probabilities_and_features(
    trained, small_train
):
    waves, digits = small_train
    judge = Judge(trained)
    probs = judge.predict_proba(waves)
    assert probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert judge.features(waves).shape == (40, 128)
    assert 0.0 <= judge.accuracy(waves, digits) <= 1.0
    assert judge.predict(waves).shape == (40,)


def test_judge_trims_or_pads_other_lengths():
    judge = Judge(build_judge(num_samples=2048))
    assert judge.num_samples == 2048
    assert judge.predict_proba(np.zeros([3, 1000], np.float32)).shape == (3, 10)
    assert judge.features(np.zeros([3, 5000], np.float32)).shape == (3, 128)
    with pytest.raises(ValueError, match=r"\[n, samples\]"):
        judge.predict_proba(np.zeros(2048, np.float32))


def test_training_refuses_bad_labels():
    with pytest.raises(ValueError, match="0-9"):
        train_judge(np.zeros([4, 2048], np.float32), np.array([0, 1, 2, 10]), epochs=1)
    with pytest.raises(ValueError, match="labels"):
        train_judge(np.zeros([4, 2048], np.float32), np.array([0, 1]), epochs=1)


def test_saved_judge_loads_in_safe_mode_with_the_same_predictions(trained, small_train, tmp_path):
    waves, _ = small_train
    path = save_judge(trained, tmp_path / "judge.keras")
    loaded = load_judge(path)
    np.testing.assert_allclose(
        loaded.predict_proba(waves[:8]), Judge(trained).predict_proba(waves[:8]), atol=1e-5
    )
    with pytest.raises(ValueError, match=r"\.keras"):
        save_judge(trained, tmp_path / "judge.h5")
    with pytest.raises(FileNotFoundError):
        load_judge(tmp_path / "missing.keras")


def test_judge_path_is_versioned_under_the_cache(cache):
    assert judge_path() == cache / "judge" / f"digit-judge-{JUDGE_VERSION}.keras"
    assert judge_path(cache / "elsewhere").parent == cache / "elsewhere" / "judge"


def test_get_judge_loads_the_cached_judge_and_refuses_to_train_when_told(cache, monkeypatch):
    with pytest.raises(FileNotFoundError, match="python -m tfp_audio_vae.evaluation.judge"):
        get_judge(train_if_missing=False)
    model = build_judge(num_samples=2048)
    save_judge(model, judge_path())

    def no_training(*args, **kwargs):
        raise AssertionError("a cached judge must not be retrained")

    monkeypatch.setattr(judge_cache, "train_judge", no_training)
    judge = get_judge(train_if_missing=False)
    x = tf.random.stateless_normal([2, 2048], seed=[0, 1]).numpy()
    np.testing.assert_allclose(judge.predict_proba(x), Judge(model).predict_proba(x), atol=1e-6)


def test_command_line_trains_caches_and_reports_accuracy(fsdd_root, cache, capsys, monkeypatch):
    """The command on a 1-in-30 subset of FSDD for 1 epoch: what it caches is what it trained,
    it loads in safe mode, and the accuracy it prints is that judge's on the test clips."""
    all_records = fsdd.records

    def subset(root, split):
        return all_records(root, split)[::30]

    monkeypatch.setattr(fsdd, "records", subset)  # the module main() reads FSDD through
    trained = []

    def keep(*args, **kwargs):
        trained.append(train_judge(*args, **kwargs))
        return trained[-1]

    monkeypatch.setattr(judge_command, "train_judge", keep)
    judge_command.main(["--fsdd", str(fsdd_root), "--epochs", "1"])
    assert len(trained) == 1

    cached = load_judge(judge_path())  # safe mode
    test_waves, test_digits = load_waveforms(subset(fsdd_root, "test"), SpectrogramConfig())
    np.testing.assert_allclose(
        cached.predict_proba(test_waves), Judge(trained[0]).predict_proba(test_waves), atol=1e-5
    )
    out = capsys.readouterr().out
    reported = re.search(r"test accuracy ([\d.]+)% on (\d+) clips; trained 1 epochs on (\d+)", out)
    assert reported, out
    accuracy = cached.accuracy(test_waves, test_digits)
    assert float(reported[1]) == pytest.approx(100 * accuracy, abs=0.005)
    assert int(reported[2]) == len(test_digits)
    assert int(reported[3]) == len(subset(fsdd_root, "train"))
    assert str(judge_path()) in out


def test_another_data_sets_judge_is_trained_on_its_records_and_cached_by_fingerprint(
    fsdd_root, cache, monkeypatch
):
    """A three-class data set (FSDD clips of 1, 5 and 8 as labels 0-2) gets its own judge, with
    three outputs, cached under its file list's fingerprint beside FSDD's path."""
    clips = sorted((fsdd_root / "recordings").glob("[158]_theo_1*.wav"))
    records = [FolderRecord(path, "158".index(path.name[0])) for path in clips]
    judge = get_judge(records=records, epochs=1)
    assert judge.num_classes == 3 and judge.predict_proba(np.zeros([2, 8192])).shape == (2, 3)
    path = judge_path(fingerprint=fingerprint(records))
    assert path.is_file() and path != judge_path() and not judge_path().exists()
    assert fingerprint(records[::-1]) == fingerprint(records)
    assert fingerprint(records[1:]) != fingerprint(records)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached judge must not be retrained")

    monkeypatch.setattr(judge_cache, "train_judge", no_training)
    assert get_judge(records=records, train_if_missing=False).num_classes == 3
    with pytest.raises(FileNotFoundError, match="no judge of these records cached at .*=True"):
        get_judge(records=records[1:], train_if_missing=False)


def test_a_judge_hearing_16_khz_clips_hears_what_it_hears_at_8_khz(small_train):
    """The shipped FSDD judge given the same clips at 16 kHz: resampled to its own 8 kHz, they
    are heard as the 8 kHz originals are."""
    judge = load_judge(pretrained.folder("fsdd") / "judge.keras")
    waves = small_train[0][::4]  # [10, 8192] at 8 kHz, one clip of each digit
    wide = resample(waves.T, 8000, 16_000).T  # [10, 16384]
    heard = judge.hearing(16_000)
    assert heard.sample_rate == 16_000 and judge.sample_rate == 8000  # a copy
    np.testing.assert_allclose(heard.predict_proba(wide), judge.predict_proba(waves), atol=0.02)
    assert (heard.predict(wide) == judge.predict(waves)).all()
    assert (
        np.abs(heard.features(wide) - judge.features(waves)).max()
        < 0.05 * np.abs(judge.features(waves)).max()
    )


def test_a_smaller_data_set_trains_its_judge_for_more_epochs_up_to_a_cap():
    assert judge_epochs(2700) == 20  # FSDD's: as it always was
    assert judge_epochs(30_000) == 20  # never fewer
    assert judge_epochs(870) == 62  # the espeak-ng digits: 20 epochs knew 40 of 90 test clips
    assert judge_epochs(18) == judge_epochs(1) == 100
