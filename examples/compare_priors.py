"""Train a standard-normal VAE and a mixture-of-Gaussians VAE on FSDD (or SC09) and compare them.

Both use the same pipeline, network, seed and budget; only the prior differs. Each is evaluated on
the official test split with every metric of `tfp_audio_vae.evaluation.metrics`, through real audio
(decoder -> Griffin-Lim -> waveform -> the judge), beside the same figures for real test audio.

    python examples/compare_priors.py                 # the default run (7-16 minutes, 2 cores)
    python examples/compare_priors.py --quick         # a smoke run (about 2 minutes)
    python examples/compare_priors.py --preset best   # 100 epochs: about 3x the time
    python examples/compare_priors.py --dataset sc09  # the same on SC09 (its own judge first)

Writes to ``--out`` (default ``runs/compare_priors``): ``results.md`` and ``results.json`` (the
table), ``figures/*.png``, ``wavs/<variant>/*.wav`` (reconstructions, unconditional samples, samples
per digit) and one run folder per model (``standard/``, ``mixture/``: model, history, TensorBoard).

Each model is a run (`tfp_audio_vae.runs.Run`, its `RunSpec` in ``train.json``), so every command
of ``tfp-audio-vae`` takes its folder and knows its data. On SC09 the models train on the official
train list and are evaluated on the test list (at 8 kHz, the default network's rate), judged by a
judge of the same architecture trained on SC09's train clips (`runs.judge_for`, cached by the file
list's fingerprint).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402

from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import pipeline, speed  # noqa: E402
from tfp_audio_vae.evaluation import plots  # noqa: E402
from tfp_audio_vae.evaluation.metrics import evaluate, likelihood  # noqa: E402
from tfp_audio_vae.evaluation.tables import (  # noqa: E402
    BOUND_COLUMNS,
    EVALUATE_COLUMNS,
    table,
)
from tfp_audio_vae.files import atomic_output  # noqa: E402
from tfp_audio_vae.machine import machine_record  # noqa: E402
from tfp_audio_vae.models.decoders import DECODER_SCALES  # noqa: E402
from tfp_audio_vae.models.latents import class_mean_latents  # noqa: E402
from tfp_audio_vae.progress import printer, step  # noqa: E402
from tfp_audio_vae.runs import Run, judge_for, train_batches, training_data  # noqa: E402
from tfp_audio_vae.synthesis import generation  # noqa: E402
from tfp_audio_vae.synthesis.waveforms import write_wavs  # noqa: E402
from tfp_audio_vae.training.fit import HELD_OUT  # noqa: E402
from tfp_audio_vae.training.run_spec import (  # noqa: E402
    DataSpec,
    ModelSpec,
    ResolutionSpec,
    RunSpec,
    TrainingSpec,
)

QUICK_CLIPS = 300  # --quick: train and test clips

COLUMNS = [*BOUND_COLUMNS, *EVALUATE_COLUMNS]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=["fsdd", "sc09"], default="fsdd", help="data set")
    parser.add_argument(
        "--fsdd", help="FSDD folder (default: $TFP_AUDIO_VAE_FSDD, cache, download)"
    )
    parser.add_argument(
        "--sc09", help="SC09 folder (default: $TFP_AUDIO_VAE_SC09, cache, download)"
    )
    parser.add_argument("--out", default="runs/compare_priors", help="output folder")
    parser.add_argument(
        "--cache-dir",
        help="folder for spectrogram shards when the train set is too large for memory "
        "(default: spectrograms/ in the package cache)",
    )
    defaults.add_resolution_arguments(parser)
    defaults.add_preset_argument(parser)
    for option, meaning in (("--epochs", "epochs per model"), ("--latent-dim", "size of z")):
        key = option[2:].replace("-", "_")
        by_preset = ", ".join(f"{v[key]} for {k}" for k, v in defaults.PRESETS.items())
        parser.add_argument(
            option, type=int, default=argparse.SUPPRESS, help=f"{meaning} (default: {by_preset})"
        )
    parser.add_argument("--seed", type=int, default=0, help="seed of data order, weights, draws")
    parser.add_argument("--k", type=int, default=defaults.IWAE_K, help="IWAE importance samples")
    parser.add_argument(
        "--samples", type=int, default=defaults.GENERATED_CLIPS, help="generated clips per figure"
    )
    parser.add_argument(
        "--mixture",
        choices=["conditional", "mog", "vamp", "realnvp"],
        default=defaults.PRIOR,
        help="the prior compared with N(0, I): a mixture with components per digit trained with "
        "the labels (default), an unsupervised learnable mixture, a VampPrior, or a RealNVP "
        "flow (the last three with a Monte-Carlo KL)",
    )
    parser.add_argument(
        "--components-per-class",
        type=int,
        default=defaults.COMPONENTS_PER_CLASS,
        help="mixture components per digit of the conditional prior",
    )
    parser.add_argument(
        "--fit-prior-every",
        type=int,
        default=None,
        help="refit a mixture prior to the aggregate posterior every N epochs (0: never; default "
        f"{defaults.FIT_PRIOR_EVERY} for priors that can be refitted)",
    )
    parser.add_argument(
        "--network", choices=["conv1d", "conv2d"], default=defaults.NETWORK, help="the network"
    )
    parser.add_argument(
        "--local-dim",
        type=int,
        default=defaults.LOCAL_DIM,
        help="time-local latents per coarse frame beside z (0: z alone)",
    )
    parser.add_argument(
        "--local-prior",
        choices=defaults.LOCAL_PRIORS,
        default=defaults.LOCAL_PRIOR,
        help="p(u | z): frames independent given z, or autoregressive",
    )
    parser.add_argument(
        "--local-components",
        type=int,
        default=defaults.LOCAL_COMPONENTS,
        help="Gaussians in the mixture of each local frame's prior (1: one)",
    )
    parser.add_argument(
        "--lr-schedule", choices=["cosine", "constant"], default=defaults.LR_SCHEDULE
    )
    parser.add_argument("--learning-rate", type=float, default=defaults.LEARNING_RATE)
    parser.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.WEIGHT_DECAY,
        help="AdamW's weight decay of the network (0: Adam) (default: %(default)s)",
    )
    parser.add_argument(
        "--speeds",
        type=speed.parse_speeds,
        default=defaults.SPEEDS,
        help="speed perturbation of the training clips: each epoch takes each clip at one of "
        "these speeds (pitch and tempo), e.g. 0.9,1.0,1.1 (default: %(default)s)",
    )
    parser.add_argument(
        "--decoder-scale",
        choices=DECODER_SCALES,
        default=defaults.DECODER_SCALE,
        help="the likelihood's scale (see SpectrogramDecoder)",
    )
    parser.add_argument(
        "--models",
        default="standard,mixture",
        help="which of the two to train: standard, mixture or both (comma-separated)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the results, no progress or epochs"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 300 train and 300 test clips, 2 epochs, small figures",
    )
    return defaults.apply_preset(parser.parse_args(argv))


def run_spec(args: argparse.Namespace) -> RunSpec:
    """The runs' common `RunSpec`: the data set, the network, the training budget and the seed
    (the prior is set per model)."""
    root = args.sc09 if args.dataset == "sc09" else args.fsdd
    return RunSpec(
        data=DataSpec(args.dataset, root, limit=QUICK_CLIPS if args.quick else None),
        resolution=ResolutionSpec.from_args(args, args.dataset),
        model=ModelSpec(
            latent_dim=args.latent_dim,
            components_per_class=args.components_per_class,
            network=args.network,
            decoder_scale=args.decoder_scale,
            local_dim=args.local_dim,
            local_prior=args.local_prior,
            local_components=args.local_components,
        ),
        training=TrainingSpec(
            epochs=2 if args.quick else args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            lr_schedule=args.lr_schedule,
            weight_decay=args.weight_decay,
            speeds=args.speeds,
            fit_prior_every=args.fit_prior_every,
        ),
        seed=args.seed,
        preset=args.preset,
    )


def ceiling_row(real: dict[str, Any]) -> dict[str, Any]:
    """The real test audio's judge figures, arranged like a model's results."""
    return {
        "reconstruction": {"judge_accuracy": real["accuracy"], "level_db": 0.0},
        "generation": {
            "unconditional": {
                "inception_score": real["inception_score"],
                "frechet_distance": real["frechet_distance"],
                "level_db": 0.0,
            },
            "conditional": {"accuracy": real["accuracy"]},
        },
    }


def write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def save_wavs(model, test_records, test_waves, label: str, out: Path, seed: int) -> None:
    """WAVs of one model: a test clip per class (where the test clips have one) and its
    reconstruction, ten prior samples."""
    config = model.audio_config()
    wav_dir = out / "wavs" / label
    first = {}
    for i, record in enumerate(test_records):
        first.setdefault(record.label, i)
    labels = sorted(first)
    picks = [first[c] for c in labels]
    names = [model.class_names[c] for c in labels]
    write_wavs(test_waves[picks], wav_dir, [f"original_{n}" for n in names], config.sample_rate)
    write_wavs(
        generation.reconstruct_files(model, [test_records[i].path for i in picks], seed=seed),
        wav_dir,
        [f"reconstruction_{n}" for n in names],
        config.sample_rate,
    )
    write_wavs(
        generation.generate(model, 10, seed=seed),
        wav_dir,
        [f"prior_sample_{i}" for i in range(10)],
        config.sample_rate,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The entry point seeds Python, NumPy and TensorFlow globally; the library itself only takes
    # the explicit seeds passed below.
    keras.utils.set_random_seed(args.seed)
    machine = {"at_start": machine_record()}  # timings compare across machines only with this
    started = time.time()
    out = Path(args.out)
    say = printer(args.quiet)
    spec = run_spec(args)
    data = training_data(spec, cache_dir=args.cache_dir, say=say)
    splits, config = data.splits, data.config
    test_records, class_names = splits.test, splits.class_names
    epochs, k, n_samples = spec.training.epochs, args.k, args.samples
    if args.quick:
        test_records, k, n_samples = pipeline.evenly_spaced(test_records, QUICK_CLIPS), 10, 50
    if say:
        say(f"{splits.name}: {len(splits.train)} train / {len(test_records)} test clips")
    test_data = pipeline.spectrogram_dataset(test_records, config, batch_size=args.batch_size)
    test_waves, test_labels = pipeline.load_waveforms(test_records, config)
    # as many training clips as test clips, scored like them: the bound's generalisation gap
    train_probe = pipeline.spectrogram_dataset(
        pipeline.evenly_spaced(splits.train, len(test_records)), config, batch_size=args.batch_size
    )
    verbose = 0 if args.quiet else 2
    judge = judge_for(spec.data, splits, epochs=2 if args.quick else None, verbose=verbose, say=say)

    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    chosen = set(args.models.split(","))
    if not chosen or not chosen <= {"standard", "mixture"}:
        raise SystemExit(f"--models takes standard, mixture or both, got {args.models!r}")
    variants = {"standard": "standard", "mixture": args.mixture}
    for label, variant in ((k, v) for k, v in variants.items() if k in chosen):
        if say:
            say(f"\n== {label} VAE ({variant} prior), {epochs} epochs")
        tick = time.time()
        if results:  # batches of its own, in the order a run of this model alone sees them
            fresh = train_batches(spec, splits.train, config, cache_dir=args.cache_dir)
            data = dataclasses.replace(data, train=fresh)
        model_spec = dataclasses.replace(spec.model, prior=variant)
        fit_prior_every = spec.training.fit_prior_every if label == "mixture" else 0
        training = dataclasses.replace(spec.training, fit_prior_every=fit_prior_every)
        model = Run(out / label).train(
            dataclasses.replace(spec, model=model_spec, training=training),
            data=data,
            verbose=verbose,
        )
        timings[f"{label}_train_s"] = time.time() - tick
        tick = time.time()
        class_means = class_mean_latents(model, data.train, num_classes=len(class_names))
        results[label] = evaluate(
            model,
            test_waves,
            test_labels,
            judge,
            class_means=class_means,
            k=k,
            n_samples=n_samples,
            seed=args.seed,
            say=say,
        )
        results[label]["training_bound"] = likelihood(model, train_probe, k=1, seed=args.seed)
        if (out / label / HELD_OUT).is_file():
            results[label]["held_out"] = json.loads((out / label / HELD_OUT).read_text())
        timings[f"{label}_evaluate_s"] = time.time() - tick
        with step(say, f"WAVs and figures of the {label} VAE"):
            save_wavs(model, test_records, test_waves, label, out, args.seed)
            plots.plot_model(
                model,
                test_data,
                out / "figures",
                history=out / label,
                prefix=f"{label}_",
                seed=args.seed,
            )
            for digit, word in enumerate(class_names):
                waves = generation.generate(
                    model, 2, labels=[digit] * 2, class_means=class_means, seed=args.seed + digit
                )
                write_wavs(
                    waves,
                    out / "wavs" / label,
                    [f"digit_{word}_{i}" for i in range(2)],
                    config.sample_rate,
                )

    real = next(iter(results.values()))["real_audio"]
    rows = {"real test audio (ceiling)": ceiling_row(real), **results}
    markdown = table(
        [{"model": label, **figures} for label, figures in rows.items()],
        [("model", "model", "{}"), *COLUMNS],
    )
    total = time.time() - started
    machine["at_end"] = machine_record()
    gflops = machine["at_start"]["matmul_gflops_fp32"]
    command = "python examples/compare_priors.py " + " ".join(argv or sys.argv[1:])
    header = (
        f"{splits.name} test split ({len(test_records)} clips; trained on {len(splits.train)}, "
        f"validated on {len(splits.validation)} held out from training), {args.preset} preset: "
        f"{epochs} epochs per model, latent size {args.latent_dim}, seed {args.seed}, IWAE k={k}, "
        f"{n_samples} generated clips per figure, reconstructions refined "
        f"{defaults.REFINE_STEPS} steps. "
        f"Run {datetime.date.today()} on {machine['at_start']['cpu_model']} "
        f"({os.cpu_count()} cores, fp32 matmul {gflops:.0f} GFLOP/s) in {total / 60:.1f} min: "
        f"`{command.strip()}`."
    )
    print("\n" + header + "\n\n" + markdown)
    write_text(out / "results.md", header + "\n\n" + markdown + "\n")
    payload = {
        "command": command.strip(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("fsdd", "out")},
        "date": str(datetime.date.today()),
        "epochs": epochs,
        "seconds": total,
        "machine": machine,
        "timings": timings,
        "results": results,
    }
    write_text(out / "results.json", json.dumps(payload, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
