/*
 * libdspark_math_host.so: a C ABI over the shared math and the host op twins, for the ctypes parity
 * tests (tests/plugins/test_host_math.py). Built by g++ alone: no CUDA, no TensorRT.
 * Every function returns 0 on success and a negative value on bad arguments (no exception escapes).
 */
#include "dsparkHostOps.h"

#include <cstdint>
#include <vector>

using namespace dspark;
using namespace dspark::host;

#define DSPARK_API extern "C" __attribute__((visibility("default")))

DSPARK_API int32_t dspark_abi_version()
{
    return 1;
}

DSPARK_API void dspark_exp(float const* x, float* y, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        y[i] = dsparkExp(x[i]);
}

/* Elementwise over n counters: out = uniform(seed, request, round, stream, index), hash alongside. */
DSPARK_API void dspark_uniform(uint32_t const* seed, uint32_t const* request, uint32_t const* round,
    uint32_t const* stream, uint32_t const* index, int64_t n, uint32_t* hashOut, float* out)
{
    for (int64_t i = 0; i < n; ++i)
    {
        hashOut[i] = hashU32(seed[i], request[i], round[i], stream[i], index[i]);
        out[i] = toUniform(hashOut[i]);
    }
}

DSPARK_API void dspark_filter_probs(float const* logits, int64_t V, float t, int32_t topK, float topP, float* q)
{
    filterProbs(logits, V, t, topK, topP, q);
}

DSPARK_API int32_t dspark_sample_index(float const* w, int64_t V, float u)
{
    return sampleIndex(w, V, u);
}

/*
 * DraftSample. blockLogits [B,G,Vd], blockHidden [B,G,H], anchor [B], w1 [V,r], w2 [Vd,r], draftVocab [Vd]
 * (target ids, strictly increasing), confW [H+r], confB [1], stsTemps [G], temperature/topK/topP [B],
 * uniforms [B,G] -> draftTokens [B,G], draftQ [B,G], qFull [B,G,Vd] (over the draft vocabulary), confidences [B,G],
 * survivals [B,G].
 */
DSPARK_API int32_t dspark_draft_sample(int64_t B, int64_t G, int64_t V, int64_t Vd, int64_t H, int64_t r,
    float const* blockLogits, float const* blockHidden, int32_t const* anchor, float const* w1, float const* w2,
    int32_t const* draftVocab, float const* confW, float const* confB, float const* stsTemps,
    float const* temperature, int32_t const* topK, float const* topP, float const* uniforms, int32_t* draftTokens,
    float* draftQ, float* qFull, float* confidences, float* survivals)
{
    if (B < 0 || G < 1 || V < 1 || Vd < 1 || Vd > V || H < 0 || r < 1)
        return -1;
    for (int64_t j = 0; j < Vd; ++j)
        if (draftVocab[j] < 0 || draftVocab[j] >= V || (j > 0 && draftVocab[j] <= draftVocab[j - 1]))
            return -3;
    std::vector<float> z(Vd), qd(Vd), x(H + r);
    for (int64_t b = 0; b < B; ++b)
    {
        int64_t prev = anchor[b];
        float survival = 1.0f;
        for (int64_t k = 0; k < G; ++k)
        {
            if (prev < 0 || prev >= V)
                return -2;
            float const* e = w1 + prev * r; // [r]
            float const* logits = blockLogits + (b * G + k) * Vd;
            for (int64_t v = 0; v < Vd; ++v)
            {
                float dot = 0.0f; // Markov bias (W2 @ e)[v]
                for (int64_t j = 0; j < r; ++j)
                    dot = dot + w2[v * r + j] * e[j];
                z[v] = logits[v] + dot;
            }
            int32_t index; // into the draft vocabulary
            if (isGreedy(temperature[b]))
            {
                index = argmaxFirst(z.data(), Vd);
                for (int64_t v = 0; v < Vd; ++v)
                    qd[v] = v == index ? 1.0f : 0.0f;
            }
            else
            {
                filterProbs(z.data(), Vd, temperature[b], topK[b], topP[b], qd.data());
                index = sampleIndex(qd.data(), Vd, uniforms[b * G + k]);
            }
            float* q = qFull + (b * G + k) * Vd; // over the draft vocabulary
            for (int64_t v = 0; v < Vd; ++v)
                q[v] = qd[v];
            float dot = 0.0f; // conf_w . [hs_k ; e]
            for (int64_t j = 0; j < H; ++j)
                dot = dot + confW[j] * blockHidden[(b * G + k) * H + j];
            for (int64_t j = 0; j < r; ++j)
                dot = dot + confW[H + j] * e[j];
            float const c = sigmoidF((dot + confB[0]) / stsTemps[k]);
            survival = survival * c;
            int32_t const token = draftVocab[index];
            draftTokens[b * G + k] = token;
            draftQ[b * G + k] = qd[index];
            confidences[b * G + k] = c;
            survivals[b * G + k] = survival;
            prev = token;
        }
    }
    return 0;
}

/* Schedule. survivals/lagged [B,G], costTable [N], active [B] -> verifyLengths [B]. */
DSPARK_API int32_t dspark_schedule(int64_t B, int64_t G, int64_t N, float const* survivals, float const* lagged,
    float const* costTable, int32_t const* active, int32_t mode, int32_t fixedLen, float threshold,
    int32_t minLen, int32_t maxLen, int32_t* verifyLengths)
{
    if (B < 0 || G < 1 || N < 1 || mode < 0 || mode >= spec::kNbScheduleModes || minLen > maxLen)
        return -1;
    int64_t const lo = std::min<int64_t>(minLen, G), hi = std::min<int64_t>(maxLen, G);
    std::vector<int64_t> len(B, 0);
    if (mode == spec::kScheduleFixed)
    {
        std::fill(len.begin(), len.end(), std::min<int64_t>(fixedLen, G));
    }
    else if (mode == spec::kScheduleSurvival)
    {
        for (int64_t b = 0; b < B; ++b)
            len[b] = clampLen(leading(static_cast<int32_t>(G), [&](int32_t k) { return survivals[b * G + k] >= threshold; }),
                lo, hi);
    }
    else if (mode == spec::kScheduleThreshold) /* per-slot: !(a_k < threshold * a_{k-1}), a_{-1} = 1 */
    {
        for (int64_t b = 0; b < B; ++b)
            len[b] = clampLen(leading(static_cast<int32_t>(G),
                                  [&](int32_t k)
                                  {
                                      float const before = k == 0 ? 1.0f : survivals[b * G + k - 1];
                                      return !(survivals[b * G + k] < threshold * before);
                                  }),
                lo, hi);
    }
    else
    {
        for (int64_t n = 0; n < N; ++n)
            if (!(costTable[n] > 0.0f))
                return -3;
        int32_t rows = 0;
        std::vector<float> cand;
        for (int64_t b = 0; b < B; ++b)
            if (active[b] != 0)
            {
                ++rows;
                cand.insert(cand.end(), lagged + b * G, lagged + (b + 1) * G);
            }
        std::sort(cand.begin(), cand.end(), std::greater<float>());
        int64_t budget = 0;
        float best = -infF(), prefix = 0.0f;
        for (int64_t k = 0; k <= static_cast<int64_t>(cand.size()); ++k)
        {
            if (k > 0)
                prefix = prefix + cand[k - 1];
            int64_t const n = rows + k;
            if (n < 1 || n > N)
                continue;
            float const theta = costTheta(rows, prefix, costTable[n - 1]);
            if (theta > best)
            {
                budget = k;
                best = theta;
            }
        }
        struct Cand { float s; int32_t pos, row; };
        std::vector<Cand> all;
        for (int64_t b = 0; b < B; ++b)
            if (active[b] != 0)
                for (int64_t k = 0; k < G; ++k)
                    all.push_back({survivals[b * G + k], static_cast<int32_t>(k), static_cast<int32_t>(b)});
        std::sort(all.begin(), all.end(),
            [](Cand const& a, Cand const& c) { return rankedBefore(a.s, a.pos, a.row, c.s, c.pos, c.row); });
        for (int64_t i = 0; i < budget && i < static_cast<int64_t>(all.size()); ++i)
            ++len[all[i].row];
        for (int64_t b = 0; b < B; ++b)
            len[b] = clampLen(len[b], lo, hi);
    }
    for (int64_t b = 0; b < B; ++b)
        verifyLengths[b] = active[b] != 0 ? static_cast<int32_t>(len[b]) : 0;
    return 0;
}

/*
 * Verify. targetLogits [B,G+1,V], draftTokens [B,G], draftQ [B,G], qFull [B,G,Vq] over the target ids
 * draftVocab [Vq] (q is 0 at every other id), verifyLengths [B], uniforms [B,2G+1], temperature/topK/topP [B]
 * -> accepted [B], outTokens [B,G+1].
 */
DSPARK_API int32_t dspark_verify(int64_t B, int64_t G, int64_t V, int64_t Vq, float const* targetLogits,
    int32_t const* draftTokens, float const* draftQ, float const* qFull, int32_t const* draftVocab,
    int32_t const* verifyLengths,
    float const* uniforms, float const* temperature, int32_t const* topK, float const* topP, float residualEps,
    int32_t* accepted, int32_t* outTokens)
{
    if (B < 0 || G < 0 || V < 1) /* G = 0: a plain decode step */
        return -1;
    std::vector<float> p(V), res(V);
    std::vector<double> c(V);
    for (int64_t b = 0; b < B; ++b)
    {
        float const* logits = targetLogits + b * (G + 1) * V;
        int32_t const* d = draftTokens + b * G;
        float const* u = uniforms + b * (2 * G + 1);
        int32_t const nVer = clampLen(verifyLengths[b], 0, G);
        int32_t n = 0, token = 0;
        if (isGreedy(temperature[b]))
        {
            n = leading(nVer, [&](int32_t i) { return d[i] == argmaxFirst(logits + i * V, V); });
            token = argmaxFirst(logits + n * V, V);
        }
        else
        {
            /* a [B, G, 1] and [1] dummy q_full and draft_vocab are fine when no draft is verified */
            for (int64_t j = 0; j < Vq && nVer > 0; ++j)
                if (draftVocab[j] < 0 || draftVocab[j] >= V || (j > 0 && draftVocab[j] <= draftVocab[j - 1]))
                    return -3;
            n = nVer;
            bool rejected = false;
            for (int32_t i = 0; i < nVer && !rejected; ++i)
            {
                filterProbs(logits + i * V, V, temperature[b], topK[b], topP[b], p.data());
                if (d[i] < 0 || d[i] >= V)
                    return -2;
                if (acceptDraft(p[d[i]], draftQ[b * G + i], u[i]))
                    continue;
                float const* q = qFull + (b * G + i) * Vq;
                for (int64_t v = 0; v < V; ++v)
                    res[v] = residualWeight(p[v], 0.0f); /* q is 0 outside the draft vocabulary */
                for (int64_t j = 0; j < Vq; ++j)
                    res[draftVocab[j]] = residualWeight(p[draftVocab[j]], q[j]);
                bool const useRes = cumsumInto(res.data(), V, c.data()) > residualEps;
                token = sampleIndex(useRes ? res.data() : p.data(), V, u[G + i]);
                n = i;
                rejected = true;
            }
            if (!rejected)
            {
                filterProbs(logits + nVer * V, V, temperature[b], topK[b], topP[b], p.data());
                token = sampleIndex(p.data(), V, u[2 * G]);
            }
        }
        accepted[b] = n;
        for (int64_t i = 0; i <= G; ++i)
            outTokens[b * (G + 1) + i] = i < n ? d[i] : (i == n ? token : kPadToken);
    }
    return 0;
}
