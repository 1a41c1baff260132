"""What the prior alone does to the likelihood: a mixture fitted after training, on the same network.

    python benchmarks/posthoc_prior.py RUN [RUN ...] --out benchmarks/results/posthoc_prior.jsonl

Each ``RUN`` is a run folder (or ``model.keras``) of a VAE trained with N(0, I), e.g. the
``standard/`` folder of `examples/compare_priors.py`. Its encoder and decoder are kept as they
are; only the prior changes: the default mixture (`defaults.COMPONENTS_PER_CLASS` per digit)
is fitted by EM to the aggregate posterior of the FSDD train split, as `training.FitPrior`
fits it during training. The test split's −ELBO, KL and −IWAE (k = 100, the example's) are
measured with both priors, so their difference is the prior's alone. Compare with the example's
mixture VAE, where the network is trained against the mixture. ``--judged`` also evaluates the
fitted mixture's audio as the example does (`metrics.evaluate` at the package's defaults: prior
samples, digit samples, reconstructions). One JSON line per run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from environment import append_jsonl, environment  # noqa: E402  (benchmarks/environment.py)

from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import fsdd, pipeline  # noqa: E402
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.evaluation.metrics import evaluate, likelihood  # noqa: E402
from tfp_audio_vae.models.latents import fit_prior  # noqa: E402
from tfp_audio_vae.models.priors import StandardNormalPrior  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402
from tfp_audio_vae.models.vae import VAE  # noqa: E402
from tfp_audio_vae.models.variants import make_prior, with_prior  # noqa: E402
from tfp_audio_vae.synthesis.level import calibrate_level  # noqa: E402


def with_fitted_mixture(model: VAE, train_data: tf.data.Dataset, seed: int) -> VAE:
    """The same encoder and decoder under the default mixture prior, fitted by EM to the
    aggregate posterior of ``train_data``."""
    prior = make_prior(
        defaults.PRIOR, model.latent_dim, defaults.NUM_CLASSES, seed, defaults.COMPONENTS_PER_CLASS
    )
    mixture = with_prior(model, prior)
    fit_prior(mixture, train_data, seed=seed)
    return mixture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders or model.keras files of N(0, I) VAEs")
    parser.add_argument("--k", type=int, default=defaults.IWAE_K, help="IWAE samples")
    parser.add_argument("--seed", type=int, default=0, help="EM's and the bounds' seed")
    parser.add_argument(
        "--judged",
        action="store_true",
        help="also judge the fitted mixture's audio as the example does (`metrics.evaluate`)",
    )
    parser.add_argument("--out", default="benchmarks/results/posthoc_prior.jsonl")
    args = parser.parse_args(argv)
    root = fsdd.locate(None)
    train_records, test_records = fsdd.records(root, "train"), fsdd.records(root, "test")
    for run in args.runs:
        path = Path(run) / "model.keras" if Path(run).is_dir() else Path(run)
        model = load_model(path)
        if not isinstance(model.prior, StandardNormalPrior):
            raise SystemExit(f"{path}: its prior is {type(model.prior).__name__}, not N(0, I)")
        config = model.audio_config()
        train_data = pipeline.spectrogram_dataset(train_records, config=config, batch_size=64)
        test_data = pipeline.spectrogram_dataset(test_records, config=config, batch_size=64)
        standard = likelihood(model, test_data, k=args.k, seed=args.seed)
        fitted = with_fitted_mixture(model, train_data, args.seed)
        mixture = likelihood(fitted, test_data, k=args.k, seed=args.seed)
        judged = None
        if args.judged:
            calibrate_level(fitted, train_data)  # as training ends with (older models lack it)
            waves, digits = pipeline.load_waveforms(test_records, config)
            judged = evaluate(fitted, waves, digits, get_judge(root, verbose=0), seed=args.seed)
        line = {
            "run": str(path),
            "k": args.k,
            "seed": args.seed,
            "standard": standard,
            "fitted_mixture": mixture,
            "difference": {n: mixture[n] - standard[n] for n in ("neg_elbo", "kl", "neg_iwae")},
            "fitted_mixture_evaluated": judged,
            "command": "python benchmarks/posthoc_prior.py " + " ".join(argv or sys.argv[1:]),
            "environment": environment(tf, tfp, np),
        }
        print(
            f"{path}: -IWAE {standard['neg_iwae']:.1f} with N(0, I), "
            f"{mixture['neg_iwae']:.1f} with the fitted mixture "
            f"({line['difference']['neg_iwae']:+.1f}); KL {standard['kl']:.1f} -> "
            f"{mixture['kl']:.1f} nats",
            flush=True,
        )
        append_jsonl(args.out, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
