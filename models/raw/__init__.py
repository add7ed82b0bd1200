"""The raw kind: any file, lossless."""
