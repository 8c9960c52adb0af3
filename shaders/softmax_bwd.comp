#version 450
// Softmax backward, one invocation per row: dx (+)= y * (dy - sum(dy * y)).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // cols % 4 == 0

layout(set = 0, binding = 0) uniform samplerBuffer Y;
layout(set = 0, binding = 1) uniform samplerBuffer DY;
layout(std430, set = 0, binding = 2) buffer DX { vec4 dx[]; }; // padded to 16 bytes

layout(push_constant) uniform P {
    uint rows, cols, accumulate;
} p;

const uint CHUNK = 64;

float elem(samplerBuffer t, uint i) { return texelFetch(t, int(i >> 2))[i & 3]; }

void main() {
    uint r = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (r >= p.rows)
        return;
    if (VEC == 1) {
        const uint n4 = p.cols >> 2, t0 = r * n4;
        vec4 tot = vec4(0.0);
        for (uint i = 0; i < n4; i += CHUNK) {
            vec4 s = vec4(0.0);
            for (uint j = i; j < min(n4, i + CHUNK); j++)
                s += texelFetch(DY, int(t0 + j)) * texelFetch(Y, int(t0 + j));
            tot += s;
        }
        const float dot = (tot.x + tot.y) + (tot.z + tot.w);
        for (uint j = 0; j < n4; j++) {
            vec4 v = texelFetch(Y, int(t0 + j)) * (texelFetch(DY, int(t0 + j)) - dot);
            if (p.accumulate != 0)
                v += dx[t0 + j];
            dx[t0 + j] = v;
        }
    } else {
        const uint e0 = r * p.cols;
        float tot = 0.0;
        for (uint i = 0; i < p.cols; i += CHUNK) {
            float s = 0.0;
            for (uint j = i; j < min(p.cols, i + CHUNK); j++)
                s += elem(DY, e0 + j) * elem(Y, e0 + j);
            tot += s;
        }
        for (uint j = 0; j < p.cols; j++) {
            float v = elem(Y, e0 + j) * (elem(DY, e0 + j) - tot);
            uint e = e0 + j;
            dx[e >> 2][e & 3] = p.accumulate != 0 ? dx[e >> 2][e & 3] + v : v;
        }
    }
}
