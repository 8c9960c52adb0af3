/* Random graphs against a host simulation: exercises the liveness planner's memory reuse and
 * the hazard-only barriers (a missing barrier or an overlapping placement gives wrong values),
 * and autograd's accumulation over tensors with many consumers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "status.h"
#include "test_util.h"

#define MAXT 96

typedef enum { OP_AVG, OP_MUL, OP_COPY, OP_NEG } op_kind;

typedef struct {
    op_kind op;
    int a, b; /* operand indices into the tensor list */
} step;

static void one_graph(ve_device *dev, uint64_t *rng, int n_steps, int64_t rows, int64_t cols) {
    const int n_src = 3;
    const size_t n = (size_t)(rows * cols);
    ve_graph *g = ve_graph_create(dev);
    ve_tid t[MAXT];
    float *h[MAXT];  /* host forward values */
    double *d[MAXT]; /* host gradients */
    step s[MAXT];
    int need_grad[MAXT];
    for (int i = 0; i < n_src; i++) {
        t[i] = ve_tensor_2d(g, i == 0 ? VE_PARAM : VE_INPUT, "src", rows, cols);
        ve_set_requires_grad(g, t[i], i != 0); /* source 0 is frozen */
        need_grad[i] = i != 0;
        h[i] = tu_rand(rng, n, -1, 1);
    }
    int nt = n_src;
    for (int k = 0; k < n_steps && nt < MAXT; k++, nt++) {
        step st = {(op_kind)tu_int(rng, 0, 3), 0, 0};
        /* mostly recent operands (short lifetimes), sometimes old ones (long lifetimes) */
        int lo = tu_int(rng, 0, 3) == 0 ? 0 : (nt > 4 ? nt - 4 : 0);
        st.a = tu_int(rng, lo, nt - 1);
        st.b = tu_int(rng, lo, nt - 1); /* may equal a: a tensor used twice */
        s[nt] = st;
        switch (st.op) {
        case OP_AVG: t[nt] = ve_scale(g, ve_add(g, t[st.a], t[st.b]), 0.5f); break;
        case OP_MUL: t[nt] = ve_mul(g, t[st.a], t[st.b]); break;
        case OP_COPY: t[nt] = ve_copy(g, t[st.a]); break;
        case OP_NEG: t[nt] = ve_scale(g, t[st.a], -1.0f); break;
        }
        need_grad[nt] = need_grad[st.a] || (st.op <= OP_MUL && need_grad[st.b]);
        h[nt] = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) {
            float x = h[st.a][i], y = h[st.b][i];
            h[nt][i] = st.op == OP_AVG ? (x + y) * 0.5f
                       : st.op == OP_MUL ? x * y
                       : st.op == OP_COPY ? x
                                          : -x;
        }
    }
    int kept = tu_int(rng, n_src, nt - 1);
    ve_keep(g, t[kept]);
    ve_keep(g, t[nt - 1]);
    ve_tid dy = ve_tensor_2d(g, VE_INPUT, "dy", rows, cols);
    float *dyv = tu_rand(rng, n, -1, 1);
    int has_grad = need_grad[nt - 1];
    if (has_grad) tu_check(ve_graph_backward_seed(g, t[nt - 1], dy) == VE_OK, "backward");
    tu_compile(g);
    ve_graph_stats st;
    ve_graph_get_stats(g, &st);
    tu_check(st.transient_bytes <= st.transient_naive_bytes, "planner never uses more than naive");
    for (int i = 0; i < n_src; i++) tu_write(g, t[i], h[i]);
    tu_write(g, dy, dyv);
    tu_run(g);

    /* host backward */
    for (int i = 0; i < nt; i++) d[i] = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) d[nt - 1][i] = dyv[i];
    for (int k = nt - 1; k >= n_src; k--) {
        const step *p = &s[k];
        for (size_t i = 0; i < n; i++) {
            double gk = d[k][i];
            switch (p->op) {
            case OP_AVG:
                d[p->a][i] += 0.5 * gk;
                d[p->b][i] += 0.5 * gk;
                break;
            case OP_MUL:
                d[p->a][i] += gk * h[p->b][i];
                d[p->b][i] += gk * h[p->a][i];
                break;
            case OP_COPY: d[p->a][i] += gk; break;
            case OP_NEG: d[p->a][i] -= gk; break;
            }
        }
    }
    float *got = tu_read(g, t[nt - 1]);
    tu_check(tu_close("random graph output", got, h[nt - 1], n, 1e-6, 1e-6), "output");
    free(got);
    got = tu_read(g, t[kept]);
    tu_check(tu_close("random graph kept tensor", got, h[kept], n, 1e-6, 1e-6), "kept tensor");
    free(got);
    for (int i = 1; i < n_src && has_grad; i++) {
        ve_tid gt = ve_grad(g, t[i]);
        double any = 0;
        for (size_t j = 0; j < n; j++) any += fabs(d[i][j]);
        if (gt == VE_NONE) {
            tu_check(any == 0, "no gradient only where none flows");
            continue;
        }
        float *want = malloc(sizeof(float) * n);
        for (size_t j = 0; j < n; j++) want[j] = (float)d[i][j];
        got = tu_read(g, gt);
        tu_check(tu_close("random graph input gradient", got, want, n, 2e-5, 1e-6), "gradient");
        free(got);
        free(want);
    }
    tu_check(ve_grad(g, t[0]) == VE_NONE, "frozen source has no gradient");
    for (int i = 0; i < nt; i++) {
        free(h[i]);
        free(d[i]);
    }
    free(dyv);
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t rng = tu_seed(42);
    for (int k = 0; k < 12; k++) {
        int64_t rows = tu_int(&rng, 1, 40), cols = tu_int(&rng, 1, 70);
        one_graph(dev, &rng, tu_int(&rng, 5, 60), rows, cols);
    }
    one_graph(dev, &rng, 40, 256, 1031); /* bigger tensors: reuse matters */
    ve_device_set_class(dev, VE_CLASS_GPU);
    one_graph(dev, &rng, 40, 33, 77);
    tu_device_done(dev);
    return tu_exit();
}
