"""Every `tfp-audio-vae` command end to end on a tiny real FSDD run, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tfp_audio_vae import cli
from tfp_audio_vae.data import fsdd, pipeline
from tfp_audio_vae.data.audio_files import resample
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation.judge import judge_path, save_judge, train_judge

COMMANDS = [
    "download",
    "train",
    "generate",
    "reconstruct",
    "interpolate",
    "evaluate",
    "plot",
    "explore",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, fsdd_root):
    """A model trained by the real command, in a subprocess: 40 clips, 2 epochs (the tests that
    use it are the CLI's end-to-end runs, marked slow)."""
    run = tmp_path_factory.mktemp("cli") / "run"
    command = [
        sys.executable, "-m", "tfp_audio_vae.cli", "train", "--run-dir", str(run),
        "--fsdd", str(fsdd_root), "--limit", "40", "--epochs", "2", "--latent-dim", "4",
        "--batch-size", "16", "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model saved to" in result.stdout
    return run


@pytest.fixture
def tiny_judge(tmp_path, monkeypatch, fsdd_root):
    """A 1-epoch judge placed in a temporary cache, so `evaluate` needs no 3-minute training."""
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "cache"))
    records = fsdd.records(fsdd_root, "train")[::60]
    waves, digits = pipeline.load_waveforms(records, SpectrogramConfig())
    save_judge(train_judge(waves, digits, epochs=1, verbose=0), judge_path())


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_train_writes_a_complete_run_folder(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"model.keras", "train.json", "history.csv", "logs", "checkpoints"} <= names
    assert json.loads((run_dir / "train.json").read_text())["model"]["prior"] == "conditional"


@pytest.mark.slow
def test_generate_unconditional_and_per_digit(run_dir, capsys, tmp_path):
    code, out, _ = run(capsys, "generate", str(run_dir), "-n", "3", "--out", str(tmp_path / "u"))
    assert code == 0 and "wrote 3 WAV files" in out
    code, _, _ = run(
        capsys, "generate", str(run_dir), "-n", "4", "--digit", "3,7", "--out", str(tmp_path / "d")
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "d").glob("*.wav"))
    assert names == [
        "sample_000_digit3.wav",
        "sample_001_digit7.wav",
        "sample_002_digit3.wav",
        "sample_003_digit7.wav",
    ]
    audio, rate = sf.read(tmp_path / "d" / names[0])
    assert rate == 8000 and audio.shape == (8192,) and np.all(np.isfinite(audio))


@pytest.mark.slow
def test_reconstruct_any_audio_and_interpolate(run_dir, capsys, tmp_path, fsdd_root):
    clip = fsdd_root / "recordings" / "5_theo_3.wav"
    wave, rate = sf.read(clip)
    mine = tmp_path / "my recording.flac"  # a user's own file: stereo, 44.1 kHz, FLAC
    sf.write(mine, np.stack([wave, wave], 1).repeat(5, axis=0)[:, :2] * 0.5, 44100)
    code, out, _ = run(
        capsys, "reconstruct", str(run_dir), str(clip), str(mine), "--refine-steps", "0",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 0 and "wrote 2 WAV files" in out
    assert (tmp_path / "r" / "my recording_reconstruction.wav").is_file()
    code, out, _ = run(
        capsys, "reconstruct", str(run_dir), str(clip), "--refine-steps", "20",
        "--out", str(tmp_path / "refined"),
    )  # fmt: skip
    assert code == 0 and "wrote 1 WAV file" in out
    plain, _ = sf.read(tmp_path / "r" / "5_theo_3_reconstruction.wav")
    refined, _ = sf.read(tmp_path / "refined" / "5_theo_3_reconstruction.wav")
    assert plain.shape == refined.shape and not np.allclose(plain, refined)
    other = fsdd_root / "recordings" / "2_jackson_1.wav"
    code, out, _ = run(capsys, "interpolate", str(run_dir), str(clip), str(other), "--steps", "3")
    assert code == 0 and "wrote 3 WAV files" in out
    assert len(list((run_dir / "interpolations").glob("5_theo_3_to_2_jackson_1_*.wav"))) == 3


@pytest.mark.slow
def test_evaluate_writes_metrics_beside_the_model(run_dir, capsys, fsdd_root, tiny_judge):
    code, out, _ = run(
        capsys, "evaluate", str(run_dir), "--fsdd", str(fsdd_root),
        "--limit", "20", "--k", "3", "--samples", "20",
    )  # fmt: skip
    assert code == 0, out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["likelihood"]["neg_iwae"] <= metrics["likelihood"]["neg_elbo"] + 1.0
    assert metrics["generation"]["conditional"]["route"] == "prior"
    assert "Inception Score of prior samples" in out


@pytest.mark.slow
def test_plot_writes_every_figure(run_dir, capsys, fsdd_root):
    code, out, _ = run(capsys, "plot", str(run_dir), "--fsdd", str(fsdd_root), "--limit", "20")
    assert code == 0, out
    figures = {p.name for p in (run_dir / "figures").glob("*.png")}
    assert figures == {
        "reconstructions.png", "samples.png", "latents_pca.png", "latents_tsne.png",
        "latents_by_speaker.png", "prior.png", "training.png",
    }  # fmt: skip


def test_download_finds_a_local_copy_without_the_network(capsys, fsdd_root):
    code, out, _ = run(capsys, "download", "--fsdd", str(fsdd_root))
    assert code == 0 and str(fsdd_root) in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "/no/such/run"], "no model here"),
        (["reconstruct", "{run}", "{text}"], "notes.wav"),
        (["reconstruct", "{run}", "/no/such.wav"], "such.wav"),
        (
            ["train", "--run-dir", "{run}", "--latent-dim", "9", "--fsdd", "{fsdd}"],
            "other settings",
        ),
        (["evaluate", "{text}"], "not a .keras model file"),
    ],
)
def test_bad_files_and_settings_end_in_one_line_and_exit_2(
    run_dir, capsys, tmp_path, fsdd_root, argv, message
):
    text = tmp_path / "notes.wav"
    text.write_text("these are not samples")
    argv = [a.format(run=run_dir, text=text, fsdd=fsdd_root) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("tfp-audio-vae: error:") and message in lines[-1]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train"], "--run-dir"),
        (["generate", "r", "--digit", "12"], "digits must be 0-9"),
        (["generate", "r", "-n", "0"], "-n"),
        (["train", "--run-dir", "r", "--speeds", "0.9,3"], "between 0.5 and 2"),
        (["train", "--run-dir", "r", "--speeds", "fast"], "could not convert"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tfp-audio-vae" in err and message in err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "tfp_audio_vae.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "usage: tfp-audio-vae " + command in result.stdout
    assert "Traceback" not in result.stderr


@pytest.fixture
def wide_folder(tmp_path, fsdd_root):
    """A labelled folder at 16 kHz: two classes of six FSDD clips each, resampled, with the
    first clip of each class padded to 1.5 s."""
    for digit, name in ((3, "three"), (7, "seven")):
        (tmp_path / "wide" / name).mkdir(parents=True)
        clips = sorted((fsdd_root / "recordings").glob(f"{digit}_jackson_*.wav"))[:6]
        for i, clip in enumerate(clips):
            wave, rate = sf.read(clip, dtype="float32")
            wide = resample(wave, rate, 16_000)
            if i == 0:
                wide = np.pad(wide, (0, 24_000 - len(wide)))
            sf.write(tmp_path / "wide" / name / clip.name, wide, 16_000)
    return tmp_path / "wide"


def test_a_16_khz_folder_trains_generates_and_reconstructs_at_16_khz(wide_folder, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "train", "--data", str(wide_folder), "--resolution", "16k", "--run-dir",
        str(run_dir), "--epochs", "1", "--latent-dim", "2", "--batch-size", "4",
        "--prior", "standard", "--validation-fraction", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "up to 1.50 s long, cut to 1.024 s: --seconds 1.5 keeps them" in out
    assert "Hz, resampled" not in out  # at the resolution's own rate
    record = json.loads((run_dir / "train.json").read_text())
    assert record["resolution"] == {
        "sample_rate": 16_000, "seconds": 1.024, "n_fft": 512, "hop_length": 128
    }  # fmt: skip
    code, out, err = run(capsys, "generate", str(run_dir), "-n", "2", "--out", str(tmp_path / "g"))
    assert code == 0, err
    for path in sorted((tmp_path / "g").glob("*.wav")):
        info = sf.info(path)
        assert (info.samplerate, info.frames) == (16_000, 16_384)
    long = tmp_path / "long.wav"
    sf.write(long, np.sin(np.arange(48_000) * 2 * np.pi * 440 / 16_000) * 0.3, 16_000)
    code, out, err = run(capsys, "reconstruct", str(run_dir), str(long), "--out", str(tmp_path))
    assert code == 0, err
    (rebuilt,) = [p for p in tmp_path.glob("*.wav") if p != long]
    assert sf.info(rebuilt).samplerate == 16_000 and sf.info(rebuilt).frames == 48_000
