#include "pluginCommon.h"

#include <atomic>
#include <cmath>
#include <sstream>

namespace dspark
{
namespace plugin
{
namespace
{
std::atomic<ILoggerFinder*> gFinder{nullptr};
} // namespace

void setLoggerFinder(ILoggerFinder* finder) noexcept
{
    gFinder.store(finder);
}

void log(ILogger::Severity severity, std::string const& message) noexcept
{
    ILoggerFinder* finder = gFinder.load();
    ILogger* logger = finder ? finder->findLogger() : nullptr;
    if (logger)
        logger->log(severity, ("[dspark plugins] " + message).c_str());
}

bool readNumber(PluginField const& f, bool wantInt, double& out, std::string& error) noexcept
{
    if (f.data == nullptr || f.length < 1)
    {
        error = "attribute '" + std::string(f.name) + "' has no value";
        return false;
    }
    switch (f.type)
    {
    case PluginFieldType::kINT32: out = *static_cast<int32_t const*>(f.data); break;
    case PluginFieldType::kINT64: out = static_cast<double>(*static_cast<int64_t const*>(f.data)); break;
    case PluginFieldType::kINT16: out = *static_cast<int16_t const*>(f.data); break;
    case PluginFieldType::kINT8: out = *static_cast<int8_t const*>(f.data); break;
    case PluginFieldType::kFLOAT32: out = *static_cast<float const*>(f.data); break;
    case PluginFieldType::kFLOAT64: out = *static_cast<double const*>(f.data); break;
    default:
        error = "attribute '" + std::string(f.name) + "' has an unsupported field type "
            + std::to_string(static_cast<int32_t>(f.type)) + (wantInt ? " (expected INT32/INT64)" : " (expected FLOAT32)");
        return false;
    }
    if (wantInt && out != std::floor(out))
    {
        error = "attribute '" + std::string(f.name) + "' must be an integer, got " + std::to_string(out);
        return false;
    }
    return true;
}

bool parseAttributes(char const* op, spec::AttrDef const* defs, int32_t nbDefs, PluginFieldCollection const* fc,
    std::vector<double>& values, std::string& error) noexcept
{
    try
    {
        values.assign(nbDefs, 0.0);
        std::vector<bool> seen(nbDefs, false);
        for (int32_t i = 0; fc != nullptr && i < fc->nbFields; ++i)
        {
            PluginField const& f = fc->fields[i];
            for (int32_t a = 0; f.name != nullptr && a < nbDefs; ++a)
            {
                if (std::strcmp(f.name, defs[a].name) != 0)
                    continue;
                if (!readNumber(f, defs[a].isInt, values[a], error))
                    return false;
                if (!(values[a] >= defs[a].min && values[a] <= defs[a].max))
                {
                    std::ostringstream os;
                    os << "attribute '" << defs[a].name << "' = " << values[a] << " is out of range; allowed "
                       << (defs[a].isInt ? "INT" : "FLOAT") << " in [" << defs[a].min << ", " << defs[a].max << "]";
                    error = os.str();
                    return false;
                }
                seen[a] = true;
            }
        }
        std::string missing;
        for (int32_t a = 0; a < nbDefs; ++a)
            if (!seen[a])
            {
                values[a] = defs[a].def;
                missing += (missing.empty() ? "" : ", ") + std::string(defs[a].name);
            }
        if (!missing.empty())
            log(ILogger::Severity::kWARNING,
                std::string(op) + ": attributes not given, spec defaults used: " + missing);
        return true;
    }
    catch (...)
    {
        error = "out of memory while parsing attributes";
        return false;
    }
}

uint32_t dtypeBit(DataType t) noexcept
{
    switch (t)
    {
    case DataType::kFLOAT: return spec::kF32;
    case DataType::kHALF: return spec::kF16;
    case DataType::kINT32: return spec::kI32;
    default: return 0;
    }
}

void AttrStore::assign(spec::AttrDef const* defs, int32_t nbDefs, std::vector<double> const& values)
{
    mDefs = defs;
    mNbDefs = nbDefs;
    mInts.assign(nbDefs, 0);
    mFloats.assign(nbDefs, 0.0f);
    for (int32_t a = 0; a < nbDefs; ++a)
    {
        if (defs[a].isInt)
            mInts[a] = static_cast<int32_t>(values[a]);
        else
            mFloats[a] = static_cast<float>(values[a]);
    }
    rebuild();
}

AttrStore& AttrStore::operator=(AttrStore const& other)
{
    mDefs = other.mDefs;
    mNbDefs = other.mNbDefs;
    mInts = other.mInts;
    mFloats = other.mFloats;
    rebuild(); /* field pointers must point into this object's storage, not the source's */
    return *this;
}

void AttrStore::rebuild()
{
    mFields.clear();
    for (int32_t a = 0; a < mNbDefs; ++a)
    {
        if (mDefs[a].isInt)
            mFields.emplace_back(mDefs[a].name, &mInts[a], PluginFieldType::kINT32, 1);
        else
            mFields.emplace_back(mDefs[a].name, &mFloats[a], PluginFieldType::kFLOAT32, 1);
    }
    mCollection.nbFields = static_cast<int32_t>(mFields.size());
    mCollection.fields = mFields.data();
}

FieldNames::FieldNames(spec::AttrDef const* defs, int32_t nbDefs)
{
    for (int32_t a = 0; a < nbDefs; ++a)
        mFields.emplace_back(defs[a].name, nullptr, defs[a].isInt ? PluginFieldType::kINT32 : PluginFieldType::kFLOAT32, 1);
    mCollection.nbFields = static_cast<int32_t>(mFields.size());
    mCollection.fields = mFields.data();
}

} // namespace plugin
} // namespace dspark
