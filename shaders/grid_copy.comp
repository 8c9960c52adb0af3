#version 450
// y[b][oy][ox][c] (+)= (oy < in_h && ox < in_w) ? x[b][oy][ox][c] : 0, on channels-last grids:
// pads (output larger, zeros outside) and crops (output smaller) in one kernel. With VEC, C is
// a multiple of 4 and whole vec4s move (texel reads). Each invocation handles CH units.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CH = 16;
layout(constant_id = 2) const uint VEC = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X4;
layout(std430, set = 0, binding = 1) readonly buffer X1 { float x1[]; };
layout(std430, set = 0, binding = 2) buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 2) buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uint c;          // channels per token (in vec4s when VEC)
    uint in_h, in_w; // input grid
    uint out_h, out_w;
    uint n;          // output units: batch * out_h * out_w * c
    uint accumulate;
} p;

void main() {
    uint inv = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
               gl_LocalInvocationID.x;
    uint e = inv * CH;
    if (e >= p.n)
        return;
    uint end = min(e + CH, p.n);
    uint ci = e % p.c, t = e / p.c;
    uint ox = t % p.out_w;
    t /= p.out_w;
    uint oy = t % p.out_h, b = t / p.out_h;
    for (; e < end; e++) {
        bool inside = oy < p.in_h && ox < p.in_w;
        uint src = ((b * p.in_h + oy) * p.in_w + ox) * p.c + ci;
        if (VEC != 0u) {
            vec4 v = inside ? texelFetch(X4, int(src)) : vec4(0.0);
            y4[e] = p.accumulate != 0u ? y4[e] + v : v;
        } else {
            float v = inside ? x1[src] : 0.0;
            y1[e] = p.accumulate != 0u ? y1[e] + v : v;
        }
        if (++ci == p.c) {
            ci = 0u;
            if (++ox == p.out_w) {
                ox = 0u;
                if (++oy == p.out_h) {
                    oy = 0u;
                    b++;
                }
            }
        }
    }
}
