"""models.allocator: a freed large buffer is reused without page faults."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from models.allocator import keep_freed_memory


def faults_of_a_fresh_buffer(megabytes: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(megabytes << 18, dtype=np.float32)  # written in full, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_a_freed_buffer_is_reused_without_page_faults():
    if not keep_freed_memory():
        pytest.skip("this C library has no mallopt")
    faults_of_a_fresh_buffer(48)  # above glibc's adaptive limit: mmapped (~500 faults) by default
    assert faults_of_a_fresh_buffer(48) < 50
