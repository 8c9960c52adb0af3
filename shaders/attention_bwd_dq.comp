#version 450
// Attention backward, step 2: P = exp(s - lse) recomputed from the saved log-sum-exp
// (FlashAttention-2), dS = P (dO.v - delta), dq = scale * sum dS k. Each invocation owns a
// register tile of QT consecutive queries of one head, so every K and V texel it fetches serves
// QT queries; the keys are walked row by row (ky, then kx). With rel pos, the row and column sums
// of dS (the gradients of the q.Rh and q.Rw terms) go to DREL, in the bias layout
// (attention_common.glsl), for attention_bwd_relq (their share of dq) and attention_bwd_drel
// (the tables' gradients); the slots that pad the queries to a multiple of 4 get zeros.
#include "attention_common.glsl"
layout(constant_id = 3) const uint WRITE_DQ = 1; // 0: only DREL is wanted
layout(constant_id = 4) const uint QT = 4;       // queries per invocation: 1, 2 or 4
const uint MAXQT = 4;

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer DO;
layout(set = 0, binding = 4) uniform samplerBuffer STATS;
layout(set = 0, binding = 5) uniform samplerBuffer BIAS; // STATS stands in without rel pos
layout(std430, set = 0, binding = 6) buffer DQ { vec4 dq[]; };
layout(std430, set = 0, binding = 7) writeonly buffer DR { float drel[]; };

// Component a of the tile's queries in a texel of the bias or statistics layout.
float part(vec4 x, uint bc, uint a) { return QT == 4 ? x[a] : x[bc + a]; }

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint q0 = (t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * QT;
    const uint kh = p.nk / p.kw, bc = q0 & 3u;
    const int bq = int(min(q0 / 4, bias_q4() - 1)); // idle lanes: any texel of the tile
    vec4 qs[MAXQT][MAXD4], g[MAXQT][MAXD4], acc[MAXQT][MAXD4];
    uint qrow[MAXQT];
    const vec4 lse4 = texelFetch(STATS, stats_texel(t, 0) + bq);
    const vec4 delta4 = texelFetch(STATS, stats_texel(t, 1) + bq);
    float lse[MAXQT], delta[MAXQT];
    [[unroll]] for (uint a = 0; a < MAXQT; a++)
        if (a < QT) {
            qrow[a] = q_token(t, min(q0 + a, p.nq - 1)); // idle slots shadow the last query
            const int orow = int(qrow[a] * p.heads * HD4 + t.h * HD4);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4) {
                    qs[a][i] = texelFetch(Q, q_texel(t, qrow[a]) + int(i)) * p.scale;
                    g[a][i] = texelFetch(DO, orow + int(i));
                    acc[a][i] = vec4(0.0);
                }
            lse[a] = part(lse4, bc, a);
            delta[a] = part(delta4, bc, a);
        }
    vec4 gw[MAXL]; // column sums of dS, component a for query a
    if (REL == 1)
        for (uint x = 0; x < p.kw; x++)
            gw[x] = vec4(0.0);
    const uint drow = uint(bias_texel(t, 0)) * 4 + q0, ds4 = bias_q4() * 4;
    for (uint y = 0; y < kh; y++) {
        const vec4 bh = REL == 1 ? texelFetch(BIAS, bias_texel(t, y) + bq) : vec4(0.0);
        vec4 gh = vec4(0.0);
        for (uint x = 0; x < p.kw; x++) {
            const uint krow = k_token_yx(t, y, x);
            vec4 k[MAXD4], v[MAXD4];
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4) {
                    k[i] = texelFetch(K, k_texel(t, krow) + int(i));
                    v[i] = texelFetch(V, v_texel(t, krow) + int(i));
                }
            const vec4 b = REL == 1 ? bh + texelFetch(BIAS, bias_texel(t, kh + x) + bq) : bh;
            vec4 dsv = vec4(0.0);
            [[unroll]] for (uint a = 0; a < MAXQT; a++)
                if (a < QT) {
                    vec4 d = vec4(0.0), e = vec4(0.0);
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4) {
                            d += qs[a][i] * k[i];
                            e += g[a][i] * v[i];
                        }
                    const float s = (d.x + d.y) + (d.z + d.w) + part(b, bc, a);
                    const float ds = exp(s - lse[a]) * (((e.x + e.y) + (e.z + e.w)) - delta[a]);
                    dsv[a] = q0 + a < p.nq ? ds : 0.0;
                    if (WRITE_DQ == 1)
                        [[unroll]] for (uint i = 0; i < MAXD4; i++)
                            if (i < HD4)
                                acc[a][i] += ds * k[i];
                }
            if (REL == 1) {
                gh += dsv;
                gw[x] += dsv;
            }
        }
        if (REL == 1)
            [[unroll]] for (uint a = 0; a < MAXQT; a++)
                if (a < QT && q0 + a < ds4)
                    drel[drow + y * ds4 + a] = gh[a];
    }
    if (WRITE_DQ == 1)
        [[unroll]] for (uint a = 0; a < MAXQT; a++)
            if (a < QT && q0 + a < p.nq) {
                const uint o = qrow[a] * p.q_rs + p.q_c0 + t.h * HD4;
                [[unroll]] for (uint i = 0; i < MAXD4; i++)
                    if (i < HD4)
                        dq[o + i] = acc[a][i] * p.scale + (p.acc0 != 0 ? dq[o + i] : vec4(0.0));
            }
    if (REL == 1)
        for (uint x = 0; x < p.kw; x++)
            [[unroll]] for (uint a = 0; a < MAXQT; a++)
                if (a < QT && q0 + a < ds4)
                    drel[drow + (kh + x) * ds4 + a] = gw[x][a];
}
