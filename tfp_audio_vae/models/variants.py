"""The package's VAE variants, built on one network so that only the prior differs between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tfp_audio_vae import defaults
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.deprecation import warn
from tfp_audio_vae.models.decoders import Conv1DDecoder, Conv2DDecoder, DecoderScale
from tfp_audio_vae.models.encoders import Conv1DEncoder, Conv2DEncoder
from tfp_audio_vae.models.local_prior import LocalPrior
from tfp_audio_vae.models.priors import (
    MixtureOfGaussiansPrior,
    Prior,
    RealNVPPrior,
    StandardNormalPrior,
    VampPrior,
)
from tfp_audio_vae.models.vae import VAE, KLMode

Variant = Literal["standard", "mog", "conditional", "vamp", "realnvp"]
VARIANTS: tuple[str, ...] = ("standard", "mog", "conditional", "vamp", "realnvp")
Network = Literal["conv1d", "conv2d"]
NETWORKS = {"conv1d": (Conv1DEncoder, Conv1DDecoder), "conv2d": (Conv2DEncoder, Conv2DDecoder)}


def make_prior(
    variant: Variant,
    latent_dim: int,
    *,
    num_components: int = defaults.NUM_CLASSES,
    num_classes: int = defaults.NUM_CLASSES,
    components_per_class: int = defaults.COMPONENTS_PER_CLASS,
    seed: int = 0,
) -> Prior:
    """The prior of a named variant.

    - ``"standard"``: N(0, I).
    - ``"mog"``: a learnable mixture of ``num_components`` Gaussians (unsupervised).
    - ``"conditional"``: a mixture with ``components_per_class`` components tied to each of the
      ``num_classes`` classes, trained with labels.
    - ``"vamp"``: a `VampPrior` with 50 pseudo-inputs.
    - ``"realnvp"``: a `RealNVPPrior` flow with 4 couplings.
    """
    if variant == "standard":
        return StandardNormalPrior(latent_dim)
    if variant == "mog":
        return MixtureOfGaussiansPrior(latent_dim, num_components, seed=seed)
    if variant == "conditional":
        return MixtureOfGaussiansPrior(
            latent_dim,
            num_classes * components_per_class,
            conditional=True,
            components_per_class=components_per_class,
            seed=seed,
        )
    if variant == "vamp":
        return VampPrior(latent_dim, seed=seed)
    if variant == "realnvp":
        return RealNVPPrior(latent_dim, seed=seed)
    raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")


def build_vae(
    spectrogram_config: SpectrogramConfig,
    prior: Variant | Prior = defaults.PRIOR,
    *,
    latent_dim: int = defaults.LATENT_DIM,
    num_components: int | None = None,
    num_classes: int | None = None,
    components_per_class: int = defaults.COMPONENTS_PER_CLASS,
    class_names: Sequence[str] | None = None,
    kl: KLMode | None = None,
    decoder_scale: DecoderScale = defaults.DECODER_SCALE,
    network: Network = defaults.NETWORK,
    local_dim: int = defaults.LOCAL_DIM,
    local_prior: str = defaults.LOCAL_PRIOR,
    local_components: int = defaults.LOCAL_COMPONENTS,
    seed: int = 0,
    **vae_kwargs: Any,
) -> VAE:
    """A VAE with one of the package's networks and the given prior.

    Every default is `tfp_audio_vae.defaults`' measured-best setting: ``build_vae(config)`` is
    the model the command line and the examples train.

    Args:
      spectrogram_config: the pipeline's config (normalisation included) the model is saved with.
      prior: a variant name or any `Prior` instance (a user's own subclass included).
      latent_dim: size of z (ignored when ``prior`` is an instance: its ``latent_dim`` rules).
      num_components: mixture components of ``"mog"``. Default: one per class (``num_classes``).
        For ``"conditional"`` it is a deprecated alias of ``num_classes`` until 0.3.
      num_classes: classes of ``"conditional"`` (its components are ``num_classes *
        components_per_class``). Default: the number of ``class_names``, else
        `defaults.NUM_CLASSES` (FSDD's 10 digits).
      components_per_class: components per class of ``"conditional"``.
      class_names: the training data's class names, in label order, saved with the model
        (see `VAE`); ``None`` for unlabelled data.
      kl: KL mode; by default ``"mc"`` for ``"mog"`` (as in the original mixture VAE, whose KL has
        no closed form) and ``"auto"`` otherwise (analytic where TFP has it).
      decoder_scale: how the likelihood's scale is learned (see `SpectrogramDecoder`).
      network: ``"conv1d"`` (`Conv1DEncoder`, `Conv1DDecoder`: frequency bins as channels,
        convolutions over time) or ``"conv2d"`` (`Conv2DEncoder`, `Conv2DDecoder`: image-style
        convolutions over frequency and time).
      local_dim: time-local latents per frame of the encoder's last block, with a prior
        p(u | z) conditioned on z (`models.local_prior.LocalPrior`); 0: z alone. ``"conv1d"``
        only.
      local_prior: ``"independent"`` (u's frames independent given z) or ``"autoregressive"``
        (each frame given z and the frames before it).
      local_components: Gaussians in the mixture of each frame's p(u_t | ...) (1: one).
      seed: seeds the initial weights of the encoder, decoder and mixture prior, and the VAE's own
        draws of z (see `VAE`): the same seed builds the same model and trains it the same way.
        Passed explicitly to each part; no global generator (Python, NumPy, TensorFlow) is
        seeded, read or advanced.
      **vae_kwargs: passed to `VAE` (``beta``, ``warmup_steps``, ``free_nats``, ``beta_nll``,
        ``kl_samples``).

    #### Examples

    ```python
    from tfp_audio_vae import SpectrogramConfig, StandardNormalPrior

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    build_vae(config, "standard", latent_dim=4).prior.latent_dim  # ==> 4
    build_vae(config, StandardNormalPrior(8)).latent_dim  # ==> 8  (a prior instance rules)
    ```
    """
    if isinstance(prior, str) and prior == "conditional" and num_components is not None:
        if num_classes is not None:
            raise TypeError("build_vae() got both num_components= and num_classes=")
        warn("num_components= for the conditional prior", "num_classes=")
        num_classes, num_components = num_components, None
    if num_classes is None:
        num_classes = len(class_names) if class_names else defaults.NUM_CLASSES
    if isinstance(prior, str):
        kl = kl or ("mc" if prior == "mog" else "auto")
        prior = make_prior(
            prior,
            latent_dim,
            num_components=num_classes if num_components is None else num_components,
            num_classes=num_classes,
            components_per_class=components_per_class,
            seed=seed,
        )
    latent_dim = prior.latent_dim
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    encoder, decoder = NETWORKS[network]
    if local_dim and network != "conv1d":
        raise ValueError(f"local latents need the conv1d network, not {network!r}")
    if local_prior not in defaults.LOCAL_PRIORS:
        raise ValueError(
            f"local_prior must be one of {', '.join(defaults.LOCAL_PRIORS)}, got {local_prior!r}"
        )
    local = {"local_dim": local_dim} if local_dim else {}
    decoder = decoder(spectrogram_config.shape, scale=decoder_scale, seed=seed, **local)
    return VAE(
        encoder(latent_dim, seed=seed, **local),
        decoder,
        prior,
        # one u_t per frame of the decoder's first grid (the encoder's last block has as many)
        local_prior=(
            LocalPrior(
                decoder.grid[0],
                local_dim,
                autoregressive=local_prior == "autoregressive",
                components=local_components,
                seed=seed,
            )
            if local_dim
            else None
        ),
        kl=kl or "auto",
        spectrogram_config=spectrogram_config,
        class_names=class_names,
        seed=seed,
        **vae_kwargs,
    )


def with_prior(model: VAE, prior: Prior) -> VAE:
    """``model``'s encoder and decoder (shared, not copied) under another prior: a trained VAE's
    network with a prior fitted afterwards (`latents.fit_prior`), as in two-stage VAEs.

    Fitting the default mixture this way to an N(0, I) VAE's aggregate posterior leaves the
    network as it is and lowered the test −IWAE on every seed measured
    (`experiments/posthoc_prior.py`, ``docs/data/posthoc_prior/``; ``docs/results.md``, "The prior
    alone: a mixture fitted after training"). The KL is ``"auto"`` (analytic where TFP has one
    for the new prior); everything else (β, free nats, spectrogram config, class names, seed) is
    ``model``'s.

    Raises:
      ValueError: if ``prior.latent_dim`` differs from the model's.
    """
    if prior.latent_dim != model.latent_dim:
        raise ValueError(
            f"the prior has {prior.latent_dim} latent dimensions, the model {model.latent_dim}"
        )
    settings = model.get_config()
    for part in ("name", "encoder", "decoder", "prior", "kl", "spectrogram_config"):
        settings.pop(part)
    settings.pop("local_prior", None)
    return VAE(
        model.encoder,
        model.decoder,
        prior,
        local_prior=model.local_prior,
        kl="auto",
        spectrogram_config=model.spectrogram_config,
        **settings,
    )
