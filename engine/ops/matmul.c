/* ve_matmul_node: one strided, batched matmul as one kernel node, choosing the kernel family.
 *
 * CPU class (lavapipe): shaders/matmul_texel.comp, both operands read through RGBA32F texel
 * views, when their layouts allow it (see texel_layout); otherwise, and on GPUs,
 * shaders/matmul_tiled.comp (shared-memory tiles, any strides). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

/* Must match the shaders. */
#define TEXEL_TM 16
#define TEXEL_TN 128 /* 4 * LANES * CJ */
#define TILED_TS 64

typedef struct {
    ve_matmul_desc d; /* normalised: possibly the transposed problem */
    int texel;        /* 1: matmul_texel, 0: matmul_tiled */
    int ta, tb;       /* texel variant */
} mm_plan;

/* Whether an operand of size rows x cols with strides (s_rows, s_cols) can be read as texels,
 * and how: *trans = 0 when cols are contiguous (a texel = 4 consecutive cols of one row), 1
 * when rows are. Offsets and the other strides must land on texel boundaries. Size-1 dims
 * have no meaningful stride. */
static int texel_layout(int64_t batch, int64_t rows, int64_t cols, int64_t off, int64_t s_b,
                        int64_t s_rows, int64_t s_cols, int *trans) {
    if (off % 4 != 0 || (batch > 1 && s_b % 4 != 0)) return 0;
    if ((s_cols == 1 || cols == 1) && (rows == 1 || s_rows % 4 == 0)) {
        *trans = 0;
        return 1;
    }
    if ((s_rows == 1 || rows == 1) && (cols == 1 || s_cols % 4 == 0)) {
        *trans = 1;
        return 1;
    }
    return 0;
}

static int64_t max_index(int64_t off, int64_t n0, int64_t s0, int64_t n1, int64_t s1, int64_t n2,
                         int64_t s2) {
    return off + (n0 - 1) * s0 + (n1 - 1) * s1 + (n2 - 1) * s2;
}

static int check_desc(ve_graph *g, ve_tid a, ve_tid b, ve_tid c, const ve_matmul_desc *d) {
    if (!g || !d) return ve_fail("matmul_node: NULL graph or descriptor");
    if (ve_tensor_ndim(g, a) == 0 || ve_tensor_ndim(g, b) == 0 || ve_tensor_ndim(g, c) == 0)
        return ve_fail("matmul_node: invalid tensor id (a %d, b %d, c %d)", a, b, c);
    if (d->batch < 1 || d->m < 1 || d->n < 1 || d->k < 1)
        return ve_fail("matmul_node: empty problem batch %lld, m %lld, n %lld, k %lld",
                       (long long)d->batch, (long long)d->m, (long long)d->n, (long long)d->k);
    const int64_t v[] = {d->a_off, d->a_sb, d->a_sm,  d->a_sk, d->b_off, d->b_sb,
                         d->b_sk,  d->b_sn, d->c_off, d->c_sb, d->c_sm,  d->c_sn};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 0 || v[i] > INT32_MAX)
            return ve_fail("matmul_node: offset or stride %lld out of range", (long long)v[i]);
    if (d->m > INT32_MAX || d->n > INT32_MAX || d->k > INT32_MAX || d->batch > UINT16_MAX)
        return ve_fail("matmul_node: problem too large: batch %lld, m %lld, n %lld, k %lld",
                       (long long)d->batch, (long long)d->m, (long long)d->n, (long long)d->k);
    struct {
        const char *name;
        ve_tid t;
        int64_t last;
    } ops[] = {
        {"a", a, max_index(d->a_off, d->batch, d->a_sb, d->m, d->a_sm, d->k, d->a_sk)},
        {"b", b, max_index(d->b_off, d->batch, d->b_sb, d->k, d->b_sk, d->n, d->b_sn)},
        {"c", c, max_index(d->c_off, d->batch, d->c_sb, d->m, d->c_sm, d->n, d->c_sn)},
    };
    for (int i = 0; i < 3; i++) {
        int64_t numel = ve_tensor_numel(g, ops[i].t);
        if (ops[i].last >= numel || ops[i].last > INT32_MAX)
            return ve_fail("matmul_node: %s (%s, %lld elements) read up to element %lld "
                           "(batch %lld, m %lld, n %lld, k %lld)",
                           ops[i].name, ve_tensor_name(g, ops[i].t), (long long)numel,
                           (long long)ops[i].last, (long long)d->batch, (long long)d->m,
                           (long long)d->n, (long long)d->k);
    }
    if (d->bias != VE_NONE && ve_tensor_numel(g, d->bias) < d->n)
        return ve_fail("matmul_node: bias %s has %lld elements, n is %lld",
                       ve_tensor_name(g, d->bias), (long long)ve_tensor_numel(g, d->bias),
                       (long long)d->n);
    return VE_OK;
}

/* C^T = op(B)^T op(A)^T: the same problem with M and N (and the operands) swapped. */
static ve_matmul_desc transposed_problem(const ve_matmul_desc *d) {
    ve_matmul_desc t = *d;
    t.m = d->n;
    t.n = d->m;
    t.a_off = d->b_off, t.a_sb = d->b_sb, t.a_sm = d->b_sn, t.a_sk = d->b_sk;
    t.b_off = d->a_off, t.b_sb = d->a_sb, t.b_sk = d->a_sk, t.b_sn = d->a_sm;
    t.c_sm = d->c_sn, t.c_sn = d->c_sm;
    return t;
}

static mm_plan make_plan(ve_graph *g, ve_tid a, ve_tid b, const ve_matmul_desc *d, ve_tid *pa,
                         ve_tid *pb) {
    mm_plan p = {.d = *d};
    *pa = a, *pb = b;
    /* A C stored column-major (a transposed gradient) is written row by row instead: contiguous
     * stores. Not with a bias, which runs along n. */
    if (d->bias == VE_NONE && d->m > 1 && d->n > 1 && d->c_sm == 1 && d->c_sn != 1) {
        p.d = transposed_problem(d);
        *pa = b, *pb = a;
    }
    const ve_device_info *info = ve_device_get_info(ve_graph_device(g));
    const ve_matmul_desc *n = &p.d;
    uint64_t texels_a = (uint64_t)(ve_tensor_numel(g, *pa) + 3) / 4;
    uint64_t texels_b = (uint64_t)(ve_tensor_numel(g, *pb) + 3) / 4;
    p.texel = info->device_class == VE_CLASS_CPU && texels_a <= info->max_texel_buffer_elements &&
              texels_b <= info->max_texel_buffer_elements &&
              texel_layout(n->batch, n->m, n->k, n->a_off, n->a_sb, n->a_sm, n->a_sk, &p.ta) &&
              texel_layout(n->batch, n->k, n->n, n->b_off, n->b_sb, n->b_sk, n->b_sn, &p.tb);
    /* texel_layout's trans for B means rows (k) contiguous: B stored [N][K], i.e. TRANS_B. */
    return p;
}

const char *ve_matmul_node_kernel(ve_graph *g, ve_tid a, ve_tid b, const ve_matmul_desc *d) {
    if (!g || !d || ve_tensor_ndim(g, a) == 0 || ve_tensor_ndim(g, b) == 0) return "invalid";
    ve_tid pa, pb;
    mm_plan p = make_plan(g, a, b, d, &pa, &pb);
    static const char *names[4] = {"texel NN", "texel NT", "texel TN", "texel TT"};
    return p.texel ? names[p.ta * 2 + p.tb] : "tiled";
}

static uint32_t u32(int64_t v) {
    return (uint32_t)(int32_t)v;
}

int ve_matmul_node(ve_graph *g, ve_tid a, ve_tid b, ve_tid c, const ve_matmul_desc *d) {
    if (check_desc(g, a, b, c, d) != VE_OK) return VE_FAIL;
    ve_tid pa, pb;
    mm_plan p = make_plan(g, a, b, d, &pa, &pb);
    const ve_matmul_desc *n = &p.d;
    int has_bias = n->bias != VE_NONE;
    ve_node_desc nd = {
        .op = "matmul",
        .n_bind = 4,
        .flops = 2.0 * (double)n->batch * (double)n->m * (double)n->n * (double)n->k,
        .bytes = 4.0 * (double)n->batch *
                 (double)(n->m * n->k + n->k * n->n + n->m * n->n * (n->accumulate ? 2 : 1)),
    };
    ve_access cacc = n->accumulate ? VE_RW : VE_WRITE;
    uint32_t flags = (has_bias ? 1u : 0u) | (n->accumulate ? 2u : 0u);
    uint64_t tiles;
    if (p.texel) {
        int64_t tiles_m = (n->m + TEXEL_TM - 1) / TEXEL_TM,
                tiles_n = (n->n + TEXEL_TN - 1) / TEXEL_TN;
        nd.kernel = "matmul_texel";
        nd.bind[0] = (ve_binding){pa, VE_READ, VE_BIND_TEXEL};
        nd.bind[1] = (ve_binding){pb, VE_READ, VE_BIND_TEXEL};
        nd.bind[2] = (ve_binding){c, cacc, VE_BIND_STORAGE};
        nd.bind[3] = (ve_binding){has_bias ? n->bias : c, VE_READ, VE_BIND_STORAGE};
        nd.n_spec = 2;
        nd.spec[0] = (uint32_t)p.ta;
        nd.spec[1] = (uint32_t)p.tb;
        /* Consecutive workgroups share B's K x 128 panel (walking down M) when it fits in a
         * core's L2 (1 MiB here); otherwise they share A's 16 rows, walking along N. Measured
         * 5-10% apart at K = 768, even at K = 3072. */
        int order = n->k * TEXEL_TN * 4 <= (1 << 20) ? 1 : 0;
        uint32_t push[] = {u32(n->m),
                           u32(n->n),
                           u32(n->k),
                           flags,
                           u32(n->a_off / 4),
                           u32(n->a_sb / 4),
                           u32((p.ta ? n->a_sk : n->a_sm) / 4),
                           u32(n->b_off / 4),
                           u32(n->b_sb / 4),
                           u32((p.tb ? n->b_sn : n->b_sk) / 4),
                           u32(n->c_off),
                           u32(n->c_sb),
                           u32(n->c_sm),
                           u32(n->c_sn),
                           u32(tiles_m),
                           u32(tiles_n),
                           (uint32_t)order};
        memcpy(nd.push, push, sizeof push);
        nd.push_bytes = sizeof push;
        tiles = (uint64_t)(tiles_m * tiles_n);
    } else {
        int64_t tiles_m = (n->m + TILED_TS - 1) / TILED_TS,
                tiles_n = (n->n + TILED_TS - 1) / TILED_TS;
        nd.kernel = "matmul_tiled";
        nd.bind[0] = (ve_binding){pa, VE_READ, VE_BIND_STORAGE};
        nd.bind[1] = (ve_binding){pb, VE_READ, VE_BIND_STORAGE};
        nd.bind[2] = (ve_binding){c, cacc, VE_BIND_STORAGE};
        nd.bind[3] = (ve_binding){has_bias ? n->bias : pa, VE_READ, VE_BIND_STORAGE};
        uint32_t push[] = {u32(n->m),    u32(n->n),    u32(n->k),     flags,         u32(n->a_off),
                           u32(n->a_sb), u32(n->a_sm), u32(n->a_sk),  u32(n->b_off), u32(n->b_sb),
                           u32(n->b_sk), u32(n->b_sn), u32(n->c_off), u32(n->c_sb),  u32(n->c_sm),
                           u32(n->c_sn), u32(tiles_n)};
        memcpy(nd.push, push, sizeof push);
        nd.push_bytes = sizeof push;
        tiles = (uint64_t)(tiles_m * tiles_n);
    }
    ve_groups_1d(g, tiles, nd.groups);
    nd.groups[2] = (uint32_t)n->batch;
    if (ve_node_add(g, &nd) != VE_OK)
        return ve_fail_context("matmul_node (%s, batch %lld, m %lld, n %lld, k %lld): ", nd.kernel,
                               (long long)n->batch, (long long)n->m, (long long)n->n,
                               (long long)n->k);
    return VE_OK;
}
