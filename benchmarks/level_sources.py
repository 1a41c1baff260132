"""Where the output level goes: one model's audio level under each way of turning p(x | z) into a
magnitude, against the real clips.

    python benchmarks/level_sources.py RUN [RUN ...] --out benchmarks/results/level_sources.jsonl

For each model (a run folder or ``model.keras`` trained on FSDD), the median level (dB, 0 is as
loud as the data: `scores.level_difference_db`) of its reconstructions of the 300 test clips and
of 300 prior samples (temperature `defaults.TEMPERATURE`), all through Griffin-Lim, with the
log-magnitude mean mu_L plus, per frequency bin:

- nothing (``median``: exp(mu_L));
- s_L^2, the decoder's Normal scale (``power`` without a level calibration);
- the same with s_L measured as the test clips' RMS residual (an oracle: what a perfectly
  calibrated Normal would give);
- the smearing estimate 0.5 log mean exp(2 e) of the residuals e of 300 training clips (``power``
  with `level.calibrate_level`, on a subset), and of the test clips themselves (an oracle).

Also the true magnitudes through the same Griffin-Lim (its own loss, about 0 dB), and the RMS
residual of training and test clips (normalised units). One JSON line per model.
"""

from __future__ import annotations

import argparse
import json
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
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram  # noqa: E402
from tfp_audio_vae.evaluation.scores import level_difference_db  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402
from tfp_audio_vae.synthesis.generation import sample_latents  # noqa: E402
from tfp_audio_vae.synthesis.level import calibrate_level  # noqa: E402
from tfp_audio_vae.synthesis.waveforms import spectrogram_to_waveform  # noqa: E402


def levels(run: str, seed: int) -> dict:
    path = Path(run) / "model.keras" if Path(run).is_dir() else Path(run)
    model = load_model(path)
    config = model.audio_config()
    std = np.asarray(config.std, np.float64)  # [freq]
    root = fsdd.locate(None)
    test_waves, _ = pipeline.load_waveforms(fsdd.records(root, "test"), config)
    train_waves, _ = pipeline.load_waveforms(fsdd.records(root, "train")[::9], config)

    def decoded(waves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = waveform_to_spectrogram(waves, config)  # [n, freq, time, 1]
        normal = model.decode(model.encode(x).mean()).distribution
        loc = normal.loc.numpy()
        scale = np.broadcast_to(normal.scale.numpy(), loc.shape)[0, :, 0, 0]  # [freq]
        # the package's calibration on these clips: 0.5 log mean exp(2 e) per bin, in nats
        smearing = calibrate_level(
            model, tf.data.Dataset.from_tensor_slices({"spectrogram": x}).batch(64)
        )
        return x.numpy()[..., 0], loc[..., 0], scale, smearing

    x_test, loc_test, scale, smearing_test = decoded(test_waves)
    x_train, loc_train, _, smearing_train = decoded(train_waves)
    e_test, e_train = x_test - loc_test, x_train - loc_train  # [n, freq, time]
    z = sample_latents(model, 300, seed=seed)
    loc_samples = model.decode(z).distribution.loc.numpy()[..., 0]

    def level(loc: np.ndarray, shift_nats: np.ndarray) -> float:
        """dB of exp(mu_L + shift) through Griffin-Lim against the test clips' level."""
        spectrogram = (loc + (shift_nats / std)[None, :, None])[..., None]
        waves = spectrogram_to_waveform(
            tf.constant(spectrogram, tf.float32), config, n_iter=defaults.GRIFFIN_LIM_ITERATIONS,
            seed=seed,
        ).numpy()  # fmt: skip
        return level_difference_db(waves, test_waves)

    shifts = {
        "median": np.zeros_like(std),
        "normal_scale": (scale * std) ** 2,
        "normal_test_rms (oracle)": np.mean(e_test**2, axis=(0, 2)) * std**2,
        "smearing_train": smearing_train,
        "smearing_test (oracle)": smearing_test,
    }
    return {
        "run": str(path),
        "reconstructions_db": {name: level(loc_test, s) for name, s in shifts.items()},
        "samples_db": {name: level(loc_samples, s) for name, s in shifts.items()},
        "true_magnitudes_db": level(x_test, np.zeros_like(std)),
        "rms_residual": {
            "train": float(np.sqrt(np.mean(e_train**2))),
            "test": float(np.sqrt(np.mean(e_test**2))),
        },
        "decoder_scale": float(np.mean(scale)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders or model.keras files")
    parser.add_argument("--seed", type=int, default=0, help="of the samples and Griffin-Lim")
    parser.add_argument("--out", default="benchmarks/results/level_sources.jsonl")
    args = parser.parse_args(argv)
    for run in args.runs:
        line = {
            **levels(run, args.seed),
            "command": "python benchmarks/level_sources.py " + " ".join(argv or sys.argv[1:]),
            "environment": environment(tf, tfp, np),
        }
        print(json.dumps({k: line[k] for k in ("run", "reconstructions_db", "samples_db")}))
        append_jsonl(args.out, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
