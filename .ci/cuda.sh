#!/usr/bin/env bash
# CI gate for the CUDA side of plugins/: nvcc compiles every kernel (.cu) for sm_87 (Jetson Orin),
# sm_89, sm_90 and compute_90 PTX; any error fails. The TensorRT plugin C++ compiles only when
# TensorRT headers are found (TENSORRT_ROOT/include or the system include path).
# Usage: .ci/cuda.sh            (NVCC, TENSORRT_ROOT and JOBS may be set in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
JOBS="${JOBS:-$(nproc)}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if [ ! -x "$NVCC" ]; then
    echo "cuda.sh: FAILED: nvcc not found (set NVCC or install the CUDA toolkit)" >&2
    exit 1
fi
echo "cuda.sh: $("$NVCC" --version | tail -n 1)"

ARCHS=(-gencode arch=compute_87,code=sm_87 -gencode arch=compute_89,code=sm_89
       -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
# --fmad=false: no contraction beyond the fmas written in dsparkMath.h (same rounding as the host twins).
FLAGS=(-std=c++17 -O3 --fmad=false -Xcompiler -fPIC -Xcompiler -Wall -Werror all-warnings
       -Iplugins/common)

mapfile -t KERNELS < <(find plugins -name '*.cu' | sort)
[ "${#KERNELS[@]}" -gt 0 ] || { echo "cuda.sh: FAILED: no .cu files under plugins/" >&2; exit 1; }

compile() {  # one translation unit, all architectures; log kept for the failure report
    local src="$1" log="$OUT/$(basename "$1").log"
    if "$NVCC" "${FLAGS[@]}" "${ARCHS[@]}" -c "$src" -o "$OUT/$(basename "$src").o" >"$log" 2>&1; then
        echo "cuda.sh: ok      $src"
    else
        echo "cuda.sh: FAILED  $src"; cat "$log"; return 1
    fi
}

status=0
pids=()
for src in "${KERNELS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
    compile "$src" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" -eq 0 ] || { echo "cuda.sh: FAILED: kernel compilation" >&2; exit 1; }

# The plugin C++ (IPluginV3 classes) needs NvInferRuntime.h.
TRT_INC=""
for dir in "${TENSORRT_ROOT:+$TENSORRT_ROOT/include}" /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu /usr/include /usr/local/TensorRT/include; do
    if [ -n "$dir" ] && [ -f "$dir/NvInferRuntime.h" ]; then TRT_INC="$dir"; break; fi
done
if [ -z "$TRT_INC" ]; then
    echo "cuda.sh: skipped: TensorRT headers not found (set TENSORRT_ROOT); plugin C++ not compiled"
else
    CUDA_INC="$(dirname "$(dirname "$(readlink -f "$NVCC")")")/include"
    for src in $(find plugins -name '*Plugin.cpp' -o -name 'dsparkPlugins.cpp' | sort); do
        g++ -std=c++17 -O2 -fPIC -Wall -Wextra -Werror -I"$TRT_INC" -I"$CUDA_INC" -Iplugins/common -Iplugins \
            -c "$src" -o "$OUT/$(basename "$src").o" || { echo "cuda.sh: FAILED  $src" >&2; exit 1; }
        echo "cuda.sh: ok      $src (TensorRT headers: $TRT_INC)"
    done
fi
echo "cuda.sh: all CUDA kernels compiled for sm_87 sm_89 sm_90 + compute_90 PTX"
