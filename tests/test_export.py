"""The exported SavedModel: served by plain TensorFlow (no tfp_audio_vae, no TensorFlow
Probability) it makes the package's own audio, latents and posteriors; the command; TFLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tests.test_docstring_examples as docstring_examples
from tests.helpers import TINY_CONFIG
from tfp_audio_vae import cli
from tfp_audio_vae.export import RECORD, AudioGenerator, ExportError, export_model
from tfp_audio_vae.models.saving import save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.runs import Run
from tfp_audio_vae.synthesis import generation
from tfp_audio_vae.synthesis.waveforms import audible, decode_waveforms, to_audio
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec

N_ITER = 4  # Griffin-Lim iterations of the tiny exports (the package's default is 32)

SERVE = textwrap.dedent(
    """
    import sys


    class Refuse:  # the package and TFP cannot be imported here: the SavedModel stands alone
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tfp_audio_vae", "tensorflow_probability"):
                raise ImportError(f"{name} is blocked in this process")


    sys.meta_path.insert(0, Refuse())
    import numpy as np
    import tensorflow as tf

    export, inputs, outputs = sys.argv[1:]
    given = np.load(inputs)
    served = tf.saved_model.load(export)
    decode, sample, encode = (served.signatures[k] for k in ("decode", "sample", "encode"))
    out = {"decoded": decode(z=tf.constant(given["z"]))["waveform"].numpy()}
    for name, labels, temperature, seed in [
        ("classes", [3, 7, 1], 0.5, 5), ("prior", [-1, -1], 1.0, 2), ("mixed", [2, -1], 0.5, 9),
        ("mixed_class", [2, 2], 0.5, 9), ("mixed_prior", [-1, -1], 0.5, 9),
    ]:
        drawn = sample(labels=tf.constant(labels, tf.int32), temperature=tf.constant(temperature),
                       seed=tf.constant(seed))
        out[name + "_waveform"], out[name + "_z"] = drawn["waveform"].numpy(), drawn["z"].numpy()
    posterior = encode(waveform=tf.constant(given["waves"]))
    out["mean"], out["stddev"] = posterior["mean"].numpy(), posterior["stddev"].numpy()
    out["class_names"] = served.class_names.numpy().astype(str)
    out["sample_rate"] = served.sample_rate.numpy()
    out["num_samples"] = served.num_samples.numpy()
    assert not {m for m in sys.modules if m.startswith(("tfp_audio_vae", "tensorflow_prob"))}
    np.savez(outputs, **out)
    """
)


@pytest.fixture(scope="module")
def model():
    """A tiny conditional model (two components per class, so the mixture path runs) with class
    names and a level calibration."""
    model = build_vae(
        TINY_CONFIG,
        "conditional",
        latent_dim=4,
        num_classes=10,
        components_per_class=2,
        class_names=[f"c{i}" for i in range(10)],
    )
    rng = np.random.default_rng(0)
    model.decoder.residual_power = tuple(rng.uniform(0.1, 0.5, 128).tolist())
    return model


def test_the_savedmodel_serves_the_packages_audio_without_the_package(model, tmp_path, fsdd_root):
    files = sorted((fsdd_root / "recordings").glob("5_*_0.wav"))[:3]
    _, posterior, waves = generation.encode_files(model, files)
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    out = export_model(model, tmp_path / "export", n_iter=N_ITER)
    np.savez(tmp_path / "in.npz", z=z, waves=waves)
    result = subprocess.run(
        [sys.executable, "-c", SERVE, str(out), str(tmp_path / "in.npz"), str(tmp_path / "o.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "o.npz")

    close = {"rtol": 1e-5, "atol": 1e-4}
    expected = decode_waveforms(model, z, n_iter=N_ITER)
    np.testing.assert_allclose(served["decoded"], expected, **close)
    for name, labels, temperature, seed in [
        ("classes", [3, 7, 1], 0.5, 5),
        ("prior", None, 1.0, 2),
    ]:
        asked = {"labels": labels, "method": "prior", "temperature": temperature, "seed": seed}
        n = len(served[name + "_z"])
        z_package = generation.sample_latents(model, n, **asked).numpy()
        np.testing.assert_allclose(served[name + "_z"], z_package, rtol=1e-6, atol=1e-6)
        waves_package = generation.generate(model, n, n_iter=N_ITER, **asked)
        np.testing.assert_allclose(served[name + "_waveform"], waves_package, **close)
    # a batch mixing a class and the prior takes each row from the batch of its kind
    np.testing.assert_array_equal(served["mixed_z"][0], served["mixed_class_z"][0])
    np.testing.assert_array_equal(served["mixed_z"][1], served["mixed_prior_z"][1])

    np.testing.assert_allclose(served["mean"], posterior.mean().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served["stddev"], posterior.stddev().numpy(), rtol=1e-5, atol=1e-5)
    assert served["class_names"].tolist() == list(model.class_names)
    assert (served["sample_rate"], served["num_samples"]) == (8000, 2048)
    record = json.loads((out / RECORD).read_text())
    assert record["griffin_lim"]["n_iter"] == N_ITER and record["run_spec"] is None
    assert record["signatures"]["decode"] == {
        "inputs": {"z": ["float32", [None, 4]]},
        "outputs": {"waveform": ["float32", [None, 2048]]},
    }


def test_decode_draws_griffin_lims_phase_per_batch_of_100_as_the_package(model):
    generator = AudioGenerator(model, n_iter=1, seed=3)
    z = np.random.default_rng(2).normal(size=(101, 4)).astype(np.float32)
    expected = decode_waveforms(model, z, n_iter=1, seed=3)  # batches of 100: seeds 3 and 4
    np.testing.assert_allclose(generator.decode(z)["waveform"], expected, rtol=1e-5, atol=1e-4)
    assert generator.decode(tf.zeros([0, 4]))["waveform"].shape == [0, 2048]
    # At the default 32 iterations the graph's Griffin-Lim is the package's, bit for bit, given
    # the same spectrogram: that of the decoder run as a graph (eagerly, its float rounding
    # differs by ulps, which fast Griffin-Lim amplifies; docs/export.md)
    z = z[:3]
    as_graph = to_audio(model, tf.function(lambda z: audible(model, z))(z))
    np.testing.assert_array_equal(AudioGenerator(model).decode(z)["waveform"], as_graph)


@pytest.mark.parametrize("prior", ["standard", "realnvp", "vamp"])
def test_sample_draws_as_the_package_for_unconditional_priors(prior):
    model = build_vae(TINY_CONFIG, prior, latent_dim=4)
    generator = AudioGenerator(model, n_iter=1)
    for temperature in (1.0, 0.5):
        drawn = generator.sample(tf.constant([-1, 4, 0]), tf.constant(temperature), tf.constant(7))
        expected = generation.sample_latents(model, 3, temperature=temperature, seed=7)
        np.testing.assert_allclose(drawn["z"], expected, rtol=1e-6, atol=1e-6)  # labels ignored


def test_a_model_with_local_latents_exports_and_draws_u_as_the_package(tmp_path):
    model = build_vae(
        TINY_CONFIG,
        "standard",
        latent_dim=4,
        local_dim=3,
        local_prior="autoregressive",
        local_components=2,
    )
    served = tf.saved_model.load(str(export_model(model, tmp_path / "export", n_iter=N_ITER)))
    z = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    decoded = served.signatures["decode"](z=tf.constant(z))["waveform"]
    expected = decode_waveforms(model, z, n_iter=N_ITER)  # u at p(u | z)'s mean
    np.testing.assert_allclose(decoded, expected, rtol=1e-5, atol=1e-4)
    drawn = served.signatures["sample"](
        labels=tf.constant([-1, -1]), temperature=tf.constant(0.5), seed=tf.constant(5)
    )
    codes = generation.sample_latents(model, 2, temperature=0.5, seed=5)  # [2, 4 + 2 * 3]
    np.testing.assert_allclose(drawn["z"], codes[:, :4], rtol=1e-6, atol=1e-6)
    waves = generation.generate(model, 2, temperature=0.5, seed=5, n_iter=N_ITER)
    np.testing.assert_allclose(drawn["waveform"], waves, rtol=1e-5, atol=1e-4)


def test_sample_refuses_bad_labels_and_temperatures(model):
    generator = AudioGenerator(model, n_iter=1)
    t, seed = tf.constant(0.5), tf.constant(0)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"labels must be -1 \(the prior\) or a class 0 \.\. 9"
    ):
        generator.sample(tf.constant([10]), t, seed)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be -1"):
        generator.sample(tf.constant([-2]), t, seed)
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be"):
            generator.sample(tf.constant([1]), tf.constant(bad), seed)
    with pytest.raises(ValueError, match="n_iter"):
        AudioGenerator(model, n_iter=-1)
    with pytest.raises(ValueError, match="format"):
        export_model(model, "unused", format="onnx")


def test_generator_docstring_example_runs_as_written():
    docstring_examples.test_docstring_examples_run_and_print_what_they_say(AudioGenerator)


def test_export_command_writes_the_run_with_its_spec(model, tmp_path, capsys):
    run = tmp_path / "run"
    save_model(model, run / "model.keras")
    spec = RunSpec(data=DataSpec("fsdd"))
    (run / "train.json").write_text(json.dumps(spec.to_json()))
    for _ in range(2):  # a second export replaces the first
        assert cli.main(["export", str(run), "--n-iter", "2"]) == 0
    assert "wrote a SavedModel" in capsys.readouterr().out
    record = json.loads((run / "export" / RECORD).read_text())
    assert RunSpec.from_json(record["run_spec"]) == Run(run).spec() == spec
    assert record["griffin_lim"]["n_iter"] == 2 and record["tflite"] is None
    assert sorted(p.name for p in run.iterdir()) == ["export", "model.keras", "train.json"]
    served = tf.saved_model.load(str(run / "export"))
    z = tf.zeros([2, 4])
    np.testing.assert_allclose(
        served.signatures["serving_default"](z=z)["waveform"],
        decode_waveforms(model, z, n_iter=2),
        rtol=1e-5,
        atol=1e-4,
    )


def test_export_command_bad_input_ends_in_one_line(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model here" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", str(tmp_path), "--format", "onnx"])
    assert exit_.value.code == 2 and "invalid choice: 'onnx'" in capsys.readouterr().err


@pytest.mark.slow
def test_tflite_names_the_ops_its_builtins_cannot_carry(model, tmp_path, capsys):
    with pytest.raises(ExportError, match=r"tf\.IRFFT.*tf\.StatelessRandomUniformV2"):
        export_model(model, tmp_path / "lite", format="tflite", n_iter=1)
    assert not list(tmp_path.iterdir())  # nothing written, no temporary folder left
    run = tmp_path / "run"
    save_model(model, run / "model.keras")
    assert cli.main(["export", str(run), "--format", "tflite", "--n-iter", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tf.Complex" in err and "Flex delegate" in err
    assert not (run / "export").exists()
