"""Typed settings of one quantization pass (what the recipe's `quantization:` section becomes per graph)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dspark_compile.errors import QuantizeError

SCHEMES = ("int8", "int4", "gguf")


@dataclass(frozen=True)
class WeightQuant:
    """Weight-only quantization of one graph's MatMul weights into MatMulNBits."""

    scheme: Literal["int8", "int4", "gguf"]
    block_size: int = 32
    """Weights per block along K (MatMulNBits needs a power of two >= 16); 'gguf' uses the file's 32."""
    symmetric: bool = False
    """int8/int4 only: zero point fixed at 2^(bits-1) instead of fitted per block."""
    accuracy_level: int = 1
    """MatMulNBits' compute type on CPU: 1 = fp32 activations (the activations stay exact), 4 = int8
    activations (faster; rounds each activation block, see README 'Quantized engines')."""
    min_columns: int = 16
    """MatMuls with fewer output columns stay float."""

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise QuantizeError(f"quantization scheme '{self.scheme}': allowed {SCHEMES}")
        if self.block_size < 16 or self.block_size & (self.block_size - 1):
            raise QuantizeError(f"block_size = {self.block_size}: a power of two >= 16")
        if self.scheme == "gguf" and self.block_size != 32:
            raise QuantizeError("scheme 'gguf' carries the file's blocks of 32: block_size must be 32")
        if self.accuracy_level not in (0, 1, 2, 3, 4):
            raise QuantizeError(f"accuracy_level = {self.accuracy_level}: 0..4 (MatMulNBits)")
