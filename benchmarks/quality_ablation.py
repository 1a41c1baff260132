"""One modelling lever at a time: train a named configuration on FSDD, judge its audio, log a JSON line.

    python benchmarks/quality_ablation.py --config baseline --epochs 10
    python benchmarks/quality_ablation.py --config conv1d --epochs 30 --seed 0
    python benchmarks/quality_ablation.py --eval-only RUN_DIR --stats median,mean,power --gl 32,64,100

Every configuration trains with the package's `training.train` on the FSDD train split (the
package pipeline: `fit_normalisation`, `spectrogram_dataset`), with the conditional mixture prior
(``--components-per-class``, 12 unless given, as the package's default was when these runs
were made; EM refit every 5 epochs).
It is then evaluated on the 300 test clips with the package's evaluation functions and the cached
digit judge: reconstructions judged, IS and FD of ``--samples`` unconditional prior samples,
digit-sample accuracy, test -ELBO and -IWAE (``--k``), and the median RMS of reconstructions and
of prior samples against the test clips' median RMS, in dB.

Cost is recorded three ways: forward MACs per example (counted from the graph, load cannot distort
it), training seconds, and a fp32 matmul GFLOP/s measured just before and after training, so that
timings taken under different machine load can be compared as ratios.

``--eval-only`` re-evaluates a saved model with other audio statistics of p(x | z)
(`synthesis.waveforms.audible_spectrogram`: ``median``, ``mean``, ``power``) and other Griffin-Lim
iteration counts. Generated clips are judged at temperature 1 (the prior itself), so every
configuration is judged on the same footing.

One JSON line per run (per statistic and Griffin-Lim setting) is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from environment import environment  # noqa: E402  (benchmarks/environment.py)

from tfp_audio_vae.data import fsdd, pipeline  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402
from tfp_audio_vae.evaluation import metrics  # noqa: E402
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.machine import matmul_gflops  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402
from tfp_audio_vae.models.variants import build_vae  # noqa: E402
from tfp_audio_vae.synthesis import generation  # noqa: E402
from tfp_audio_vae.training.fit import train  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]

# name -> build_vae / train settings; anything left out takes BASE's value.
BASE: dict[str, Any] = {  # the package's default before this ablation
    "network": "conv2d",
    "latent_dim": 32,
    "decoder_scale": "bin",
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "batch_size": 64,
}
CONV1D = {"network": "conv1d"}
COSINE = {"lr_schedule": "cosine", "learning_rate": 2e-3}
CONFIGS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "cosine2e-3": COSINE,
    "cosine4e-3": {"lr_schedule": "cosine", "learning_rate": 4e-3},
    "batch32": {"batch_size": 32},
    "latent64": {"latent_dim": 64},
    "pixel": {"decoder_scale": "pixel"},
    "conv1d": CONV1D,
    "conv1d-cosine": {**CONV1D, **COSINE},
    "conv1d-cosine4e-3": {**CONV1D, "lr_schedule": "cosine", "learning_rate": 4e-3},
    "conv1d-cosine-latent64": {**CONV1D, **COSINE, "latent_dim": 64},
    "conv1d-cosine-pixel": {**CONV1D, **COSINE, "decoder_scale": "pixel"},
    "conv1d-cosine-batch32": {**CONV1D, **COSINE, "batch_size": 32},
    "conv1d-cosine-optimal": {**CONV1D, **COSINE, "decoder_scale": "optimal"},
    "conv1d-cosine-optimal-batch32": {
        **CONV1D,
        **COSINE,
        "decoder_scale": "optimal",
        "batch_size": 32,
    },
    "conv1d-cosine-optimal-batch32-latent64": {  # the default since latent 64
        **CONV1D,
        **COSINE,
        "decoder_scale": "optimal",
        "batch_size": 32,
        "latent_dim": 64,
    },
}


def forward_macs(model) -> float:
    """Multiply-accumulates of one example's forward pass (encoder at the posterior mean, then
    decoder): half the float operations of the graph's conv, transposed-conv and matmul ops."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    @tf.function
    def forward(x: tf.Tensor) -> tf.Tensor:
        return model.decode(model.encode(x).mean()).mean()

    from tensorflow.python.framework import ops

    spec = tf.TensorSpec([1, *model.spectrogram_shape], tf.float32)
    graph = convert_variables_to_constants_v2(forward.get_concrete_function(spec)).graph
    total = 0.0
    for op in graph.get_operations():
        if op.type in ("Conv2D", "Conv2DBackpropInput", "MatMul", "BatchMatMulV2"):
            total += ops.get_stats_for_node_def(graph, op.node_def, "flops").value / 2.0
    return total


def build(settings: dict[str, Any], config: SpectrogramConfig, args: argparse.Namespace):
    """The VAE of one configuration (conditional mixture prior)."""
    return build_vae(
        config,
        "conditional",
        latent_dim=settings["latent_dim"],
        components_per_class=args.components_per_class,
        decoder_scale=settings["decoder_scale"],
        network=settings["network"],
        seed=args.seed,
    )


def step_time_ratio(
    names: list[str], config: SpectrogramConfig, args: argparse.Namespace, steps: int = 8
) -> dict[str, float]:
    """Median ms per training step (batch 64, one fixed random batch) of each configuration,
    alternating them in ``args.rounds`` rounds (order reversed every round), so machine load
    hits all alike; each after a warm-up. Ratios to the first name are what compare."""
    models = {}
    for name in names:
        settings = {**BASE, **CONFIGS[name]}
        model = build(settings, config, args)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0))
        batch = {
            "spectrogram": tf.random.normal([settings["batch_size"], *config.shape]),
            "label": tf.zeros([settings["batch_size"]], tf.int32),
        }
        step = tf.function(model.train_step)
        for _ in range(2):
            step(batch)
        models[name] = (step, batch, settings["batch_size"])
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            step, batch, _ = models[name]
            tick = time.perf_counter()
            for _ in range(steps):
                out = step(batch)
            float(out["loss"])
            times[name].append(1000.0 * (time.perf_counter() - tick) / steps)
    median = {name: float(np.median(t)) for name, t in times.items()}
    # per example, so batch sizes compare
    per_example = {name: median[name] / models[name][2] for name in names}
    return {
        name: {
            "ms_per_step": median[name],
            "ratio_per_example": per_example[name] / per_example[names[0]],
        }
        for name in names
    }


def audio_figures(
    model, test_waves, test_digits, judge, args, n_iter: int, statistic: str
) -> dict[str, Any]:
    """Judged reconstructions and prior samples (temperature 1), their level against the test
    clips, and Griffin-Lim's cost, for one audio statistic and iteration count."""
    audio = {"statistic": statistic, "n_iter": n_iter}
    tick = time.perf_counter()
    recon = metrics.reconstruction_metrics(
        model, (test_waves, test_digits), judge=judge, seed=args.seed, **audio
    )
    recon_s = time.perf_counter() - tick
    gen = metrics.generation_metrics(
        model, judge, test_waves, args.samples, args.seed, temperature=1.0, **audio
    )
    tick = time.perf_counter()
    generation.generate(model, args.samples, temperature=1.0, seed=args.seed, **audio)
    sample_s = time.perf_counter() - tick
    return {
        "statistic": statistic,
        "griffin_lim_iterations": n_iter,
        "recon_judged": recon["judge_accuracy"],
        "recon_spectral_convergence": recon["spectral_convergence"],
        "recon_lsd_db": recon["log_spectral_distance_db"],
        "inception_score": gen["unconditional"]["inception_score"],
        "frechet_distance": gen["unconditional"]["frechet_distance"],
        "digit_samples_judged": gen["conditional"]["accuracy"] if gen["conditional"] else None,
        "recon_loudness_db": recon["level_db"],
        "sample_loudness_db": gen["unconditional"]["level_db"],
        "recon_eval_s": recon_s,
        "generate_ms_per_clip": 1000.0 * sample_s / args.samples,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="baseline")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=20, help="IWAE samples (default 20)")
    parser.add_argument("--samples", type=int, default=300, help="generated clips per figure")
    parser.add_argument("--components-per-class", type=int, default=12)
    parser.add_argument("--fit-prior-every", type=int, default=5)
    parser.add_argument("--runs", default="runs/quality", help="folder of run folders")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks/results/quality.jsonl"))
    parser.add_argument("--eval-only", help="a run folder with model.keras: evaluate, no training")
    parser.add_argument("--stats", default="median", help="comma list: median,mean,power")
    parser.add_argument("--gl", default="32", help="comma list of Griffin-Lim iterations")
    parser.add_argument(
        "--step-times",
        help="comma list of configs: only time their training steps against each other "
        "(alternating; the first is the reference) and print/append the ratios",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --step-times")
    parser.add_argument("--tag", default="", help="free text stored with the line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # an entry point: seeds anything left unseeded
    root = fsdd.locate(None)
    train_records, test_records = fsdd.records(root, "train"), fsdd.records(root, "test")
    if args.step_times:
        config = pipeline.fit_normalisation(train_records, SpectrogramConfig())
        before = matmul_gflops()
        result = step_time_ratio(args.step_times.split(","), config, args)
        line = {
            "step_times": result,
            "matmul_gflops_before_after": [before, matmul_gflops()],
            "command": "python benchmarks/quality_ablation.py " + " ".join(argv or sys.argv[1:]),
            "environment": environment(tf, tfp, np),
        }
        print(json.dumps(line, default=float))
        with open(args.out, "a") as f:
            f.write(json.dumps(line, default=float) + "\n")
        return 0
    judge = get_judge(root, verbose=0)
    settings = {**BASE, **CONFIGS[args.config]}
    record: dict[str, Any] = {
        "config": args.config,
        "settings": settings,
        "epochs": args.epochs,
        "seed": args.seed,
        "tag": args.tag,
        "command": "python benchmarks/quality_ablation.py " + " ".join(argv or sys.argv[1:]),
        "environment": environment(tf, tfp, np),
    }
    if args.eval_only:
        run_dir = Path(args.eval_only)
        model = load_model(run_dir / "model.keras")
        config = model.spectrogram_config
        record["config"] = f"eval-only:{run_dir}"
    else:
        config = pipeline.fit_normalisation(train_records, SpectrogramConfig())
        train_data = pipeline.spectrogram_dataset(
            train_records, config, shuffle=True, seed=args.seed, batch_size=settings["batch_size"]
        )
        model = build(settings, config, args)
        run_dir = Path(args.runs) / f"{args.config}-e{args.epochs}-s{args.seed}"
        if (run_dir / "checkpoints").exists():
            raise SystemExit(f"{run_dir} exists: remove it for a fresh, timed run")
        gflops_before = matmul_gflops()
        tick = time.perf_counter()
        history = train(
            model,
            train_data,
            run_dir,
            epochs=args.epochs,
            learning_rate=settings["learning_rate"],
            lr_schedule=settings["lr_schedule"],
            fit_prior_every=args.fit_prior_every,
            seed=args.seed,
            verbose=2,
        )
        record["train_s"] = time.perf_counter() - tick
        gflops_after = matmul_gflops()
        record["matmul_gflops_before_after"] = [gflops_before, gflops_after]
        record["final_train_loss"] = float(history.history["loss"][-1])
        record["nan"] = not np.isfinite(record["final_train_loss"])
    record["run_dir"] = str(run_dir)
    record["params"] = int(model.count_params())
    record["macs_per_example"] = forward_macs(model)
    test_waves, test_digits = pipeline.load_waveforms(test_records, config)
    test = metrics.spectrogram_batches(test_waves, test_digits, config)
    like = metrics.likelihood(model, test, k=args.k)
    record.update(
        neg_elbo=like["neg_elbo"],
        neg_iwae=like["neg_iwae"],
        nll=like["nll"],
        kl=like["kl"],
        iwae_k=args.k,
        active_units=metrics.active_units(model, test),
    )
    record["real_audio"] = {
        k: v
        for k, v in metrics.real_audio_ceiling(judge, test_waves, test_digits).items()
        if k in ("accuracy", "inception_score", "frechet_distance")
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for statistic in args.stats.split(","):
        for n_iter in (int(n) for n in args.gl.split(",")):
            line = {
                **record,
                **audio_figures(model, test_waves, test_digits, judge, args, n_iter, statistic),
            }
            with open(out, "a") as f:
                f.write(json.dumps(line, default=float) + "\n")
            print(
                json.dumps(
                    {k: v for k, v in line.items() if k not in ("environment",)}, default=float
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
