"""Time all of FSDD to spectrograms with `tfp_audio_vae.data.pipeline` against the older per-file path.

    python -m benchmarks.bench_pipeline [--fsdd PATH] [--rounds 3] [--limit N] [--out PATH]

Set-up (timed, not compared): `fit_normalisation` over the train split (2,700 clips).

Ours, each round: `spectrogram_dataset` over all 3,000 clips with ``batch_size=64``, built fresh
(which checks every file's header), then one epoch (decoding with `tf.audio.decode_wav`, STFT,
log, normalisation, filling the in-memory cache) and a second epoch, which reads the cache.

The older path, each round, is what earlier FSDD VAE projects ran once before training, one file
at a time in one process: ``librosa.load(path, sr=22050, duration=0.74)`` (their 0.74 s clips),
zero-padding to 16,317 samples, ``librosa.stft`` (n_fft 512, hop 256) without the top bin,
``librosa.amplitude_to_db`` of the magnitude, per-file min-max normalisation, and ``np.save`` of
one 256 x 64 ``.npy`` per file into a temporary folder. Its counterpart of our cached epoch is
loading those files back into one array, as those projects did before every training run.
``--limit N`` times the older path on N evenly spaced files and scales to all clips (recorded).

Each round runs both (the order flips every round); the summary gives medians and old/ours ratios.
Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae.data.fsdd import FSDDRecord, records  # noqa: E402
from tfp_audio_vae.data.pipeline import fit_normalisation, spectrogram_dataset  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 64
OLD_SAMPLE_RATE, OLD_DURATION, OLD_N_FFT, OLD_HOP = 22050, 0.74, 512, 256
OLD_SAMPLES = int(OLD_SAMPLE_RATE * OLD_DURATION)  # 16,317 -> 64 frames with center=True


def ours_once(files: Sequence[FSDDRecord], config: SpectrogramConfig) -> dict[str, float]:
    """Seconds to build the dataset, for its first epoch (build included) and its cached epoch."""
    start = time.perf_counter()
    dataset = spectrogram_dataset(files, config, batch_size=BATCH)
    built = time.perf_counter()
    clips = sum(int(batch["spectrogram"].shape[0]) for batch in dataset)
    first = time.perf_counter()
    cached_clips = sum(int(batch["spectrogram"].shape[0]) for batch in dataset)
    second = time.perf_counter()
    if clips != len(files) or cached_clips != len(files):
        raise RuntimeError(f"expected {len(files)} clips, got {clips} then {cached_clips}")
    return {
        "build_s": built - start,
        "first_epoch_s": first - start,
        "cached_epoch_s": second - first,
    }


def old_spectrogram(path: Path) -> np.ndarray:
    """One file through the older per-file path: min-max normalised dB STFT, ``[256, 64]``."""
    signal, _ = librosa.load(path, sr=OLD_SAMPLE_RATE, duration=OLD_DURATION, mono=True)
    signal = np.pad(signal, (0, OLD_SAMPLES - len(signal)))  # [16317]
    stft = librosa.stft(signal, n_fft=OLD_N_FFT, hop_length=OLD_HOP)[:-1]  # [256, 64]
    log_spectrogram = librosa.amplitude_to_db(np.abs(stft))
    low, high = log_spectrogram.min(), log_spectrogram.max()
    return (log_spectrogram - low) / (high - low)


def old_once(files: Sequence[FSDDRecord]) -> dict[str, float]:
    """Seconds for the older path to save one ``.npy`` per file, and to load them all back."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        start = time.perf_counter()
        for record in files:
            np.save(Path(folder) / f"{record.path.name}.npy", old_spectrogram(record.path))
        saved = time.perf_counter()
        x_train = np.array([np.load(path) for path in sorted(Path(folder).iterdir())])
        x_train = x_train[..., np.newaxis]  # [files, 256, 64, 1]
        loaded = time.perf_counter()
    if x_train.shape != (len(files), OLD_N_FFT // 2, 64, 1):
        raise RuntimeError(f"older path gave {x_train.shape}")
    return {"first_epoch_s": saved - start, "cached_epoch_s": loaded - saved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_fsdd = os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd")
    parser.add_argument("--fsdd", type=Path, default=Path(default_fsdd), help="FSDD root")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "pipeline.json"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both paths")
    parser.add_argument(
        "--limit", type=int, default=None, help="time the older path on N files and extrapolate"
    )
    args = parser.parse_args()
    env = environment(tf, librosa, np, sf, soxr)

    files = records(args.fsdd)
    train = [r for r in files if r.split == "train"]
    start = time.perf_counter()
    config = fit_normalisation(train, SpectrogramConfig())
    fit_s = time.perf_counter() - start
    print(f"fit_normalisation on {len(train)} train clips: {fit_s:.2f} s", flush=True)

    old_count = min(args.limit or len(files), len(files))
    old_files = [files[i] for i in np.linspace(0, len(files) - 1, old_count).round().astype(int)]
    scale = len(files) / old_count  # 1 unless --limit
    old_spectrogram(files[0].path)  # librosa's lazy imports and first-call set-up, untimed

    ours_runs, old_runs = [], []
    for round_ in range(args.rounds):
        order = ("ours", "old") if round_ % 2 == 0 else ("old", "ours")
        for name in order:
            if name == "ours":
                ours_runs.append(ours_once(files, config))
            else:
                measured = old_once(old_files)
                old_runs.append({key: seconds * scale for key, seconds in measured.items()})
        print(
            f"round {round_ + 1}/{args.rounds}: first epoch ours "
            f"{ours_runs[-1]['first_epoch_s']:.2f} s, old {old_runs[-1]['first_epoch_s']:.2f} s; "
            f"cached ours {ours_runs[-1]['cached_epoch_s']:.3f} s, "
            f"old {old_runs[-1]['cached_epoch_s']:.2f} s",
            flush=True,
        )

    def summary(runs: list[dict[str, float]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key in runs[0]:
            values = [run[key] for run in runs]
            out[key] = {"per_round": values, "median": statistics.median(values)}
            if key != "build_s":
                out[key]["clips_per_s"] = len(files) / statistics.median(values)
        return out

    ours, old = summary(ours_runs), summary(old_runs)
    ratios = {
        key: {
            "median": old[key]["median"] / ours[key]["median"],
            "per_round": [o[key] / u[key] for o, u in zip(old_runs, ours_runs, strict=True)],
        }
        for key in ("first_epoch_s", "cached_epoch_s")
    }
    ratios["first_epoch_s"]["target"] = 10.0
    result = {
        "settings": {
            "clips": len(files),
            "batch_size": BATCH,
            "rounds": args.rounds,
            "ours_shape": list(config.shape),
            "old_shape": [OLD_N_FFT // 2, 64, 1],
            "old_files_timed": old_count,
            "old_extrapolated": old_count < len(files),
            "fsdd": str(args.fsdd),
        },
        "setup": {"fit_normalisation_s": fit_s, "train_clips": len(train)},
        "ours": ours,
        "old": old,
        "ratio_old_over_ours": ratios,
        "environment": env,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    timed = "all" if old_count == len(files) else f"{old_count} (extrapolated)"
    print(
        f"{len(files)} clips, {args.rounds} rounds, {os.cpu_count()} CPUs (medians); "
        f"older path timed on {timed} files\n"
        f"  first epoch:  ours {ours['first_epoch_s']['median']:.2f} s "
        f"({ours['first_epoch_s']['clips_per_s']:.0f} clips/s), "
        f"old {old['first_epoch_s']['median']:.2f} s "
        f"({old['first_epoch_s']['clips_per_s']:.0f} clips/s): "
        f"{ratios['first_epoch_s']['median']:.1f}x (target >= 10x)\n"
        f"  cached epoch: ours {ours['cached_epoch_s']['median']:.3f} s, "
        f"old (reload .npy) {old['cached_epoch_s']['median']:.2f} s: "
        f"{ratios['cached_epoch_s']['median']:.1f}x -> {args.out}"
    )


if __name__ == "__main__":
    main()
