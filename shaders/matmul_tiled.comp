#version 450
// C[b] (+)= op(A[b]) @ op(B[b]) (+ bias), general strides: the GPU-class kernel and the
// fallback for layouts the texel kernel cannot read. Classic shared-memory tiling: a 64x64 tile
// of C per workgroup of 16x16 threads, 4x4 outputs per thread, K in steps of 16.
// Element (b, m, k) of op(A) is at a_off + b*a_sb + m*a_sm + k*a_sk (likewise B and C).

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };
// Bound to A when there is no bias (flags bit 0 clear): never read then.
layout(std430, set = 0, binding = 3) readonly buffer Bias { float bias[]; };

layout(push_constant) uniform P {
    int m, n, k, flags; // flags: 1 = bias, 2 = accumulate
    int a_off, a_sb, a_sm, a_sk;
    int b_off, b_sb, b_sk, b_sn;
    int c_off, c_sb, c_sm, c_sn;
    int tiles_n; // 64-column tiles across N: tile index = m_tile * tiles_n + n_tile
} p;

#define TS 64
#define KS 16

// +1 column of padding against bank conflicts on the transposed stores.
shared float as[KS][TS + 1];
shared float bs[KS][TS + 1];

void main() {
    uint tile = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    int m0 = int(tile / uint(p.tiles_n)) * TS;
    int n0 = int(tile % uint(p.tiles_n)) * TS;
    // Uniform per workgroup: surplus groups from the 1-D split return before any barrier.
    if (m0 >= p.m) return;
    int bz = int(gl_WorkGroupID.z);
    int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
    int lid = ty * 16 + tx;
    int abase = p.a_off + bz * p.a_sb, bbase = p.b_off + bz * p.b_sb;

    float acc[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0;

    for (int k0 = 0; k0 < p.k; k0 += KS) {
        for (int i = 0; i < 4; ++i) {
            int e = lid + 256 * i;
            // A tile: 64 rows x 16 k, k fastest across threads (coalesced when a_sk == 1).
            int r = e / KS, kk = e % KS;
            int gm = m0 + r, gk = k0 + kk;
            as[kk][r] = (gm < p.m && gk < p.k) ? a[abase + gm * p.a_sm + gk * p.a_sk] : 0.0;
            // B tile: 16 k x 64 columns, n fastest (coalesced when b_sn == 1).
            int kb = e / TS, cn = e % TS;
            int gn = n0 + cn, gkb = k0 + kb;
            bs[kb][cn] = (gn < p.n && gkb < p.k) ? b[bbase + gkb * p.b_sk + gn * p.b_sn] : 0.0;
        }
        barrier();
        for (int kk = 0; kk < KS; ++kk) {
            float av[4], bv[4];
            for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier();
    }

    int cbase = p.c_off + bz * p.c_sb;
    for (int i = 0; i < 4; ++i) {
        int gm = m0 + ty + 16 * i;
        if (gm >= p.m) continue;
        for (int j = 0; j < 4; ++j) {
            int gn = n0 + tx + 16 * j;
            if (gn >= p.n) continue;
            float v = acc[i][j];
            if ((p.flags & 1) != 0) v += bias[gn];
            int idx = cbase + gm * p.c_sm + gn * p.c_sn;
            if ((p.flags & 2) != 0) v += c[idx];
            c[idx] = v;
        }
    }
}
