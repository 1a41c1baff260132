"""Training: `fit.train` (Keras `fit`, resumable run folders), the `callbacks` it runs, and
`distribute` (distribution strategies, several workers from ``TF_CONFIG``)."""
