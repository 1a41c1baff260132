"""A prior written in user code works everywhere, as a user runs it: defined in a script run
directly, trained and saved there; then loaded, generated from, evaluated and resumed from other
processes through the Python API and the real command, by plain class name."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfp_audio_vae import SpectrogramConfig, load_waveforms
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.evaluation.judge import judge_path, save_judge, train_judge

pytestmark = pytest.mark.slow

PRIORS = textwrap.dedent(
    """
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tfp_audio_vae import Prior

    tfd = tfp.distributions


    class StudentTPrior(Prior):
        def __init__(self, latent_dim, df=4.0, **kwargs):
            super().__init__(latent_dim, **kwargs)
            self.df = float(df)
            self.log_scale = self.add_weight(shape=(latent_dim,), initializer="zeros")

        def distribution(self, labels=None):
            scale = tf.exp(self.log_scale)
            return tfd.Independent(tfd.StudentT(self.df, tf.zeros(self.latent_dim), scale), 1)

        def get_config(self):
            return {**super().get_config(), "df": self.df}
    """
)
# The same class, defined in a script run directly: Keras saves it as "__main__>StudentTPrior".
SCRIPT = PRIORS + textwrap.dedent(
    """

    if __name__ == "__main__":
        import sys

        from tfp_audio_vae import build_vae, fit_normalisation, save_model, spectrogram_dataset
        from tfp_audio_vae import SpectrogramConfig, train
        from tfp_audio_vae.data import fsdd

        root, out = sys.argv[1], sys.argv[2]
        files = fsdd.records(root, "train")[::90]
        config = fit_normalisation(files, SpectrogramConfig())
        data = spectrogram_dataset(files, config, batch_size=16)
        model = build_vae(config, StudentTPrior(4, df=3.0))
        train(model, data, out + "/run", epochs=1, verbose=0)
        save_model(model, out + "/student.keras")
        z = tf.random.stateless_normal([3, 4], seed=[1, 2])
        print("LOGPROB", *model.prior.log_prob(z).numpy().tolist())
    """
)
LOAD = textwrap.dedent(
    """
    import sys

    import tensorflow as tf

    from my_priors import StudentTPrior
    from tfp_audio_vae import generate, load_model

    model = load_model(sys.argv[1], custom_objects=[StudentTPrior])
    z = tf.random.stateless_normal([3, 4], seed=[1, 2])
    print("LOGPROB", *model.prior.log_prob(z).numpy().tolist())
    print("DF", model.prior.df, type(model.prior).__module__)
    print("WAVES", generate(model, 2, n_iter=2).shape)
    """
)


def command(*argv: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=900, cwd=cwd
    )


def numbers(stdout: str, key: str) -> np.ndarray:
    line = next(line for line in stdout.splitlines() if line.startswith(key))
    return np.array([float(v) for v in line.split()[1:]])


@pytest.fixture(scope="module")
def saved(tmp_path_factory, fsdd_root):
    """A Student-t model trained and saved by a user's script run as ``python script.py``."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "my_priors.py").write_text(PRIORS)
    (folder / "train_student.py").write_text(SCRIPT)
    result = command("train_student.py", str(fsdd_root), str(folder), cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, numbers(result.stdout, "LOGPROB")


def test_a_script_defined_prior_reloads_in_a_fresh_process_by_plain_name(saved):
    folder, log_prob = saved
    (folder / "load.py").write_text(LOAD)
    result = command("load.py", str(folder / "student.keras"), cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_array_equal(numbers(result.stdout, "LOGPROB"), log_prob)
    assert "DF 3.0 my_priors" in result.stdout
    assert "WAVES (2, 8192)" in result.stdout


def test_the_command_line_loads_it_with_import_and_says_what_is_missing_without(saved, tmp_path):
    folder, _ = saved
    model = str(folder / "student.keras")
    cli = ["-m", "tfp_audio_vae.cli"]
    missing = command(*cli, "generate", model, "-n", "2", "--out", str(tmp_path), cwd=folder)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "StudentTPrior" in missing.stderr
    assert "--import" in missing.stderr and "custom_objects" in missing.stderr
    for source in ("my_priors", "train_student.py"):  # a module, or the script itself
        out = tmp_path / source
        result = command(
            *cli, "generate", model, "-n", "2", "--n-iter", "2", "--import", source,
            "--out", str(out), cwd=folder,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(list(out.glob("*.wav"))) == 2


def test_train_evaluate_and_resume_a_user_prior_through_the_command(
    fsdd_root, tmp_path, monkeypatch
):
    (tmp_path / "my_priors.py").write_text(PRIORS)
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "cache"))
    waves, digits = load_waveforms(fsdd.records(fsdd_root, "train")[::60], SpectrogramConfig())
    save_judge(train_judge(waves, digits, epochs=1, verbose=0), judge_path())  # a quick judge
    cli = ["-m", "tfp_audio_vae.cli"]
    train = [
        *cli, "train", "--run-dir", "run", "--fsdd", str(fsdd_root), "--import", "my_priors",
        "--prior", "StudentTPrior", "--limit", "30", "--latent-dim", "4", "--batch-size", "16",
        "--quiet",
    ]  # fmt: skip
    first = command(*train, "--epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = command(*train, "--epochs", "2", cwd=tmp_path)  # resumes after epoch 1
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1"]
    evaluate = command(
        *cli, "evaluate", "run", "--import", "my_priors", "--fsdd", str(fsdd_root),
        "--limit", "20", "--k", "2", "--samples", "20", cwd=tmp_path,
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.json").is_file()
