"""The variational autoencoder: an encoder, a decoder and a pluggable prior, trained on the ELBO.

    -ELBO(x) = E_q[-log p(x | z)] + KL(q(z | x) || p(z))        (nats per example)

All quantities are in nats per spectrogram, in the normalised spectrogram space of the model's
`SpectrogramConfig`; bits per dimension divide by ``freq * time * ln 2``. The KL is analytic where
TFP registers one for the posterior/prior pair, otherwise a Monte-Carlo estimate
``mean_s[log q(z_s | x) - log p(z_s)]`` over ``kl_samples`` draws.

A model with local latents (``local_prior``, `models.local_prior`) codes a clip as the global z
and time-local u: q(z, u | x) is one diagonal Gaussian over the code ``[z, u]``, the prior
p(z) p(u | z), and the ELBO's KL is KL(q(z | x) || p(z)) + KL(q(u | x) || p(u | z)), the second
analytic at the drawn z. `encode` gives q(z | x), the level that the priors and the latent maps
work on; `posterior` gives the whole code's, which reconstructions decode.

Every draw of z is seeded explicitly, so no global generator is read or advanced: a training step
draws from a stateless seed made of the model's ``seed`` and the optimizer's step (the same seed
trains the same way, and a run resumed from a checkpoint draws what the uninterrupted run would
have), bounds and reconstructions take a ``seed`` argument, and without one they draw from the
model's own `keras.random.SeedGenerator` (``seed_generator``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.models.local_prior import LocalPrior
from tfp_audio_vae.models.priors import Prior
from tfp_audio_vae.seeds import stateless_seed

tfd = tfp.distributions

KLMode = Literal["analytic", "mc", "auto"]
Seed = int | tuple[int, int] | tf.Tensor
IWAE_DECODE_BATCH = 1024
"""Examples `VAE.importance_weights` decodes at a time: 100 draws for a batch of 64 clips took
4.03 s in 1,024s against 4.36 s in 256s (medians of 6 alternating rounds, 2-core AMD EPYC,
205 GFLOP/s), the bounds of FSDD's 300 test clips 3% less."""
"""A stateless seed: an int ``s`` (taken as ``(s, 0)``), a pair of ints or an int ``[2]`` tensor."""


def analytic_kl_available(posterior: tfd.Distribution, prior: tfd.Distribution) -> bool:
    """Whether TFP has a registered analytic KL for this (posterior, prior) pair."""
    try:
        tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        return False
    return True


def _refuse_untracked(
    prior: Prior, used: Sequence[tf.Variable], tracked: Sequence[keras.Variable]
) -> None:
    """Raises TypeError if the prior's density reads trainable variables Keras does not track.

    A raw ``tf.Variable`` attribute or a tf-keras layer (e.g. ``tfb.AutoregressiveNetwork``) inside
    a Keras 3 layer is invisible to Keras: it would never train, and never be saved.
    """
    # under a distribution strategy the tape sees a mirrored variable's per-device copies
    known = {id(v) for w in tracked for v in (w.value, *getattr(w.value, "values", ()))}
    untracked = sorted({v.name for v in used if v.trainable and id(v) not in known})
    if untracked:
        raise TypeError(
            f"{type(prior).__name__}.distribution() uses trainable variables Keras does not track "
            f"({', '.join(untracked)}): they would never train or be saved. Create weights with "
            "self.add_weight and networks from Keras 3 layers (keras.layers.Dense, ...), not "
            "tf.Variable or tf-keras layers such as tfp.bijectors.AutoregressiveNetwork"
        )


def _checked_class_names(names: Sequence[str] | None, prior: Prior) -> tuple[str, ...] | None:
    """``names`` as a tuple, after checking they are distinct strings that fit the prior."""
    if names is None:
        return None
    names = tuple(names)
    if not all(isinstance(name, str) and name for name in names) or len(set(names)) < len(names):
        raise ValueError(f"class_names must be distinct non-empty strings, got {list(names)}")
    classes = getattr(prior, "num_classes", None) if prior.conditional else None
    if classes is not None and classes != len(names):
        raise ValueError(f"{len(names)} class names for a conditional prior of {classes} classes")
    return names


@keras.saving.register_keras_serializable(package="tfp_audio_vae")
class VAE(keras.Model):
    """A VAE over spectrograms ``[batch, freq, time, 1]`` with latents ``[batch, latent_dim]``.

    Args:
      encoder: a layer mapping x to q(z | x), a distribution with event ``[latent_dim]``.
      decoder: a layer mapping z ``[batch, latent_dim]`` to p(x | z), event ``[freq, time, 1]``.
      prior: a `Prior`.
      kl: ``"analytic"`` (TFP's registered KL; an error if none), ``"mc"`` or ``"auto"``.
      kl_samples: Monte-Carlo draws of z per example for the MC KL.
      beta: weight of the KL in the training loss (1 gives the ELBO).
      warmup_steps: the KL weight rises linearly from 0 to ``beta`` over this many steps.
      free_nats: the training loss uses ``max(KL, free_nats)`` (batch mean), against collapse.
      beta_nll: the β of β-NLL (Seitzer et al. 2022) for a decoder that predicts each cell's
        scale (``"pixel"``): the training loss weighs each cell's −log p by ``stop_gradient(σ^(2
        beta_nll))``, so cells the network calls noisy do not stop their means from learning
        (0: the plain likelihood; 0.5 the paper's choice). Bounds and reported terms are always
        the unweighted likelihood.
      spectrogram_config: the pipeline's config, normalisation included; saved with the model.
      local_prior: p(u | z) of time-local latents u (`LocalPrior`), whose posterior the encoder
        gives after z's and the decoder reads after z (their ``local_dim``); ``None``: z alone.
      class_names: the name of each class label ``0, 1, ...`` of the training data (FSDD's are
        ``"0"`` ... ``"9"``), saved with the model so that samples can be asked for by name
        (`class_labels`); ``None`` for unlabelled data. A conditional prior must have as many
        classes.
      input_shape: ``(freq, time, 1)``; defaults to ``spectrogram_config.shape``. When known, the
        model builds at once (so it can be counted, saved and restored before any call).
      seed: seeds the model's draws of z: training steps draw from ``(seed, step)``, and calls
        without a ``seed`` argument from ``seed_generator``, a `keras.random.SeedGenerator` started
        at ``seed`` (its position is saved in `training.fit.train`'s checkpoints, not in the
        ``.keras`` file: a loaded model's unseeded draws start again from ``seed``).

    #### Examples

    ```python
    import tensorflow as tf

    from tfp_audio_vae import Conv2DDecoder, Conv2DEncoder, SpectrogramConfig, StandardNormalPrior

    config = SpectrogramConfig(num_samples=2048, mean=(0.0,) * 128, std=(1.0,) * 128)
    model = VAE(Conv2DEncoder(4), Conv2DDecoder(config.shape), StandardNormalPrior(4),
                spectrogram_config=config)  # any encoder, decoder and prior
    x = tf.zeros([2, *config.shape])  # [batch, 128 freq, 32 time, 1]
    model.encode(x).event_shape  # ==> [4]  (q(z | x): MultivariateNormalDiag)
    model.decode(tf.zeros([2, 4])).event_shape  # ==> [128, 32, 1]  (p(x | z))
    model.elbo(x, seed=(0, 1)).shape  # ==> (2,)  (nats per example)
    ```
    """

    def __init__(
        self,
        encoder: keras.layers.Layer,
        decoder: keras.layers.Layer,
        prior: Prior,
        *,
        kl: KLMode = "auto",
        kl_samples: int = 1,
        beta: float = 1.0,
        warmup_steps: int = 0,
        free_nats: float = 0.0,
        beta_nll: float = 0.0,
        spectrogram_config: SpectrogramConfig | None = None,
        local_prior: LocalPrior | None = None,
        class_names: Sequence[str] | None = None,
        input_shape: tuple[int, int, int] | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kl not in ("analytic", "mc", "auto"):
            raise ValueError(f"kl must be 'analytic', 'mc' or 'auto', got {kl!r}")
        if int(kl_samples) < 1:
            raise ValueError(f"kl_samples must be at least 1, got {kl_samples}")
        if not isinstance(prior, Prior):
            raise TypeError(f"prior must be a tfp_audio_vae.models.priors.Prior, got {type(prior)}")
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.local_prior = local_prior
        self.kl = kl
        self.kl_samples = int(kl_samples)
        self.beta = float(beta)
        self.warmup_steps = int(warmup_steps)
        self.free_nats = float(free_nats)
        if not 0.0 <= float(beta_nll) <= 1.0:
            raise ValueError(f"beta_nll must be in [0, 1], got {beta_nll}")
        self.beta_nll = float(beta_nll)
        self.spectrogram_config = spectrogram_config
        self.class_names = _checked_class_names(class_names, prior)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="vae_seed_generator")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "neg_elbo", "nll", "kl", "bits_per_dim")
        }
        if input_shape is None and spectrogram_config is not None:
            input_shape = spectrogram_config.shape
        self.spectrogram_shape = tuple(input_shape) if input_shape else None
        if self.spectrogram_shape:
            self.build((None, *self.spectrogram_shape))

    # ------------------------------------------------------------------ the model's distributions

    @property
    def latent_dim(self) -> int:
        """z's size, the global latent's."""
        return self.prior.latent_dim

    @property
    def code_dim(self) -> int:
        """The size of a clip's whole code: z's, plus u's with local latents."""
        return self.latent_dim + (self.local_prior.size if self.local_prior else 0)

    def audio_config(self) -> SpectrogramConfig:
        """The spectrogram config the model was trained with, normalisation included: what turns
        its spectrograms back into audio.

        Raises:
          ValueError: if the model carries no normalised config.
        """
        if self.spectrogram_config is None or not self.spectrogram_config.is_normalised:
            raise ValueError(
                "this model carries no normalised SpectrogramConfig: build it with "
                "build_vae(config_with_stats, ...) to turn its spectrograms into audio"
            )
        return self.spectrogram_config

    def class_labels(self, names: Sequence[str]) -> list[int]:
        """The labels ``[len(names)]`` of classes given by name (see ``class_names``).

        Raises:
          ValueError: naming the first unknown class and listing the model's classes.
        """
        known = {name: label for label, name in enumerate(self.class_names or ())}
        for name in names:
            if name not in known:
                have = ", ".join(self.class_names) if self.class_names else "none"
                raise ValueError(f"no class {name!r} in this model; its classes are: {have}")
        return [known[name] for name in names]

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        x = tf.zeros([1, *input_shape[1:]])
        code = tf.convert_to_tensor(self.encoder(x).sample(seed=stateless_seed(0)))  # [1, code]
        if code.shape[-1] != self.code_dim:
            raise ValueError(
                f"the encoder's code has {code.shape[-1]} numbers, the prior and local prior "
                f"{self.code_dim}: build the encoder, decoder and local prior with one local_dim"
            )
        self.decoder(code)
        z = code[:, : self.latent_dim]
        if self.local_prior is not None:
            self.local_prior(z, code[:, self.latent_dim :])
        # q(z | x) for a prior that reads the encoder (a VampPrior): with local latents, z's part
        encoder = self.encoder if self.local_prior is None else self.encode
        self.prior.connect(encoder, tuple(input_shape[1:]))
        with tf.GradientTape() as tape:  # records every trainable variable the prior reads
            self.prior.log_prob(z)
        super().build(input_shape)
        _refuse_untracked(self.prior, tape.watched_variables(), self.trainable_weights)

    def posterior(self, x: tf.Tensor) -> tfd.MultivariateNormalDiag:
        """q(z, u | x), the whole code's posterior: x ``[batch, freq, time, 1]`` -> batch
        ``[batch]``, event ``[code_dim]`` (`encode`'s q(z | x) for a model without local latents)."""
        return self.encoder(x)

    def encode(self, x: tf.Tensor) -> tfd.Distribution:
        """q(z | x): x ``[batch, freq, time, 1]`` -> batch ``[batch]``, event ``[latent]``."""
        return self._global(self.encoder(x))

    def _global(self, posterior: tfd.Distribution) -> tfd.Distribution:
        """q(z | x), the global part of a posterior over the code."""
        if self.local_prior is None:
            return posterior
        return _part(posterior, 0, self.latent_dim)

    def complete(
        self, z: tf.Tensor, *, temperature: float = 1.0, seed: Seed | None = None
    ) -> tf.Tensor:
        """Codes ``[n, code_dim]`` of global latents z ``[n, latent]``: z itself without local
        latents; else z and u ~ p(u | z), each u ``temperature`` times its prior's spread from
        the prior's mean (``seed``), or the mean itself when ``seed`` is ``None``
        (`LocalPrior.draw`: frame after frame when autoregressive, from a drawn component when
        each frame is a mixture)."""
        if self.local_prior is None:
            return z
        seed = None if seed is None else stateless_seed(seed)
        return tf.concat([z, self.local_prior.draw(z, temperature, seed)], axis=-1)

    def decode(self, code: tf.Tensor) -> tfd.Distribution:
        """p(x | z): code ``[batch, code_dim]`` -> batch ``[batch]``, event ``[freq, time, 1]``.
        A model with local latents also takes z alone ``[batch, latent]``, with u at the mean of
        p(u | z) (`complete`)."""
        code = tf.convert_to_tensor(code, tf.float32)
        if self.local_prior is not None and code.shape[-1] == self.latent_dim:
            code = self.complete(code)
        return self.decoder(code)

    def code_log_prior(self, code: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """log p(z) (+ log p(u | z)) of codes ``[..., code_dim]``, ``[...]`` in nats; ``labels``
        as `Prior.log_prob` takes them."""
        log_p = self.prior.log_prob(code[..., : self.latent_dim], labels)
        return log_p if self.local_prior is None else log_p + self._local_log_prob(code)

    def _local_log_prob(self, code: tf.Tensor) -> tf.Tensor:
        """log p(u | z) of codes ``[..., code_dim]``, ``[...]`` in nats (with local latents)."""
        return self.local_prior.log_prob(code[..., : self.latent_dim], code[..., self.latent_dim :])

    def call(self, x: Any, training: bool = False) -> tfd.Distribution:
        """p(x | z) at one posterior draw of the code ~ q(z, u | x) (from ``seed_generator``); x as
        in `fit` (a tensor or a batch dict)."""
        x, _ = self.unpack_batch(x)
        return self.decode(self.posterior(x).sample(seed=self.next_seed()))

    def reconstruct(self, x: tf.Tensor) -> tf.Tensor:
        """Decoder mean at the posterior mean: ``[batch, freq, time, 1]`` -> same shape."""
        return self.decode(self.posterior(x).mean()).mean()

    def sample(
        self, n: int, labels: tf.Tensor | None = None, seed: int | tuple[int, int] | None = None
    ) -> tf.Tensor:
        """Decoder means of ``n`` prior draws, ``[n, freq, time, 1]`` (per label for a conditional
        prior; other priors ignore labels). ``seed`` as in `Prior.sample`; ``None`` draws from
        ``seed_generator``."""
        if seed is None:
            seed = self.next_seed()
        z = self.prior.sample(n, labels=self._prior_labels(labels), seed=seed)  # [n, latent]
        return self.decode(z).mean()

    # ------------------------------------------------------------------ seeds

    def next_seed(self) -> tf.Tensor:
        """The next stateless int32 ``[2]`` seed of ``seed_generator`` (advances it)."""
        return stateless_seed(self.seed_generator.next())

    def _seed(self, seed: Seed | None) -> tf.Tensor:
        return self.next_seed() if seed is None else stateless_seed(seed)

    def training_seed(self) -> tf.Tensor:
        """The stateless seed of the current training step: a function of the model's ``seed``,
        the optimizer's step and the replica, so it needs no state of its own and repeats after a
        resume from a checkpoint (which restores the step)."""
        strategy = tf.distribute.get_strategy()
        replica = tf.distribute.get_replica_context()
        replica_id = 0 if replica is None else replica.replica_id_in_sync_group
        step = tf.cast(self.optimizer.iterations, tf.int32)
        index = step * strategy.num_replicas_in_sync + tf.cast(replica_id, tf.int32)
        base = tf.stack([tf.constant(self.seed % 2**31, tf.int32), index])
        return tfp.random.split_seed(base, n=1, salt="VAE.train_step")[0]

    # ------------------------------------------------------------------ bounds

    def kl_mode(self, posterior: tfd.Distribution, prior: tfd.Distribution) -> str:
        """The KL actually used for this pair: ``"analytic"`` or ``"mc"``."""
        if self.kl == "mc":
            return "mc"
        if analytic_kl_available(posterior, prior):
            return "analytic"
        if self.kl == "analytic":
            raise NotImplementedError(
                f"no analytic KL is registered in TFP for {type(posterior).__name__} || "
                f"{type(prior).__name__} (prior {type(self.prior).__name__}): "
                "use kl='mc' or kl='auto'"
            )
        return "mc"

    def _prior_labels(self, labels: tf.Tensor | None) -> tf.Tensor | None:
        return labels if self.prior.conditional else None

    def elbo_terms(
        self,
        x: tf.Tensor,
        labels: tf.Tensor | None = None,
        seed: Seed | None = None,
        training: bool = False,
    ) -> dict[str, tf.Tensor]:
        """Per-example ``nll``, ``kl``, ``neg_elbo`` (nats) and ``bits_per_dim``, each ``[batch]``.

        The likelihood term uses one reparameterised draw z ~ q(z | x); a Monte-Carlo KL averages
        ``kl_samples`` draws (cheap: they are never decoded).

        Args:
          x: spectrograms ``[batch, freq, time, 1]``.
          labels: int32 ``[batch]``, used only by a conditional prior.
          seed: stateless seed of the draws (the same seed, the same terms); ``None`` draws from
            ``seed_generator``.
          training: score x under the decoder's training likelihood (its ``calibrated`` method,
            where it has one: the ``"optimal"`` scale fitted to the batch).
        """
        posterior = self.posterior(x)  # batch [b], event [code]
        codes = posterior.sample(self.kl_samples, seed=self._seed(seed))  # [S, b, code]
        likelihood = self.decoder(codes[0])
        calibrated = getattr(self.decoder, "calibrated", None)
        if training and calibrated is not None:
            likelihood = calibrated(likelihood, x)
        nll = -likelihood.log_prob(x)  # [b]
        kl = self.code_kl(posterior, codes, self._prior_labels(labels))
        neg_elbo = nll + kl
        dims = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
        weighted = {}
        if training and self.beta_nll > 0:  # β-NLL: each cell's −log p weighed by σ^(2β)
            cells = likelihood.distribution  # Normal, batch [b, freq, time, 1]
            weight = tf.stop_gradient(tf.pow(cells.scale, 2.0 * self.beta_nll))
            weighted["loss_nll"] = -tf.reduce_sum(weight * cells.log_prob(x), axis=[1, 2, 3])
        return {
            **weighted,
            "nll": nll,
            "kl": kl,
            "neg_elbo": neg_elbo,
            "bits_per_dim": neg_elbo / (dims * math.log(2.0)),  # [b]
        }

    def code_kl(
        self, posterior: tfd.Distribution, codes: tf.Tensor, labels: tf.Tensor | None = None
    ) -> tf.Tensor:
        """The ELBO's KL per example, ``[batch]`` (nats), of q(z, u | x) ``posterior`` and its
        draws ``codes`` ``[S, batch, code]``: `kl_divergence` of q(z | x) from the prior (with
        ``labels`` for a conditional one), plus, with local latents, KL(q(u | x) || p(u | z))
        (`LocalPrior.kl`: analytic at the first draw's z, or by Monte Carlo)."""
        z = codes[..., : self.latent_dim]  # [S, b, latent]
        prior = self.prior.distribution(labels)  # batch [] or [b], event [latent]
        kl = self.kl_divergence(self._global(posterior), prior, z)
        if self.local_prior is None:
            return kl
        local = _part(posterior, self.latent_dim, self.code_dim)
        return kl + self.local_prior.kl(local, z, codes[..., self.latent_dim :])

    def kl_divergence(
        self, posterior: tfd.Distribution, prior: tfd.Distribution, z: tf.Tensor
    ) -> tf.Tensor:
        """KL(q(z | x) || p(z)) per example, ``[batch]`` (nats): analytic, or the mean of
        ``log q(z_s | x) - log p(z_s)`` over the draws ``z`` ``[S, batch, latent]`` (`kl_mode`)."""
        if self.kl_mode(posterior, prior) == "analytic":
            kl = tfd.kl_divergence(posterior, prior)  # [b] (or [] for a batchless pair)
        else:
            kl = tf.reduce_mean(posterior.log_prob(z) - prior.log_prob(z), axis=0)  # [b]
        return tf.broadcast_to(kl, tf.shape(z)[1:2])

    def elbo(
        self, x: tf.Tensor, labels: tf.Tensor | None = None, seed: Seed | None = None
    ) -> tf.Tensor:
        """The evidence lower bound per example, ``[batch]``, in nats (``seed`` as in `elbo_terms`)."""
        return -self.elbo_terms(x, labels, seed=seed)["neg_elbo"]

    def importance_weights(
        self, x: tf.Tensor, k: int = 100, chunk: int = 256, seed: Seed | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The IWAE bound's draws, without the prior: z ``[k, batch, latent]`` ~ q(z | x) and
        ``log p(x | z) - log q(z | x)`` ``[k, batch]`` (nats); with local latents, of codes
        drawn from q(z, u | x): ``log p(x | z, u) + log p(u | z) - log q(z, u | x)``.

        Adding ``prior.log_prob(z, labels)`` gives the log importance weights (`iwae`), so bounds
        under several priors (a conditional prior's marginal and per-class ones) share one set of
        decoded draws. The k draws are drawn ``chunk`` examples' worth at a time, each chunk
        from its own part of ``seed`` (stateless; ``None`` draws from ``seed_generator``), and
        decoded `IWAE_DECODE_BATCH` examples at a time.
        """
        posterior = self.posterior(x)  # batch [b], event [code]
        b = int(x.shape[0] or 1)
        per_chunk = max(1, chunk // b)
        starts = range(0, k, per_chunk)
        seeds = tfp.random.split_seed(self._seed(seed), n=len(starts), salt="VAE.iwae")
        z = tf.concat(
            [
                posterior.sample(min(per_chunk, k - start), seed=chunk_seed)
                for start, chunk_seed in zip(starts, seeds, strict=True)
            ],
            axis=0,
        )  # [k, b, code]
        per_decode = max(1, IWAE_DECODE_BATCH // b)
        log_lik = tf.concat(
            [
                _decoded_log_prob(self, z[start : start + per_decode], x)
                for start in range(0, k, per_decode)
            ],
            axis=0,
        )  # [k, b]
        log_w = log_lik - posterior.log_prob(z)  # [k, b]
        if self.local_prior is not None:
            log_w += self._local_log_prob(z)
        return z[..., : self.latent_dim], log_w

    def iwae(
        self,
        x: tf.Tensor,
        k: int = 100,
        labels: tf.Tensor | None = None,
        chunk: int = 256,
        seed: Seed | None = None,
    ) -> tf.Tensor:
        """Importance-weighted bound on log p(x) (Burda et al. 2016) per example, ``[batch]``, nats.

        ``log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x)``, z_i ~ q(z | x); k = 1 is the ELBO and the
        bound tightens as k grows. The draws are `importance_weights`' (``chunk``, ``seed``).
        """
        z, log_w = self.importance_weights(x, k, chunk, seed)
        return iwae_bound(log_w + self.prior.log_prob(z, self._prior_labels(labels)))

    # ------------------------------------------------------------------ training

    def unpack_batch(self, data: Any) -> tuple[tf.Tensor, tf.Tensor | None]:
        """A batch -> (spectrograms, int32 labels or None); dicts come from `spectrogram_dataset`."""
        if isinstance(data, dict):
            x, labels = data["spectrogram"], data.get("label")
        elif isinstance(data, tuple | list):
            x, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            x, labels = data, None
        return x, (None if labels is None else tf.cast(labels, tf.int32))

    def kl_weight(self) -> tf.Tensor:
        """The KL weight at the optimizer's current step (β with linear warm-up)."""
        if self.warmup_steps <= 0:
            return tf.constant(self.beta)
        step = tf.cast(self.optimizer.iterations, tf.float32)
        return self.beta * tf.minimum(1.0, step / float(self.warmup_steps))

    def _update_trackers(self, loss: tf.Tensor, terms: dict[str, tf.Tensor]) -> dict[str, Any]:
        batch = tf.cast(tf.shape(terms["nll"])[0], tf.float32)
        self.trackers["loss"].update_state(loss, sample_weight=batch)  # a mean over examples
        for name, values in terms.items():
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: Any) -> dict[str, Any]:
        x, labels = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(x, labels, seed=self.training_seed(), training=True)
            nll = terms.pop("loss_nll", terms["nll"])  # β-NLL's weighted one where it is set
            kl = tf.reduce_mean(terms["kl"])
            kl_term = tf.maximum(kl, self.free_nats) if self.free_nats > 0 else kl
            loss = tf.reduce_mean(nll) + self.kl_weight() * kl_term
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = loss / replicas
        grads = tape.gradient(scaled, self.trainable_variables)
        finite = tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None]
        )
        # A non-finite step applies zero gradients (so no NaN reaches the weights; under a
        # distribution strategy every replica still takes part in the update) and its NaN loss
        # stops training through `training.StopOnNonFinite`, which restores the last checkpoint.
        grads = [g if g is None else tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return self._update_trackers(loss, terms)

    def test_step(self, data: Any) -> dict[str, Any]:
        x, labels = self.unpack_batch(data)
        terms = self.elbo_terms(x, labels)
        loss = tf.reduce_mean(terms["nll"]) + self.beta * tf.reduce_mean(terms["kl"])
        return self._update_trackers(loss, terms)

    def predict_step(self, data: Any) -> tf.Tensor:
        x, _ = self.unpack_batch(data)
        return self.reconstruct(x)

    # ------------------------------------------------------------------ saving

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "kl": self.kl,
            "kl_samples": self.kl_samples,
            "beta": self.beta,
            "warmup_steps": self.warmup_steps,
            "free_nats": self.free_nats,
            "beta_nll": self.beta_nll,
            "spectrogram_config": (
                self.spectrogram_config.to_dict() if self.spectrogram_config else None
            ),
            **(
                {"local_prior": keras.saving.serialize_keras_object(self.local_prior)}
                if self.local_prior
                else {}
            ),
            "class_names": list(self.class_names) if self.class_names is not None else None,
            "input_shape": list(self.spectrogram_shape) if self.spectrogram_shape else None,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        config = dict(config)
        for part in ("encoder", "decoder", "prior", "local_prior"):
            if part in config:
                config[part] = keras.saving.deserialize_keras_object(config[part])
        spec = config.pop("spectrogram_config", None)
        return cls(spectrogram_config=SpectrogramConfig.from_dict(spec) if spec else None, **config)


def iwae_bound(log_weights: tf.Tensor) -> tf.Tensor:
    """``log (1/k) sum_i w_i`` over the first axis of log importance weights ``[k, batch]``."""
    return tf.reduce_logsumexp(log_weights, axis=0) - math.log(int(log_weights.shape[0]))


@tf.function(reduce_retracing=True)
def _decoded_log_prob(model: VAE, z: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """log p(x | z) ``[draws, b]`` of codes ``z [draws, b, code]`` against ``x [b, ...]``; one
    graph per model and shape (1.3x faster than eager on 2 CPU cores)."""
    draws, b = tf.shape(z)[0], tf.shape(z)[1]
    log_prob = model.decoder(tf.reshape(z, [-1, model.code_dim])).log_prob(
        tf.tile(x, [draws, 1, 1, 1])
    )  # [draws * b]
    return tf.reshape(log_prob, [draws, b])


def _part(posterior: tfd.Distribution, start: int, stop: int) -> tfd.MultivariateNormalDiag:
    """The marginal of a diagonal Gaussian over its coordinates ``start`` to ``stop``."""
    return tfd.MultivariateNormalDiag(
        loc=posterior.mean()[..., start:stop], scale_diag=posterior.stddev()[..., start:stop]
    )
