"""Long files come back whole: overlapping windows, each reconstructed, cross-faded back together
(`synthesis.long_audio`), through `generation.reconstruct_files` and the `reconstruct` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import TINY_CONFIG
from tfp_audio_vae.models.latents import refine_latents
from tfp_audio_vae.models.saving import load_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis import generation
from tfp_audio_vae.synthesis.long_audio import (
    overlap_add,
    reconstruct_long,
    split_windows,
    window_count,
)
from tfp_audio_vae.synthesis.waveforms import decode_waveforms

RATE = 8000  # Hz
WINDOW, HOP = 2048, 1024  # samples: the tiny model's window, and half of it


def identity(windows: np.ndarray) -> np.ndarray:
    return windows


def speech(fsdd_root: Path, samples: int) -> np.ndarray:
    """FSDD digits of three speakers one after the other, cut to ``samples`` ``[samples]``."""
    recordings = fsdd_root / "recordings"
    clips = [
        sf.read(recordings / f"{digit}_{speaker}_0.wav", dtype="float32")[0]
        for speaker in ("theo", "jackson", "nicolas")
        for digit in range(10)
    ]
    wave = np.concatenate(clips)
    assert len(wave) >= samples
    return wave[:samples]


@pytest.mark.parametrize("length", [700, WINDOW, 4 * WINDOW + 333])
def test_any_length_comes_back_at_its_length_and_identity_windows_give_the_input(length):
    wave = np.random.default_rng(length).uniform(-1, 1, length).astype(np.float32)
    windows = split_windows(wave, WINDOW, HOP)
    assert windows.shape == (window_count(length, WINDOW, HOP), WINDOW)
    assert len(windows) == {700: 1, WINDOW: 1, 4 * WINDOW + 333: 8}[length]
    (out,) = reconstruct_long([wave], identity, WINDOW, HOP)
    assert out.shape == (length,) and out.dtype == np.float32
    np.testing.assert_allclose(out, wave, atol=1e-6)


def test_a_steady_tone_crosses_the_seams_without_clicks():
    """A 440 Hz tone, 5 s: through identity windows it comes back exactly; through windows that
    each come back with a phase of their own (as Griffin-Lim's do), the cross-fade keeps every
    sample-to-sample step within the tone's own, where plain concatenation clicks at the seams."""
    t = np.arange(5 * RATE) / RATE  # seconds
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    own_step = 0.5 * 2 * np.sin(np.pi * 440 / RATE)  # the tone's largest sample-to-sample step

    def own_phases(windows: np.ndarray) -> np.ndarray:
        k = np.arange(len(windows))[:, np.newaxis]  # a phase per window, 2 rad apart
        n = np.arange(windows.shape[1])
        return 0.5 * np.sin(2 * np.pi * 440 * n / RATE + 2.0 * k).astype(np.float32)

    (same,) = reconstruct_long([tone], identity, WINDOW, HOP)
    np.testing.assert_allclose(same, tone, atol=1e-6)
    (faded,) = reconstruct_long([tone], own_phases, WINDOW, HOP)
    (joined,) = reconstruct_long([tone], own_phases, WINDOW, hop=WINDOW)  # no overlap
    assert len(faded) == len(joined) == len(tone)
    assert np.abs(np.diff(faded)).max() < 1.05 * own_step
    assert np.abs(np.diff(joined)).max() > 3 * own_step


def test_bad_windows_and_reconstructions_are_refused():
    with pytest.raises(ValueError, match="hop must be 1 to 2048"):
        split_windows(np.zeros(5000, np.float32), WINDOW, 0)
    with pytest.raises(ValueError, match="cannot cover 8192 samples"):
        overlap_add(np.zeros((2, WINDOW), np.float32), 4 * WINDOW, HOP)
    with pytest.raises(ValueError, match="reconstruct gave"):
        reconstruct_long([np.zeros(5000, np.float32)], lambda w: w[:1], WINDOW)
    assert reconstruct_long([], identity, WINDOW) == []


def test_short_files_come_back_as_before_whatever_files_beside_them(tmp_path, fsdd_root):
    """A file no longer than the window gives the clip it gave before long files came back
    whole, bit for bit, alone or after a long file (same batch row, same Griffin-Lim seed)."""
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    sf.write(short, speech(fsdd_root, 1500), RATE, "PCM_16")
    sf.write(long, speech(fsdd_root, 5 * WINDOW + 77), RATE, "PCM_16")

    def before(files: list[Path]) -> np.ndarray:  # reconstruct_files as it was: [n, window]
        spectrograms, _, _ = generation.encode_files(model, files)
        return decode_waveforms(model, refine_latents(model, spectrograms, 2), n_iter=2, seed=3)

    settings = {"n_iter": 2, "refine_steps": 2, "seed": 3}
    (alone,) = generation.reconstruct_files(model, [short], **settings)
    whole, beside = generation.reconstruct_files(model, [long, short], **settings)
    np.testing.assert_array_equal(alone, before([short])[0])
    np.testing.assert_array_equal(beside, before([long, short])[1])
    assert alone.shape == (WINDOW,) and whole.shape == (5 * WINDOW + 77,)


@pytest.fixture(scope="module")
def fsdd_model():
    return load_model("pretrained:fsdd")


def test_speech_comes_back_whole_with_sound_in_every_window(tmp_path, fsdd_root, fsdd_model):
    """3.5 s of FSDD digits through the pretrained model (8192-sample windows): its length back,
    and sound in every half-window region."""
    path = tmp_path / "digits.wav"
    sf.write(path, speech(fsdd_root, 28_003), RATE, "PCM_16")
    (out,) = generation.reconstruct_files(fsdd_model, [path], n_iter=8, refine_steps=10)
    assert out.shape == (28_003,) and np.all(np.isfinite(out))
    regions = [out[s : s + 4096] for s in range(0, len(out), 4096)]  # 7 half windows
    rms = [float(np.sqrt(np.mean(r**2))) for r in regions]
    assert min(rms) > 0.1 * float(np.sqrt(np.mean(out**2))), rms


@pytest.mark.slow
def test_the_reconstruct_command_writes_a_long_file_at_its_length(tmp_path, fsdd_root):
    """``tfp-audio-vae reconstruct fsdd FILE`` on 3.5 s of speech writes 3.5 s, not 1.024 s."""
    mine = tmp_path / "long digits.wav"
    sf.write(mine, speech(fsdd_root, 28_003), RATE, "PCM_16")
    command = [
        sys.executable, "-m", "tfp_audio_vae.cli", "reconstruct", "fsdd", str(mine),
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote 1 WAV file" in result.stdout
    written = sf.info(tmp_path / "out" / "long digits_reconstruction.wav")
    assert written.samplerate == RATE and written.frames == 28_003
    assert written.duration == sf.info(mine).duration
