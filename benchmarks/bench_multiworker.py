"""Training step time of one process against two workers of `MultiWorkerMirroredStrategy`.

    python -m benchmarks.bench_multiworker [--clips 64] [--batch-size 16] [--epochs 3]
        [--rounds 2] [--out PATH]

Both sides train the package's default VAE (`build_vae` with the ``"standard"`` prior and the
default network and latent size) with `training.fit.train` on the same FSDD training clips at the
same global batch, each process with one intra-op and one inter-op thread: one process with the
default strategy (Keras ``fit``), and two worker processes on loopback ports (``TF_CONFIG``; each
computes half of every batch, and the gradients are all-reduced over gRPC). The step time is the
median over the steps of every epoch after the first (which traces and fills the cache), from
`on_train_batch_begin` to `on_train_batch_end` in the chief. ``--rounds`` rounds alternate the
two sides (the order flips every round); the medians over rounds and their ratio are reported,
with the machine record. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def run_worker(args: argparse.Namespace) -> None:
    """One training process (a worker when ``TF_CONFIG`` is set); the chief writes its step
    times to ``args.worker``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfp_audio_vae.training.distribute import is_chief, make_strategy

    strategy = make_strategy("auto")  # first: a cluster's strategy precedes any TensorFlow work
    import keras

    from tfp_audio_vae import SpectrogramConfig, build_vae
    from tfp_audio_vae.data import fsdd, pipeline
    from tfp_audio_vae.training.fit import train

    class StepTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch > 0:
                times.append(time.perf_counter() - self.start)

    times: list[float] = []
    files = fsdd.records(args.fsdd, "train")[:: 2700 // args.clips][: args.clips]
    config = pipeline.fit_normalisation(files, SpectrogramConfig())
    data = pipeline.spectrogram_dataset(files, config, batch_size=args.batch_size, shuffle=True)
    with strategy.scope():
        model = build_vae(config, "standard")
    with tempfile.TemporaryDirectory() as run_dir:
        train(model, data, run_dir, epochs=args.epochs, verbose=0, callbacks=[StepTimes()])
    if is_chief(strategy):
        Path(args.worker).write_text(json.dumps({"step_s": statistics.median(times)}))


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def measure(args: argparse.Namespace, workers: int) -> float:
    """The chief's median step time (s) of one run with ``workers`` processes."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "chief.json"
        command = [
            sys.executable,
            "-m",
            "benchmarks.bench_multiworker",
            "--worker",
            str(out),
            *_shared(args),
        ]
        ports = free_ports(workers)
        processes = []
        try:
            for index in range(workers):
                env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO_ROOT)}
                env.pop("TF_CONFIG", None)
                if workers > 1:
                    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
                    task = {"type": "worker", "index": index}
                    env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
                processes.append(subprocess.Popen(command, env=env))
            for process in processes:
                if process.wait(timeout=1800) != 0:
                    raise RuntimeError(f"a worker failed with status {process.returncode}")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return json.loads(out.read_text())["step_s"]


def _shared(args: argparse.Namespace) -> list[str]:
    return [
        "--fsdd", str(args.fsdd), "--clips", str(args.clips),
        "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_fsdd = os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd")
    parser.add_argument("--fsdd", type=Path, default=Path(default_fsdd))
    parser.add_argument("--clips", type=int, default=64, help="training clips")
    parser.add_argument("--batch-size", type=int, default=16, help="the global batch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first untimed)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "multiworker.json"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one training process
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    import keras
    import tensorflow as tf

    from benchmarks.environment import environment

    times: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(args.rounds):
        for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
            times[workers].append(measure(args, workers))
            print(f"round {round_ + 1}, {workers} process(es): {times[workers][-1]:.3f} s/step")
    one, two = statistics.median(times[1]), statistics.median(times[2])
    result = {
        "settings": {k: str(v) for k, v in vars(args).items() if k != "worker"},
        "threads_per_process": 1,
        "one_process_step_s": one,
        "two_workers_step_s": two,
        "two_over_one": two / one,
        "rounds": {str(k): v for k, v in times.items()},
        "environment": environment(tf, keras),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
