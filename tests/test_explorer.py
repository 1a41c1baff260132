"""The explorer's model side (`explorer.session`) on a tiny model and real FSDD clips, and the
`explore` command without the web extra. The page itself: tests/test_explorer_browser.py."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfp_audio_vae import cli, pretrained
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.explorer import session
from tfp_audio_vae.explorer.session import MAX_UPLOAD_BYTES, Explorer, record_clips
from tfp_audio_vae.models.saving import save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis.generation import interpolate_latents

CONFIG = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)


@pytest.fixture(scope="module")
def model():
    return build_vae(CONFIG, "conditional", latent_dim=4, num_classes=10, seed=0)


@pytest.fixture
def explorer(model, fsdd_root):
    records = fsdd.records(fsdd_root, "test")[::30]  # 10 clips, every digit
    explorer = Explorer(model, record_clips(model, records), n_iter=2, judge_problem="no judge")
    yield explorer
    explorer.close()


def wav(sound) -> tuple[np.ndarray, int]:
    assert sound["wav"].startswith("data:audio/wav;base64,")
    return sf.read(io.BytesIO(base64.b64decode(sound["wav"].split(",", 1)[1])), dtype="float32")


def test_map_places_every_clip_and_draws_each_prior_component(explorer, model):
    answer = explorer.latent_map("pca")
    assert [p["index"] for p in answer["points"]] == list(range(10))
    assert sorted({p["label"] for p in answer["points"]}) == list(range(10))
    assert len(answer["components"]) == model.prior.means.shape[0]
    for c in answer["components"]:
        assert np.isfinite([c["x"], c["y"], c["width"], c["height"], c["angle"]]).all()
        assert c["width"] >= c["height"] >= 0 and 0 <= c["label"] <= 9
    with pytest.raises(ValueError, match="method must be 'pca' or 'tsne'"):
        explorer.latent_map("umap")


def test_a_clip_plays_as_heard_and_as_reconstructed(explorer):
    answer = explorer.clip(3)
    original, rate = wav(answer["original"])
    assert rate == 8000 and original.shape == (2048,)
    np.testing.assert_allclose(original, explorer.clips[3].wave, atol=1 / 2**14)
    reconstruction, _ = wav(answer["reconstruction"])
    assert reconstruction.shape == (2048,) and np.abs(reconstruction).max() > 0
    assert answer["reconstruction"]["seconds"] == pytest.approx(2048 / 8000)
    assert base64.b64decode(answer["original"]["png"].split(",", 1)[1])[:4] == b"\x89PNG"
    assert answer["reconstruction"]["verdict"] is None and explorer.info()["judge"] is False


def test_a_reconstruction_is_scored_against_its_clip_when_the_perceptual_extra_is_there(
    explorer, monkeypatch
):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    from tfp_audio_vae.evaluation.perceptual import perceptual_scores

    scores = explorer.clip(3)["reconstruction"]["scores"]
    clip = explorer.clips[3]
    waves, _ = explorer._decoded(clip.code()[np.newaxis])  # the reconstruction, as played
    expected = perceptual_scores(clip.wave[np.newaxis], waves, 8000)
    assert scores == {"pesq_nb": expected["pesq_nb"]["mean"], "stoi": expected["stoi"]["mean"]}
    assert 1.0 <= scores["pesq_nb"] <= 4.6  # a quarter second: PESQ scores it ...
    assert scores["stoi"] is None  # ... STOI needs about 0.4 s of speech, so it is left out

    def missing():
        raise ImportError("pesq is missing")

    monkeypatch.setattr(session.perceptual, "require", missing)
    assert explorer.clip(3)["reconstruction"]["scores"] is None  # no extra: no scores


def test_sliders_start_at_the_clip_most_kl_first_and_moving_one_changes_the_sound(explorer):
    dimensions = explorer.dimensions(2)
    kls = [d["kl"] for d in dimensions]
    assert kls == sorted(kls, reverse=True) and len(kls) >= 1
    for d in dimensions:
        assert d["low"] <= d["value"] <= d["high"]
        assert d["value"] == pytest.approx(float(explorer.clips[2].mean[d["index"]]))
    unchanged = explorer.move(2, {})
    assert unchanged["wav"] == explorer.clip(2)["reconstruction"]["wav"]
    top = dimensions[0]
    moved = explorer.move(2, {top["index"]: top["high"]})
    assert moved["wav"] != unchanged["wav"] and wav(moved)[0].shape == (2048,)
    with pytest.raises(ValueError, match="no latent dimension 9"):
        explorer.move(2, {9: 0.0})


def test_samples_and_interpolations_are_playable(explorer):
    for sound in explorer.sample(3, temperature=0.5, digit=7, seed=1):
        assert wav(sound)[0].shape == (2048,)
    assert len(explorer.interpolate(0, 9, steps=5, beyond=0.5)) == 5
    with pytest.raises(ValueError, match="between 1 and 16"):
        explorer.sample(17, temperature=0.5)
    with pytest.raises(ValueError, match="no clip 99"):
        explorer.interpolate(0, 99, steps=3)


def test_interpolated_latents_run_past_both_ends_when_asked():
    a, b = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    np.testing.assert_allclose(interpolate_latents(a, b, 3), [[0, 1], [1, 1], [2, 1]])
    np.testing.assert_allclose(
        interpolate_latents(a, b, 3, beyond=0.5), [[-1, 1], [1, 1], [3, 1]], atol=1e-6
    )


def test_uploads_join_the_map_and_bad_ones_fail_in_one_line_naming_the_file(explorer, tmp_path):
    wave = np.sin(np.linspace(0, 400 * np.pi, 16000)).astype(np.float32) * 0.3
    flac = io.BytesIO()
    sf.write(flac, np.stack([wave, wave], axis=1), 16000, format="FLAC")  # stereo, 16 kHz
    answer = explorer.upload("../../../hum.flac", flac.getvalue())
    assert answer["index"] == 10 and answer["name"] == "hum.flac" and answer["label"] == -1
    assert wav(answer["reconstruction"])[0].shape == (2048,)
    assert len(explorer.latent_map("pca")["points"]) == 11
    assert not list(Path(explorer._uploads.name).iterdir())  # the upload's bytes are gone
    assert not list(tmp_path.parent.rglob("hum.flac"))
    with pytest.raises(ValueError, match=r"^notes\.wav: not a readable audio file"):
        explorer.upload("notes.wav", b"these are not samples")
    with pytest.raises(ValueError, match=r"^empty\.ogg: the file is empty$"):
        explorer.upload("empty.ogg", b"")
    with pytest.raises(ValueError, match=r"^big\.wav: .* over the"):
        explorer.upload("big.wav", bytes(MAX_UPLOAD_BYTES + 1))
    assert len(explorer.clips) == 11


def test_uploads_beyond_the_bound_drop_the_oldest_and_indices_stay(explorer, monkeypatch):
    monkeypatch.setattr(session, "MAX_UPLOADS", 3)
    hum = io.BytesIO()
    sf.write(hum, np.sin(np.linspace(0, 200 * np.pi, 4000)) * 0.3, 8000, format="WAV")
    answers = [explorer.upload(f"hum{i}.wav", hum.getvalue()) for i in range(5)]
    assert [a["index"] for a in answers] == [10, 11, 12, 13, 14]
    assert [a["dropped"] for a in answers] == [
        [],
        [],
        [],
        [{"index": 10, "name": "hum0.wav"}],
        [{"index": 11, "name": "hum1.wav"}],
    ]
    held = [c["index"] for c in explorer.info()["clips"]]
    assert held == [*range(10), 12, 13, 14] and len(explorer.clips) == 13
    points = explorer.latent_map("pca")["points"]
    assert [p["index"] for p in points] == held
    assert [p["name"] for p in points[10:]] == ["hum2.wav", "hum3.wav", "hum4.wav"]
    assert explorer.clip(13)["name"] == "hum3.wav" and explorer.clip(3)["index"] == 3
    assert len(explorer.interpolate(0, 14, steps=2)) == 2
    with pytest.raises(ValueError, match=r"^no clip 10: dropped to stay within 3 uploads$"):
        explorer.clip(10)
    with pytest.raises(ValueError, match=r"^no clip 15: there are 13$"):
        explorer.clip(15)
    assert not list(Path(explorer._uploads.name).iterdir())
    one = session._nbytes(explorer.clips[-1])  # the bytes bound binds as well as the count
    monkeypatch.setattr(session, "MAX_UPLOADS_HELD_BYTES", int(2.5 * one))
    answer = explorer.upload("hum5.wav", hum.getvalue())
    assert [d["index"] for d in answer["dropped"]] == [12, 13] and answer["index"] == 15
    assert [c["index"] for c in explorer.info()["clips"]][10:] == [14, 15]


def test_from_run_says_the_judge_is_unavailable_rather_than_training_one(
    model, fsdd_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(pretrained, "NAMES", ())  # as if no judge were shipped either
    save_model(model, tmp_path / "run" / "model.keras")
    explorer = Explorer.from_run(tmp_path / "run", fsdd_root=fsdd_root, limit=4, n_iter=2)
    try:
        info = explorer.info()
        assert info["judge"] is False and "no FSDD judge cached" in info["judge_problem"]
        assert len(info["clips"]) == 4 and not (tmp_path / "empty-cache").exists()
    finally:
        explorer.close()


def test_from_run_takes_the_judge_shipped_for_fsdd_when_none_is_cached(
    model, fsdd_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "empty-cache"))
    save_model(model, tmp_path / "run" / "model.keras")
    explorer = Explorer.from_run(tmp_path / "run", fsdd_root=fsdd_root, limit=2, n_iter=2)
    try:
        assert explorer.info()["judge"] is True and not (tmp_path / "empty-cache").exists()
        assert explorer.clip(0)["reconstruction"]["verdict"]["digit"] in range(10)
    finally:
        explorer.close()


def test_explore_without_the_app_extra_ends_in_one_line(model, tmp_path, capsys, monkeypatch):
    save_model(model, tmp_path / "model.keras")
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "tfp_audio_vae.explorer.app", raising=False)
    code = cli.main(["explore", str(tmp_path / "model.keras"), "--no-browser"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'tfp-audio-vae[app]'" in err and "starlette" in err
