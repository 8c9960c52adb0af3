/* Fused attention (ve_attention): forward and backward against tests/ref/attention_ref.c on SAM's
 * shapes (windows 14 on 28x28 and a padded 42x42 grid, global 8x8, 32x32 and a 64x64 forward
 * that crosses lavapipe's loop limit if any loop were per (key, dim)), decoder shapes (7 x 4096
 * and the reverse), with and without rel pos, frozen or trainable tables, and every gradient
 * layout: q, k, v as columns of one qkv tensor (tiling it exactly, or not), separate tensors with
 * one frozen, q = k = v (overlapping parts) and a qkv tensor feeding two attentions
 * (accumulation). Both kernel families. Finite-difference check of the reference backward, and
 * once a comparison of the reference with tests/reference/sam_model.py's EncoderAttention. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Forward: dot products of up to 64 terms and a softmax-weighted mean over up to 4096 keys. The
 * backward's dk, dv, d rel_pos sum over up to 4096 queries (and heads) in float: 3e-5. */
#define RTOL_FWD 2e-5
#define RTOL_BWD 3e-5
#define FLOOR 1e-6

enum { SHARED, SEPARATE, SAME, WIDE, TWICE };
static const char *layout_name[] = {"qkv", "separate q,k,v (v frozen)", "q=k=v", "qkv+extra cols",
                                    "qkv feeding two attentions"};

typedef struct {
    int64_t batch, q_tokens, k_tokens, grid_h, grid_w;
    int window, heads, hd, rel, layout, grad_rel, bwd;
} at_case;

static ref_attn_shape shape_of(const at_case *c, int64_t qs, int64_t ks, int64_t vs) {
    return (ref_attn_shape){
        c->batch,  c->q_tokens, c->k_tokens, c->heads, c->hd, (float)(1.0 / sqrt((double)c->hd)),
        c->grid_h, c->grid_w,   c->window,   qs,       ks,    vs};
}

static void check(ve_graph *g, ve_tid t, const float *want, size_t n, double rtol, const char *what,
                  const char *part) {
    char w[300];
    snprintf(w, sizeof w, "%s: %s", what, part);
    if (t == VE_NONE) {
        tu_check(0, w);
        return;
    }
    float *got = tu_read(g, t);
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(want[i]));
    /* A test that cannot fail is a defect: the reference must not be all zeros. */
    tu_check(mx > 1e-4 && tu_close(w, got, want, n, rtol, FLOOR), w);
    free(got);
}

static void run_case(ve_device *dev, const at_case *c, uint64_t *seed) {
    const int gpu = ve_device_get_info(dev)->device_class == VE_CLASS_GPU;
    char what[256];
    snprintf(what, sizeof what,
             "attention b%lld q%lld k%lld grid %lldx%lld win %d heads %d hd %d rel %d%s, %s%s",
             (long long)c->batch, (long long)c->q_tokens, (long long)c->k_tokens,
             (long long)c->grid_h, (long long)c->grid_w, c->window, c->heads, c->hd, c->rel,
             c->grad_rel ? "(grad)" : "", layout_name[c->layout], gpu ? " [gpu kernels]" : "");
    const int64_t D = (int64_t)c->heads * c->hd, rq = c->batch * c->q_tokens,
                  rk = c->batch * c->k_tokens;
    const int64_t L_h = c->window ? c->window : c->grid_h, L_w = c->window ? c->window : c->grid_w;
    const size_t nrh = c->rel ? (size_t)((2 * L_h - 1) * c->hd) : 0;
    const size_t nrw = c->rel ? (size_t)((2 * L_w - 1) * c->hd) : 0;
    ve_graph *g = ve_graph_create(dev);
    ve_attention_opts o = {.batch = c->batch,
                           .q_tokens = c->q_tokens,
                           .k_tokens = c->k_tokens,
                           .heads = c->heads,
                           .head_dim = c->hd,
                           .scale = (float)(1.0 / sqrt((double)c->hd)),
                           .grid_h = c->grid_h,
                           .grid_w = c->grid_w,
                           .window = c->window,
                           .rel_pos_h = VE_NONE,
                           .rel_pos_w = VE_NONE};
    if (c->rel) {
        o.rel_pos_h = ve_tensor_2d(g, VE_INPUT, "rel_pos_h", 2 * L_h - 1, c->hd);
        o.rel_pos_w = ve_tensor_2d(g, VE_INPUT, "rel_pos_w", 2 * L_w - 1, c->hd);
        ve_set_requires_grad(g, o.rel_pos_h, c->grad_rel);
        ve_set_requires_grad(g, o.rel_pos_w, c->grad_rel);
    }
    /* Host arrays: one buffer per tensor; X is the qkv-like tensor of the shared layouts. */
    int64_t R = c->layout == SAME ? D : c->layout == WIDE ? 3 * D + 8 : 3 * D;
    int64_t cq = c->layout == WIDE ? 8 : 0, ck = cq + (c->layout == SAME ? 0 : D),
            cv = cq + (c->layout == SAME ? 0 : 2 * D);
    ve_tid X = VE_NONE, Qt = VE_NONE, Kt = VE_NONE, Vt = VE_NONE;
    float *xv = NULL, *qv = NULL, *kv = NULL, *vv = NULL;
    ve_attn_operand q, k, v;
    if (c->layout == SEPARATE) {
        Qt = ve_tensor_2d(g, VE_INPUT, "q", rq, D);
        Kt = ve_tensor_2d(g, VE_INPUT, "k", rk, D);
        Vt = ve_tensor_2d(g, VE_INPUT, "v", rk, D);
        ve_set_requires_grad(g, Qt, 1);
        ve_set_requires_grad(g, Kt, 1);
        q = (ve_attn_operand){Qt, 0};
        k = (ve_attn_operand){Kt, 0};
        v = (ve_attn_operand){Vt, 0};
        qv = tu_rand(seed, (size_t)(rq * D), -1, 1);
        kv = tu_rand(seed, (size_t)(rk * D), -1, 1);
        vv = tu_rand(seed, (size_t)(rk * D), -1, 1);
    } else {
        X = ve_tensor_2d(g, VE_INPUT, "qkv", rq, R);
        ve_set_requires_grad(g, X, 1);
        q = (ve_attn_operand){X, cq};
        k = (ve_attn_operand){X, ck};
        v = (ve_attn_operand){X, cv};
        xv = tu_rand(seed, (size_t)(rq * R), -1, 1);
        qv = xv + cq;
        kv = xv + ck;
        vv = xv + cv;
    }
    const int64_t qs = c->layout == SEPARATE ? D : R;
    ve_tid y = ve_attention(g, q, k, v, &o);
    tu_check(y != VE_NONE, what);
    if (y == VE_NONE) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        ve_graph_destroy(g);
        return;
    }
    ve_tid top = y;
    if (c->layout == TWICE) /* the same qkv again with q and k swapped */
        top = ve_add(g, y, ve_attention(g, k, q, v, &o));
    ve_keep(g, top);
    ve_tid dy = VE_NONE;
    if (c->bwd) {
        dy = ve_tensor_2d(g, VE_INPUT, "dy", rq, D);
        tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
        tu_check((ve_grad(g, o.rel_pos_h) != VE_NONE) == (c->rel && c->grad_rel),
                 "attention: rel-pos gradients only when needed");
        if (c->layout == SEPARATE)
            tu_check(ve_grad(g, Vt) == VE_NONE, "attention: no gradient for a frozen v");
    }
    tu_compile(g);
    float *rh = tu_rand(seed, nrh, -0.5f, 0.5f), *rw = tu_rand(seed, nrw, -0.5f, 0.5f);
    float *dyv = tu_rand(seed, (size_t)(rq * D), -1, 1);
    if (X != VE_NONE) tu_write(g, X, xv);
    if (Qt != VE_NONE) {
        tu_write(g, Qt, qv);
        tu_write(g, Kt, kv);
        tu_write(g, Vt, vv);
    }
    if (c->rel) {
        tu_write(g, o.rel_pos_h, rh);
        tu_write(g, o.rel_pos_w, rw);
    }
    if (c->bwd) tu_write(g, dy, dyv);
    tu_run(g);

    const ref_attn_shape s = shape_of(c, qs, qs, qs);
    const float *prh = c->rel ? rh : NULL, *prw = c->rel ? rw : NULL;
    float *want = malloc(sizeof(float) * (size_t)(rq * D));
    ref_attention_fwd(&s, qv, kv, vv, prh, prw, want, NULL);
    if (c->layout == TWICE) {
        float *w2 = malloc(sizeof(float) * (size_t)(rq * D));
        ref_attention_fwd(&s, kv, qv, vv, prh, prw, w2, NULL);
        for (int64_t i = 0; i < rq * D; i++)
            want[i] += w2[i];
        free(w2);
    }
    check(g, top, want, (size_t)(rq * D), RTOL_FWD, what, "out");
    if (c->bwd) {
        float *drh = calloc(nrh + 1, sizeof(float)), *drw = calloc(nrw + 1, sizeof(float));
        float *gh = c->grad_rel ? drh : NULL, *gw = c->grad_rel ? drw : NULL;
        if (c->layout == SEPARATE) {
            float *dq = calloc((size_t)(rq * D), sizeof(float));
            float *dk = calloc((size_t)(rk * D), sizeof(float));
            ref_attention_bwd(&s, qv, kv, vv, prh, prw, dyv, dq, dk, NULL, gh, gw);
            check(g, ve_grad(g, Qt), dq, (size_t)(rq * D), RTOL_BWD, what, "dq");
            check(g, ve_grad(g, Kt), dk, (size_t)(rk * D), RTOL_BWD, what, "dk");
            free(dq);
            free(dk);
        } else {
            float *dx = calloc((size_t)(rq * R), sizeof(float));
            ref_attention_bwd(&s, qv, kv, vv, prh, prw, dyv, dx + cq, dx + ck, dx + cv, gh, gw);
            if (c->layout == TWICE)
                ref_attention_bwd(&s, kv, qv, vv, prh, prw, dyv, dx + ck, dx + cq, dx + cv, gh, gw);
            check(g, ve_grad(g, X), dx, (size_t)(rq * R), RTOL_BWD, what, "d qkv");
            if (c->layout == WIDE) { /* the columns no operand covers: exactly 0 */
                float *got = tu_read(g, ve_grad(g, X));
                int zero = 1;
                for (int64_t r = 0; r < rq; r++)
                    for (int64_t j = 0; j < 8; j++)
                        zero &= got[r * R + j] == 0.0f;
                tu_check(zero, "attention: uncovered gradient columns are zero");
                free(got);
            }
            free(dx);
        }
        if (c->grad_rel) {
            check(g, ve_grad(g, o.rel_pos_h), drh, nrh, RTOL_BWD, what, "d rel_pos_h");
            check(g, ve_grad(g, o.rel_pos_w), drw, nrw, RTOL_BWD, what, "d rel_pos_w");
        }
        free(drh);
        free(drw);
    }
    free(want);
    free(dyv);
    free(rh);
    free(rw);
    if (xv) {
        free(xv);
    } else {
        free(qv);
        free(kv);
        free(vv);
    }
    ve_graph_destroy(g);
}

/* ---- finite differences on the reference ---- */

typedef struct {
    ref_attn_shape s;
    int rel;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *c = ctx;
    ref_attention_fwd(&c->s, in[0], in[1], in[2], c->rel ? in[3] : NULL, c->rel ? in[4] : NULL, out,
                      NULL);
}

static void test_fd(uint64_t *seed) {
    /* windowed with rel pos; global with rel pos (non-square grid); decoder style */
    const ref_attn_shape shapes[] = {
        {1, 16, 16, 2, 4, 0.5f, 4, 4, 2, 8, 8, 8},
        {2, 6, 6, 1, 8, 0.35f, 2, 3, 0, 8, 8, 8},
        {1, 3, 5, 2, 4, 0.5f, 0, 0, 0, 8, 8, 8},
    };
    for (int i = 0; i < 3; i++) {
        fd_ctx c = {shapes[i], shapes[i].grid_h != 0};
        const ref_attn_shape *s = &c.s;
        const int64_t lh = s->window ? s->window : s->grid_h;
        const int64_t lw = s->window ? s->window : s->grid_w;
        const size_t nq = (size_t)(s->batch * s->q_tokens * 8);
        const size_t nk = (size_t)(s->batch * s->k_tokens * 8);
        const size_t nrh = c.rel ? (size_t)((2 * lh - 1) * s->head_dim) : 1;
        const size_t nrw = c.rel ? (size_t)((2 * lw - 1) * s->head_dim) : 1;
        float *in[5] = {tu_rand(seed, nq, -1, 1), tu_rand(seed, nk, -1, 1),
                        tu_rand(seed, nk, -1, 1), tu_rand(seed, nrh, -0.5f, 0.5f),
                        tu_rand(seed, nrw, -0.5f, 0.5f)};
        float *gr[5] = {calloc(nq, 4), calloc(nk, 4), calloc(nk, 4), calloc(nrh, 4),
                        calloc(nrw, 4)};
        float *r = tu_rand(seed, nq, -1, 1);
        ref_attention_bwd(s, in[0], in[1], in[2], c.rel ? in[3] : NULL, c.rel ? in[4] : NULL, r,
                          gr[0], gr[1], gr[2], gr[3], gr[4]);
        const size_t sz[5] = {nq, nk, nk, nrh, nrw};
        float *grads[5] = {gr[0], gr[1], gr[2], c.rel ? gr[3] : NULL, c.rel ? gr[4] : NULL};
        tu_check(tu_fd_check("ref attention backward", fd_fwd, &c, 5, in, sz, nq, r, grads, 1e-3,
                             2e-3, 0),
                 "fd check of ref_attention_bwd");
        for (int j = 0; j < 5; j++) {
            free(in[j]);
            free(gr[j]);
        }
        free(r);
    }
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "qkv", 16, 24);
    ve_attention_opts o = {.batch = 1,
                           .q_tokens = 16,
                           .k_tokens = 16,
                           .heads = 2,
                           .head_dim = 4,
                           .scale = 0.5f,
                           .grid_h = 4,
                           .grid_w = 4,
                           .window = 3,
                           .rel_pos_h = VE_NONE,
                           .rel_pos_w = VE_NONE};
    ve_attn_operand q = {x, 0}, k = {x, 8}, v = {x, 16};
    tu_check(ve_attention(g, q, k, v, &o) == VE_NONE && strstr(ve_error(), "attention"),
             "attention refuses a grid that is not a multiple of the window");
    o.window = 2;
    v.col = 20;
    tu_check(ve_attention(g, q, k, v, &o) == VE_NONE, "attention refuses columns past the row");
    v.col = 16;
    o.head_dim = 6;
    o.heads = 1;
    tu_check(ve_attention(g, q, k, v, &o) == VE_NONE, "attention refuses head_dim % 4 != 0");
    ve_graph_destroy(g);
}

/* ---- EncoderAttention of tests/reference/sam_model.py vs the reference ---- */

static float *read_raw(const char *dir, const char *name, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    float *p = malloc(sizeof(float) * n);
    size_t got = f ? fread(p, sizeof(float), n, f) : 0;
    if (f) fclose(f);
    if (got != n) {
        fprintf(stderr, "FAIL: %s: read %zu of %zu floats\n", path, got, n);
        free(p);
        return NULL;
    }
    return p;
}

/* Case: the module on a grid x grid x dim input, windowed (window > 0, padded to a multiple) or
 * global. qkv = x W^T + b is computed here in double on the padded grid (padded tokens are
 * zeros, so their qkv is the bias, as in SAM), attention by the reference, cropped; the module's
 * proj was set to the identity by the script. */
static void torch_case(const char *dir, const char *tag, int grid, int dim, int heads, int window) {
    char name[64];
    const int gp = window ? (grid + window - 1) / window * window : grid;
    const int L = window ? window : grid, hd = dim / heads;
    float *x, *w, *b, *rh, *rw, *out;
    snprintf(name, sizeof name, "%s_x.bin", tag);
    x = read_raw(dir, name, (size_t)(grid * grid * dim));
    snprintf(name, sizeof name, "%s_w.bin", tag);
    w = read_raw(dir, name, (size_t)(3 * dim * dim));
    snprintf(name, sizeof name, "%s_b.bin", tag);
    b = read_raw(dir, name, (size_t)(3 * dim));
    snprintf(name, sizeof name, "%s_rh.bin", tag);
    rh = read_raw(dir, name, (size_t)((2 * L - 1) * hd));
    snprintf(name, sizeof name, "%s_rw.bin", tag);
    rw = read_raw(dir, name, (size_t)((2 * L - 1) * hd));
    snprintf(name, sizeof name, "%s_out.bin", tag);
    out = read_raw(dir, name, (size_t)(grid * grid * dim));
    if (!x || !w || !b || !rh || !rw || !out) {
        tu_check(0, "attention: torch dump files");
    } else {
        const int64_t n = (int64_t)gp * gp;
        float *qkv = malloc(sizeof(float) * (size_t)(n * 3 * dim));
        for (int64_t t = 0; t < n; t++) {
            const int64_t yy = t / gp, xx = t % gp;
            const int inside = yy < grid && xx < grid;
            for (int o = 0; o < 3 * dim; o++) {
                double a = b[o];
                for (int i = 0; inside && i < dim; i++)
                    a += (double)x[(yy * grid + xx) * dim + i] * w[o * dim + i];
                qkv[t * 3 * dim + o] = (float)a;
            }
        }
        ref_attn_shape s = {1,  n,  n,      heads,   hd,      (float)pow(hd, -0.5),
                            gp, gp, window, 3 * dim, 3 * dim, 3 * dim};
        float *y = malloc(sizeof(float) * (size_t)(n * dim));
        ref_attention_fwd(&s, qkv, qkv + dim, qkv + 2 * dim, rh, rw, y, NULL);
        float *crop = malloc(sizeof(float) * (size_t)(grid * grid * dim));
        for (int yy = 0; yy < grid; yy++)
            for (int xx = 0; xx < grid; xx++)
                memcpy(crop + ((int64_t)yy * grid + xx) * dim, y + ((int64_t)yy * gp + xx) * dim,
                       sizeof(float) * (size_t)dim);
        char what[100];
        snprintf(what, sizeof what, "ref attention vs sam_model.py EncoderAttention (%s)", tag);
        tu_check(tu_close(what, crop, out, (size_t)(grid * grid * dim), 1e-5, FLOOR), what);
        free(qkv);
        free(y);
        free(crop);
    }
    free(x);
    free(w);
    free(b);
    free(rh);
    free(rw);
    free(out);
}

static void test_torch(void) {
    char script[512], dir[] = "/tmp/vksamed_attn_XXXXXX", cmd[1200];
    snprintf(script, sizeof script, "%s", __FILE__);
    char *slash = strrchr(script, '/');
    if (!slash || !mkdtemp(dir)) {
        printf("SKIP torch comparison: no source path or temp dir\n");
        return;
    }
    strcpy(slash, "/../reference/attention_dump.py");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, dir);
    int rc = system(cmd);
    if (rc != 0) {
        printf("SKIP torch comparison: '%s' exited with %d (needs /usr/bin/python3 with torch)\n",
               cmd, rc);
    } else {
        torch_case(dir, "win", 16, 32, 2, 14);
        torch_case(dir, "glob", 8, 32, 2, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(11);
    test_fd(&seed);
    test_torch();
    test_errors(dev);
    /* batch, q_tokens, k_tokens, grid_h, grid_w, window, heads, hd, rel, layout, grad_rel, bwd */
    const at_case cases[] = {
        {2, 784, 784, 28, 28, 14, 2, 16, 1, SHARED, 1, 1},  /* vit window block, trainable rel */
        {1, 1764, 1764, 42, 42, 14, 3, 8, 1, SHARED, 0, 1}, /* S=512 padded grid, frozen rel */
        {1, 784, 784, 28, 28, 14, 2, 64, 0, WIDE, 0, 1},    /* no rel pos; qkv + extra cols */
        {2, 64, 64, 8, 8, 0, 1, 64, 1, SHARED, 1, 1},       /* global 8x8 */
        {1, 1024, 1024, 32, 32, 0, 2, 32, 1, TWICE, 1, 1},  /* global 32x32, accumulation */
        {1, 7, 4096, 0, 0, 0, 8, 16, 0, SEPARATE, 0, 1},    /* decoder token -> image */
        {1, 4096, 7, 0, 0, 0, 8, 16, 0, SEPARATE, 0, 1},    /* decoder image -> token */
        {2, 7, 7, 0, 0, 0, 8, 32, 0, SAME, 0, 1},           /* decoder self-attention q=k=v */
        {2, 196, 196, 14, 14, 7, 4, 32, 1, SHARED, 1, 1},   /* brain: windows of 49 (not 4k) */
        {2, 35, 35, 5, 7, 0, 2, 16, 1, SHARED, 1, 1},       /* global 5x7: 35 queries, rel */
        {1, 4096, 4096, 64, 64, 0, 1, 64, 1, SHARED, 0, 0}, /* global 64x64, forward only */
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (int i = 0; i < n; i++)
            if (!(cls && i == n - 1)) /* the 64x64 forward once */
                run_case(dev, &cases[i], &seed);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
