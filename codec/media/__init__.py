"""Media readers and writers, one module per kind, plus kind detection (``detect``)."""
