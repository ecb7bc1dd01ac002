/*
 * Verify kernels.
 *  1. verifyPositionKernel, one block per (row, position i <= min(len, G)): greedy rows store
 *     argmax(target_logits[i]); sampling rows compute filter(p_i) once (kept for kernel 2) and the
 *     accept test of draft d_i with p_i(d_i) and q_i. All positions run in parallel.
 *  2. verifyFinishKernel, one block per row: accepted = leading accepted positions; the correction
 *     token is argmax (greedy), an inverse-CDF draw from max(0, p - q) (or p when that mass is
 *     <= residual_eps) at the first rejection, or a draw from p at the bonus position. q_full's row
 *     is over the draft vocabulary: it is scattered to target ids in the row's scratch [V] first.
 */
#include "dsparkOpSpec.h"
#include "rowOps.cuh"
#include "verifyKernels.h"

namespace dspark
{
namespace
{

using namespace dev;

struct PositionResult
{
    FilterParams filter;
    int32_t argmax;
    int32_t accept;
};

template <typename T>
__device__ __forceinline__ T const* logitRow(VerifyArgs const& a, int64_t b, int64_t i)
{
    return static_cast<T const*>(a.targetLogits) + (b * (a.G + 1) + i) * a.V;
}

__device__ __forceinline__ int64_t verifyLen(VerifyArgs const& a, int64_t b)
{
    int64_t const l = a.verifyLengths[b];
    return l < 0 ? 0 : (l > a.G ? a.G : l);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) verifyPositionKernel(VerifyArgs a, PositionResult* ws)
{
    __shared__ RowShared sh;
    int64_t const i = blockIdx.x, b = blockIdx.y;
    if (i > verifyLen(a, b))
        return; /* uniform per block: positions past the bonus slot are never read */
    T const* row = logitRow<T>(a, b, i);
    PositionResult* out = ws + b * (a.G + 1) + i;
    float const t = a.temperature[b];
    if (isGreedy(t))
    {
        ArgMax const m = blockArgMax(sh, a.V, [&](int64_t v) { return toF(row[v]); });
        if (threadIdx.x == 0)
        {
            out->argmax = m.i;
            out->accept = i < a.G && a.draftTokens[b * a.G + i] == m.i;
        }
        return;
    }
    FilterParams const f = computeFilter(sh, a.V, t, a.topK[b], a.topP[b], [&](int64_t v) { return toF(row[v]); });
    if (threadIdx.x == 0)
    {
        out->filter = f;
        out->accept = 0;
        if (i < a.G)
        {
            int32_t const d = a.draftTokens[b * a.G + i];
            float const p = d >= 0 && d < a.V ? prob(f, toF(row[d])) : 0.0f;
            out->accept = acceptDraft(p, a.draftQ[b * a.G + i], a.uniforms[b * (2 * a.G + 1) + i]);
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) verifyFinishKernel(VerifyArgs a, PositionResult const* ws, float* qDense)
{
    __shared__ RowShared sh;
    int64_t const b = blockIdx.x, G = a.G;
    int64_t const nVer = verifyLen(a, b);
    PositionResult const* res = ws + b * (G + 1);
    int64_t n = 0;
    while (n < nVer && res[n].accept)
        ++n;
    int32_t token;
    if (isGreedy(a.temperature[b]))
    {
        token = res[n].argmax;
    }
    else
    {
        T const* row = logitRow<T>(a, b, n);
        FilterParams const f = res[n].filter;
        float const* u = a.uniforms + b * (2 * G + 1);
        auto p = [&](int64_t v) { return prob(f, toF(row[v])); };
        if (n < nVer)
        {
            /* q over target ids: 0 outside the draft vocabulary, q_full[b, n, j] at draft_vocab[j] */
            float const* q = a.qFull + (b * G + n) * a.Vq;
            float* dense = qDense + b * a.V;
            for (int64_t v = threadIdx.x; v < a.V; v += kThreads)
                dense[v] = 0.0f;
            __syncthreads();
            for (int64_t j = threadIdx.x; j < a.Vq; j += kThreads)
            {
                int32_t const id = a.draftVocab[j];
                if (id >= 0 && id < a.V) /* a [1] dummy beside a [B,G,1] q_full may hold anything */
                    dense[id] = q[j];
            }
            __syncthreads();
            auto r = [&](int64_t v) { return residualWeight(p(v), dense[v]); };
            float const mass = blockSum(sh, a.V, r);
            token = mass > a.residualEps ? blockInverseCdf(sh, a.V, u[G + n], mass, r)
                                         : blockInverseCdf(sh, a.V, u[G + n], blockSum(sh, a.V, p), p);
        }
        else
        {
            token = blockInverseCdf(sh, a.V, u[2 * G], blockSum(sh, a.V, p), p);
        }
    }
    if (threadIdx.x == 0)
    {
        a.accepted[b] = static_cast<int32_t>(n);
        for (int64_t i = 0; i <= G; ++i)
            a.outTokens[b * (G + 1) + i] = i < n ? a.draftTokens[b * G + i] : (i == n ? token : spec::kPadToken);
    }
}

template <typename T>
cudaError_t launchTyped(VerifyArgs const& a, PositionResult* ws, float* qDense, cudaStream_t stream)
{
    verifyPositionKernel<T><<<dim3(static_cast<unsigned>(a.G + 1), static_cast<unsigned>(a.B)), kThreads, 0, stream>>>(a, ws);
    verifyFinishKernel<T><<<static_cast<unsigned>(a.B), kThreads, 0, stream>>>(a, ws, qDense);
    return cudaPeekAtLastError();
}

size_t resultsBytes(int64_t B, int64_t G) /* rounded up to 256 bytes: the dense q rows start aligned */
{
    size_t const bytes = static_cast<size_t>(B) * static_cast<size_t>(G + 1) * sizeof(PositionResult);
    return (bytes + 255) / 256 * 256;
}

} // namespace

size_t verifyWorkspaceSize(int64_t B, int64_t G, int64_t V)
{
    return resultsBytes(B, G) + static_cast<size_t>(B) * static_cast<size_t>(V) * sizeof(float);
}

cudaError_t launchVerify(VerifyArgs const& a, void* workspace, cudaStream_t stream)
{
    if (a.B == 0)
        return cudaSuccess;
    if (a.G < 0 || a.V < 1 || workspace == nullptr || a.B > 65535) /* G = 0: plain decode */
        return cudaErrorInvalidValue;
    auto* ws = static_cast<PositionResult*>(workspace);
    auto* qDense = reinterpret_cast<float*>(static_cast<char*>(workspace) + resultsBytes(a.B, a.G)); /* [B, V] */
    switch (a.dtype)
    {
    case ElemType::kFLOAT: return launchTyped<float>(a, ws, qDense, stream);
    case ElemType::kHALF: return launchTyped<__half>(a, ws, qDense, stream);
    case ElemType::kBF16: return launchTyped<__nv_bfloat16>(a, ws, qDense, stream);
    }
    return cudaErrorInvalidValue;
}

} // namespace dspark
