"""Reconstructions from refined latents: how far the encoder's guess is from each clip's best z.

    python benchmarks/refine_latents.py RUN [RUN ...] --steps 0,50,200,500 \
        --out benchmarks/results/refine_latents.jsonl

Each ``RUN`` is a run folder (or ``model.keras``), e.g. the ``mixture/`` folder of
`examples/compare_priors.py`. For every step count, the clips of ``--split`` (FSDD's test split,
or 300 clips of the train split, evenly spaced) are reconstructed from latents refined by
`latents.refine_latents` and measured as the example measures reconstructions
(`metrics.reconstruction_metrics`: the judge's accuracy, log-spectral distance, level), beside
the mean log p(x | z) + log p(z) (nats per clip) the refinement climbs and the seconds it took.
0 steps is the posterior mean: the example's own figure. One JSON line per run and step count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from environment import append_jsonl, environment  # noqa: E402  (benchmarks/environment.py)

from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import fsdd, pipeline  # noqa: E402
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram  # noqa: E402
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.evaluation.metrics import reconstruction_metrics  # noqa: E402
from tfp_audio_vae.models.latents import refine_latents  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders or model.keras files")
    parser.add_argument("--steps", default="0,50,200,500", help="comma list of step counts")
    parser.add_argument("--learning-rate", type=float, default=defaults.REFINE_LEARNING_RATE)
    parser.add_argument("--split", choices=["test", "train"], default="test")
    parser.add_argument("--out", default="benchmarks/results/refine_latents.jsonl")
    args = parser.parse_args(argv)
    root = fsdd.locate(None)
    judge = get_judge(root, verbose=0)
    records = fsdd.records(root, args.split)
    if args.split == "train":
        records = pipeline.evenly_spaced(records, 300)
    for run in args.runs:
        model = load_model(run)
        config = model.audio_config()
        waves, digits = pipeline.load_waveforms(records, config)  # [n, samples], [n]
        x = waveform_to_spectrogram(waves, config)  # [n, freq, time, 1]
        for steps in (int(s) for s in args.steps.split(",")):
            tick = time.perf_counter()
            z = refine_latents(model, x, steps, learning_rate=args.learning_rate)  # [n, latent]
            seconds = time.perf_counter() - tick
            log_lik = model.decode(z).log_prob(x)  # [n]
            line = {
                "run": str(run),
                "split": args.split,
                "clips": len(digits),
                "steps": steps,
                "learning_rate": args.learning_rate,
                "log_likelihood_nats": float(tf.reduce_mean(log_lik)),
                "log_joint_nats": float(tf.reduce_mean(log_lik + model.prior.log_prob(z))),
                "refine_s": seconds,
                "refine_ms_per_clip": 1000.0 * seconds / len(digits),
                "reconstruction": reconstruction_metrics(
                    model,
                    (waves, digits),
                    judge=judge,
                    refine_steps=steps,
                    refine_learning_rate=args.learning_rate,
                ),  # fmt: skip
                "command": "python benchmarks/refine_latents.py " + " ".join(argv or sys.argv[1:]),
                "environment": environment(tf, tfp, np),
            }
            print(
                f"{run} {args.split} steps {steps}: judged "
                f"{line['reconstruction']['judge_accuracy']:.1%}, LSD "
                f"{line['reconstruction']['log_spectral_distance_db']:.2f} dB, log p(x|z) "
                f"{line['log_likelihood_nats']:.0f} nats, {line['refine_ms_per_clip']:.0f} ms/clip"
            )
            append_jsonl(args.out, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
