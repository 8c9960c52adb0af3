#version 450
// Embedding lookup: y[n] = table[floor(idx[n])] (a row of C floats); idx holds indices as floats.
// An index outside [0, V) gives a zero row. One invocation copies one row.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // C % 4 == 0

layout(set = 0, binding = 0) uniform samplerBuffer T;   // table [V, C]
layout(set = 0, binding = 1) uniform samplerBuffer IDX; // [N]
layout(std430, set = 0, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uint n, v, c;
} p;

void main() {
    uint n = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (n >= p.n)
        return;
    float fi = texelFetch(IDX, int(n >> 2))[n & 3];
    bool ok = fi >= 0.0 && fi < float(p.v);
    uint src = uint(ok ? fi : 0.0) * p.c, dst = n * p.c;
    if (VEC == 1) {
        for (uint j = 0; j < p.c / 4; j++)
            y4[dst / 4 + j] = ok ? texelFetch(T, int(src / 4 + j)) : vec4(0.0);
    } else {
        for (uint j = 0; j < p.c; j++) {
            uint e = src + j;
            y1[dst + j] = ok ? texelFetch(T, int(e >> 2))[e & 3] : 0.0;
        }
    }
}
