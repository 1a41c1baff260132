"""`--preset`: the command line and the main example take a preset's settings unless an option
is given, and the defaults otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tfp_audio_vae import cli, defaults

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import compare_priors  # noqa: E402  (the example, imported as its tests' subject)


@pytest.fixture
def trained_with(monkeypatch):
    """The arguments `tfp-audio-vae train` would train with (the training itself stubbed)."""
    seen = {}
    monkeypatch.setattr(cli, "cmd_train", lambda args, strategy: seen.update(args=args))
    return lambda *argv: (cli.main(["train", "--run-dir", "unused", *argv]), seen["args"])[1]


def test_train_takes_the_defaults_without_a_preset(trained_with):
    args = trained_with()
    assert (args.epochs, args.latent_dim) == (defaults.EPOCHS, defaults.LATENT_DIM)


def test_train_takes_the_best_presets_settings(trained_with):
    args = trained_with("--preset", "best")
    assert (args.epochs, args.latent_dim) == (100, 64)
    assert args.batch_size == defaults.BATCH_SIZE  # what the preset leaves alone


def test_an_option_given_wins_over_the_preset(trained_with):
    args = trained_with("--preset", "best", "--epochs", "7")
    assert (args.epochs, args.latent_dim) == (7, 64)


def test_an_unknown_preset_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--run-dir", "unused", "--preset", "fastest"])
    assert "invalid choice: 'fastest'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (30, 64)),
        (["--preset", "best"], (100, 64)),
        (["--preset", "best", "--latent-dim", "16"], (100, 16)),
    ],
)
def test_the_example_takes_the_same_presets(argv, expected):
    args = compare_priors.parse_args(argv)
    assert (args.epochs, args.latent_dim) == expected
    assert defaults.PRESETS["default"] == {
        "epochs": defaults.EPOCHS,
        "latent_dim": defaults.LATENT_DIM,
    }


def test_the_command_line_and_the_library_describe_the_same_default_run(trained_with):
    from tfp_audio_vae.training.run_spec import DataSpec, RunSpec

    assert cli._spec(trained_with()) == RunSpec(data=DataSpec("fsdd"))


def test_the_command_line_and_the_library_describe_the_same_best_run(trained_with):
    from tfp_audio_vae.training.run_spec import DataSpec, RunSpec

    best = cli._spec(trained_with("--preset", "best"))
    assert best == RunSpec.from_preset("best", data=DataSpec("fsdd"))
    assert best.training.epochs == defaults.PRESETS["best"]["epochs"]


def test_sc09_is_heard_at_its_own_16_khz_unless_the_run_names_a_resolution(trained_with):
    from tfp_audio_vae.training.run_spec import DataSpec, ResolutionSpec, RunSpec

    sc09 = cli._spec(trained_with("--dataset", "sc09"))
    assert sc09 == RunSpec(data=DataSpec("sc09"))  # the library's default for SC09 too
    assert sc09.resolution == ResolutionSpec.preset("16k")
    assert cli._spec(trained_with("--dataset", "sc09", "--resolution", "8k")).resolution == (
        ResolutionSpec()
    )
    assert cli._spec(trained_with("--data", "folder")).resolution == ResolutionSpec()
    # an SC09 run recorded before resolutions were a setting was heard at 8 kHz, and still is
    old = {"format": 2, "data": {"dataset": "sc09", "root": None}, "seed": 0}
    assert RunSpec.from_json(old).resolution == ResolutionSpec()


def test_local_latents_and_their_prior_reach_the_run_from_the_command_line(trained_with):
    spec = cli._spec(
        trained_with(
            "--local-dim", "16", "--local-prior", "autoregressive", "--local-components", "4"
        )
    )
    assert (spec.model.local_dim, spec.model.local_prior) == (16, "autoregressive")
    assert spec.model.local_components == 4
    assert cli._spec(trained_with()).model.local_prior == defaults.LOCAL_PRIOR == "independent"
    args = compare_priors.parse_args(
        ["--local-dim", "4", "--local-prior", "autoregressive", "--local-components", "3"]
    )
    assert (args.local_dim, args.local_prior, args.local_components) == (4, "autoregressive", 3)
