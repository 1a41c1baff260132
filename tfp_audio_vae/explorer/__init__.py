"""A local web explorer for a trained model (``tfp-audio-vae explore RUN``).

`session` holds the model-side work (no web code); `app` is the Starlette app over it and needs
the ``app`` extra (``pip install 'tfp-audio-vae[app]'``). Importing this package imports neither.
"""
