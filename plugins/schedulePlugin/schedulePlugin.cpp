#include "schedulePlugin.h"

namespace dspark
{
namespace plugin
{

using namespace spec::schedule;

bool SchedulePlugin::validate(std::vector<double> const& v, std::string& error)
{
    if (v[attr_min_len] > v[attr_max_len])
    {
        error = "attributes violate the constraint 'min_len <= max_len' (min_len = "
            + std::to_string(static_cast<int64_t>(v[attr_min_len]))
            + ", max_len = " + std::to_string(static_cast<int64_t>(v[attr_max_len])) + ")";
        return false;
    }
    return true;
}

int32_t SchedulePlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const*, int32_t nbInputs) const noexcept
{
    if (nbOutputs != kNbOutputs || nbInputs != kNbInputs)
        return -1;
    outputTypes[out_verify_lengths] = DataType::kINT32;
    return 0;
}

int32_t SchedulePlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t,
    DimsExprs* outputs, int32_t nbOutputs, IExprBuilder&) noexcept
{
    if (nbInputs != kNbInputs || nbOutputs != kNbOutputs || inputs[in_survivals].nbDims != 2)
        return -1;
    outputs[out_verify_lengths].nbDims = 1; /* [B] */
    outputs[out_verify_lengths].d[0] = inputs[in_survivals].d[0];
    return 0;
}

size_t SchedulePlugin::getWorkspaceSize(
    DynamicPluginTensorDesc const* inputs, int32_t, DynamicPluginTensorDesc const*, int32_t) const noexcept
{
    Dims const& mx = inputs[in_survivals].max;
    return scheduleWorkspaceSize(mx.d[0], mx.d[1]);
}

int32_t SchedulePlugin::enqueue(PluginTensorDesc const* in, PluginTensorDesc const*, void const* const* inputs,
    void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    ScheduleArgs a{};
    a.B = in[in_survivals].dims.d[0];
    a.G = in[in_survivals].dims.d[1];
    a.N = in[in_cost_table].dims.d[0];
    a.mode = mAttrs.asInt(attr_mode);
    a.fixedLen = mAttrs.asInt(attr_fixed_len);
    a.threshold = mAttrs.asFloat(attr_threshold);
    a.minLen = mAttrs.asInt(attr_min_len);
    a.maxLen = mAttrs.asInt(attr_max_len);
    a.survivals = static_cast<float const*>(inputs[in_survivals]);
    a.lagged = static_cast<float const*>(inputs[in_lagged_survivals]);
    a.costTable = static_cast<float const*>(inputs[in_cost_table]);
    a.active = static_cast<int32_t const*>(inputs[in_active]);
    a.verifyLengths = static_cast<int32_t*>(outputs[out_verify_lengths]);
    cudaError_t const err = launchSchedule(a, workspace, stream);
    if (err != cudaSuccess)
    {
        logError(std::string(kName) + ": kernel launch failed: " + cudaGetErrorString(err));
        return -1;
    }
    return 0;
}

} // namespace plugin
} // namespace dspark
