/*
 * Schedule launcher. survivals [B,G] f32, lagged_survivals [B,G] f32, cost_table [N] f32, active [B] i32
 * -> verify_lengths [B] i32. Attributes as in ops/spec.py (mode 0 fixed, 1 threshold, 2 cost).
 */
#pragma once

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

namespace dspark
{

struct ScheduleArgs
{
    int64_t B, G, N;
    int32_t mode, fixedLen, minLen, maxLen;
    float threshold;
    float const* survivals;
    float const* lagged;
    float const* costTable;
    int32_t const* active;
    int32_t* verifyLengths;
};

/* Workspace: sorted lagged survivals and their prefix sums, [B*G] floats each, plus [B] counts. */
size_t scheduleWorkspaceSize(int64_t B, int64_t G);

cudaError_t launchSchedule(ScheduleArgs const& a, void* workspace, cudaStream_t stream);

} // namespace dspark
