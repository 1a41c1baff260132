"""Local latents: a global z (what the priors model) plus time-local u with a prior p(u | z). The
code's posterior, the ELBO's two KLs and the IWAE's joint weights are checked against their
definitions; decoding, sampling, refinement, saving, a user's prior, and a short run through
training, reconstruction and the explorer work with the local level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.explorer.session import Explorer
from tfp_audio_vae.models.latents import refine_latents
from tfp_audio_vae.models.local_prior import LocalPrior
from tfp_audio_vae.models.priors import Prior
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.runs import Run
from tfp_audio_vae.seeds import stateless_seed
from tfp_audio_vae.synthesis import generation
from tfp_audio_vae.training.run_spec import DataSpec, ModelSpec, RunSpec, TrainingSpec

from .helpers import TINY_CONFIG, random_batches

tfd = tfp.distributions
LATENT, LOCAL = 4, 3  # TINY_CONFIG's 32 frames halve to 2 coarse frames: u has 2 x 3 numbers


@pytest.fixture(scope="module")
def model():
    return build_vae(TINY_CONFIG, "standard", latent_dim=LATENT, local_dim=LOCAL, seed=1)


@pytest.fixture(scope="module")
def x():
    return next(iter(random_batches(4, 4)))["spectrogram"]


def test_the_code_is_z_then_u_and_q_z_is_its_marginal(model, x) -> None:
    assert (model.latent_dim, model.local_prior.frames, model.code_dim) == (4, 2, 10)
    whole, q_z = model.posterior(x), model.encode(x)
    assert isinstance(whole, tfd.MultivariateNormalDiag) and whole.event_shape == [10]
    assert isinstance(q_z, tfd.MultivariateNormalDiag) and q_z.event_shape == [4]
    np.testing.assert_array_equal(q_z.mean(), whole.mean()[:, :4])
    np.testing.assert_array_equal(q_z.stddev(), whole.stddev()[:, :4])
    p_u = model.local_prior(q_z.mean())
    assert isinstance(p_u, tfd.MultivariateNormalDiag) and p_u.event_shape == [6]


def test_the_elbo_adds_the_analytic_kl_of_the_local_level_at_the_drawn_z(model, x) -> None:
    terms = model.elbo_terms(x, seed=(3, 4))
    posterior = model.posterior(x)
    code = posterior.sample(1, seed=stateless_seed((3, 4)))[0]  # the draw elbo_terms makes
    z, u = code[:, :4], code[:, 4:]
    nll = -model.decoder(code).log_prob(x)
    kl_z = tfd.kl_divergence(model.encode(x), tfd.MultivariateNormalDiag(tf.zeros(4)))
    q_u = tfd.MultivariateNormalDiag(posterior.mean()[:, 4:], posterior.stddev()[:, 4:])
    kl_u = tfd.kl_divergence(q_u, model.local_prior(z))
    np.testing.assert_allclose(terms["nll"], nll, rtol=1e-6)
    np.testing.assert_allclose(terms["kl"], kl_z + kl_u, rtol=1e-5)
    assert np.all(kl_u.numpy() > 0) and u.shape == (4, 6)


def test_iwae_weights_are_those_of_the_joint_over_both_levels(model, x) -> None:
    k = 5
    z, log_w = model.importance_weights(x, k=k, seed=(5, 6))
    (chunk_seed,) = tfp.random.split_seed(stateless_seed((5, 6)), n=1, salt="VAE.iwae")
    posterior = model.posterior(x)
    codes = posterior.sample(k, seed=chunk_seed)  # [k, b, code]
    flat = tf.reshape(codes, [-1, 10])
    log_lik = tf.reshape(model.decoder(flat).log_prob(tf.tile(x, [k, 1, 1, 1])), [k, -1])
    log_p_u = tf.reshape(model.local_prior(flat[:, :4]).log_prob(flat[:, 4:]), [k, -1])
    np.testing.assert_array_equal(z, codes[..., :4])  # the prior's term is added by `iwae`
    np.testing.assert_allclose(log_w, log_lik + log_p_u - posterior.log_prob(codes), rtol=1e-5)
    bound = model.iwae(x, k=k, seed=(5, 6))
    log_joint = log_w + model.prior.log_prob(z)
    expected = tf.reduce_logsumexp(log_joint, axis=0) - np.log(k)
    np.testing.assert_allclose(bound, expected, rtol=1e-6)


def test_decoding_z_alone_puts_u_at_the_mean_of_its_prior(model) -> None:
    z = tf.random.stateless_normal([3, 4], seed=[0, 1])
    code = tf.concat([z, model.local_prior(z).mean()], axis=-1)
    np.testing.assert_array_equal(model.decode(z).mean(), model.decode(code).mean())
    assert model.decode(z).event_shape == TINY_CONFIG.shape


def test_samples_draw_u_from_its_prior_at_the_temperature(model) -> None:
    codes = generation.sample_latents(model, 400, temperature=0.5, seed=7)  # [400, code]
    z, u = codes[:, :4], codes[:, 4:]
    np.testing.assert_array_equal(z, model.prior.sample(400, None, temperature=0.5, seed=(7, 0)))
    p_u = model.local_prior(z)
    spread = np.std((u - p_u.mean()) / p_u.stddev())
    assert spread == pytest.approx(0.5, rel=0.1)
    again = generation.sample_latents(model, 400, temperature=0.5, seed=7)
    np.testing.assert_array_equal(codes, again)
    # u's own temperature: 0 puts it at p(u | z)'s mean, z is drawn as before
    at_mean = generation.sample_latents(model, 400, temperature=0.5, local_temperature=0, seed=7)
    np.testing.assert_array_equal(at_mean[:, :4], z)
    np.testing.assert_allclose(at_mean[:, 4:], p_u.mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="local_temperature"):
        generation.sample_latents(model, 2, local_temperature=-1.0)


def test_refinement_climbs_the_whole_code(model, x) -> None:
    start, refined = refine_latents(model, x, 0), refine_latents(model, x, 20)
    assert start.shape == refined.shape == (4, 10)
    np.testing.assert_array_equal(start, model.posterior(x).mean())

    def objective(code: tf.Tensor) -> np.ndarray:
        return (model.decode(code).log_prob(x) + model.code_log_prior(code)).numpy()

    assert np.all(objective(refined) > objective(start))
    assert not np.allclose(refined[:, 4:], start[:, 4:])  # u climbed too


def test_a_model_with_local_latents_saves_and_loads_whole(model, x, tmp_path: Path) -> None:
    save_model(model, tmp_path / "local.keras")
    loaded = load_model(tmp_path / "local.keras")
    assert (
        loaded.code_dim == 10 and loaded.local_prior.get_config() == model.local_prior.get_config()
    )
    np.testing.assert_allclose(loaded.elbo(x, seed=(1, 2)), model.elbo(x, seed=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(
        loaded.decode(generation.sample_latents(loaded, 2, seed=3)).mean(),
        model.decode(generation.sample_latents(model, 2, seed=3)).mean(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_an_autoregressive_local_prior_reads_each_frame_given_the_earlier_ones_alone() -> None:
    prior = LocalPrior(frames=4, local_dim=3, autoregressive=True, seed=2)
    z = tf.random.stateless_normal([5, 6], seed=[1, 2])
    u = tf.random.stateless_normal([5, 12], seed=[3, 4])
    base = prior(z, u)
    for t in range(4):
        moved = tf.concat([u[:, : 3 * t], u[:, 3 * t :] + 3.0], axis=1)  # frames >= t changed
        p_u, kept = prior(z, moved), slice(0, 3 * (t + 1))  # frames <= t read frames < t only
        np.testing.assert_allclose(p_u.mean()[:, kept], base.mean()[:, kept], rtol=1e-6)
        np.testing.assert_allclose(p_u.stddev()[:, kept], base.stddev()[:, kept], rtol=1e-6)
        if t < 3:  # the next frame reads the changed one
            after = slice(3 * (t + 1), 3 * (t + 2))
            assert not np.allclose(p_u.mean()[:, after], base.mean()[:, after], atol=1e-3)
    # a draw goes frame by frame: at temperature 0 each frame is its conditional's mean ...
    at_mean = prior.draw(z, 0.0)
    np.testing.assert_allclose(prior(z, at_mean).mean(), at_mean, atol=1e-6)
    # ... and at temperature T that mean plus T times its spread times the seed's noise
    drawn = prior.draw(z, 0.5, seed=stateless_seed(7))
    eps = tf.random.stateless_normal([5, 12], seed=stateless_seed(7))
    given = prior(z, drawn)
    np.testing.assert_allclose(drawn, given.mean() + 0.5 * given.stddev() * eps, atol=1e-5)
    with pytest.raises(ValueError, match="needs u's earlier frames"):
        prior(z)


def test_a_mixture_in_each_local_frame_scores_and_draws_its_own_density() -> None:
    prior = LocalPrior(frames=3, local_dim=2, autoregressive=True, components=4, seed=5)
    z = tf.random.stateless_normal([2, 6], seed=[1, 2])
    u = tf.random.stateless_normal([2, 6], seed=[3, 4])
    logits, loc, scale = (t.numpy() for t in prior._frame_params(z, u))  # [2, 3, 4(, 2)]
    frames = u.numpy().reshape(2, 3, 1, 2)
    log_normal = -0.5 * (((frames - loc) / scale) ** 2 + np.log(2 * np.pi)) - np.log(scale)
    log_weights = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    by_hand = np.logaddexp.reduce(log_weights + log_normal.sum(-1), axis=-1).sum(-1)  # [2]
    np.testing.assert_allclose(prior(z, u).log_prob(u), by_hand, rtol=1e-5)
    # at temperature 0 a draw sits on a component's mean, picked by the components' weights:
    # the first frame's (which reads z alone) over 4,000 draws of one z
    many = tf.repeat(z[:1], 4000, axis=0)
    drawn = prior.draw(many, 0.0, seed=stateless_seed(9)).numpy()[:, :2]  # [4000, 2]
    logits, loc, _ = (t.numpy() for t in prior._frame_params(many[:1], u[:1]))
    picked = np.argmin(np.abs(drawn[:, None, :] - loc[0, 0][None]).sum(-1), axis=1)  # [4000]
    assert np.allclose(np.abs(drawn - loc[0, 0][picked]).max(), 0.0, atol=1e-5)
    weights = np.exp(logits[0, 0] - np.logaddexp.reduce(logits[0, 0]))
    np.testing.assert_allclose(np.bincount(picked, minlength=4) / 4000, weights, atol=0.03)


@pytest.mark.parametrize(("kind", "components"), [("autoregressive", 1), ("independent", 3)])
def test_a_local_level_without_a_closed_form_kl_takes_a_monte_carlo_one_and_saves_whole(
    kind, components, x, tmp_path: Path
) -> None:
    model = build_vae(
        TINY_CONFIG,
        "standard",
        latent_dim=LATENT,
        local_dim=LOCAL,
        local_prior=kind,
        local_components=components,
        seed=1,
    )
    assert model.local_prior.autoregressive == (kind == "autoregressive")
    assert model.local_prior.components == components and model.code_dim == 10
    terms = model.elbo_terms(x, seed=(3, 4))
    posterior = model.posterior(x)
    code = posterior.sample(1, seed=stateless_seed((3, 4)))[0]  # the draw elbo_terms makes
    z, u = code[:, :4], code[:, 4:]
    kl_z = tfd.kl_divergence(model.encode(x), tfd.MultivariateNormalDiag(tf.zeros(4)))
    q_u = tfd.MultivariateNormalDiag(posterior.mean()[:, 4:], posterior.stddev()[:, 4:])
    kl_u = q_u.log_prob(u) - model.local_prior(z, u).log_prob(u)  # one draw's estimate
    np.testing.assert_allclose(terms["kl"], kl_z + kl_u, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        model.code_log_prior(code), model.prior.log_prob(z) + model.local_prior(z, u).log_prob(u)
    )
    codes = generation.sample_latents(model, 3, seed=2)
    save_model(model, tmp_path / "local.keras")
    loaded = load_model(tmp_path / "local.keras")
    assert loaded.local_prior.get_config() == model.local_prior.get_config()
    np.testing.assert_allclose(generation.sample_latents(loaded, 3, seed=2), codes, rtol=1e-5)
    with pytest.raises(ValueError, match="local_prior must be one of"):
        build_vae(TINY_CONFIG, latent_dim=LATENT, local_dim=LOCAL, local_prior="flow")


class _LaplacePrior(Prior):
    """A user's prior, defined outside the package: it sees the global level only."""

    def distribution(self, labels=None):
        return tfd.Independent(tfd.Laplace(tf.zeros(self.latent_dim), 1.0), 1)


@pytest.mark.parametrize("prior", ["user", "vamp"])
def test_a_users_own_prior_or_a_vampprior_models_the_global_level(prior, x) -> None:
    prior = _LaplacePrior(LATENT) if prior == "user" else "vamp"
    model = build_vae(TINY_CONFIG, prior, latent_dim=LATENT, local_dim=LOCAL)
    assert model.prior.distribution().event_shape == [LATENT]
    assert model.kl_mode(model.encode(x), model.prior.distribution()) == "mc"
    terms = model.elbo_terms(x, seed=(0, 1))
    assert np.all(np.isfinite(terms["kl"])) and model.code_dim == 10
    if isinstance(model.prior, _LaplacePrior):  # a user's prior trains with the local level
        model.compile(optimizer="adam")
        history = model.fit(random_batches(8, 4), epochs=1, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"][-1])


def test_local_latents_need_the_frequency_as_channels_network() -> None:
    with pytest.raises(ValueError, match="local latents need the conv1d network"):
        build_vae(TINY_CONFIG, latent_dim=LATENT, local_dim=LOCAL, network="conv2d")


def test_a_run_with_local_latents_reconstructs_whole_files_and_explores(
    fsdd_root: Path, tmp_path: Path
) -> None:
    spec = RunSpec(
        data=DataSpec("fsdd", str(fsdd_root), limit=30),
        model=ModelSpec(latent_dim=LATENT, local_dim=LOCAL, components_per_class=1),
        training=TrainingSpec(epochs=1, batch_size=16),
    )
    model = Run(tmp_path / "run").train(spec, verbose=0)
    assert load_model(tmp_path / "run" / "model.keras").code_dim == LATENT + 8 * LOCAL
    # a file three windows long comes back whole, decoded from each window's whole code
    wave, rate = sf.read(fsdd_root / "recordings" / "3_jackson_0.wav")
    long = tmp_path / "long.wav"
    sf.write(long, np.tile(wave, 6), rate)
    (rebuilt,) = generation.reconstruct_files(model, [long], n_iter=2, refine_steps=2)
    assert len(rebuilt) == 6 * len(wave)
    explorer = Explorer.from_run(tmp_path / "run", limit=2, n_iter=2, use_judge=False)
    try:
        clip = explorer.clips[0]
        assert clip.mean.shape == (LATENT,) and clip.local.shape == (8 * LOCAL,)
        assert len(explorer.latent_map("pca")["points"]) == 2
        assert len(explorer.interpolate(0, 1, steps=3)) == 3
        assert explorer.clip(0)["reconstruction"]["seconds"] == pytest.approx(1.024)
    finally:
        explorer.close()
