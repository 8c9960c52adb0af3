#version 450
// out[blk * cols + c] (+)= sum of x[r][c] over the rows r of row block blk.
// Rows are summed in blocks so no float sum has more than `block` terms; the op sums the
// per-block partials with a second dispatch of this kernel. One invocation per column (or per 4
// columns when cols % 4 == 0: aligned vec4 texel loads, adjacent lanes read adjacent texels).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) buffer Out { float o[]; };

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
        for (uint r = r0; r < r1; r++)
            s += texelFetch(X, int(r * c4 + cg));
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
            s += texelFetch(X, int(e >> 2))[e & 3];
        }
        uint o0 = blk * p.cols + cg;
        if (p.accumulate != 0)
            s += o[o0];
        o[o0] = s;
    }
}
