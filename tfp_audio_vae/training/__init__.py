"""Training: `fit.train` (Keras `fit`, resumable run folders) and the `callbacks` it runs."""
