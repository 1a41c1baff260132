"""Has the IWAE bound converged? −IWAE at k = 100 (the example's) and k = 1,000 on a test subset.

    python -m experiments.iwae_convergence RUN [RUN ...] [--limit 50] [--ks 100,1000]

The bound tightens as k grows (Burda et al. 2016); where k = 100 and k = 1,000 agree to within
the standard error of their per-clip difference, the example's k = 100 figure is the model's
likelihood and not an artefact of too few importance samples; where they do not, the difference
says how far k = 100 still is (and whether it differs between models compared). Every k scores
the same ``--limit`` test clips (evenly spaced), each from its own stateless seed. One JSON line
per run.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from experiments import harness

COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("clips", "clips", "{}"),
    ("−ELBO (nats)", "neg_elbo", "{:.1f}"),
    ("−IWAE, k = 100", "neg_iwae.100", "{:.1f}"),
    ("−IWAE, k = 1000", "neg_iwae.1000", "{:.1f}"),
    ("k = 1000 minus k = 100", "tightening", "{:+.1f}"),
    ("its standard error", "standard_error", "{:.1f}"),
]


def measure(loaded: harness.Loaded, ks: list[int], seed: int) -> dict[str, Any]:
    """Mean −ELBO and −IWAE at each k over the loaded test clips, nats per clip."""
    model = loaded.model
    bounds: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    elbos = []
    for i, batch in enumerate(loaded.test_batches()):
        x = batch["spectrogram"]
        elbos.append(-model.elbo(x, seed=(seed, i)).numpy())
        for k in ks:
            bounds[k].append(-model.iwae(x, k=k, seed=(seed, 1000 + i)).numpy())
    per_clip = {k: np.concatenate(v) for k, v in bounds.items()}
    low, high = min(ks), max(ks)
    gap = per_clip[high] - per_clip[low]  # [clips]
    return {
        "run": loaded.name,
        "clips": int(gap.size),
        "neg_elbo": float(np.concatenate(elbos).mean()),
        "neg_iwae": {str(k): float(v.mean()) for k, v in per_clip.items()},
        "tightening": float(gap.mean()),
        "standard_error": float(gap.std(ddof=1) / np.sqrt(gap.size)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "held_out/iwae_convergence.jsonl", runs=True)
    parser.add_argument("--ks", default="100,1000", help="comma-separated importance samples")
    parser.set_defaults(limit=50)
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    columns = COLUMNS if ks == [100, 1000] else [c for c in COLUMNS if "k =" not in c[0]]
    settings = {"ks": ks, "limit": args.limit, "seed": args.seed}
    return harness.each_run(
        args, lambda loaded: [measure(loaded, ks, args.seed)], columns, settings
    )


if __name__ == "__main__":
    sys.exit(main())
