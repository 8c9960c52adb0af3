#version 450
// Row sums in segments: out[r * nseg + s] = scale * sum of x[r][s * seg .. min(cols, (s+1) * seg)).
// One invocation per (row, segment); a segment is summed in chunks of CHUNK texels so it stays
// accurate. Segments keep each invocation's loop short: lavapipe silently ends a shader's loops
// after about 65535 iterations in all. The op sums the segment partials with another pass.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // cols % 4 == 0 and seg % 4 == 0: texel-aligned

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform P {
    uint rows, cols, seg, nseg;
    float scale;
} p;

const uint CHUNK = 64;

void main() {
    const uint gid = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) *
                         gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (gid >= p.rows * p.nseg)
        return;
    const uint r = gid / p.nseg, s = gid % p.nseg;
    const uint start = r * p.cols + s * p.seg, len = min(p.seg, p.cols - s * p.seg);
    float total;
    if (VEC == 1) {
        const uint t0 = start >> 2, nf = len >> 2, rem = len & 3;
        vec4 tot = vec4(0.0);
        for (uint i = 0; i < nf; i += CHUNK) {
            vec4 acc = vec4(0.0);
            const uint e = min(nf, i + CHUNK);
            for (uint j = i; j < e; j++)
                acc += texelFetch(X, int(t0 + j));
            tot += acc;
        }
        if (rem != 0) // select, not multiply: the padding may hold NaN
            tot += mix(vec4(0.0), texelFetch(X, int(t0 + nf)),
                       lessThan(uvec4(0, 1, 2, 3), uvec4(rem)));
        total = (tot.x + tot.y) + (tot.z + tot.w);
    } else {
        total = 0.0;
        for (uint i = 0; i < len; i += CHUNK) {
            float acc = 0.0;
            const uint e = min(len, i + CHUNK);
            for (uint j = i; j < e; j++) {
                const uint k = start + j;
                acc += texelFetch(X, int(k >> 2))[k & 3];
            }
            total += acc;
        }
    }
    o[gid] = total * p.scale;
}
