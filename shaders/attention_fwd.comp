#version 450
// Fused attention forward, one invocation per (query, head): scores, softmax and the weighted sum
// of V with an online softmax (running max and sum, rescaled once per block of KB keys), so the
// attention matrix never exists. Optional decomposed rel-pos bias: the q.Rh and q.Rw terms of a
// query are computed once (kh + kw dots, unscaled q), then looked up per key. Writes the output
// (heads merged) and each (query, head)'s log-sum-exp for the backward.
#include "attention_common.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer RH; // Q stands in without rel pos
layout(set = 0, binding = 4) uniform samplerBuffer RW;
layout(std430, set = 0, binding = 5) writeonly buffer O { vec4 o[]; };
layout(std430, set = 0, binding = 6) writeonly buffer L { float lse[]; };

const uint KB = 8; // keys per online-softmax step

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint qc = min(qi, p.nq - 1); // idle lanes shadow the last query, write nothing
    const uint qrow = q_token(t, qc);
    const uint qy = qc / p.qw, qx = qc - qy * p.qw;
    vec4 q[MAXD4], qs[MAXD4], acc[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4) {
            q[i] = texelFetch(Q, q_texel(t, qrow) + int(i));
            qs[i] = q[i] * p.scale; // PyTorch scales q before q @ k^T
            acc[i] = vec4(0.0);
        }
    const uint kh = p.nk / p.kw;
    float bh[MAXL], bw[MAXL];
    if (REL == 1) {
        for (uint y = 0; y < kh; y++) {
            const int r = (int(qy) - int(y) + int(p.lh)) * int(HD4);
            vec4 s = vec4(0.0);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    s += q[i] * texelFetch(RH, r + int(i));
            bh[y] = (s.x + s.y) + (s.z + s.w);
        }
        for (uint x = 0; x < p.kw; x++) {
            const int r = (int(qx) - int(x) + int(p.lw)) * int(HD4);
            vec4 s = vec4(0.0);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    s += q[i] * texelFetch(RW, r + int(i));
            bw[x] = (s.x + s.y) + (s.z + s.w);
        }
    }
    float m = NEG, l = 0.0;
    for (uint j0 = 0; j0 < p.nk; j0 += KB) {
        float s[KB];
        uint krow[KB];
        float mb = NEG;
        [[unroll]] for (uint jj = 0; jj < KB; jj++) {
            const uint j = min(j0 + jj, p.nk - 1); // the tail re-reads the last key, masked
            krow[jj] = k_token(t, j);
            vec4 d = vec4(0.0);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    d += qs[i] * texelFetch(K, k_texel(t, krow[jj]) + int(i));
            float v = (d.x + d.y) + (d.z + d.w);
            if (REL == 1) {
                const uint y = j / p.kw;
                v += bh[y] + bw[j - y * p.kw];
            }
            s[jj] = j0 + jj < p.nk ? v : NEG;
            mb = max(mb, s[jj]);
        }
        const float mn = max(m, mb), corr = exp(m - mn);
        l *= corr;
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                acc[i] *= corr;
        [[unroll]] for (uint jj = 0; jj < KB; jj++) {
            const float pj = exp(s[jj] - mn);
            l += pj;
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    acc[i] += pj * texelFetch(V, v_texel(t, krow[jj]) + int(i));
        }
        m = mn;
    }
    if (qi >= p.nq)
        return;
    const float inv = 1.0 / l;
    const uint orow = qrow * p.heads * HD4 + t.h * HD4;
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            o[orow + i] = acc[i] * inv;
    lse[qrow * p.heads + t.h] = m + log(l);
}
