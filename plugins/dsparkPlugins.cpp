/*
 * The one registration point of libdspark_plugins.so: the entry points IPluginRegistry::loadLibrary
 * (Python: trt.get_plugin_registry().load_library) looks up. No REGISTER_TENSORRT_PLUGIN: the library
 * does not link libnvinfer, so it can be serialised into version-compatible engines.
 */
#include "draftSamplePlugin/draftSamplePlugin.h"
#include "schedulePlugin/schedulePlugin.h"
#include "verifyPlugin/verifyPlugin.h"

using namespace dspark::plugin;

extern "C" TENSORRTAPI void setLoggerFinder(nvinfer1::ILoggerFinder* finder)
{
    dspark::plugin::setLoggerFinder(finder);
}

extern "C" TENSORRTAPI nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators)
{
    static Creator<DraftSamplePlugin> draftSample;
    static Creator<SchedulePlugin> schedule;
    static Creator<VerifyPlugin> verify;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&draftSample, &schedule, &verify};
    nbCreators = static_cast<int32_t>(sizeof(creators) / sizeof(creators[0]));
    return creators;
}
