#version 450
// Attention backward, step 3: dv = sum P dO and dk = scale * sum dS q over the queries that
// attend to a key (its window, or all), with P recomputed from the saved log-sum-exp and bias
// terms and dS = P (dO.v - delta). Each invocation owns a register tile of KT consecutive keys of
// one head, so every q and dO texel it fetches serves KT keys; it walks the queries 4 at a time,
// the width of one texel of the statistics and bias layouts (attention_common.glsl). No atomics:
// each invocation owns its keys' rows.
#include "attention_common.glsl"
layout(constant_id = 3) const uint WRITE_DK = 1;
layout(constant_id = 4) const uint WRITE_DV = 1;
layout(constant_id = 5) const uint DV_IN_DK = 0; // k and v share a gradient tensor: bound once
layout(constant_id = 6) const uint KT = 2;       // keys per invocation, at most MAXKT
const uint MAXKT = 4;

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer DO;
layout(set = 0, binding = 4) uniform samplerBuffer STATS;
layout(set = 0, binding = 5) uniform samplerBuffer BIAS; // STATS stands in without rel pos
layout(std430, set = 0, binding = 6) buffer DK { vec4 dk[]; };
layout(std430, set = 0, binding = 7) buffer DV { vec4 dv[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint k0 = (t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * KT, kh = p.nk / p.kw;
    vec4 k[MAXKT][MAXD4], v[MAXKT][MAXD4], gk[MAXKT][MAXD4], gv[MAXKT][MAXD4];
    uint krow[MAXKT];
    int bh[MAXKT], bw[MAXKT]; // bias rows of the keys
    [[unroll]] for (uint c = 0; c < MAXKT; c++)
        if (c < KT) {
            const uint kc = min(k0 + c, p.nk - 1); // idle slots shadow the last key
            krow[c] = k_token(t, kc);
            const uint ky = kc / p.kw;
            bh[c] = bias_texel(t, ky);
            bw[c] = bias_texel(t, kh + kc - ky * p.kw);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4) {
                    k[c][i] = texelFetch(K, k_texel(t, krow[c]) + int(i)) * p.scale;
                    v[c][i] = texelFetch(V, v_texel(t, krow[c]) + int(i));
                    gk[c][i] = gv[c][i] = vec4(0.0);
                }
        }
    const int s0 = stats_texel(t, 0), s1 = stats_texel(t, 1);
    const uint last = q_token(t, p.nq - 1); // the padding slots shadow the last query
    uint qy = 0, qx = 0; // the query's row and column in its block, without divisions
    for (uint q4 = 0; q4 < bias_q4(); q4++) {
        const vec4 lse = texelFetch(STATS, s0 + int(q4)), delta = texelFetch(STATS, s1 + int(q4));
        vec4 b[MAXKT];
        [[unroll]] for (uint c = 0; c < MAXKT; c++)
            if (c < KT)
                b[c] = REL == 1 ? texelFetch(BIAS, bh[c] + int(q4)) +
                                      texelFetch(BIAS, bw[c] + int(q4))
                                : vec4(0.0);
        [[unroll]] for (uint a = 0; a < 4; a++) {
            const uint qi = q4 * 4 + a, qrow = qi < p.nq ? q_token_yx(t, qy, qx) : last;
            qx++;
            if (qx == p.qw) {
                qx = 0;
                qy++;
            }
            const int orow = int(qrow * p.heads * HD4 + t.h * HD4);
            vec4 q[MAXD4], g[MAXD4];
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4) {
                    q[i] = texelFetch(Q, q_texel(t, qrow) + int(i));
                    g[i] = texelFetch(DO, orow + int(i));
                }
            [[unroll]] for (uint c = 0; c < MAXKT; c++)
                if (c < KT) {
                    vec4 d = vec4(0.0), e = vec4(0.0);
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4) {
                            d += q[i] * k[c][i];
                            e += g[i] * v[c][i];
                        }
                    const float s = (d.x + d.y) + (d.z + d.w) + b[c][a];
                    const float pr = qi < p.nq ? exp(s - lse[a]) : 0.0;
                    const float ds = pr * (((e.x + e.y) + (e.z + e.w)) - delta[a]);
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4) {
                            gk[c][i] += ds * q[i];
                            gv[c][i] += pr * g[i];
                        }
                }
        }
    }
    [[unroll]] for (uint c = 0; c < MAXKT; c++)
        if (c < KT && k0 + c < p.nk) {
            const uint ok = krow[c] * p.k_rs + p.k_c0 + t.h * HD4;
            const uint ov = krow[c] * p.v_rs + p.v_c0 + t.h * HD4;
            if (WRITE_DK == 1)
                [[unroll]] for (uint i = 0; i < MAXD4; i++)
                    if (i < HD4)
                        dk[ok + i] = gk[c][i] * p.scale + (p.acc0 != 0 ? dk[ok + i] : vec4(0.0));
            if (WRITE_DV == 1) {
                if (DV_IN_DK == 1) {
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4)
                            dk[ov + i] = gv[c][i] + (p.acc1 != 0 ? dk[ov + i] : vec4(0.0));
                } else {
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4)
                            dv[ov + i] = gv[c][i] + (p.acc1 != 0 ? dv[ov + i] : vec4(0.0));
                }
            }
        }
}
