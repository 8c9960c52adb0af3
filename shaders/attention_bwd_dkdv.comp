#version 450
// Attention backward, step 3, one invocation per (key, head), walking the queries that attend to
// the key (its window, or all): P recomputed from the saved log-sum-exp and the prep kernel's
// bias terms, dv = sum P dO, dk = scale * sum dS q with dS = P (dO.v - delta). No atomics: each
// invocation owns its key's rows.
#include "attention_common.glsl"
layout(constant_id = 3) const uint WRITE_DK = 1;
layout(constant_id = 4) const uint WRITE_DV = 1;
layout(constant_id = 5) const uint DV_IN_DK = 0; // k and v share a gradient tensor: bound once

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer DO;
layout(std430, set = 0, binding = 4) readonly buffer S { vec2 stats[]; };
layout(std430, set = 0, binding = 5) readonly buffer B { float bias[]; };
layout(std430, set = 0, binding = 6) buffer DK { vec4 dk[]; };
layout(std430, set = 0, binding = 7) buffer DV { vec4 dv[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint kj = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint kc = min(kj, p.nk - 1); // idle lanes shadow the last key, write nothing
    const uint krow = k_token(t, kc), kh = p.nk / p.kw;
    const uint ky = kc / p.kw, kx = kc - ky * p.kw;
    vec4 k[MAXD4], v[MAXD4], gk[MAXD4], gv[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4) {
            k[i] = texelFetch(K, k_texel(t, krow) + int(i)) * p.scale;
            v[i] = texelFetch(V, v_texel(t, krow) + int(i));
            gk[i] = gv[i] = vec4(0.0);
        }
    for (uint qi = 0; qi < p.nq; qi++) {
        const uint qrow = q_token(t, qi), rh = qrow * p.heads + t.h;
        const int orow = int(qrow * p.heads * HD4 + t.h * HD4);
        vec4 q[MAXD4], g[MAXD4], d = vec4(0.0), e = vec4(0.0);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4) {
                q[i] = texelFetch(Q, q_texel(t, qrow) + int(i));
                g[i] = texelFetch(DO, orow + int(i));
                d += q[i] * k[i];
                e += g[i] * v[i];
            }
        float s = (d.x + d.y) + (d.z + d.w);
        if (REL == 1) {
            const uint b0 = rh * (kh + p.kw);
            s += bias[b0 + ky] + bias[b0 + kh + kx];
        }
        const vec2 st = stats[rh];
        const float pr = exp(s - st.x), ds = pr * (((e.x + e.y) + (e.z + e.w)) - st.y);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4) {
                gk[i] += ds * q[i];
                gv[i] += pr * g[i];
            }
    }
    if (kj >= p.nk)
        return;
    const uint ok = krow * p.k_rs + p.k_c0 + t.h * HD4, ov = krow * p.v_rs + p.v_c0 + t.h * HD4;
    if (WRITE_DK == 1)
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                dk[ok + i] = gk[i] * p.scale + (p.acc0 != 0 ? dk[ok + i] : vec4(0.0));
    if (WRITE_DV == 1) {
        if (DV_IN_DK == 1) {
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    dk[ov + i] = gv[i] + (p.acc1 != 0 ? dk[ov + i] : vec4(0.0));
        } else {
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    dv[ov + i] = gv[i] + (p.acc1 != 0 ? dv[ov + i] : vec4(0.0));
        }
    }
}
