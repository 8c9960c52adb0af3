/* Grid pad/crop (ve_grid_resize) forward and backward against the C reference, both kernel
 * families, channel counts with and without whole vec4s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

typedef struct {
    int64_t b, ih, iw, c, oh, ow;
} dims;

static void fwd(void *ctx, float *const *in, float *out) {
    const dims *d = ctx;
    ref_grid_resize_fwd(in[0], out, d->b, d->ih, d->iw, d->c, d->oh, d->ow);
}

static void run(ve_device *dev, uint64_t *rs, dims d) {
    char what[160];
    snprintf(what, sizeof what, "grid %lldx%lldx%lldx%lld -> %lldx%lld%s", (long long)d.b,
             (long long)d.ih, (long long)d.iw, (long long)d.c, (long long)d.oh, (long long)d.ow,
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu]" : "");
    size_t nx = (size_t)(d.b * d.ih * d.iw * d.c), ny = (size_t)(d.b * d.oh * d.ow * d.c);
    ve_graph *g = ve_graph_create(dev);
    int64_t xs[4] = {d.b, d.ih, d.iw, d.c}, ys[4] = {d.b, d.oh, d.ow, d.c};
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 4, xs);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_grid_resize(g, x, d.oh, d.ow);
    ve_keep(g, y);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 4, ys);
    tu_check(y != VE_NONE && ve_graph_backward_seed(g, y, dy) == VE_OK, what);
    tu_compile(g);
    float *xv = tu_rand(rs, nx, -1, 1), *dyv = tu_rand(rs, ny, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    for (int rep = 0; rep < 2; rep++)
        tu_run(g); /* replays must not accumulate stale values */
    float *yw = malloc(sizeof(float) * ny), *dxw = malloc(sizeof(float) * nx);
    ref_grid_resize_fwd(xv, yw, d.b, d.ih, d.iw, d.c, d.oh, d.ow);
    ref_grid_resize_bwd(dyv, dxw, d.b, d.ih, d.iw, d.c, d.oh, d.ow);
    float *yg = tu_read(g, y), *dxg = tu_read(g, ve_grad(g, x));
    /* a copy is exact */
    tu_check(memcmp(yg, yw, sizeof(float) * ny) == 0, what);
    tu_check(memcmp(dxg, dxw, sizeof(float) * nx) == 0, what);
    float *ins[1] = {xv}, *grads[1] = {dxw};
    size_t sizes[1] = {nx};
    tu_check(tu_fd_check(what, fwd, &d, 1, ins, sizes, ny, dyv, grads, 1e-2, 1e-3, 200),
             "finite differences of the reference backward");
    free(xv);
    free(dyv);
    free(yw);
    free(dxw);
    free(yg);
    free(dxg);
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t rs = tu_seed(17);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        run(dev, &rs, (dims){1, 32, 32, 64, 42, 42}); /* SAM at 512: pad to the windows */
        run(dev, &rs, (dims){1, 42, 42, 64, 32, 32}); /* and crop back */
        run(dev, &rs, (dims){2, 5, 7, 3, 14, 14});
        run(dev, &rs, (dims){1, 1, 1, 1, 3, 2});
        run(dev, &rs, (dims){3, 9, 4, 5, 4, 9}); /* crop one side, pad the other */
        for (int k = 0; k < 6; k++) {
            static const int64_t cs[] = {1, 2, 4, 5, 8, 12};
            run(dev, &rs,
                (dims){tu_int(&rs, 1, 2), tu_int(&rs, 1, 20), tu_int(&rs, 1, 20), cs[k],
                       tu_int(&rs, 1, 20), tu_int(&rs, 1, 20)});
        }
    }
    ve_graph *g = ve_graph_create(dev);
    int64_t s3[3] = {2, 3, 4};
    tu_check(ve_grid_resize(g, ve_tensor(g, VE_INPUT, "x3", 3, s3), 4, 4) == VE_NONE &&
                 strstr(ve_error(), "[B, H, W, C]"),
             "a 3-d tensor is refused");
    ve_graph_destroy(g);
    tu_device_done(dev);
    return tu_exit();
}
