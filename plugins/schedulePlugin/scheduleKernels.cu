/*
 * Schedule kernel: one block for the whole batch (B*G candidates, a few hundred to a few thousand).
 * Ranks are computed by counting (each candidate compares itself with all others, in parallel), which
 * places every value exactly where the reference's sort does; the budget's prefix sums and argmax
 * then run in one thread in index order, so the result equals ops/reference.py bit for bit.
 * Cost is O((B*G)^2 / threads): about 0.2M comparisons at B=64, G=7.
 */
#include "dsparkMath.h"
#include "dsparkOpSpec.h"
#include "scheduleKernels.h"

namespace dspark
{
namespace
{

constexpr int kThreads = 512;

__global__ void __launch_bounds__(kThreads) scheduleKernel(ScheduleArgs a, float* sorted, int32_t* counts)
{
    int64_t const B = a.B, G = a.G, n = B * G;
    int64_t const lo = a.minLen < G ? a.minLen : G, hi = a.maxLen < G ? a.maxLen : G;
    __shared__ int64_t budget;
    for (int64_t b = threadIdx.x; b < B; b += kThreads)
        counts[b] = 0;
    if (a.mode == spec::kScheduleCost)
    {
        /* descending order of lagged survivals of active rows; inactive ones rank after all */
        for (int64_t i = threadIdx.x; i < n; i += kThreads)
        {
            if (a.active[i / G] == 0)
                continue;
            float const v = a.lagged[i];
            int64_t rank = 0;
            for (int64_t j = 0; j < n; ++j)
                if (a.active[j / G] != 0)
                {
                    float const w = a.lagged[j];
                    rank += w > v || (w == v && j < i);
                }
            sorted[rank] = v;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            int32_t rows = 0;
            for (int64_t b = 0; b < B; ++b)
                rows += a.active[b] != 0;
            float best = -infF(), prefix = 0.0f;
            int64_t k = 0, bestK = 0;
            for (; k <= rows * G; ++k)
            {
                if (k > 0)
                    prefix = prefix + sorted[k - 1];
                int64_t const tokens = rows + k;
                if (tokens < 1 || tokens > a.N)
                    continue;
                float const theta = costTheta(rows, prefix, a.costTable[tokens - 1]);
                if (theta > best)
                {
                    best = theta;
                    bestK = k;
                }
            }
            budget = bestK;
        }
        __syncthreads();
        /* top-`budget` current survivals (ties: lower position, then lower row) */
        for (int64_t i = threadIdx.x; i < n; i += kThreads)
        {
            if (a.active[i / G] == 0)
                continue;
            float const v = a.survivals[i];
            int32_t const pos = static_cast<int32_t>(i % G), row = static_cast<int32_t>(i / G);
            int64_t rank = 0;
            for (int64_t j = 0; j < n && rank < budget; ++j)
                if (a.active[j / G] != 0)
                    rank += rankedBefore(a.survivals[j], static_cast<int32_t>(j % G), static_cast<int32_t>(j / G), v, pos, row);
            if (rank < budget)
                atomicAdd(&counts[row], 1);
        }
        __syncthreads();
    }
    for (int64_t b = threadIdx.x; b < B; b += kThreads)
    {
        int64_t len;
        if (a.mode == spec::kScheduleFixed)
            len = a.fixedLen < G ? a.fixedLen : G;
        else if (a.mode == spec::kScheduleSurvival)
        {
            len = 0;
            while (len < G && a.survivals[b * G + len] >= a.threshold)
                ++len;
            len = clampLen(len, lo, hi);
        }
        else if (a.mode == spec::kScheduleThreshold)
        {
            // per-slot confidence c_k >= threshold, tested as !(a_k < threshold * a_{k-1}), a_{-1} = 1
            len = 0;
            float before = 1.0f;
            while (len < G && !(a.survivals[b * G + len] < __fmul_rn(a.threshold, before)))
                before = a.survivals[b * G + len++];
            len = clampLen(len, lo, hi);
        }
        else
            len = clampLen(counts[b], lo, hi);
        a.verifyLengths[b] = a.active[b] != 0 ? static_cast<int32_t>(len) : 0;
    }
}

} // namespace

size_t scheduleWorkspaceSize(int64_t B, int64_t G)
{
    return static_cast<size_t>(B) * static_cast<size_t>(G) * sizeof(float) + static_cast<size_t>(B) * sizeof(int32_t)
        + 256;
}

cudaError_t launchSchedule(ScheduleArgs const& a, void* workspace, cudaStream_t stream)
{
    if (a.B == 0)
        return cudaSuccess;
    if (a.G < 1 || a.N < 1 || a.mode < 0 || a.mode >= spec::kNbScheduleModes || workspace == nullptr)
        return cudaErrorInvalidValue;
    auto* sorted = static_cast<float*>(workspace);
    size_t const off = (static_cast<size_t>(a.B * a.G) * sizeof(float) + 255) / 256 * 256;
    auto* counts = reinterpret_cast<int32_t*>(static_cast<char*>(workspace) + off);
    scheduleKernel<<<1, kThreads, 0, stream>>>(a, sorted, counts);
    return cudaPeekAtLastError();
}

} // namespace dspark
