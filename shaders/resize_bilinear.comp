#version 450
// Bilinear resize of planes: x [N, H, W] -> y [N, OH, OW] (N = batch * channels), PyTorch's
// F.interpolate(mode="bilinear", align_corners=False) with sizes given. Each invocation writes
// a run of up to RUN outputs of one row (the row's weights are computed once).
// y = l0y * (l0x x00 + l1x x01) + l1y * (l0x x10 + l1x x11), ATen's order.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint RUN = 16;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
    uint units; // N * OH * ceil(OW / RUN)
    uint h, w, oh, ow;
    uint my, shy, mx, shx; // the scales H / OH, W / OW in fixed point (resize_axis.glsl)
} p;

#include "resize_axis.glsl"

float at(uint e) { return texelFetch(X, int(e >> 2))[e & 3]; }

void main() {
    uint u = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (u >= p.units)
        return;
    uint runs = (p.ow + RUN - 1) / RUN;
    uint run = u % runs, row = u / runs; // row = plane * OH + oy
    uint oy = row % p.oh, plane = row / p.oh;
    uint y0, y1;
    float a0, a1;
    resize_axis(oy, p.h, p.my, p.shy, y0, y1, a0, a1);
    uint r0 = (plane * p.h + y0) * p.w, r1 = (plane * p.h + y1) * p.w;
    uint ox0 = run * RUN, ox1 = min(ox0 + RUN, p.ow);
    for (uint ox = ox0; ox < ox1; ox++) {
        uint x0, x1;
        float b0, b1;
        resize_axis(ox, p.w, p.mx, p.shx, x0, x1, b0, b1);
        precise float top = b0 * at(r0 + x0) + b1 * at(r0 + x1);
        precise float bot = b0 * at(r1 + x0) + b1 * at(r1 + x1);
        precise float v = a0 * top + a1 * bot;
        y[row * p.ow + ox] = v;
    }
}
