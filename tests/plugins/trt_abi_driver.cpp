/*
 * A TensorRT application in miniature, for tests/plugins/test_trt_abi.py: linked against NVIDIA's real
 * libnvinfer_lean (the lean runtime wheel), compiled against the same major's real headers. It loads
 * libdspark_plugins.so.N into the real plugin registry and drives one creator and its plugin through
 * TensorRT's vtables, the calls the Python bindings cannot reach on a C++ plugin (output data types,
 * format combinations, output shapes), and prints what came back as JSON.
 *
 * Request on stdin, one item per line:
 *     lib <path>
 *     op <name> <version> <namespace>
 *     field <name> i|f <value>          (repeated; INT32 or FLOAT32 plugin fields)
 *     input <dims> <dtype mask>         (repeated, in input order; dims comma-separated symbols "B,G,V")
 *     output <dtype mask>               (repeated, in output order; mask bits 1 f32, 2 f16, 4 i32)
 * Output dims come back as the symbols of the input dims they point to (our plugins only forward the
 * input IDimensionExprs, which is all this driver can give them without a builder).
 */
#include <NvInferRuntime.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace nvinfer1;

namespace
{
struct Request
{
    std::string lib, op, version, ns;
    std::vector<std::string> fieldNames;
    std::vector<char> fieldKinds;
    std::vector<int32_t> ints;
    std::vector<float> floats;
    std::vector<std::vector<std::string>> inputDims;
    std::vector<uint32_t> inMasks, outMasks;
};

std::string q(char const* s)
{
    std::string out = "\"";
    for (char const* p = s ? s : ""; *p; ++p)
        out += (*p == '"' || *p == '\\') ? std::string("\\") + *p : std::string(1, *p);
    return out + "\"";
}

std::string fieldsJson(PluginFieldCollection const* fc)
{
    std::ostringstream os;
    os << "[";
    for (int32_t i = 0; fc && i < fc->nbFields; ++i)
    {
        PluginField const& f = fc->fields[i];
        os << (i ? ", " : "") << "{\"name\": " << q(f.name) << ", \"type\": " << static_cast<int32_t>(f.type)
           << ", \"length\": " << f.length;
        if (f.data && f.type == PluginFieldType::kINT32)
            os << ", \"value\": " << *static_cast<int32_t const*>(f.data);
        if (f.data && f.type == PluginFieldType::kFLOAT32)
            os << ", \"value\": " << *static_cast<float const*>(f.data);
        os << "}";
    }
    return os.str() + "]";
}

DataType firstType(uint32_t mask)
{
    return (mask & 1u) ? DataType::kFLOAT : (mask & 4u) ? DataType::kINT32 : DataType::kHALF;
}

bool parse(Request& r)
{
    std::string line;
    while (std::getline(std::cin, line))
    {
        std::istringstream is(line);
        std::string key;
        is >> key;
        if (key == "lib")
            is >> r.lib;
        else if (key == "op")
            is >> r.op >> r.version >> r.ns;
        else if (key == "field")
        {
            std::string name;
            char kind;
            is >> name >> kind;
            r.fieldNames.push_back(name);
            r.fieldKinds.push_back(kind);
            double v;
            is >> v;
            r.ints.push_back(static_cast<int32_t>(v));
            r.floats.push_back(static_cast<float>(v));
        }
        else if (key == "input")
        {
            std::string dims;
            uint32_t mask;
            is >> dims >> mask;
            std::vector<std::string> d;
            std::stringstream ds(dims);
            for (std::string s; std::getline(ds, s, ',');)
                d.push_back(s);
            r.inputDims.push_back(d);
            r.inMasks.push_back(mask);
        }
        else if (key == "output")
        {
            uint32_t mask;
            is >> mask;
            r.outMasks.push_back(mask);
        }
    }
    return !r.lib.empty() && !r.op.empty();
}

/* The three capabilities of a plugin, fetched through IPluginV3::getCapabilityInterface. */
struct Caps
{
    IPluginV3OneCore* core;
    IPluginV3OneBuild* build;
    IPluginV3OneRuntime* runtime;
};

Caps caps(IPluginV3* p)
{
    return {static_cast<IPluginV3OneCore*>(p->getCapabilityInterface(PluginCapabilityType::kCORE)),
        static_cast<IPluginV3OneBuild*>(p->getCapabilityInterface(PluginCapabilityType::kBUILD)),
        static_cast<IPluginV3OneRuntime*>(p->getCapabilityInterface(PluginCapabilityType::kRUNTIME))};
}
} // namespace

int main()
{
    Request r;
    if (!parse(r))
    {
        std::cerr << "trt_abi_driver: request needs 'lib' and 'op' lines\n";
        return 2;
    }
    IPluginRegistry* registry = getPluginRegistry();
    auto handle = registry->loadLibrary(r.lib.c_str()); /* PluginLibraryHandle (void*) */
    std::cout << "{\"loaded\": " << (handle ? "true" : "false");
    if (!handle)
    {
        std::cout << "}\n";
        return 0;
    }

    int32_t nb = 0;
    IPluginCreatorInterface* const* all = registry->getAllCreators(&nb);
    std::cout << ", \"creators\": [";
    bool first = true;
    for (int32_t i = 0; i < nb; ++i)
    {
        InterfaceInfo const info = all[i]->getInterfaceInfo();
        if (std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") != 0)
            continue;
        auto* c = static_cast<IPluginCreatorV3One*>(all[i]);
        std::cout << (first ? "" : ", ") << "{\"name\": " << q(c->getPluginName())
                  << ", \"version\": " << q(c->getPluginVersion()) << ", \"namespace\": " << q(c->getPluginNamespace())
                  << ", \"interface\": [" << q(info.kind) << ", " << info.major << ", " << info.minor << "]"
                  << ", \"fields\": " << fieldsJson(c->getFieldNames()) << "}";
        first = false;
    }
    std::cout << "]";

    IPluginCreatorInterface* ci = registry->getCreator(r.op.c_str(), r.version.c_str(), r.ns.c_str());
    if (!ci || std::strcmp(ci->getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") != 0)
    {
        std::cout << ", \"creator\": null}\n";
        return 0;
    }
    auto* creator = static_cast<IPluginCreatorV3One*>(ci);

    std::vector<PluginField> fields;
    for (size_t i = 0; i < r.fieldNames.size(); ++i)
    {
        bool const isInt = r.fieldKinds[i] == 'i';
        fields.emplace_back(r.fieldNames[i].c_str(), isInt ? static_cast<void const*>(&r.ints[i]) : &r.floats[i],
            isInt ? PluginFieldType::kINT32 : PluginFieldType::kFLOAT32, 1);
    }
    PluginFieldCollection fc{static_cast<int32_t>(fields.size()), fields.data()};
    std::unique_ptr<IPluginV3> plugin(creator->createPlugin("driver_node", &fc, TensorRTPhase::kBUILD));
    std::cout << ", \"created\": " << (plugin ? "true" : "false");
    if (!plugin)
    {
        std::cout << "}\n";
        return 0;
    }
    Caps const c = caps(plugin.get());
    int32_t const nbIn = static_cast<int32_t>(r.inMasks.size());
    int32_t const nbOut = static_cast<int32_t>(r.outMasks.size());
    std::cout << ", \"core\": [" << q(c.core->getPluginName()) << ", " << q(c.core->getPluginVersion()) << ", "
              << q(c.core->getPluginNamespace()) << "]";
    std::cout << ", \"capability_kinds\": [" << q(c.core->getInterfaceInfo().kind) << ", "
              << q(c.build->getInterfaceInfo().kind) << ", " << q(c.runtime->getInterfaceInfo().kind) << "]";
    std::cout << ", \"nb_outputs\": " << c.build->getNbOutputs();

    /* Output data types for the first allowed type of every input. */
    std::vector<DataType> inTypes(nbIn), outTypes(nbOut, DataType::kBOOL);
    for (int32_t i = 0; i < nbIn; ++i)
        inTypes[i] = firstType(r.inMasks[i]);
    int32_t const typesRc = c.build->getOutputDataTypes(outTypes.data(), nbOut, inTypes.data(), nbIn);
    std::cout << ", \"output_types\": {\"rc\": " << typesRc << ", \"types\": [";
    for (int32_t i = 0; i < nbOut; ++i)
        std::cout << (i ? ", " : "") << static_cast<int32_t>(outTypes[i]);
    std::cout << "]}";

    /* supportsFormatCombination: position x {FLOAT, HALF, INT32} in LINEAR, and FLOAT in CHW4. Earlier
       positions hold the candidate type where they allow it, else their first allowed type. */
    DataType const candidates[] = {DataType::kFLOAT, DataType::kHALF, DataType::kINT32};
    uint32_t const bits[] = {1u, 2u, 4u};
    std::cout << ", \"formats\": [";
    for (int32_t pos = 0; pos < nbIn + nbOut; ++pos)
    {
        std::cout << (pos ? ", " : "") << "[";
        for (int32_t k = 0; k < 4; ++k)
        {
            int32_t const t = k < 3 ? k : 0;
            std::vector<DynamicPluginTensorDesc> io(nbIn + nbOut);
            for (int32_t i = 0; i <= pos; ++i)
            {
                uint32_t const mask = i < nbIn ? r.inMasks[i] : r.outMasks[i - nbIn];
                io[i].desc.type = (i == pos || (mask & bits[t])) ? candidates[t] : firstType(mask);
                io[i].desc.format = TensorFormat::kLINEAR;
            }
            if (k == 3)
                io[pos].desc.format = TensorFormat::kCHW4;
            std::cout << (k ? ", " : "")
                      << (c.build->supportsFormatCombination(pos, io.data(), nbIn, nbOut) ? "true" : "false");
        }
        std::cout << "]";
    }
    std::cout << "]";

    /* Output shapes: each input dim is a distinct token; the plugin forwards them. */
    std::map<std::string, int32_t> symbols;
    std::vector<char> tokens(64);
    std::vector<DimsExprs> inShapes(nbIn), outShapes(nbOut);
    for (int32_t i = 0; i < nbIn; ++i)
    {
        inShapes[i].nbDims = static_cast<int32_t>(r.inputDims[i].size());
        for (int32_t d = 0; d < inShapes[i].nbDims; ++d)
        {
            auto it = symbols.emplace(r.inputDims[i][d], static_cast<int32_t>(symbols.size())).first;
            inShapes[i].d[d] = reinterpret_cast<IDimensionExpr const*>(&tokens[it->second]);
        }
    }
    for (auto& s : outShapes)
        s.nbDims = -1;
    alignas(16) char builderStorage[64] = {};
    int32_t const shapesRc = c.build->getOutputShapes(inShapes.data(), nbIn, nullptr, 0, outShapes.data(), nbOut,
        *reinterpret_cast<IExprBuilder*>(builderStorage));
    std::cout << ", \"output_shapes\": {\"rc\": " << shapesRc << ", \"shapes\": [";
    for (int32_t o = 0; o < nbOut; ++o)
    {
        std::cout << (o ? ", " : "") << "[";
        for (int32_t d = 0; d < outShapes[o].nbDims; ++d)
        {
            std::string name = "?";
            for (auto const& [sym, idx] : symbols)
                if (outShapes[o].d[d] == reinterpret_cast<IDimensionExpr const*>(&tokens[idx]))
                    name = sym;
            std::cout << (d ? ", " : "") << q(name.c_str());
        }
        std::cout << "]";
    }
    std::cout << "]}";

    /* Serialise, clone, re-create from the serialised fields (what deserialising a plan does). */
    std::cout << ", \"serialized\": " << fieldsJson(c.runtime->getFieldsToSerialize());
    std::unique_ptr<IPluginV3> clone(plugin->clone());
    std::cout << ", \"clone\": " << (clone ? fieldsJson(caps(clone.get()).runtime->getFieldsToSerialize()) : "null");
    std::unique_ptr<IPluginV3> again(
        creator->createPlugin("driver_node", c.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
    std::cout << ", \"recreated\": "
              << (again ? fieldsJson(caps(again.get()).runtime->getFieldsToSerialize()) : "null");
    clone.reset();
    again.reset();
    plugin.reset();
    registry->deregisterLibrary(handle);
    int32_t left = 0;
    registry->getCreator(r.op.c_str(), r.version.c_str(), r.ns.c_str()) ? left = 1 : left = 0;
    std::cout << ", \"after_deregister\": " << left << "}\n";
    return 0;
}
