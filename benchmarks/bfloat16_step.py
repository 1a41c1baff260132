"""The default VAE's training step in float32 and under Keras' ``mixed_bfloat16`` policy.

    python -m benchmarks.bfloat16_step [--rounds 7] [--steps 10] [--out PATH]

Both models are `build_vae`'s default (conditional mixture prior, `Conv1DEncoder`,
`Conv1DDecoder`, latent 64) on one fixed random batch of `defaults.BATCH_SIZE` spectrograms.
TFP's distributions refuse to mix bfloat16 parameters with float32 ones, so for the bfloat16
model this script casts the encoder's and decoder's distribution parameters to float32 before
the distributions are built (the convolutions and dense layers run in bfloat16, with float32
weights, as Keras' mixed policy does); the package itself builds float32 models only. Each step
is traced and warmed up, then the two alternate over ``--rounds`` rounds (order flipping), so
machine load hits both alike. Reports the median ms per step of each and their ratio, with the
machine record (`tfp_audio_vae.machine`), and appends it as a JSON line to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.environment import append_jsonl, environment  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402
from tfp_audio_vae.models import decoders, encoders  # noqa: E402
from tfp_audio_vae.models.variants import build_vae  # noqa: E402

POLICIES = ("float32", "mixed_bfloat16")


def float32_distributions() -> None:
    """Casts distribution parameters to float32 before TFP sees them (a no-op in float32): the
    encoder's, and the decoder's location and scale (inside a layer's call Keras hands float32
    variables, such as the σ-VAE's running scale, over as bfloat16)."""
    posterior, normal = encoders.diagonal_posterior, decoders._normal

    def cast_posterior(params: tf.Tensor, scale_floor: float):
        return posterior(tf.cast(params, tf.float32), scale_floor)

    def cast_normal(loc: tf.Tensor, scale: tf.Tensor):
        return normal(tf.cast(loc, tf.float32), tf.cast(scale, tf.float32))

    encoders.diagonal_posterior = cast_posterior
    decoders._normal = cast_normal


def train_step(policy: str, config: SpectrogramConfig):
    """A warmed-up traced training step of the default model under ``policy``, and its batch."""
    keras.config.set_dtype_policy(policy)
    try:
        model = build_vae(config, seed=0)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=defaults.CLIPNORM))
    batch = {
        "spectrogram": tf.random.stateless_normal(
            [defaults.BATCH_SIZE, *config.shape], seed=(0, 0)
        ),
        "label": tf.range(defaults.BATCH_SIZE) % defaults.NUM_CLASSES,
    }
    step = tf.function(model.train_step)
    for _ in range(3):
        loss = float(step(batch)["loss"])
    if not np.isfinite(loss):
        raise RuntimeError(f"{policy}: the loss is {loss}")
    return step, batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model per round")
    parser.add_argument("--out", default="benchmarks/results/bfloat16_step.jsonl")
    args = parser.parse_args(argv)
    float32_distributions()
    config = SpectrogramConfig(mean=(0.0,) * 128, std=(1.0,) * 128)
    steps = {policy: train_step(policy, config) for policy in POLICIES}
    before = environment(tf, keras)
    times: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    for r in range(args.rounds):
        for policy in POLICIES if r % 2 == 0 else POLICIES[::-1]:
            step, batch = steps[policy]
            tick = time.perf_counter()
            for _ in range(args.steps):
                out = step(batch)
            float(out["loss"])
            times[policy].append(1000.0 * (time.perf_counter() - tick) / args.steps)
    median = {policy: float(np.median(t)) for policy, t in times.items()}
    record = {
        "command": " ".join(["python -m benchmarks.bfloat16_step", *(argv or sys.argv[1:])]),
        "batch_size": defaults.BATCH_SIZE,
        "ms_per_step": median,
        "ms_per_step_rounds": times,
        "float32_over_bfloat16": median["float32"] / median["mixed_bfloat16"],
        "environment_before": before,
        "environment_after": environment(),
    }
    append_jsonl(args.out, record)
    print(
        f"float32 {median['float32']:.1f} ms, mixed_bfloat16 {median['mixed_bfloat16']:.1f} ms "
        f"a step: {record['float32_over_bfloat16']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
