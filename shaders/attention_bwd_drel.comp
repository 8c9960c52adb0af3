#version 450
// Attention backward, gradient of a rel-pos table (AXIS 0: rel_pos_h, 1: rel_pos_w). Row r of
// the table met query (row, head) at key row ky = qy + L - 1 - r (qy: the query's y, or x, inside
// its window or grid): dR[r] = sum over queries and heads of dRel[query, head][ky] * q. One
// invocation per (block of p.aux query tokens, r) gathers instead of scattering (no atomics);
// with several blocks the partial sums [block][2L-1][head_dim] are summed by ve_sum_cols_node.
// Push constants reused: nq = 2L - 1 (table rows), nk = query tokens in all, nb = blocks, aux =
// tokens per block, kw = DREL's row length (kh + kw), v_c0 = this axis's first column in DREL.
#include "attention_common.glsl"
layout(constant_id = 3) const uint AXIS = 0;

layout(std430, set = 0, binding = 0) readonly buffer DR { float drel[]; };
layout(set = 0, binding = 1) uniform samplerBuffer Q;
layout(std430, set = 0, binding = 2) buffer O { vec4 o[]; };

void main() {
    const uint id = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) *
                    gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (id >= p.nq * p.nb)
        return;
    const uint r = id % p.nq, blk = id / p.nq;
    vec4 acc[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            acc[i] = vec4(0.0);
    const uint row0 = blk * p.aux, row1 = min(row0 + p.aux, p.nk);
    for (uint row = row0; row < row1; row++) {
        const uint tok = row % p.q_tokens, gy = tok / p.grid_w, gx = tok - gy * p.grid_w;
        const uint c = AXIS == 0 ? gy : gx; // coordinate inside the grid
        const int qc = int(p.win != 0 ? c % p.win : c);
        const int kk = qc + int(AXIS == 0 ? p.lh : p.lw) - int(r);
        const int klen = int(AXIS == 0 ? p.lh : p.lw) + 1; // key rows (or columns) = L
        if (kk < 0 || kk >= klen)
            continue;
        for (uint h = 0; h < p.heads; h++) {
            const float w = drel[(row * p.heads + h) * p.kw + p.v_c0 + kk];
            const int qt = int(row * p.q_rs + p.q_c0 + h * HD4);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    acc[i] += w * texelFetch(Q, qt + int(i));
        }
    }
    const uint o0 = id * HD4;
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            o[o0 + i] = acc[i] + (p.acc0 != 0 ? o[o0 + i] : vec4(0.0));
}
