"""Where a model's Fréchet distance comes from: its decoder, its prior, or neither.

    python benchmarks/fd_sources.py RUN [RUN ...] [--out docs/data/fd_sources.jsonl]

For each trained model (a run folder or ``.keras`` file), through the same Griffin-Lim audio and
the same cached digit judge as `tfp-audio-vae evaluate`, the Fréchet distance (FD) to the 300 FSDD
test clips and the Inception Score (IS) of:

- ``real_train``: 500 real training clips (what real audio scores against the test clips; real
  test halves score under 1);
- ``recon_train``: reconstructions of those 500 training clips from their posterior means: the
  aggregate posterior's own points through the decoder, so what a prior that matched the
  aggregate posterior exactly would reach with this decoder;
- ``recon_test``: reconstructions of the test clips (posterior mean, and refined as `evaluate`
  refines them);
- ``samples``: 500 prior samples at the default temperature, as `evaluate` makes them.

The gap ``samples - recon_train`` is what the prior costs; ``recon_train - real_train`` what the
decoder costs. Copying is checked too, in the judge's feature space: the median distance from each
sample to its nearest training clip's reconstruction (``copy_distance_samples``), beside the same
for the test clips' reconstructions (``copy_distance_test``), which are no copies of training clips.
Samples much nearer to training clips than held-out clips are would be replaying the training set.
One JSON line per model goes to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import fsdd  # noqa: E402
from tfp_audio_vae.data.pipeline import evenly_spaced, load_waveforms  # noqa: E402
from tfp_audio_vae.data.spectrogram import waveform_to_spectrogram  # noqa: E402
from tfp_audio_vae.evaluation.judge import get_judge  # noqa: E402
from tfp_audio_vae.evaluation.scores import frechet_distance, inception_score  # noqa: E402
from tfp_audio_vae.models.latents import refine_latents  # noqa: E402
from tfp_audio_vae.models.saving import load_model  # noqa: E402
from tfp_audio_vae.synthesis.generation import generate  # noqa: E402
from tfp_audio_vae.synthesis.waveforms import decode_waveforms  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from environment import append_jsonl, environment  # noqa: E402  (benchmarks/environment.py)


def reconstructions(model, waves: np.ndarray, refine_steps: int) -> np.ndarray:
    """Waveforms ``[n, samples]`` -> their reconstructions as audio ``[n, samples]``."""
    config = model.audio_config()
    out = []
    for i in range(0, len(waves), 64):
        x = waveform_to_spectrogram(waves[i : i + 64], config)  # [b, freq, time, 1]
        z = refine_latents(model, x, refine_steps)  # [b, latent]
        out.append(decode_waveforms(model, z, seed=i, batch_size=64))  # Griffin-Lim seed i
    return np.concatenate(out)


def nearest_distances(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``features`` [n, d] to its nearest row of ``reference``."""
    squared = (
        np.sum(features**2, 1)[:, None] - 2 * features @ reference.T + np.sum(reference**2, 1)
    )  # [n, m]
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def sources(run: str, judge, test_waves: np.ndarray, train_waves: np.ndarray) -> dict[str, Any]:
    """The FD and IS of each audio set above, and the copy distances, for one model."""
    model = load_model(run)
    real = judge.features(test_waves)  # [300, d]

    def scores(waves: np.ndarray) -> dict[str, float]:
        return {
            "frechet_distance": frechet_distance(judge.features(waves), real),
            "inception_score": inception_score(judge.predict_proba(waves)),
        }

    recon_train = reconstructions(model, train_waves, 0)
    recon_test = reconstructions(model, test_waves, 0)
    samples = generate(model, defaults.GENERATED_CLIPS, seed=0)
    train_features = judge.features(recon_train)
    return {
        "run": run,
        "real_train": scores(train_waves),
        "recon_train": scores(recon_train),
        "recon_test": scores(recon_test),
        "recon_test_refined": scores(reconstructions(model, test_waves, defaults.REFINE_STEPS)),
        "samples": scores(samples),
        "copy_distance_samples": float(
            np.median(nearest_distances(judge.features(samples), train_features))
        ),
        "copy_distance_test": float(
            np.median(nearest_distances(judge.features(recon_test), train_features))
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders or .keras files")
    parser.add_argument("--train-clips", type=int, default=500)
    parser.add_argument("--out", default="benchmarks/results/fd_sources.jsonl")
    args = parser.parse_args(argv)
    root = fsdd.locate()
    judge = get_judge(root, verbose=0)
    config = load_model(args.runs[0]).audio_config()
    test_waves, _ = load_waveforms(fsdd.records(root, "test"), config)
    train_records = evenly_spaced(fsdd.records(root, "train"), args.train_clips)
    train_waves, _ = load_waveforms(train_records, config)
    for run in args.runs:
        record = sources(run, judge, test_waves, train_waves)
        record["command"] = " ".join(["python benchmarks/fd_sources.py", *(argv or sys.argv[1:])])
        record["environment"] = environment(tf)
        append_jsonl(args.out, record)
        print(
            f"{run}: FD real train {record['real_train']['frechet_distance']:.2f}, "
            f"train reconstructions {record['recon_train']['frechet_distance']:.2f}, "
            f"test reconstructions {record['recon_test']['frechet_distance']:.2f}, "
            f"samples {record['samples']['frechet_distance']:.2f}; copy distance samples "
            f"{record['copy_distance_samples']:.2f}, test {record['copy_distance_test']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
