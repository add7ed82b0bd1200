"""Codecs, one sub-package per media kind; each holds its modules and one Codec class."""
