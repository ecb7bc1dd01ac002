/*
 * Host (g++) twins of the three ops, written in the exact order of operations of ops/reference.py:
 * sequential index-order float32 sums, a real descending sort for top-p, numpy's exp. They are what
 * the parity test compares with the numpy oracle bit for bit, and the executable statement of what
 * the CUDA kernels approximate with parallel reductions (see each plugin README, "Known limits").
 *
 * Shapes: B rows, G slots, V vocabulary, H drafter hidden, r Markov rank, N cost-table entries.
 * All float tensors are float32 here (float16 converts exactly; the C ABI caller converts).
 */
#pragma once

#include "dsparkMath.h"
#include "dsparkOpSpec.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace dspark
{
namespace host
{

using spec::kPadToken;

/* Index-order prefix sum of float weights accumulated in double (the spec's sums over a vocabulary);
 * returns the total (last element). */
inline double cumsumInto(float const* w, int64_t n, double* c)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i)
        c[i] = s = s + static_cast<double>(w[i]);
    return s;
}

/* Inverse CDF: min(count(c <= u*S), count(c < S)). */
inline int32_t sampleIndex(float const* w, int64_t n, float u)
{
    std::vector<double> c(n);
    double const total = cumsumInto(w, n, c.data());
    double const target = static_cast<double>(u) * total;
    int64_t le = 0, lt = 0;
    for (int64_t i = 0; i < n; ++i)
    {
        le += c[i] <= target;
        lt += c[i] < total;
    }
    return static_cast<int32_t>(std::min(le, lt));
}

/* filter(): q[V] from logits[V]; temperature > 0. */
inline void filterProbs(float const* logits, int64_t V, float t, int32_t topK, float topP, float* q)
{
    std::vector<float> z(V), sorted(V);
    for (int64_t i = 0; i < V; ++i)
        z[i] = logits[i] / t;
    sorted = z;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    if (topkOn(topK, V))
    {
        float const kth = sorted[topK - 1];
        for (int64_t i = 0; i < V; ++i)
        {
            if (!(z[i] >= kth))
                z[i] = -infF();
            if (!(sorted[i] >= kth))
                sorted[i] = -infF();
        }
    }
    float const m = sorted[0];
    std::vector<float> e(V);
    for (int64_t i = 0; i < V; ++i)
        e[i] = dsparkExp(z[i] - m);
    if (topPOn(topP))
    {
        std::vector<float> es(V);
        std::vector<double> c(V);
        for (int64_t i = 0; i < V; ++i)
            es[i] = dsparkExp(sorted[i] - m);
        double const total = cumsumInto(es.data(), V, c.data());
        double const target = static_cast<double>(topP) * total;
        int64_t j = 0;
        for (int64_t i = 0; i < V; ++i)
            j += c[i] < target;
        float const cut = es[std::min(j, V - 1)];
        for (int64_t i = 0; i < V; ++i)
            if (!(e[i] >= cut))
                e[i] = 0.0f;
    }
    std::vector<double> c(V);
    float const s = static_cast<float>(cumsumInto(e.data(), V, c.data()));
    for (int64_t i = 0; i < V; ++i)
        q[i] = e[i] / s;
}

inline int32_t argmaxFirst(float const* x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (x[i] > x[best])
            best = i;
    return static_cast<int32_t>(best);
}

/* Number of leading true entries. */
template <typename Pred>
inline int32_t leading(int32_t n, Pred ok)
{
    int32_t i = 0;
    while (i < n && ok(i))
        ++i;
    return i;
}

} // namespace host
} // namespace dspark
