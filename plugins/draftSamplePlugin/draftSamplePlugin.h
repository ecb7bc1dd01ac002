/* DraftSample as an IPluginV3 (OneCore / OneBuild / OneRuntime); semantics in ops/spec.py. */
#pragma once

#include "draftSampleKernels.h"
#include "pluginCommon.h"

namespace dspark
{
namespace plugin
{

/* name, version, I/O counts, dtypes and attributes: spec::draft_sample::Op, generated from ops/spec.py */
class DraftSamplePlugin final : public PluginBase<DraftSamplePlugin>, public spec::draft_sample::Op
{
public:
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
