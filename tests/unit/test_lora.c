/* LoRA linear: ve_linear_lora forward and every gradient against the reference in both kernel
 * families (SAM-like and awkward shapes, frozen and trainable W), no gradient (and fewer nodes)
 * for a frozen W, shape errors, the init helper, and finite differences of the reference.
 * VKSAMED_LORA_BENCH=1 also profiles the vit_b qkv shape against ve_linear + ve_add adapters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* fp32 dot products up to 1764 long (dA, dB, dW sum over the rows) against double. */
#define RTOL 3e-5
#define FLOOR 1e-6

typedef struct {
    int64_t lead; /* x is [lead, rows / lead, in] when > 1, else [rows, in] */
    int64_t rows, in, out;
    int n_ad;
    int64_t r[2], out_a[2], col[2];
    int bias;
    int w_train; /* W (and bias) trainable; else frozen VE_PARAM */
    int x_grad;  /* x requires a gradient */
} lora_case;

static const lora_case cases[] = {
    /* SAM-like: 9 windows of 14 x 14 tokens, D = 64, qkv with q and v adapters (r 4) */
    {9, 1764, 64, 192, 2, {4, 4}, {64, 64}, {0, 128}, 1, 0, 1},
    /* one window at vit_b's width */
    {1, 196, 768, 2304, 2, {4, 4}, {768, 768}, {0, 1536}, 1, 0, 1},
    /* awkward: one row, in 5, r 1 */
    {1, 1, 5, 7, 2, {1, 1}, {3, 3}, {0, 4}, 1, 1, 1},
    /* 3-D x, mixed ranks, unaligned columns, no bias */
    {3, 39, 5, 11, 2, {1, 3}, {5, 4}, {0, 6}, 0, 1, 1},
    /* overlapping adapters (both add into columns 2..9) */
    {1, 37, 20, 30, 2, {2, 3}, {8, 8}, {2, 2}, 1, 1, 1},
    /* x without gradient, frozen W: only dA and dB */
    {1, 50, 12, 36, 2, {4, 4}, {12, 12}, {0, 24}, 1, 0, 0},
    /* one adapter; none (a plain linear) */
    {1, 70, 16, 48, 1, {4, 0}, {16, 0}, {16, 0}, 1, 1, 1},
    {1, 33, 9, 10, 0, {0, 0}, {0, 0}, {0, 0}, 1, 1, 1},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* Host data and reference results of a case (computed once, shared by both families). */
typedef struct {
    float *x, *w, *bias, *a[2], *b[2], *dy;
    float *y, *dx, *dw, *dbias, *da[2], *db[2];
} case_data;

static ref_lora_adapter ref_adapter(const lora_case *t, const case_data *h, int i) {
    return (ref_lora_adapter){h->a[i], h->b[i], t->r[i], t->out_a[i], t->col[i]};
}

static void case_prepare(const lora_case *t, int ci, case_data *h) {
    memset(h, 0, sizeof *h);
    uint64_t seed = tu_seed(500 + (uint64_t)ci);
    size_t nx = (size_t)(t->rows * t->in), ny = (size_t)(t->rows * t->out);
    h->x = tu_rand(&seed, nx, -1, 1);
    h->w = tu_rand(&seed, (size_t)(t->out * t->in), -1, 1);
    h->bias = t->bias ? tu_rand(&seed, (size_t)t->out, -1, 1) : NULL;
    ref_lora_adapter ad[2];
    for (int i = 0; i < t->n_ad; i++) {
        h->a[i] = tu_rand(&seed, (size_t)(t->r[i] * t->in), -1, 1);
        /* B random, not SAMed's zero init: a zero B would hide a wrong adapter path */
        h->b[i] = tu_rand(&seed, (size_t)(t->out_a[i] * t->r[i]), -1, 1);
        ad[i] = ref_adapter(t, h, i);
        h->da[i] = malloc(sizeof(float) * (size_t)(t->r[i] * t->in));
        h->db[i] = malloc(sizeof(float) * (size_t)(t->out_a[i] * t->r[i]));
    }
    h->dy = tu_rand(&seed, ny, -1, 1);
    h->y = malloc(sizeof(float) * ny);
    h->dx = t->x_grad ? malloc(sizeof(float) * nx) : NULL;
    h->dw = t->w_train ? malloc(sizeof(float) * (size_t)(t->out * t->in)) : NULL;
    h->dbias = t->w_train && t->bias ? malloc(sizeof(float) * (size_t)t->out) : NULL;
    ref_lora_fwd(h->x, h->w, h->bias, t->n_ad, ad, h->y, t->rows, t->in, t->out);
    ref_lora_bwd(h->x, h->w, h->dy, t->n_ad, ad, h->dx, h->dw, h->dbias, h->da, h->db, t->rows,
                 t->in, t->out);
}

static void case_free(case_data *h) {
    free(h->x), free(h->w), free(h->bias), free(h->dy), free(h->y), free(h->dx), free(h->dw);
    free(h->dbias);
    for (int i = 0; i < 2; i++)
        free(h->a[i]), free(h->b[i]), free(h->da[i]), free(h->db[i]);
}

typedef struct {
    ve_tid x, w, bias, a[2], b[2], y, dy;
} case_graph;

/* Builds the op and its backward; returns the graph (NULL on failure, reported). */
static ve_graph *case_build(ve_device *dev, const lora_case *t, int w_train, case_graph *cg) {
    ve_graph *g = ve_graph_create(dev);
    int64_t xs[3], ys[3];
    int nd = t->lead > 1 ? 3 : 2;
    if (nd == 3) {
        xs[0] = ys[0] = t->lead;
        xs[1] = ys[1] = t->rows / t->lead;
    } else {
        xs[0] = ys[0] = t->rows;
    }
    xs[nd - 1] = t->in;
    ys[nd - 1] = t->out;
    ve_kind wk = w_train ? VE_TRAINABLE : VE_PARAM;
    cg->x = ve_tensor(g, VE_INPUT, "x", nd, xs);
    ve_set_requires_grad(g, cg->x, t->x_grad);
    cg->w = ve_tensor_2d(g, wk, "w", t->out, t->in);
    cg->bias = t->bias ? ve_tensor(g, wk, "bias", 1, &t->out) : VE_NONE;
    ve_lora_adapter ad[2];
    for (int i = 0; i < t->n_ad; i++) {
        cg->a[i] = ve_tensor_2d(g, VE_TRAINABLE, "lora_a", t->r[i], t->in);
        cg->b[i] = ve_tensor_2d(g, VE_TRAINABLE, "lora_b", t->out_a[i], t->r[i]);
        ad[i] = (ve_lora_adapter){cg->a[i], cg->b[i], t->col[i]};
    }
    cg->y = ve_linear_lora(g, cg->x, cg->w, cg->bias, t->n_ad, ad);
    int ok = cg->y != VE_NONE && ve_tensor_ndim(g, cg->y) == nd &&
             ve_tensor_dim(g, cg->y, -1) == t->out && ve_tensor_dim(g, cg->y, 0) == ys[0];
    if (ok) {
        ve_keep(g, cg->y);
        cg->dy = ve_tensor(g, VE_INPUT, "dy", nd, ys);
        ok = ve_graph_backward_seed(g, cg->y, cg->dy) == VE_OK;
    }
    tu_check(ok, "linear_lora and its backward build");
    if (!ok) {
        fprintf(stderr, "%s\n", ve_error());
        ve_graph_destroy(g);
        return NULL;
    }
    return g;
}

static void check_grad(ve_graph *g, ve_tid t, const float *want, size_t n, const char *fam, int ci,
                       const char *name) {
    char what[96];
    snprintf(what, sizeof what, "%s case %d %s", fam, ci, name);
    ve_tid gt = ve_grad(g, t);
    if (!want) {
        snprintf(what, sizeof what, "%s case %d: %s gets no gradient", fam, ci, name);
        tu_check(gt == VE_NONE, what);
        return;
    }
    tu_check(gt != VE_NONE, what);
    if (gt == VE_NONE) return;
    float *got = tu_read(g, gt);
    tu_check(tu_close(what, got, want, n, RTOL, FLOOR), what);
    free(got);
}

static void test_case(ve_device *dev, ve_device_class cls, int ci, const case_data *h) {
    const lora_case *t = &cases[ci];
    ve_device_set_class(dev, cls);
    const char *fam = cls == VE_CLASS_CPU ? "cpu" : "gpu";
    case_graph cg;
    ve_graph *g = case_build(dev, t, t->w_train, &cg);
    if (!g) return;
    tu_compile(g);
    tu_write(g, cg.x, h->x);
    tu_write(g, cg.w, h->w);
    if (t->bias) tu_write(g, cg.bias, h->bias);
    for (int i = 0; i < t->n_ad; i++) {
        tu_write(g, cg.a[i], h->a[i]);
        tu_write(g, cg.b[i], h->b[i]);
    }
    tu_write(g, cg.dy, h->dy);
    tu_run(g);
    char what[96];
    float *got = tu_read(g, cg.y);
    snprintf(what, sizeof what, "%s case %d forward", fam, ci);
    tu_check(tu_close(what, got, h->y, (size_t)(t->rows * t->out), RTOL, FLOOR), what);
    free(got);
    check_grad(g, cg.x, h->dx, (size_t)(t->rows * t->in), fam, ci, "dx");
    check_grad(g, cg.w, h->dw, (size_t)(t->out * t->in), fam, ci, "dW");
    if (t->bias) check_grad(g, cg.bias, h->dbias, (size_t)t->out, fam, ci, "dbias");
    for (int i = 0; i < t->n_ad; i++) {
        check_grad(g, cg.a[i], h->da[i], (size_t)(t->r[i] * t->in), fam, ci, i ? "dA1" : "dA0");
        check_grad(g, cg.b[i], h->db[i], (size_t)(t->out_a[i] * t->r[i]), fam, ci,
                   i ? "dB1" : "dB0");
    }
    ve_graph_destroy(g);
}

/* A frozen W skips dW and dbias entirely: fewer nodes than the same op with W trainable. */
static void test_frozen_nodes(ve_device *dev) {
    const lora_case *t = &cases[0];
    int nodes[2] = {0, 0};
    for (int w_train = 0; w_train < 2; w_train++) {
        case_graph cg;
        ve_graph *g = case_build(dev, t, w_train, &cg);
        if (!g) return;
        tu_compile(g);
        ve_graph_stats s;
        ve_graph_get_stats(g, &s);
        nodes[w_train] = s.nodes;
        tu_check((ve_grad(g, cg.w) == VE_NONE) == !w_train, "W has a gradient iff trainable");
        ve_graph_destroy(g);
    }
    char what[96];
    snprintf(what, sizeof what, "frozen W: %d nodes < %d with W trainable", nodes[0], nodes[1]);
    printf("%s\n", what);
    /* dW (one matmul) and dbias (one column sum) at least */
    tu_check(nodes[0] + 2 <= nodes[1], what);
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", 10, 8);
    ve_tid w = ve_tensor_2d(g, VE_PARAM, "w", 24, 8);
    ve_tid a = ve_tensor_2d(g, VE_TRAINABLE, "a", 4, 8);
    ve_tid b = ve_tensor_2d(g, VE_TRAINABLE, "b", 8, 4);
    ve_tid bad_a = ve_tensor_2d(g, VE_TRAINABLE, "bad_a", 4, 7);
    ve_lora_adapter ad[3] = {{a, b, 0}, {a, b, 16}, {a, b, 8}};
    tu_check(ve_linear_lora(g, x, w, VE_NONE, 2, ad) != VE_NONE, "valid adapters accepted");
    ve_lora_adapter past = {a, b, 17};
    tu_check(ve_linear_lora(g, x, w, VE_NONE, 1, &past) == VE_NONE && strstr(ve_error(), "columns"),
             "adapter past the output columns refused");
    ve_lora_adapter wrong = {bad_a, b, 0};
    tu_check(ve_linear_lora(g, x, w, VE_NONE, 1, &wrong) == VE_NONE && strstr(ve_error(), "bad_a"),
             "adapter a with the wrong in refused by name");
    tu_check(ve_linear_lora(g, x, w, VE_NONE, 3, ad) == VE_NONE, "three adapters refused");
    tu_check(ve_linear_lora(g, x, ve_tensor_2d(g, VE_PARAM, "w2", 24, 9), VE_NONE, 0, ad) ==
                 VE_NONE,
             "mismatched w refused");
    ve_graph_destroy(g);
}

static void test_init(void) {
    enum { R = 4, IN = 768 };
    static float a[R * IN], a2[R * IN];
    uint64_t s1 = 42, s2 = 42;
    ve_lora_init_host(a, R, IN, &s1);
    ve_lora_init_host(a2, R, IN, &s2);
    tu_check(!memcmp(a, a2, sizeof a) && s1 == s2 && s1 != 42, "init deterministic, state moves");
    ve_lora_init_host(a2, R, IN, &s2);
    tu_check(memcmp(a, a2, sizeof a) != 0, "next draw differs");
    double bound = 1.0 / sqrt((double)IN), mn = 1, mx = -1, mean = 0, sq = 0;
    for (int i = 0; i < R * IN; i++) {
        mn = fmin(mn, a[i]), mx = fmax(mx, a[i]);
        mean += a[i], sq += (double)a[i] * a[i];
    }
    mean /= R * IN;
    sq /= R * IN;
    /* U(-b, b): mean 0 (sd b / sqrt(3 n)), variance b^2 / 3 */
    tu_check(mn >= -bound && mx < bound && mn < -0.98 * bound && mx > 0.98 * bound,
             "init within and spanning +-1/sqrt(in)");
    tu_check(fabs(mean) < 0.05 * bound && fabs(sq / (bound * bound / 3) - 1) < 0.05,
             "init mean and variance of U(-b, b)");
}

/* ---- finite differences of the reference ---- */

typedef struct {
    int64_t rows, in, out;
    ref_lora_adapter ad[2];
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    fd_ctx *c = ctx;
    ref_lora_adapter ad[2] = {c->ad[0], c->ad[1]};
    ad[0].a = in[3], ad[0].b = in[4], ad[1].a = in[5], ad[1].b = in[6];
    ref_lora_fwd(in[0], in[1], in[2], 2, ad, out, c->rows, c->in, c->out);
}

static void test_fd(void) {
    uint64_t seed = tu_seed(600);
    fd_ctx c = {4, 5, 9, {{NULL, NULL, 2, 4, 1}, {NULL, NULL, 1, 6, 3}}};
    size_t sizes[7] = {20, 45, 9, 10, 8, 5, 6};
    float *in[7], *gr[7];
    for (int i = 0; i < 7; i++) {
        in[i] = tu_rand(&seed, sizes[i], -1, 1);
        gr[i] = malloc(sizeof(float) * sizes[i]);
    }
    float *r = tu_rand(&seed, 36, -1, 1);
    ref_lora_adapter ad[2] = {c.ad[0], c.ad[1]};
    ad[0].a = in[3], ad[0].b = in[4], ad[1].a = in[5], ad[1].b = in[6];
    float *da[2] = {gr[3], gr[5]}, *db[2] = {gr[4], gr[6]};
    ref_lora_bwd(in[0], in[1], r, 2, ad, gr[0], gr[1], gr[2], da, db, c.rows, c.in, c.out);
    tu_check(tu_fd_check("ref lora backward", fd_fwd, &c, 7, in, sizes, 36, r, gr, 1e-2, 1e-3, 0),
             "ref lora backward matches finite differences");
    for (int i = 0; i < 7; i++)
        free(in[i]), free(gr[i]);
    free(r);
}

/* ---- measurement: fused LoRA vs ve_linear + separate adapter matmuls added with ve_add ---- */

/* mode 0: ve_linear_lora with q and v adapters; 1: ve_linear + adapter matmuls + ve_add;
 * 2: ve_linear_lora without adapters (the frozen base alone, for the adapters' cost). */
static ve_graph *bench_build(ve_device *dev, int mode, int64_t rows, int64_t d) {
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", rows, d);
    ve_set_requires_grad(g, x, 1);
    ve_tid w = ve_tensor_2d(g, VE_PARAM, "w", 3 * d, d);
    int64_t o = 3 * d;
    ve_tid bias = ve_tensor(g, VE_PARAM, "bias", 1, &o);
    ve_tid a[2], b[2], y;
    for (int i = 0; i < 2; i++) {
        a[i] = ve_tensor_2d(g, VE_TRAINABLE, "a", 4, d);
        b[i] = ve_tensor_2d(g, VE_TRAINABLE, "b", d, 4);
    }
    if (mode != 1) {
        ve_lora_adapter ad[2] = {{a[0], b[0], 0}, {a[1], b[1], 2 * d}};
        y = ve_linear_lora(g, x, w, bias, mode == 0 ? 2 : 0, ad);
    } else {
        /* PyTorch SAMed style: qkv = linear(x), then the adapter outputs added in; with no
         * column-range add, each B is zero-padded to [3D, r] and added over the full width. */
        y = ve_linear(g, x, w, bias);
        for (int i = 0; i < 2; i++) {
            ve_tid bp = ve_tensor_2d(g, VE_TRAINABLE, "b_padded", 3 * d, 4);
            y = ve_add(g, y, ve_linear(g, ve_linear(g, x, a[i], VE_NONE), bp, VE_NONE));
        }
    }
    ve_tid dy = ve_tensor_2d(g, VE_INPUT, "dy", rows, 3 * d);
    ve_compile_opts co = {.profile = 1};
    if (y == VE_NONE || ve_graph_backward_seed(g, y, dy) != VE_OK ||
        ve_graph_compile(g, &co) != VE_OK) {
        fprintf(stderr, "bench build: %s\n", ve_error());
        ve_graph_destroy(g);
        return NULL;
    }
    return g;
}

static void bench(ve_device *dev) {
    const int64_t rows = 1764, d = 768;
    const char *names[3] = {"ve_linear_lora (q, v adapters)", "ve_linear + adapters + ve_add",
                            "ve_linear_lora, no adapters"};
    ve_graph *g[3];
    double best[3] = {1e30, 1e30, 1e30};
    for (int m = 0; m < 3; m++)
        if (!(g[m] = bench_build(dev, m, rows, d))) return;
    /* interleaved, best of 5: the machine is shared */
    for (int rep = 0; rep < 5; rep++)
        for (int m = 0; m < 3; m++) {
            tu_run(g[m]);
            double ms = ve_graph_profile_total_ms(g[m]);
            if (ms < best[m]) best[m] = ms;
        }
    for (int m = 0; m < 3; m++) {
        printf("--- %s: best %.2f ms (last run's profile below)\n", names[m], best[m]);
        ve_graph_profile_print(g[m], stdout);
        ve_graph_destroy(g[m]);
    }
    printf("LoRA qkv forward+backward %lld x %lld -> %lld, r 4, frozen W, dx needed: fused %.2f "
           "ms, linear + add %.2f ms, base alone %.2f ms\n",
           (long long)rows, (long long)d, (long long)(3 * d), best[0], best[1], best[2]);
}

int main(void) {
    test_fd();
    test_init();
    ve_device *dev = tu_device();
    test_errors(dev);
    ve_device_class native = ve_device_get_info(dev)->device_class;
    if (getenv("VKSAMED_LORA_BENCH")) {
        bench(dev);
        tu_device_done(dev);
        return tu_exit();
    }
    test_frozen_nodes(dev);
    ve_device_class classes[2] = {VE_CLASS_CPU, VE_CLASS_GPU};
    for (int ci = 0; ci < N_CASES; ci++) {
        case_data h;
        case_prepare(&cases[ci], ci, &h);
        for (int f = 0; f < 2; f++)
            test_case(dev, classes[f], ci, &h);
        case_free(&h);
    }
    ve_device_set_class(dev, native);
    tu_device_done(dev);
    return tu_exit();
}
