"""Block-wise weight formats: ONNX Runtime's `MatMulNBits` layout and the GGUF blocks we carry over.

`MatMulNBits` (com.microsoft) computes Y = A @ W with W [K, N] stored per output column n in blocks of
`block` consecutive k:

    B            [N, K/block, block*bits/8] uint8   4 bits: element 2i in the low nibble, 2i+1 in the high
    scales       [N * K/block] float32
    zero_points  [N * ceil(K/block / 2)] uint8 (4 bits, two blocks per byte, low nibble first) or
                 [N * K/block] uint8 (8 bits); absent: 2^(bits-1)
    W[k, n] = (q[n, k] - zero_point[n, k // block]) * scale[n, k // block]

ONNX Runtime also accepts float zero points, but then it skips prepacking and dequantizes all of W on
every call (`ComputeBUnpacked` in matmul_nbits.cc), so a GGUF Q4_1 block (w = d*q + m) is carried as
q with scale d and the integer zero point z nearest its true zero -m/d, plus the rest of the offset,
m + z*d, applied to the activations' block sums (`centre`; see `passes.py`). Q8_0 (w = d*q, q int8) is
exactly 8-bit MatMulNBits with the default zero point 128.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dspark_compile.errors import QuantizeError

GGUF_BLOCK = 32
"""Q4_1 and Q8_0 blocks hold 32 weights along the input dimension."""


@dataclass(frozen=True)
class BlockQuant:
    """One weight matrix W [K, N] in MatMulNBits form (see the module docstring)."""

    bits: int
    block: int
    q: np.ndarray  # [N, K/block, block] uint8, values in [0, 2^bits)
    scales: np.ndarray  # [N, K/block] float32
    zero_points: np.ndarray | None  # [N, K/block] uint8, or None for 2^(bits-1)
    offsets: np.ndarray | None = None  # [N, K/block] float32: added per block (Q4_1's minimum m), else None

    @property
    def shape(self) -> tuple[int, int]:
        n, nb, blk = self.q.shape
        return nb * blk, n  # [K, N]

    def dequantize(self) -> np.ndarray:
        """W [K, N] float32, the values the quantized graph multiplies by (before any activation rounding)."""
        zp = self.zero_points if self.zero_points is not None else np.full(self.scales.shape, 1 << (self.bits - 1))
        w = (self.q.astype(np.float32) - zp[..., None].astype(np.float32)) * self.scales[..., None]  # [N, nb, blk]
        if self.offsets is not None:
            w = w + self.offsets[..., None]
        return w.reshape(w.shape[0], -1).T.copy()  # [K, N]

    def packed(self) -> dict[str, np.ndarray]:
        """The MatMulNBits inputs: B, scales and (when not the default) zero_points."""
        out = {"B": pack_bits(self.q, self.bits), "scales": self.scales.reshape(-1).astype(np.float32)}
        if self.zero_points is not None:
            out["zero_points"] = pack_zero_points(self.zero_points, self.bits)
        return out


def pack_bits(q: np.ndarray, bits: int) -> np.ndarray:
    """[N, nb, block] values < 2^bits -> MatMulNBits' B [N, nb, block*bits/8] uint8."""
    if bits == 8:
        return np.ascontiguousarray(q, dtype=np.uint8)
    if bits != 4:
        raise QuantizeError(f"bits = {bits}: only 4 and 8 are supported")
    q = q.astype(np.uint8)
    return np.ascontiguousarray(q[..., 0::2] | (q[..., 1::2] << 4))


def unpack_bits(b: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of `pack_bits`: B [N, nb, bytes] -> [N, nb, block]."""
    if bits == 8:
        return b.copy()
    out = np.empty(b.shape[:-1] + (b.shape[-1] * 2,), np.uint8)
    out[..., 0::2], out[..., 1::2] = b & 0x0F, b >> 4
    return out


def pack_zero_points(zp: np.ndarray, bits: int) -> np.ndarray:
    """[N, nb] uint8 -> MatMulNBits' zero_points (4 bits: two blocks per byte, low nibble first)."""
    if bits == 8:
        return np.ascontiguousarray(zp.reshape(-1), dtype=np.uint8)
    n, nb = zp.shape
    padded = np.zeros((n, nb + nb % 2), np.uint8)
    padded[:, :nb] = zp
    return np.ascontiguousarray((padded[:, 0::2] | (padded[:, 1::2] << 4)).reshape(-1))


def from_packed(b: np.ndarray, scales: np.ndarray, zero_points: np.ndarray | None, bits: int, block: int,
                k: int, n: int) -> BlockQuant:
    """Inverse of `BlockQuant.packed`: a MatMulNBits node's B, scales and zero_points (None: the default
    2^(bits-1)) for W [K, N] -> the BlockQuant it multiplies by (no offsets: a Q4_1 minimum lives in the graph)."""
    if bits not in (4, 8):
        raise QuantizeError(f"bits = {bits}: only 4 and 8 are supported")
    nb = -(-k // block)
    q = unpack_bits(np.asarray(b, np.uint8).reshape(n, nb, block * bits // 8), bits)  # [N, nb, block]
    zp = None
    if zero_points is not None:
        zp = np.asarray(zero_points, np.uint8).reshape(n, -1)
        if bits == 4:  # two blocks per byte, low nibble first
            zp = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)
        zp = np.ascontiguousarray(zp[:, :nb])
    return BlockQuant(bits, block, q, np.asarray(scales, np.float32).reshape(n, nb), zp)


def quantize_rtn(w: np.ndarray, bits: int, block: int, symmetric: bool) -> BlockQuant:
    """Round-to-nearest block quantization of W [K, N] (K a multiple of `block`).

    Asymmetric: scale = (max - min) / (2^bits - 1) over a block (the range always holds 0), integer zero
    point. Symmetric: scale = max|w| / (2^(bits-1) - 1) (nothing clips), zero point 2^(bits-1) (the default,
    left out).
    """
    k, n = w.shape
    if k % block:
        raise QuantizeError(f"a weight of shape {list(w.shape)}: K = {k} is not a multiple of block_size {block}")
    blocks = w.T.reshape(n, k // block, block).astype(np.float32)  # [N, nb, blk]
    levels = (1 << bits) - 1
    if symmetric:
        half = 1 << (bits - 1)
        scales = np.abs(blocks).max(-1) / (half - 1)  # [N, nb]
        safe = np.where(scales == 0, 1.0, scales)
        q = np.clip(np.rint(blocks / safe[..., None]) + half, 0, levels).astype(np.uint8)
        return BlockQuant(bits, block, q, scales.astype(np.float32), None)
    lo = np.minimum(blocks.min(-1), 0.0)  # [N, nb]
    hi = np.maximum(blocks.max(-1), 0.0)
    scales = (hi - lo) / levels
    safe = np.where(scales == 0, 1.0, scales)
    zp = np.clip(np.rint(-lo / safe), 0, levels).astype(np.uint8)
    q = np.clip(np.rint(blocks / safe[..., None]) + zp[..., None], 0, levels).astype(np.uint8)
    return BlockQuant(bits, block, q, scales.astype(np.float32), zp)


def from_q4_1(raw: np.ndarray) -> BlockQuant:
    """GGUF Q4_1 rows [N, nb*20] uint8 (per block: d fp16, m fp16, 16 bytes of nibbles: element j < 16 in
    the low nibble of byte j, element j + 16 in its high nibble) -> w = d*q + m, carried without rounding."""
    n = raw.shape[0]
    blocks = raw.reshape(n, -1, 20)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)  # [N, nb]
    m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = blocks[..., 4:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # [N, nb, 32]
    return BlockQuant(4, GGUF_BLOCK, q, d, np.zeros(d.shape, np.uint8), m)


def centre(bq: BlockQuant) -> BlockQuant:
    """A Q4_1 `BlockQuant` (zero point 0, offsets m) with each block's integer zero point at its true zero:
    z = round(-m/d) clipped to [0, 15], offset m + z*d. The weights are the same (in fp32 too: (q - z)*d and
    m + z*d are exact, so their sum rounds as d*q + m does). What changes is the arithmetic with int8
    activations (accuracy_level 4): their rounding error is multiplied by d*(q - z), centred on zero like the
    weight itself, instead of by d*q (all one sign, about twice as large), while the offset meets the exact
    block sums. On SmolLM2 this took top-1 agreement with fp32 from 0.92 to 0.96 (README "Quantized engines")."""
    if bq.offsets is None:
        return bq
    safe = np.where(bq.scales == 0, 1.0, bq.scales)
    z = np.clip(np.rint(-bq.offsets / safe), 0, (1 << bq.bits) - 1).astype(np.uint8)
    z = np.where(bq.scales == 0, 0, z).astype(np.uint8)
    zp = bq.zero_points.astype(np.float32) if bq.zero_points is not None else 0.0
    offsets = (bq.offsets + (z - zp) * bq.scales).astype(np.float32)
    return BlockQuant(bq.bits, bq.block, bq.q, bq.scales, z, offsets)


def from_q8_0(raw: np.ndarray) -> BlockQuant:
    """GGUF Q8_0 rows [N, nb*34] uint8 (per block: d fp16, 32 int8) -> w = d*q, as uint8 q + 128."""
    n = raw.shape[0]
    blocks = raw.reshape(n, -1, 34)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    q = (blocks[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8)  # [N, nb, 32]
    return BlockQuant(8, GGUF_BLOCK, q, d, None)


def gguf_values(bq: BlockQuant) -> np.ndarray:
    """The rows [N, K] exactly as gguf-py (and so transformers) dequantizes them in fp32: d*q + m."""
    if bq.offsets is not None:  # Q4_1
        w = bq.scales[..., None] * bq.q.astype(np.float32) + bq.offsets[..., None]
    else:  # Q8_0
        w = (bq.q.astype(np.int16) - 128).astype(np.float32) * bq.scales[..., None]
    return w.reshape(w.shape[0], -1)
