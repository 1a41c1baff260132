"""Every experiment of ``experiments/`` run through its real entry point at a tiny size, so none
can rot: ``python -m experiments.NAME`` from the repository root, its record written to a
temporary file, the record and the printed table checked.

One tiny N(0, I) model (20 clips, 1 epoch, latent 2) is trained once for the module by
``experiments.levers`` itself, and a 1-epoch judge is cached in a temporary cache first, so no
experiment trains the real judge.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import harness
from tfp_audio_vae.data import fsdd, pipeline
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation.judge import judge_path, save_judge, train_judge
from tfp_audio_vae.training.run_spec import RunSpec, TrainingSpec

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIPS = ["--limit", "10"]  # test clips of every experiment


@pytest.fixture(scope="module")
def env(tmp_path_factory, fsdd_root) -> dict[str, str]:
    """The environment of the experiments' processes: FSDD, and a cache holding a tiny judge."""
    cache = tmp_path_factory.mktemp("cache")
    records = fsdd.records(fsdd_root, "train")[::60]
    waves, labels = pipeline.load_waveforms(records, SpectrogramConfig())
    save_judge(train_judge(waves, labels, epochs=1, verbose=0), judge_path(cache))
    return {**os.environ, "TFP_AUDIO_VAE_CACHE": str(cache), "TFP_AUDIO_VAE_FSDD": str(fsdd_root)}


def experiment(env: dict[str, str], name: str, *argv: str, check: bool = True):
    """Runs ``python -m experiments.NAME ARGV`` from the repository root."""
    result = subprocess.run(
        [sys.executable, "-m", f"experiments.{name}", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def records(path: Path) -> list[dict]:
    return harness.read_records(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, env) -> tuple[Path, Path, str]:
    """(the run folder, the levers record, the printed table) of one tiny N(0, I) pilot."""
    folder = tmp_path_factory.mktemp("levers")
    run, record = folder / "run", folder / "levers.jsonl"
    settings = ["data.limit=20", "training.epochs=1", "training.batch_size=10",
                "model.latent_dim=2", "model.prior=standard"]  # fmt: skip
    result = experiment(
        env, "levers", str(run), *[a for s in settings for a in ("--set", s)], *CLIPS,
        "--k", "2", "--samples", "10", "--name", "tiny", "--record", str(record),
    )  # fmt: skip
    return run, record, result.stdout


# --------------------------------------------------------------------------- the harness


def test_set_replaces_settings_of_the_current_defaults():
    spec = harness.run_spec(["model.latent_dim=8", "training.speeds=[0.9, 1.0]", "seed=3",
                             "model.network=conv2d", "data.limit=null"])  # fmt: skip
    assert spec.model.latent_dim == 8 and spec.model.network == "conv2d"
    assert spec.training.speeds == (0.9, 1.0) and spec.seed == 3 and spec.data.limit is None
    assert spec.training == TrainingSpec(speeds=(0.9, 1.0))


@pytest.mark.parametrize("pair", ["model.nope=1", "latent_dim=8", "model", "data.dataset=mp3"])
def test_set_refuses_unknown_keys_and_bad_values_in_one_line(pair):
    with pytest.raises(SystemExit) as error:
        harness.run_spec([pair])
    assert str(error.value).startswith(f"--set {pair}:") and "\n" not in str(error.value)


def test_one_table_formatter():
    rows = [{"a": "x", "b": {"c": 0.5}}, {"a": "y"}]
    text = harness.table(rows, [("A", "a", "{}"), ("C", "b.c", "{:.0%}")])
    assert text.splitlines() == ["| A | C |", "|---|---|", "| x | 50% |", "| y | – |"]


# --------------------------------------------------------------------------- the experiments


@pytest.mark.slow
def test_levers_trains_the_defaults_with_set_and_records_them(trained):
    run, record, stdout = trained
    [line] = records(record)
    assert line["pilot"] == "tiny" and line["command"].startswith("python -m experiments.levers")
    assert line["settings"]["model"]["latent_dim"] == 2
    assert line["settings"]["model"]["prior"] == "standard"
    assert line["settings"]["model"]["network"] == RunSpec().model.network  # the defaults
    assert line["evaluation"]["clips"] == 10 and line["train_s"] > 0
    assert {"likelihood", "reconstruction", "generation"} <= set(line["figures"])
    assert {"date", "cpu_model", "matmul_gflops_fp32", "tensorflow"} <= set(line["environment"])
    assert json.loads((run / "metrics.json").read_text()) == line["figures"]
    assert "| tiny | 0 |" in stdout


def test_levers_table_reads_its_record_and_the_old_harnesses(tmp_path, capsys):
    from experiments import levers

    figures = {"likelihood": {"neg_iwae": 900.0, "kl": 50.0},
               "reconstruction": {"judge_accuracy": 0.5}}  # fmt: skip
    line = {"pilot": "tiny", "settings": RunSpec().to_json(), "train_s": 1.0, "figures": figures}
    (tmp_path / "new.jsonl").write_text(json.dumps(line) + "\n")
    old = [
        REPO_ROOT / "docs/data/lever_pilots.jsonl",
        REPO_ROOT / "docs/data/quality_ablation.jsonl",
    ]
    assert levers.main(["--table", str(tmp_path / "new.jsonl"), *map(str, old)]) == 0
    body = capsys.readouterr().out.strip().splitlines()[2:]
    assert body[0].startswith("| tiny | 0 | 1 | 900 | – | 50.0 | – | – | 50.0% |")
    assert any(row.startswith("| baseline: the previous default") for row in body)
    assert any(row.startswith("| conv1d-cosine (30 epochs") for row in body)
    assert not any("| – | – | – | – |" in row for row in body[1:])  # every old line has its figures


@pytest.mark.slow
def test_judge_degradations(env, tmp_path):
    out = experiment(env, "judge_degradations", *CLIPS, "--record", str(tmp_path / "j.jsonl"))
    [line] = records(tmp_path / "j.jsonl")
    conditions = {row["condition"]: row for row in line["conditions"]}
    assert len(conditions) == 9 and line["clips"] == 10
    assert conditions["real clips, -10 dB"]["level_db"] == pytest.approx(-10, abs=0.01)
    assert "| real clips |" in out.stdout


def test_perceptual_levers_original_phase_gives_back_the_clip_and_contrast_spreads_it(fsdd_root):
    import numpy as np

    from experiments.perceptual_levers import contrasted, synthesise
    from tfp_audio_vae.data.stft import stft_magnitude

    config = SpectrogramConfig()
    waves, _ = pipeline.load_waveforms(fsdd.records(fsdd_root, "test")[:3], config)
    magnitude = stft_magnitude(waves, config.n_fft, config.hop_length).numpy()
    same = synthesise(magnitude, waves, config, "true", 0, 0)  # no phase retrieval at all
    after = config.n_fft  # the uncentred STFT's first samples are damped, by design
    np.testing.assert_allclose(same[:, after:], waves[:, after:], atol=1e-5)
    retrieved = synthesise(magnitude, waves, config, "random", 2, 0)  # Griffin-Lim's own phase
    assert np.abs(retrieved - waves)[:, after:].max() > 0.01
    spectrogram = np.random.default_rng(0).normal(size=(2, 4, 5, 1))
    std = np.array([1.0, 2.0, 0.5, 1.0])[:, None, None]
    np.testing.assert_allclose(contrasted(spectrogram, std, 1.0), spectrogram)
    spread = contrasted(spectrogram, std, 2.0) * std  # in log units
    centre = (spectrogram * std).mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(spread - centre, 2 * (spectrogram * std - centre), atol=1e-12)


def test_fd_sources_gives_each_sampled_z_the_local_code_of_the_nearest_training_z():
    from types import SimpleNamespace

    import numpy as np

    from experiments.fd_sources import with_nearest_u

    train = np.array([[0.0, 0.0, 1, 1, 1], [5.0, 5.0, 2, 2, 2]])  # [z (2), u (3)] per clip
    sampled = np.array([[4.0, 4.0, 9, 9, 9], [0.1, -0.1, 9, 9, 9]])
    codes = with_nearest_u(SimpleNamespace(latent_dim=2), sampled, train)
    np.testing.assert_array_equal(codes, [[4, 4, 2, 2, 2], [0.1, -0.1, 1, 1, 1]])


@pytest.mark.slow
def test_perceptual_levers(trained, env, tmp_path):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    from experiments.perceptual_levers import WAYS

    run, *_ = trained
    out = experiment(env, "perceptual_levers", str(run), *CLIPS, "--ceiling",
                     "--record", str(tmp_path / "p.jsonl"))  # fmt: skip
    lines = records(tmp_path / "p.jsonl")
    assert len(lines) == 4 + len(WAYS) and out.stdout.count("true magnitudes") == 4
    ceiling, model = lines[:4], lines[4:]
    assert [(line["phase"], line["iterations"]) for line in ceiling] == [
        ("random", 32), ("pghi", 32), ("random", 100), ("pghi", 100)
    ]  # fmt: skip
    assert ceiling[3]["spectral_convergence"] < ceiling[0]["spectral_convergence"]
    ways = [(m["statistic"], m["contrast"], m["phase"], m["iterations"]) for m in model]
    assert sorted(ways) == sorted(WAYS)  # each way once, grouped by statistic
    for line in lines:
        assert line["clips"] == 10 and 1.0 <= line["pesq_nb"]["mean"] <= 4.6


@pytest.mark.slow
def test_temperature_sweep(trained, env, tmp_path):
    run, *_ = trained
    out = experiment(env, "temperature_sweep", str(run), "--temperatures", "0.5,1", *CLIPS,
                     "--samples", "10", "--record", str(tmp_path / "t.jsonl"))  # fmt: skip
    lines = records(tmp_path / "t.jsonl")
    assert [line["temperature"] for line in lines] == [0.5, 1.0]
    assert all(line["generation"]["samples"] == 10 for line in lines)
    assert out.stdout.count(str(run)) == 2


@pytest.mark.slow
def test_refine_latents(trained, env, tmp_path):
    run, *_ = trained
    experiment(env, "refine_latents", str(run), "--steps", "0,2", *CLIPS,
               "--record", str(tmp_path / "r.jsonl"))  # fmt: skip
    lines = records(tmp_path / "r.jsonl")
    assert [line["steps"] for line in lines] == [0, 2]
    assert all(line["clips"] == 10 and "judge_accuracy" in line["reconstruction"] for line in lines)
    assert lines[1]["log_joint_nats"] >= lines[0]["log_joint_nats"] - 1.0


@pytest.mark.slow
def test_posthoc_prior(trained, env, tmp_path):
    run, *_ = trained
    experiment(env, "posthoc_prior", str(run), *CLIPS, "--k", "2", "--record",
               str(tmp_path / "p.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "p.jsonl")
    difference = line["fitted_mixture"]["neg_iwae"] - line["standard"]["neg_iwae"]
    assert line["difference"]["neg_iwae"] == pytest.approx(difference)
    assert line["fitted_mixture_evaluated"] is None


@pytest.mark.slow
def test_held_out_experiments(trained, env, tmp_path):
    """iwae_convergence, scale_calibration and checkpoint_selection on the tiny run (which kept
    its best held-out epoch and calibrated its scale on 2 validation clips)."""
    run, *_ = trained
    experiment(env, "iwae_convergence", str(run), *CLIPS, "--ks", "2,8",
               "--record", str(tmp_path / "i.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "i.jsonl")
    assert line["clips"] == 10 and set(line["neg_iwae"]) == {"2", "8"}
    tightening = line["neg_iwae"]["8"] - line["neg_iwae"]["2"]  # means of float32 bounds
    assert line["tightening"] == pytest.approx(tightening, abs=1e-2)
    experiment(env, "scale_calibration", str(run), *CLIPS, "--levels", "2",
               "--record", str(tmp_path / "c.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "c.jsonl")
    bounds = [line[k]["neg_elbo"] for k in ("training_scale", "per_bin")]
    assert all(math.isfinite(b) for b in [*bounds, line["levels"]["2"]["neg_elbo"]])
    assert 0 <= line["levels"]["2"]["floored_share"] <= 1
    out = experiment(env, "checkpoint_selection", str(run), *CLIPS, "--k", "2",
                     "--samples", "10", "--record", str(tmp_path / "s.jsonl"))  # fmt: skip
    last, best = records(tmp_path / "s.jsonl")
    assert last["weights"] == "last (the run's)" and best["weights"] == "best"
    assert best["epoch"] == last["epoch"] == 1  # one epoch: the best is the last
    assert best["likelihood"]["neg_elbo"] == pytest.approx(last["likelihood"]["neg_elbo"], rel=1e-3)
    assert "| best |" in out.stdout


@pytest.mark.slow
def test_level_sources(trained, env, tmp_path):
    run, *_ = trained
    experiment(env, "level_sources", str(run), *CLIPS, "--samples", "10",
               "--record", str(tmp_path / "l.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "l.jsonl")
    assert set(line["reconstructions_db"]) == set(line["samples_db"]) == {
        "median", "normal_scale", "normal_test_rms (oracle)", "smearing_train",
        "smearing_test (oracle)",
    }  # fmt: skip
    assert abs(line["true_magnitudes_db"]) < 3


@pytest.mark.slow
def test_fd_sources(trained, env, tmp_path):
    run, *_ = trained
    experiment(env, "fd_sources", str(run), *CLIPS, "--train-clips", "10", "--samples", "10",
               "--record", str(tmp_path / "f.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "f.jsonl")
    for source in ("real_train", "recon_train", "recon_test", "recon_test_refined", "samples"):
        assert line[source]["frechet_distance"] >= 0
    assert line["copy_distance_samples"] >= 0


@pytest.mark.slow
def test_quality_vs_minutes(trained, env, tmp_path):
    run, *_ = trained
    figure = tmp_path / "q.png"
    out = experiment(env, "quality_vs_minutes", f"tiny={run / 'metrics.json'}@60",
                     "--out", str(figure), "--record", str(tmp_path / "q.jsonl"))  # fmt: skip
    [line] = records(tmp_path / "q.jsonl")
    assert line["points"][0]["label"] == "tiny" and line["points"][0]["train_minutes"] == 1.0
    assert figure.stat().st_size > 0 and "| tiny |" in out.stdout


def fake_results(metrics: dict, seed: int, workdir: Path, passed: list[str]) -> None:
    """A finished ``results.json`` of the example for one seed, as seed_spread reuses it."""
    out = workdir / f"seed{seed}"
    command = " ".join(["python examples/compare_priors.py", "--seed", str(seed), "--out",
                        str(out), *passed])  # fmt: skip
    shifted = json.loads(json.dumps(metrics))
    shifted["likelihood"]["neg_iwae"] += seed
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(
        {"command": command, "seconds": 60.0, "results": {"standard": metrics, "mixture": shifted}}
    ))  # fmt: skip


@pytest.mark.slow
def test_seed_spread_aggregates_finished_seeds(trained, env, tmp_path):
    run, *_ = trained
    metrics = json.loads((run / "metrics.json").read_text())
    for seed in (0, 1):
        fake_results(metrics, seed, tmp_path / "work", ["--quick"])
    out = experiment(env, "seed_spread", "--seeds", "0,1", "--workdir", str(tmp_path / "work"),
                     "--record", str(tmp_path / "s.jsonl"), "--", "--quick")  # fmt: skip
    [line] = records(tmp_path / "s.jsonl")
    assert line["mixture_minus_standard_neg_iwae"]["values"] == [0.0, 1.0]
    assert line["figures"]["standard"]["likelihood.neg_iwae"]["sd"] == 0.0
    assert not line["mixture_better_in_every_seed"]  # a difference of 0 and of +1 nat
    assert not line["mixture_beats_standard_beyond_spread"]
    assert "reusing" in out.stdout and "| test -IWAE (nats) |" in out.stdout
