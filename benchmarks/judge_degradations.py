"""What "recognised by the judge" means: its verdicts on real test clips degraded in known ways.

    python benchmarks/judge_degradations.py [--fsdd PATH] [--out benchmarks/results/judge.json]

The digit judge is trained on real clips; VAE output lies outside that distribution, so the judge
could be lenient (it still hears blurred audio) or brittle (it fails on audio a person follows).
This measures it on the 300 FSDD test clips, each condition through the same audio path as a
model's output where it applies (log-magnitude -> exp -> fast Griffin-Lim, 32 iterations):

- real clips, and real clips 10 dB quieter;
- Griffin-Lim from the true (floored, 128-bin) magnitudes: the best a perfect model can sound;
- Gaussian smoothing of the log-magnitude along time (sigma 1, 2, 4 frames = 8, 16, 32 ms) and
  along frequency (sigma 1, 2, 4 bins = 31, 62, 125 Hz), then Griffin-Lim: controlled blur, the
  kind a VAE's decoder mean shows.

Writes one JSON (accuracy, Inception Score, mean confidence of the verdict, median RMS in dB
relative to the real clips, per condition, with the machine record) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.ndimage import gaussian_filter1d  # noqa: E402

from tfp_audio_vae.data import fsdd  # noqa: E402
from tfp_audio_vae.data.pipeline import load_waveforms  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, log_magnitude  # noqa: E402
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.evaluation.scores import inception_score, level_difference_db  # noqa: E402
from tfp_audio_vae.files import atomic_output  # noqa: E402
from tfp_audio_vae.machine import machine_record  # noqa: E402
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1.0, 2.0, 4.0)


def resynthesise(log_mag: np.ndarray, config: SpectrogramConfig, seed: int = 0) -> np.ndarray:
    """Log-magnitudes ``[n, freq, time, 1]`` -> waveforms ``[n, num_samples]`` (fast Griffin-Lim)."""
    magnitude = np.exp(log_mag[..., 0]).transpose(0, 2, 1)  # [n, frames, freq]
    magnitude = np.concatenate([magnitude, np.zeros_like(magnitude[..., :1])], axis=-1)
    return griffin_lim(
        tf.constant(magnitude, tf.float32),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        length=config.num_samples,
        seed=seed,
    ).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fsdd", help="FSDD folder (default: $TFP_AUDIO_VAE_FSDD, the cache)")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "judge.json"
    )
    args = parser.parse_args(argv)

    root = fsdd.locate(args.fsdd, download=False)
    config = SpectrogramConfig()
    waves, digits = load_waveforms(fsdd.records(root, "test"), config)  # [300, 8192], [300]
    judge = get_judge(root)
    log_mag = log_magnitude(waves, config).numpy()  # [300, 128 freq, 128 time, 1]

    conditions = {
        "real clips": waves,
        "real clips, -10 dB": waves * 10 ** (-10 / 20),
        "Griffin-Lim from the true magnitudes": resynthesise(log_mag, config),
    }
    for sigma in WIDTHS:
        ms = sigma * config.hop_length / config.sample_rate * 1000
        smoothed = gaussian_filter1d(log_mag, sigma, axis=2, mode="nearest")
        conditions[f"time blur, sigma {sigma:g} frames ({ms:.0f} ms)"] = resynthesise(
            smoothed, config
        )
    for sigma in WIDTHS:
        hz = sigma * config.sample_rate / config.n_fft
        smoothed = gaussian_filter1d(log_mag, sigma, axis=1, mode="nearest")
        conditions[f"frequency blur, sigma {sigma:g} bins ({hz:.0f} Hz)"] = resynthesise(
            smoothed, config
        )

    rows = {}
    for name, clips in conditions.items():
        probs = judge.predict_proba(clips)  # [300, 10]
        rows[name] = {
            "accuracy": float(np.mean(np.argmax(probs, axis=1) == digits)),
            "inception_score": inception_score(probs),
            "mean_confidence": float(np.mean(np.max(probs, axis=1))),
            "median_rms_db": level_difference_db(clips, waves),
        }
    lines = [
        "| condition (300 FSDD test clips) | judge accuracy | IS | mean confidence | level |",
        "|---|---|---|---|---|",
    ] + [
        f"| {name} | {r['accuracy']:.1%} | {r['inception_score']:.2f} | "
        f"{r['mean_confidence']:.2f} | {r['median_rms_db']:+.1f} dB |"
        for name, r in rows.items()
    ]
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        tmp.write_text(json.dumps({"machine": machine_record(), "conditions": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
