#version 450
// Softmax over the last dim, one invocation per row: max, sum of exp(x - max), then
// y = exp(x - max) / sum.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // cols % 4 == 0: rows start on a texel

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) writeonly buffer Y { vec4 y[]; }; // padded to 16 bytes

layout(push_constant) uniform P {
    uint rows, cols;
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
        vec4 m4 = texelFetch(X, int(t0));
        for (uint j = 1; j < n4; j++)
            m4 = max(m4, texelFetch(X, int(t0 + j)));
        const float mx = max(max(m4.x, m4.y), max(m4.z, m4.w));
        vec4 tot = vec4(0.0);
        for (uint i = 0; i < n4; i += CHUNK) {
            vec4 s = vec4(0.0);
            for (uint j = i; j < min(n4, i + CHUNK); j++)
                s += exp(texelFetch(X, int(t0 + j)) - mx);
            tot += s;
        }
        const float inv = 1.0 / ((tot.x + tot.y) + (tot.z + tot.w));
        for (uint j = 0; j < n4; j++) {
            vec4 v = exp(texelFetch(X, int(t0 + j)) - mx) * inv;
            y[t0 + j] = v;
        }
    } else {
        const uint e0 = r * p.cols;
        float mx = elem(X, e0);
        for (uint j = 1; j < p.cols; j++)
            mx = max(mx, elem(X, e0 + j));
        float tot = 0.0;
        for (uint i = 0; i < p.cols; i += CHUNK) {
            float s = 0.0;
            for (uint j = i; j < min(p.cols, i + CHUNK); j++)
                s += exp(elem(X, e0 + j) - mx);
            tot += s;
        }
        const float inv = 1.0 / tot;
        for (uint j = 0; j < p.cols; j++)
            y[(e0 + j) >> 2][(e0 + j) & 3] = exp(elem(X, e0 + j) - mx) * inv;
    }
}
