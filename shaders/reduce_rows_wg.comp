#version 450
// Row sums in segments, GPU style: one workgroup per (row, segment), strided coalesced loads,
// shared-memory tree reduction. Same contract as reduce_rows.comp:
// out[r * nseg + s] = scale * sum of x[r][s * seg .. min(cols, (s+1) * seg)).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256; // power of two

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform P {
    uint rows, cols, seg, nseg;
    float scale;
} p;

shared float red[WG];

void main() {
    const uint gid = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (gid >= p.rows * p.nseg) // uniform over the workgroup
        return;
    const uint r = gid / p.nseg, s = gid % p.nseg, lid = gl_LocalInvocationID.x;
    const uint start = r * p.cols + s * p.seg, len = min(p.seg, p.cols - s * p.seg);
    float acc = 0.0;
    for (uint j = lid; j < len; j += WG)
        acc += x[start + j];
    red[lid] = acc;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (lid < h)
            red[lid] += red[lid + h];
        barrier();
    }
    if (lid == 0)
        o[gid] = red[0] * p.scale;
}
