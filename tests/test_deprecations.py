"""The names renamed for any labelled data set still work until 0.3, each with a DeprecationWarning:
``digits=`` (now ``labels=``), ``ConvEncoder``/``ConvDecoder`` (now ``Conv2D...``, models saved
under the old names included), and ``num_components=`` as the classes of a conditional prior."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tfp_audio_vae
from tests.helpers import TINY_CONFIG
from tfp_audio_vae.deprecation import renamed_keywords
from tfp_audio_vae.evaluation import metrics
from tfp_audio_vae.evaluation.judge import Judge, build_judge
from tfp_audio_vae.models import decoders, encoders
from tfp_audio_vae.models.decoders import Conv2DDecoder
from tfp_audio_vae.models.encoders import Conv2DEncoder
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis import generation

OLD_KEYWORD = r"digits= is deprecated, use labels=; it will be removed in 0\.3"


def test_the_shared_helper_renames_a_keyword_and_refuses_both():
    @renamed_keywords(digits="labels")
    def count(*, labels=()):
        return len(labels)

    assert count(labels=[1, 2]) == 2
    with pytest.warns(DeprecationWarning, match=OLD_KEYWORD):
        assert count(digits=[1, 2]) == 2
    with pytest.raises(TypeError, match="both digits= and labels="):
        count(digits=[1], labels=[2])


def test_digits_still_asks_for_the_same_classes_as_labels():
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=1)
    asked = generation.sample_latents(model, 3, labels=[0, 4, 9], seed=2)
    with pytest.warns(DeprecationWarning, match=OLD_KEYWORD):
        old = generation.sample_latents(model, 3, digits=[0, 4, 9], seed=2)
    np.testing.assert_array_equal(old.numpy(), asked.numpy())
    with pytest.warns(DeprecationWarning, match=OLD_KEYWORD):
        waves = generation.generate(model, 2, digits=[7, 7], n_iter=2)
    np.testing.assert_array_equal(waves, generation.generate(model, 2, labels=[7, 7], n_iter=2))


def test_metrics_and_the_judge_take_digits_for_labels():
    waves = np.zeros([4, 2048], np.float32)
    with pytest.warns(DeprecationWarning, match=OLD_KEYWORD):
        batches = metrics.spectrogram_batches(waves, digits=[0, 1, 2, 3], config=TINY_CONFIG)
    assert next(iter(batches))["label"].numpy().tolist() == [0, 1, 2, 3]
    judge = Judge(build_judge(num_samples=2048))
    heard = judge.predict(waves)
    with pytest.warns(DeprecationWarning, match=OLD_KEYWORD):
        assert judge.accuracy(waves, digits=heard) == 1.0
    with pytest.raises(TypeError, match="both test_digits= and test_labels="):
        metrics.evaluate(None, waves, test_digits=heard, test_labels=heard, judge=judge)


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        (encoders, "ConvEncoder", Conv2DEncoder),
        (decoders, "ConvDecoder", Conv2DDecoder),
        (tfp_audio_vae, "ConvEncoder", Conv2DEncoder),
        (tfp_audio_vae, "ConvDecoder", Conv2DDecoder),
    ],
)
def test_old_network_names_are_the_2d_classes(module, old, new):
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated, use {new.__name__}"):
        assert getattr(module, old) is new
    assert old not in tfp_audio_vae.__all__
    with pytest.raises(AttributeError):
        encoders.NoSuchEncoder  # noqa: B018


def test_a_model_saved_under_the_old_class_names_loads(tmp_path):
    """A 0.1 model file names its 2-D networks ``tfp_audio_vae>ConvEncoder``/``>ConvDecoder``:
    the file of a new model with those names written back loads as the same model."""
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, network="conv2d", seed=1)
    new = save_model(model, tmp_path / "new.keras")
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(new) as source, zipfile.ZipFile(old, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "config.json":
                text = data.decode().replace("Conv2DEncoder", "ConvEncoder")
                text = text.replace("Conv2DDecoder", "ConvDecoder")
                assert "tfp_audio_vae>ConvEncoder" in text and "Conv2DEncoder" not in text
                data = text.encode()
            target.writestr(member, data)
    loaded = load_model(old)
    assert type(loaded.encoder) is Conv2DEncoder and type(loaded.decoder) is Conv2DDecoder
    x = np.random.default_rng(0).normal(size=(2, *TINY_CONFIG.shape)).astype("float32")
    np.testing.assert_allclose(
        loaded.encode(x).mean().numpy(), model.encode(x).mean().numpy(), rtol=1e-6
    )


def test_num_components_of_a_conditional_prior_means_its_classes_until_0_3():
    with pytest.warns(DeprecationWarning, match="num_components= for the conditional prior"):
        old = build_vae(TINY_CONFIG, "conditional", latent_dim=2, num_components=5)
    new = build_vae(TINY_CONFIG, "conditional", latent_dim=2, num_classes=5)
    assert old.prior.num_classes == new.prior.num_classes == 5
    assert old.prior.num_components == new.prior.num_components
    mixture = build_vae(TINY_CONFIG, "mog", latent_dim=2, num_components=7)  # no warning
    assert mixture.prior.num_components == 7
    with pytest.raises(TypeError, match="both num_components= and num_classes="):
        build_vae(TINY_CONFIG, "conditional", latent_dim=2, num_components=5, num_classes=5)


def test_the_judge_command_keeps_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "tfp_audio_vae.evaluation.judge", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(option in result.stdout for option in ("--fsdd", "--epochs", "--seed"))
