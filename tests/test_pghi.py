"""Phase-gradient heap integration: known signals, a NumPy heap to check against, FSDD quality."""

from __future__ import annotations

import heapq
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from tests.helpers import BAD_STFT_ARGUMENTS
from tfp_audio_vae.data.stft import inverse_stft, stft, stft_magnitude, window_envelope
from tfp_audio_vae.evaluation.scores import spectral_convergence
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim
from tfp_audio_vae.synthesis.pghi import HANN_GAMMA, pghi_graph, pghi_phase

N_FFT, HOP, SAMPLES, RATE = 256, 64, 8192, 8000
FRAMES, BINS = SAMPLES // HOP, N_FFT // 2 + 1


def _wrapped(angle: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * angle))


def _reconstruct(magnitude: tf.Tensor, phase: tf.Tensor) -> tf.Tensor:
    """The least-squares inverse STFT of ``magnitude * exp(1j * phase)``, ``[batch, samples]``."""
    spectrum = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
    return inverse_stft(spectrum, window_envelope(magnitude.shape[1], N_FFT, HOP), N_FFT, HOP)


@pytest.fixture(scope="module")
def fsdd_clips(fsdd_root: Path) -> np.ndarray:
    """12 test-split clips (index 0-4) spread over digits and speakers, padded/trimmed to 8192."""
    test_files = sorted(
        path
        for path in (fsdd_root / "recordings").glob("*.wav")
        if int(re.fullmatch(r"\d_[a-z]+_(\d+)", path.stem).group(1)) < 5
    )
    clips = []
    for path in test_files[::25][:12]:
        wave, rate = sf.read(path, dtype="float32")
        assert rate == RATE
        clips.append(np.pad(wave[:SAMPLES], (0, max(0, SAMPLES - len(wave)))))
    return np.stack(clips)  # [12, 8192]


# --------------------------------------------------------------------------- a NumPy reference


def _reference_pghi(
    magnitude: np.ndarray, tolerance: float, random: np.ndarray, gamma: float
) -> np.ndarray:
    """Real-time PGHI with a binary heap, coefficient by coefficient, as in the papers.

    ``magnitude`` ``[frames, bins]``; ``random`` ``[frames, bins]`` phases for coefficients below
    tolerance and for the coefficient each new integration starts from. Returns the phase.
    """
    frames, bins = magnitude.shape
    log_magnitude = np.log(np.maximum(magnitude, 1e-12 * magnitude.max() + 1e-30))
    mirrored = np.pad(log_magnitude, [(0, 0), (1, 1)], mode="reflect")
    edged = np.pad(log_magnitude, [(1, 1), (0, 0)], mode="edge")
    d_bin = (mirrored[:, 2:] - mirrored[:, :-2]) / 2  # per bin
    d_frame = (edged[2:] - edged[:-2]) / 2  # per frame
    # instantaneous frequency, rad per frame; group delay, rad per bin
    frequency = HOP * (2 * np.pi * np.arange(bins) / N_FFT + N_FFT / gamma * d_bin)
    group_delay = np.pi - gamma / (HOP * N_FFT) * d_frame
    kept = magnitude > tolerance * magnitude.max()
    phase = np.where(kept, 0.0, random)
    for n in range(frames):
        done = ~kept[n].copy()
        heap = [(-magnitude[n - 1, k], -1, k) for k in range(bins) if kept[n - 1, k]] if n else []
        heapq.heapify(heap)
        while not done.all():
            if not heap:  # start afresh at the largest coefficient left
                k = int(np.argmax(np.where(done, -1.0, magnitude[n])))
                phase[n, k], done[k] = random[n, k], True
                heap.append((-magnitude[n, k], 0, k))
            _, which, k = heapq.heappop(heap)
            if which == -1:  # a bin of the previous frame: integrate in time
                if not done[k]:
                    step = (frequency[n - 1, k] + frequency[n, k]) / 2
                    phase[n, k], done[k] = phase[n - 1, k] + step, True
                    heapq.heappush(heap, (-magnitude[n, k], 0, k))
                continue
            for j in (k - 1, k + 1):  # a bin of this frame: integrate in frequency
                if 0 <= j < bins and not done[j]:
                    step = (group_delay[n, j] + group_delay[n, k]) / 2
                    phase[n, j], done[j] = phase[n, k] + (step if j > k else -step), True
                    heapq.heappush(heap, (-magnitude[n, j], 0, j))
    return phase


def test_pghi_matches_a_heap_coefficient_by_coefficient(fsdd_clips):
    magnitude = stft_magnitude(np.concatenate([fsdd_clips[:3], _chirp_and_tone()[np.newaxis]]))
    phase = pghi_phase(magnitude, N_FFT, HOP, seed=3).numpy()  # [4, frames, bins]
    random = tf.random.stateless_uniform([FRAMES, BINS], seed=[3, 1], maxval=2 * np.pi).numpy()
    for clip, clip_phase in zip(magnitude.numpy(), phase, strict=True):
        expected = _reference_pghi(clip, 1e-5, random, HANN_GAMMA * N_FFT**2)
        # float32 sums over 128 frames drift by ~1e-3 rad from the float64 heap's
        agree = np.abs(_wrapped(clip_phase - expected)) < 2e-2
        # A near-tie that float32 logs order differently from float64 magnitudes would hand a
        # few coefficients another path; none did on these clips.
        assert agree.mean() > 0.999, agree.mean()


# --------------------------------------------------------------------------- known signals


def _chirp_and_tone() -> np.ndarray:
    """A linear chirp from 500 to 3000 Hz and a 1234.5 Hz tone, ``[8192]``."""
    t = np.arange(SAMPLES) / RATE
    chirp = np.sin(2 * np.pi * (500 * t + 0.5 * (2500 / t[-1]) * t**2))
    return (0.4 * chirp + 0.3 * np.sin(2 * np.pi * 1234.5 * t)).astype(np.float32)


@pytest.mark.parametrize("frequency", [1000.0, 1234.5, 2960.2])
def test_stationary_tone_advances_by_its_frequency_every_hop(frequency):
    wave = np.sin(2 * np.pi * frequency / RATE * np.arange(SAMPLES)).astype(np.float32)
    magnitude = stft_magnitude(wave[np.newaxis])
    phase = pghi_phase(magnitude).numpy()[0]  # [frames, bins]
    peak = round(frequency / RATE * N_FFT)
    # (the last two frames run past the end of the tone, into the STFT's zero padding)
    advance = _wrapped(np.diff(phase[2:-4, peak]))  # [frames - 7]
    expected = _wrapped(2 * np.pi * frequency / RATE * HOP)
    # The Gaussian's instantaneous frequency on a Hann window's main lobe is off by < 0.02 bins.
    np.testing.assert_allclose(_wrapped(advance - expected), 0.0, atol=0.03)
    # Across each frame's main lobe the phase is the true one up to a constant (the small
    # frequency error above makes that constant drift from frame to frame).
    true = np.angle(stft(wave[np.newaxis]).numpy()[0])
    lobe = _wrapped(phase - true)[2:-4, peak - 1 : peak + 2]  # [frames - 6, 3]
    np.testing.assert_allclose(_wrapped(lobe - lobe[:, 1:2]), 0.0, atol=0.05)


def test_chirp_and_tone_come_back_close_to_their_magnitude():
    magnitude = stft_magnitude(_chirp_and_tone()[np.newaxis])
    pghi = spectral_convergence(
        magnitude, stft_magnitude(_reconstruct(magnitude, pghi_phase(magnitude)))
    )
    zero = spectral_convergence(magnitude, stft_magnitude(_reconstruct(magnitude, 0 * magnitude)))
    assert pghi[0] < 0.1 and zero[0] > 0.5, (pghi, zero)


# --------------------------------------------------------------------------- properties


def test_batch_single_and_graph_agree(fsdd_clips):
    magnitude = stft_magnitude(fsdd_clips[:4])
    batch = pghi_phase(magnitude, seed=5).numpy()
    for i in range(4):
        np.testing.assert_allclose(
            _wrapped(pghi_phase(magnitude[i], seed=5).numpy() - batch[i]), 0.0, atol=1e-4
        )
    graph = tf.function(lambda m: pghi_graph(m, N_FFT, HOP, 1e-5, HANN_GAMMA * N_FFT**2, 5))
    np.testing.assert_allclose(_wrapped(graph(magnitude).numpy() - batch), 0.0, atol=1e-4)
    assert batch.shape == (4, FRAMES, BINS) and batch.min() >= 0 and batch.max() < 2 * np.pi


def test_griffin_lim_from_pghi_exports_to_a_saved_model(tmp_path, fsdd_clips):
    class Vocoder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, FRAMES, BINS], tf.float32)])
        def __call__(self, magnitude: tf.Tensor) -> tf.Tensor:
            return griffin_lim(magnitude, N_FFT, HOP, n_iter=2, init="pghi")

    tf.saved_model.save(Vocoder(), str(tmp_path))
    magnitude = stft_magnitude(fsdd_clips[:2])
    np.testing.assert_allclose(
        tf.saved_model.load(str(tmp_path))(magnitude),
        griffin_lim(magnitude, N_FFT, HOP, n_iter=2, init="pghi"),
        atol=1e-5,
    )


def test_seed_moves_only_the_phase_of_coefficients_that_start_afresh_or_are_left_out(fsdd_clips):
    magnitude = stft_magnitude(fsdd_clips[:2])
    first, second = pghi_phase(magnitude, seed=0).numpy(), pghi_phase(magnitude, seed=1).numpy()
    moved = np.abs(_wrapped(first - second)) > 1e-3
    assert 0 < moved.mean() < 1
    # Silence is left out: its phase is the random field's.
    silence = pghi_phase(tf.zeros([1, 8, BINS]), seed=2).numpy()
    expected = tf.random.stateless_uniform([8, BINS], seed=[2, 1], maxval=2 * np.pi)
    np.testing.assert_allclose(silence[0], expected, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance": 0.0}, "tolerance"),
        ({"tolerance": 1.0}, "tolerance"),
        ({"gamma": 0.0}, "gamma"),
        *BAD_STFT_ARGUMENTS,
    ],
)
def test_pghi_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pghi_phase(tf.ones([2, 16, BINS]), **kwargs)


def test_pghi_rejects_bad_magnitudes():
    with pytest.raises(ValueError, match="got shape"):
        pghi_phase(tf.ones([BINS]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
        pghi_phase(-tf.ones([16, BINS]))


def test_griffin_lim_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="init"):
        griffin_lim(tf.ones([2, 16, BINS]), init="zeros")


# --------------------------------------------------------------------------- quality on FSDD


def test_pghi_alone_beats_random_phase_by_far_on_fsdd(fsdd_clips):
    magnitude = stft_magnitude(fsdd_clips)  # [12, 128, 129]
    pghi = griffin_lim(magnitude, N_FFT, HOP, n_iter=0, length=SAMPLES, init="pghi")
    random = griffin_lim(magnitude, N_FFT, HOP, n_iter=0, length=SAMPLES)
    pghi_sc = float(tf.reduce_mean(spectral_convergence(magnitude, stft_magnitude(pghi))))
    random_sc = float(tf.reduce_mean(spectral_convergence(magnitude, stft_magnitude(random))))
    # 0.095 and 0.63 over the 300 test clips (docs/data/pghi.jsonl)
    assert pghi_sc < 0.12 and random_sc > 0.5, (pghi_sc, random_sc)


def test_pghi_then_32_iterations_beats_32_from_random_phase_on_fsdd(fsdd_clips):
    magnitude = stft_magnitude(fsdd_clips)  # [12, 128, 129]
    results = {}
    for init in ("random", "pghi"):
        wave = griffin_lim(magnitude, N_FFT, HOP, n_iter=32, length=SAMPLES, init=init)
        results[init] = float(tf.reduce_mean(spectral_convergence(magnitude, stft_magnitude(wave))))
    # 0.029 and 0.068 over the 300 test clips (docs/data/pghi.jsonl)
    assert results["pghi"] < 0.035 and results["pghi"] < 0.55 * results["random"], results


def test_pghi_phase_docstring_example_prints_what_it_says():
    from tests.test_docstring_examples import test_docstring_examples_run_and_print_what_they_say

    test_docstring_examples_run_and_print_what_they_say(pghi_phase)
