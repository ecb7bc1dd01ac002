"""Load benchmark: plain, fixed-γ, threshold and cost-scheduled decoding (and transformers peers) under a
closed-loop concurrency sweep, side by side.

    from dspark_compile.bench import BenchConfig, run_bench
    result = run_bench("bundles/smollm2-135m", BenchConfig(levels=(1, 4, 16)))
    result.rows, result.headline, result.to_dict()
"""

from dspark_compile.bench.config import BenchConfig, BenchError
from dspark_compile.bench.runner import run_bench

__all__ = ["BenchConfig", "BenchError", "run_bench"]
