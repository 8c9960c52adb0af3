#version 450
// Softmax backward, GPU style: one workgroup per row, dx (+)= y * (dy - sum(dy * y)).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256; // power of two

layout(std430, set = 0, binding = 0) readonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) buffer DX { float dx[]; };

layout(push_constant) uniform P {
    uint rows, cols, accumulate;
} p;

shared float red[WG];

void main() {
    const uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (r >= p.rows) // uniform over the workgroup
        return;
    const uint lid = gl_LocalInvocationID.x, e0 = r * p.cols;
    float s = 0.0;
    for (uint j = lid; j < p.cols; j += WG)
        s += dy[e0 + j] * y[e0 + j];
    red[lid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (lid < h)
            red[lid] += red[lid + h];
        barrier();
    }
    const float dot = red[0];
    for (uint j = lid; j < p.cols; j += WG) {
        float v = y[e0 + j] * (dy[e0 + j] - dot);
        dx[e0 + j] = p.accumulate != 0 ? dx[e0 + j] + v : v;
    }
}
