#version 450
// LayerNorm backward for x, one invocation per row:
//   g = dy * w, xhat = (x - mean) * rstd,
//   dx (+)= rstd * (g - mean(g) - xhat * mean(g * xhat)).
// g is `precise` in both passes: a product fused into `g - mean(g)` in one pass but rounded in
// the other leaves its rounding error times rstd in dx (seen on NVIDIA with one column).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0;   // cols % 4 == 0
layout(constant_id = 2) const uint HAS_W = 0; // without w, x is bound in its place

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer W;
layout(set = 0, binding = 2) uniform samplerBuffer DY;
layout(std430, set = 0, binding = 3) readonly buffer Mean { float mean_in[]; };
layout(std430, set = 0, binding = 4) readonly buffer Rstd { float rstd_in[]; };
layout(std430, set = 0, binding = 5) buffer DX { vec4 dx[]; }; // padded to 16 bytes

layout(push_constant) uniform P {
    uint rows, cols, accumulate;
    float inv_n; // 1 / cols, correctly rounded on the host (GPU division may be off by ulps)
} p;

const uint CHUNK = 64;

float elem(samplerBuffer t, uint i) { return texelFetch(t, int(i >> 2))[i & 3]; }

void main() {
    uint r = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (r >= p.rows)
        return;
    const float inv_n = p.inv_n, mean = mean_in[r], rstd = rstd_in[r];
    if (VEC == 1) {
        const uint n4 = p.cols >> 2, t0 = r * n4;
        vec4 tg = vec4(0.0), tgx = vec4(0.0);
        for (uint i = 0; i < n4; i += CHUNK) {
            vec4 sg = vec4(0.0), sgx = vec4(0.0);
            for (uint j = i; j < min(n4, i + CHUNK); j++) {
                precise vec4 g = texelFetch(DY, int(t0 + j));
                if (HAS_W == 1)
                    g *= texelFetch(W, int(j));
                sg += g;
                sgx += g * ((texelFetch(X, int(t0 + j)) - mean) * rstd);
            }
            tg += sg;
            tgx += sgx;
        }
        const float mg = ((tg.x + tg.y) + (tg.z + tg.w)) * inv_n;
        const float mgx = ((tgx.x + tgx.y) + (tgx.z + tgx.w)) * inv_n;
        for (uint j = 0; j < n4; j++) {
            precise vec4 g = texelFetch(DY, int(t0 + j));
            if (HAS_W == 1)
                g *= texelFetch(W, int(j));
            vec4 xh = (texelFetch(X, int(t0 + j)) - mean) * rstd;
            vec4 v = rstd * (g - mg - xh * mgx);
            if (p.accumulate != 0)
                v += dx[t0 + j];
            dx[t0 + j] = v;
        }
    } else {
        const uint e0 = r * p.cols;
        float tg = 0.0, tgx = 0.0;
        for (uint i = 0; i < p.cols; i += CHUNK) {
            float sg = 0.0, sgx = 0.0;
            for (uint j = i; j < min(p.cols, i + CHUNK); j++) {
                precise float g = elem(DY, e0 + j);
                if (HAS_W == 1)
                    g *= elem(W, j);
                sg += g;
                sgx += g * ((elem(X, e0 + j) - mean) * rstd);
            }
            tg += sg;
            tgx += sgx;
        }
        const float mg = tg * inv_n, mgx = tgx * inv_n;
        for (uint j = 0; j < p.cols; j++) {
            precise float g = elem(DY, e0 + j);
            if (HAS_W == 1)
                g *= elem(W, j);
            float xh = (elem(X, e0 + j) - mean) * rstd;
            float v = rstd * (g - mg - xh * mgx);
            uint e = e0 + j;
            dx[e >> 2][e & 3] = p.accumulate != 0 ? dx[e >> 2][e & 3] + v : v;
        }
    }
}
