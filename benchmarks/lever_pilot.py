"""One lever on the default mixture VAE: train it as `tfp-audio-vae train` does, judge it as
`tfp-audio-vae evaluate` does, and log one JSON line.

    python benchmarks/lever_pilot.py RUN_DIR                        # the defaults (the baseline)
    python benchmarks/lever_pilot.py RUN_DIR --beta 0.5             # KL weight 0.5
    python benchmarks/lever_pilot.py RUN_DIR --decoder-head 256     # a per-frame SiLU layer
    python benchmarks/lever_pilot.py RUN_DIR --learning-rate 4e-3 --seed 1
    python benchmarks/lever_pilot.py --table docs/data/lever_pilots.jsonl  # the pilots as Markdown

The model is `build_vae`'s default (conditional mixture prior, `Conv1DEncoder`, `Conv1DDecoder`,
the σ-VAE scale, latent 64) on the FSDD train split, with the test split as validation data, the
EM refits of `train`, and the level calibration at the end; only the options given differ. It is
then evaluated by the real command line (``tfp-audio-vae evaluate RUN_DIR``: reconstructions
from refined latents, IS, FD, digit samples at the default temperature, −IWAE), beside the
real-audio ceiling of the same cached judge. One JSON line goes to ``--out``: the command, the
settings, training and evaluation seconds, the machine record (`tfp_audio_vae.machine`) and
every figure of ``metrics.json``. The runs behind the results page's pilot table are in
``docs/data/lever_pilots.jsonl``.

``--decoder-head`` is the one lever here that the package does not carry: `HeadConv1DDecoder`
below adds per-frame 1x1 SiLU layers between the last upsampling block and the spectrum readout
(measured, and not adopted: ``docs/results.md``). The evaluation imports this file to load it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.models.decoders import Conv1DDecoder  # noqa: E402
from tfp_audio_vae.seeds import glorot_uniform  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@keras.saving.register_keras_serializable(package="lever_pilot")
class HeadConv1DDecoder(Conv1DDecoder):
    """`Conv1DDecoder` with per-frame 1x1 SiLU convolutions of ``head`` channels between the last
    upsampling block ``[batch, time, filters[-1]]`` and the spectrum readout."""

    def __init__(self, *args: Any, head: Sequence[int] = (256,), **kwargs: Any) -> None:
        self.head = tuple(int(h) for h in head)
        seed = int(kwargs.get("seed", 0))
        self.head_layers = [
            keras.layers.Conv1D(
                h, 1, activation="silu", kernel_initializer=glorot_uniform(seed, "head", i)
            )
            for i, h in enumerate(self.head)
        ]
        super().__init__(*args, **kwargs)

    def call(self, z: tf.Tensor):
        """z ``[batch, latent]`` -> p(x | z), event ``[freq, time, 1]``."""
        freq, time_, _ = self.spectrogram_shape
        h = tf.reshape(self.from_latent(z), [-1, *self.grid])  # [batch, time / 2^L, filters[0]]
        for layer in [*self.blocks, *self.head_layers]:
            h = layer(h)  # [batch, time', channels]
        frames = tf.reshape(self.to_params(h), [-1, time_, self.params_per_cell, freq])
        return self.likelihood(tf.transpose(frames, [0, 3, 1, 2]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "head": list(self.head)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--table", help="print the pilots of this JSON-lines file as Markdown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=defaults.EPOCHS)
    parser.add_argument("--learning-rate", type=float, default=defaults.LEARNING_RATE)
    parser.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    parser.add_argument("--beta", type=float, default=1.0, help="KL weight (1: the ELBO)")
    parser.add_argument("--latent-dim", type=int, default=defaults.LATENT_DIM)
    parser.add_argument("--components-per-class", type=int, default=defaults.COMPONENTS_PER_CLASS)
    parser.add_argument(
        "--decoder-head",
        default="",
        help="channels of per-frame SiLU layers before the readout, e.g. 256 (default: none)",
    )
    parser.add_argument("--out", default="benchmarks/results/lever_pilots.jsonl")
    return parser.parse_args(argv)


def train_pilot(args: argparse.Namespace) -> float:
    """Trains the pilot into ``args.run_dir``; returns the training seconds."""
    from tfp_audio_vae.data import fsdd, pipeline
    from tfp_audio_vae.data.spectrogram import SpectrogramConfig
    from tfp_audio_vae.models.variants import build_vae
    from tfp_audio_vae.training.fit import refit_period, train

    root = fsdd.locate()
    train_files, test_files = fsdd.records(root, "train"), fsdd.records(root, "test")
    config = pipeline.fit_normalisation(train_files, SpectrogramConfig())
    batches = {"config": config, "batch_size": args.batch_size}
    data = pipeline.spectrogram_dataset(train_files, shuffle=True, seed=args.seed, **batches)
    model = build_vae(
        config,
        latent_dim=args.latent_dim,
        components_per_class=args.components_per_class,
        class_names=tuple(str(d) for d in range(fsdd.NUM_DIGITS)),
        seed=args.seed,
        beta=args.beta,
    )
    if args.decoder_head:  # the same model, its decoder with the head
        head = [int(h) for h in args.decoder_head.split(",")]
        decoder = HeadConv1DDecoder.from_config({**model.decoder.get_config(), "head": head})
        settings = model.get_config()
        for part in ("name", "encoder", "decoder", "prior", "spectrogram_config"):
            settings.pop(part)
        model = type(model)(
            model.encoder, decoder, model.prior, spectrogram_config=config, **settings
        )
    tick = time.perf_counter()
    train(
        model,
        data,
        args.run_dir,
        epochs=args.epochs,
        validation_data=pipeline.spectrogram_dataset(test_files, **batches),
        learning_rate=args.learning_rate,
        fit_prior_every=refit_period(model, None),
        seed=args.seed,
        verbose=2,
    )
    return time.perf_counter() - tick


def markdown_table(path: str) -> str:
    """The pilots of a JSON-lines file as a Markdown table, one row each, in file order."""
    rows = [
        "| pilot | seed | training s | recon. judged | recon. LSD (dB) | IS | FD | digit samples "
        "| recon. / sample level (dB) | test −IWAE (nats) | KL (nats) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for line in Path(path).read_text().splitlines():
        pilot = json.loads(line)
        m = pilot["metrics"]
        recon, prior = m["reconstruction"], m["generation"]["unconditional"]
        rows.append(
            f"| {pilot.get('pilot', pilot['command'])} | {pilot['settings']['seed']} "
            f"| {pilot['train_s']:.0f} | {recon['judge_accuracy']:.1%} "
            f"| {recon['log_spectral_distance_db']:.2f} | {prior['inception_score']:.2f} "
            f"| {prior['frechet_distance']:.2f} | {m['generation']['conditional']['accuracy']:.1%} "
            f"| {recon['level_db']:+.1f} / {prior['level_db']:+.1f} "
            f"| {m['likelihood']['neg_iwae']:,.0f} | {m['likelihood']['kl']:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.table:
        print(markdown_table(args.table))
        return 0
    if not args.run_dir:
        raise SystemExit("give RUN_DIR (or --table FILE)")
    sys.path.insert(0, str(Path(__file__).parent))
    from environment import append_jsonl, environment  # benchmarks/environment.py

    record: dict[str, Any] = {
        "command": " ".join(["python benchmarks/lever_pilot.py", *(argv or sys.argv[1:])]),
        "settings": {k: v for k, v in vars(args).items() if k not in ("run_dir", "out")},
        "environment_before": environment(tf, keras),
    }
    record["train_s"] = train_pilot(args)
    tick = time.perf_counter()
    cli = Path(sys.executable).with_name("tfp-audio-vae")
    subprocess.run(
        [str(cli), "evaluate", args.run_dir, "--seed", str(args.seed), "--import", __file__],
        check=True,
        cwd=REPO_ROOT,
    )
    record["evaluate_s"] = time.perf_counter() - tick
    record["environment_after"] = environment()
    record["metrics"] = json.loads((Path(args.run_dir) / "metrics.json").read_text())
    append_jsonl(args.out, record)
    print(json.dumps({k: record[k] for k in ("command", "train_s", "evaluate_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
