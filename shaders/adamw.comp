#version 450
// One AdamW step (PyTorch 1.13 _single_tensor_adamw) over the flat trainable buffer.
//
// The per-step scalars come from the step-values buffer, computed on the host in double and
// rounded to float as PyTorch hands them to its fp32 kernels; each line of adamw() is one
// PyTorch kernel, rounded to float (`precise`: no fused multiply-adds), so on a device with IEEE
// division and square root the result is PyTorch's bit for bit.
//
// Layout for lavapipe (LAVAPIPE_NOTES.md): reads through RGBA32F texel views (vectorised there;
// storage-buffer loads are scalarised), writes through storage buffers of the same tensors. Each
// element is read and then written by one invocation only, so the two views never race. PER
// texels per invocation, lanes interleaved. The flat buffer's padding (between trainables, and
// up to 16 bytes at the end) is updated like any element and never read as a weight.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint PER = 1;
layout(constant_id = 2) const uint GUARD = 0; // 1: skip the step when guard[0] is not finite

layout(std430, set = 0, binding = 0) writeonly buffer ParamOut { vec4 param_out[]; };
layout(set = 0, binding = 1) uniform samplerBuffer Grad;
layout(std430, set = 0, binding = 2) writeonly buffer MOut { vec4 m_out[]; };
layout(std430, set = 0, binding = 3) writeonly buffer VOut { vec4 v_out[]; };
layout(set = 0, binding = 4) uniform samplerBuffer Step;
layout(set = 0, binding = 5) uniform samplerBuffer Param;
layout(set = 0, binding = 6) uniform samplerBuffer M;
layout(set = 0, binding = 7) uniform samplerBuffer V;
layout(std430, set = 0, binding = 8) readonly buffer Guard { float guard[]; };

layout(push_constant) uniform P {
    uint n4; // element count / 4, rounded up
} p;

void main() {
    // A NaN or infinite loss: no update at all (the host reports the skipped batch).
    if (GUARD != 0 && (isnan(guard[0]) || isinf(guard[0])))
        return;
    // Step values (engine/ops/adamw.c): decay, beta1, 1 - beta1, beta2 | 1 - beta2,
    // -step_size, sqrt(bias_correction2), eps.
    const vec4 s0 = texelFetch(Step, 0), s1 = texelFetch(Step, 1);
    const float decay = s0.x, beta1 = s0.y, one_m_beta1 = s0.z, beta2 = s0.w;
    const float one_m_beta2 = s1.x, neg_step_size = s1.y, bc2_sqrt = s1.z, eps = s1.w;
    const uint wg = gl_WorkGroupSize.x;
    const uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint base = group * wg * PER + gl_LocalInvocationID.x;
    for (uint j = 0; j < PER; j++) {
        const uint i = base + j * wg;
        if (i >= p.n4)
            return;
        const vec4 g = texelFetch(Grad, int(i));
        precise vec4 pi = texelFetch(Param, int(i)) * decay;     // param.mul_(1 - lr * wd)
        precise vec4 mi = texelFetch(M, int(i)) * beta1;         // exp_avg.mul_(beta1)
        mi = mi + one_m_beta1 * g;                               // .add_(grad, alpha=1 - beta1)
        precise vec4 vi = texelFetch(V, int(i)) * beta2;         // exp_avg_sq.mul_(beta2)
        vi = vi + one_m_beta2 * g * g;                           // .addcmul_(grad, grad, 1 - beta2)
        precise vec4 denom = sqrt(vi) / bc2_sqrt;                // exp_avg_sq.sqrt() / bc2_sqrt
        denom = denom + eps;                                     // .add_(eps)
        pi = pi + neg_step_size * mi / denom;                    // param.addcdiv_(.., -step_size)
        param_out[i] = pi;
        m_out[i] = mi;
        v_out[i] = vi;
    }
}
