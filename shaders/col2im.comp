#version 450
// The adjoint of im2col as a gather (deterministic, no atomics): dx[b, iy, ix, c] (+)= the sum
// of dcols over every (output pixel, ky, kx) that read x[b, iy, ix]: oy = (iy + pad - ky) /
// stride when that divides exactly and lands inside, likewise ox. Taps are summed in (ky, kx)
// order. One invocation per pixel and group of 4 channels (VEC) or channel.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // C % 4 == 0

layout(set = 0, binding = 0) uniform samplerBuffer D; // dcols [B*OH*OW, k*k*C]
layout(std430, set = 0, binding = 1) buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 1) buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uint units; // B * H * W * (C / 4 or C)
    uint h, w, c, oh, ow, k, stride, pad;
    uint accumulate;
} p;

void main() {
    uint u = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (u >= p.units)
        return;
    uint cu = VEC == 1 ? p.c / 4 : p.c;
    uint cg = u % cu, pix = u / cu;
    uint ix = pix % p.w, t = pix / p.w;
    uint iy = t % p.h, b = t / p.h;
    uint kkc = p.k * p.k * p.c;
    vec4 s4 = vec4(0.0);
    float s1 = 0.0;
    for (uint ky = 0; ky < p.k; ky++) {
        int ny = int(iy + p.pad) - int(ky);
        if (ny < 0 || uint(ny) % p.stride != 0 || uint(ny) / p.stride >= p.oh)
            continue;
        uint oy = uint(ny) / p.stride;
        for (uint kx = 0; kx < p.k; kx++) {
            int nx = int(ix + p.pad) - int(kx);
            if (nx < 0 || uint(nx) % p.stride != 0 || uint(nx) / p.stride >= p.ow)
                continue;
            uint ox = uint(nx) / p.stride;
            uint e = ((b * p.oh + oy) * p.ow + ox) * kkc + (ky * p.k + kx) * p.c;
            if (VEC == 1) {
                s4 += texelFetch(D, int(e / 4 + cg));
            } else {
                e += cg;
                s1 += texelFetch(D, int(e >> 2))[e & 3];
            }
        }
    }
    if (VEC == 1) {
        if (p.accumulate != 0)
            s4 += y4[u];
        y4[u] = s4;
    } else {
        if (p.accumulate != 0)
            s1 += y1[u];
        y1[u] = s1;
    }
}
