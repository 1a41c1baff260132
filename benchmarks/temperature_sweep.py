"""Generated audio against the sampling temperature: what `defaults.TEMPERATURE` trades.

    python benchmarks/temperature_sweep.py RUN [RUN ...] --temperatures 0.5,0.7,0.85,1 \
        --out benchmarks/results/temperature_sweep.jsonl

Each ``RUN`` is a run folder (or ``model.keras``), e.g. the ``mixture/`` folder of
`examples/compare_priors.py`. For every temperature the run's prior samples and digit samples are
judged as the example judges them (`metrics.generation_metrics`, the same seed and clip count):
Inception Score, Fréchet distance to the real test clips, digit accuracy, level. A lower
temperature draws nearer each component's centre: clearer digits, less variety. One JSON line
per run and temperature.
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
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.evaluation.metrics import generation_metrics  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders or model.keras files")
    parser.add_argument("--temperatures", default="0.5,0.7,0.85,1", help="comma list")
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    parser.add_argument("--seed", type=int, default=0, help="the example's seed")
    parser.add_argument("--fsdd", help="FSDD folder (default: $TFP_AUDIO_VAE_FSDD, cache)")
    parser.add_argument("--out", default="benchmarks/results/temperature_sweep.jsonl")
    args = parser.parse_args(argv)
    root = fsdd.locate(args.fsdd)
    judge = get_judge(root, verbose=0)
    for run in args.runs:
        model = load_model(run)
        waves, _ = pipeline.load_waveforms(fsdd.records(root, "test"), model.audio_config())
        for temperature in (float(t) for t in args.temperatures.split(",")):
            tick = time.perf_counter()
            figures = generation_metrics(
                model, judge, waves, args.samples, args.seed, temperature=temperature
            )
            unconditional, conditional = figures["unconditional"], figures["conditional"]
            line = {
                "run": str(run),
                "temperature": temperature,
                "generation": figures,
                "seconds": time.perf_counter() - tick,
                "command": "python benchmarks/temperature_sweep.py "
                + " ".join(argv or sys.argv[1:]),
                "environment": environment(tf, tfp, np),
            }
            digits = "–" if conditional is None else f"{conditional['accuracy']:.1%}"
            print(
                f"{run} T={temperature:g}: IS {unconditional['inception_score']:.2f}, FD "
                f"{unconditional['frechet_distance']:.2f}, digit samples {digits}, level "
                f"{unconditional['level_db']:+.1f} dB"
            )
            append_jsonl(args.out, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
