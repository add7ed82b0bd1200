"""Audio codec: causal conv autoencoder with RVQ/FSQ bottlenecks and a learned code prior."""
