"""What the prior alone does to the likelihood: a mixture fitted after training, on the same network.

    python -m experiments.posthoc_prior RUN [RUN ...] [--judged]

Each ``RUN`` is a run folder (or ``model.keras``) of a VAE trained with N(0, I), e.g. the
``standard/`` folder of `examples/compare_priors.py`. Its encoder and decoder are kept as they
are; only the prior changes: the default mixture (`defaults.PRIOR`) is fitted by EM to the
aggregate posterior of the run's train split, as `training.FitPrior` fits it during training.
The test split's −ELBO, KL and −IWAE (``--k``, the example's) are measured with both priors, so
their difference is the prior's alone. Compare with the example's mixture VAE, where the network
is trained against the mixture. ``--judged`` also evaluates the fitted mixture's audio as the
example does (`metrics.evaluate`: prior samples, digit samples, reconstructions). One JSON line
per run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.evaluation.metrics import evaluate, likelihood
from tfp_audio_vae.models.latents import fit_prior
from tfp_audio_vae.models.level import calibrate_level
from tfp_audio_vae.models.priors import StandardNormalPrior
from tfp_audio_vae.models.variants import make_prior, with_prior

COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("−IWAE, N(0, I) (nats)", "standard.neg_iwae", "{:.1f}"),
    ("−IWAE, fitted mixture (nats)", "fitted_mixture.neg_iwae", "{:.1f}"),
    ("difference", "difference.neg_iwae", "{:+.1f}"),
    ("KL, N(0, I)", "standard.kl", "{:.1f}"),
    ("KL, fitted mixture", "fitted_mixture.kl", "{:.1f}"),
    ("recon. judged (mixture)", "fitted_mixture_evaluated.reconstruction.judge_accuracy",
     "{:.1%}"),
    ("IS (mixture)", "fitted_mixture_evaluated.generation.unconditional.inception_score",
     "{:.2f}"),
]  # fmt: skip


def compare(loaded: harness.Loaded, args: argparse.Namespace) -> dict[str, Any]:
    """The test likelihood of an N(0, I) run with its prior and with the fitted mixture."""
    model = loaded.model
    if not isinstance(model.prior, StandardNormalPrior):
        raise SystemExit(f"{loaded.name}: its prior is {type(model.prior).__name__}, not N(0, I)")
    train_data, test_data = loaded.train_batches(), loaded.test_batches()
    standard = likelihood(model, test_data, k=args.k, seed=args.seed)
    fitted = with_prior(model, make_prior(defaults.PRIOR, model.latent_dim, seed=args.seed))
    fit_prior(fitted, train_data, seed=args.seed)
    mixture = likelihood(fitted, test_data, k=args.k, seed=args.seed)
    judged = None
    if args.judged:
        calibrate_level(fitted, train_data)  # as training ends with (older models lack it)
        judged = evaluate(fitted, loaded.waves, loaded.labels, loaded.judge, k=args.k,
                          n_samples=args.samples, seed=args.seed)  # fmt: skip
    return {
        "run": loaded.name,
        "standard": standard,
        "fitted_mixture": mixture,
        "difference": {n: mixture[n] - standard[n] for n in ("neg_elbo", "kl", "neg_iwae")},
        "fitted_mixture_evaluated": judged,
    }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "posthoc_prior/posthoc_prior.jsonl", runs=True)
    parser.add_argument("--k", type=int, default=defaults.IWAE_K, help="IWAE samples")
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    parser.add_argument(
        "--judged", action="store_true", help="also judge the fitted mixture's audio"
    )
    args = parser.parse_args(argv)
    settings = {"k": args.k, "seed": args.seed, "judged": args.judged}
    return harness.each_run(args, lambda loaded: [compare(loaded, args)], COLUMNS, settings)


if __name__ == "__main__":
    sys.exit(main())
