"""Learned image codec: ELIC-style transforms, hyperprior, grouped checkerboard context."""
