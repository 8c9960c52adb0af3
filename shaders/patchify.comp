#version 450
// Patchify and its exact inverse (a bijection, so the backward is a gather too, no atomics).
// Image [B, C, H, W] (channels-first) <-> patches [B, H/p, W/p, C*p*p], each patch row in
// (c, ky, kx) order: the order of a Conv2d weight [D, C, p, p] flattened.
// One invocation moves one run of p pixels (kx = 0..p-1): contiguous in both layouts. Run r of
// the image starts at element r*p; its patch offset is decoded from r.
// UNPATCH = 0: dst = patches, src = image; 1: dst = image (+)= src = patches.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint VEC = 0;     // p % 4 == 0: runs are whole vec4s
layout(constant_id = 2) const uint UNPATCH = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(std430, set = 0, binding = 1) buffer Y4 { vec4 y4[]; };
layout(std430, set = 0, binding = 1) buffer Y1 { float y1[]; };

layout(push_constant) uniform P {
    uint runs;       // B * C * H * (W / p)
    uint p, c, h, wp, hp;
    uint accumulate; // dst += instead of dst =
} p;

void main() {
    uint r = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (r >= p.runs)
        return;
    uint px = r % p.wp, t = r / p.wp;
    uint y = t % p.h, bc = t / p.h;
    uint ch = bc % p.c, b = bc / p.c;
    uint py = y / p.p, ky = y % p.p;
    uint img = r * p.p;
    uint pat = ((((b * p.hp + py) * p.wp + px) * p.c + ch) * p.p + ky) * p.p;
    uint src = UNPATCH == 1 ? pat : img, dst = UNPATCH == 1 ? img : pat;
    if (VEC == 1) {
        for (uint j = 0; j < p.p / 4; j++) {
            vec4 v = texelFetch(X, int(src / 4 + j));
            if (p.accumulate != 0)
                v += y4[dst / 4 + j];
            y4[dst / 4 + j] = v;
        }
    } else {
        for (uint j = 0; j < p.p; j++) {
            uint s = src + j;
            float v = texelFetch(X, int(s >> 2))[s & 3];
            if (p.accumulate != 0)
                v += y1[dst + j];
            y1[dst + j] = v;
        }
    }
}
