#version 450
// Attention backward, step 2, one invocation per (query, head), walking the query's keys:
// P = exp(s - lse) recomputed from the saved log-sum-exp (FlashAttention-2), dS = P (dO.v - delta),
// dq = scale * sum dS k. With rel pos, the row and column sums of dS (the gradients of the
// q.Rh and q.Rw terms) go to DREL for attention_bwd_relq (their share of dq) and
// attention_bwd_drel (the tables' gradients).
#include "attention_common.glsl"
layout(constant_id = 3) const uint WRITE_DQ = 1; // 0: only DREL is wanted

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer DO;
layout(std430, set = 0, binding = 4) readonly buffer S { vec2 stats[]; };
layout(std430, set = 0, binding = 5) readonly buffer B { float bias[]; };
layout(std430, set = 0, binding = 6) buffer DQ { vec4 dq[]; };
layout(std430, set = 0, binding = 7) writeonly buffer DR { float drel[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint qc = min(qi, p.nq - 1); // idle lanes shadow the last query, write nothing
    const uint qrow = q_token(t, qc), rh = qrow * p.heads + t.h, kh = p.nk / p.kw;
    const int orow = int(qrow * p.heads * HD4 + t.h * HD4);
    vec4 qs[MAXD4], g[MAXD4], acc[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4) {
            qs[i] = texelFetch(Q, q_texel(t, qrow) + int(i)) * p.scale;
            g[i] = texelFetch(DO, orow + int(i));
            acc[i] = vec4(0.0);
        }
    const vec2 st = stats[rh];
    float bh[MAXL], bw[MAXL], gh[MAXL], gw[MAXL];
    if (REL == 1) {
        const uint b0 = rh * (kh + p.kw);
        for (uint y = 0; y < kh; y++) {
            bh[y] = bias[b0 + y];
            gh[y] = 0.0;
        }
        for (uint x = 0; x < p.kw; x++) {
            bw[x] = bias[b0 + kh + x];
            gw[x] = 0.0;
        }
    }
    for (uint j = 0; j < p.nk; j++) {
        const uint krow = k_token(t, j);
        vec4 d = vec4(0.0), e = vec4(0.0), k[MAXD4];
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4) {
                k[i] = texelFetch(K, k_texel(t, krow) + int(i));
                d += qs[i] * k[i];
                e += g[i] * texelFetch(V, v_texel(t, krow) + int(i));
            }
        float s = (d.x + d.y) + (d.z + d.w);
        const uint y = j / p.kw, x = j - y * p.kw;
        if (REL == 1)
            s += bh[y] + bw[x];
        const float ds = exp(s - st.x) * (((e.x + e.y) + (e.z + e.w)) - st.y);
        if (WRITE_DQ == 1)
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    acc[i] += ds * k[i];
        if (REL == 1) {
            gh[y] += ds;
            gw[x] += ds;
        }
    }
    if (qi >= p.nq)
        return;
    if (WRITE_DQ == 1) {
        const uint o = qrow * p.q_rs + p.q_c0 + t.h * HD4;
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                dq[o + i] = acc[i] * p.scale + (p.acc0 != 0 ? dq[o + i] : vec4(0.0));
    }
    if (REL == 1) {
        const uint b0 = rh * (kh + p.kw);
        for (uint y = 0; y < kh; y++)
            drel[b0 + y] = gh[y];
        for (uint x = 0; x < p.kw; x++)
            drel[b0 + kh + x] = gw[x];
    }
}
