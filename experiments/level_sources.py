"""Where the output level goes: one model's audio level under each way of turning p(x | z) into a
magnitude, against the real clips.

    python -m experiments.level_sources RUN [RUN ...]

For each model (a run folder or ``model.keras`` trained on FSDD), the median level (dB, 0 is as
loud as the data: `scores.level_difference_db`) of its reconstructions of the test clips and
of ``--samples`` prior samples (temperature `defaults.TEMPERATURE`), all through Griffin-Lim, with the
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

import sys

import numpy as np
import tensorflow as tf

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram
from tfp_audio_vae.evaluation.scores import level_difference_db
from tfp_audio_vae.models.level import calibrate_level
from tfp_audio_vae.synthesis.generation import sample_latents
from tfp_audio_vae.synthesis.waveforms import spectrogram_to_waveform

TRAIN_CLIPS = 300
SHIFTS = ("median", "normal_scale", "normal_test_rms (oracle)", "smearing_train",
          "smearing_test (oracle)")  # fmt: skip
COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    *[(f"recon., {name} (dB)", f"reconstructions_db.{name}", "{:+.1f}") for name in SHIFTS],
    *[(f"samples, {name} (dB)", f"samples_db.{name}", "{:+.1f}") for name in SHIFTS],
    ("true magnitudes (dB)", "true_magnitudes_db", "{:+.1f}"),
]


def levels(loaded: harness.Loaded, samples: int, seed: int) -> dict:
    """The level of the run's reconstructions and samples under each shift, in dB."""
    model = loaded.model
    config = model.audio_config()
    std = np.asarray(config.std, np.float64)  # [freq]
    test_waves = loaded.waves
    train_waves, _ = loaded.train_waves(TRAIN_CLIPS)

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
    z = sample_latents(model, samples, seed=seed)
    loc_samples = model.decode(z).distribution.loc.numpy()[..., 0]

    def level(loc: np.ndarray, shift_nats: np.ndarray) -> float:
        """dB of exp(mu_L + shift) through Griffin-Lim against the test clips' level."""
        spectrogram = (loc + (shift_nats / std)[None, :, None])[..., None]
        waves = spectrogram_to_waveform(
            tf.constant(spectrogram, tf.float32), config, n_iter=defaults.GRIFFIN_LIM_ITERATIONS,
            seed=seed,
        ).numpy()  # fmt: skip
        return level_difference_db(waves, test_waves)

    shifts = {  # SHIFTS, in nats per bin
        "median": np.zeros_like(std),
        "normal_scale": (scale * std) ** 2,
        "normal_test_rms (oracle)": np.mean(e_test**2, axis=(0, 2)) * std**2,
        "smearing_train": smearing_train,
        "smearing_test (oracle)": smearing_test,
    }
    return {
        "run": loaded.name,
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
    parser = harness.parser(__doc__, "level_sources.jsonl", runs=True)
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    args = parser.parse_args(argv)
    return harness.each_run(
        args,
        lambda loaded: [levels(loaded, args.samples, args.seed)],
        COLUMNS,
        {"samples": args.samples, "seed": args.seed},
    )


if __name__ == "__main__":
    sys.exit(main())
