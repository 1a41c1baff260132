"""A training run killed with SIGKILL mid-epoch resumes with the same command and loses nothing."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from tfp_audio_vae.models.saving import load_model

EPOCHS = 6


def train_command(run_dir, fsdd_root) -> list[str]:
    return [
        sys.executable, "-m", "tfp_audio_vae.cli", "train",
        "--run-dir", str(run_dir), "--fsdd", str(fsdd_root),
        "--limit", "400", "--epochs", str(EPOCHS), "--latent-dim", "4",
        "--batch-size", "16", "--quiet",
    ]  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_without_redoing_epochs(tmp_path, fsdd_root):
    run_dir = tmp_path / "run"
    command = train_command(run_dir, fsdd_root)
    second_checkpoint = run_dir / "checkpoints" / "ckpt-2.index"
    deadline = time.time() + 240
    # the context closes the output pipe (an open one is a ResourceWarning, an error here)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as first:
        while not second_checkpoint.exists():
            assert first.poll() is None, first.stdout.read()[-2000:]
            assert time.time() < deadline, "no checkpoint after 240 s"
            time.sleep(0.05)
        time.sleep(1.0)  # well into epoch 3 (25 steps of 16 clips)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert not (run_dir / "model.keras").exists()  # it really died before finishing

    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    resumed_from = int(second.stdout.split("Epoch ")[1].split("/")[0])
    assert resumed_from >= 3, second.stdout[:500]  # epochs 1 and 2 were not redone

    with open(run_dir / "history.csv", newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == list(range(EPOCHS))  # each epoch once, none lost, none twice
    assert not list(run_dir.rglob(".tmp-*"))  # no half-written file left behind
    model = load_model(run_dir / "model.keras")
    assert model.latent_dim == 4 and model.spectrogram_config.is_normalised
