/*
 * DraftSample kernels. Per slot k (tokens are drawn left to right, so slots run in sequence):
 *  1. markovBiasKernel: z[b, v] = block_logits[b, k, v] + W2[v] . W1[x_{k-1}(b)] for all rows at once, v over
 *     the Vd draft-vocabulary entries (x are target ids; W1 is [V, r], W2 [Vd, r]).
 *     A warp owns one vocab row of W2 (kept in registers), and loops over the batch rows, whose
 *     W1 rows sit in shared memory: W2 ([V, r], the largest tensor) is read once per slot and per
 *     kRowsPerPass rows, not once per (row, slot).
 *  2. draftRowKernel: one block per row: greedy argmax, or filter (radix top-k, radix top-p,
 *     stable softmax with the row max) and inverse-CDF sampling over the draft vocabulary; writes q_full
 *     over the draft vocabulary (Verify reads it with draft_vocab), the token draft_vocab[j] and q(j), and
 *     the calibrated confidence and survival of the slot.
 */
#include "draftSampleKernels.h"
#include "rowOps.cuh"

namespace dspark
{
namespace
{

using namespace dev;

constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerPass = 16;  /* batch rows whose W1 rows share one pass over W2 */
constexpr int kMaxRankPerLane = 32; /* r <= 1024 */

template <typename T>
__global__ void __launch_bounds__(kThreads) markovBiasKernel(DraftSampleArgs a, int64_t k, float* z)
{
    extern __shared__ float e[]; /* [kRowsPerPass, r] */
    T const* w1 = static_cast<T const*>(a.markovW1);
    T const* w2 = static_cast<T const*>(a.markovW2);
    T const* logits = static_cast<T const*>(a.blockLogits);
    int const lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int64_t b0 = 0; b0 < a.B; b0 += kRowsPerPass)
    {
        int64_t const nb = min(static_cast<int64_t>(kRowsPerPass), a.B - b0);
        __syncthreads();
        for (int64_t i = threadIdx.x; i < nb * a.r; i += kThreads)
        {
            int64_t const b = b0 + i / a.r;
            int64_t const prev = k == 0 ? a.anchor[b] : a.draftTokens[b * a.G + k - 1];
            e[i] = toF(w1[prev * a.r + i % a.r]);
        }
        __syncthreads();
        for (int64_t v = static_cast<int64_t>(blockIdx.x) * kWarps + warp; v < a.Vd; v += static_cast<int64_t>(gridDim.x) * kWarps)
        {
            float w[kMaxRankPerLane];
#pragma unroll
            for (int j = 0; j < kMaxRankPerLane; ++j)
                w[j] = lane + 32 * j < a.r ? toF(w2[v * a.r + lane + 32 * j]) : 0.0f;
            for (int64_t bb = 0; bb < nb; ++bb)
            {
                float s = 0.0f;
#pragma unroll
                for (int j = 0; j < kMaxRankPerLane; ++j)
                    if (lane + 32 * j < a.r)
                        s += w[j] * e[bb * a.r + lane + 32 * j];
#pragma unroll
                for (int off = 16; off > 0; off >>= 1)
                    s += __shfl_xor_sync(0xFFFFFFFFu, s, off);
                if (lane == 0)
                {
                    int64_t const b = b0 + bb;
                    z[b * a.Vd + v] = toF(logits[(b * a.G + k) * a.Vd + v]) + s;
                }
            }
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) draftRowKernel(DraftSampleArgs a, int64_t k, float const* z)
{
    __shared__ RowShared sh;
    int64_t const b = blockIdx.x;
    int64_t const Vd = a.Vd;
    float const* row = z + b * Vd;                 /* [Vd] */
    float* q = a.qFull + (b * a.G + k) * Vd;       /* [Vd] over the draft vocabulary */
    float const t = a.temperature[b];
    int64_t index; /* into the draft vocabulary */
    float qTok;
    if (isGreedy(t))
    {
        index = blockArgMax(sh, Vd, [&](int64_t i) { return row[i]; }).i;
        for (int64_t i = threadIdx.x; i < Vd; i += kThreads)
            q[i] = i == index ? 1.0f : 0.0f; /* the one-hot */
        qTok = 1.0f;
    }
    else
    {
        FilterParams const f = computeFilter(sh, Vd, t, a.topK[b], a.topP[b], [&](int64_t i) { return row[i]; });
        for (int64_t i = threadIdx.x; i < Vd; i += kThreads)
            q[i] = prob(f, row[i]);
        __syncthreads();
        index = blockInverseCdf(sh, Vd, a.uniforms[b * a.G + k], 1.0f,
            [&](int64_t i) { return prob(f, row[i]); });
        /* the spec samples from q itself: its total is sum(q), not exactly 1 */
        qTok = prob(f, row[index]);
    }
    int32_t const token = a.draftVocab[index];
    /* confidence: conf_w . [hs_k ; W1[x_{k-1}]] */
    T const* hidden = static_cast<T const*>(a.blockHidden) + (b * a.G + k) * a.H;
    T const* confW = static_cast<T const*>(a.confW);
    int64_t const prev = k == 0 ? a.anchor[b] : a.draftTokens[b * a.G + k - 1];
    T const* e = static_cast<T const*>(a.markovW1) + prev * a.r;
    float const dot = blockSum(sh, a.H + a.r, [&](int64_t j) {
        return toF(confW[j]) * (j < a.H ? toF(hidden[j]) : toF(e[j - a.H]));
    });
    if (threadIdx.x == 0)
    {
        float const c = sigmoidF((dot + toF(static_cast<T const*>(a.confB)[0])) / a.stsTemps[k]);
        float const prevSurvival = k == 0 ? 1.0f : a.survivals[b * a.G + k - 1];
        a.draftTokens[b * a.G + k] = token;
        a.draftQ[b * a.G + k] = qTok;
        a.confidences[b * a.G + k] = c;
        a.survivals[b * a.G + k] = prevSurvival * c;
    }
}

template <typename T>
cudaError_t launchTyped(DraftSampleArgs const& a, float* z, cudaStream_t stream)
{
    size_t const smem = static_cast<size_t>(kRowsPerPass) * a.r * sizeof(float);
    int64_t const warpsNeeded = (a.Vd + kWarps - 1) / kWarps;
    int const biasBlocks = static_cast<int>(warpsNeeded < 4096 ? warpsNeeded : 4096);
    for (int64_t k = 0; k < a.G; ++k)
    {
        markovBiasKernel<T><<<biasBlocks, kThreads, smem, stream>>>(a, k, z);
        draftRowKernel<T><<<static_cast<unsigned>(a.B), kThreads, 0, stream>>>(a, k, z);
    }
    return cudaPeekAtLastError();
}

} // namespace

size_t draftSampleWorkspaceSize(int64_t B, int64_t Vd)
{
    return static_cast<size_t>(B) * static_cast<size_t>(Vd) * sizeof(float);
}

cudaError_t launchDraftSample(DraftSampleArgs const& a, void* workspace, cudaStream_t stream)
{
    if (a.B == 0)
        return cudaSuccess;
    if (a.G < 1 || a.V < 1 || a.Vd < 1 || a.Vd > a.V || a.r < 1 || a.r > 32 * kMaxRankPerLane || workspace == nullptr)
        return cudaErrorInvalidValue;
    float* z = static_cast<float*>(workspace);
    switch (a.dtype)
    {
    case ElemType::kFLOAT: return launchTyped<float>(a, z, stream);
    case ElemType::kHALF: return launchTyped<__half>(a, z, stream);
    case ElemType::kBF16: return launchTyped<__nv_bfloat16>(a, z, stream);
    }
    return cudaErrorInvalidValue;
}

} // namespace dspark
