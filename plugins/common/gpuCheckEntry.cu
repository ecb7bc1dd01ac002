/*
 * Flat extern "C" entry points over the three launchers, for scripts/gpu_check.py (ctypes, no TensorRT).
 * Pointers are device pointers; dtype: 0 float32, 1 float16, 2 bfloat16.
 */
#include "../draftSamplePlugin/draftSampleKernels.h"
#include "../schedulePlugin/scheduleKernels.h"
#include "../verifyPlugin/verifyKernels.h"

using namespace dspark;

extern "C" size_t dspark_gpu_draft_sample_ws(int64_t B, int64_t Vd)
{
    return draftSampleWorkspaceSize(B, Vd);
}

extern "C" int dspark_gpu_draft_sample(int64_t B, int64_t G, int64_t V, int64_t Vd, int64_t H, int64_t r,
    int32_t dtype, void const* logits, void const* hidden, int32_t const* anchor, void const* w1, void const* w2,
    int32_t const* draftVocab, void const* confW, void const* confB, float const* sts, float const* temperature,
    int32_t const* topK, float const* topP, float const* uniforms, int32_t* tokens, float* draftQ, float* qFull,
    float* conf, float* surv, void* ws, cudaStream_t stream)
{
    DraftSampleArgs a{B, G, V, Vd, H, r, static_cast<ElemType>(dtype), logits, hidden, anchor, w1, w2, draftVocab,
        confW, confB, sts, temperature, topK, topP, uniforms, tokens, draftQ, qFull, conf, surv};
    return static_cast<int>(launchDraftSample(a, ws, stream));
}

extern "C" size_t dspark_gpu_verify_ws(int64_t B, int64_t G, int64_t V)
{
    return verifyWorkspaceSize(B, G, V);
}

extern "C" int dspark_gpu_verify(int64_t B, int64_t G, int64_t V, int64_t Vq, int32_t dtype, float eps,
    void const* logits, int32_t const* drafts, float const* draftQ, float const* qFull, int32_t const* draftVocab,
    int32_t const* lengths, float const* uniforms, float const* temperature, int32_t const* topK, float const* topP,
    int32_t* accepted, int32_t* outTokens, void* ws, cudaStream_t stream)
{
    VerifyArgs a{B, G, V, Vq, static_cast<ElemType>(dtype), eps, logits, drafts, draftQ, qFull, draftVocab, lengths,
        uniforms, temperature, topK, topP, accepted, outTokens};
    return static_cast<int>(launchVerify(a, ws, stream));
}

extern "C" size_t dspark_gpu_schedule_ws(int64_t B, int64_t G)
{
    return scheduleWorkspaceSize(B, G);
}

extern "C" int dspark_gpu_schedule(int64_t B, int64_t G, int64_t N, int32_t mode, int32_t fixedLen, int32_t minLen,
    int32_t maxLen, float threshold, float const* surv, float const* lagged, float const* cost, int32_t const* active,
    int32_t* lengths, void* ws, cudaStream_t stream)
{
    ScheduleArgs a{B, G, N, mode, fixedLen, minLen, maxLen, threshold, surv, lagged, cost, active, lengths};
    return static_cast<int>(launchSchedule(a, ws, stream));
}
