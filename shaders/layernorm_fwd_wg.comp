#version 450
// LayerNorm forward, GPU style: one workgroup per row, strided coalesced loads from storage
// buffers, shared-memory tree reductions. Same math as layernorm_fwd.comp (two-pass variance).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256; // power of two
layout(constant_id = 2) const uint HAS_W = 0;
layout(constant_id = 3) const uint HAS_B = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Mean { float mean_out[]; };
layout(std430, set = 0, binding = 5) writeonly buffer Rstd { float rstd_out[]; };

layout(push_constant) uniform P {
    uint rows, cols;
    float eps;
    float inv_n; // 1 / cols, correctly rounded on the host (GPU division may be off by ulps)
} p;

shared float red[WG];

float wg_sum(float v) {
    const uint lid = gl_LocalInvocationID.x;
    red[lid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            red[lid] += red[lid + s];
        barrier();
    }
    float r = red[0];
    barrier(); // red is reused by the next reduction
    return r;
}

void main() {
    const uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (r >= p.rows) // uniform over the workgroup
        return;
    const uint lid = gl_LocalInvocationID.x, e0 = r * p.cols;
    const float inv_n = p.inv_n;
    float s = 0.0;
    for (uint j = lid; j < p.cols; j += WG)
        s += x[e0 + j];
    const float mean = wg_sum(s) * inv_n;
    s = 0.0;
    for (uint j = lid; j < p.cols; j += WG) {
        float d = x[e0 + j] - mean;
        s += d * d;
    }
    const float rstd = 1.0 / sqrt(wg_sum(s) * inv_n + p.eps);
    for (uint j = lid; j < p.cols; j += WG) {
        float v = (x[e0 + j] - mean) * rstd;
        if (HAS_W == 1)
            v *= w[j];
        if (HAS_B == 1)
            v += b[j];
        y[e0 + j] = v;
    }
    if (lid == 0) {
        mean_out[r] = mean;
        rstd_out[r] = rstd;
    }
}
