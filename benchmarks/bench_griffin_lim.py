"""Time batched TensorFlow fast Griffin-Lim against looping `librosa.griffinlim` over FSDD clips.

    python -m benchmarks.bench_griffin_lim [--fsdd PATH] [--batch 64] [--n-iter 32] ...

Takes the first ``--batch`` clips of the FSDD test split (index 0-4, sorted by name), padded or
trimmed to 8,192 samples, and reconstructs each from its STFT magnitude (n_fft 256, hop 64, Hann)
with both implementations at equal iterations and momentum. Ours is timed after one warm-up call
(which traces the `tf.function`); both report the best and the median of ``--repeats`` runs.
Spectral convergence is measured against each side's own target: ours with the project's STFT,
librosa's with `librosa.stft` (``center=True``, its default). Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_audio_vae.data.stft import stft_magnitude  # noqa: E402
from tfp_audio_vae.evaluation.scores import spectral_convergence  # noqa: E402
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
N_FFT, HOP, SAMPLES, SAMPLE_RATE = 256, 64, 8192, 8000


def load_test_clips(fsdd: Path, count: int) -> np.ndarray:
    """The first ``count`` test-split clips (index 0-4) by name, float32 ``[count, 8192]``."""
    test_files = sorted(
        path
        for path in (fsdd / "recordings").glob("*.wav")
        if (match := re.fullmatch(r"\d_[a-z]+_(\d+)", path.stem)) and int(match.group(1)) < 5
    )
    if len(test_files) < count:
        raise SystemExit(
            f"need {count} FSDD test clips under {fsdd}/recordings, found {len(test_files)}"
        )
    clips = []
    for path in test_files[:count]:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise SystemExit(f"{path} is at {rate} Hz, expected {SAMPLE_RATE}")
        wave = wave.mean(axis=1)[:SAMPLES]
        clips.append(np.pad(wave, (0, SAMPLES - len(wave))))
    return np.stack(clips)  # [count, 8192]


def time_runs(run: Callable[[], np.ndarray], repeats: int) -> tuple[list[float], np.ndarray]:
    """Wall-clock seconds of each of ``repeats`` calls, and the last result."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def summarise(seconds: list[float], clips: int) -> dict[str, float | list[float]]:
    best, median = min(seconds), statistics.median(seconds)
    return {
        "seconds": seconds,
        "best_s": best,
        "median_s": median,
        "best_ms_per_clip": 1e3 * best / clips,
        "median_ms_per_clip": 1e3 * median / clips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_fsdd = os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd")
    parser.add_argument("--fsdd", type=Path, default=Path(default_fsdd), help="FSDD root")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "griffin_lim.json"
    )
    parser.add_argument("--batch", type=int, default=64, help="clips reconstructed at once")
    parser.add_argument("--n-iter", type=int, default=32)
    parser.add_argument("--momentum", type=float, default=0.99)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    clips = load_test_clips(args.fsdd, args.batch)
    target = stft_magnitude(clips, N_FFT, HOP)  # [batch, 128, 129]

    def ours() -> np.ndarray:
        wave = griffin_lim(
            target, N_FFT, HOP, n_iter=args.n_iter, momentum=args.momentum, length=SAMPLES
        )
        return wave.numpy()  # [batch, 8192]

    start = time.perf_counter()
    ours()
    warm_up_s = time.perf_counter() - start
    ours_seconds, ours_wave = time_runs(ours, args.repeats)
    ours_sc = spectral_convergence(target, stft_magnitude(ours_wave, N_FFT, HOP))  # [batch]

    stft = {"n_fft": N_FFT, "hop_length": HOP, "window": "hann"}  # center=True, the default
    librosa_target = np.abs(librosa.stft(clips, **stft))  # [batch, 129, 129]

    def theirs() -> np.ndarray:
        return np.stack(
            [
                librosa.griffinlim(
                    magnitude,
                    n_iter=args.n_iter,
                    momentum=args.momentum,
                    length=SAMPLES,
                    random_state=0,
                    **stft,
                )
                for magnitude in librosa_target
            ]
        )  # [batch, 8192]

    librosa_seconds, librosa_wave = time_runs(theirs, args.repeats)
    librosa_sc = spectral_convergence(librosa_target, np.abs(librosa.stft(librosa_wave, **stft)))

    ours_summary = summarise(ours_seconds, args.batch)
    librosa_summary = summarise(librosa_seconds, args.batch)
    result = {
        "settings": {
            "clips": args.batch,
            "samples": SAMPLES,
            "n_fft": N_FFT,
            "hop_length": HOP,
            "n_iter": args.n_iter,
            "momentum": args.momentum,
            "repeats": args.repeats,
            "fsdd": str(args.fsdd),
        },
        "ours": {
            **ours_summary,
            "warm_up_s": warm_up_s,
            "spectral_convergence": float(tf.reduce_mean(ours_sc)),
        },
        "librosa": {
            **librosa_summary,
            "spectral_convergence": float(tf.reduce_mean(librosa_sc)),
        },
        "speedup_librosa_over_ours": {
            "best": librosa_summary["best_s"] / ours_summary["best_s"],
            "median": librosa_summary["median_s"] / ours_summary["median_s"],
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "librosa": librosa.__version__,
            "numpy": np.__version__,
            "soundfile": sf.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    ours_sc_mean = result["ours"]["spectral_convergence"]
    librosa_sc_mean = result["librosa"]["spectral_convergence"]
    print(
        f"{args.batch} clips, {args.n_iter} iterations, momentum {args.momentum}, "
        f"{os.cpu_count()} CPUs, best of {args.repeats}\n"
        f"  ours:    {ours_summary['best_s']:.3f} s, {ours_summary['best_ms_per_clip']:.1f} ms/clip, "
        f"SC {ours_sc_mean:.4f} (warm-up call {warm_up_s:.2f} s)\n"
        f"  librosa: {librosa_summary['best_s']:.3f} s, "
        f"{librosa_summary['best_ms_per_clip']:.1f} ms/clip, SC {librosa_sc_mean:.4f}\n"
        f"  librosa / ours: {result['speedup_librosa_over_ours']['best']:.1f}x -> {args.out}"
    )


if __name__ == "__main__":
    main()
