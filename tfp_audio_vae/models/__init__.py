"""The probabilistic model: encoders emit q(z | x), priors p(z), decoders p(x | z), the VAE.

- `encoders`, `decoders`, `priors`: layers returning `tfd.Distribution` objects.
- `local_prior`: p(u | z) of time-local latents beside the global z (a two-level latent).
- `level`: the decoder's output level, calibrated on the training residuals.
- `vae`: the `VAE` keras.Model, its ELBO and IWAE bounds, and its training step.
- `variants`: `build_vae`, the package's named variants on one network.
- `latents`: posterior statistics of a dataset, class centres, refitting a prior.
- `saving`: one ``.keras`` file per model, loaded in Keras safe mode.
"""
