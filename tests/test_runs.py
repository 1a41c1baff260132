"""A run as a library object: `RunSpec` (what train.json records, old and new layouts, the
resume rules) and `Run` (training into a folder, its data, model and judge), on small data."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from tfp_audio_vae import build_vae, train
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.runs import Run, judge_for, resolution_note
from tfp_audio_vae.training.run_spec import (
    DataSpec,
    ModelSpec,
    ResolutionSpec,
    RunSpec,
    TrainingSpec,
    changed_settings,
)

# A train.json as the command line wrote it before RunSpec (format 1: its options, flat).
FLAT = {
    "dataset": "fsdd", "fsdd": "/data/fsdd", "sc09": None, "data": None, "preset": "default",
    "epochs": 30, "batch_size": 32, "latent_dim": 64, "components": None,
    "components_per_class": 24, "fit_prior_every": None, "learning_rate": 0.002,
    "lr_schedule": "cosine", "weight_decay": 0.0, "speeds": [1.0], "network": "conv1d",
    "decoder_scale": "optimal", "beta": 1.0, "warmup_steps": 0, "free_nats": 0.0, "seed": 3,
    "skip_bad_files": False, "limit": 40, "cache": "auto", "prior": "conditional",
    "imports": [], "run_dir": "runs/old",
}  # fmt: skip


def test_a_spec_goes_to_json_and_back_unchanged():
    spec = RunSpec(
        data=DataSpec("folder", "/my/sounds", limit=12, skip_bad_files=True),
        model=ModelSpec(prior="mog", latent_dim=8, components=5, imports=("my_priors",)),
        training=TrainingSpec(epochs=3, speeds=(0.9, 1.0, 1.1), fit_prior_every=2),
        seed=7,
        preset="best",
    )
    record = json.loads(json.dumps(spec.to_json()))
    assert record["format"] == 2 and record["model"]["imports"] == ["my_priors"]
    assert RunSpec.from_json(record) == spec


def test_an_old_flat_train_json_reads_as_the_same_run():
    spec = RunSpec.from_json(FLAT)
    # it validated on the test split and ended on its last epoch, as runs then did
    assert spec.data == DataSpec("fsdd", "/data/fsdd", limit=40, validation_fraction=None)
    assert spec.model == ModelSpec(prior="conditional", latent_dim=64, components_per_class=24)
    assert spec.training == TrainingSpec(epochs=30, speeds=(1.0,), selection="last")
    assert spec.seed == 3
    folder = RunSpec.from_json({**FLAT, "data": "/my/sounds", "dataset": "fsdd"}).data
    assert folder.dataset == "folder" and folder.root == "/my/sounds"
    assert RunSpec.from_json({**FLAT, "dataset": "sc09", "sc09": "/s"}).data.dataset == "sc09"
    assert changed_settings(FLAT, spec) == []


def test_changed_settings_name_what_differs_and_let_the_budget_and_a_moved_folder_pass(tmp_path):
    spec = RunSpec(data=DataSpec("folder", str(tmp_path / "a" / ".." / "a")), seed=1)
    before = RunSpec(data=DataSpec("folder", str(tmp_path / "a")), seed=1).to_json()
    assert changed_settings(before, spec) == []
    assert (
        changed_settings(before, dataclasses.replace(spec, training=TrainingSpec(epochs=99))) == []
    )
    other = dataclasses.replace(spec, model=ModelSpec(latent_dim=9), seed=2)
    assert changed_settings(before, other) == ["model.latent_dim", "seed"]
    older = {**before, "model": {k: v for k, v in before["model"].items() if k != "beta"}}
    newer = dataclasses.replace(spec, model=ModelSpec(beta=0.5))  # beta: newer than that run
    assert changed_settings(older, newer) == []
    assert changed_settings(FLAT, RunSpec.from_json({**FLAT, "limit": 41})) == ["data.limit"]


def test_a_resolution_is_a_setting_of_the_run_and_names_the_measured_ones():
    assert ResolutionSpec() == ResolutionSpec.preset("8k")
    assert ResolutionSpec().config() == SpectrogramConfig()  # every earlier run's
    wide = ResolutionSpec.preset("16k")
    assert wide.config().shape == (256, 128, 1) and wide.num_samples == 16_384
    assert ResolutionSpec.preset("22k").config().shape == (256, 177, 1)
    assert ResolutionSpec.preset("16k", seconds=4.0).num_samples == 64_000
    assert ResolutionSpec.of(wide.config()) == wide
    spec = RunSpec(resolution=ResolutionSpec.preset("22k", hop_length=64))
    assert RunSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    # a record from before resolutions were a setting is an 8 kHz run, and resumes as one
    assert RunSpec.from_json(FLAT).resolution == ResolutionSpec()
    before = RunSpec(resolution=wide).to_json()
    assert changed_settings(before, RunSpec(resolution=wide)) == []
    assert changed_settings(before, RunSpec()) == [
        "resolution.hop_length", "resolution.n_fft", "resolution.sample_rate"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 500}, "below the minimum"),
        ({"seconds": 0.01}, "shorter than one STFT frame"),
        ({"n_fft": 255}, "positive even number"),
        ({"hop_length": 1024}, "hop_length"),
    ],
)
def test_a_resolution_refuses_settings_that_cannot_work(changes, message):
    with pytest.raises(ValueError, match=message):
        ResolutionSpec.preset("8k", **changes)
    with pytest.raises(ValueError, match="8k, 16k, 22k"):
        ResolutionSpec.preset("44k")


def test_a_folder_of_longer_clips_at_a_higher_rate_is_said_in_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    for i, seconds in enumerate((1.0, 2.34)):
        sf.write(tmp_path / "a" / f"{i}.wav", np.zeros(int(seconds * 16_000)), 16_000)
    records = [SimpleNamespace(path=path) for path in sorted((tmp_path / "a").glob("*.wav"))]
    note = resolution_note(records, ResolutionSpec())
    assert note == (
        "the training clips are at up to 16000 Hz, resampled to 8000 Hz and up to 2.34 s long, "
        "cut to 1.024 s: --sample-rate 16000 --seconds 2.4 keeps them"
    )
    assert resolution_note(records, ResolutionSpec.preset("16k", seconds=2.5)) is None


def test_a_spec_refuses_data_it_cannot_name():
    with pytest.raises(ValueError, match="fsdd, sc09 or folder"):
        DataSpec("librispeech")
    with pytest.raises(ValueError, match="needs its root"):
        DataSpec("folder")


@pytest.fixture
def sounds(tmp_path: Path, fsdd_root: Path) -> Path:
    """A labelled folder: two classes of ten FSDD clips each (one of each held out)."""
    for digit, name in ((3, "three"), (7, "seven")):
        (tmp_path / "sounds" / name).mkdir(parents=True)
        for clip in sorted((fsdd_root / "recordings").glob(f"{digit}_jackson_*.wav"))[:10]:
            shutil.copy(clip, tmp_path / "sounds" / name)
    return tmp_path / "sounds"


def tiny(data: DataSpec, **model) -> RunSpec:
    return RunSpec(
        data=data,
        model=ModelSpec(**{"prior": "standard", "latent_dim": 2, **model}),
        training=TrainingSpec(epochs=1, batch_size=4),
        seed=0,
    )


def test_a_run_trains_into_its_folder_records_its_spec_and_knows_its_data(sounds, tmp_path):
    spec = tiny(DataSpec("folder", str(sounds)))
    run = Run(tmp_path / "run")
    assert run.spec() is None
    model = run.train(spec, verbose=0)
    assert run.spec() == spec and (run.folder / "model.keras").is_file()
    assert run.data(say=pytest.fail) == spec.data
    splits = run.splits()
    assert splits.class_names == ("seven", "three") and len(splits.all_train) == 18
    # a tenth of each class's training clips validate (one each), never the test clips
    assert len(splits.train) == 16 and sorted(r.label for r in splits.validation) == [0, 1]
    assert len(splits.test) == 2 and not set(splits.validation) & set(splits.test)
    assert run.load_model().latent_dim == model.latent_dim == 2
    assert Run.at(run.folder / "model.keras").spec() == spec

    with pytest.raises(ValueError, match=r"other settings \(model.latent_dim\)"):
        run.train(tiny(spec.data, latent_dim=3), verbose=0)
    assert run.spec() == spec  # the refused run left the record alone
    more = dataclasses.replace(spec, training=dataclasses.replace(spec.training, epochs=2))
    run.train(more, verbose=0)  # more epochs resume
    assert run.spec().training.epochs == 2
    saved = run.model_path.read_bytes()
    again = run.train(more, verbose=0)  # finished: loaded as it ended, nothing rewritten
    assert run.model_path.read_bytes() == saved and again.latent_dim == 2
    forced = dataclasses.replace(tiny(spec.data, beta=0.5), training=TrainingSpec(3, 4))
    run.train(forced, force=True, verbose=0)  # forced on with a third epoch: recorded so
    assert run.spec().model.beta == 0.5 and run.finished_epochs() == 3


def test_train_from_python_records_its_settings_and_data_is_said_to_be_assumed(tmp_path):
    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    x = np.random.default_rng(0).normal(size=(8, *config.shape)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices({"spectrogram": x}).batch(4)
    model = build_vae(config, "standard", latent_dim=2)
    train(model, data, tmp_path / "run", epochs=1, learning_rate=1e-3, seed=5, verbose=0)
    spec = Run(tmp_path / "run").spec()
    assert spec.data is None and spec.model is None and spec.seed == 5
    assert spec.training.epochs == 1 and spec.training.learning_rate == 1e-3
    assert spec.resolution.config() == dataclasses.replace(config, mean=None, std=None)
    said: list[str] = []
    assert Run(tmp_path / "run").data(say=said.append) == DataSpec("fsdd")
    assert said == [f"{tmp_path / 'run' / 'model.keras'}: its train.json names no data, so its "
                    "data is taken to be FSDD"]  # fmt: skip
    assert Run(tmp_path / "run").data("/elsewhere", say=pytest.fail) == DataSpec(
        "fsdd", "/elsewhere"
    )


def test_a_damaged_record_and_a_missing_model_are_named(tmp_path):
    (tmp_path / "train.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"train\.json: damaged"):
        Run(tmp_path).spec()
    with pytest.raises(FileNotFoundError, match="no model here"):
        Run(tmp_path).load_model()


def test_an_unlabelled_folder_has_no_judge(tmp_path, fsdd_root):
    (tmp_path / "flat").mkdir()
    for clip in sorted((fsdd_root / "recordings").glob("1_jackson_*.wav"))[:12]:
        shutil.copy(clip, tmp_path / "flat")
    data = DataSpec("folder", str(tmp_path / "flat"))
    splits = data.splits()
    assert splits.class_names is None and len(splits.all_train) + len(splits.test) == 12
    with pytest.raises(ValueError, match="no classes for a judge"):
        judge_for(data, splits)
