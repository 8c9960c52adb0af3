/* SAMed's loss, 0.2 CE + 0.8 Dice over the softmax of the mask decoder's low-res logits, fused:
 * seg_loss_fwd computes each pixel's softmax once and the per-class sums of p t, p^2, t and the
 * CE sum per block of pixels; seg_loss_finish (one workgroup) sums the block partials and writes
 * the loss, its two terms and the class sums I_c, U_c the backward needs; seg_loss_bwd writes
 * d logits from the recomputed softmax in one kernel (re-reading the logits costs what reading
 * a saved softmax would, and saves K floats a pixel of memory).
 *
 * Accuracy: every fp32 sum has at most a few hundred terms (a block's lanes, then chunks of 64
 * block partials). Lavapipe silently ends a shader's loops after about 65535 iterations per
 * invocation: blocks keep each invocation's loops near 15k trips at K = 32, and the finish pass
 * is limited to MAX_BLOCKS partials. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

#define K_MAX 32
#define EPS VE_SEG_LOSS_EPS
#define BLK_CPU 256 /* pixels per invocation (one block) on CPU-like devices */
#define TPB_GPU 32  /* threads per block on GPUs: shared memory 32 * (3K + 1) floats <= 12.4 KB */
#define BLK_GPU 1024
#define MAX_BLOCKS 16384 /* finish: ceil((3K + 1) / 64) * blocks loop trips */
#define BWD_PER_CPU 16   /* 4-pixel groups per invocation of the backward on CPU-like devices */

typedef struct {
    ve_tid logits, labels, stats;
    int64_t b, k, hw;
    float w_ce, w_dice;
} seg_ctx;

static int gpu_style(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU;
}

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

static int seg_backward(ve_graph *g, const ve_tape_entry *e) {
    seg_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    int acc;
    ve_tid dz = ve_grad_dest(g, c.logits, &acc);
    if (dz == VE_NONE) return VE_OK; /* labels never get a gradient */
    ve_tid gy[3], any = VE_NONE;
    uint32_t have = 0;
    for (int i = 0; i < 3; i++) {
        gy[i] = ve_grad_of(g, e->out[i]);
        if (gy[i] != VE_NONE) {
            have |= 1u << i;
            any = gy[i];
        }
    }
    if (any == VE_NONE) return VE_OK;
    const int gpu = gpu_style(g);
    const uint32_t wg = gpu ? 64 : 8, per = gpu ? 1 : BWD_PER_CPU;
    ve_node_desc d = {.kernel = "seg_loss_bwd", .op = "seg_loss_bwd", .n_bind = 7};
    d.bind[0] = (ve_binding){c.logits, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){c.labels, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){c.stats, VE_READ, VE_BIND_STORAGE};
    /* A missing output gradient is stood in for by a present one; the kernel ignores it. */
    for (int i = 0; i < 3; i++)
        d.bind[3 + i] = (ve_binding){gy[i] != VE_NONE ? gy[i] : any, VE_READ, VE_BIND_STORAGE};
    d.bind[6] = (ve_binding){dz, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)c.b,
                       (uint32_t)c.hw,
                       have,
                       acc != 0,
                       ve_f2u((float)(1.0 / (double)(c.b * c.hw))),
                       ve_f2u(c.w_ce),
                       ve_f2u(c.w_dice),
                       ve_f2u(EPS)};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 4;
    d.spec[0] = wg;
    d.spec[1] = (uint32_t)c.k;
    d.spec[2] = c.hw % 4 == 0;
    d.spec[3] = per;
    const uint64_t units = (uint64_t)c.b * ceil_div((uint64_t)c.hw, 4);
    ve_groups_1d(g, ceil_div(ceil_div(units, per), wg), d.groups);
    const double n = (double)(c.b * c.hw * c.k);
    d.flops = 12.0 * n;
    d.bytes = 4.0 * n * (acc ? 3.0 : 2.0);
    if (ve_node_add(g, &d)) return ve_fail_context("seg_loss backward: ");
    return VE_OK;
}

static int check_shapes(const ve_graph *g, ve_tid logits, ve_tid labels) {
    if (logits < 0 || labels < 0)
        return ve_fail("seg_loss: missing tensor (logits %d, labels %d)", (int)logits, (int)labels);
    if (ve_tensor_ndim(g, logits) != 4 || ve_tensor_ndim(g, labels) != 3)
        return ve_fail("seg_loss: logits '%s' must be [B, K, H, W] (has %d dims) and labels '%s' "
                       "[B, H, W] (has %d dims)",
                       ve_tensor_name(g, logits), ve_tensor_ndim(g, logits),
                       ve_tensor_name(g, labels), ve_tensor_ndim(g, labels));
    const int64_t b = ve_tensor_dim(g, logits, 0), k = ve_tensor_dim(g, logits, 1);
    const int64_t h = ve_tensor_dim(g, logits, 2), w = ve_tensor_dim(g, logits, 3);
    if (ve_tensor_dim(g, labels, 0) != b || ve_tensor_dim(g, labels, 1) != h ||
        ve_tensor_dim(g, labels, 2) != w || k < 2 || k > K_MAX)
        return ve_fail(
            "seg_loss: logits '%s' [%lld, %lld, %lld, %lld] and labels '%s' [%lld, "
            "%lld, %lld] disagree, or K is not in 2..%d",
            ve_tensor_name(g, logits), (long long)b, (long long)k, (long long)h, (long long)w,
            ve_tensor_name(g, labels), (long long)ve_tensor_dim(g, labels, 0),
            (long long)ve_tensor_dim(g, labels, 1), (long long)ve_tensor_dim(g, labels, 2), K_MAX);
    return VE_OK;
}

ve_tid ve_seg_loss(ve_graph *g, ve_tid logits, ve_tid labels, const ve_seg_loss_opts *o,
                   ve_tid *ce_out, ve_tid *dice_out) {
    if (check_shapes(g, logits, labels)) return VE_NONE;
    const ve_seg_loss_opts def = {0.2f, 0.8f};
    if (!o) o = &def;
    const int64_t b = ve_tensor_dim(g, logits, 0), k = ve_tensor_dim(g, logits, 1);
    const int64_t hw = ve_tensor_dim(g, logits, 2) * ve_tensor_dim(g, logits, 3);
    const int gpu = gpu_style(g);
    const uint64_t blk = gpu ? BLK_GPU : BLK_CPU;
    const uint64_t nblk_img = ceil_div((uint64_t)hw, blk), nblocks = (uint64_t)b * nblk_img;
    if (nblocks > MAX_BLOCKS) {
        ve_fail("seg_loss: logits '%s' [%lld, %lld, %lld pixels]: %llu pixel blocks of %llu, "
                "more than %d",
                ve_tensor_name(g, logits), (long long)b, (long long)k, (long long)hw,
                (unsigned long long)nblocks, (unsigned long long)blk, MAX_BLOCKS);
        return VE_NONE;
    }
    const int64_t q = 3 * k + 1, one = 1, two_k = 2 * k;
    ve_tid part = ve_tensor_2d(g, VE_ACTIVATION, "seg_loss.partial", (int64_t)nblocks, q);
    ve_tid loss = ve_tensor(g, VE_ACTIVATION, "seg_loss", 1, &one);
    ve_tid ce = ve_tensor(g, VE_ACTIVATION, "seg_loss.ce", 1, &one);
    ve_tid dice = ve_tensor(g, VE_ACTIVATION, "seg_loss.dice", 1, &one);
    ve_tid stats = ve_tensor(g, VE_ACTIVATION, "seg_loss.class_sums", 1, &two_k);
    if (part == VE_NONE || loss == VE_NONE || ce == VE_NONE || dice == VE_NONE ||
        stats == VE_NONE) {
        ve_fail_context("seg_loss: ");
        return VE_NONE;
    }

    ve_node_desc d = {.kernel = "seg_loss_fwd", .op = "seg_loss", .n_bind = 3};
    d.bind[0] = (ve_binding){logits, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){labels, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){part, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)nblocks, (uint32_t)hw, (uint32_t)blk, (uint32_t)nblk_img};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 4;
    d.spec[0] = gpu ? TPB_GPU : 8;
    d.spec[1] = (uint32_t)k;
    d.spec[2] = hw % 4 == 0;
    d.spec[3] = gpu ? TPB_GPU : 1;
    ve_groups_1d(g, gpu ? nblocks : ceil_div(nblocks, 8), d.groups);
    const double n = (double)(b * hw * k);
    d.flops = 10.0 * n;
    d.bytes = 4.0 * (n + (double)(b * hw) + (double)(nblocks * (uint64_t)q));
    if (ve_node_add(g, &d)) {
        ve_fail_context("seg_loss: ");
        return VE_NONE;
    }

    ve_node_desc f = {.kernel = "seg_loss_finish", .op = "seg_loss", .n_bind = 5};
    f.bind[0] = (ve_binding){part, VE_READ, VE_BIND_STORAGE};
    f.bind[1] = (ve_binding){loss, VE_WRITE, VE_BIND_STORAGE};
    f.bind[2] = (ve_binding){ce, VE_WRITE, VE_BIND_STORAGE};
    f.bind[3] = (ve_binding){dice, VE_WRITE, VE_BIND_STORAGE};
    f.bind[4] = (ve_binding){stats, VE_WRITE, VE_BIND_STORAGE};
    uint32_t fpush[] = {(uint32_t)nblocks, ve_f2u((float)(1.0 / (double)(b * hw))),
                        ve_f2u(o->ce_weight), ve_f2u(o->dice_weight), ve_f2u(EPS)};
    memcpy(f.push, fpush, sizeof fpush);
    f.push_bytes = sizeof fpush;
    f.n_spec = 2;
    f.spec[0] = 64;
    f.spec[1] = (uint32_t)k;
    f.groups[0] = f.groups[1] = f.groups[2] = 1;
    f.flops = (double)(nblocks * (uint64_t)q);
    f.bytes = 4.0 * (double)(nblocks * (uint64_t)q);
    if (ve_node_add(g, &f)) {
        ve_fail_context("seg_loss: ");
        return VE_NONE;
    }

    seg_ctx c = {logits, labels, stats, b, k, hw, o->ce_weight, o->dice_weight};
    const ve_tid in[2] = {logits, labels}, out[3] = {loss, ce, dice};
    if (ve_tape_record(g, seg_backward, 2, in, 3, out, &c, sizeof c)) return VE_NONE;
    if (ce_out) *ce_out = ce;
    if (dice_out) *dice_out = dice;
    return loss;
}

ve_tid ve_seg_loss_class_sums(const ve_graph *g) {
    return ve_tensor_find(g, "seg_loss.class_sums");
}
