/* Matmul: ve_matmul_node (strides, offsets, batch, shared B, bias, accumulate, tails) in both
 * kernel families, ve_matmul / ve_linear gradients against the reference, and finite
 * differences of the reference backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Long dot products in fp32 (K up to ~1100) against double: allow 3e-5 of the largest value. */
#define RTOL 3e-5
#define FLOOR 1e-6

/* ---- kernel level ---- */

typedef struct {
    int batch, m, n, k;
    int ta, tb;       /* op(A) / op(B) stored transposed */
    int pad_a, pad_b; /* extra elements per stored row; -1: pad the row to a multiple of 4 */
    int off_a, off_b, off_c;
    int b_shared, bias, acc;
    int c_trans;     /* C stored column-major */
    const char *cpu; /* the kernel the CPU family must pick */
} node_case;

static const node_case node_cases[] = {
    /* size 1 everywhere, texel-readable */
    {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "texel NN"},
    /* the four layouts, aligned, M and N tails (37 rows, 300 = 256 + 44 columns), K % 4 = 1 */
    {1, 37, 300, 53, 0, 0, -1, -1, 0, 0, 0, 0, 0, 0, 0, "texel NN"},
    {1, 37, 300, 53, 0, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0, "texel NT"},
    {1, 37, 300, 53, 1, 0, -1, -1, 0, 0, 0, 0, 0, 0, 0, "texel TN"},
    {1, 37, 300, 53, 1, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0, "texel TT"},
    /* N not a multiple of 4 with padded rows; K tails of 2 and 3; offsets; bias + accumulate */
    {1, 19, 30, 6, 0, 0, -1, -1, 8, 4, 3, 0, 1, 1, 0, "texel NN"},
    {1, 17, 61, 7, 1, 1, -1, -1, 4, 12, 0, 0, 1, 1, 0, "texel TT"},
    /* batched, shared B (batch stride 0), bias, accumulate */
    {3, 20, 36, 16, 0, 0, 0, 0, 4, 8, 1, 1, 1, 1, 0, "texel NN"},
    {3, 20, 36, 16, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, "texel TT"},
    {4, 33, 40, 24, 1, 0, -1, 0, 0, 0, 0, 0, 0, 1, 0, "texel TN"},
    /* several tiles both ways; K large enough for the other tile order (K * 1 KiB > 1 MiB) */
    {1, 300, 520, 200, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, "texel NN"},
    {1, 40, 260, 1100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "texel NN"},
    /* C stored transposed: run as C^T = B^T A^T (without bias), and kept as is with bias */
    {1, 24, 36, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, "texel TT"},
    {1, 24, 36, 20, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, "texel TN"},
    /* unaligned: the CPU family falls back to the tiled kernel */
    {1, 7, 13, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "tiled"},
    {1, 31, 29, 17, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, "tiled"},
    {1, 31, 29, 17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, "tiled"},
    {1, 64, 64, 64, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, "tiled"}, /* offset not on a texel */
    {2, 70, 67, 65, 1, 1, 1, 3, 2, 5, 7, 0, 1, 1, 0, "tiled"},
    {5, 1, 130, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, "tiled"},
    {1, 130, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "tiled"},
};

static int64_t padded(int64_t len, int pad) {
    return pad >= 0 ? len + pad : (len + 3) / 4 * 4;
}

/* Fills the layout of a case; returns the element counts of a, b, c. */
static ref_matmul_layout case_layout(const node_case *t, int64_t *na, int64_t *nb, int64_t *nc) {
    ref_matmul_layout s = {.batch = t->batch, .m = t->m, .n = t->n, .k = t->k};
    int64_t lda = padded(t->ta ? t->m : t->k, t->pad_a);
    s.a_off = t->off_a;
    s.a_sm = t->ta ? 1 : lda;
    s.a_sk = t->ta ? lda : 1;
    s.a_sb = (t->ta ? t->k : t->m) * lda;
    int64_t ldb = padded(t->tb ? t->k : t->n, t->pad_b);
    s.b_off = t->off_b;
    s.b_sk = t->tb ? 1 : ldb;
    s.b_sn = t->tb ? ldb : 1;
    s.b_sb = t->b_shared ? 0 : (t->tb ? t->n : t->k) * ldb;
    s.c_off = t->off_c;
    s.c_sm = t->c_trans ? 1 : t->n + 1; /* C rows padded by one: the gaps must stay untouched */
    s.c_sn = t->c_trans ? t->m + 1 : 1;
    s.c_sb = (t->c_trans ? t->n : t->m) * (int64_t)(t->c_trans ? s.c_sn : s.c_sm);
    s.accumulate = t->acc;
    *na = s.a_off + (t->batch - 1) * s.a_sb + (t->ta ? t->k : t->m) * lda;
    *nb = s.b_off + (t->b_shared ? 0 : (t->batch - 1) * s.b_sb) + (t->tb ? t->n : t->k) * ldb;
    *nc = s.c_off + t->batch * s.c_sb;
    return s;
}

/* Operand storage: NaN everywhere the layout does not use (row padding, offsets), so a kernel
 * that lets an unused element reach a result fails. */
static float *operand(uint64_t *seed, int64_t numel, int64_t batch, int64_t off, int64_t sb,
                      int64_t rows, int64_t s_rows, int64_t cols, int64_t s_cols) {
    float *p = malloc(sizeof *p * (size_t)numel);
    for (int64_t i = 0; i < numel; i++)
        p[i] = NAN;
    for (int64_t z = 0; z < batch; z++)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                p[off + z * sb + r * s_rows + c * s_cols] = tu_uniform(seed, -1, 1);
    return p;
}

static void test_nodes(ve_device *dev, ve_device_class cls) {
    ve_device_set_class(dev, cls);
    const char *fam = cls == VE_CLASS_CPU ? "cpu" : "gpu";
    int nc_ = (int)(sizeof node_cases / sizeof node_cases[0]);
    ve_graph *g = ve_graph_create(dev);
    ve_tid ta[32], tb[32], tc[32], tbias[32];
    float *a[32], *b[32], *c[32], *bias[32], *want[32];
    int64_t na[32], nb[32], ncn[32];
    uint64_t seed = tu_seed(100 + (uint64_t)cls);
    char what[160];
    /* All cases in one graph: one compile, one submit. */
    for (int i = 0; i < nc_; i++) {
        const node_case *t = &node_cases[i];
        ref_matmul_layout s = case_layout(t, &na[i], &nb[i], &ncn[i]);
        a[i] = operand(&seed, na[i], t->batch, s.a_off, s.a_sb, t->m, s.a_sm, t->k, s.a_sk);
        b[i] = operand(&seed, nb[i], t->b_shared ? 1 : t->batch, s.b_off, s.b_sb, t->k, s.b_sk,
                       t->n, s.b_sn);
        c[i] = tu_rand(&seed, (size_t)ncn[i], -1, 1);
        bias[i] = t->bias ? tu_rand(&seed, (size_t)t->n, -1, 1) : NULL;
        want[i] = malloc(sizeof(float) * (size_t)ncn[i]);
        memcpy(want[i], c[i], sizeof(float) * (size_t)ncn[i]);
        ref_matmul_strided(a[i], b[i], bias[i], want[i], &s);

        ta[i] = ve_tensor(g, VE_INPUT, "a", 1, &na[i]);
        tb[i] = ve_tensor(g, VE_INPUT, "b", 1, &nb[i]);
        tc[i] = ve_tensor(g, VE_INPUT, "c", 1, &ncn[i]);
        int64_t n = t->n;
        tbias[i] = t->bias ? ve_tensor(g, VE_INPUT, "bias", 1, &n) : VE_NONE;
        ve_matmul_desc d = {
            .batch = t->batch,
            .m = t->m,
            .n = t->n,
            .k = t->k,
            .a_off = s.a_off,
            .a_sb = s.a_sb,
            .a_sm = s.a_sm,
            .a_sk = s.a_sk,
            .b_off = s.b_off,
            .b_sb = s.b_sb,
            .b_sk = s.b_sk,
            .b_sn = s.b_sn,
            .c_off = s.c_off,
            .c_sb = s.c_sb,
            .c_sm = s.c_sm,
            .c_sn = s.c_sn,
            .bias = tbias[i],
            .accumulate = t->acc,
        };
        const char *kern = ve_matmul_node_kernel(g, ta[i], tb[i], &d);
        const char *expect = cls == VE_CLASS_CPU ? t->cpu : "tiled";
        snprintf(what, sizeof what, "%s case %d (%dx%dx%dx%d %c%c): kernel %s, expected %s", fam, i,
                 t->batch, t->m, t->n, t->k, t->ta ? 'T' : 'N', t->tb ? 'T' : 'N', kern, expect);
        tu_check(!strcmp(kern, expect), what);
        int rc = ve_matmul_node(g, ta[i], tb[i], tc[i], &d);
        if (rc != VE_OK) fprintf(stderr, "%s\n", ve_error());
        tu_check(rc == VE_OK, "matmul_node accepts the case");
    }
    tu_compile(g);
    for (int i = 0; i < nc_; i++) {
        tu_write(g, ta[i], a[i]);
        tu_write(g, tb[i], b[i]);
        tu_write(g, tc[i], c[i]);
        if (tbias[i] != VE_NONE) tu_write(g, tbias[i], bias[i]);
    }
    tu_run(g);
    for (int i = 0; i < nc_; i++) {
        const node_case *t = &node_cases[i];
        float *got = tu_read(g, tc[i]);
        snprintf(what, sizeof what, "%s node case %d: %dx%dx%dx%d %c%c%s%s%s", fam, i, t->batch,
                 t->m, t->n, t->k, t->ta ? 'T' : 'N', t->tb ? 'T' : 'N', t->bias ? " bias" : "",
                 t->acc ? " acc" : "", t->b_shared ? " sharedB" : "");
        tu_check(tu_close(what, got, want[i], (size_t)ncn[i], RTOL, FLOOR), what);
        free(got);
        free(a[i]), free(b[i]), free(c[i]), free(bias[i]), free(want[i]);
    }
    ve_graph_destroy(g);
}

/* Bad descriptors are refused with a message, never dispatched. */
static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = 64;
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_matmul_desc d = {.batch = 1,
                        .m = 8,
                        .n = 8,
                        .k = 8,
                        .a_sm = 8,
                        .a_sk = 1,
                        .b_sk = 8,
                        .b_sn = 1,
                        .c_sm = 8,
                        .c_sn = 1,
                        .bias = VE_NONE};
    tu_check(ve_matmul_node(g, x, x, x, &d) == VE_OK, "8x8x8 within 64 elements");
    d.c_off = 1;
    tu_check(ve_matmul_node(g, x, x, x, &d) == VE_FAIL && strstr(ve_error(), "c (x"),
             "c read past its end is refused by name");
    d.c_off = 0;
    d.k = 0;
    tu_check(ve_matmul_node(g, x, x, x, &d) == VE_FAIL, "empty problem refused");
    ve_tid w = ve_tensor_2d(g, VE_PARAM, "w", 5, 7);
    tu_check(ve_linear(g, ve_tensor_2d(g, VE_INPUT, "in", 3, 6), w, VE_NONE) == VE_NONE &&
                 strstr(ve_error(), "inner dims"),
             "linear with mismatched in features refused");
    ve_graph_destroy(g);
}

/* ---- op level: forward and gradients ---- */

typedef struct {
    int nbatch; /* leading dims of A (0..2) */
    int64_t bdims[2];
    int m, n, k, ta, tb;
    int b_shared; /* B is [K, N] (or [N, K]) for every batch */
    int bias;
    int linear; /* build with ve_linear (tb must be 1, B shared) */
    ve_kind b_kind;
} op_case;

static const op_case op_cases[] = {
    {0, {0, 0}, 33, 47, 29, 0, 0, 1, 0, 0, VE_INPUT},
    {0, {0, 0}, 64, 32, 48, 0, 1, 1, 1, 0, VE_TRAINABLE},
    {0, {0, 0}, 20, 24, 36, 1, 0, 1, 1, 0, VE_INPUT},
    {0, {0, 0}, 1, 5, 1, 1, 1, 1, 0, 0, VE_INPUT},
    {2, {2, 3}, 12, 40, 28, 0, 0, 1, 1, 0, VE_TRAINABLE}, /* shared B folded into M */
    {1, {3, 0}, 12, 20, 16, 1, 0, 1, 0, 0, VE_INPUT},     /* shared B, transposed A: per batch */
    {1, {4, 0}, 9, 13, 11, 1, 1, 0, 0, 0, VE_INPUT},      /* batched B, TT */
    {1, {2, 0}, 16, 32, 8, 0, 1, 0, 0, 0, VE_INPUT},      /* batched B, NT (attention scores) */
    {2, {2, 5}, 24, 20, 36, 0, 1, 1, 1, 1, VE_TRAINABLE}, /* ve_linear x [2,5,24], W [20,24] */
};

static void test_op(ve_device *dev, ve_device_class cls, int ci) {
    const op_case *t = &op_cases[ci];
    ve_device_set_class(dev, cls);
    int64_t batch = 1;
    int64_t ashape[4], bshape[4], cshape[4];
    for (int i = 0; i < t->nbatch; i++) {
        batch *= t->bdims[i];
        ashape[i] = bshape[i] = cshape[i] = t->bdims[i];
    }
    int nd = t->nbatch + 2, bnd = t->b_shared ? 2 : nd, bo = t->b_shared ? 0 : t->nbatch;
    ashape[nd - 2] = t->ta ? t->k : t->m;
    ashape[nd - 1] = t->ta ? t->m : t->k;
    bshape[bo] = t->tb ? t->n : t->k;
    bshape[bo + 1] = t->tb ? t->k : t->n;
    cshape[nd - 2] = t->m;
    cshape[nd - 1] = t->n;
    size_t na = (size_t)(batch * t->m * t->k),
           nbv = (size_t)((t->b_shared ? 1 : batch) * t->k * t->n);
    size_t nc = (size_t)(batch * t->m * t->n);

    ve_graph *g = ve_graph_create(dev);
    ve_tid a = ve_tensor(g, VE_INPUT, "a", nd, ashape);
    ve_tid b = ve_tensor(g, t->b_kind, "b", bnd, bshape);
    int64_t n = t->n;
    ve_tid bias = t->bias ? ve_tensor(g, VE_TRAINABLE, "bias", 1, &n) : VE_NONE;
    ve_set_requires_grad(g, a, 1);
    ve_set_requires_grad(g, b, 1);
    ve_matmul_opts o = {t->ta, t->tb, bias};
    ve_tid c = t->linear ? ve_linear(g, a, b, bias) : ve_matmul(g, a, b, &o);
    tu_check(c != VE_NONE, "matmul builds");
    if (c == VE_NONE) {
        fprintf(stderr, "%s\n", ve_error());
        ve_graph_destroy(g);
        return;
    }
    tu_check(ve_tensor_ndim(g, c) == nd && ve_tensor_dim(g, c, -2) == t->m &&
                 ve_tensor_dim(g, c, -1) == t->n,
             "matmul output shape");
    ve_keep(g, c);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", nd, cshape);
    int rc = ve_graph_backward_seed(g, c, dy);
    if (rc != VE_OK) fprintf(stderr, "%s\n", ve_error());
    tu_check(rc == VE_OK, "backward builds");
    tu_compile(g);

    uint64_t seed = tu_seed(200 + (uint64_t)ci * 2 + (uint64_t)cls);
    float *av = tu_rand(&seed, na, -1, 1), *bv = tu_rand(&seed, nbv, -1, 1);
    float *biasv = t->bias ? tu_rand(&seed, (size_t)t->n, -1, 1) : NULL;
    float *dyv = tu_rand(&seed, nc, -1, 1);
    tu_write(g, a, av);
    tu_write(g, b, bv);
    if (bias != VE_NONE) tu_write(g, bias, biasv);
    tu_write(g, dy, dyv);
    tu_run(g);

    float *cw = malloc(sizeof(float) * nc), *daw = malloc(sizeof(float) * na);
    float *dbw = malloc(sizeof(float) * nbv), *dbiasw = malloc(sizeof(float) * (size_t)t->n);
    ref_matmul_fwd(av, bv, biasv, cw, batch, t->m, t->n, t->k, t->ta, t->tb, t->b_shared);
    ref_matmul_bwd(av, bv, dyv, daw, dbw, t->bias ? dbiasw : NULL, batch, t->m, t->n, t->k, t->ta,
                   t->tb, t->b_shared);
    const char *fam = cls == VE_CLASS_CPU ? "cpu" : "gpu";
    char what[128];
    float *got = tu_read(g, c);
    snprintf(what, sizeof what, "%s op case %d forward", fam, ci);
    tu_check(tu_close(what, got, cw, nc, RTOL, FLOOR), what);
    free(got);
    got = tu_read(g, ve_grad(g, a));
    snprintf(what, sizeof what, "%s op case %d dA", fam, ci);
    tu_check(tu_close(what, got, daw, na, RTOL, FLOOR), what);
    free(got);
    got = tu_read(g, ve_grad(g, b));
    snprintf(what, sizeof what, "%s op case %d dB", fam, ci);
    tu_check(tu_close(what, got, dbw, nbv, RTOL, FLOOR), what);
    free(got);
    if (bias != VE_NONE) {
        got = tu_read(g, ve_grad(g, bias));
        snprintf(what, sizeof what, "%s op case %d dbias", fam, ci);
        tu_check(tu_close(what, got, dbiasw, (size_t)t->n, RTOL, FLOOR), what);
        free(got);
    }
    free(av), free(bv), free(biasv), free(dyv), free(cw), free(daw), free(dbw), free(dbiasw);
    ve_graph_destroy(g);
}

/* x @ x^T: both gradients land in x's, the second accumulating. */
static void test_shared_operand(ve_device *dev, ve_device_class cls) {
    ve_device_set_class(dev, cls);
    const int m = 20, k = 12;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", m, k);
    ve_set_requires_grad(g, x, 1);
    ve_matmul_opts o = {0, 1, VE_NONE};
    ve_tid c = ve_matmul(g, x, x, &o);
    ve_tid dy = ve_tensor_2d(g, VE_INPUT, "dy", m, m);
    tu_check(ve_graph_backward_seed(g, c, dy) == VE_OK, "x x^T backward builds");
    tu_compile(g);
    uint64_t seed = tu_seed(300 + (uint64_t)cls);
    float *xv = tu_rand(&seed, (size_t)(m * k), -1, 1),
          *dyv = tu_rand(&seed, (size_t)(m * m), -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *da = malloc(sizeof(float) * (size_t)(m * k)),
          *db = malloc(sizeof(float) * (size_t)(m * k));
    ref_matmul_bwd(xv, xv, dyv, da, db, NULL, 1, m, m, k, 0, 1, 1);
    for (int i = 0; i < m * k; i++)
        da[i] += db[i];
    float *got = tu_read(g, ve_grad(g, x));
    tu_check(tu_close(cls == VE_CLASS_CPU ? "cpu x x^T dx" : "gpu x x^T dx", got, da,
                      (size_t)(m * k), RTOL, FLOOR),
             "x x^T gradient accumulates both products");
    free(got), free(xv), free(dyv), free(da), free(db);
    ve_graph_destroy(g);
}

/* ---- finite differences of the reference backward ---- */

typedef struct {
    int64_t batch, m, n, k;
    int ta, tb, shared;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *x = ctx;
    ref_matmul_fwd(in[0], in[1], in[2], out, x->batch, x->m, x->n, x->k, x->ta, x->tb, x->shared);
}

static void test_fd(void) {
    uint64_t seed = tu_seed(400);
    for (int v = 0; v < 6; v++) {
        fd_ctx x = {v >= 4 ? 2 : 1, 3, 4, 5, v & 1, (v >> 1) & 1, v == 5};
        size_t na = (size_t)(x.batch * x.m * x.k),
               nb = (size_t)((x.shared ? 1 : x.batch) * x.k * x.n);
        size_t nc = (size_t)(x.batch * x.m * x.n);
        float *in[3] = {tu_rand(&seed, na, -1, 1), tu_rand(&seed, nb, -1, 1),
                        tu_rand(&seed, (size_t)x.n, -1, 1)};
        float *r = tu_rand(&seed, nc, -1, 1);
        float *gr[3] = {malloc(sizeof(float) * na), malloc(sizeof(float) * nb),
                        malloc(sizeof(float) * (size_t)x.n)};
        ref_matmul_bwd(in[0], in[1], r, gr[0], gr[1], gr[2], x.batch, x.m, x.n, x.k, x.ta, x.tb,
                       x.shared);
        size_t sizes[3] = {na, nb, (size_t)x.n};
        char what[64];
        snprintf(what, sizeof what, "ref matmul backward variant %d", v);
        tu_check(tu_fd_check(what, fd_fwd, &x, 3, in, sizes, nc, r, gr, 1e-2, 1e-3, 0), what);
        for (int i = 0; i < 3; i++)
            free(in[i]), free(gr[i]);
        free(r);
    }
}

int main(void) {
    test_fd();
    ve_device *dev = tu_device();
    test_errors(dev);
    ve_device_class classes[2] = {VE_CLASS_CPU, VE_CLASS_GPU};
    ve_device_class native = ve_device_get_info(dev)->device_class;
    for (int f = 0; f < 2; f++) {
        test_nodes(dev, classes[f]);
        for (int i = 0; i < (int)(sizeof op_cases / sizeof op_cases[0]); i++)
            test_op(dev, classes[f], i);
        test_shared_operand(dev, classes[f]);
    }
    ve_device_set_class(dev, native);
    tu_device_done(dev);
    return tu_exit();
}
