"""Two worker processes on loopback train under MultiWorkerMirroredStrategy: as one process with
two replicas would, and a cluster restarted after a worker is killed resumes where it stopped."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tfp_audio_vae.training.cluster import cluster_from_tf_config
from tfp_audio_vae.training.distribute import make_strategy

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}

# One process of the comparison: "reference" (MirroredStrategy on two logical CPUs) or a worker
# (MultiWorkerMirroredStrategy from TF_CONFIG); both train the same 16 FSDD clips in global
# batches of 8 (4 per replica) for 2 epochs and save their final weights (a worker's path ends
# with its index; the reference saves its initial weights too).
TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    from tfp_audio_vae.training.distribute import make_strategy
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    fsdd, mode, run_dir, weights = sys.argv[1:]
    if mode == "reference":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = make_strategy("auto")  # TF_CONFIG is set: multiworker
    from tfp_audio_vae import SpectrogramConfig, build_vae
    from tfp_audio_vae.data import fsdd as fsdd_data, pipeline
    from tfp_audio_vae.training.fit import train
    files = fsdd_data.records(fsdd, "train")[::100][:16]
    config = pipeline.fit_normalisation(files, SpectrogramConfig(num_samples=2048))
    data = pipeline.spectrogram_dataset(files, config, batch_size=8, shuffle=True, seed=1)
    with strategy.scope():
        model = build_vae(config, "standard", latent_dim=4, seed=5)
    if mode == "reference":
        np.savez(weights + "-initial", *model.get_weights())
    train(model, data, run_dir, epochs=2, lr_schedule="constant", verbose=0)
    print("replicas", strategy.num_replicas_in_sync)
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    np.savez(weights + str(task.get("index", "")), *model.get_weights())
    """
)


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound together, then released)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A process in its own process group, output to a pipe (read by `finish`)."""
    return subprocess.Popen(
        command,
        env={**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the process's group (a no-op once it has ended and been reaped)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def finish(process: subprocess.Popen, timeout: float) -> str:
    """Waits for the process (killed after ``timeout`` s) and returns its output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)
        output, _ = process.communicate()
        pytest.fail(f"no exit after {timeout} s:\n{output[-3000:]}")
    return output


@contextlib.contextmanager
def cleaned_up(processes: list[subprocess.Popen]):
    """Kills every process group still running when the block ends (failures included)."""
    try:
        yield processes
    finally:
        for process in processes:
            kill(process)
            if process.stdout:
                process.stdout.close()


def start_workers(command: list[str], ports: list[int]) -> list[subprocess.Popen]:
    """Two workers of ``command``, one per loopback port."""
    return [start(command, {"TF_CONFIG": tf_config(ports, index)}) for index in (0, 1)]


def run_workers(command: list[str], ports: list[int], timeout: float = 300) -> list[str]:
    """Runs two workers of ``command`` to the end; their outputs (both must succeed)."""
    with cleaned_up(start_workers(command, ports)) as processes:
        outputs = [finish(process, timeout) for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    return outputs


@pytest.mark.slow  # three TensorFlow processes, about a minute
def test_two_workers_train_like_one_process_with_two_replicas(tmp_path, fsdd_root):
    script = [sys.executable, "-c", TRAIN_SCRIPT, str(fsdd_root)]
    run = tmp_path / "workers"
    reference = [*script, "reference", str(tmp_path / "ref"), str(tmp_path / "r")]
    with cleaned_up([start(reference, {})]) as processes:
        processes += start_workers(
            [*script, "worker", str(run), str(tmp_path / "w")], free_ports(2)
        )
        outputs = [finish(p, 240) for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
        assert "replicas 2" in output
    ref, initial = np.load(tmp_path / "r.npz"), np.load(tmp_path / "r-initial.npz")
    moved = max(np.abs(ref[name] - initial[name]).max() for name in ref.files)
    assert moved > 1e-3  # training moved the weights far beyond the tolerance below
    for worker in ("w0.npz", "w1.npz"):
        weights = np.load(tmp_path / worker)
        for name in ref.files:
            # measured: bit for bit (a sum of two is the same in either order); the tolerance
            # allows the float32 rounding of another summation order (more workers, or a
            # collective implementation that splits or scales the gradients differently)
            np.testing.assert_allclose(weights[name], ref[name], rtol=0, atol=1e-5)
    # the chief wrote the run folder; the other worker's own folder is gone
    assert {"model.keras", "history.csv", "checkpoints", "logs"} <= {p.name for p in run.iterdir()}
    assert not list(run.glob(".worker-*"))


def test_auto_is_the_default_strategy_without_tf_config(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_from_tf_config() is None
    assert make_strategy("auto") is tf.distribute.get_strategy()


@pytest.mark.parametrize(
    "tf_config",
    ["not json", '{"cluster": {}}', '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}',
     '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}'],
)  # fmt: skip
def test_a_malformed_tf_config_is_named(monkeypatch, tf_config):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=r"^TF_CONFIG: expected JSON"):
        make_strategy("auto")


def test_multiworker_needs_tf_config_and_names_are_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="'multiworker' needs TF_CONFIG"):
        make_strategy("multiworker")
    with pytest.raises(ValueError, match="strategy must be one of auto, default"):
        make_strategy("parameter_server")


def train_command(run_dir, fsdd_root) -> list[str]:
    return [
        sys.executable, "-m", "tfp_audio_vae.cli", "train",
        "--run-dir", str(run_dir), "--fsdd", str(fsdd_root),
        "--limit", "32", "--epochs", "3", "--latent-dim", "2", "--prior", "standard",
        "--batch-size", "16", "--lr-schedule", "constant", "--quiet",
    ]  # fmt: skip


def history_rows(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow  # four TensorFlow processes, about two minutes
def test_a_cluster_restarted_after_a_worker_is_killed_resumes_after_the_last_epoch(
    tmp_path, fsdd_root
):
    run_dir = tmp_path / "run"
    command = train_command(run_dir, fsdd_root)
    first_checkpoint = run_dir / "checkpoints" / "ckpt-1.index"
    ports = free_ports(2)
    with cleaned_up(start_workers(command, ports)) as (chief, worker):
        deadline = time.time() + 300
        while not first_checkpoint.exists():
            assert chief.poll() is None, finish(chief, 30)[-3000:]
            assert time.time() < deadline, "no checkpoint after 300 s"
            time.sleep(0.05)
        kill(worker)  # SIGKILL in epoch 2 (2 steps of 16 clips per epoch)
        output = finish(chief, 120)  # its next collective fails without its peer
    assert worker.returncode == -signal.SIGKILL
    assert chief.returncode == 2, output[-3000:]
    assert "error: a worker of the cluster stopped during epoch" in output, output[-3000:]
    assert not (run_dir / "model.keras").exists()  # the run was cut short
    assert not (run_dir / "checkpoints" / "ckpt-3.index").exists()
    finished = history_rows(run_dir)
    assert [row["epoch"] for row in finished][:1] == ["0"]

    outputs = run_workers(command, ports)  # both restarted with the same command, as a user would
    for output in outputs:
        resumed_from = int(output.split("Epoch ")[1].split("/")[0])
        assert resumed_from == len(finished) + 1, output[-2000:]  # finished epochs not redone
    rows = history_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]  # each epoch once, none lost
    assert rows[: len(finished)] == finished  # the finished epochs' rows kept as they were
    assert (run_dir / "model.keras").is_file()
    assert not list(run_dir.glob(".worker-*"))  # the second worker's own folder is removed


def test_train_refuses_a_malformed_tf_config_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tfp_audio_vae.cli", "train", "--run-dir", str(tmp_path / "run")],
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": '{"cluster": '},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tfp-audio-vae: error: TF_CONFIG: expected JSON")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before anything was written
