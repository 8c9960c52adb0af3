/* Graph segments (ve_graph_cut): a graph cut in three runs whole exactly as uncut, and run
 * segment by segment the host can read and change a kept tensor between segments (what
 * data-parallel training does with the loss statistics and the gradients); bad segment indices
 * and cuts after compile fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "status.h"
#include "test_util.h"

#define N 4099

/* y = x + x | cut | z = y + w | cut | out = z + z; y kept (host-visible between segments). */
static ve_graph *build(ve_device *dev, int cut, ve_tid *x, ve_tid *w, ve_tid *y, ve_tid *out) {
    ve_graph *g = ve_graph_create(dev);
    int64_t n = N;
    *x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    *w = ve_tensor(g, VE_INPUT, "w", 1, &n);
    *y = ve_add(g, *x, *x);
    ve_keep(g, *y);
    if (cut) tu_check(ve_graph_cut(g) == VE_OK && ve_graph_cut(g) == VE_OK, "cut (twice: one)");
    ve_tid z = ve_add(g, *y, *w);
    if (cut) tu_check(ve_graph_cut(g) == VE_OK, "second cut");
    *out = ve_add(g, z, z);
    ve_keep(g, *out);
    tu_compile(g);
    return g;
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(9);
    float *xv = tu_rand(&seed, N, -1, 1), *wv = tu_rand(&seed, N, -1, 1);
    ve_tid x, w, y, out;

    ve_graph *plain = build(dev, 0, &x, &w, &y, &out);
    tu_check(ve_graph_segments(plain) == 1, "an uncut graph is one segment");
    tu_write(plain, x, xv);
    tu_write(plain, w, wv);
    tu_run(plain);
    float *want = tu_read(plain, out);
    ve_graph_destroy(plain);

    ve_graph *g = build(dev, 1, &x, &w, &y, &out);
    tu_check(ve_graph_segments(g) == 3, "two cuts make three segments");
    tu_check(ve_graph_cut(g) == VE_FAIL, "no cut after compile");
    tu_write(g, x, xv);
    tu_write(g, w, wv);
    tu_run(g);
    float *got = tu_read(g, out);
    tu_check(!memcmp(got, want, sizeof(float) * N), "the cut graph run whole equals the uncut");
    free(got);

    /* Segment by segment, changing y in between: out = 2 (y + 1 + w). */
    tu_check(ve_graph_run_segment(g, 0) == VE_OK, "segment 0");
    float *yv = tu_read(g, y);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        ok &= yv[i] == xv[i] + xv[i];
        yv[i] += 1.0f;
    }
    tu_check(ok, "after segment 0 the host reads y = x + x");
    tu_write(g, y, yv);
    tu_check(ve_graph_run_segment(g, 1) == VE_OK && ve_graph_run_segment(g, 2) == VE_OK,
             "segments 1 and 2");
    got = tu_read(g, out);
    ok = 1;
    for (int i = 0; i < N; i++)
        ok &= got[i] == (yv[i] + wv[i]) + (yv[i] + wv[i]);
    tu_check(ok, "segments 1 and 2 see the host's change of y");
    tu_check(ve_graph_run_segment(g, 3) == VE_FAIL && ve_graph_run_segment(g, -1) == VE_FAIL,
             "segment index out of range fails");
    free(got);
    free(yv);
    ve_graph_destroy(g);
    free(want);
    free(xv);
    free(wv);
    tu_check(tu_device_done(dev) == 0, "no validation messages");
    return tu_exit();
}
