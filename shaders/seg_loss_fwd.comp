#version 450
// SAMed's loss, pass 1: per block of pixels of one image, the softmax over the K class planes
// once per pixel and the partial sums of each class c: sum p_c t_c, sum p_c^2, sum t_c (t the
// one-hot label), plus the CE sum of -log p[label]. part[block][q], q = c, K + c, 2K + c, 3K.
// CPU family (TPB = 1): one invocation per block, 4 pixels per vec4 op, no shared memory.
// GPU family: one workgroup of TPB threads per block, then a shared-memory tree reduction.
// Loop trips per invocation stay far below lavapipe's limit: blk / 4 groups x ~4K.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2;
layout(constant_id = 2) const uint VEC = 0;
layout(constant_id = 3) const uint TPB = 1; // threads per block: 1, or the workgroup size (2^n)

layout(set = 0, binding = 0) uniform samplerBuffer Z;
layout(set = 0, binding = 1) uniform samplerBuffer L;
layout(std430, set = 0, binding = 2) writeonly buffer Part { float part[]; };

layout(push_constant) uniform P {
    uint nblocks, hw, blk, nblk_img; // blk: pixels per block, a multiple of 4
} p;

#include "seg_loss_common.glsl"

const uint Q = 3 * K + 1;
shared float red[TPB * Q];

void main() {
    const uint wgid = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint lid = gl_LocalInvocationID.x;
    const uint bi = TPB == 1 ? wgid * gl_WorkGroupSize.x + lid : wgid;
    const uint tid = TPB == 1 ? 0 : lid;
    if (bi >= p.nblocks) // uniform over the workgroup when TPB > 1
        return;
    const uint b = bi / p.nblk_img, i0 = (bi % p.nblk_img) * p.blk;
    const uint len = min(p.blk, p.hw - i0), zb = b * K * p.hw, lb = b * p.hw;
    vec4 ai[K], ap[K], at[K];
    for (uint c = 0; c < K; c++) {
        ai[c] = vec4(0.0);
        ap[c] = vec4(0.0);
        at[c] = vec4(0.0);
    }
    vec4 ce = vec4(0.0);
    for (uint g4 = tid * 4; g4 < len; g4 += TPB * 4) {
        const uint i = i0 + g4, n = min(4u, len - g4);
        const bvec4 valid = lanes_below(n);
        const vec4 lab = mix(vec4(-1.0), load4(L, lb + i, n), valid);
        vec4 z[K];
        for (uint c = 0; c < K; c++)
            z[c] = load4(Z, zb + c * p.hw + i, n);
        vec4 m = z[0];
        for (uint c = 1; c < K; c++)
            m = max(m, z[c]);
        vec4 s = vec4(0.0), zl = vec4(0.0), hit = vec4(0.0);
        for (uint c = 0; c < K; c++) {
            const vec4 d = z[c] - m, t = onehot(lab, c);
            zl += t * d; // z[label] - max
            hit += t;
            z[c] = exp(d);
            s += z[c];
        }
        ce += hit * log(s) - zl; // -log p[label] = log(sum) - (z[label] - max)
        const vec4 inv = 1.0 / s;
        for (uint c = 0; c < K; c++) {
            const vec4 pc = mix(vec4(0.0), z[c] * inv, valid), t = onehot(lab, c);
            ai[c] += pc * t;
            ap[c] += pc * pc;
            at[c] += t;
        }
    }
    if (TPB == 1) {
        const uint o = bi * Q;
        for (uint c = 0; c < K; c++) {
            part[o + c] = (ai[c].x + ai[c].y) + (ai[c].z + ai[c].w);
            part[o + K + c] = (ap[c].x + ap[c].y) + (ap[c].z + ap[c].w);
            part[o + 2 * K + c] = (at[c].x + at[c].y) + (at[c].z + at[c].w);
        }
        part[o + 3 * K] = (ce.x + ce.y) + (ce.z + ce.w);
        return;
    }
    const uint r = tid * Q;
    for (uint c = 0; c < K; c++) {
        red[r + c] = (ai[c].x + ai[c].y) + (ai[c].z + ai[c].w);
        red[r + K + c] = (ap[c].x + ap[c].y) + (ap[c].z + ap[c].w);
        red[r + 2 * K + c] = (at[c].x + at[c].y) + (at[c].z + at[c].w);
    }
    red[r + 3 * K] = (ce.x + ce.y) + (ce.z + ce.w);
    barrier();
    for (uint h = TPB / 2; h > 0; h >>= 1) {
        if (tid < h)
            for (uint q = 0; q < Q; q++)
                red[r + q] += red[r + h * Q + q];
        barrier();
    }
    for (uint q = tid; q < Q; q += TPB)
        part[bi * Q + q] = red[q];
}
