"""Learned code prior: integer frequency tables conditioned on the previous frame's codes.

Codes are (N frames, S streams) integers; stream s has an alphabet of ``alphabet[s]`` symbols
(RVQ: one stream per codebook level, 1024 symbols; FSQ: one stream per scalar of every group,
8 or 5 symbols). The symbol at (t, s) is coded with row ``offsets[s] + classes[s][code at
(t - 1, s)]`` of ``rows`` (the last row of each stream is for t = 0 of a segment). ``classes``
merges previous codes into a few context classes (RVQ: k-means clusters of the codebook
vectors, 16 per level; FSQ: the previous value itself).

Rows are integer frequencies (``entropy.quantize_counts`` of smoothed training counts), all
of width K = max alphabet (symbols beyond a stream's alphabet keep frequency 1), so the
decoder rebuilds every probability bit-exactly. The range coder is a queue, so the encoder
codes many frames per call (their rows are all known) and the decoder goes symbol by symbol
(each frame's rows depend on the codes it just decoded; :meth:`IndexedRows.decode_one`
keeps one constriction model per row): the same stream either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from codec.errors import BitstreamError
from entropy import IndexedRows, SymbolDecoder, SymbolEncoder, quantize_counts

ENCODE_FRAMES = 128  # frames per encoder call (bounds the gathered rows to ~4 MB)


@dataclass(frozen=True, eq=False)
class CodePrior:
    """rows: (R, K) int32; classes: (S, K) int64 context class of each previous symbol;
    offsets: (S,) first row of each stream; alphabet: (S,) symbols per stream."""

    rows: np.ndarray
    classes: np.ndarray
    offsets: np.ndarray
    alphabet: np.ndarray

    @property
    def streams(self) -> int:
        return len(self.offsets)

    @cached_property
    def _table(self) -> IndexedRows:
        return IndexedRows(self.rows)

    @cached_property
    def _lookup(self) -> tuple[list[int], list[list[int]], list[int]]:
        """offsets, classes and alphabet as Python lists (the decoder's per-symbol loop)."""
        return self.offsets.tolist(), self.classes.tolist(), self.alphabet.tolist()

    def start_rows(self, streams: int) -> np.ndarray:
        """(streams,) row indexes for the first frame of a segment (each stream's last row)."""
        return (self.offsets + self.classes.max(axis=1) + 1)[:streams]

    def next_rows(self, previous: np.ndarray) -> np.ndarray:
        """(..., S') row indexes of the frames that follow codes ``previous`` (..., S')."""
        s = np.arange(previous.shape[-1])
        return self.offsets[s] + self.classes[s, previous]

    def row_indexes(self, codes: np.ndarray) -> np.ndarray:
        """(N, S') row index of every code of a segment's (N, S') codes."""
        index = np.empty(codes.shape, dtype=np.int64)
        index[:1] = self.start_rows(codes.shape[1])
        index[1:] = self.next_rows(codes[:-1])
        return index

    def encode(self, encoder: SymbolEncoder, codes: np.ndarray) -> None:
        """codes: (N, S') ints, S' <= S, each below its stream's alphabet."""
        n, streams = codes.shape
        if n and (codes.min() < 0 or (codes >= self.alphabet[:streams]).any()):
            raise ValueError("code outside its stream's alphabet")
        index = self.row_indexes(codes)
        for t in range(0, n, ENCODE_FRAMES):
            block = slice(t, t + ENCODE_FRAMES)
            self._table.encode(encoder, codes[block].ravel(), index[block].ravel())

    def decode(self, decoder: SymbolDecoder, frames: int, streams: int) -> np.ndarray:
        """Inverse of :meth:`encode`: (frames, streams) int64 codes."""
        row = self.start_rows(streams).tolist()
        offsets, classes, limit = self._lookup
        decode_one = self._table.decode_one
        codes = [[0] * streams for _ in range(frames)]
        for frame in codes:
            for s in range(streams):
                symbol = decode_one(decoder, row[s])
                if symbol >= limit[s]:
                    raise BitstreamError("corrupt audio codes (symbol outside its alphabet)")
                frame[s] = symbol
                row[s] = offsets[s] + classes[s][symbol]
        return np.array(codes, dtype=np.int64).reshape(frames, streams)

    def bits(self, codes: np.ndarray) -> float:
        """Ideal code length in bits of (N, S') codes (what :meth:`encode` costs, +- 0.1%)."""
        index = self.row_indexes(codes)
        freq = self.rows[index, codes].astype(np.float64)
        return float(-np.log2(freq / self.rows[index].sum(axis=-1)).sum())


def fit_prior(
    sequences: list[np.ndarray], alphabet: np.ndarray, classes: np.ndarray, precision: int = 16
) -> CodePrior:
    """Count (previous class, symbol) pairs over (N, S) code ``sequences`` (each one a
    segment: its first frame uses the start row) and quantize the counts (2 c + 1 for symbols
    of the stream's alphabet, 0 beyond it) into integer rows of ``2**precision``."""
    alphabet = np.asarray(alphabet, dtype=np.int64)
    n_classes = classes.max(axis=1) + 1
    offsets = np.concatenate([[0], np.cumsum(n_classes + 1)[:-1]]).astype(np.int64)
    width = int(alphabet.max())
    counts = np.zeros((int((n_classes + 1).sum()), width), dtype=np.int64)
    prior = CodePrior(counts, classes, offsets, alphabet)
    for codes in sequences:
        np.add.at(counts, (prior.row_indexes(codes), codes), 1)
    valid = np.arange(width)[None, :] < alphabet[_stream_of_rows(offsets, len(counts))][:, None]
    rows = quantize_counts(np.where(valid, 2 * counts + 1, 0), precision)
    return CodePrior(rows, classes, offsets, alphabet)


def _stream_of_rows(offsets: np.ndarray, n_rows: int) -> np.ndarray:
    return np.searchsorted(offsets, np.arange(n_rows), side="right") - 1
