/*
 * Verify launcher. target_logits [B,G+1,V] (dtype), draft_tokens [B,G] i32, draft_q [B,G] f32,
 * q_full [B,G,Vq] f32 over the target ids draft_vocab [Vq] i32 (Vq = Vd, or 1 when every row is greedy),
 * verify_lengths [B] i32,
 * uniforms [B,2G+1] f32, temperature [B] f32, top_k [B] i32, top_p [B] f32
 * -> accepted [B] i32, out_tokens [B,G+1] i32 (PAD_TOKEN = -1 after the correction/bonus token).
 */
#pragma once

#include "../draftSamplePlugin/draftSampleKernels.h" /* ElemType */

namespace dspark
{

struct VerifyArgs
{
    int64_t B, G, V, Vq;
    ElemType dtype;
    float residualEps;
    void const* targetLogits;
    int32_t const* draftTokens;
    float const* draftQ;
    float const* qFull;
    int32_t const* draftVocab;
    int32_t const* verifyLengths;
    float const* uniforms;
    float const* temperature;
    int32_t const* topK;
    float const* topP;
    int32_t* accepted;
    int32_t* outTokens;
};

/* Workspace: per (row, position) filter parameters and greedy/accept results, then a [B, V] scratch for the
 * rejected position's q over target ids. */
size_t verifyWorkspaceSize(int64_t B, int64_t G, int64_t V);

cudaError_t launchVerify(VerifyArgs const& a, void* workspace, cudaStream_t stream);

} // namespace dspark
