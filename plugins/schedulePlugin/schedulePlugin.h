/* Schedule as an IPluginV3 (OneCore / OneBuild / OneRuntime); semantics in ops/spec.py. */
#pragma once

#include "pluginCommon.h"
#include "scheduleKernels.h"

namespace dspark
{
namespace plugin
{

class SchedulePlugin final : public PluginBase<SchedulePlugin>
{
public:
    static constexpr char const* kName = spec::schedule::kName;
    static constexpr char const* kVersion = spec::schedule::kVersion;
    static constexpr int32_t kNbInputs = spec::schedule::kNbInputs;
    static constexpr int32_t kNbOutputs = spec::schedule::kNbOutputs;
    static constexpr uint32_t const* kInDtypes = spec::schedule::kInDtypes;
    static constexpr uint32_t const* kOutDtypes = spec::schedule::kOutDtypes;
    static constexpr spec::AttrDef const* kAttrs = spec::schedule::kAttrs;
    static constexpr int32_t kNbAttrs = spec::schedule::kNbAttrs;
    /* The spec's cross-attribute constraint: min_len <= max_len. */
    static bool validate(std::vector<double> const& v, std::string& error);

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
