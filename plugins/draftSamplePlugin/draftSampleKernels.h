/*
 * DraftSample launcher (host API, no CUDA types beyond cudaStream_t). Shapes as in ops/spec.py:
 * block_logits [B,G,Vd], block_hidden [B,G,H], anchor [B], markov_w1 [V,r], markov_w2 [Vd,r], conf_w [H+r],
 * conf_b [1] (all of dtype `dtype`), draft_vocab [Vd] i32 (target ids, strictly increasing), sts_temps [G],
 * temperature [B], top_k [B], top_p [B], uniforms [B,G]
 * -> draft_tokens [B,G] i32, draft_q [B,G] f32, q_full [B,G,Vd] f32 over the draft vocabulary (the one-hot for
 * greedy rows, also when all are greedy: the spec's [B,G,1] form depends on values), confidences [B,G],
 * survivals [B,G].
 */
#pragma once

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

namespace dspark
{

enum class ElemType : int32_t
{
    kFLOAT = 0,
    kHALF = 1,
    kBF16 = 2,
};

struct DraftSampleArgs
{
    int64_t B, G, V, Vd, H, r; /* V target vocabulary, Vd draft vocabulary */
    ElemType dtype;
    void const* blockLogits;
    void const* blockHidden;
    int32_t const* anchor;
    void const* markovW1;
    void const* markovW2;
    int32_t const* draftVocab;
    void const* confW;
    void const* confB;
    float const* stsTemps;
    float const* temperature;
    int32_t const* topK;
    float const* topP;
    float const* uniforms;
    int32_t* draftTokens;
    float* draftQ;
    float* qFull;
    float* confidences;
    float* survivals;
};

/* Workspace: the Markov-corrected logits z of one slot, [B, Vd] float32. */
size_t draftSampleWorkspaceSize(int64_t B, int64_t Vd);

/* Enqueue the whole op (G slots, two kernels per slot) on `stream`; no allocation, no sync. */
cudaError_t launchDraftSample(DraftSampleArgs const& a, void* workspace, cudaStream_t stream);

} // namespace dspark
