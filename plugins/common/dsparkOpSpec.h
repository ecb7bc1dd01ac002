/* Generated from dspark_compile/ops/spec.py by plugins/gen_from_spec.py: do not edit. */
#pragma once

#include <stdint.h>

namespace dspark
{
namespace spec
{

constexpr char const* kPluginNamespace = "dspark";
constexpr uint32_t kF32 = 1u, kF16 = 2u, kI32 = 4u;
constexpr int32_t kPadToken = -1; /* Verify.out_tokens after the correction/bonus token */

/* Schedule.mode */
enum ScheduleMode : int32_t
{
    kScheduleFixed = 0,
    kScheduleSurvival = 1,
    kScheduleCost = 2,
    kScheduleThreshold = 3,
};
constexpr int32_t kNbScheduleModes = 4; /* valid modes: 0 .. kNbScheduleModes - 1 */

struct AttrDef
{
    char const* name;
    bool isInt;
    double min, max, def;
};

namespace draft_sample
{
enum In : int32_t
{
    in_block_logits = 0,
    in_block_hidden = 1,
    in_anchor = 2,
    in_markov_w1 = 3,
    in_markov_w2 = 4,
    in_draft_vocab = 5,
    in_conf_w = 6,
    in_conf_b = 7,
    in_sts_temps = 8,
    in_temperature = 9,
    in_top_k = 10,
    in_top_p = 11,
    in_uniforms = 12,
};
enum Out : int32_t
{
    out_draft_tokens = 0,
    out_draft_q = 1,
    out_q_full = 2,
    out_confidences = 3,
    out_survivals = 4,
};
/* what the plugin class of this op inherits (PluginBase and PluginCreator read it) */
struct Op
{
    static constexpr char const* kName = "DraftSample";
    static constexpr char const* kVersion = "2";
    static constexpr int32_t kNbInputs = 13;
    static constexpr int32_t kNbOutputs = 5;
    /* allowed dtypes per tensor: bit mask of kF32, kF16, kI32 */
    static constexpr uint32_t kInDtypes[] = {kF16 | kF32, kF16 | kF32, kI32, kF16 | kF32, kF16 | kF32, kI32, kF16 | kF32, kF16 | kF32, kF32, kF32, kI32, kF32, kF32};
    static constexpr uint32_t kOutDtypes[] = {kI32, kF32, kF32, kF32, kF32};
    static constexpr int32_t kNbAttrs = 0;
    static constexpr AttrDef const* kAttrs = nullptr;
};
} // namespace draft_sample

namespace schedule
{
enum In : int32_t
{
    in_survivals = 0,
    in_lagged_survivals = 1,
    in_cost_table = 2,
    in_active = 3,
};
enum Out : int32_t
{
    out_verify_lengths = 0,
};
enum Attr : int32_t
{
    attr_mode = 0,
    attr_fixed_len = 1,
    attr_threshold = 2,
    attr_min_len = 3,
    attr_max_len = 4,
};
/* what the plugin class of this op inherits (PluginBase and PluginCreator read it) */
struct Op
{
    static constexpr char const* kName = "Schedule";
    static constexpr char const* kVersion = "1";
    static constexpr int32_t kNbInputs = 4;
    static constexpr int32_t kNbOutputs = 1;
    /* allowed dtypes per tensor: bit mask of kF32, kF16, kI32 */
    static constexpr uint32_t kInDtypes[] = {kF32, kF32, kF32, kI32};
    static constexpr uint32_t kOutDtypes[] = {kI32};
    static constexpr int32_t kNbAttrs = 5;
    static constexpr AttrDef kAttrs[] = {
        {"mode", true, 0.0, 3.0, 2.0},
        {"fixed_len", true, 0.0, 2147483647.0, 2147483647.0},
        {"threshold", false, 0.0, 1.0, 0.5},
        {"min_len", true, 0.0, 2147483647.0, 0.0},
        {"max_len", true, 0.0, 2147483647.0, 2147483647.0},
    };
};
} // namespace schedule

namespace verify
{
enum In : int32_t
{
    in_target_logits = 0,
    in_draft_tokens = 1,
    in_draft_q = 2,
    in_q_full = 3,
    in_draft_vocab = 4,
    in_verify_lengths = 5,
    in_uniforms = 6,
    in_temperature = 7,
    in_top_k = 8,
    in_top_p = 9,
};
enum Out : int32_t
{
    out_accepted = 0,
    out_out_tokens = 1,
};
enum Attr : int32_t
{
    attr_residual_eps = 0,
};
/* what the plugin class of this op inherits (PluginBase and PluginCreator read it) */
struct Op
{
    static constexpr char const* kName = "Verify";
    static constexpr char const* kVersion = "2";
    static constexpr int32_t kNbInputs = 10;
    static constexpr int32_t kNbOutputs = 2;
    /* allowed dtypes per tensor: bit mask of kF32, kF16, kI32 */
    static constexpr uint32_t kInDtypes[] = {kF16 | kF32, kI32, kF32, kF32, kI32, kI32, kF32, kF32, kI32, kF32};
    static constexpr uint32_t kOutDtypes[] = {kI32, kI32};
    static constexpr int32_t kNbAttrs = 1;
    static constexpr AttrDef kAttrs[] = {
        {"residual_eps", false, 0.0, 1.0, 1e-06},
    };
};
} // namespace verify

} // namespace spec
} // namespace dspark
