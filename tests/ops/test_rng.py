"""Counter-based RNG: published test vectors (reuse them in the C++/CUDA twin) and layouts."""

import numpy as np
import pytest

from dspark_compile.errors import GenerationError
from dspark_compile.ops import rng

# (seed, request, round, stream, index) -> uint32 = MurmurHash3_x86_32(16 LE bytes of the last four, seed).
# Cross-checked against the mmh3 package; u = (h >> 8) * 2^-24.
VECTORS = [
    ((0, 0, 0, 0, 0), 0x8134CDF8),
    ((1, 2, 3, 0, 4), 0x0A0A4524),
    ((42, 7, 100, 1, 0), 0x46267C2C),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 3, 0xFFFFFFFF), 0xB67AAA12),
    ((123456789, 987654321, 5, 2, 6), 0xED996D51),
    ((2024, 1, 0, 3, 0), 0x0FF96D34),
]


@pytest.mark.parametrize("counters,expected", VECTORS)
def test_published_vectors(counters, expected):
    assert int(rng.hash_u32(*counters)) == expected
    assert rng.uniform(*counters) == np.float32((expected >> 8) * 2.0**-24)


def test_vectorised_matches_scalar():
    counters = np.array([c for c, _ in VECTORS], dtype=np.uint64)
    got = rng.hash_u32(*counters.T)
    assert got.dtype == np.uint32 and list(got) == [e for _, e in VECTORS]


def test_matches_murmur3_library_when_available():
    mmh3 = pytest.importorskip("mmh3")
    import struct
    counters = np.random.default_rng(0).integers(0, 2**32, size=(200, 5), dtype=np.uint64)
    ours = rng.hash_u32(*counters.T)
    for row, h in zip(counters.tolist(), ours):
        assert mmh3.hash(struct.pack("<4I", *row[1:]), row[0], signed=False) == int(h)


def test_uniform_range_and_resolution():
    assert rng.to_uniform(np.array([0, 255, 0xFFFFFFFF], np.uint32)).tolist() == [0.0, 0.0, 1 - 2.0**-24]
    u = rng.uniform(7, 0, np.arange(1000)[:, None], rng.DRAFT, np.arange(100)[None, :])
    assert u.dtype == np.float32 and u.shape == (1000, 100)
    assert 0 <= u.min() and u.max() < 1 and abs(float(u.mean()) - 0.5) < 0.01


@pytest.mark.parametrize("G", [0, 1, 4])
def test_layouts(G):
    seeds, requests, rounds = [5, 6], [10, 11], [0, 3]
    du = rng.draft_uniforms(seeds, requests, rounds, G)
    vu = rng.verify_uniforms(seeds, requests, rounds, G)
    assert du.shape == (2, G) and vu.shape == (2, 2 * G + 1)
    for b in range(2):
        c = (seeds[b], requests[b], rounds[b])
        for i in range(G):
            assert du[b, i] == rng.uniform(*c, rng.DRAFT, i)
            assert vu[b, i] == rng.uniform(*c, rng.ACCEPT, i)
            assert vu[b, G + i] == rng.uniform(*c, rng.RESIDUAL, i)
        assert vu[b, 2 * G] == rng.uniform(*c, rng.BONUS, 0)
    assert (rng.DRAFT, rng.ACCEPT, rng.RESIDUAL, rng.BONUS) == (0, 1, 2, 3)


def test_bad_counters_are_errors():
    with pytest.raises(GenerationError, match="seed"):
        rng.hash_u32(-1, 0, 0, 0, 0)
    with pytest.raises(GenerationError, match="request"):
        rng.hash_u32(0, 2**32, 0, 0, 0)
    with pytest.raises(GenerationError, match="integers"):
        rng.hash_u32(0.5, 0, 0, 0, 0)
    with pytest.raises(GenerationError, match="one entry per row"):
        rng.draft_uniforms([1, 2], [1], [0, 0], 3)
