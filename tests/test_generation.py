"""Generation: prior and digit-conditional latents, temperature, interpolation, any-file audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.latents import class_mean_latents
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis import generation
from tfp_audio_vae.synthesis.waveforms import decode_waveforms


def test_prior_samples_are_waveforms_repeatable_by_seed():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    waves = generation.generate(model, 3, seed=1, n_iter=2)
    assert waves.shape == (3, 2048) and np.all(np.isfinite(waves))
    np.testing.assert_array_equal(waves, generation.generate(model, 3, seed=1, n_iter=2))
    assert not np.allclose(waves, generation.generate(model, 3, seed=2, n_iter=2))


def test_digit_routes_need_what_they_use():
    standard = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    with pytest.raises(ValueError, match="conditional prior"):
        generation.sample_latents(standard, 2, labels=[0, 1], method="prior")
    with pytest.raises(ValueError, match="class_means"):
        generation.sample_latents(standard, 2, labels=[0, 1])  # auto -> class-mean, none given
    with pytest.raises(ValueError, match="2 labels for 3"):
        generation.sample_latents(standard, 3, labels=[0, 1])
    conditional = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=1)
    z = generation.sample_latents(conditional, 4, labels=[0, 1, 2, 3], temperature=1e-6)
    np.testing.assert_allclose(z.numpy(), conditional.prior.means.numpy()[:4], atol=1e-4)


def test_temperature_shrinks_mixture_draws_towards_their_own_component():
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4)
    z = generation.sample_latents(model, 50, temperature=1e-6, seed=3).numpy()
    means = model.prior.means.numpy()
    nearest = np.min(np.linalg.norm(z[:, None] - means[None], axis=-1), axis=1)
    assert np.all(nearest < 1e-4)  # on a component mean, not on the mixture's overall mean
    spread = generation.sample_latents(model, 50, temperature=1.0, seed=3).numpy()
    assert np.min(np.linalg.norm(spread[:, None] - means[None], axis=-1), axis=1).mean() > 0.5


def test_class_means_give_one_latent_per_digit_and_noise_free_samples_decode_the_mean():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    class_means = class_mean_latents(model, random_batches(n=40))
    assert class_means.mean.shape == class_means.spread.shape == (10, 4)
    assert class_means.counts.tolist() == [4] * 10
    assert np.all(class_means.spread > 0)
    digits = [7, 7]
    exact = generation.generate(
        model, 2, labels=digits, class_means=class_means, noise=0.0, n_iter=2
    )
    at_the_mean = decode_waveforms(model, class_means.mean[digits], n_iter=2)
    np.testing.assert_allclose(exact, at_the_mean, rtol=1e-5, atol=1e-4)
    varied = generation.generate(model, 2, labels=digits, class_means=class_means, n_iter=2)
    assert not np.allclose(varied[0], varied[1])
    with pytest.raises(ValueError, match=r"no clip of class\(es\) \[5, 6, 7, 8, 9\]"):
        class_mean_latents(model, random_batches(n=5), num_classes=10)


def test_reconstruction_and_interpolation_of_users_own_files(tmp_path, fsdd_root):
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    a, b = sorted((fsdd_root / "recordings").glob("3_*_0.wav"))[:2]
    wave, rate = sf.read(a)
    stereo_44k = tmp_path / "mine.flac"  # a user's own recording: another rate, format, channels
    sf.write(stereo_44k, np.stack([wave, wave], 1).repeat(5, axis=0), rate * 5)
    recon = generation.reconstruct_files(model, [a, stereo_44k], n_iter=2)
    # each file whole, at the model's rate: a 44.1 kHz file as long as the clip it repeats
    assert [r.shape for r in recon] == [(len(wave),)] * 2
    assert all(np.isfinite(r).all() for r in recon)
    path = generation.interpolate(model, a, b, steps=4, n_iter=2)
    assert path.shape == (4, TINY_CONFIG.num_samples)
    start = decode_waveforms(
        model, generation.encode_files(model, [a])[1].mean(), n_iter=2
    )  # the first step decodes clip a's posterior mean (same Griffin-Lim seed and position)
    np.testing.assert_allclose(path[0], start[0], rtol=1e-4, atol=1e-4)
    assert not np.allclose(path[0], path[-1])
    with pytest.raises(ValueError, match="steps"):
        generation.interpolate(model, a, b, steps=1)
