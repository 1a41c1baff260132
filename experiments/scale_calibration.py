"""What the likelihood's scale does to the nats: one scale per frequency bin, or per bin and level.

    python -m experiments.scale_calibration RUN [RUN ...] [--levels 4,8,16]

Each ``RUN`` is a run folder with validation clips. Its network is kept as it is; only the
scale of p(x | z) changes, each fitted on the validation clips (one posterior draw per clip,
closed-form maximum likelihood, floored at the decoder's ``scale_floor``) and then used to score
the test clips' −ELBO (KL to the marginal prior, as `metrics.likelihood` scores them):

- ``training's``: the scale training left, a running average of the training batches' per-bin
  RMS error (read from the run's last epoch checkpoint): what the package scored with before
  the calibration;
- ``per bin``: one scale per frequency bin, what `models.held_out.calibrate_scale` keeps (the
  package's calibration);
- ``per bin and level, L levels``: one scale per frequency bin and per band of the decoder's
  predicted log-magnitude (the validation cells' quantiles cut it into ``L`` bands), so that
  silent cells, which the network predicts almost exactly, get their own small scale.

It shows how much of a likelihood over these log-spectrograms is the silence's: the share of
test cells whose scale sits at the floor is reported beside the nats. One JSON line per run.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from experiments import harness
from tfp_audio_vae.seeds import stateless_seed

RUNNING_SCALE = "model/decoder/running_scale/.ATTRIBUTES/VARIABLE_VALUE"
"""The decoder's running scale in an epoch checkpoint of `training.fit.train`."""
COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    ("test −ELBO, training's scale", "training_scale.neg_elbo", "{:.0f}"),
    ("per bin", "per_bin.neg_elbo", "{:.0f}"),
    ("per bin and level, 4", "levels.4.neg_elbo", "{:.0f}"),
    ("8", "levels.8.neg_elbo", "{:.0f}"),
    ("16", "levels.16.neg_elbo", "{:.0f}"),
    ("cells at the floor (16)", "levels.16.floored_share", "{:.1%}"),
]


def draws(model, batches, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectrograms ``[n, freq, time]``, the decoder's locations at one posterior draw each
    (batch ``i`` from the stateless seed ``(seed, i)``) and the KL to the marginal prior ``[n]``."""
    xs, locs, kls = [], [], []
    for i, batch in enumerate(batches):
        x = batch["spectrogram"]
        posterior = model.encode(x)
        z = posterior.sample(1, seed=stateless_seed((seed, i)))  # [1, b, latent]
        locs.append(model.decode(z[0]).mean().numpy()[..., 0])
        kls.append(model.kl_divergence(posterior, model.prior.distribution(None), z).numpy())
        xs.append(x.numpy()[..., 0])
    return np.concatenate(xs), np.concatenate(locs), np.concatenate(kls)


def neg_elbo(x: np.ndarray, loc: np.ndarray, scale: np.ndarray, kl: np.ndarray) -> float:
    """Mean −ELBO (nats per clip) of Normal(loc, scale) cells plus the KL."""
    nll = 0.5 * ((x - loc) / scale) ** 2 + np.log(scale) + 0.5 * math.log(2 * math.pi)
    return float(np.mean(nll.sum(axis=(1, 2)) + kl))


def level_scales(square: np.ndarray, bands: np.ndarray, levels: int, floor: float) -> np.ndarray:
    """``[freq, levels]`` RMS residual per bin and band (the band's over all bins where a bin has
    under 50 cells in it), floored."""
    table = np.empty((square.shape[1], levels))
    for band in range(levels):
        inside = bands == band  # [n, freq, time]
        cells = inside.sum(axis=(0, 2))
        pooled = math.sqrt((square * inside).sum() / max(inside.sum(), 1))
        per_bin = np.sqrt((square * inside).sum(axis=(0, 2)) / np.maximum(cells, 1))
        table[:, band] = np.where(cells >= 50, per_bin, pooled)
    return np.maximum(table, floor)


def measure(loaded: harness.Loaded, levels: list[int], seed: int) -> dict[str, Any]:
    import tensorflow as tf  # after the harness has quieted its start-up

    model = loaded.model
    floor = model.decoder.scale_floor
    xv, lv, _ = draws(model, loaded.validation_batches(), seed)
    xt, lt, kt = draws(model, loaded.test_batches(), seed + 1)
    square = (xv - lv) ** 2  # [n, freq, time]
    per_bin = np.maximum(np.sqrt(square.mean(axis=(0, 2))), floor)[None, :, None]
    last_epoch = tf.train.latest_checkpoint(loaded.run.folder / "checkpoints")
    running = tf.train.load_variable(last_epoch, RUNNING_SCALE).reshape(1, -1, 1)
    row = {
        "run": loaded.name,
        "training_scale": {"neg_elbo": neg_elbo(xt, lt, running, kt)},
        "per_bin": {"neg_elbo": neg_elbo(xt, lt, per_bin, kt)},
        "levels": {},
    }
    bins = np.arange(xt.shape[1])[None, :, None]
    for count in levels:
        edges = np.quantile(lv, np.linspace(0, 1, count + 1)[1:-1])
        table = level_scales(square, np.digitize(lv, edges), count, floor)
        scale = table[bins, np.digitize(lt, edges)]  # [n, freq, time]
        row["levels"][str(count)] = {
            "neg_elbo": neg_elbo(xt, lt, scale, kt),
            "floored_share": float(np.mean(scale <= floor)),
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "held_out/scale_calibration.jsonl", runs=True)
    parser.add_argument("--levels", default="4,8,16", help="comma-separated band counts")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    settings = {"levels": levels, "seed": args.seed}
    return harness.each_run(
        args, lambda loaded: [measure(loaded, levels, args.seed)], COLUMNS, settings
    )


if __name__ == "__main__":
    sys.exit(main())
