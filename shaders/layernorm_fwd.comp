#version 450
// LayerNorm forward over the last dim, one invocation per row (the fast design on lavapipe:
// texel loads vectorise, no shared memory, no barriers). Two-pass statistics: mean, then
// var = mean((x - mean)^2), as PyTorch. Also writes mean and rstd for the backward.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0;   // cols % 4 == 0: rows start on a texel
layout(constant_id = 2) const uint HAS_W = 0; // without w or b, x is bound in their place
layout(constant_id = 3) const uint HAS_B = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer W;
layout(set = 0, binding = 2) uniform samplerBuffer B;
layout(std430, set = 0, binding = 3) writeonly buffer Y { vec4 y[]; }; // padded to 16 bytes
layout(std430, set = 0, binding = 4) writeonly buffer Mean { float mean_out[]; };
layout(std430, set = 0, binding = 5) writeonly buffer Rstd { float rstd_out[]; };

layout(push_constant) uniform P {
    uint rows, cols;
    float eps;
    float inv_n; // 1 / cols, correctly rounded on the host (GPU division may be off by ulps)
} p;

const uint CHUNK = 64; // partial sums of at most CHUNK texels keep long rows accurate

float elem(samplerBuffer t, uint i) { return texelFetch(t, int(i >> 2))[i & 3]; }

void main() {
    uint r = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (r >= p.rows)
        return;
    const float inv_n = p.inv_n;
    float mean, rstd;
    if (VEC == 1) {
        const uint n4 = p.cols >> 2, t0 = r * n4;
        vec4 tot = vec4(0.0);
        for (uint i = 0; i < n4; i += CHUNK) {
            vec4 s = vec4(0.0);
            for (uint j = i; j < min(n4, i + CHUNK); j++)
                s += texelFetch(X, int(t0 + j));
            tot += s;
        }
        mean = ((tot.x + tot.y) + (tot.z + tot.w)) * inv_n;
        tot = vec4(0.0);
        for (uint i = 0; i < n4; i += CHUNK) {
            vec4 s = vec4(0.0);
            for (uint j = i; j < min(n4, i + CHUNK); j++) {
                vec4 d = texelFetch(X, int(t0 + j)) - mean;
                s += d * d;
            }
            tot += s;
        }
        rstd = 1.0 / sqrt(((tot.x + tot.y) + (tot.z + tot.w)) * inv_n + p.eps);
        for (uint j = 0; j < n4; j++) {
            vec4 v = (texelFetch(X, int(t0 + j)) - mean) * rstd;
            if (HAS_W == 1)
                v *= texelFetch(W, int(j));
            if (HAS_B == 1)
                v += texelFetch(B, int(j));
            y[t0 + j] = v;
        }
    } else {
        const uint e0 = r * p.cols;
        float tot = 0.0;
        for (uint i = 0; i < p.cols; i += CHUNK) {
            float s = 0.0;
            for (uint j = i; j < min(p.cols, i + CHUNK); j++)
                s += elem(X, e0 + j);
            tot += s;
        }
        mean = tot * inv_n;
        tot = 0.0;
        for (uint i = 0; i < p.cols; i += CHUNK) {
            float s = 0.0;
            for (uint j = i; j < min(p.cols, i + CHUNK); j++) {
                float d = elem(X, e0 + j) - mean;
                s += d * d;
            }
            tot += s;
        }
        rstd = 1.0 / sqrt(tot * inv_n + p.eps);
        for (uint j = 0; j < p.cols; j++) {
            float v = (elem(X, e0 + j) - mean) * rstd;
            if (HAS_W == 1)
                v *= elem(W, j);
            if (HAS_B == 1)
                v += elem(B, j);
            y[(e0 + j) >> 2][(e0 + j) & 3] = v;
        }
    }
    mean_out[r] = mean;
    rstd_out[r] = rstd;
}
