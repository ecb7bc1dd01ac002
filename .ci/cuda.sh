#!/usr/bin/env bash
# CI gate for the CUDA side of plugins/: nvcc compiles every kernel (.cu) for sm_87 (Jetson Orin),
# sm_89, sm_90 and compute_90 PTX; then CMake builds libdspark_plugins.so (every translation unit,
# -Wall -Wextra -Werror, NVIDIA's headers as system headers) against TensorRT 10.3's and 11.1's real headers.
# Any error fails.
# Usage: .ci/cuda.sh            (NVCC, TENSORRT_ROOT, DSPARK_TRT_VENDOR and JOBS may be set in the environment)
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

# The plugin library, built with CMake the way a user on a device builds it, against NVIDIA's real headers:
# every TensorRT major we ship for (../shared/vendor/tensorrt/{10.3,11.1}, or TENSORRT_ROOT alone when set).
# The kernels were compiled for every architecture above; these builds take compute_90 PTX only.
# CMake asks nvcc itself for the CUDA include folder, so NVCC may be a wrapper script.
# Output: plugins/build/ci-trt<version>/libdspark_plugins.so.<major>, which tests/plugins/test_trt_abi.py loads.
VENDOR="${DSPARK_TRT_VENDOR:-$(cd .. && pwd)/shared/vendor/tensorrt}"
if [ -n "${TENSORRT_ROOT:-}" ]; then
    HEADERS=("$TENSORRT_ROOT")
else
    HEADERS=("$VENDOR/10.3" "$VENDOR/11.1")
fi
command -v cmake >/dev/null || { echo "cuda.sh: FAILED: cmake not found (apt-get install cmake)" >&2; exit 1; }
for root in "${HEADERS[@]}"; do
    if [ ! -f "$root/include/NvInferRuntime.h" ]; then
        echo "cuda.sh: FAILED: no TensorRT headers at $root/include (set TENSORRT_ROOT, or put NVIDIA's" \
             "headers at ../shared/vendor/tensorrt/<version>/include beside the clone)" >&2
        exit 1
    fi
    build="plugins/build/ci-trt$(basename "$root")"
    log="$OUT/cmake-$(basename "$root").log"
    if cmake -S plugins -B "$build" -DTENSORRT_ROOT="$root" -DCMAKE_CUDA_COMPILER="$NVCC" \
            -DCMAKE_CUDA_ARCHITECTURES=90-virtual -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 \
        && cmake --build "$build" -j "$JOBS" >>"$log" 2>&1; then
        echo "cuda.sh: ok      $(ls "$build"/libdspark_plugins.so.*) (TensorRT headers: $root/include)"
    else
        echo "cuda.sh: FAILED  plugin library against $root/include"; cat "$log"; exit 1
    fi
done
echo "cuda.sh: all CUDA kernels compiled for sm_87 sm_89 sm_90 + compute_90 PTX; plugin library built against ${#HEADERS[@]} TensorRT header set(s)"
