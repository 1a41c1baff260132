"""`latents.refine_latents`: per-clip latents beyond the encoder's guess (semi-amortised inference)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.latents import refine_latents
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=1, seed=0)
    train(model, random_batches(), tmp_path_factory.mktemp("run"), epochs=2, verbose=0)
    return model


def _log_joint(model, x, z) -> np.ndarray:
    return (model.decode(z).log_prob(x) + model.prior.log_prob(z)).numpy()  # [n]


def test_no_steps_is_the_posterior_mean(trained):
    x = next(iter(random_batches(seed=1)))["spectrogram"]  # clips the model never saw
    np.testing.assert_array_equal(refine_latents(trained, x, 0), trained.encode(x).mean())


def test_steps_raise_every_clips_log_joint_and_each_clip_is_refined_alone(trained):
    x = next(iter(random_batches(seed=1)))["spectrogram"]  # [16, ...]
    start = _log_joint(trained, x, trained.encode(x).mean())
    refined = refine_latents(trained, x, 30, batch_size=16)
    assert np.all(_log_joint(trained, x, refined) > start)
    # in batches of 5 the same clips take the same steps
    np.testing.assert_allclose(refine_latents(trained, x, 30, batch_size=5), refined, atol=1e-4)
    assert refined.shape == (16, 4)


def test_bad_settings_are_refused(trained):
    x = next(iter(random_batches()))["spectrogram"]
    with pytest.raises(ValueError, match="steps must be 0 or more, got -1"):
        refine_latents(trained, x, -1)
    with pytest.raises(ValueError, match="learning rate must be positive"):
        refine_latents(trained, x, 5, learning_rate=0.0)
