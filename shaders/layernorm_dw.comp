#version 450
// LayerNorm weight gradient, per row block: out[blk * cols + c] (+)= sum over the rows r of block
// blk of dy[r][c] * (x[r][c] - mean[r]) * rstd[r]. Like reduce_sum_cols: the op sums the block
// partials with reduce_sum_cols. One invocation per column (4 when cols % 4 == 0).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer DY;
layout(std430, set = 0, binding = 2) readonly buffer Mean { float mean_in[]; };
layout(std430, set = 0, binding = 3) readonly buffer Rstd { float rstd_in[]; };
layout(std430, set = 0, binding = 4) buffer Out { float o[]; };

layout(push_constant) uniform P {
    uint rows, cols, block, ncg, accumulate;
} p;

void main() {
    uint gid = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
               gl_LocalInvocationID.x;
    uint nblocks = (p.rows + p.block - 1) / p.block;
    if (gid >= p.ncg * nblocks)
        return;
    uint cg = gid % p.ncg, blk = gid / p.ncg;
    uint r0 = blk * p.block, r1 = min(p.rows, r0 + p.block);
    if (VEC == 1) {
        uint c4 = p.cols >> 2;
        vec4 s = vec4(0.0);
        for (uint r = r0; r < r1; r++) {
            int t = int(r * c4 + cg);
            s += texelFetch(DY, t) * ((texelFetch(X, t) - mean_in[r]) * rstd_in[r]);
        }
        uint o0 = blk * p.cols + cg * 4;
        if (p.accumulate != 0)
            s += vec4(o[o0], o[o0 + 1], o[o0 + 2], o[o0 + 3]);
        o[o0] = s.x;
        o[o0 + 1] = s.y;
        o[o0 + 2] = s.z;
        o[o0 + 3] = s.w;
    } else {
        float s = 0.0;
        for (uint r = r0; r < r1; r++) {
            uint e = r * p.cols + cg;
            s += texelFetch(DY, int(e >> 2))[e & 3] *
                 ((texelFetch(X, int(e >> 2))[e & 3] - mean_in[r]) * rstd_in[r]);
        }
        uint o0 = blk * p.cols + cg;
        if (p.accumulate != 0)
            s += o[o0];
        o[o0] = s;
    }
}
