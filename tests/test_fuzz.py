"""Container and decoder fuzzing: every corrupted input decodes or raises BitstreamError.

At least 10,000 inputs per run, in a child process whose address space is capped, with the
slowest single decode recorded: no other exception, no hang, no huge allocation.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import random
import resource
import struct
import time
import zlib

import numpy as np

import codec
from codec.container import PRELUDE, ContainerReader
from codec.errors import BitstreamError

MEMORY_CAP = 3 << 30  # bytes of address space for the fuzzing child
SLOWEST_ALLOWED_S = 2.0


def seed_files() -> list[bytes]:
    """Small raw containers that use each chunk method (adaptive, zstd, stored)."""
    rng = np.random.default_rng(0)
    skewed = np.sqrt(rng.integers(0, 65536, 3000)).astype(np.uint8).tobytes()
    text = b"the quick brown fox jumps over the lazy dog\n" * 10
    noise = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    files = [codec.encode(x, kind="raw") for x in (skewed, text, noise)]
    methods = [ContainerReader(f).read_chunk(0)[0] for f in files]
    assert methods == [1, 2, 0], methods
    return files


def refresh_crcs(data: bytearray) -> bytes:
    """Recompute header and chunk CRCs so the mutation reaches the parsers behind them."""
    try:
        header_len = struct.unpack_from("<I", data, 8)[0]
        end = PRELUDE.size + header_len
        reader = ContainerReader(bytes(data))
    except (BitstreamError, struct.error):
        return bytes(data)
    for i, entry in enumerate(reader.header.chunks):
        crc = zlib.crc32(bytes(data[entry.offset : entry.offset + entry.length]))
        table_pos = bytes(data[:end]).rfind(struct.pack("<I", entry.crc32))
        if table_pos > 0:
            struct.pack_into("<I", data, table_pos, crc)
        del i
    struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))
    return bytes(data)


def corrupted_inputs(files: list[bytes], rng: random.Random):
    for data in files:
        for cut in range(len(data)):  # truncation at every offset
            yield data[:cut]
    base = files[0]
    for bit in range(min(len(base), 400) * 8):  # single bit flips (header + payload start)
        flipped = bytearray(base)
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield bytes(flipped)
    for _ in range(1500):  # random bytes, some with a valid prelude
        junk = rng.randbytes(rng.randrange(0, 300))
        yield junk if rng.random() < 0.5 else base[:12] + junk
    for _ in range(4000):  # structure-aware: mutate, then make every CRC valid again
        data = bytearray(rng.choice(files))
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(data))
            data[pos] = (
                rng.randrange(256) if rng.random() < 0.5 else data[pos] ^ (1 << rng.randrange(8))
            )
        yield refresh_crcs(data)


def fuzz(seed: int) -> dict:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    files = seed_files()
    counts = {"inputs": 0, "decoded": 0, "bitstream_errors": 0, "slowest_s": 0.0}
    unexpected = []
    for data in corrupted_inputs(files, random.Random(seed)):
        counts["inputs"] += 1
        start = time.perf_counter()
        try:
            codec.decode(data)
            counts["decoded"] += 1
        except BitstreamError:
            counts["bitstream_errors"] += 1
        except Exception as exc:  # noqa: BLE001 - the point is to catch anything else
            unexpected.append(f"{type(exc).__name__}: {exc} for input {data[:40].hex()}")
        counts["slowest_s"] = max(counts["slowest_s"], time.perf_counter() - start)
    counts["unexpected"] = unexpected[:5]
    counts["n_unexpected"] = len(unexpected)
    return counts


def test_fuzzing_only_ever_raises_bitstream_error():
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(fuzz, 1234).result(timeout=600)
    assert result["inputs"] >= 10_000
    assert result["n_unexpected"] == 0, result["unexpected"]
    assert result["slowest_s"] < SLOWEST_ALLOWED_S, result
    assert result["bitstream_errors"] > 0.9 * result["inputs"]
