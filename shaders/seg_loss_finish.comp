#version 450
// SAMed's loss, pass 2 (one workgroup): sums the block partials of seg_loss_fwd (in chunks, for
// fp32 accuracy), then loss = w_ce * CE + w_dice * Dice with CE = sum(-log p[label]) / N and
// Dice = mean over classes of 1 - (2 I_c + eps) / (sum p_c^2 + sum t_c + eps). Saves I_c and
// U_c = sum p_c^2 + sum t_c + eps for the backward. Loop trips: nblocks * ceil(Q / WG), which the
// op keeps well below lavapipe's limit.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2;

layout(std430, set = 0, binding = 0) readonly buffer Part { float part[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Loss { float loss[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Ce { float ce[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Dice { float dice[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Stats { float stats[]; }; // [2K]

layout(push_constant) uniform P {
    uint nblocks;
    float inv_n, w_ce, w_dice, eps;
} p;

const uint Q = 3 * K + 1, CHUNK = 64;
shared float sums[Q];

void main() {
    const uint lid = gl_LocalInvocationID.x;
    for (uint q = lid; q < Q; q += gl_WorkGroupSize.x) {
        float tot = 0.0;
        for (uint i = 0; i < p.nblocks; i += CHUNK) {
            float acc = 0.0;
            const uint e = min(p.nblocks, i + CHUNK);
            for (uint j = i; j < e; j++)
                acc += part[j * Q + q];
            tot += acc;
        }
        sums[q] = tot;
    }
    barrier();
    if (lid != 0)
        return;
    float dsum = 0.0;
    for (uint c = 0; c < K; c++) {
        const float i = sums[c], u = sums[K + c] + sums[2 * K + c] + p.eps;
        dsum += 1.0 - (2.0 * i + p.eps) / u;
        stats[c] = i;
        stats[K + c] = u;
    }
    const float c_e = sums[3 * K] * p.inv_n, d = dsum / float(K);
    ce[0] = c_e;
    dice[0] = d;
    loss[0] = p.w_ce * c_e + p.w_dice * d;
}
