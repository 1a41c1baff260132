"""Where a model's Fréchet distance comes from: its decoder, its prior, or neither.

    python -m experiments.fd_sources RUN [RUN ...]

For each trained model (a run folder or ``.keras`` file), through the same Griffin-Lim audio and
the same cached digit judge as `tfp-audio-vae evaluate`, the Fréchet distance (FD) to the FSDD
test clips and the Inception Score (IS) of:

- ``real_train``: 500 real training clips (what real audio scores against the test clips; real
  test halves score under 1);
- ``recon_train``: reconstructions of those 500 training clips from their posterior means: the
  aggregate posterior's own points through the decoder, so what a prior that matched the
  aggregate posterior exactly would reach with this decoder;
- ``recon_test``: reconstructions of the test clips (posterior mean, and refined as `evaluate`
  refines them);
- ``samples``: ``--samples`` prior samples at the default temperature, as `evaluate` makes them;
- with local latents (`VAE.complete`) also ``samples_nearest_u``: the same prior draws of z, each
  with the local latents u of the training clip whose posterior mean z is nearest, in place of
  u ~ p(u | z): what a p(u | z) that drew the training clips' own u would give, with its copy
  distance (``copy_distance_nearest_u``, below): a training clip's u carries much of that clip.

The gap ``samples - recon_train`` is what the prior costs; ``recon_train - real_train`` what the
decoder costs. Copying is checked too, in the judge's feature space: the median distance from each
sample to its nearest training clip's reconstruction (``copy_distance_samples``), beside the same
for the test clips' reconstructions (``copy_distance_test``), which are no copies of training clips.
Samples much nearer to training clips than held-out clips are would be replaying the training set.
One JSON line per model.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram
from tfp_audio_vae.evaluation.scores import frechet_distance, inception_score
from tfp_audio_vae.models.latents import refine_latents
from tfp_audio_vae.synthesis.generation import generate, sample_latents
from tfp_audio_vae.synthesis.waveforms import decode_waveforms

SOURCES = ("real_train", "recon_train", "recon_test", "recon_test_refined", "samples")
LOCAL_SOURCES = ("samples_nearest_u",)  # models with local latents only
COLUMNS: list[harness.Column] = [
    ("run", "run", "{}"),
    *[(f"FD {name}", f"{name}.frechet_distance", "{:.2f}") for name in SOURCES + LOCAL_SOURCES],
    ("copy distance, samples", "copy_distance_samples", "{:.2f}"),
    ("copy distance, nearest u", "copy_distance_nearest_u", "{:.2f}"),
    ("copy distance, test", "copy_distance_test", "{:.2f}"),
]


def codes(model, waves: np.ndarray, refine_steps: int) -> np.ndarray:
    """Waveforms ``[n, samples]`` -> their codes ``[n, code_dim]`` (refined posterior means)."""
    config = model.audio_config()
    return np.concatenate(
        [
            refine_latents(model, waveform_to_spectrogram(waves[i : i + 64], config), refine_steps)
            for i in range(0, len(waves), 64)
        ]
    )


def audio(model, code: np.ndarray) -> np.ndarray:
    """Codes ``[n, code_dim]`` -> audio ``[n, samples]``, batch ``i`` of 64 with Griffin-Lim seed ``i``."""
    return np.concatenate(
        [
            decode_waveforms(model, code[i : i + 64], seed=i, batch_size=64)
            for i in range(0, len(code), 64)
        ]
    )


def reconstructions(model, waves: np.ndarray, refine_steps: int) -> np.ndarray:
    """Waveforms ``[n, samples]`` -> their reconstructions as audio ``[n, samples]``."""
    return audio(model, codes(model, waves, refine_steps))


def with_nearest_u(model, sampled: np.ndarray, train_codes: np.ndarray) -> np.ndarray:
    """Codes ``[n, code_dim]``: the z of ``sampled`` with the u of the row of ``train_codes``
    ``[m, code_dim]`` whose z is nearest."""
    z, train_z = sampled[:, : model.latent_dim], train_codes[:, : model.latent_dim]
    squared = np.sum(z**2, 1)[:, None] - 2 * z @ train_z.T + np.sum(train_z**2, 1)  # [n, m]
    nearest = train_codes[np.argmin(squared, axis=1)]  # [n, code_dim]
    return np.concatenate([z, nearest[:, model.latent_dim :]], axis=1)


def nearest_distances(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``features`` [n, d] to its nearest row of ``reference``."""
    squared = (
        np.sum(features**2, 1)[:, None] - 2 * features @ reference.T + np.sum(reference**2, 1)
    )  # [n, m]
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def sources(loaded: harness.Loaded, train_clips: int, samples: int, seed: int) -> dict[str, Any]:
    """The FD and IS of each audio set above, and the copy distances, for one model."""
    model, judge, test_waves = loaded.model, loaded.judge, loaded.waves
    train_waves, _ = loaded.train_waves(train_clips)
    real = judge.features(test_waves)  # [n, d]

    def scores(waves: np.ndarray) -> dict[str, float]:
        return {
            "frechet_distance": frechet_distance(judge.features(waves), real),
            "inception_score": inception_score(judge.predict_proba(waves)),
        }

    train_codes = codes(model, train_waves, 0)  # [m, code_dim]
    recon_train = audio(model, train_codes)
    recon_test = reconstructions(model, test_waves, 0)
    generated = generate(model, samples, seed=seed)
    train_features = judge.features(recon_train)
    local = {}
    if model.code_dim > model.latent_dim:
        sampled = sample_latents(model, samples, seed=seed).numpy()  # as `generate` draws them
        nearest_u = audio(model, with_nearest_u(model, sampled, train_codes))
        local["samples_nearest_u"] = scores(nearest_u)
        local["copy_distance_nearest_u"] = float(
            np.median(nearest_distances(judge.features(nearest_u), train_features))
        )
    return {
        **local,
        "run": loaded.name,
        "real_train": scores(train_waves),
        "recon_train": scores(recon_train),
        "recon_test": scores(recon_test),
        "recon_test_refined": scores(reconstructions(model, test_waves, defaults.REFINE_STEPS)),
        "samples": scores(generated),
        "copy_distance_samples": float(
            np.median(nearest_distances(judge.features(generated), train_features))
        ),
        "copy_distance_test": float(
            np.median(nearest_distances(judge.features(recon_test), train_features))
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "fd_sources.jsonl", runs=True)
    parser.add_argument("--train-clips", type=int, default=500)
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    args = parser.parse_args(argv)
    return harness.each_run(
        args,
        lambda loaded: [sources(loaded, args.train_clips, args.samples, args.seed)],
        COLUMNS,
        {"train_clips": args.train_clips, "samples": args.samples, "seed": args.seed},
    )


if __name__ == "__main__":
    sys.exit(main())
