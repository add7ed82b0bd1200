"""Shared entropy-coding layer on constriction.

Takes integer symbols plus a distribution description and returns bytes; knows nothing about
what the symbols mean.

Decoder contract (what makes a bitstream decode anywhere)
---------------------------------------------------------
Every distribution the decoder uses is rebuilt *bit-exactly* from integers:

1. Tables are integer frequency rows (each entry >= 1). Fixed table sets (``gaussian-v1``,
   ``laplace-v1``) are built from a fixed scale table and pinned by SHA-256 in the
   conformance tests; learned tables (factorized priors) are quantized once and shipped.
2. Which table a symbol uses is an integer (scale index, context id) that the decoder has
   already decoded or computed with exact integer arithmetic. Float statistics (a predicted
   std) are mapped to an index on the encoder side only.
3. Float probabilities (PC, FSQ/RVQ priors) become integer rows with
   :func:`quantize_probabilities` before coding; encoder and decoder quantize the same floats.
   Integer weights (the integer PC's conditionals) use :func:`quantize_counts` (integers only).
4. Integer rows reach constriction as float64 ratios (exact for integers below 2**53) with
   ``perfect=False``; constriction's quantization to its 24-bit precision is itself
   deterministic (basic IEEE arithmetic only).
5. Coder settings are fixed: 32-bit words written little-endian, 24-bit precision.

Symbols outside a table's range are escaped and coded exactly, never clipped. Invalid
parameters (std <= 0 or NaN, negative or non-finite probabilities, out-of-range indexes) raise
:class:`codec.errors.InvalidParameterError` before constriction is called.
"""

from entropy.families import (
    AdaptiveContextModel,
    CategoricalRows,
    IndexedFamily,
    IndexedGaussian,
    IndexedLaplace,
    IndexedRows,
)
from entropy.streams import StreamKind, SymbolDecoder, SymbolEncoder, trace_symbols
from entropy.tables import TableSet, quantize_counts, quantize_probabilities

__all__ = [
    "AdaptiveContextModel",
    "CategoricalRows",
    "IndexedFamily",
    "IndexedGaussian",
    "IndexedLaplace",
    "IndexedRows",
    "StreamKind",
    "SymbolDecoder",
    "SymbolEncoder",
    "TableSet",
    "quantize_counts",
    "quantize_probabilities",
    "trace_symbols",
]
