#version 450
// Embedding backward: dtable[v] (+)= sum over n with idx[n] == v of dy[n], as a gather per
// table entry (deterministic: always summed in n order, no atomics). One invocation per
// (v, group of 4 columns or column) scans all N indices: meant for the small N of prompt
// tokens (the op bounds N so the loop stays under lavapipe's iteration limit).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // C % 4 == 0

layout(set = 0, binding = 0) uniform samplerBuffer DY;  // [N, C]
layout(set = 0, binding = 1) uniform samplerBuffer IDX; // [N]
layout(std430, set = 0, binding = 2) buffer DT4 { vec4 dt4[]; };
layout(std430, set = 0, binding = 2) buffer DT1 { float dt1[]; };

layout(push_constant) uniform P {
    uint n, v, c;
    uint accumulate;
} p;

void main() {
    uint u = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    uint cu = VEC == 1 ? p.c / 4 : p.c;
    if (u >= p.v * cu)
        return;
    uint cg = u % cu;
    float row = float(u / cu);
    if (VEC == 1) {
        vec4 s = vec4(0.0);
        for (uint n = 0; n < p.n; n++)
            if (floor(texelFetch(IDX, int(n >> 2))[n & 3]) == row)
                s += texelFetch(DY, int(n * cu + cg));
        if (p.accumulate != 0)
            s += dt4[u];
        dt4[u] = s;
    } else {
        float s = 0.0;
        for (uint n = 0; n < p.n; n++)
            if (floor(texelFetch(IDX, int(n >> 2))[n & 3]) == row) {
                uint e = n * p.c + cg;
                s += texelFetch(DY, int(e >> 2))[e & 3];
            }
        if (p.accumulate != 0)
            s += dt1[u];
        dt1[u] = s;
    }
}
