#include "draftSamplePlugin.h"

namespace dspark
{
namespace plugin
{

using namespace spec::draft_sample;

int32_t DraftSamplePlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const*, int32_t nbInputs) const noexcept
{
    if (nbOutputs != kNbOutputs || nbInputs != kNbInputs)
        return -1;
    outputTypes[out_draft_tokens] = DataType::kINT32;
    outputTypes[out_draft_q] = DataType::kFLOAT;
    outputTypes[out_q_full] = DataType::kFLOAT;
    outputTypes[out_confidences] = DataType::kFLOAT;
    outputTypes[out_survivals] = DataType::kFLOAT;
    return 0;
}

int32_t DraftSamplePlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t,
    DimsExprs* outputs, int32_t nbOutputs, IExprBuilder&) noexcept
{
    if (nbInputs != kNbInputs || nbOutputs != kNbOutputs || inputs[in_block_logits].nbDims != 3)
        return -1;
    DimsExprs bg; /* [B, G] */
    bg.nbDims = 2;
    bg.d[0] = inputs[in_block_logits].d[0];
    bg.d[1] = inputs[in_block_logits].d[1];
    outputs[out_draft_tokens] = bg;
    outputs[out_draft_q] = bg;
    /* q_full [B, G, Vd]: the draft vocabulary, as block_logits. Always Vd, the one-hot for greedy rows: the
     * spec's Vq = 1 for an all-greedy batch depends on values, which output shapes cannot. */
    outputs[out_q_full] = inputs[in_block_logits];
    outputs[out_confidences] = bg;
    outputs[out_survivals] = bg;
    return 0;
}

size_t DraftSamplePlugin::getWorkspaceSize(
    DynamicPluginTensorDesc const* inputs, int32_t, DynamicPluginTensorDesc const*, int32_t) const noexcept
{
    Dims const& mx = inputs[in_block_logits].max; /* [B, G, Vd], sized for the profile's largest shapes */
    return draftSampleWorkspaceSize(mx.d[0], mx.d[2]);
}

int32_t DraftSamplePlugin::enqueue(PluginTensorDesc const* in, PluginTensorDesc const*, void const* const* inputs,
    void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    Dims const& l = in[in_block_logits].dims;
    DraftSampleArgs a{};
    a.B = l.d[0];
    a.G = l.d[1];
    a.V = in[in_markov_w1].dims.d[0];
    a.Vd = l.d[2];
    a.H = in[in_block_hidden].dims.d[2];
    a.r = in[in_markov_w1].dims.d[1];
    a.dtype = in[in_block_logits].type == DataType::kHALF ? ElemType::kHALF : ElemType::kFLOAT;
    a.blockLogits = inputs[in_block_logits];
    a.blockHidden = inputs[in_block_hidden];
    a.anchor = static_cast<int32_t const*>(inputs[in_anchor]);
    a.markovW1 = inputs[in_markov_w1];
    a.markovW2 = inputs[in_markov_w2];
    a.draftVocab = static_cast<int32_t const*>(inputs[in_draft_vocab]);
    a.confW = inputs[in_conf_w];
    a.confB = inputs[in_conf_b];
    a.stsTemps = static_cast<float const*>(inputs[in_sts_temps]);
    a.temperature = static_cast<float const*>(inputs[in_temperature]);
    a.topK = static_cast<int32_t const*>(inputs[in_top_k]);
    a.topP = static_cast<float const*>(inputs[in_top_p]);
    a.uniforms = static_cast<float const*>(inputs[in_uniforms]);
    a.draftTokens = static_cast<int32_t*>(outputs[out_draft_tokens]);
    a.draftQ = static_cast<float*>(outputs[out_draft_q]);
    a.qFull = static_cast<float*>(outputs[out_q_full]);
    a.confidences = static_cast<float*>(outputs[out_confidences]);
    a.survivals = static_cast<float*>(outputs[out_survivals]);
    cudaError_t const err = launchDraftSample(a, workspace, stream);
    if (err != cudaSuccess)
    {
        logError(std::string(kName) + ": kernel launch failed: " + cudaGetErrorString(err));
        return -1;
    }
    return 0;
}

} // namespace plugin
} // namespace dspark
