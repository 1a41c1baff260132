"""The exported SavedModel against the package: the same clips, and how fast each makes them.

    python -m benchmarks.bench_export RUN [--clips 16] [--repeats 7] [--temperature 0.5]
                                          [--out benchmarks/results/export.json]

Exports RUN's model (`tfp_audio_vae.export.export_model`, the package's default 32 Griffin-Lim
iterations) to a temporary folder and loads it with ``tf.saved_model.load`` in this process.
Generation: ``--clips`` clips per call, one per class of a conditional model (cycled), else from
the prior, at ``--temperature``: the package's `generation.generate` (``method="prior"``) against
the SavedModel's ``sample`` signature, one warm-up each, then ``--repeats`` rounds timed in
alternation with seed = round; clips/s of each, the ratio of their medians. Difference: the
largest absolute difference between the two sides' waveforms over every round (the same seed
gives the same clips), beside the package's peak, and the same for ``decode`` of the first
round's latents, and of the package's Griffin-Lim given the spectrogram of its decoder run as a
graph (as the SavedModel runs it): the difference left is the decoder's float rounding in graph
mode, which 32 fast Griffin-Lim iterations amplify. Writes JSON with the machine record to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_audio_vae  # noqa: E402
from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.export import export_model  # noqa: E402
from tfp_audio_vae.runs import Run  # noqa: E402
from tfp_audio_vae.synthesis import generation  # noqa: E402
from tfp_audio_vae.synthesis.waveforms import audible, decode_waveforms, to_audio  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder (holding model.keras) or a .keras file")
    parser.add_argument("--clips", type=int, default=16, help="clips per call (default 16)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--temperature", type=float, default=defaults.TEMPERATURE)
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "export.json"
    )
    args = parser.parse_args()

    run = Run.at(args.run)
    model = run.load_model()
    classes = getattr(model.prior, "num_classes", None) if model.prior.conditional else None
    labels = [i % classes for i in range(args.clips)] if classes else None
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        export = export_model(model, Path(folder) / "export", spec=run.spec())
        export_s = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in export.rglob("*") if p.is_file()) / 1e6
        start = time.perf_counter()
        served = tf.saved_model.load(str(export))
        load_s = time.perf_counter() - start
    sample = served.signatures["sample"]
    asked = tf.constant(labels if labels else [-1] * args.clips, tf.int32)

    def package(seed: int) -> np.ndarray:
        return generation.generate(
            model,
            args.clips,
            labels=labels,
            method="prior",
            temperature=args.temperature,
            seed=seed,
        )  # [clips, num_samples]

    def exported(seed: int) -> np.ndarray:
        out = sample(
            labels=asked, temperature=tf.constant(args.temperature), seed=tf.constant(seed)
        )
        return out["waveform"].numpy()  # [clips, num_samples]

    sides = {"package": package, "savedmodel": exported}
    warm_up_s = {}
    for name, make in sides.items():
        start = time.perf_counter()
        make(0)
        warm_up_s[name] = time.perf_counter() - start
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    difference, peak = 0.0, 0.0
    load_before = os.getloadavg()
    for seed in range(args.repeats):
        waves = {}
        for name, make in sides.items():
            start = time.perf_counter()
            waves[name] = make(seed)
            seconds[name].append(time.perf_counter() - start)
        difference = max(difference, float(np.max(np.abs(waves["savedmodel"] - waves["package"]))))
        peak = max(peak, float(np.max(np.abs(waves["package"]))))
    load_after = os.getloadavg()

    z = generation.sample_latents(
        model, args.clips, labels=labels, method="prior", temperature=args.temperature
    )
    decoded = served.signatures["decode"](z=z)["waveform"].numpy()
    expected = decode_waveforms(model, z)  # the package: its decoder run eagerly
    decode_difference = float(np.max(np.abs(decoded - expected)))
    snr_db = float(
        10 * np.log10(np.sum(expected**2) / max(np.sum((decoded - expected) ** 2), 1e-30))
    )
    # the package's Griffin-Lim from the decoder run as a graph, as the SavedModel runs it: what
    # is left of the difference when the two sides' spectrograms are the same
    as_graph = to_audio(model, tf.function(lambda z: audible(model, z))(z))
    graph_difference = float(np.max(np.abs(decoded - as_graph)))
    package_difference = float(np.max(np.abs(as_graph - expected)))

    speed = {
        name: {
            "seconds": times,
            "median_s": statistics.median(times),
            "clips_per_s": args.clips / statistics.median(times),
            "warm_up_s": warm_up_s[name],
        }
        for name, times in seconds.items()
    }
    ratio = speed["package"]["median_s"] / speed["savedmodel"]["median_s"]
    per_round = [p / s for p, s in zip(seconds["package"], seconds["savedmodel"], strict=True)]
    result = {
        "settings": {
            "run": str(args.run),
            "clips": args.clips,
            "labels": "classes, cycled" if labels else "prior (-1)",
            "temperature": args.temperature,
            "repeats": args.repeats,
            "n_iter": defaults.GRIFFIN_LIM_ITERATIONS,
            "latent_dim": model.latent_dim,
            "prior": type(model.prior).__name__,
        },
        "export": {"seconds": export_s, "load_s": load_s, "size_mb": size_mb},
        "speed": speed,
        "savedmodel_speedup": {"median_ratio": ratio, "per_round": per_round},
        "difference": {
            "sample_max_abs": difference,
            "decode_max_abs": decode_difference,
            "decode_snr_db": snr_db,
            "decode_max_abs_vs_package_graph_decoder": graph_difference,
            "package_eager_vs_graph_decoder_max_abs": package_difference,
            "package_peak": peak,
        },
        "load_average_1min": {"before": load_before[0], "after": load_after[0]},
        "environment": environment(tf, np, tfp_audio_vae),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.clips} clips a call, {args.repeats} alternating rounds: package "
        f"{speed['package']['clips_per_s']:.1f} clips/s, SavedModel "
        f"{speed['savedmodel']['clips_per_s']:.1f} clips/s (x{ratio:.2f} median); largest "
        f"difference {difference:.2e} (sample), {decode_difference:.2e} (decode), package peak "
        f"{peak:.2f}, decode SNR {snr_db:.1f} dB; from the package's graph-run decoder "
        f"{graph_difference:.2e} (the package eager vs graph: {package_difference:.2e}); "
        f"load {load_before[0]:.1f} -> {load_after[0]:.1f} on "
        f"{os.cpu_count()} cores; wrote {args.out}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
