#version 450
// LayerNorm backward for x, GPU style: one workgroup per row, shared-memory reductions.
//   g = dy * w, xhat = (x - mean) * rstd,
//   dx (+)= rstd * (g - mean(g) - xhat * mean(g * xhat)).
// g is `precise` in both passes: a product fused into `g - mean(g)` in one pass but rounded in
// the other leaves its rounding error times rstd in dx (seen on NVIDIA with one column).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256; // power of two
layout(constant_id = 2) const uint HAS_W = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 3) readonly buffer Mean { float mean_in[]; };
layout(std430, set = 0, binding = 4) readonly buffer Rstd { float rstd_in[]; };
layout(std430, set = 0, binding = 5) buffer DX { float dx[]; };

layout(push_constant) uniform P {
    uint rows, cols, accumulate;
    float inv_n; // 1 / cols, correctly rounded on the host (GPU division may be off by ulps)
} p;

shared vec2 red[WG];

vec2 wg_sum(vec2 v) {
    const uint lid = gl_LocalInvocationID.x;
    red[lid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            red[lid] += red[lid + s];
        barrier();
    }
    return red[0];
}

void main() {
    const uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (r >= p.rows) // uniform over the workgroup
        return;
    const uint lid = gl_LocalInvocationID.x, e0 = r * p.cols;
    const float inv_n = p.inv_n, mean = mean_in[r], rstd = rstd_in[r];
    vec2 s = vec2(0.0);
    for (uint j = lid; j < p.cols; j += WG) {
        precise float g = dy[e0 + j];
        if (HAS_W == 1)
            g *= w[j];
        s += vec2(g, g * ((x[e0 + j] - mean) * rstd));
    }
    const vec2 m = wg_sum(s) * inv_n;
    for (uint j = lid; j < p.cols; j += WG) {
        precise float g = dy[e0 + j];
        if (HAS_W == 1)
            g *= w[j];
        float v = rstd * (g - m.x - ((x[e0 + j] - mean) * rstd) * m.y);
        dx[e0 + j] = p.accumulate != 0 ? dx[e0 + j] + v : v;
    }
}
