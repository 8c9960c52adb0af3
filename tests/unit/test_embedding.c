/* Embedding lookup: forward (exact row copies, zero rows for out-of-range indices) and the
 * scatter-add backward with repeated indices (deterministic sums), accumulation, odd and
 * vec4 column counts, SAM's token tables, both kernel families; finite differences of the
 * reference backward; refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

static ve_device *dev;
static uint64_t rs;

static void run_case(int64_t v, int64_t c, int64_t n, int twice, int bad_indices) {
    char what[160];
    snprintf(what, sizeof what, "embedding V %lld C %lld N %lld%s%s%s", (long long)v, (long long)c,
             (long long)n, twice ? " twice" : "", bad_indices ? " out-of-range" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t ts[2] = {v, c}, ys[2] = {n, c};
    ve_graph *g = ve_graph_create(dev);
    ve_tid t = ve_tensor(g, VE_PARAM, "table", 2, ts);
    ve_tid idx = ve_tensor(g, VE_INPUT, "idx", 1, &n);
    ve_set_requires_grad(g, t, 1);
    ve_tid y = ve_embedding(g, t, idx);
    tu_check(y != VE_NONE && ve_tensor_dim(g, y, 1) == c, what);
    ve_keep(g, y);
    ve_tid top = twice ? ve_add(g, y, ve_embedding(g, t, idx)) : y;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 2, ys);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    tu_compile(g);
    float *tv = tu_rand(&rs, (size_t)(v * c), -1, 1), *dyv = tu_rand(&rs, (size_t)(n * c), -1, 1);
    float *iv = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) /* few distinct rows: indices repeat */
        iv[i] = (float)tu_int(&rs, 0, (int)(v < 3 ? v - 1 : v / 2));
    if (bad_indices) {
        iv[0] = -1;
        if (n > 1) iv[n - 1] = (float)v;
    }
    tu_write(g, t, tv);
    tu_write(g, idx, iv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *ry = malloc(sizeof(float) * (size_t)(n * c)),
          *rdt = malloc(sizeof(float) * (size_t)(v * c));
    ref_embedding_fwd(tv, iv, ry, v, c, n);
    ref_embedding_bwd(iv, dyv, rdt, v, c, n);
    if (twice)
        for (int64_t i = 0; i < v * c; i++)
            rdt[i] *= 2;
    char w2[240];
    float *got = tu_read(g, y);
    snprintf(w2, sizeof w2, "%s: y", what);
    tu_check(tu_close(w2, got, ry, (size_t)(n * c), 0, 1), w2); /* copies: exact */
    free(got);
    got = tu_read(g, ve_grad(g, t));
    snprintf(w2, sizeof w2, "%s: dtable", what);
    /* Sums of up to N floats in n order (fp32) against double. */
    tu_check(tu_close(w2, got, rdt, (size_t)(v * c), 1e-5, 1e-6), w2);
    free(got);
    free(tv);
    free(dyv);
    free(iv);
    free(ry);
    free(rdt);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t v, c, n;
    const float *idx;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *f = ctx;
    ref_embedding_fwd(in[0], f->idx, out, f->v, f->c, f->n);
}

static void test_fd(void) {
    const float idx[6] = {2, 0, 2, -1, 3, 2};
    fd_ctx f = {4, 3, 6, idx};
    float *t = tu_rand(&rs, 12, -1, 1), *r = tu_rand(&rs, 18, -1, 1);
    float dt[12];
    ref_embedding_bwd(idx, r, dt, 4, 3, 6);
    float *in[1] = {t}, *gr[1] = {dt};
    size_t sz[1] = {12};
    tu_check(tu_fd_check("ref embedding backward", fd_fwd, &f, 1, in, sz, 18, r, gr, 1e-2, 1e-3, 0),
             "fd check of ref_embedding_bwd");
    free(t);
    free(r);
}

int main(void) {
    dev = tu_device();
    rs = tu_seed(41);
    test_fd();
    {
        ve_graph *g = ve_graph_create(dev);
        int64_t ts[2] = {4, 8}, big = 20000;
        ve_tid t = ve_tensor(g, VE_PARAM, "table", 2, ts);
        ve_tid idx = ve_tensor(g, VE_INPUT, "idx", 1, &big);
        tu_check(ve_embedding(g, t, idx) == VE_NONE && strstr(ve_error(), "embedding"),
                 "embedding refuses more indices than its backward can scan");
        ve_graph_destroy(g);
    }
    const int64_t cs[][5] = {{1, 1, 1, 0, 0},   {5, 256, 9, 0, 0},  {4, 7, 13, 1, 1},
                             {10, 3, 33, 0, 1}, {2, 32, 100, 1, 0}, {16, 257, 6, 0, 0}};
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (int i = 0; i < 6; i++)
            run_case(cs[i][0], cs[i][1], cs[i][2], (int)cs[i][3], (int)cs[i][4]);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
