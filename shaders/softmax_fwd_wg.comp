#version 450
// Softmax over the last dim, GPU style (also lavapipe's choice for rows too long for one
// invocation): one workgroup per row, shared-memory reductions for the max and the sum.
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256; // power of two

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
    uint rows, cols;
} p;

shared float red[WG];

void main() {
    const uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (r >= p.rows) // uniform over the workgroup
        return;
    const uint lid = gl_LocalInvocationID.x, e0 = r * p.cols;
    float m = uintBitsToFloat(0xff800000u); // -inf
    for (uint j = lid; j < p.cols; j += WG)
        m = max(m, x[e0 + j]);
    red[lid] = m;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (lid < h)
            red[lid] = max(red[lid], red[lid + h]);
        barrier();
    }
    const float mx = red[0];
    barrier(); // red is reused below
    float s = 0.0;
    for (uint j = lid; j < p.cols; j += WG)
        s += exp(x[e0 + j] - mx);
    red[lid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (lid < h)
            red[lid] += red[lid + h];
        barrier();
    }
    const float inv = 1.0 / red[0];
    for (uint j = lid; j < p.cols; j += WG)
        y[e0 + j] = exp(x[e0 + j] - mx) * inv;
}
