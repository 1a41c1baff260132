"""The default run's epoch inside `train` against its training steps alone (issue 30's ratio).

    python -m benchmarks.bench_epoch [--epochs 4] [--out benchmarks/results/epoch.json]

One process, the default `RunSpec` on FSDD (``--fsdd``; the train split less its validation
clips, cached in memory as the default run caches it):

- **steps alone**: a model of the default spec takes one traced warm-up pass over the batches,
  then one timed pass of its ``train_step`` (a `tf.function`, as Keras runs it) and nothing else;
- **epochs in train**: another model of the same spec trains ``--epochs`` epochs through
  `training.fit.train` (its checkpoint every epoch, the held-out bound and best checkpoint,
  history, TensorBoard), and each epoch but the first (it traces) and the last (its end runs the
  final refit) is timed from its start to the next one's, so every callback of the epoch counts;
  the mixture's EM refit, every 5th epoch, falls outside ``--epochs`` ≤ 4 and is timed alone
  (`latents.fit_prior`).

Reports seconds per epoch, steps alone and the ratio, plus the refit's seconds and its share of
an epoch when spread over its 5 epochs. Writes JSON with the machine record.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.models.latents import fit_prior  # noqa: E402
from tfp_audio_vae.runs import training_data  # noqa: E402
from tfp_audio_vae.training import fit  # noqa: E402
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """The wall time of each epoch, from its start to the next one's (or to the end)."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, logs: dict | None = None) -> None:
        self.starts.append(time.perf_counter())


def steps_alone(spec: RunSpec, data) -> float:
    """Seconds of one pass of ``train_step`` over the batches, after a traced warm-up pass."""
    model = spec.model.build(data.config, data.splits.class_names, spec.seed)
    rate = fit.learning_rate_schedule(
        spec.training.learning_rate, spec.training.lr_schedule, data.train,
        epochs=spec.training.epochs,
    )  # fmt: skip
    model.compile(optimizer=fit.optimizer(model, rate, defaults.CLIPNORM, 0.0))
    step = tf.function(model.train_step)
    for batch in data.train:  # warm-up: traces, and fills the cache
        step(batch)
    tick = time.perf_counter()
    for batch in data.train:
        logs = step(batch)
    float(logs["loss"])  # waits for the last step
    return time.perf_counter() - tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fsdd", help="FSDD folder (default: $TFP_AUDIO_VAE_FSDD)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs through train (3 or 4)")
    parser.add_argument("--out", default="benchmarks/results/epoch.json")
    args = parser.parse_args(argv)
    if not 3 <= args.epochs <= 4:
        parser.error("--epochs must be 3 or 4 (the refit of every 5th epoch is timed alone)")
    spec = RunSpec(data=DataSpec("fsdd", args.fsdd))
    data = training_data(spec)
    alone = steps_alone(spec, data)
    clock = EpochClock()
    model = spec.model.build(data.config, data.splits.class_names, spec.seed)
    with tempfile.TemporaryDirectory() as run_dir:
        fit.train(model, data.train, run_dir, epochs=args.epochs, validation_data=data.validation,
                  seed=spec.seed, callbacks=[clock], verbose=0, spec=spec)  # fmt: skip
    epochs = np.diff(clock.starts)[1:-1]  # [epochs - 2]: not the first, not the last
    tick = time.perf_counter()
    fit_prior(model, data.train, seed=spec.seed)
    refit = time.perf_counter() - tick
    epoch = float(np.median(epochs))
    result = {
        "steps_per_epoch": int(data.train.cardinality()),
        "steps_alone_s": alone,
        "epoch_in_train_s": epoch,
        "epochs_timed_s": [float(e) for e in epochs],
        "ratio": epoch / alone,
        "prior_refit_s": refit,
        "ratio_with_refit_every_5_epochs": (epoch + refit / defaults.FIT_PRIOR_EVERY) / alone,
        "environment": environment(tf, tfp, keras, np),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(
        f"epoch in train {epoch:.2f} s against {alone:.2f} s of steps alone: {epoch / alone:.2f}x "
        f"({result['ratio_with_refit_every_5_epochs']:.2f}x with the refit of every 5th epoch, "
        f"{refit:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
