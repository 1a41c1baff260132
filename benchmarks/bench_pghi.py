"""Griffin-Lim from a PGHI phase against Griffin-Lim from a random phase: quality and cost.

    python -m benchmarks.bench_pghi [--fsdd PATH] [--batch 64] [--n-iter 32] [--repeats 9]
                                     [--record docs/data/pghi.jsonl]

Quality: mean spectral convergence over the 300 FSDD test clips (index 0-4, padded or trimmed
to 8,192 samples, n_fft 256, hop 64, Hann), measured with the project's STFT, for fast
Griffin-Lim (``--n-iter`` iterations, momentum 0.99) from a random phase, from the PGHI phase
(`synthesis.pghi`), and for the PGHI phase alone (no iteration). Cost: seconds per call on the
first ``--batch`` test clips, the two ``griffin_lim`` calls (and `pghi_phase` alone) timed in
alternation, ``--repeats`` rounds after one warm-up each; the ratio of their medians is the cost of
the PGHI start. Writes JSON to ``--out`` and, with ``--record``, appends it as one line there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_audio_vae.data.stft import stft_magnitude  # noqa: E402
from tfp_audio_vae.evaluation.scores import spectral_convergence  # noqa: E402
from tfp_audio_vae.machine import machine_record  # noqa: E402
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim  # noqa: E402
from tfp_audio_vae.synthesis.pghi import pghi_phase  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
N_FFT, HOP, SAMPLES, SAMPLE_RATE = 256, 64, 8192, 8000


def test_clips(fsdd: Path) -> np.ndarray:
    """The 300 FSDD test-split clips (index 0-4) sorted by name, float32 ``[300, 8192]``."""
    paths = sorted(
        path
        for path in (fsdd / "recordings").glob("*.wav")
        if (match := re.fullmatch(r"\d_[a-z]+_(\d+)", path.stem)) and int(match.group(1)) < 5
    )
    if len(paths) != 300:
        raise SystemExit(
            f"expected 300 FSDD test clips under {fsdd}/recordings, found {len(paths)}"
        )
    clips = []
    for path in paths:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise SystemExit(f"{path} is at {rate} Hz, expected {SAMPLE_RATE}")
        wave = wave.mean(axis=1)[:SAMPLES]
        clips.append(np.pad(wave, (0, SAMPLES - len(wave))))
    return np.stack(clips)  # [300, 8192]


def mean_convergence(magnitude: tf.Tensor, n_iter: int, init: str, batch: int) -> float:
    """Mean spectral convergence of `griffin_lim` over ``magnitude`` ``[clips, frames, bins]``."""
    scores = []
    for start in range(0, len(magnitude), batch):
        target = magnitude[start : start + batch]
        wave = griffin_lim(target, N_FFT, HOP, n_iter=n_iter, length=SAMPLES, init=init)
        scores.append(spectral_convergence(target, stft_magnitude(wave, N_FFT, HOP)).numpy())
    return float(np.mean(np.concatenate(scores)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_fsdd = os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd")
    parser.add_argument("--fsdd", type=Path, default=Path(default_fsdd), help="FSDD root")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "pghi.json"
    )
    parser.add_argument("--record", type=Path, help="a JSON-lines file to append the result to")
    parser.add_argument("--batch", type=int, default=64, help="clips reconstructed at once")
    parser.add_argument("--n-iter", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    magnitude = stft_magnitude(test_clips(args.fsdd), N_FFT, HOP)  # [300, 128, 129]
    quality = {
        f"random_{args.n_iter}": mean_convergence(magnitude, args.n_iter, "random", args.batch),
        "pghi_0": mean_convergence(magnitude, 0, "pghi", args.batch),
        f"pghi_{args.n_iter}": mean_convergence(magnitude, args.n_iter, "pghi", args.batch),
    }

    target = magnitude[: args.batch]  # [batch, 128, 129]
    calls = {
        "random": lambda: griffin_lim(target, N_FFT, HOP, n_iter=args.n_iter, length=SAMPLES),
        "pghi": lambda: griffin_lim(
            target, N_FFT, HOP, n_iter=args.n_iter, length=SAMPLES, init="pghi"
        ),
        "pghi_phase_only": lambda: pghi_phase(target, N_FFT, HOP),
    }
    for call in calls.values():
        call().numpy()  # warm-up: traces the tf.functions
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call().numpy()
            seconds[name].append(time.perf_counter() - start)
    cost = {
        name: {
            "seconds": times,
            "median_ms_per_clip": 1e3 * statistics.median(times) / args.batch,
            "best_ms_per_clip": 1e3 * min(times) / args.batch,
        }
        for name, times in seconds.items()
    }
    ratio = statistics.median(seconds["pghi"]) / statistics.median(seconds["random"])
    per_round = [p / r for p, r in zip(seconds["pghi"], seconds["random"], strict=True)]
    result = {
        "benchmark": "pghi",
        "settings": {
            "clips": len(magnitude),
            "batch": args.batch,
            "samples": SAMPLES,
            "n_fft": N_FFT,
            "hop_length": HOP,
            "n_iter": args.n_iter,
            "momentum": 0.99,
            "repeats": args.repeats,
        },
        "spectral_convergence": quality,
        "cost": cost,
        "cost_ratio_pghi_over_random": {
            "of_medians": ratio,
            "median_of_rounds": statistics.median(per_round),
            "best_over_best": min(seconds["pghi"]) / min(seconds["random"]),
        },
        "load_average_1min_before_timing": load_before,
        "machine": machine_record(),
        "tensorflow": tf.__version__,
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        with args.record.open("a") as record:
            record.write(json.dumps(result) + "\n")
    print(
        f"SC over {len(magnitude)} clips: random+{args.n_iter} {quality[f'random_{args.n_iter}']:.4f}"
        f", PGHI alone {quality['pghi_0']:.4f}, PGHI+{args.n_iter} "
        f"{quality[f'pghi_{args.n_iter}']:.4f}\n"
        f"cost per clip (batch {args.batch}, median of {args.repeats}): "
        f"random {cost['random']['median_ms_per_clip']:.2f} ms, "
        f"PGHI {cost['pghi']['median_ms_per_clip']:.2f} ms "
        f"(PGHI phase alone {cost['pghi_phase_only']['median_ms_per_clip']:.2f} ms), "
        f"ratio {ratio:.3f}; load {load_before:.2f} -> {args.out}"
    )


if __name__ == "__main__":
    main()
