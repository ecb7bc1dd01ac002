#include "verifyPlugin.h"

namespace dspark
{
namespace plugin
{

using namespace spec::verify;

int32_t VerifyPlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const*, int32_t nbInputs) const noexcept
{
    if (nbOutputs != kNbOutputs || nbInputs != kNbInputs)
        return -1;
    outputTypes[out_accepted] = DataType::kINT32;
    outputTypes[out_out_tokens] = DataType::kINT32;
    return 0;
}

int32_t VerifyPlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t,
    DimsExprs* outputs, int32_t nbOutputs, IExprBuilder&) noexcept
{
    if (nbInputs != kNbInputs || nbOutputs != kNbOutputs || inputs[in_target_logits].nbDims != 3)
        return -1;
    outputs[out_accepted].nbDims = 1; /* [B] */
    outputs[out_accepted].d[0] = inputs[in_target_logits].d[0];
    outputs[out_out_tokens].nbDims = 2; /* [B, G+1] */
    outputs[out_out_tokens].d[0] = inputs[in_target_logits].d[0];
    outputs[out_out_tokens].d[1] = inputs[in_target_logits].d[1];
    return 0;
}

size_t VerifyPlugin::getWorkspaceSize(
    DynamicPluginTensorDesc const* inputs, int32_t, DynamicPluginTensorDesc const*, int32_t) const noexcept
{
    Dims const& mx = inputs[in_draft_tokens].max;
    return verifyWorkspaceSize(mx.d[0], mx.d[1], inputs[in_target_logits].max.d[2]);
}

int32_t VerifyPlugin::enqueue(PluginTensorDesc const* in, PluginTensorDesc const*, void const* const* inputs,
    void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    VerifyArgs a{};
    a.B = in[in_draft_tokens].dims.d[0];
    a.G = in[in_draft_tokens].dims.d[1];
    a.V = in[in_target_logits].dims.d[2];
    a.Vq = in[in_q_full].dims.d[2];
    a.dtype = in[in_target_logits].type == DataType::kHALF ? ElemType::kHALF : ElemType::kFLOAT;
    a.residualEps = mAttrs.asFloat(attr_residual_eps);
    a.targetLogits = inputs[in_target_logits];
    a.draftTokens = static_cast<int32_t const*>(inputs[in_draft_tokens]);
    a.draftQ = static_cast<float const*>(inputs[in_draft_q]);
    a.qFull = static_cast<float const*>(inputs[in_q_full]);
    a.draftVocab = static_cast<int32_t const*>(inputs[in_draft_vocab]);
    a.verifyLengths = static_cast<int32_t const*>(inputs[in_verify_lengths]);
    a.uniforms = static_cast<float const*>(inputs[in_uniforms]);
    a.temperature = static_cast<float const*>(inputs[in_temperature]);
    a.topK = static_cast<int32_t const*>(inputs[in_top_k]);
    a.topP = static_cast<float const*>(inputs[in_top_p]);
    a.accepted = static_cast<int32_t*>(outputs[out_accepted]);
    a.outTokens = static_cast<int32_t*>(outputs[out_out_tokens]);
    cudaError_t const err = launchVerify(a, workspace, stream);
    if (err != cudaSuccess)
    {
        logError(std::string(kName) + ": kernel launch failed: " + cudaGetErrorString(err));
        return -1;
    }
    return 0;
}

} // namespace plugin
} // namespace dspark
