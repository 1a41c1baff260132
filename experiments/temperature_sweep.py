"""Generated audio against the sampling temperature: what `defaults.TEMPERATURE` trades.

    python -m experiments.temperature_sweep RUN [RUN ...] --temperatures 0.5,0.7,0.85,1

Each ``RUN`` is a run folder (or ``model.keras``), e.g. the ``mixture/`` folder of
`examples/compare_priors.py`. For every temperature the run's prior samples and digit samples are
judged as the example judges them (`metrics.generation_metrics`, the same seed and clip count):
Inception Score, Fréchet distance to the real test clips, digit accuracy, level. A lower
temperature draws nearer each component's centre: clearer digits, less variety. One JSON line
per run and temperature.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.evaluation.metrics import generation_metrics

COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("temperature", "temperature", "{:g}"),
    ("local", "local_temperature", "{:g}"),
    ("IS", "generation.unconditional.inception_score", "{:.2f}"),
    ("FD", "generation.unconditional.frechet_distance", "{:.2f}"),
    ("digit samples judged", "generation.conditional.accuracy", "{:.1%}"),
    ("level (dB)", "generation.unconditional.level_db", "{:+.1f}"),
    ("seconds", "seconds", "{:.0f}"),
]


def sweep(loaded: harness.Loaded, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The judged generation figures of one run at each temperature (and local temperature)."""
    given = args.local_temperatures
    local_temperatures = [float(t) for t in given.split(",")] if given else [None]
    for temperature in (float(t) for t in args.temperatures.split(",")):
        for local in local_temperatures:
            tick = time.perf_counter()
            figures = generation_metrics(
                loaded.model, loaded.judge, loaded.waves, args.samples, args.seed,
                temperature=temperature, local_temperature=local,
            )  # fmt: skip
            yield {
                "run": loaded.name,
                "temperature": temperature,
                **({} if local is None else {"local_temperature": local}),
                "generation": figures,
                "seconds": time.perf_counter() - tick,
            }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "temperature_sweep.jsonl", runs=True)
    parser.add_argument("--temperatures", default="0.5,0.7,0.85,1", help="comma list")
    parser.add_argument(
        "--local-temperatures",
        default="",
        help="comma list, for a model with local latents: u's temperature (0: p(u | z)'s mean); "
        "default: z's",
    )
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    args = parser.parse_args(argv)
    settings = {"samples": args.samples, "seed": args.seed}
    return harness.each_run(args, lambda loaded: sweep(loaded, args), COLUMNS, settings)


if __name__ == "__main__":
    sys.exit(main())
