/* SAMed's loss (ve_seg_loss): forward (loss, CE, Dice) and backward (d logits) against
 * tests/ref/seg_loss_ref.c on awkward shapes (1x1 and odd planes, partial pixel blocks, several
 * blocks an image, SAMed's 128x128), skewed labels (absent classes), a few labels outside
 * 0..K-1, large logit offsets (max subtraction), gradients arriving through the loss, CE and
 * Dice outputs, an accumulating d logits (fan-out), both kernel families; finite-difference
 * check of the reference backward; shape errors. The reference itself was checked once against
 * PyTorch by tests/reference/seg_loss_check.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

#define RTOL 1e-5 /* measured worst: 6e-7 (loss, CE, Dice and d logits) */
/* d logits are ~1e-5 an element at 128x128 (means over pixels): the floor must not hide them. */
#define BWD_FLOOR 1e-12

enum { SEED_LOSS, SEED_ALL, SEED_FANOUT };

/* Labels: class 0 most often (background), the last class never unless k == 2, and with
 * `bad`, a few values outside 0..k-1 (no one-hot, no CE term). */
static float *rand_labels(uint64_t *seed, size_t n, int k, int bad) {
    float *l = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        int c = tu_int(seed, 0, 2) == 0 ? 0 : tu_int(seed, 0, k > 2 ? k - 2 : 1);
        l[i] = (float)c;
        if (bad && tu_int(seed, 0, 9) == 0) l[i] = tu_int(seed, 0, 1) ? -1.0f : (float)k;
    }
    return l;
}

static void run_case(ve_device *dev, int64_t b, int64_t k, int64_t h, int64_t w, int mode,
                     float offset, const ve_seg_loss_opts *o, uint64_t *seed) {
    char what[200];
    snprintf(what, sizeof what, "seg_loss B%lld K%lld %lldx%lld mode %d offset %g%s%s",
             (long long)b, (long long)k, (long long)h, (long long)w, mode, (double)offset,
             o ? " custom weights" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    const int64_t zs[4] = {b, k, h, w}, ls[3] = {b, h, w}, one = 1;
    const size_t nz = (size_t)(b * k * h * w), nl = (size_t)(b * h * w);
    ve_graph *g = ve_graph_create(dev);
    ve_tid z = ve_tensor(g, VE_INPUT, "logits", 4, zs);
    ve_tid lab = ve_tensor(g, VE_INPUT, "labels", 3, ls);
    ve_set_requires_grad(g, z, 1);
    ve_tid ce = VE_NONE, dice = VE_NONE;
    ve_tid loss = ve_seg_loss(g, z, lab, o, &ce, &dice);
    tu_check(loss != VE_NONE && ce != VE_NONE && dice != VE_NONE, what);
    if (loss == VE_NONE) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        ve_graph_destroy(g);
        return;
    }
    ve_keep(g, loss);
    ve_keep(g, ce);
    ve_keep(g, dice);
    /* fan_s: the fan-out's gradient as small as the loss's, so neither hides the other. */
    const float s_ce = 0.7f, s_dice = -1.3f, fan_s = 1.0f / (float)nl;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &one);
    if (mode == SEED_LOSS) {
        tu_check(ve_graph_backward(g, loss) == VE_OK, what);
    } else if (mode == SEED_ALL) { /* top = loss + s_ce CE + s_dice Dice */
        ve_tid top = ve_add(g, ve_add(g, loss, ve_scale(g, ce, s_ce)), ve_scale(g, dice, s_dice));
        tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    } else { /* top = loss + sum(logits) / pixels, recorded later: seg_loss's dz accumulates */
        ve_tid top = ve_add(g, loss, ve_scale(g, ve_sum(g, z), fan_s));
        tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    }
    ve_tid gz = ve_grad(g, z);
    tu_check(gz != VE_NONE && ve_grad(g, lab) == VE_NONE, "labels get no gradient");
    tu_compile(g);
    float *zv = tu_rand(seed, nz, offset - 3.0f, offset + 3.0f);
    float *lv = rand_labels(seed, nl, (int)k, mode == SEED_ALL);
    float dyv = mode == SEED_LOSS ? 1.0f : tu_uniform(seed, 0.5f, 2.0f);
    tu_write(g, z, zv);
    tu_write(g, lab, lv);
    if (mode != SEED_LOSS) tu_write(g, dy, &dyv);
    tu_run(g);
    float got[3], want[3];
    float *t;
    const ve_tid outs[3] = {loss, ce, dice};
    for (int i = 0; i < 3; i++) {
        t = tu_read(g, outs[i]);
        got[i] = t[0];
        free(t);
    }
    const double w_ce = o ? o->ce_weight : 0.2, w_dice = o ? o->dice_weight : 0.8;
    ref_seg_loss_fwd(zv, lv, b, k, h * w, w_ce, w_dice, want);
    static const char *names[3] = {"loss", "CE", "Dice"};
    for (int i = 0; i < 3; i++) {
        char wi[240];
        snprintf(wi, sizeof wi, "%s: %s", what, names[i]);
        tu_check(tu_close(wi, &got[i], &want[i], 1, RTOL, 1e-6), wi);
    }
    float dout[3] = {dyv, mode == SEED_ALL ? s_ce * dyv : 0.0f,
                     mode == SEED_ALL ? s_dice * dyv : 0.0f};
    float *gzv = tu_read(g, gz), *wgz = malloc(sizeof(float) * nz);
    ref_seg_loss_bwd(zv, lv, dout, wgz, b, k, h * w, w_ce, w_dice);
    if (mode == SEED_FANOUT)
        for (size_t i = 0; i < nz; i++)
            wgz[i] += dyv * fan_s;
    char wb[240];
    snprintf(wb, sizeof wb, "%s: d logits", what);
    tu_check(tu_close(wb, gzv, wgz, nz, RTOL, BWD_FLOOR), wb);
    free(zv);
    free(lv);
    free(gzv);
    free(wgz);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t b, k, hw;
    const float *labels;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *c = ctx;
    ref_seg_loss_fwd(in[0], c->labels, c->b, c->k, c->hw, 0.2, 0.8, out);
}

static void test_fd(uint64_t *seed) {
    const int64_t shapes[][3] = {{1, 2, 1}, {2, 3, 5}, {3, 9, 7}, {1, 4, 35}, {2, 2, 12}};
    for (int i = 0; i < 5; i++) {
        fd_ctx c = {shapes[i][0], shapes[i][1], shapes[i][2], NULL};
        const size_t nz = (size_t)(c.b * c.k * c.hw), nl = (size_t)(c.b * c.hw);
        float *z = tu_rand(seed, nz, -2, 2), *r = tu_rand(seed, 3, -1, 1);
        float *lab = rand_labels(seed, nl, (int)c.k, i == 3);
        float *dz = malloc(sizeof(float) * nz);
        c.labels = lab;
        ref_seg_loss_bwd(z, lab, r, dz, c.b, c.k, c.hw, 0.2, 0.8);
        float *in[1] = {z}, *gr[1] = {dz};
        size_t sz[1] = {nz};
        char what[80];
        snprintf(what, sizeof what, "fd check of ref_seg_loss_bwd %lldx%lldx%lld", (long long)c.b,
                 (long long)c.k, (long long)c.hw);
        tu_check(tu_fd_check(what, fd_fwd, &c, 1, in, sz, 3, r, gr, 1e-2, 1e-3, 0), what);
        free(z);
        free(r);
        free(lab);
        free(dz);
    }
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    const int64_t zs[4] = {2, 3, 5, 7}, ls[3] = {2, 5, 7}, bad[3] = {2, 7, 5}, k1[4] = {2, 1, 5, 7},
                  k33[4] = {2, 33, 5, 7};
    ve_tid z = ve_tensor(g, VE_INPUT, "logits", 4, zs);
    ve_tid l = ve_tensor(g, VE_INPUT, "labels", 3, ls);
    ve_tid lb = ve_tensor(g, VE_INPUT, "labels_t", 3, bad);
    ve_tid z1 = ve_tensor(g, VE_INPUT, "logits_k1", 4, k1);
    ve_tid z33 = ve_tensor(g, VE_INPUT, "logits_k33", 4, k33);
    tu_check(ve_seg_loss(g, z, lb, NULL, NULL, NULL) == VE_NONE && strstr(ve_error(), "seg_loss"),
             "seg_loss refuses labels of another plane size, naming the op");
    ve_error_clear();
    tu_check(ve_seg_loss(g, z1, l, NULL, NULL, NULL) == VE_NONE, "seg_loss refuses K = 1");
    ve_error_clear();
    tu_check(ve_seg_loss(g, z33, l, NULL, NULL, NULL) == VE_NONE, "seg_loss refuses K = 33");
    ve_error_clear();
    tu_check(ve_seg_loss(g, l, z, NULL, NULL, NULL) == VE_NONE, "seg_loss refuses swapped inputs");
    ve_error_clear();
    tu_check(ve_seg_loss(g, z, VE_NONE, NULL, NULL, NULL) == VE_NONE, "seg_loss needs labels");
    ve_error_clear();
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(4242);
    test_fd(&seed);
    test_errors(dev);
    const ve_seg_loss_opts custom = {0.5f, 1.5f};
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        /* b, k, h, w: 1x1 planes, odd planes (scalar loads), planes of 4n (texel loads), partial
         * and several pixel blocks an image (CPU blocks 256 pixels, GPU 1024), K up to 32. */
        const int64_t cs[][4] = {{1, 2, 1, 1},   {3, 9, 1, 1},   {1, 3, 5, 7},   {2, 9, 5, 7},
                                 {1, 2, 4, 4},   {3, 5, 16, 17}, {2, 4, 17, 23}, {1, 9, 20, 20},
                                 {2, 7, 33, 64}, {3, 32, 9, 9},  {1, 6, 40, 41}, {3, 9, 128, 128}};
        const int nc = (int)(sizeof cs / sizeof cs[0]);
        for (int i = 0; i < nc; i++) {
            const int mode = i % 3;
            run_case(dev, cs[i][0], cs[i][1], cs[i][2], cs[i][3], mode, 0.0f,
                     i % 4 == 1 ? &custom : NULL, &seed);
        }
        run_case(dev, 2, 9, 11, 13, SEED_LOSS, 60.0f, NULL, &seed);
        run_case(dev, 1, 3, 8, 8, SEED_ALL, -40.0f, &custom, &seed);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    if (tu_device_done(dev)) tu_check(0, "validation messages");
    return tu_exit();
}
