#version 450
// Attention backward, gradient of a rel-pos table (AXIS 0: rel_pos_h, 1: rel_pos_w). Row r of
// the table met query (row, head) at key row ky = qy + L - 1 - r (qy: the query's y, or x, inside
// its window or grid): dR[r] = sum over queries and heads of dRel[query, head][ky] * q. One
// invocation per (block of p.aux query tokens, r) gathers instead of scattering (no atomics);
// with several blocks the partial sums [block][2L-1][head_dim] are summed by ve_sum_cols_node.
// Push constants reused: nq = 2L - 1 (table rows), nk = query tokens in all, nb = blocks, aux =
// tokens per block, kw = DREL's rows per (image, window, head): kh + kw, v_c0 = this axis's first
// row of them.
#include "attention_common.glsl"
layout(constant_id = 3) const uint AXIS = 0;

layout(set = 0, binding = 0) uniform samplerBuffer DREL; // the bias layout: texel reads
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
    // The token's grid coordinates, window and place in it, kept as counters while walking the
    // rows: lavapipe scalarises integer division lane by lane.
    const uint grid_h = p.q_tokens / p.grid_w, ww = p.win != 0 ? p.win : p.grid_w;
    const uint wh = p.win != 0 ? p.win : grid_h;
    const uint tok0 = row0 % p.q_tokens, gy0 = tok0 / p.grid_w, gx0 = tok0 - gy0 * p.grid_w;
    uint b = row0 / p.q_tokens, gx = gx0, gy = gy0;
    uint cx = gx0 % ww, wx = gx0 / ww, cy = gy0 % wh, wy = gy0 / wh;
    const int lax = int(AXIS == 0 ? p.lh : p.lw), klen = lax + 1; // key rows (or columns) = L
    for (uint row = row0; row < row1; row++) {
        const int kk = int(AXIS == 0 ? cy : cx) + lax - int(r);
        if (kk >= 0 && kk < klen) {
            // The query's (image, window) and index in it, for DREL's bias layout.
            const uint qi = cy * ww + cx, bw0 = (b * p.nwin + wy * p.nwx + wx) * p.heads;
            for (uint h = 0; h < p.heads; h++) {
                const int dt = int(((bw0 + h) * p.kw + p.v_c0 + uint(kk)) * p.bq4 + qi / 4);
                const float w = texelFetch(DREL, dt)[qi & 3];
                const int qt = int(row * p.q_rs + p.q_c0 + h * HD4);
                [[unroll]] for (uint i = 0; i < MAXD4; i++)
                    if (i < HD4)
                        acc[i] += w * texelFetch(Q, qt + int(i));
            }
        }
        gx++;
        cx++;
        if (cx == ww) {
            cx = 0;
            wx++;
        }
        if (gx == p.grid_w) {
            gx = cx = wx = 0;
            gy++;
            cy++;
            if (cy == wh) {
                cy = 0;
                wy++;
            }
            if (gy == grid_h) {
                gy = cy = wy = 0;
                b++;
            }
        }
    }
    const uint o0 = id * HD4;
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            o[o0 + i] = acc[i] + (p.acc0 != 0 ? o[o0 + i] : vec4(0.0));
}
