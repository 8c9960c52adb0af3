/* The scheduler and autograd core: memory reuse, barriers only on hazards, replay, gradients
 * only where needed, persistent zero-initialisation, error paths. Uses copy/fill only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"
#include "test_util.h"

#define N 100003 /* not a multiple of any workgroup size */

static void test_chain_reuse_and_replay(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = N;
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_tid t = x;
    for (int i = 0; i < 6; i++) t = ve_copy(g, t);
    ve_keep(g, t);
    tu_compile(g);
    ve_graph_stats s;
    ve_graph_get_stats(g, &s);
    /* 5 transient tensors in a chain: each lives across two nodes, so two slots suffice. */
    tu_check(s.transient_bytes < s.transient_naive_bytes / 2, "liveness planner reuses memory");
    tu_check(s.transient_bytes >= 2 * (uint64_t)N * 4, "two chain tensors never share memory");
    /* A chain is a sequence of read-after-write hazards: one barrier per link after the first. */
    tu_check(s.barriers == 5, "one barrier per dependent node");
    uint64_t seed = tu_seed(1);
    for (int rep = 0; rep < 2; rep++) { /* replay, never re-record */
        float *xv = tu_rand(&seed, N, -1, 1);
        tu_write(g, x, xv);
        tu_run(g);
        float *yv = tu_read(g, t);
        tu_check(memcmp(xv, yv, sizeof(float) * N) == 0, "replayed chain copies exactly");
        free(xv);
        free(yv);
    }
    ve_graph_destroy(g);
}

static void test_independent_nodes_share_no_barrier(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = N;
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_tid a = ve_tensor(g, VE_STATE, "a", 1, &n);
    ve_tid b = ve_tensor(g, VE_STATE, "b", 1, &n);
    ve_tid c = ve_tensor(g, VE_STATE, "c", 1, &n);
    /* two readers of x: no hazard; c = a needs one barrier (read after write); writing x after
     * it was read needs another (write after read). */
    tu_check(ve_copy_node(g, x, a, 0) == VE_OK, "copy a");
    tu_check(ve_copy_node(g, x, b, 0) == VE_OK, "copy b");
    tu_check(ve_copy_node(g, a, c, 1) == VE_OK, "accumulate c");
    tu_check(ve_fill_node(g, x, 2.0f) == VE_OK, "fill x");
    tu_compile(g);
    ve_graph_stats s;
    ve_graph_get_stats(g, &s);
    tu_check(s.barriers == 1, "barrier only where a node reads what an earlier one wrote");
    uint64_t seed = tu_seed(2);
    float *xv = tu_rand(&seed, N, -1, 1);
    tu_write(g, x, xv);
    tu_run(g);
    float *cv = tu_read(g, c), *xv2 = tu_read(g, x);
    /* persistent tensors start at zero, so c = 0 + x */
    tu_check(memcmp(cv, xv, sizeof(float) * N) == 0, "accumulate into zero-initialised state");
    tu_check(xv2[0] == 2.0f && xv2[N - 1] == 2.0f, "fill after the reads");
    tu_run(g); /* second replay: x is 2 now, c = x_old + 2 */
    float *cv2 = tu_read(g, c);
    tu_check(cv2[7] == xv[7] + 2.0f, "state persists across replays");
    free(xv);
    free(cv);
    free(xv2);
    free(cv2);
    ve_graph_destroy(g);
}

static void test_gradients_only_where_needed(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = 1000;
    ve_tid w = ve_tensor(g, VE_PARAM, "frozen", 1, &n);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_set_requires_grad(g, x, 1);
    ve_tid yw = ve_copy(g, w); /* frozen: no tape entry, no backward */
    ve_tid yx = ve_copy(g, x);
    int64_t shape2[2] = {10, 100};
    ve_tid v = ve_reshape(g, yx, 2, shape2);
    ve_tid y = ve_copy(g, v);
    ve_keep(g, yw);
    ve_graph_stats s;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 2, shape2);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, "backward");
    tu_check(ve_grad(g, w) == VE_NONE, "frozen weight has no gradient");
    ve_tid gx = ve_grad(g, x);
    tu_check(gx != VE_NONE, "input that needs it has a gradient");
    tu_compile(g);
    ve_graph_get_stats(g, &s);
    /* 3 forward copies + seed copy + 2 backward copies; none for the frozen branch */
    tu_check(s.nodes == 6, "no backward nodes for the frozen branch");
    uint64_t seed = tu_seed(3);
    float *dyv = tu_rand(&seed, 1000, -1, 1);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *gxv = tu_read(g, gx);
    tu_check(memcmp(gxv, dyv, sizeof(float) * 1000) == 0, "gradient through a reshape view");
    free(dyv);
    free(gxv);
    ve_graph_destroy(g);
}

/* Gradients written through views at an offset: the parts must not keep last run's values. */
static void test_partial_view_gradients(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t h = 1000, n = 3 * h; /* only the first two thirds are used */
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_set_requires_grad(g, x, 1);
    ve_tid a = ve_copy(g, ve_view(g, x, 0, 1, &h));
    ve_tid b = ve_view(g, x, 1008, 1, &h); /* offsets are multiples of 16 elements */
    tu_check(ve_view(g, x, 1001, 1, &h) == VE_NONE, "a misaligned view offset is refused");
    tu_check(ve_view(g, x, 2016, 1, &h) == VE_NONE, "a view past the end is refused");
    ve_copy(g, a); /* a branch the seed never reaches: its part of grad(x) must read 0 */
    ve_tid z = ve_copy(g, b);
    ve_tid dz = ve_tensor(g, VE_INPUT, "dz", 1, &h);
    tu_check(ve_graph_backward_seed(g, z, dz) == VE_OK, "backward through a view");
    ve_tid gx = ve_grad(g, x);
    tu_compile(g);
    uint64_t seed = tu_seed(9);
    for (int rep = 0; rep < 2; rep++) {
        float *dzv = tu_rand(&seed, (size_t)h, -1, 1);
        tu_write(g, dz, dzv);
        tu_run(g);
        float *gv = tu_read(g, gx);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            float want = i >= 1008 && i < 1008 + h ? dzv[i - 1008] : 0.0f;
            ok &= gv[i] == want;
        }
        tu_check(ok, "gradient through an offset view: exact, zero elsewhere, every replay");
        free(dzv);
        free(gv);
    }
    ve_graph_destroy(g);
}

static void test_profile(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = 1 << 20;
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_tid y = ve_copy(g, x);
    ve_keep(g, y);
    ve_compile_opts o = {.profile = 1};
    tu_check(ve_graph_compile(g, &o) == VE_OK, "compile with profile");
    tu_run(g);
    tu_check(ve_graph_profile_total_ms(g) > 0, "profile records time");
    ve_graph_profile_print(g, stdout);
    ve_graph_destroy(g);
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = 12, bad[2] = {5, 3};
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    tu_check(ve_reshape(g, x, 2, bad) == VE_NONE && strstr(ve_error(), "12"),
             "reshape to a wrong element count is refused, naming the counts");
    int64_t zero = 0;
    tu_check(ve_tensor(g, VE_INPUT, "z", 1, &zero) == VE_NONE, "zero-size dimension refused");
    ve_tid y = ve_copy(g, x);
    tu_compile(g);
    float buf[12];
    tu_check(ve_tensor_read(g, y, buf, 12) == VE_FAIL && strstr(ve_error(), "ve_keep"),
             "reading a transient tensor is refused with a hint");
    tu_check(ve_tensor_read(g, x, buf, 11) == VE_FAIL, "wrong host element count refused");
    tu_check(ve_copy(g, x) == VE_NONE, "adding ops after compile is refused");
    ve_graph_destroy(g);

    /* A binding over maxStorageBufferRange is refused by name, never truncated. */
    const ve_device_info *in = ve_device_get_info(dev);
    if (in->max_storage_buffer_range < ((uint64_t)1 << 34)) {
        g = ve_graph_create(dev);
        int64_t big = (int64_t)(in->max_storage_buffer_range / 4) + 5;
        ve_tid b = ve_tensor(g, VE_INPUT, "huge", 1, &big);
        ve_tid out = ve_tensor(g, VE_STATE, "huge_out", 1, &big);
        /* The copy reads through texel views and writes through a storage buffer: whichever
         * binding limit the device hits first is named, with the tensor. */
        const char *msg = ve_copy_node(g, b, out, 0) == VE_FAIL ? ve_error() : "";
        tu_check(strstr(msg, "huge") && (strstr(msg, "maxStorageBufferRange") ||
                                          strstr(msg, "maxTexelBufferElements")),
                 "a tensor over a binding limit is refused, naming it and the limit");
        ve_graph_destroy(g);
    }
}

int main(void) {
    ve_device *dev = tu_device();
    test_chain_reuse_and_replay(dev);
    test_independent_nodes_share_no_barrier(dev);
    test_gradients_only_where_needed(dev);
    test_partial_view_gradients(dev);
    test_profile(dev);
    test_errors(dev);
    tu_device_done(dev);
    return tu_exit();
}
