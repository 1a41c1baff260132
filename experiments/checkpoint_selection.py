"""Best or last: a run's last epoch against its epoch with the best held-out bound, judged alike.

    python -m experiments.checkpoint_selection RUN [RUN ...] [--k 100] [--samples 500]

Each ``RUN`` is a run folder trained with validation clips, so it kept the weights of its best
held-out epoch in ``checkpoints/best/`` (`training.fit.train`). The run's model (what it ended
on) and a copy with the best epoch's weights, finished as training finishes a run (a refittable
prior refitted to them, the likelihood's scale calibrated on the validation clips, the output
level on the training clips), are evaluated on the test split by `metrics.evaluate` with the same
seeds: this measures the default `defaults.CHECKPOINT_SELECTION`. One JSON line per model.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.evaluation.metrics import evaluate
from tfp_audio_vae.models.saving import load_model
from tfp_audio_vae.training.fit import BEST, HELD_OUT, finish, refit_period, weights_checkpoint

COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("weights", "weights", "{}"),
    ("epoch", "epoch", "{}"),
    ("validation −ELBO", "val_neg_elbo", "{:.0f}"),
    *harness.EVALUATE_COLUMNS,
]


def best_model(loaded: harness.Loaded):
    """The run's model with its best held-out epoch's weights, finished as `train` finishes."""
    import tensorflow as tf  # after the harness has quieted its start-up

    spec = loaded.run.spec()
    model = load_model(loaded.run.model_path)
    weights_checkpoint(model).restore(tf.train.latest_checkpoint(loaded.run.folder / BEST))
    refit = bool(refit_period(model, spec.training.fit_prior_every))
    bound = finish(
        model,
        loaded.train_batches(),
        loaded.validation_batches(),
        refit=refit,
        seed=spec.seed,
    )
    return model, bound.neg_elbo


def compare(loaded: harness.Loaded, args: argparse.Namespace) -> list[dict[str, Any]]:
    record = json.loads((loaded.run.folder / HELD_OUT).read_text())
    best, best_bound = best_model(loaded)
    ended = record["selection"]
    rows = []
    for weights, model, epoch, bound in (
        (
            f"{ended} (the run's)",
            loaded.model,
            record["epoch"],
            record["calibrated"]["val_neg_elbo"],
        ),
        ("best", best, record["best"]["epoch"], best_bound),
    ):
        figures = evaluate(model, loaded.waves, loaded.labels, loaded.judge, k=args.k,
                           n_samples=args.samples, seed=args.seed)  # fmt: skip
        rows.append({"run": loaded.name, "weights": weights, "epoch": epoch,
                     "val_neg_elbo": bound, **figures})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "held_out/checkpoint_selection.jsonl", runs=True)
    parser.add_argument("--k", type=int, default=defaults.IWAE_K, help="IWAE samples")
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    args = parser.parse_args(argv)
    settings = {"k": args.k, "samples": args.samples, "seed": args.seed}
    return harness.each_run(args, lambda loaded: compare(loaded, args), COLUMNS, settings)


if __name__ == "__main__":
    sys.exit(main())
