/* AdamW over the flat trainable buffer: several steps with a changing learning rate (warmup,
 * then decay) against tests/ref/adamw_ref.c (PyTorch 1.13 _single_tensor_adamw), from one
 * compiled graph replayed with ve_adamw_set_step in between. A trainable that receives no
 * gradient and a frozen parameter must stay bit-identical (no decay either). The guarded form
 * skips the whole update when its guard (the loss) is NaN or infinite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

#define RTOL 1e-6
#define STEPS 8

typedef struct {
    ve_tid t, grad;
    size_t n;
    float *p, *m, *v; /* the reference's copy */
} tracked;

static void track(ve_graph *g, tracked *k, ve_tid t, const float *init) {
    k->t = t;
    k->grad = ve_grad(g, t);
    k->n = (size_t)ve_tensor_numel(g, t);
    k->p = malloc(sizeof(float) * k->n);
    memcpy(k->p, init, sizeof(float) * k->n);
    k->m = calloc(k->n, sizeof(float));
    k->v = calloc(k->n, sizeof(float));
}

static void untrack(tracked *k) {
    free(k->p);
    free(k->m);
    free(k->v);
}

static void run(ve_device *dev, int64_t rows, int64_t cols, uint64_t *seed) {
    char what[160];
    snprintf(what, sizeof what, "adamw x %lldx%lld%s", (long long)rows, (long long)cols,
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_TRAINABLE, "x", rows, cols);
    ve_tid w = ve_tensor(g, VE_TRAINABLE, "w", 1, &cols);
    ve_tid b = ve_tensor(g, VE_PARAM, "b_frozen", 1, &cols);
    int64_t nu = 13;
    ve_tid u = ve_tensor(g, VE_TRAINABLE, "unused", 1, &nu);
    ve_tid y = ve_layernorm(g, x, w, b, 1e-5f);
    ve_tid dy = ve_tensor_2d(g, VE_INPUT, "dy", rows, cols);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, what);
    tu_check(ve_grad(g, u) == VE_NONE && ve_grad(g, b) == VE_NONE, "no gradient for u and b");
    /* PyTorch's defaults except a larger weight decay, so the decay shows. */
    const ve_adamw_opts o = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    if (ve_adamw(g, &o) != VE_OK) fprintf(stderr, "adamw: %s\n", ve_error());
    tu_compile(g);

    const size_t n = (size_t)(rows * cols);
    float *xv = tu_rand(seed, n, -1, 1), *wv = tu_rand(seed, (size_t)cols, 0.5f, 1.5f);
    float *bv = tu_rand(seed, (size_t)cols, -1, 1), *uv = tu_rand(seed, 13, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, w, wv);
    tu_write(g, b, bv);
    tu_write(g, u, uv);
    tracked k[2];
    track(g, &k[0], x, xv);
    track(g, &k[1], w, wv);
    tu_check(ve_adamw_set_step(g, &o, 1e-3, 0) == VE_FAIL, "adamw refuses step 0");
    int ok = 1;
    const int cpu_driver = strcmp(ve_device_get_info(dev)->type, "cpu") == 0;
    for (int step = 1; step <= STEPS; step++) {
        /* warmup over 3 steps, then a decay */
        double lr = step <= 3 ? 3e-2 * step / 3.0 : 3e-2 / (double)(step - 2);
        tu_check(ve_adamw_set_step(g, &o, lr, step) == VE_OK, "set step");
        float *dyv = tu_rand(seed, n, -1, 1);
        if (step == 5) /* a zero gradient: only the decay and the moments move the weights */
            memset(dyv, 0, sizeof(float) * n);
        tu_write(g, dy, dyv);
        tu_run(g);
        for (int i = 0; i < 2; i++) {
            float *gr = tu_read(g, k[i].grad), *p = tu_read(g, k[i].t);
            /* The Python hyperparameters: 0.9, 0.999, 1e-8, 0.1 as doubles. */
            ref_adamw_step(k[i].p, gr, k[i].m, k[i].v, (int64_t)k[i].n, lr, 0.9, 0.999, 1e-8, 0.1,
                           step);
            char w2[220];
            snprintf(w2, sizeof w2, "%s: %s after step %d (lr %g)", what, ve_tensor_name(g, k[i].t),
                     step, lr);
            ok &= tu_close(w2, p, k[i].p, k[i].n, RTOL, 1e-6);
            /* On the CPU driver (IEEE division and square root) the kernel reproduces the
             * reference bit for bit; this catches scalars rounded differently from PyTorch's
             * (e.g. 1 - beta1 from the float 0.9f instead of the Python 0.9). */
            if (cpu_driver) ok &= memcmp(p, k[i].p, sizeof(float) * k[i].n) == 0;
            free(gr);
            free(p);
        }
        free(dyv);
    }
    tu_check(ok, what);
    /* Moved at all: a no-op optimiser would fail the comparison above, but say it plainly. */
    float *xe = tu_read(g, x), *ue = tu_read(g, u), *be = tu_read(g, b);
    tu_check(memcmp(xe, xv, sizeof(float) * n) != 0, "adamw moves the trainables");
    tu_check(memcmp(ue, uv, sizeof(float) * 13) == 0,
             "a trainable without gradient is untouched (no decay)");
    tu_check(memcmp(be, bv, sizeof(float) * (size_t)cols) == 0, "a frozen parameter is untouched");
    free(xe);
    free(ue);
    free(be);
    untrack(&k[0]);
    untrack(&k[1]);
    free(xv);
    free(wv);
    free(bv);
    free(uv);
    ve_graph_destroy(g);
}

/* A flat buffer over the device's binding limit is updated in chunks of views, seamlessly. */
static void run_chunked(ve_device *dev, uint64_t *seed) {
    const ve_device_info *in = ve_device_get_info(dev);
    if (in->max_storage_buffer_range > ((uint64_t)256 << 20)) return; /* too big to try here */
    /* x is used as two halves (views at an offset, each under the limit): y = x[:h] + x[h:].
     * This also checks gradients flowing into views at an offset. */
    int64_t h = (int64_t)(in->max_storage_buffer_range / 8) + 1024, n = 2 * h;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_TRAINABLE, "x_big", 1, &n);
    ve_tid y = ve_add(g, ve_view(g, x, 0, 1, &h), ve_view(g, x, h, 1, &h));
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &h);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, "chunked: backward");
    const ve_adamw_opts o = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    tu_check(ve_adamw(g, &o) == VE_OK, "chunked: adamw over the binding limit is split");
    tu_compile(g);
    float *xv = tu_rand(seed, (size_t)n, -1, 1);
    tu_write(g, x, xv);
    tracked k;
    track(g, &k, x, xv);
    int ok = 1;
    for (int step = 1; step <= 2; step++) {
        float *dyv = tu_rand(seed, (size_t)h, -1, 1);
        tu_write(g, dy, dyv);
        tu_check(ve_adamw_set_step(g, &o, 1e-2, step) == VE_OK, "chunked: set step");
        tu_run(g);
        float *grad = malloc(sizeof(float) * (size_t)n); /* dL/dx = [dy, dy] */
        memcpy(grad, dyv, sizeof(float) * (size_t)h);
        memcpy(grad + h, dyv, sizeof(float) * (size_t)h);
        ref_adamw_step(k.p, grad, k.m, k.v, n, 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
        free(grad);
        float *p = tu_read(g, x);
        ok &= tu_close("adamw chunked over maxStorageBufferRange", p, k.p, (size_t)n, RTOL, 1e-6);
        free(p);
        free(dyv);
    }
    tu_check(ok, "chunked adamw matches the reference on every element");
    untrack(&k);
    free(xv);
    ve_graph_destroy(g);
}

/* ve_adamw_guarded: a NaN or infinite guard skips the update on the device (parameters and
 * moments bit-identical); a finite one updates as ve_adamw does. */
static void run_guarded(ve_device *dev, uint64_t *seed) {
    const int64_t n = 300, one = 1;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_TRAINABLE, "x", 1, &n);
    ve_tid guard = ve_tensor(g, VE_INPUT, "guard", 1, &one);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &n);
    ve_tid y = ve_add(g, x, dy);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, "guarded: backward");
    const ve_adamw_opts o = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    tu_check(ve_adamw_guarded(g, &o, guard) == VE_OK, "guarded adamw");
    tu_compile(g);
    ve_tid m, v;
    tu_check(ve_adamw_moments(g, &m, &v) == VE_OK, "moments");
    float *xv = tu_rand(seed, (size_t)n, -1, 1);
    tu_write(g, x, xv);
    tracked k;
    track(g, &k, x, xv);
    /* Guards per run; the AdamW step count only advances on applied updates. */
    const float guards[5] = {0.5f, NAN, INFINITY, -INFINITY, 2.0f};
    int applied = 0;
    for (int r = 0; r < 5; r++) {
        float *dyv = tu_rand(seed, (size_t)n, -1, 1);
        tu_write(g, dy, dyv);
        tu_write(g, guard, &guards[r]);
        float *p0 = tu_read(g, x), *m0 = tu_read(g, m), *v0 = tu_read(g, v);
        tu_check(ve_adamw_set_step(g, &o, 1e-2, applied + 1) == VE_OK, "guarded: set step");
        tu_run(g);
        float *p = tu_read(g, x), *m1 = tu_read(g, m), *v1 = tu_read(g, v);
        char what[96];
        if (isfinite(guards[r])) {
            applied++;
            ref_adamw_step(k.p, dyv, k.m, k.v, n, 1e-2, 0.9, 0.999, 1e-8, 0.1, applied);
            snprintf(what, sizeof what, "guarded adamw, guard %g: updated as the reference",
                     guards[r]);
            tu_check(tu_close(what, p, k.p, (size_t)n, RTOL, 1e-6), what);
            tu_check(memcmp(p, p0, sizeof(float) * (size_t)n) != 0, "a finite guard updates");
        } else {
            snprintf(what, sizeof what, "guard %g: parameters and moments untouched", guards[r]);
            tu_check(!memcmp(p, p0, sizeof(float) * (size_t)n) &&
                         !memcmp(m1, m0, sizeof(float) * (size_t)n) &&
                         !memcmp(v1, v0, sizeof(float) * (size_t)n),
                     what);
        }
        free(p0), free(m0), free(v0), free(p), free(m1), free(v1), free(dyv);
    }
    untrack(&k);
    free(xv);
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(5);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        run(dev, 37, 45, &seed);
        run(dev, 1, 1, &seed);
        run(dev, 300, 768, &seed);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    run_chunked(dev, &seed);
    run_guarded(dev, &seed);
    tu_device_done(dev);
    return tu_exit();
}
