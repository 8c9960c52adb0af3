#version 450
// im2col on a channels-last map: x [B, H, W, C] -> cols [B*OH*OW, k*k*C], each row in
// (ky, kx, c) order, zero outside the image (padding). One invocation writes one (row, ky, kx)
// segment: C contiguous channels, read contiguously from one pixel of x.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0; // C % 4 == 0: segments are whole vec4s

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uint segs; // B * OH * OW * k * k
    uint h, w, c, oh, ow, k, stride, pad;
} p;

void main() {
    uint s = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (s >= p.segs)
        return;
    uint kx = s % p.k, t = s / p.k;
    uint ky = t % p.k, row = t / p.k;
    uint ox = row % p.ow, t2 = row / p.ow;
    uint oy = t2 % p.oh, b = t2 / p.oh;
    // Signed: padding makes the first taps negative.
    int iy = int(oy * p.stride + ky) - int(p.pad), ix = int(ox * p.stride + kx) - int(p.pad);
    bool inside = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
    uint src = ((b * p.h + uint(iy)) * p.w + uint(ix)) * p.c, dst = s * p.c;
    // Branches, not selects: no texel fetch at an index outside x.
    if (VEC == 1) {
        if (inside)
            for (uint j = 0; j < p.c / 4; j++)
                y4[dst / 4 + j] = texelFetch(X, int(src / 4 + j));
        else
            for (uint j = 0; j < p.c / 4; j++)
                y4[dst / 4 + j] = vec4(0.0);
    } else {
        if (inside)
            for (uint j = 0; j < p.c; j++) {
                uint e = src + j;
                y1[dst + j] = texelFetch(X, int(e >> 2))[e & 3];
            }
        else
            for (uint j = 0; j < p.c; j++)
                y1[dst + j] = 0.0;
    }
}
