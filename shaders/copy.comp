#version 450
// dst[i] = src[i] (or dst[i] += src[i] when accumulating).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer S { float src[]; };
layout(std430, set = 0, binding = 1) buffer D { float dst[]; };
layout(push_constant) uniform P {
    uint n;
    uint accumulate;
} p;

void main() {
    uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u +
             gl_LocalInvocationID.x;
    if (i >= p.n) return;
    float v = src[i];
    dst[i] = p.accumulate != 0u ? dst[i] + v : v;
}
