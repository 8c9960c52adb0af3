#version 450
// y (+)= x permuted, y contiguous. The op collapses the permutation to at most 4 output dims
// d[0..3] and gives x's stride for each (s, in elements, or in vec4s when VEC: the last dim
// is kept, stride 1 and a multiple of 4). Each invocation walks CH consecutive output units,
// splitting its first index into the 4 coordinates once and then stepping with carries (no
// division per element).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CH = 64;
layout(constant_id = 2) const uint VEC = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 1) buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uvec4 d;         // output dims, outermost first
    uvec4 s;         // x's stride for each output dim
    uint n;          // output units (elements, or vec4s when VEC)
    uint accumulate; // y += instead of y =
} p;

void main() {
    uint inv = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
               gl_LocalInvocationID.x;
    uint e = inv * CH;
    if (e >= p.n)
        return;
    uint end = min(e + CH, p.n);
    uint i3 = e % p.d.w, t = e / p.d.w;
    uint i2 = t % p.d.z;
    t /= p.d.z;
    uint i1 = t % p.d.y, i0 = t / p.d.y;
    // Unsigned wrap-around is fine: every partial sum below ends at a valid offset.
    uint off = i0 * p.s.x + i1 * p.s.y + i2 * p.s.z + i3 * p.s.w;
#define STEP()                                                                                 \
    off += p.s.w;                                                                              \
    if (++i3 == p.d.w) {                                                                       \
        i3 = 0u;                                                                               \
        off += p.s.z - p.d.w * p.s.w;                                                          \
        if (++i2 == p.d.z) {                                                                   \
            i2 = 0u;                                                                           \
            off += p.s.y - p.d.z * p.s.z;                                                      \
            if (++i1 == p.d.y) {                                                               \
                i1 = 0u;                                                                       \
                off += p.s.x - p.d.y * p.s.y;                                                  \
            }                                                                                  \
        }                                                                                      \
    }
    if (VEC == 1u) {
        for (; e < end; e++) {
            vec4 v = texelFetch(X, int(off));
            if (p.accumulate != 0u)
                v += y4[e];
            y4[e] = v;
            STEP()
        }
    } else {
        // Gather 4 elements, store them as one vec4 (CH is a multiple of 4); a partial last
        // vec4 goes element by element.
        for (; e + 4u <= end; e += 4u) {
            vec4 v;
            for (uint c = 0u; c < 4u; c++) {
                v[c] = texelFetch(X, int(off >> 2))[off & 3u];
                STEP()
            }
            if (p.accumulate != 0u)
                v += y4[e >> 2];
            y4[e >> 2] = v;
        }
        for (; e < end; e++) {
            float v = texelFetch(X, int(off >> 2))[off & 3u];
            if (p.accumulate != 0u)
                v += y1[e];
            y1[e] = v;
            STEP()
        }
    }
}
