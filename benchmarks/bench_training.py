"""Training throughput of the package's default VAE against the original FSDD VAE's network.

    python -m benchmarks.bench_training [--steps 30] [--rounds 3] [--warmup 2] [--out PATH]

Ours is `tfp_audio_vae.models.variants.build_vae` with the ``"standard"`` prior: `ConvEncoder` and
`ConvDecoder` on 128 x 128 x 1 log-STFTs, latent 32. The original is the network of the FSDD
sound-generation VAE that earlier projects trained on 256 x 64 x 1 spectrograms (n_fft 512, hop
256 at 22,050 Hz): five convolutions of 512, 256, 128, 64, 32 filters, kernel 3, strides
2, 2, 2, 2, (2, 1), each followed by ReLU and batch normalisation; latent 128; the decoder its
mirror in transposed convolutions, ending in one sigmoid channel. It is rebuilt below as two
Keras layers that return the package's distribution types, so both train through the same
`tfp_audio_vae.models.vae.VAE.train_step` (Gaussian likelihood + analytic KL to N(0, I)) with Adam 1e-3.

Both train on one fixed random batch of 64 of their own input shape, so no input pipeline is
timed. Each model's step is traced and run ``--warmup`` times untimed; then ``--rounds`` rounds
alternate the two models (the order flips every round), timing ``--steps`` steps of each, and the
medians are reported. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402
from tfp_audio_vae.models.priors import StandardNormalPrior  # noqa: E402
from tfp_audio_vae.models.vae import VAE  # noqa: E402
from tfp_audio_vae.models.variants import build_vae  # noqa: E402

tfd = tfp.distributions

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 64
ORIGINAL_SHAPE = (256, 64, 1)
ORIGINAL_FILTERS = (512, 256, 128, 64, 32)
ORIGINAL_STRIDES = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 1))
ORIGINAL_LATENT = 128


class OriginalEncoder(keras.layers.Layer):
    """The original FSDD VAE's encoder: x ``[batch, 256, 64, 1]`` -> q(z | x) over ``[128]``.

    Conv2D -> ReLU -> BatchNorm per block; dense layers give the posterior's mean and log-variance,
    as in that project. ``training`` defaults to True: the benchmark only trains, and the original
    trained its batch normalisation with batch statistics.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.convs = [
            keras.layers.Conv2D(f, 3, strides=s, padding="same")
            for f, s in zip(ORIGINAL_FILTERS, ORIGINAL_STRIDES, strict=True)
        ]
        self.norms = [keras.layers.BatchNormalization() for _ in ORIGINAL_FILTERS]
        self.flatten = keras.layers.Flatten()
        self.to_mean = keras.layers.Dense(ORIGINAL_LATENT)
        self.to_log_variance = keras.layers.Dense(ORIGINAL_LATENT)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, *input_shape[1:]]))  # creates every sub-layer's weights

    def call(self, x: tf.Tensor, training: bool = True) -> tfd.MultivariateNormalDiag:
        h = x  # [batch, 256, 64, 1]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(tf.nn.relu(conv(h)), training=training)  # last: [batch, 8, 4, 32]
        h = self.flatten(h)  # [batch, 1024]
        mean, log_variance = self.to_mean(h), self.to_log_variance(h)  # [batch, 128] each
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_variance))


class OriginalDecoder(keras.layers.Layer):
    """The original FSDD VAE's decoder: z ``[batch, 128]`` -> p(x | z) over ``[256, 64, 1]``.

    The encoder's mirror: a dense layer to the ``[8, 4, 32]`` grid, Conv2DTranspose -> ReLU ->
    BatchNorm with 32, 64, 128, 256 filters, then one Conv2DTranspose to a single sigmoid channel;
    the likelihood is ``Independent(Normal(loc, 1), 3)`` (the original's MSE, up to constants).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        freq, time_, _ = ORIGINAL_SHAPE
        for sf, st in ORIGINAL_STRIDES:
            freq, time_ = freq // sf, time_ // st
        self.grid = (freq, time_, ORIGINAL_FILTERS[-1])  # (8, 4, 32)
        self.from_latent = keras.layers.Dense(freq * time_ * ORIGINAL_FILTERS[-1])
        mirrored = list(zip(ORIGINAL_FILTERS[1:], ORIGINAL_STRIDES[1:], strict=True))[::-1]
        self.convs = [
            keras.layers.Conv2DTranspose(f, 3, strides=s, padding="same") for f, s in mirrored
        ]
        self.norms = [keras.layers.BatchNormalization() for _ in mirrored]
        self.to_loc = keras.layers.Conv2DTranspose(
            1, 3, strides=ORIGINAL_STRIDES[0], padding="same", activation="sigmoid"
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.call(tf.zeros([1, input_shape[-1]]))  # creates every sub-layer's weights

    def call(self, z: tf.Tensor, training: bool = True) -> tfd.Independent:
        h = tf.reshape(self.from_latent(z), [-1, *self.grid])  # [batch, 8, 4, 32]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(tf.nn.relu(conv(h)), training=training)  # last: [batch, 128, 32, 256]
        loc = self.to_loc(h)  # [batch, 256, 64, 1]
        return tfd.Independent(tfd.Normal(loc=loc, scale=1.0), reinterpreted_batch_ndims=3)


def build_original() -> VAE:
    return VAE(
        OriginalEncoder(),
        OriginalDecoder(),
        StandardNormalPrior(ORIGINAL_LATENT),
        kl="analytic",
        input_shape=ORIGINAL_SHAPE,
    )


def build_ours() -> VAE:
    freq_bins = SpectrogramConfig().freq_bins
    config = SpectrogramConfig(mean=(0.0,) * freq_bins, std=(1.0,) * freq_bins)  # dummy stats
    return build_vae(config, "standard")


def trainer(model: VAE, batch: tf.Tensor) -> Callable[[int], float]:
    """Compiles ``model`` with Adam 1e-3 and returns ``run(steps)``: seconds for ``steps`` steps."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    train_step = tf.function(model.train_step)  # the step `fit` runs (no XLA on CPU, as fit)

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            logs = train_step(batch)
        float(logs["loss"])  # the last step's result is ready
        return time.perf_counter() - start

    return run


def parameter_counts(model: VAE) -> dict[str, int]:
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    return {"trainable": trainable, "total": int(model.count_params())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "training.json"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after tracing")
    args = parser.parse_args()
    env = environment(tf, tfp, keras, np)

    rng = np.random.default_rng(0)
    ours, original = build_ours(), build_original()
    ours_batch = tf.constant(rng.standard_normal((BATCH, *ours.spectrogram_shape)), tf.float32)
    original_batch = tf.constant(rng.uniform(size=(BATCH, *ORIGINAL_SHAPE)), tf.float32)
    runs = {"ours": trainer(ours, ours_batch), "original": trainer(original, original_batch)}
    for run in runs.values():
        run(1 + args.warmup)  # traces, then warms up

    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
        for name in order:
            seconds[name].append(runs[name](args.steps))
            rate = BATCH * args.steps / seconds[name][-1]
            print(f"round {round_ + 1}/{args.rounds} {name:>8}: {rate:8.1f} examples/s", flush=True)

    models = {"ours": ours, "original": original}
    shapes = {"ours": list(ours.spectrogram_shape), "original": list(ORIGINAL_SHAPE)}
    latents = {"ours": ours.latent_dim, "original": ORIGINAL_LATENT}
    report = {}
    for name, times in seconds.items():
        rates = [BATCH * args.steps / s for s in times]
        report[name] = {
            "input_shape": shapes[name],
            "latent_dim": latents[name],
            "parameters": parameter_counts(models[name]),
            "seconds_per_round": times,
            "examples_per_s_per_round": rates,
            "examples_per_s_median": statistics.median(rates),
            "ms_per_step_median": 1e3 * statistics.median(times) / args.steps,
        }
    ratios = [
        o / g
        for o, g in zip(seconds["original"], seconds["ours"], strict=True)  # same round
    ]
    result = {
        "settings": {
            "batch_size": BATCH,
            "optimizer": "Adam(1e-3)",
            "timed_steps_per_round": args.steps,
            "rounds": args.rounds,
            "warmup_steps": args.warmup,
        },
        **report,
        "speedup_ours_over_original": {
            "median_of_rates": report["ours"]["examples_per_s_median"]
            / report["original"]["examples_per_s_median"],
            "per_round": ratios,
            "target": 5.0,
        },
        "environment": env,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    speedup = result["speedup_ours_over_original"]["median_of_rates"]
    print(
        f"batch {BATCH}, {args.steps} steps x {args.rounds} rounds, {os.cpu_count()} CPUs "
        f"(medians)\n"
        f"  ours     {shapes['ours']}: {report['ours']['examples_per_s_median']:.1f} examples/s, "
        f"{report['ours']['parameters']['total']:,} parameters\n"
        f"  original {shapes['original']}: "
        f"{report['original']['examples_per_s_median']:.1f} examples/s, "
        f"{report['original']['parameters']['total']:,} parameters\n"
        f"  ours / original: {speedup:.1f}x (target >= 5x) -> {args.out}"
    )


if __name__ == "__main__":
    main()
