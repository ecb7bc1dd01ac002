/*
 * What the three IPluginV3 plugins share: attribute parsing against the generated op table
 * (dsparkOpSpec.h), serialisation storage, logging through the ILoggerFinder TensorRT hands to
 * setLoggerFinder, dtype checks, and the capability/clone boilerplate (PluginBase<Derived>).
 * Nothing here throws across a noexcept boundary: every entry point catches and logs.
 */
#pragma once

#include "dsparkOpSpec.h"

#include <NvInferRuntime.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace dspark
{
namespace plugin
{

using namespace nvinfer1;

/* Logging (the logger comes from setLoggerFinder; before that, messages are dropped). */
void setLoggerFinder(ILoggerFinder* finder) noexcept;
void log(ILogger::Severity severity, std::string const& message) noexcept;
inline void logError(std::string const& message) noexcept
{
    log(ILogger::Severity::kERROR, message);
}

/* ONNX INT attributes arrive as kINT32, network-API callers may send kINT64; FLOAT as kFLOAT32. */
bool readNumber(PluginField const& f, bool wantInt, double& out, std::string& error) noexcept;

/*
 * Parse `fc` against the op's attribute table. Unknown fields are ignored (TensorRT passes only
 * advertised ones); missing attributes take the spec default and are reported at kWARNING; a wrong
 * type or out-of-range value fills `error` (naming the op, attribute, value and the allowed range).
 */
bool parseAttributes(char const* op, spec::AttrDef const* defs, int32_t nbDefs, PluginFieldCollection const* fc,
    std::vector<double>& values, std::string& error) noexcept;

/* TensorRT DataType -> the spec's dtype bit (kF32/kF16/kI32), 0 for anything else. */
uint32_t dtypeBit(DataType t) noexcept;

/* Attribute storage in the field types the creator advertises (int32 / float32), for serialisation. */
class AttrStore
{
public:
    void assign(spec::AttrDef const* defs, int32_t nbDefs, std::vector<double> const& values);
    PluginFieldCollection const* fields() noexcept { return &mCollection; }
    int32_t asInt(int32_t i) const { return mInts[i]; }
    float asFloat(int32_t i) const { return mFloats[i]; }

    AttrStore() = default;
    AttrStore(AttrStore const& other) { *this = other; }
    AttrStore& operator=(AttrStore const& other);

private:
    void rebuild();
    spec::AttrDef const* mDefs{nullptr};
    int32_t mNbDefs{0};
    std::vector<int32_t> mInts;
    std::vector<float> mFloats;
    std::vector<PluginField> mFields;
    PluginFieldCollection mCollection{0, nullptr};
};

/* Advertised fields of a creator: one per spec attribute. */
class FieldNames
{
public:
    FieldNames(spec::AttrDef const* defs, int32_t nbDefs);
    PluginFieldCollection const* get() noexcept { return &mCollection; }

private:
    std::vector<PluginField> mFields;
    PluginFieldCollection mCollection{0, nullptr};
};

/*
 * Capability plumbing shared by the three plugins. Derived implements the build-time shape/type
 * methods, getWorkspaceSize and enqueue; the plugin class also inherits its op's generated
 * constants (spec::<op>::Op: name, version, I/O counts, dtypes, attributes), which Derived:: reads.
 */
template <typename Derived>
class PluginBase : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild, public IPluginV3OneRuntime
{
public:
    explicit PluginBase(AttrStore attrs)
        : mAttrs(std::move(attrs))
    {
    }

    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override
    {
        switch (type)
        {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override
    {
        try
        {
            return new Derived(static_cast<Derived const&>(*this)); /* copies every attribute */
        }
        catch (...)
        {
            logError(std::string(Derived::kName) + ": clone failed (out of memory)");
            return nullptr;
        }
    }

    char const* getPluginName() const noexcept override { return Derived::kName; }
    char const* getPluginVersion() const noexcept override { return Derived::kVersion; }
    char const* getPluginNamespace() const noexcept override { return spec::kPluginNamespace; }
    int32_t getNbOutputs() const noexcept override { return Derived::kNbOutputs; }

    /* Dtypes and LINEAR format as the spec allows; float inputs that admit fp16 share one dtype. */
    bool supportsFormatCombination(
        int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept override
    {
        if (nbInputs != Derived::kNbInputs || nbOutputs != Derived::kNbOutputs || pos < 0
            || pos >= nbInputs + nbOutputs)
            return false;
        PluginTensorDesc const& d = inOut[pos].desc;
        if (d.format != TensorFormat::kLINEAR)
            return false;
        uint32_t const allowed = pos < nbInputs ? Derived::kInDtypes[pos] : Derived::kOutDtypes[pos - nbInputs];
        if (!(dtypeBit(d.type) & allowed))
            return false;
        if (pos < nbInputs && (allowed & spec::kF16))
        {
            for (int32_t i = 0; i < pos; ++i) /* only inOut[0..pos] may be inspected */
                if (Derived::kInDtypes[i] & spec::kF16)
                    return inOut[i].desc.type == d.type;
        }
        return true;
    }

    int32_t configurePlugin(DynamicPluginTensorDesc const*, int32_t, DynamicPluginTensorDesc const*, int32_t) noexcept override
    {
        return 0;
    }

    int32_t onShapeChange(PluginTensorDesc const*, int32_t, PluginTensorDesc const*, int32_t) noexcept override
    {
        return 0;
    }

    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override { return mAttrs.fields(); }

protected:
    AttrStore mAttrs;
};

/* The creator of plugin `P`: advertises the spec's attributes and validates them in createPlugin. */
template <typename P>
class Creator final : public IPluginCreatorV3One
{
public:
    Creator()
        : mNames(P::kAttrs, P::kNbAttrs)
    {
    }
    char const* getPluginName() const noexcept override { return P::kName; }
    char const* getPluginVersion() const noexcept override { return P::kVersion; }
    char const* getPluginNamespace() const noexcept override { return spec::kPluginNamespace; }
    PluginFieldCollection const* getFieldNames() noexcept override { return mNames.get(); }

    IPluginV3* createPlugin(char const* name, PluginFieldCollection const* fc, TensorRTPhase) noexcept override
    {
        try
        {
            std::vector<double> values;
            std::string error;
            if (!parseAttributes(P::kName, P::kAttrs, P::kNbAttrs, fc, values, error))
            {
                logError(std::string(P::kName) + " node '" + (name ? name : "?") + "': " + error);
                return nullptr;
            }
            if (!P::validate(values, error))
            {
                logError(std::string(P::kName) + " node '" + (name ? name : "?") + "': " + error);
                return nullptr;
            }
            AttrStore store;
            store.assign(P::kAttrs, P::kNbAttrs, values);
            return new P(std::move(store));
        }
        catch (std::exception const& e)
        {
            logError(std::string(P::kName) + ": createPlugin failed: " + e.what());
        }
        catch (...)
        {
            logError(std::string(P::kName) + ": createPlugin failed");
        }
        return nullptr;
    }

private:
    FieldNames mNames;
};

} // namespace plugin
} // namespace dspark
