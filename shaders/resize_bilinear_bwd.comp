#version 450
// Adjoint of resize_bilinear as a gather (deterministic, no atomics): dx[n, iy, ix] (+)= sum
// over the outputs (oy, ox) whose taps include (iy, ix) of wy * wx * dy[n, oy, ox]. The
// outputs whose taps can include iy form a short range around (iy + 0.5) / sy - 0.5 (2 / sy + 5
// candidates, bounded by the host); each candidate recomputes the forward's exact indices and
// weights (resize_axis.glsl), so the adjoint is exact, clamped borders included.
layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) uniform samplerBuffer DY;
layout(std430, set = 0, binding = 1) buffer DX { float dx[]; };

layout(push_constant) uniform P {
    uint units; // N * H * W
    uint h, w, oh, ow;
    float sy, sx;          // H / OH, W / OW in fp32: only to bound the candidates
    uint my, shy, mx, shx; // the same in fixed point (resize_axis.glsl)
    uint accumulate;
} p;

#include "resize_axis.glsl"

// Candidate outputs [lo, hi] along one axis for input index i: a superset, checked exactly.
void span(uint i, uint n_out, float scale, out uint lo, out uint hi) {
    float a = (float(i) - 0.5) / scale - 0.5, b = (float(i) + 1.5) / scale - 0.5;
    lo = uint(max(floor(a) - 2.0, 0.0));
    hi = uint(min(ceil(b) + 2.0, float(n_out - 1u)));
}

float weight(uint o, uint i, uint n_in, uint m, uint sh) {
    uint i0, i1;
    float l0, l1;
    resize_axis(o, n_in, m, sh, i0, i1, l0, l1);
    return (i0 == i ? l0 : 0.0) + (i1 == i ? l1 : 0.0);
}

void main() {
    uint u = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (u >= p.units)
        return;
    uint ix = u % p.w, t = u / p.w;
    uint iy = t % p.h, plane = t / p.h;
    uint ylo, yhi, xlo, xhi;
    span(iy, p.oh, p.sy, ylo, yhi);
    span(ix, p.ow, p.sx, xlo, xhi);
    float s = 0.0;
    for (uint oy = ylo; oy <= yhi; oy++) {
        float wy = weight(oy, iy, p.h, p.my, p.shy);
        if (wy == 0.0)
            continue;
        float r = 0.0;
        uint base = (plane * p.oh + oy) * p.ow;
        for (uint ox = xlo; ox <= xhi; ox++) {
            float wx = weight(ox, ix, p.w, p.mx, p.shx);
            uint e = base + ox;
            if (wx != 0.0)
                r += wx * texelFetch(DY, int(e >> 2))[e & 3];
        }
        s += wy * r;
    }
    if (p.accumulate != 0)
        s += dx[u];
    dx[u] = s;
}
