"""Counter-based uniforms: the one definition the numpy reference and the C++/CUDA twin both follow.

Definition (all arithmetic on uint32, i.e. mod 2^32; rotl = rotate left):

    h = seed
    for k in (request, round, stream, index):           # MurmurHash3_x86_32 body, 4 blocks
        k = k * 0xCC9E2D51;  k = rotl(k, 15);  k = k * 0x1B873593
        h = h ^ k;           h = rotl(h, 13);  h = h * 5 + 0xE6546B64
    h = h ^ 16                                           # message length in bytes
    h = h ^ (h >> 16);  h = h * 0x85EBCA6B               # fmix32
    h = h ^ (h >> 13);  h = h * 0xC2B2AE35
    h = h ^ (h >> 16)
    u = float32(h >> 8) * 2^-24                          # exact; u in [0, 1 - 2^-24]

i.e. h = MurmurHash3_x86_32(key = the 16 little-endian bytes of (request, round, stream, index),
seed = seed), so any murmur3 library cross-checks it. All five counters are uint32.

Streams and layouts (per row b with counters seed_b, request_b, round_b):
    DraftSample.uniforms[b, k]      = u(seed, request, round, DRAFT,    k)       k in [0, G)
    Verify.uniforms[b, i]           = u(seed, request, round, ACCEPT,   i)       i in [0, G)
    Verify.uniforms[b, G + i]       = u(seed, request, round, RESIDUAL, i)       i in [0, G)
    Verify.uniforms[b, 2G]          = u(seed, request, round, BONUS,    0)
"""

from __future__ import annotations

import numpy as np

from dspark_compile.errors import GenerationError

DRAFT = 0
ACCEPT = 1
RESIDUAL = 2
BONUS = 3

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_N = np.uint32(0xE6546B64)


def _u32(name: str, x) -> np.ndarray:
    """Check that ``x`` holds integers in [0, 2^32) and return it as a uint32 array."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise GenerationError(f"rng counter '{name}' must be integers, got dtype {a.dtype}")
    if a.size and (int(a.min()) < 0 or int(a.max()) > 0xFFFFFFFF):
        raise GenerationError(f"rng counter '{name}' must lie in [0, 2^32), got range "
                              f"[{int(a.min())}, {int(a.max())}]")
    return a.astype(np.uint32)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def hash_u32(seed, request, round_, stream, index) -> np.ndarray:
    """The uint32 hash of the five counters (broadcast together); see the module docstring."""
    counters = [_u32(n, v) for n, v in
                (("seed", seed), ("request", request), ("round", round_), ("stream", stream), ("index", index))]
    h, *blocks = np.broadcast_arrays(*counters)
    h = np.array(h, dtype=np.uint32, ndmin=1)
    with np.errstate(over="ignore"):
        for k in blocks:
            k = _rotl(np.array(k, dtype=np.uint32) * _C1, 15) * _C2
            h = _rotl(h ^ k, 13) * np.uint32(5) + _N
        h = h ^ np.uint32(16)
        h = (h ^ (h >> np.uint32(16))) * _M1
        h = (h ^ (h >> np.uint32(13))) * _M2
        h = h ^ (h >> np.uint32(16))
    return h.reshape(np.broadcast(*counters).shape)


def to_uniform(h: np.ndarray) -> np.ndarray:
    """uint32 -> float32 in [0, 1): the top 24 bits times 2^-24 (exact in float32)."""
    return (np.asarray(h, dtype=np.uint32) >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)


def uniform(seed, request, round_, stream, index) -> np.ndarray:
    """float32 uniforms for the given counters (broadcast together)."""
    return to_uniform(hash_u32(seed, request, round_, stream, index))


def _rows(seeds, requests, rounds) -> tuple[np.ndarray, ...]:
    cols = [np.asarray(v).reshape(-1, 1) for v in (seeds, requests, rounds)]
    if len({c.shape[0] for c in cols}) != 1:
        raise GenerationError(f"seeds, requests and rounds need one entry per row, got lengths "
                              f"{[c.shape[0] for c in cols]}")
    return tuple(cols)


def draft_uniforms(seeds, requests, rounds, block_size: int) -> np.ndarray:
    """DraftSample.uniforms [B, G] for per-row seeds [B], request ids [B] and round counters [B]."""
    s, q, r = _rows(seeds, requests, rounds)
    return uniform(s, q, r, DRAFT, np.arange(block_size)[None, :])  # [B, G]


def verify_uniforms(seeds, requests, rounds, block_size: int) -> np.ndarray:
    """Verify.uniforms [B, 2G+1]: [0:G] accept tests, [G:2G] residual draws, [2G] bonus (one hash over all of
    them: three calls, one per stream, took 0.37 ms a one-row decode step, a fortieth of the step)."""
    s, q, r = _rows(seeds, requests, rounds)
    g = block_size
    streams = np.repeat(np.array([ACCEPT, RESIDUAL, BONUS], np.uint32), [g, g, 1])[None, :]  # [1, 2G+1]
    index = np.concatenate([np.arange(g), np.arange(g), [0]]).astype(np.uint32)[None, :]  # [1, 2G+1]
    return uniform(s, q, r, streams, index)
