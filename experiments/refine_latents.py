"""Reconstructions from refined latents: how far the encoder's guess is from each clip's best z.

    python -m experiments.refine_latents RUN [RUN ...] --steps 0,50,200,500

Each ``RUN`` is a run folder (or ``model.keras``), e.g. the ``mixture/`` folder of
`examples/compare_priors.py`. For every step count, the clips of ``--split`` (the test split, or
300 clips of the train split, evenly spaced) are reconstructed from latents refined by
`latents.refine_latents` and measured as the example measures reconstructions
(`metrics.reconstruction_metrics`: the judge's accuracy, log-spectral distance, level), beside
the mean log p(x | z) and log p(x | z) + log p(z) (nats per clip) the refinement climbs and the
milliseconds per clip it took. 0 steps is the posterior mean. One JSON line per run and step count.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram
from tfp_audio_vae.evaluation.metrics import reconstruction_metrics
from tfp_audio_vae.models.latents import refine_latents

TRAIN_CLIPS = 300
COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("split", "split", "{}"),
    ("steps", "steps", "{}"),
    ("recon. judged", "reconstruction.judge_accuracy", "{:.1%}"),
    ("recon. LSD (dB)", "reconstruction.log_spectral_distance_db", "{:.2f}"),
    ("recon. level (dB)", "reconstruction.level_db", "{:+.1f}"),
    ("log p(x | z) (nats)", "log_likelihood_nats", "{:.0f}"),
    ("ms per clip", "refine_ms_per_clip", "{:.0f}"),
]


def refined(loaded: harness.Loaded, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """One run's reconstructions from latents refined by each step count."""
    model = loaded.model
    waves, labels = loaded.waves, loaded.labels  # [n, samples], [n]
    if args.split == "train":
        waves, labels = loaded.train_waves(args.limit or TRAIN_CLIPS)
    x = waveform_to_spectrogram(waves, model.audio_config())  # [n, freq, time, 1]
    for steps in (int(s) for s in args.steps.split(",")):
        tick = time.perf_counter()
        z = refine_latents(model, x, steps, learning_rate=args.learning_rate)  # [n, latent]
        seconds = time.perf_counter() - tick
        log_lik = model.decode(z).log_prob(x)  # [n]
        yield {
            "run": loaded.name,
            "split": args.split,
            "clips": len(labels),
            "steps": steps,
            "log_likelihood_nats": float(tf.reduce_mean(log_lik)),
            "log_joint_nats": float(tf.reduce_mean(log_lik + model.prior.log_prob(z))),
            "refine_ms_per_clip": 1000.0 * seconds / len(labels),
            "reconstruction": reconstruction_metrics(
                model,
                (waves, labels),
                judge=loaded.judge,
                seed=args.seed,
                refine_steps=steps,
                refine_learning_rate=args.learning_rate,
            ),
        }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "refine_latents.jsonl", runs=True)
    parser.add_argument("--steps", default="0,50,200,500", help="comma list of step counts")
    parser.add_argument("--learning-rate", type=float, default=defaults.REFINE_LEARNING_RATE)
    parser.add_argument("--split", choices=["test", "train"], default="test")
    args = parser.parse_args(argv)
    settings = {"learning_rate": args.learning_rate, "seed": args.seed}
    return harness.each_run(args, lambda loaded: refined(loaded, args), COLUMNS, settings)


if __name__ == "__main__":
    sys.exit(main())
