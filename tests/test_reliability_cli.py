"""Issue 11 through the real entry point (a subprocess of `python -m tfp_audio_vae.cli`, as a user
runs it): every failure ends in one line on stderr, exit status 2, naming the file or setting."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import TINY_CONFIG
from tfp_audio_vae import cli

ERROR = "tfp-audio-vae: error: "


def _env() -> dict[str, str]:
    """The user's environment: no TF_CPP_MIN_LOG_LEVEL, this tree first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


def tfp_audio_vae(*argv, cwd=None, preexec_fn=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfp_audio_vae.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        preexec_fn=preexec_fn,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *names: str) -> str:
    """Exit 2 and exactly one line on stderr (no log lines before it), short, naming ``names``."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(ERROR) and len(lines[0]) < 500, lines[0]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tfp_audio_vae.models.saving import save_model
    from tfp_audio_vae.models.variants import build_vae

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_model(build_vae(TINY_CONFIG, "standard", latent_dim=2), path)
    return path


def _tone(n: int = 4000) -> np.ndarray:
    return (0.3 * np.sin(np.arange(n) / 5.0)).astype(np.float32)


# --- row 1: non-finite audio --------------------------------------------------------------------


def test_reconstruct_and_interpolate_refuse_a_nan_or_inf_wav_in_one_line(model_file, tmp_path):
    good, nan, inf = tmp_path / "good.wav", tmp_path / "nan.wav", tmp_path / "inf.wav"
    sf.write(good, _tone(), 8000)
    for path, bad in ((nan, np.nan), (inf, np.inf)):
        wave = _tone()
        wave[100] = bad
        sf.write(path, wave, 8000, subtype="FLOAT")
    out = tmp_path / "out"
    result = tfp_audio_vae("reconstruct", model_file, good, nan, "--out", out)
    assert_one_line_error(result, "nan.wav", "NaN or infinite")
    result = tfp_audio_vae("interpolate", model_file, inf, good, "--steps", 2, "--out", out)
    assert_one_line_error(result, "inf.wav", "NaN or infinite")
    assert not out.exists()


def test_train_refuses_or_skips_and_lists_a_nan_file_before_training(fsdd_root, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for clip in sorted((fsdd_root / "recordings").glob("*_jackson_*.wav"))[:3]:
        shutil.copy(clip, data)
    wave = _tone(8000)
    wave[7] = np.nan
    sf.write(data / "broken.wav", wave, 8000, subtype="FLOAT")
    common = ["--data", data, "--epochs", 1, "--latent-dim", 2, "--batch-size", 4]
    common += ["--prior", "standard", "--quiet"]
    result = tfp_audio_vae("train", "--run-dir", tmp_path / "refused", *common)
    assert_one_line_error(result, "broken.wav", "NaN or infinite")
    assert not (tmp_path / "refused" / "train.json").exists()  # nothing trained, nothing kept

    result = tfp_audio_vae("train", "--run-dir", tmp_path / "run", *common, "--skip-bad-files")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines() == [f"skipped {data / 'broken.wav'}: contains NaN or "
                                          "infinite samples (the first at frame 7)"]  # fmt: skip
    assert (tmp_path / "run" / "model.keras").is_file()


# --- row 2: numeric options ---------------------------------------------------------------------

NUMERIC = {
    "train": ["--epochs", "--batch-size", "--latent-dim", "--components",
              "--components-per-class", "--fit-prior-every", "--learning-rate", "--beta",
              "--warmup-steps", "--free-nats", "--seed", "--limit"],
    "generate": ["-n", "--temperature", "--n-iter", "--seed"],
    "reconstruct": ["--n-iter", "--seed"],
    "interpolate": ["--steps", "--n-iter", "--seed"],
    "evaluate": ["--k", "--samples", "--limit", "--seed"],
    "plot": ["--limit", "--seed"],
}  # fmt: skip
POSITIONAL = {"train": ["--run-dir", "r"], "reconstruct": ["m", "a.wav"],
              "interpolate": ["m", "a.wav", "b.wav"]}  # fmt: skip
HOSTILE = ["nan", "NaN", "inf", "-inf", "-1", "1e400", "10" * 40, "-" + "9" * 40, "1e-400x", ""]


@pytest.mark.parametrize("command", sorted(NUMERIC))
def test_fuzz_numeric_options_nan_inf_negative_huge_are_refused_naming_the_option(command, capsys):
    cases = 0
    for option in NUMERIC[command]:
        for value in HOSTILE:
            argv = [command, *POSITIONAL.get(command, ["m"]), option, value]
            with pytest.raises(SystemExit) as stop:
                cli.build_parser().parse_args(argv)
            err = capsys.readouterr().err
            assert stop.value.code == 2, argv
            assert f"error: argument {option}" in err.splitlines()[-1], (argv, err)
            cases += 1
    assert cases == len(NUMERIC[command]) * len(HOSTILE)


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--fit-prior-every", "-1", "must lie in [0,"),
        ("--learning-rate", "nan", "must be a finite number"),
        ("--learning-rate", "0", "must lie in (0,"),
        ("--epochs", "0", "must lie in [1,"),
        ("--seed", "-3", "must lie in [0,"),
    ],
)
def test_train_numeric_options_are_checked_before_anything_runs(option, value, said, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--run-dir", "r", option, value])
    assert said in capsys.readouterr().err.splitlines()[-1]


def test_zero_temperatures_and_steps_are_refused_and_good_values_accepted(capsys):
    parse = cli.build_parser().parse_args
    for argv in (["generate", "m", "--temperature", "0"], ["interpolate", "m", "a", "b",
                 "--steps", "1"], ["generate", "m", "-n", "0"]):  # fmt: skip
        with pytest.raises(SystemExit):
            parse(argv)
    args = parse(["train", "--run-dir", "r", "--learning-rate", "3e-4", "--fit-prior-every", "0"])
    assert args.learning_rate == 3e-4 and args.fit_prior_every == 0
    assert parse(["generate", "m", "--temperature", "1e-3"]).temperature == 1e-3


def test_generate_temperature_nan_through_the_real_command(model_file, tmp_path):
    for value in ("nan", "inf", "-0.5"):
        result = tfp_audio_vae("generate", model_file, "--temperature", value, "--out", tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "argument --temperature" in result.stderr.splitlines()[-1]
    assert not list(tmp_path.iterdir())


# --- row 3: damaged model files -----------------------------------------------------------------


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_a_model_file_with_flipped_bytes_ends_in_one_line(model_file, tmp_path, member):
    from tests.test_reliability_io import _flip_a_byte_of

    damaged = _flip_a_byte_of(model_file, member, tmp_path / "flipped.keras")
    result = tfp_audio_vae("generate", damaged, "-n", 1, "--out", tmp_path / "out")
    assert_one_line_error(result, "flipped.keras", member, "CRC")
    assert not (tmp_path / "out").exists()


def test_a_model_file_inflating_to_a_gigabyte_is_refused_with_bounded_memory(model_file, tmp_path):
    """A 1 MB `.keras` whose config.json inflates to 1 GiB (issue 11: 3.6 GB of memory before it
    was refused): refused from the archive's directory; the process's peak memory is measured."""
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(bomb, "w") as out:
        out.writestr("metadata.json", source.read("metadata.json"))
        big = zipfile.ZipInfo("config.json")
        big.compress_type = zipfile.ZIP_DEFLATED
        with out.open(big, "w", force_zip64=True) as f:
            for _ in range(1024):
                f.write(b" " * 2**20)
    assert bomb.stat().st_size < 2_000_000
    script = (
        "import resource, sys\n"
        "from tfp_audio_vae.models.saving import load_model\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    load_model(sys.argv[1])\nexcept ValueError as e:\n    print(e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, env=_env()
    )
    message, grown_kb = result.stdout.strip().splitlines()
    print(f"peak memory growth loading the 1 GiB bomb: {int(grown_kb) / 1024:.1f} MiB")
    assert "bomb.keras" in message and "config.json would inflate to 1,073,741,824" in message
    assert int(grown_kb) < 50 * 1024
    assert_one_line_error(tfp_audio_vae("generate", bomb, "-n", 1), "bomb.keras", "inflate")


# --- row 6: reconstruct writes one file per input, and says so truthfully -----------------------


def test_reconstruct_of_files_whose_stems_collide_writes_each(model_file, tmp_path):
    sf.write(tmp_path / "a.wav", _tone(), 8000)
    sf.write(tmp_path / "a.flac", _tone(), 16000)
    (tmp_path / "x").mkdir()
    sf.write(tmp_path / "x" / "a.wav", _tone(), 8000)
    out = tmp_path / "out"
    files = [tmp_path / "a.wav", tmp_path / "a.flac", tmp_path / "x" / "a.wav"]
    result = tfp_audio_vae("reconstruct", model_file, *files, "--n-iter", 2, "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "a_flac_reconstruction.wav", "a_wav_2_reconstruction.wav", "a_wav_reconstruction.wav"
    ]  # fmt: skip
    assert f"wrote 3 WAV files to {out}" in result.stdout


# --- row 7: generate -n writes batch by batch ---------------------------------------------------


def test_generate_writes_batches_as_it_goes(model_file, tmp_path, monkeypatch, capsys):
    from tfp_audio_vae.synthesis import generation

    made = generation.generate
    seen: list[tuple[int, int]] = []  # (clips asked of this batch, files on disk before it)

    def generate(model, n, **kwargs):
        seen.append((n, len(list(tmp_path.glob("*.wav")))))
        return made(model, n, **kwargs)

    monkeypatch.setattr(generation, "generate", generate)
    n = 2 * cli.GENERATE_BATCH + 5
    code = cli.main(["generate", str(model_file), "-n", str(n), "--n-iter", "1",
                     "--out", str(tmp_path)])  # fmt: skip
    assert code == 0 and f"wrote {n} WAV files" in capsys.readouterr().out
    batch = cli.GENERATE_BATCH
    assert seen == [(batch, 0), (batch, batch), (5, 2 * batch)]
    assert len(list(tmp_path.glob("sample_*.wav"))) == n


def test_generate_memory_does_not_grow_with_n(model_file, tmp_path):
    """Peak RSS of `generate -n 64` and `-n 640` (ten batches) in fresh processes."""
    peaks = {}
    for n in (64, 640):
        script = (
            "import resource, sys\nfrom tfp_audio_vae import cli\n"
            f"code = cli.main(['generate', sys.argv[1], '-n', '{n}', '--n-iter', '1', "
            "'--out', sys.argv[2]])\n"
            "print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(model_file), str(tmp_path / str(n))],
            capture_output=True, text=True, env=_env(), timeout=600,
        )  # fmt: skip
        code, peak_kb = result.stdout.split()[-2:]
        assert code == "0", result.stderr[-2000:]
        peaks[n] = int(peak_kb) / 1024
        assert len(list((tmp_path / str(n)).glob("*.wav"))) == n
    print(f"peak RSS of generate: -n 64 {peaks[64]:.0f} MiB, -n 640 {peaks[640]:.0f} MiB")
    assert peaks[640] < peaks[64] + 64


# --- row 8: absurd sample rates through the command ---------------------------------------------


@pytest.mark.parametrize(("rate", "size"), [(1, 40_000), (3, 400_000)])
def test_reconstruct_refuses_a_wav_at_a_few_hertz_in_one_line(model_file, tmp_path, rate, size):
    path = tmp_path / f"at_{rate}_hz.wav"
    sf.write(path, np.zeros(size // 2, np.int16), rate, subtype="PCM_16")
    result = tfp_audio_vae("reconstruct", model_file, path, "--out", tmp_path / "out")
    assert_one_line_error(result, path.name, f"sample rate {rate} Hz is below the minimum")


# --- rows 4 and 5: run folders ------------------------------------------------------------------


def _train_args(fsdd_root: Path, epochs: int) -> list:
    return ["--fsdd", fsdd_root, "--limit", 4, "--epochs", epochs, "--latent-dim", 2,
            "--batch-size", 4, "--prior", "standard", "--quiet"]  # fmt: skip


def _history_epochs(run: Path) -> list[int]:
    lines = (run / "history.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines]


def test_a_second_train_on_a_busy_folder_is_refused_and_a_killed_one_does_not_block(
    fsdd_root, tmp_path
):
    run = tmp_path / "runs" / "one"
    first = subprocess.Popen(
        [sys.executable, "-m", "tfp_audio_vae.cli", "train", "--run-dir", str(run),
         *map(str, _train_args(fsdd_root, 1000))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (run / "checkpoints" / "checkpoint").is_file():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        assert (run / ".lock").read_text().strip() == str(first.pid)
        second = tfp_audio_vae("train", "--run-dir", run, *_train_args(fsdd_root, 1000))
        assert_one_line_error(second, str(run), "in use", f"PID {first.pid}")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    done = max(_history_epochs(run)) + 1  # finished epochs the killed run kept
    assert (run / ".lock").exists()  # what kill -9 leaves
    # the same folder spelled relative with a trailing slash resumes, lock taken over
    again = tfp_audio_vae(
        "train", "--run-dir", "runs/one/", *_train_args(fsdd_root, done + 1), cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert _history_epochs(run) == list(range(done + 1)) and not (run / ".lock").exists()
    # moved, it is still the same run: it resumes
    moved = tmp_path / "elsewhere"
    shutil.move(run, moved)
    later = tfp_audio_vae("train", "--run-dir", moved, *_train_args(fsdd_root, done + 2))
    assert later.returncode == 0, later.stderr[-2000:]
    assert _history_epochs(moved) == list(range(done + 2))


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_checkpoint_cut_by_a_file_size_limit_ends_in_one_line_and_leaves_no_temp_files(
    fsdd_root, tmp_path
):
    """The first checkpoint write hits a 2 MB file-size limit: one line, exit 2, no
    ckpt-*_temp/ or .tmp-* left; the run never finished an epoch, so a retry with other
    settings is not refused."""
    run = tmp_path / "run"
    cut = tfp_audio_vae(
        "train", "--run-dir", run, *_train_args(fsdd_root, 1), preexec_fn=_file_size_limit(2**21)
    )
    assert_one_line_error(cut, str(run / "checkpoints"), "File too large")
    assert not list(run.rglob("*_temp*")) and not list(run.rglob(".tmp-*"))
    assert not (run / "model.keras").exists() and not (run / ".lock").exists()
    assert json.loads((run / "train.json").read_text())["model"]["latent_dim"] == 2
    retry = tfp_audio_vae("train", "--run-dir", run, *_train_args(fsdd_root, 1), "--beta", "0.5")
    assert retry.returncode == 0, retry.stderr[-2000:]
    assert json.loads((run / "train.json").read_text())["model"]["beta"] == 0.5
    assert _history_epochs(run) == [0] and not list(run.rglob("*_temp*"))
