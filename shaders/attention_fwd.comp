#version 450
// Fused attention forward: scores, softmax and the weighted sum of V with an online softmax
// (running max and sum, rescaled once per block of KB keys), so the attention matrix never
// exists. Each invocation owns a register tile of QT consecutive queries of one head, so every
// K and V texel it fetches (the costly part on lavapipe: LAVAPIPE_NOTES.md) serves QT queries.
// The decomposed rel-pos bias comes precomputed per (query, head, key row / column) from
// attention_bias.comp, laid out so that one texel holds it for 4 consecutive queries: two
// fetches per key serve the whole tile. Writes the output (heads merged) and each (query, head)'s
// log-sum-exp for the backward.
#include "attention_common.glsl"
layout(constant_id = 3) const uint QT = 4; // queries per invocation: 1, 2 or 4
const uint MAXQT = 4;

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer BIAS; // Q stands in without rel pos
layout(std430, set = 0, binding = 4) writeonly buffer O { vec4 o[]; };
layout(std430, set = 0, binding = 5) writeonly buffer L { float lse[]; };

const uint KB = 8; // keys per online-softmax step

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint q0 = (t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * QT;
    vec4 qs[MAXQT][MAXD4], acc[MAXQT][MAXD4];
    uint qrow[MAXQT];
    float m[MAXQT], l[MAXQT];
    [[unroll]] for (uint a = 0; a < MAXQT; a++)
        if (a < QT) {
            qrow[a] = q_token(t, min(q0 + a, p.nq - 1)); // idle slots shadow the last query
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4) {
                    qs[a][i] = texelFetch(Q, q_texel(t, qrow[a]) + int(i)) * p.scale;
                    acc[a][i] = vec4(0.0);
                }
            m[a] = NEG;
            l[a] = 0.0;
        }
    const uint kh = p.nk / p.kw, bc = q0 & 3u; // bias component of the first query
    const int bq = int(min(q0 / 4, bias_q4() - 1)); // idle lanes: any texel of the tile
    uint ky = 0, kx = 0; // the key's row and column in its block, without divisions
    for (uint j0 = 0; j0 < p.nk; j0 += KB) {
        float s[KB][MAXQT];
        uint krow[KB];
        [[unroll]] for (uint jj = 0; jj < KB; jj++) {
            krow[jj] = k_token_yx(t, ky, kx);
            vec4 k[MAXD4];
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    k[i] = texelFetch(K, k_texel(t, krow[jj]) + int(i));
            vec4 b = vec4(0.0);
            if (REL == 1)
                b = texelFetch(BIAS, bias_texel(t, ky) + bq) +
                    texelFetch(BIAS, bias_texel(t, kh + kx) + bq);
            if (j0 + jj + 1 < p.nk) { // the tail re-reads the last key, masked
                kx++;
                if (kx == p.kw) {
                    kx = 0;
                    ky++;
                }
            }
            [[unroll]] for (uint a = 0; a < MAXQT; a++)
                if (a < QT) {
                    vec4 d = vec4(0.0);
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4)
                            d += qs[a][i] * k[i];
                    float v = (d.x + d.y) + (d.z + d.w);
                    if (REL == 1)
                        v += QT == 4 ? b[a] : b[bc + a];
                    s[jj][a] = j0 + jj < p.nk ? v : NEG;
                }
        }
        [[unroll]] for (uint a = 0; a < MAXQT; a++)
            if (a < QT) {
                float mb = NEG;
                [[unroll]] for (uint jj = 0; jj < KB; jj++)
                    mb = max(mb, s[jj][a]);
                const float mn = max(m[a], mb), corr = exp(m[a] - mn);
                l[a] *= corr;
                m[a] = mn;
                [[unroll]] for (uint i = 0; i < MAXD4; i++)
                    if (i < HD4)
                        acc[a][i] *= corr;
            }
        [[unroll]] for (uint jj = 0; jj < KB; jj++) {
            vec4 v[MAXD4];
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    v[i] = texelFetch(V, v_texel(t, krow[jj]) + int(i));
            [[unroll]] for (uint a = 0; a < MAXQT; a++)
                if (a < QT) {
                    const float pj = exp(s[jj][a] - m[a]);
                    l[a] += pj;
                    [[unroll]] for (uint i = 0; i < MAXD4; i++)
                        if (i < HD4)
                            acc[a][i] += pj * v[i];
                }
        }
    }
    [[unroll]] for (uint a = 0; a < MAXQT; a++)
        if (a < QT && q0 + a < p.nq) {
            const float inv = 1.0 / l[a];
            const uint orow = qrow[a] * p.heads * HD4 + t.h * HD4;
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    o[orow + i] = acc[a][i] * inv;
            lse[qrow[a] * p.heads + t.h] = m[a] + log(l[a]);
        }
}
