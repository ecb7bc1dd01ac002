/*
 * Block-wide row primitives for vocab-sized rows (V up to 262144): one thread block owns one row.
 * Built on cub (shipped with the CUDA toolkit) and the shared element math in dsparkMath.h.
 *
 * - filter() without sorting: the k-th largest value by an exact 4-pass 8-bit radix select on
 *   order-preserving keys, the top-p cut by the same radix walk over probability mass, max/sum by
 *   cub block reductions. Each pass streams the row once (from L2 for all but the first).
 * - inverse-CDF sampling with index-order prefix sums: tiles of kThreads*kItems consecutive entries,
 *   a block scan per tile, early exit at the tile holding the target.
 * These sums are float32 in parallel order, the spec's sums over a vocabulary float64, so a decision can
 * differ from the reference when it falls within float32 rounding of a boundary (not yet float64 here).
 */
#pragma once

#include "dsparkMath.h"

#include <cub/cub.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace dspark
{
namespace dev
{

constexpr int kThreads = 256;
constexpr int kItems = 4;

template <typename T>
__device__ __forceinline__ float toF(T v);
template <>
__device__ __forceinline__ float toF<float>(float v) { return v; }
template <>
__device__ __forceinline__ float toF<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float toF<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

struct ArgMax
{
    float v;
    int32_t i;
};

struct ArgMaxOp
{
    /* Larger value wins, lower index on ties (np.argmax). NaN never wins. */
    __device__ __forceinline__ ArgMax operator()(ArgMax const& a, ArgMax const& b) const
    {
        if (b.v > a.v || (b.v == a.v && b.i < a.i))
            return b;
        return a;
    }
};

using BlockReduceF = cub::BlockReduce<float, kThreads>;
using BlockReduceA = cub::BlockReduce<ArgMax, kThreads>;
using BlockScanF = cub::BlockScan<float, kThreads>;

union RowTemp
{
    typename BlockReduceF::TempStorage f;
    typename BlockReduceA::TempStorage a;
    typename BlockScanF::TempStorage scan;
};

struct RowShared
{
    RowTemp temp;
    uint32_t hist[256];
    float mass[256];
    float bcastF;
    uint32_t bcastU;
    int64_t found;
};

/* Sum of f(i), i in [0, n), broadcast to every thread. */
template <typename F>
__device__ float blockSum(RowShared& sh, int64_t n, F f)
{
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += kThreads)
        s += f(i);
    float total = BlockReduceF(sh.temp.f).Sum(s);
    if (threadIdx.x == 0)
        sh.bcastF = total;
    __syncthreads();
    total = sh.bcastF;
    __syncthreads();
    return total;
}

template <typename F>
__device__ ArgMax blockArgMax(RowShared& sh, int64_t n, F f)
{
    ArgMax best{-infF(), 0};
    for (int64_t i = threadIdx.x; i < n; i += kThreads)
        best = ArgMaxOp()(best, ArgMax{f(i), static_cast<int32_t>(i)});
    ArgMax r = BlockReduceA(sh.temp.a).Reduce(best, ArgMaxOp());
    if (threadIdx.x == 0)
    {
        sh.bcastF = r.v;
        sh.bcastU = static_cast<uint32_t>(r.i);
    }
    __syncthreads();
    r = ArgMax{sh.bcastF, static_cast<int32_t>(sh.bcastU)};
    __syncthreads();
    return r;
}

/* Key of the k-th largest of key(i) (1 <= k <= n): exact, 4 passes of 8-bit histograms. */
template <typename K>
__device__ uint32_t radixKthLargest(RowShared& sh, int64_t n, uint32_t k, K key)
{
    uint32_t prefix = 0, mask = 0;
    for (int shift = 24; shift >= 0; shift -= 8)
    {
        for (int b = threadIdx.x; b < 256; b += kThreads)
            sh.hist[b] = 0;
        __syncthreads();
        for (int64_t i = threadIdx.x; i < n; i += kThreads)
        {
            uint32_t const kk = key(i);
            if ((kk & mask) == prefix)
                atomicAdd(&sh.hist[(kk >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            uint32_t above = 0;
            int b = 255;
            for (; b > 0 && above + sh.hist[b] < k; --b)
                above += sh.hist[b];
            sh.bcastU = static_cast<uint32_t>(b) | (above << 8);
        }
        __syncthreads();
        uint32_t const pick = sh.bcastU;
        __syncthreads();
        k -= pick >> 8;
        prefix |= (pick & 255u) << shift;
        mask |= 255u << shift;
    }
    return prefix;
}

/* Largest key v with sum(w(i) : key(i) >= v) >= target: the top-p cut, without a sort. */
template <typename K, typename W>
__device__ uint32_t radixMassCut(RowShared& sh, int64_t n, float target, K key, W w)
{
    uint32_t prefix = 0, mask = 0;
    float above = 0.0f;
    for (int shift = 24; shift >= 0; shift -= 8)
    {
        for (int b = threadIdx.x; b < 256; b += kThreads)
        {
            sh.mass[b] = 0.0f;
            sh.hist[b] = 0;
        }
        __syncthreads();
        for (int64_t i = threadIdx.x; i < n; i += kThreads)
        {
            uint32_t const kk = key(i);
            if ((kk & mask) == prefix)
            {
                atomicAdd(&sh.mass[(kk >> shift) & 255u], w(i));
                atomicAdd(&sh.hist[(kk >> shift) & 255u], 1u);
            }
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            int b = 255, lowest = 255;
            for (int j = 255; j >= 0; --j)
                if (sh.hist[j])
                    lowest = j;
            for (; b > lowest && (sh.hist[b] == 0 || above + sh.mass[b] < target); --b)
                above += sh.mass[b];
            sh.bcastU = static_cast<uint32_t>(b);
            sh.bcastF = above;
        }
        __syncthreads();
        prefix |= sh.bcastU << shift;
        above = sh.bcastF;
        mask |= 255u << shift;
        __syncthreads();
    }
    return prefix;
}

/*
 * Inverse CDF: first index whose index-order prefix sum of w exceeds u * total; when rounding leaves
 * none, the last index with w > 0 (the spec's min(count(c <= uS), count(c < S))).
 */
template <typename W>
__device__ int32_t blockInverseCdf(RowShared& sh, int64_t n, float u, float total, W w)
{
    float const target = u * total;
    float running = 0.0f;
    if (threadIdx.x == 0)
    {
        sh.found = n;
        sh.bcastU = 0;
    }
    __syncthreads();
    int64_t const tile = static_cast<int64_t>(kThreads) * kItems;
    for (int64_t base = 0; base < n; base += tile)
    {
        float vals[kItems];
        float mine = 0.0f;
        int64_t const first = base + static_cast<int64_t>(threadIdx.x) * kItems;
#pragma unroll
        for (int j = 0; j < kItems; ++j)
        {
            vals[j] = first + j < n ? w(first + j) : 0.0f;
            mine += vals[j];
        }
        float excl, aggregate;
        BlockScanF(sh.temp.scan).ExclusiveSum(mine, excl, aggregate);
        float c = running + excl;
#pragma unroll
        for (int j = 0; j < kItems; ++j)
        {
            if (vals[j] > 0.0f)
            {
                atomicMax(&sh.bcastU, static_cast<uint32_t>(first + j));
                c += vals[j];
                if (c > target)
                    atomicMin(reinterpret_cast<unsigned long long*>(&sh.found), static_cast<unsigned long long>(first + j));
            }
        }
        running += aggregate;
        __syncthreads();
        if (sh.found < n)
            break;
    }
    int64_t const r = sh.found < n ? sh.found : static_cast<int64_t>(sh.bcastU);
    __syncthreads();
    return static_cast<int32_t>(r);
}

/* filter() of one row, as parameters: p_i = keep_i ? exp(z_i - m) / sum : 0. */
struct FilterParams
{
    float temperature;
    float kth;  /* -inf when top-k is off */
    float m;    /* max of z */
    float cut;  /* top-p cut on exp(z - m); 0 when off */
    float sum;  /* sum of kept exp(z - m) */
};

__device__ __forceinline__ float keptWeight(FilterParams const& f, float logit)
{
    float const z = scaledLogit(logit, f.temperature, true, f.kth);
    float const e = dsparkExp(z - f.m);
    return e >= f.cut ? e : 0.0f;
}

__device__ __forceinline__ float prob(FilterParams const& f, float logit)
{
    return keptWeight(f, logit) / f.sum;
}

/* Compute filter parameters of row `logit(i)`, i < n; temperature > 0. */
template <typename L>
__device__ FilterParams computeFilter(RowShared& sh, int64_t n, float t, int32_t topK, float topP, L logit)
{
    FilterParams f{t, -infF(), 0.0f, 0.0f, 0.0f};
    if (topkOn(topK, n))
        f.kth = keyToFloat(radixKthLargest(sh, n, static_cast<uint32_t>(topK),
            [&](int64_t i) { return orderKey(logit(i) / t); }));
    f.m = blockArgMax(sh, n, [&](int64_t i) { return logit(i) / t; }).v;
    if (topPOn(topP))
    {
        auto e = [&](int64_t i) { return dsparkExp(scaledLogit(logit(i), t, true, f.kth) - f.m); };
        float const total = blockSum(sh, n, e);
        f.cut = keyToFloat(radixMassCut(sh, n, topP * total, [&](int64_t i) { return orderKey(e(i)); }, e));
    }
    f.sum = blockSum(sh, n, [&](int64_t i) { return keptWeight(f, logit(i)); });
    return f;
}

} // namespace dev
} // namespace dspark
