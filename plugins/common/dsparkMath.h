/*
 * Shared per-element and per-row math of the DSpark ops, compiled both by nvcc (device and host) and by
 * g++ (the host library the parity tests load). The single semantic definition is
 * dspark_compile/ops/spec.py (SEMANTICS) and its numpy oracle ops/reference.py; this file is checked
 * against them bit for bit by tests/plugins/test_host_math.py.
 *
 * Bit-reproducibility rules (why the code looks the way it does):
 *  - every float operation is float32 and written out; fused multiply-adds appear only where numpy's
 *    own kernel uses them (dsparkExp). Build with -ffp-contract=off (g++) / --fmad=false (nvcc) so the
 *    compiler adds none.
 *  - exp is numpy's float32 SIMD exp (Cody-Waite reduction + P5/Q2 rational, numpy's constants), not
 *    libm's or CUDA's expf: np.exp differs from glibc expf in about a third of all inputs, and the
 *    reference calls np.exp.
 *  - the counter hash is integer-only and matches ops/rng.py exactly.
 */
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define DSPARK_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#include <string.h>
#define DSPARK_HD inline
#endif

namespace dspark
{

DSPARK_HD float bitsToFloat(uint32_t b)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
#endif
}

DSPARK_HD uint32_t floatToBits(float f)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
#endif
}

DSPARK_HD float fmaF(float a, float b, float c)
{
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(a, b, c);
#else
    return fmaf(a, b, c);
#endif
}

DSPARK_HD float ldexpF(float x, int e)
{
    return ldexpf(x, e); // exact (correctly rounded into the subnormal range) on host and device
}

DSPARK_HD float infF() { return bitsToFloat(0x7F800000u); }
DSPARK_HD bool isNanF(float x) { return x != x; }

/* numpy's float32 exp (loops_exponent_log.dispatch.c.src, AVX2/AVX512F kernels), scalar form. */
DSPARK_HD float dsparkExp(float x)
{
    if (isNanF(x))
        return x;
    if (x >= bitsToFloat(0x42B17218u)) // 88.72283935546875f
        return infF();
    if (x <= bitsToFloat(0xC2CFF1B5u)) // -103.97208404541015625f
        return 0.0f;
    float const magic = bitsToFloat(0x4B400000u); // 0x1.8p23: (q + magic) - magic rounds to nearest even
    float q = x * bitsToFloat(0x3FB8AA3Bu);       // log2(e)
    q = (q + magic) - magic;
    float r = fmaF(q, bitsToFloat(0xBF317200u), x); // Cody-Waite: -ln2 high part
    r = fmaF(q, bitsToFloat(0xB5BFBE8Eu), r);       //             -ln2 low part
    r = fmaF(q, 0.0f, r);                           // numpy's third step (c3 = 0) kept for -0.0 parity
    float num = fmaF(bitsToFloat(0x3A053DD8u), r, bitsToFloat(0x3BDD7159u));
    num = fmaF(num, r, bitsToFloat(0x3D517D8Cu));
    num = fmaF(num, r, bitsToFloat(0x3E7D4C58u));
    num = fmaF(num, r, bitsToFloat(0x3F39CBD5u));
    num = fmaF(num, r, bitsToFloat(0x3F800000u));
    float den = fmaF(bitsToFloat(0x3CB0E832u), r, bitsToFloat(0xBE8C6857u));
    den = fmaF(den, r, bitsToFloat(0x3F800000u));
    return ldexpF(num / den, static_cast<int>(q)); // scalef: poly * 2^q, correctly rounded
}

/* 1 / (1 + exp(-x)), as ops/reference.py sigmoid. */
DSPARK_HD float sigmoidF(float x)
{
    return 1.0f / (1.0f + dsparkExp(-x));
}

/* ---------------------------------------------------------------- counter-based uniforms (ops/rng.py) */

enum RngStream : uint32_t
{
    kStreamDraft = 0,
    kStreamAccept = 1,
    kStreamResidual = 2,
    kStreamBonus = 3,
};

DSPARK_HD uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* MurmurHash3_x86_32 of the 16 little-endian bytes (request, round, stream, index) with seed `seed`. */
DSPARK_HD uint32_t hashU32(uint32_t seed, uint32_t request, uint32_t round, uint32_t stream, uint32_t index)
{
    uint32_t const blocks[4] = {request, round, stream, index};
    uint32_t h = seed;
    for (int i = 0; i < 4; ++i)
    {
        uint32_t k = blocks[i] * 0xCC9E2D51u;
        k = rotl32(k, 15) * 0x1B873593u;
        h = rotl32(h ^ k, 13) * 5u + 0xE6546B64u;
    }
    h ^= 16u;
    h = (h ^ (h >> 16)) * 0x85EBCA6Bu;
    h = (h ^ (h >> 13)) * 0xC2B2AE35u;
    return h ^ (h >> 16);
}

/* Top 24 bits times 2^-24: exact in float32, in [0, 1 - 2^-24]. */
DSPARK_HD float toUniform(uint32_t h)
{
    return static_cast<float>(h >> 8) * bitsToFloat(0x33800000u); // 2^-24
}

DSPARK_HD float uniformAt(uint32_t seed, uint32_t request, uint32_t round, uint32_t stream, uint32_t index)
{
    return toUniform(hashU32(seed, request, round, stream, index));
}

/* ---------------------------------------------------------------- order-preserving float keys */

/* Maps float32 to uint32 so that a < b (as floats, -0 == +0 aside) iff key(a) < key(b). Used by the
 * radix selects that find the top-k and top-p cut values without sorting. */
DSPARK_HD uint32_t orderKey(float f)
{
    uint32_t b = floatToBits(f);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

DSPARK_HD float keyToFloat(uint32_t k)
{
    return bitsToFloat((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

/* ---------------------------------------------------------------- per-element pieces of filter/verify */

/* Step 1-2 of filter(): z/t, or -inf when top-k is on and z/t is below the k-th largest value. */
DSPARK_HD float scaledLogit(float logit, float temperature, bool topkOn, float kth)
{
    float z = logit / temperature;
    return (topkOn && z < kth) ? -infF() : z;
}

DSPARK_HD bool topkOn(int32_t topK, int64_t vocab)
{
    return topK > 0 && static_cast<int64_t>(topK) < vocab;
}

DSPARK_HD bool topPOn(float topP)
{
    return topP < 1.0f;
}

/* Lossless accept test without division: accept iff p >= q or u*q < p (never accepts p == 0). */
DSPARK_HD bool acceptDraft(float pOfDraft, float qOfDraft, float u)
{
    return pOfDraft >= qOfDraft || u * qOfDraft < pOfDraft;
}

DSPARK_HD float residualWeight(float p, float q)
{
    float d = p - q;
    return d > 0.0f ? d : 0.0f;
}

/* Sampling rows draw; rows with temperature <= 0 are greedy. */
DSPARK_HD bool isGreedy(float temperature)
{
    return !(temperature > 0.0f);
}

/* ---------------------------------------------------------------- Schedule pieces */

/* Expected accepted tokens per unit time of a verify batch of R rows plus k drafts (sum = prefix[k]). */
DSPARK_HD float costTheta(int32_t rows, float prefixSum, float cost)
{
    return (static_cast<float>(rows) + prefixSum) / cost;
}

DSPARK_HD int32_t clampLen(int64_t len, int64_t lo, int64_t hi)
{
    return static_cast<int32_t>(len < lo ? lo : (len > hi ? hi : len));
}

/* Ranking of Schedule candidates: higher survival first, then lower position, then lower row. */
DSPARK_HD bool rankedBefore(float sa, int32_t posA, int32_t rowA, float sb, int32_t posB, int32_t rowB)
{
    if (sa != sb)
        return sa > sb;
    if (posA != posB)
        return posA < posB;
    return rowA < rowB;
}

} // namespace dspark
