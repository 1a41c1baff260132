"""PESQ and STOI (the ``perceptual`` extra): scores, exclusions, resampling, and evaluate's option.

Tests that score audio skip without the extra (CI's ``dev`` set does not install it: pesq builds
from source); the ImportError message and evaluate without the option need no extra.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soxr

from tests.helpers import TINY_CONFIG
from tfp_audio_vae import cli
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.pipeline import load_waveforms
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation import metrics, perceptual
from tfp_audio_vae.evaluation.judge import Judge, build_judge
from tfp_audio_vae.models.variants import build_vae

RATE = 8000  # Hz, FSDD's


@pytest.fixture(scope="module")
def speech(fsdd_root):
    """Three test clips of one speaker at 8 kHz, zero-padded to 8192 samples: ``[3, 8192]``."""
    records = [r for r in fsdd.records(fsdd_root, "test") if r.speaker == "george"][:3]
    return load_waveforms(records, SpectrogramConfig())[0]


@pytest.fixture(scope="module")
def long_speech(speech):
    """The three clips one after another, ``[1, 24576]``: enough speech for STOI."""
    return speech.reshape(1, -1)


def noisy(waves, scale, seed=0):
    """``waves`` plus white noise of standard deviation ``scale``."""
    return waves + scale * np.random.default_rng(seed).standard_normal(waves.shape)


def test_pesq_and_stoi_of_a_clip_against_itself_are_the_maxima_and_fall_with_noise(long_speech):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    scores = [
        perceptual.perceptual_scores(long_speech, noisy(long_speech, scale), RATE)
        for scale in (0.0, 0.003, 0.03)
    ]
    pesq_nb = [s["pesq_nb"]["mean"] for s in scores]
    stoi = [s["stoi"]["mean"] for s in scores]
    assert pesq_nb[0] == pytest.approx(4.549, abs=1e-3)  # P.862.1's MOS-LQO of a perfect clip
    assert stoi[0] == pytest.approx(1.0, abs=1e-6)
    assert pesq_nb[0] > pesq_nb[1] > pesq_nb[2]
    assert stoi[0] > stoi[1] > stoi[2]
    assert all(s["pesq_nb"]["scored"] == 1 and s["stoi"]["scored"] == 1 for s in scores)
    assert "pesq_wb" not in scores[0]  # 8 kHz: narrow band only
    assert scores[0]["pesq_nb"]["sample_rate"] == RATE


def test_too_short_and_silent_clips_are_excluded_and_counted_never_averaged(speech, long_speech):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    samples = long_speech.shape[1]
    short = np.zeros(samples)
    short[:800] = long_speech[0, :800]  # 0.1 s of sound: too little for STOI
    silent = np.zeros(samples)
    reference = np.stack([long_speech[0], short, silent, long_speech[0]])
    degraded = np.stack([long_speech[0], short, silent, silent])
    scores = perceptual.perceptual_scores(reference, degraded, RATE)
    assert scores["stoi"]["excluded"] == {"too_short": 1, "silent": 1}
    assert scores["stoi"]["scored"] == 2  # the whole clip, and its silenced copy
    assert scores["stoi"]["mean"] == pytest.approx(0.5, abs=1e-6)  # (1 + 0) / 2: no 1e-5 in it
    assert scores["pesq_nb"]["excluded"] == {
        "too_short": 0,
        "no_utterances": 2,  # the short clip and the silent one
        "silent_degraded": 1,
    }
    assert scores["pesq_nb"]["scored"] == 1
    assert scores["pesq_nb"]["mean"] == pytest.approx(4.549, abs=1e-3)

    # under 1/4 s, PESQ refuses the buffer; with nothing scored the mean is None
    quarter = perceptual.perceptual_scores(speech[:, :1500], speech[:, :1500], RATE)
    assert quarter["pesq_nb"]["excluded"]["too_short"] == 3
    assert quarter["pesq_nb"]["mean"] is None and quarter["stoi"]["mean"] is None


def test_pesq_resamples_to_the_rates_it_accepts_and_adds_wide_band_from_16_khz(long_speech):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    wide = soxr.resample(long_speech[0], RATE, 16000)[np.newaxis]  # [1, samples at 16 kHz]
    scores = perceptual.perceptual_scores(wide, wide, 16000)
    assert scores["pesq_wb"]["mean"] == pytest.approx(4.644, abs=1e-3)  # P.862.2's maximum
    assert scores["pesq_wb"]["sample_rate"] == scores["pesq_nb"]["sample_rate"] == 16000
    odd = soxr.resample(long_speech[0], RATE, 11025)[np.newaxis]
    scores = perceptual.perceptual_scores(odd, odd, 11025)
    assert scores["pesq_nb"]["sample_rate"] == RATE and "pesq_wb" not in scores
    assert scores["pesq_nb"]["mean"] == pytest.approx(4.549, abs=1e-3)


def test_the_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pesq", None)  # import pesq now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'tfp-audio-vae\[perceptual\]'"):
        perceptual.require()
    with pytest.raises(ImportError, match="pesq is missing"):
        perceptual.perceptual_scores(np.zeros((1, 8000)), np.zeros((1, 8000)), RATE)


def test_arrays_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        perceptual.perceptual_scores(np.zeros((2, 8000)), np.zeros((2, 7999)), RATE)
    with pytest.raises(ValueError, match="one shape"):
        perceptual.perceptual_scores(np.zeros(8000), np.zeros(8000), RATE)


def test_griffin_lim_from_true_magnitudes_scores_near_the_top(speech):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    ceiling = metrics.perceptual_ceiling(speech, SpectrogramConfig(), n_iter=16)
    assert ceiling["n_iter"] == 16
    assert ceiling["pesq_nb"]["scored"] == 3
    assert 3.0 < ceiling["pesq_nb"]["mean"] < 4.549


@pytest.fixture(scope="module")
def tiny_evaluation(speech):
    """A tiny untrained model, a judge, six clips ``[6, 2048]`` with labels, and cheap settings."""
    waves = np.concatenate([speech, speech])[:, : TINY_CONFIG.num_samples]
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    judge = Judge(build_judge(num_samples=TINY_CONFIG.num_samples, seed=0))
    options = {"k": 1, "n_samples": 2, "n_iter": 1, "batch_size": 3}
    return model, waves, np.arange(6), judge, options


def test_evaluate_without_the_option_has_no_perceptual_figures(tiny_evaluation, monkeypatch):
    model, waves, labels, judge, options = tiny_evaluation
    result = metrics.evaluate(model, waves, labels, judge, **options)
    assert "perceptual_ceiling" not in result
    assert not {"pesq_nb", "pesq_wb", "stoi"} & set(result["reconstruction"])

    monkeypatch.setitem(sys.modules, "pystoi", None)
    with pytest.raises(ImportError, match=r"\[perceptual\]"):  # before any figure is made
        metrics.evaluate(model, waves, labels, judge, perceptual=True, **options)


def test_evaluate_with_the_option_scores_reconstructions_and_the_ceiling(tiny_evaluation):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    model, waves, labels, judge, options = tiny_evaluation
    result = metrics.evaluate(model, waves, labels, judge, perceptual=True, **options)
    for scores in (result["reconstruction"], result["perceptual_ceiling"]):
        for name, reasons in (("pesq_nb", 3), ("stoi", 2)):
            assert scores[name]["scored"] + sum(scores[name]["excluded"].values()) == 6
            assert len(scores[name]["excluded"]) == reasons
        assert "pesq_wb" not in scores
    assert result["perceptual_ceiling"]["n_iter"] == 1
    assert result["perceptual_ceiling"]["stoi"]["excluded"]["too_short"] == 6  # 0.256 s clips


def test_the_evaluate_command_names_the_extra_before_loading_anything(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pesq", None)
    assert cli.main(["evaluate", "no-such-model.keras", "--perceptual"]) == 2
    assert "pip install 'tfp-audio-vae[perceptual]'" in capsys.readouterr().err
