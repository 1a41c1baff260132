"""Train one epoch over a 100,000-clip folder with the streaming pipeline: peak memory and input speed.

    python -m benchmarks.bench_streaming [--clips 100000] [--workdir PATH] [--fsdd PATH]
                                         [--loop-steps 60] [--rounds 3] [--out PATH]

1. A synthetic folder of ``--clips`` WAVs made from FSDD's 2,700 train clips (in a seeded
   order, repeated), each augmented
   (seeded by its index): speed x0.9-1.1 (soxr resampling), time shift +-0.1 s, gain +-6 dB,
   white noise at 15-40 dB SNR; 16-bit PCM at 8 kHz, named ``{digit}_{speaker}_aug{i}.wav``.
   Written once under ``--workdir`` (renamed into place when complete) and reused after.
2. The package's path for a new data set, each step timed: every file's header checked
   (`validate_files`), `fit_normalisation`, `spectrogram_dataset(shuffle=True)` with the
   automatic cache choice (over 1 GiB: shards on disk, written here), and `train` of the
   default model (`build_vae(config)`, `defaults`) for ONE epoch, with its prior refit.
3. Input speed, with the trained model, alternating ``--rounds`` times: ``--loop-steps`` train
   steps fed from the streamed dataset, with ``next()`` timed apart from the step, against the
   same steps fed from batches already in memory (the baseline).

Peak memory: the process's VmHWM (``/proc/self/status``) after each phase and
``ru_maxrss`` of the process and its children. Targets: peak RSS < 4 GB; data time per step
<= 10% of the step time. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import time
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import fsdd, pipeline  # noqa: E402
from tfp_audio_vae.data.audio_files import read_audio  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402
from tfp_audio_vae.models.variants import build_vae  # noqa: E402
from tfp_audio_vae.training.fit import train  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 8000


@dataclasses.dataclass(frozen=True)
class Clip:
    """A synthetic clip as the pipeline reads it (`pipeline.AudioRecord`)."""

    path: Path
    label: int
    speaker: str


def augmented(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One augmentation of ``wave`` (float32 at 8 kHz): speed, time shift, gain, noise."""
    speed = rng.uniform(0.9, 1.1)
    wave = soxr.resample(wave, SAMPLE_RATE * speed, SAMPLE_RATE)  # 1/speed as long
    shift = int(rng.integers(-SAMPLE_RATE // 10, SAMPLE_RATE // 10 + 1))  # samples
    wave = np.concatenate([np.zeros(shift, np.float32), wave]) if shift > 0 else wave[-shift:]
    wave = wave * 10 ** (rng.uniform(-6, 6) / 20)
    rms = np.sqrt(np.mean(wave**2)) + 1e-9
    noise = rng.normal(size=len(wave)) * rms * 10 ** (-rng.uniform(15, 40) / 20)
    return np.clip(wave + noise, -1, 1).astype(np.float32)


def synthetic_folder(fsdd_root: Path, workdir: Path, clips: int, seed: int) -> Path:
    """The folder of ``clips`` augmented FSDD train clips, written unless already complete."""
    folder = workdir / f"fsdd-augmented-{clips}-seed{seed}"
    if (folder / "COMPLETE").is_file():
        return folder
    sources = fsdd.records(fsdd_root, "train")
    waves = [read_audio(r.path, sample_rate=SAMPLE_RATE)[0] for r in sources]
    staging = workdir / f".partial-{folder.name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    order = np.random.default_rng(seed).permutation(len(sources))  # every digit in any prefix
    for i in range(clips):
        source = order[i % len(sources)]
        wave = augmented(waves[source], np.random.default_rng([seed, i]))
        source = sources[source]
        name = f"{source.digit}_{source.speaker}_aug{i:06d}.wav"
        sf.write(staging / name, wave, SAMPLE_RATE, subtype="PCM_16")
        if (i + 1) % 10_000 == 0:
            print(f"  {i + 1:,} clips written", flush=True)
    (staging / "COMPLETE").write_text(json.dumps({"clips": clips, "seed": seed}))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def clips_of(folder: Path) -> list[Clip]:
    """The folder's clips, labelled from their names, in name order."""
    paths = sorted(folder.glob("*.wav"))
    return [Clip(p, int(p.name.split("_")[0]), p.name.split("_")[1]) for p in paths]


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class EpochTimer(keras.callbacks.Callback):
    """Seconds of the training epoch itself (Keras's steps, no set-up or prior refit)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds = time.perf_counter() - self.start


def input_speed(
    model: keras.Model, data: tf.data.Dataset, steps: int, rounds: int
) -> dict[str, object]:
    """Train steps fed by ``data`` (``next()`` timed apart from the step) against the same steps
    fed from batches already in memory, alternating ``rounds`` times; medians of seconds/step."""
    step = tf.function(model.train_step)
    in_memory = [batch for batch, _ in zip(data, range(8), strict=False)]  # [8 batches]
    for batch in in_memory[:2]:
        step(batch)  # tracing and warm-up, untimed
    streamed = iter(data.repeat())
    runs: dict[str, list[float]] = {"data_s": [], "streamed_step_s": [], "memory_step_s": []}
    for round_ in range(rounds):
        for source in ("streamed", "memory") if round_ % 2 == 0 else ("memory", "streamed"):
            waits, seconds = [], []
            for i in range(steps):
                start = time.perf_counter()
                batch = next(streamed) if source == "streamed" else in_memory[i % len(in_memory)]
                fetched = time.perf_counter()
                float(step(batch)["loss"])  # waits for the step to finish
                waits.append(fetched - start)
                seconds.append(time.perf_counter() - fetched)
            if source == "streamed":
                runs["data_s"].append(statistics.mean(waits))
            runs[f"{source}_step_s"].append(statistics.mean(seconds))
    medians = {key: statistics.median(values) for key, values in runs.items()}
    return {
        "per_round": runs,
        "median": medians,
        "data_over_step": medians["data_s"] / medians["streamed_step_s"],
        "streamed_over_memory": (medians["data_s"] + medians["streamed_step_s"])
        / medians["memory_step_s"],
        "target_data_over_step": 0.10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_fsdd = os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd")
    parser.add_argument("--fsdd", type=Path, default=Path(default_fsdd), help="FSDD root")
    parser.add_argument("--clips", type=int, default=100_000, help="synthetic clips")
    parser.add_argument("--seed", type=int, default=0, help="seed of augmentation and training")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=fsdd.cache_dir() / "bench-streaming",
        help="where the clips, their shards and the run go (default: in the package cache)",
    )
    parser.add_argument(
        "--memory-budget",
        type=int,
        default=defaults.CACHE_MEMORY_BYTES,
        help="bytes of spectrograms cached in memory (smaller: shards for a small smoke test)",
    )
    parser.add_argument("--loop-steps", type=int, default=60, help="steps per input-speed round")
    parser.add_argument("--rounds", type=int, default=3, help="input-speed rounds")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "streaming.json"
    )
    args = parser.parse_args()
    env = environment(tf, keras, np, sf, soxr)
    timings: dict[str, float] = {}
    peaks: dict[str, int] = {}

    def phase(name: str, start: float) -> None:
        timings[f"{name}_s"] = time.perf_counter() - start
        peaks[name] = peak_rss_bytes()
        print(f"{name}: {timings[f'{name}_s']:.1f} s, peak RSS {peaks[name] / 2**30:.2f} GiB")

    start = time.perf_counter()
    folder = synthetic_folder(args.fsdd, args.workdir, args.clips, args.seed)
    phase("synthesise", start)
    start = time.perf_counter()
    clips = clips_of(folder)
    errors = pipeline.validate_files(clips, SpectrogramConfig())
    phase("probe_headers", start)
    if errors or len(clips) != args.clips:
        raise RuntimeError(f"{len(clips)} clips, {len(errors)} unreadable: {errors[:3]}")
    start = time.perf_counter()
    config = pipeline.fit_normalisation(clips, SpectrogramConfig())
    phase("fit_normalisation", start)
    start = time.perf_counter()
    cache = pipeline.chosen_cache(len(clips), config, args.memory_budget)
    data = pipeline.spectrogram_dataset(
        clips,
        config,
        shuffle=True,
        seed=args.seed,
        cache_dir=args.workdir / "shards",
        memory_budget=args.memory_budget,
    )
    phase("build_dataset", start)
    run_dir = args.workdir / f"run-{args.clips}"
    shutil.rmtree(run_dir, ignore_errors=True)
    model = build_vae(config, seed=args.seed)
    timer = EpochTimer()
    start = time.perf_counter()
    train(model, data, run_dir, epochs=1, seed=args.seed, callbacks=[timer], verbose=2)
    phase("train", start)
    steps = int(data.cardinality())
    start = time.perf_counter()
    speed = input_speed(model, data, args.loop_steps, args.rounds)
    phase("input_speed", start)

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    epoch_step_s = timer.seconds / steps
    result = {
        "settings": {
            "clips": len(clips),
            "seed": args.seed,
            "batch_size": defaults.BATCH_SIZE,
            "cache": cache,
            "memory_budget_bytes": args.memory_budget,
            "shuffle_buffer": defaults.SHUFFLE_BUFFER,
            "spectrogram_bytes": len(clips) * int(np.prod(config.shape)) * 4,
            "loop_steps": args.loop_steps,
            "rounds": args.rounds,
            "workdir": str(args.workdir),
        },
        "seconds": timings,
        "epoch": {
            "steps": steps,
            "seconds": timer.seconds,
            "s_per_step": epoch_step_s,
            "over_memory_step": epoch_step_s / speed["median"]["memory_step_s"],
        },
        "input_speed": speed,
        "peak_rss_bytes": {
            "after_phase": peaks,
            "ru_maxrss_self": own,
            "ru_maxrss_children": children,
            "target": 4e9,
        },
        "environment": env,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    median = speed["median"]
    print(
        f"{len(clips):,} clips ({cache} cache), one epoch of {steps} steps: "
        f"{timer.seconds:.0f} s ({epoch_step_s * 1000:.0f} ms/step; in-memory step "
        f"{median['memory_step_s'] * 1000:.0f} ms)\n"
        f"  data time per step {median['data_s'] * 1000:.1f} ms = "
        f"{speed['data_over_step']:.1%} of the {median['streamed_step_s'] * 1000:.0f} ms step "
        f"(target <= 10%)\n"
        f"  peak RSS {max(own, peaks['input_speed']) / 1e9:.2f} GB (target < 4 GB), "
        f"children {children / 1e9:.2f} GB -> {args.out}"
    )


if __name__ == "__main__":
    main()
