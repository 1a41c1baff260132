"""PESQ and STOI of one model's reconstructions through each way of turning p(x | z) into audio.

    python -m experiments.perceptual_levers RUN [RUN ...]

Each ``RUN`` is a run folder (or ``model.keras``). The test clips' latents are refined once
(`latents.refine_latents`, the default steps), and the decoder's p(x | z) becomes audio in each
of these ways, every one scored with PESQ-NB and STOI against the original clip
(`perceptual.perceptual_scores`) and with the spectral convergence and log-spectral distance of
`metrics.reconstruction_metrics`:

- the statistic of p(x | z) (`waveforms.audible_spectrogram`: ``power``, the default, or
  ``median``), then Griffin-Lim from a random phase or from PGHI, 32 or 100 iterations;
- a contrast postfilter before Griffin-Lim, as the global-variance postfilters of statistical
  speech synthesis undo over-smoothing: each clip's log-magnitudes spread ``contrast`` times
  as far from their mean over the clip (1: none);
- the model's magnitude with the ORIGINAL clip's phase (no phase retrieval at all): what the
  magnitudes alone cost, so what a perfect phase could give back.

With ``--ceiling``, the same rows for the true magnitudes (no model; once, in the first run's
STFT): the ceilings.
One JSON line per run and way; needs the ``perceptual`` extra.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from experiments import harness
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, to_magnitude, waveform_to_spectrogram
from tfp_audio_vae.data.stft import fit_length, stft, stft_magnitude, window_envelope
from tfp_audio_vae.evaluation.perceptual import perceptual_scores
from tfp_audio_vae.evaluation.scores import log_spectral_distance, spectral_convergence
from tfp_audio_vae.models.latents import refine_latents
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim, griffin_lim_from_phase
from tfp_audio_vae.synthesis.waveforms import audible

WAYS = [  # (statistic, contrast, phase, Griffin-Lim iterations)
    ("power", 1.0, "random", 32),
    ("power", 1.0, "pghi", 32),
    ("power", 1.0, "random", 100),
    ("power", 1.0, "pghi", 100),
    ("power", 1.15, "random", 32),
    ("power", 1.3, "random", 32),
    ("power", 1.5, "random", 32),
    ("median", 1.0, "random", 32),
    ("median", 1.0, "pghi", 32),
    ("power", 1.0, "true", 0),
    ("median", 1.0, "true", 0),
]
BATCH = 100  # clips per Griffin-Lim call; batch i takes seed + i
COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("statistic", "statistic", "{}"),
    ("contrast", "contrast", "{}"),
    ("phase", "phase", "{}"),
    ("iterations", "iterations", "{}"),
    ("PESQ-NB", "pesq_nb.mean", "{:.3f}"),
    ("scored", "pesq_nb.scored", "{}"),
    ("STOI", "stoi.mean", "{:.3f}"),
    ("SC", "spectral_convergence", "{:.3f}"),
    ("LSD (dB)", "log_spectral_distance_db", "{:.2f}"),
    ("ms per clip", "synthesis_ms_per_clip", "{:.1f}"),
]


def synthesise(
    magnitude: np.ndarray,
    originals: np.ndarray,
    config: SpectrogramConfig,
    phase: str,
    iterations: int,
    seed: int,
) -> np.ndarray:
    """Waveforms ``[n, num_samples]`` from STFT magnitudes ``[n, frames, bins]``: Griffin-Lim
    from ``phase`` ("random" or "pghi"), or, for "true", the inverse STFT with the phase of
    ``originals`` ``[n, num_samples]``."""
    waves = []
    for i, start in enumerate(range(0, len(magnitude), BATCH)):
        part = tf.constant(magnitude[start : start + BATCH])  # [b, frames, bins]
        if phase == "true":
            spectrum = stft(originals[start : start + BATCH], config.n_fft, config.hop_length)
            envelope = window_envelope(part.shape[1], config.n_fft, config.hop_length)
            wave = griffin_lim_from_phase(
                part,
                tf.math.angle(spectrum),
                envelope,
                config.n_fft,
                config.hop_length,
                tf.constant(0),
                tf.constant(0.0),
            )
            waves.append(fit_length(wave, config.num_samples).numpy())
        else:
            waves.append(
                griffin_lim(
                    part,
                    config.n_fft,
                    config.hop_length,
                    iterations,
                    length=config.num_samples,
                    seed=seed + i,
                    init=phase,
                ).numpy()
            )
    return np.concatenate(waves)  # [n, num_samples]


def scored(
    magnitude: np.ndarray, originals: np.ndarray, config: SpectrogramConfig, **way: Any
) -> dict[str, Any]:
    """One way's figures: PESQ-NB, STOI, spectral convergence and LSD against ``originals``;
    ``way`` is `synthesise`'s ``phase``, ``iterations`` and ``seed``."""
    tick = time.perf_counter()
    heard = synthesise(magnitude, originals, config, **way)
    seconds = time.perf_counter() - tick
    reference = stft_magnitude(originals, config.n_fft, config.hop_length)
    estimate = stft_magnitude(heard, config.n_fft, config.hop_length)
    return {
        "phase": way["phase"],
        "iterations": way["iterations"],
        "clips": len(originals),
        "synthesis_ms_per_clip": 1000.0 * seconds / len(originals),
        "spectral_convergence": float(tf.reduce_mean(spectral_convergence(reference, estimate))),
        "log_spectral_distance_db": float(
            tf.reduce_mean(log_spectral_distance(reference, estimate, floor=config.log_floor))
        ),
        **perceptual_scores(originals, heard, config.sample_rate),
    }


def ceiling(loaded: harness.Loaded, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The rows of the true magnitudes (no model) through each phase and iteration count."""
    config = loaded.model.audio_config()
    originals = fit_length(loaded.waves, config.num_samples).numpy()  # [n, num_samples]
    true = stft_magnitude(originals, config.n_fft, config.hop_length).numpy()
    for phase, iterations in [("random", 32), ("pghi", 32), ("random", 100), ("pghi", 100)]:
        row = scored(true, originals, config, phase=phase, iterations=iterations, seed=args.seed)
        yield {"run": "true magnitudes", "statistic": "-", "contrast": 1.0, **row}


def levers(loaded: harness.Loaded, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """One run's rows: each way of `WAYS`, from the same refined latents."""
    model = loaded.model
    config = model.audio_config()
    originals = fit_length(loaded.waves, config.num_samples).numpy()  # [n, num_samples]
    x = waveform_to_spectrogram(originals, config)  # [n, freq, time, 1]
    codes = refine_latents(model, x)  # [n, code_dim]
    std = np.asarray(config.std, np.float32)[:, None, None]  # [freq, 1, 1]
    for statistic in dict.fromkeys(w[0] for w in WAYS):
        spectrogram = np.concatenate(
            [
                audible(model, codes[start : start + BATCH], statistic).numpy()
                for start in range(0, len(codes), BATCH)
            ]
        )  # [n, freq, time, 1], normalised
        for _, contrast, phase, iterations in (w for w in WAYS if w[0] == statistic):
            magnitude = to_magnitude(contrasted(spectrogram, std, contrast), config).numpy()
            how = {"phase": phase, "iterations": iterations, "seed": args.seed}
            row = scored(magnitude, originals, config, **how)
            yield {"run": loaded.name, "statistic": statistic, "contrast": contrast, **row}


def contrasted(spectrogram: np.ndarray, std: np.ndarray, contrast: float) -> np.ndarray:
    """Normalised spectrograms ``[n, freq, time, 1]`` whose log-magnitudes lie ``contrast``
    times as far from each clip's mean log-magnitude; ``std`` ``[freq, 1, 1]`` the per-bin
    normalisation (log units per normalised unit)."""
    deviation = spectrogram * std  # log units from the data's mean, per bin
    centre = deviation.mean(axis=(1, 2), keepdims=True)  # [n, 1, 1, 1]
    return (centre + contrast * (deviation - centre)) / std


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "perceptual_levers.jsonl", runs=True)
    parser.add_argument(
        "--ceiling", action="store_true", help="also the rows of the true magnitudes"
    )
    args = parser.parse_args(argv)

    with_ceiling = args.ceiling

    def measure(loaded: harness.Loaded) -> Iterator[dict[str, Any]]:
        nonlocal with_ceiling
        if with_ceiling:  # once, in the first run's STFT
            with_ceiling = False
            yield from ceiling(loaded, args)
        yield from levers(loaded, args)

    return harness.each_run(args, measure, COLUMNS, {"seed": args.seed})


if __name__ == "__main__":
    sys.exit(main())
