#version 450
// C[b] (+)= op(A[b]) @ op(B[b]) (+ bias): the CPU-class (lavapipe) kernel.
//
// Lavapipe runs a workgroup of 8 as one 8-lane SIMD "thread"; its storage-buffer loads are
// scalarised per lane while RGBA32F texel fetches are vectorised (see LAVAPIPE_NOTES.md). So:
// both operands come from uniform texel buffers, no shared memory, no barriers, and each
// workgroup owns a large register tile of TM rows x 4*LANES*CJ columns. A is read at
// workgroup-uniform indices, B per lane as vec4; K advances KS at a time so each accumulator
// is loaded and stored once per KS FMAs when LLVM spills it.
//
// Tile measured on this project's 2-core Xeon (AVX-512, llvmpipe 256-bit), 1024x2304x768, GFLOP/s:
// 16x128 KS 8: 67-72; 16x128 KS 4: 57; 8x128: 55-61; 16x256 KS 4: 52; 24x128: 63; 32x128: 56;
// 512-bit llvmpipe (LP_NATIVE_VECTOR_WIDTH=512, 16 lanes): 26-48; A read once per lane and
// spread with subgroupBroadcast: 45. Bigger tiles also cost LLVM compile time (16x256: 14 s a
// variant at the first dispatch, 16x128: 4 s).
//
// Where the time goes (JIT code read with gdb, sampled with perf; 1024x2304x768, 2 threads):
// - No fused multiply-add: Mesa's llvmpipe sets lower_ffma32, so fma() becomes vmulps + vaddps.
// - Each texelFetch is a call into a ~45-instruction routine (bounds check, 8 scalar index
//   extractions, 8 16-byte loads, 4x8 transpose) for float formats, even at uniform indices.
//   Replacing the fetches by arithmetic (wrong results, timing only): no A fetches 93 GFLOP/s,
//   no B fetches 108, neither 160-190, against 62-70 with both. Fetches are ~60% of the time.
// - Every fetch yields one vec4 per lane, so fetches per multiply-add per lane are
//   (X + Y) / (4XY) for X rows x Y columns of accumulators per lane: only a much larger register
//   tile cuts them, and that costs spills and LLVM compile time (see above).
// - Each loop-carried accumulator is merged with the loop's execution mask (a vblendvps per
//   accumulator component per k step): one reason KS 8 beats KS 4.
// - 512-bit llvmpipe is slower even without fetches (74-113 GFLOP/s).
//
// Layouts (specialisation constants), all addresses in texels (4 floats):
//   TRANS_A 0: A row-major [M][K] (k contiguous): one fetch = A[m][k..k+3]
//   TRANS_A 1: A stored [K][M]   (m contiguous): one fetch = A[m..m+3][k]
//   TRANS_B 0: B row-major [K][N] (n contiguous): one fetch = B[k][n..n+3]
//   TRANS_B 1: B stored [N][K]   (k contiguous): one fetch = B[k..k+3][n]
// The host guarantees offsets and non-unit strides are multiples of 4. Rows/columns past M/N
// are clamped on load (so every fetch stays inside the tensor) and skipped on store; k past K
// is zeroed on both operands (the texel's padding may hold anything, NaN included).
#extension GL_EXT_control_flow_attributes : require

#define LANES 8 // lavapipe's SIMD width at 256 bits
#define TM 16   // rows of C per workgroup
#define KS 8    // k per main-loop step (multiple of 4)
#define CJ 4    // vec4 columns per lane: TN = 128 columns of C per workgroup
#define TN (4 * LANES * CJ)

layout(local_size_x = LANES) in;

layout(constant_id = 0) const int TRANS_A = 0;
layout(constant_id = 1) const int TRANS_B = 0;

layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(std430, set = 0, binding = 2) buffer C { float c[]; };
// Bound to C when there is no bias (flags bit 0 clear): never read then.
layout(std430, set = 0, binding = 3) readonly buffer Bias { float bias[]; };

layout(push_constant) uniform P {
    int m, n, k, flags;        // flags: 1 = bias, 2 = accumulate
    int a_off4, a_sb4, a_s4;   // a_s4: the non-contiguous stride (m for TRANS_A 0, k for 1) / 4
    int b_off4, b_sb4, b_s4;   // b_s4: k stride for TRANS_B 0, n stride for 1, / 4
    int c_off, c_sb, c_sm, c_sn;
    int tiles_m, tiles_n;      // the grid of tiles over C
    int order;                 // 0: consecutive workgroups walk along N, 1: along M
} p;

vec4 acc[TM][CJ];
vec4 av[TM][KS / 4]; // op(A)[m0 + r][k + 4s .. k + 4s + 3]
vec4 bt[KS][CJ];     // op(B)[k + kk][this lane's 4 columns of group j]

int abase, bbase;
int arow[TM];      // TRANS_A 0: texel of row r at k = 0
int acol[TM / 4];  // TRANS_A 1: texel offset of rows 4q..4q+3
int bcol[CJ];      // TRANS_B 0: texel offset of the lane's columns in group j
int bcolt[4 * CJ]; // TRANS_B 1: texel of column jj at k = 0

// Loads sub-step s (k .. k+3) of av and bt, of which the first nv k are valid (4 outside the
// K tail).
void load4(int s, int k, int nv) {
    if (TRANS_A == 0) {
        [[unroll]] for (int r = 0; r < TM; ++r) av[r][s] = texelFetch(A, arow[r] + (k >> 2));
    } else {
        [[unroll]] for (int kk = 0; kk < 4; ++kk) {
            int row = abase + min(k + kk, p.k - 1) * p.a_s4;
            [[unroll]] for (int q = 0; q < TM / 4; ++q) {
                vec4 t = texelFetch(A, row + acol[q]);
                [[unroll]] for (int i = 0; i < 4; ++i) av[4 * q + i][s][kk] = t[i];
            }
        }
    }
    if (TRANS_B == 0) {
        [[unroll]] for (int kk = 0; kk < 4; ++kk) {
            int row = bbase + min(k + kk, p.k - 1) * p.b_s4;
            [[unroll]] for (int j = 0; j < CJ; ++j)
                bt[4 * s + kk][j] = texelFetch(B, row + bcol[j]);
        }
    } else {
        [[unroll]] for (int jj = 0; jj < 4 * CJ; ++jj) {
            vec4 t = texelFetch(B, bcolt[jj] + (k >> 2));
            [[unroll]] for (int kk = 0; kk < 4; ++kk) bt[4 * s + kk][jj >> 2][jj & 3] = t[kk];
        }
    }
    if (nv < 4) {
        [[unroll]] for (int kk = 0; kk < 4; ++kk) {
            bool ok = kk < nv;
            [[unroll]] for (int r = 0; r < TM; ++r) av[r][s][kk] = ok ? av[r][s][kk] : 0.0;
            [[unroll]] for (int j = 0; j < CJ; ++j)
                bt[4 * s + kk][j] = ok ? bt[4 * s + kk][j] : vec4(0.0);
        }
    }
}

// acc += the first nk (a multiple of 4) k of av and bt; each accumulator is loaded and stored
// once per step.
void fma_step(int nk) {
    [[unroll]] for (int r = 0; r < TM; ++r) {
        [[unroll]] for (int j = 0; j < CJ; ++j) {
            vec4 s = acc[r][j];
            [[unroll]] for (int kk = 0; kk < nk; ++kk)
                s = fma(vec4(av[r][kk >> 2][kk & 3]), bt[kk][j], s);
            acc[r][j] = s;
        }
    }
}

void main() {
    int lane = int(gl_LocalInvocationID.x);
    int tile = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (tile >= p.tiles_m * p.tiles_n) return;
    int mt = p.order == 0 ? tile / p.tiles_n : tile % p.tiles_m;
    int nt = p.order == 0 ? tile % p.tiles_n : tile / p.tiles_m;
    int m0 = mt * TM, n0 = nt * TN;
    int bz = int(gl_WorkGroupID.z);
    abase = p.a_off4 + bz * p.a_sb4;
    bbase = p.b_off4 + bz * p.b_sb4;

    if (TRANS_A == 0) {
        [[unroll]] for (int r = 0; r < TM; ++r) arow[r] = abase + min(m0 + r, p.m - 1) * p.a_s4;
    } else {
        [[unroll]] for (int q = 0; q < TM / 4; ++q) acol[q] = min((m0 >> 2) + q, (p.m - 1) >> 2);
    }
    if (TRANS_B == 0) {
        [[unroll]] for (int j = 0; j < CJ; ++j)
            bcol[j] = min((n0 >> 2) + lane + LANES * j, (p.n - 1) >> 2);
    } else {
        [[unroll]] for (int jj = 0; jj < 4 * CJ; ++jj)
            bcolt[jj] = bbase + min(n0 + lane + LANES * jj, p.n - 1) * p.b_s4;
    }

    [[unroll]] for (int r = 0; r < TM; ++r) {
        [[unroll]] for (int j = 0; j < CJ; ++j) acc[r][j] = vec4(0.0);
    }
    int kfull = p.k - p.k % KS;
    for (int k = 0; k < kfull; k += KS) {
        [[unroll]] for (int s = 0; s < KS / 4; ++s) load4(s, k + 4 * s, 4);
        fma_step(KS);
    }
    for (int k = kfull; k < p.k; k += 4) {
        load4(0, k, min(p.k - k, 4));
        fma_step(4);
    }

    int cbase = p.c_off + bz * p.c_sb;
    bool has_bias = (p.flags & 1) != 0, accumulate = (p.flags & 2) != 0;
    [[unroll]] for (int ji = 0; ji < 4 * CJ; ++ji) {
        int j = ji >> 2, i = ji & 3;
        // Column of acc[.][j][i]: matches how bt was laid out for each B layout.
        int col = n0 + 4 * LANES * j + (TRANS_B == 0 ? 4 * lane + i : lane + LANES * i);
        if (col < p.n) {
            float bv = has_bias ? bias[col] : 0.0;
            [[unroll]] for (int r = 0; r < TM; ++r) {
                int row = m0 + r;
                if (row < p.m) {
                    int idx = cbase + row * p.c_sm + col * p.c_sn;
                    float v = acc[r][j][i] + bv;
                    if (accumulate) v += c[idx];
                    c[idx] = v;
                }
            }
        }
    }
}
