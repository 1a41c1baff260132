"""What "recognised by the judge" means: its verdicts on real test clips degraded in known ways.

    python -m experiments.judge_degradations [--fsdd PATH] [--limit N]

The digit judge is trained on real clips; VAE output lies outside that distribution, so the judge
could be lenient (it still hears blurred audio) or brittle (it fails on audio a person follows).
This measures it on the FSDD test clips, each condition through the same audio path as a model's
output where it applies (log-magnitude -> exp -> fast Griffin-Lim):

- real clips, and real clips 10 dB quieter;
- Griffin-Lim from the true (floored, 128-bin) magnitudes: the best a perfect model can sound;
- Gaussian smoothing of the log-magnitude along time (sigma 1, 2, 4 frames = 8, 16, 32 ms) and
  along frequency (sigma 1, 2, 4 bins = 31, 62, 125 Hz), then Griffin-Lim: controlled blur, the
  kind a VAE's decoder mean shows.

Appends one JSON line (accuracy, Inception Score, mean confidence of the verdict, median level
in dB relative to the real clips, per condition) and prints a Markdown table.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.ndimage import gaussian_filter1d

from experiments import harness
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, log_magnitude
from tfp_audio_vae.evaluation.scores import inception_score, level_difference_db
from tfp_audio_vae.synthesis.waveforms import spectrogram_to_waveform

WIDTHS = (1.0, 2.0, 4.0)
COLUMNS: list[harness.Column] = [
    ("condition", "condition", "{}"),
    ("judge accuracy", "accuracy", "{:.1%}"),
    ("IS", "inception_score", "{:.2f}"),
    ("mean confidence", "mean_confidence", "{:.2f}"),
    ("level (dB)", "level_db", "{:+.1f}"),
]


def resynthesise(log_mag: np.ndarray, config: SpectrogramConfig, seed: int) -> np.ndarray:
    """Log-magnitudes ``[n, freq, time, 1]`` -> waveforms ``[n, num_samples]`` (Griffin-Lim)."""
    return spectrogram_to_waveform(log_mag, config, seed=seed).numpy()


def conditions(waves: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Each condition's clips ``[n, num_samples]``, by name."""
    bins = SpectrogramConfig().freq_bins
    config = SpectrogramConfig(mean=(0.0,) * bins, std=(1.0,) * bins)  # log-magnitudes as they are
    log_mag = log_magnitude(waves, config).numpy()  # [n, freq, time, 1]
    clips = {
        "real clips": waves,
        "real clips, -10 dB": waves * 10 ** (-10 / 20),
        "Griffin-Lim from the true magnitudes": resynthesise(log_mag, config, seed),
    }
    for sigma in WIDTHS:
        ms = sigma * config.hop_length / config.sample_rate * 1000
        smoothed = gaussian_filter1d(log_mag, sigma, axis=2, mode="nearest")
        name = f"time blur, sigma {sigma:g} frames ({ms:.0f} ms)"
        clips[name] = resynthesise(smoothed, config, seed)
    for sigma in WIDTHS:
        hz = sigma * config.sample_rate / config.n_fft
        smoothed = gaussian_filter1d(log_mag, sigma, axis=1, mode="nearest")
        name = f"frequency blur, sigma {sigma:g} bins ({hz:.0f} Hz)"
        clips[name] = resynthesise(smoothed, config, seed)
    return clips


def main(argv: list[str] | None = None) -> int:
    args = harness.parser(__doc__, "judge_degradations.jsonl").parse_args(argv)
    loaded = harness.load(args)
    rows = []
    for name, clips in conditions(loaded.waves, args.seed).items():
        probs = loaded.judge.predict_proba(clips)  # [n, classes]
        rows.append(
            {
                "condition": name,
                "accuracy": float(np.mean(np.argmax(probs, axis=1) == loaded.labels)),
                "inception_score": inception_score(probs),
                "mean_confidence": float(np.mean(np.max(probs, axis=1))),
                "level_db": level_difference_db(clips, loaded.waves),
            }
        )
    harness.append_record(
        args.record, {"clips": len(loaded.labels), "conditions": rows}, {"seed": args.seed}
    )
    print(harness.table(rows, COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
