/* DraftSample as an IPluginV3 (OneCore / OneBuild / OneRuntime); semantics in ops/spec.py. */
#pragma once

#include "draftSampleKernels.h"
#include "pluginCommon.h"

namespace dspark
{
namespace plugin
{

class DraftSamplePlugin final : public PluginBase<DraftSamplePlugin>
{
public:
    static constexpr char const* kName = spec::draft_sample::kName;
    static constexpr char const* kVersion = spec::draft_sample::kVersion;
    static constexpr int32_t kNbInputs = spec::draft_sample::kNbInputs;
    static constexpr int32_t kNbOutputs = spec::draft_sample::kNbOutputs;
    static constexpr uint32_t const* kInDtypes = spec::draft_sample::kInDtypes;
    static constexpr uint32_t const* kOutDtypes = spec::draft_sample::kOutDtypes;
    static constexpr spec::AttrDef const* kAttrs = spec::draft_sample::kAttrs;
    static constexpr int32_t kNbAttrs = spec::draft_sample::kNbAttrs;
    static bool validate(std::vector<double> const&, std::string&) { return true; }

    using PluginBase::PluginBase;

    int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
        int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* shapeInputs,
        int32_t nbShapeInputs, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& exprBuilder) noexcept override;
    size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;
    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
};

} // namespace plugin
} // namespace dspark
