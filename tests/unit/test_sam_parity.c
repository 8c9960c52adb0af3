/* Parity of the whole SAM pipeline (image encoder -> prompt encoder -> mask decoder) with the
 * PyTorch reference (tests/reference/sam_model.py, fixture tests/reference/dump_sam.py): the
 * engine loads the .pth files the reference wrote and every dumped tensor (image embedding,
 * sparse and dense prompt embeddings, all low-res mask logits, IoU predictions) must match within
 * max|diff| <= 1e-4 * max|reference|. Cases: tiny SAM at S=1024 with a point prompt (padding
 * point appended), a box, points + box (no padding point, an explicit -1 label), a mask input
 * with a point; and SAMed at S=512 with 9 mask tokens, no prompts, batch 2. For "both" and
 * "samed" (SAMed trains the prompt encoder and decoder) the backward of sum(masks * R) is
 * compared too: parameter gradients, and which parameters get none.
 *
 * The "point" case runs the encoder and the decoder in one graph; the other cases feed the
 * engine's own embedding to a decoder-only graph (how SAM is used interactively). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/npy.h"
#include "sam/image_encoder.h"
#include "sam/mask_decoder.h"
#include "sam/prompt_encoder.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_PARITY_DIR
#define VE_PARITY_DIR "."
#endif

typedef struct {
    const char *name;
    int size, batch, mask_outputs;
    int n_points, has_box, has_mask;
    int with_encoder; /* else the embedding is an input */
    int grads;        /* backward of sum(masks * R): compare sam_<case>_grads.txt's gradients */
} pcase;

static int load(const char *file, ve_npy_array *a) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.npy", VE_PARITY_DIR, file);
    if (ve_npy_load(path, a) == VE_OK) return 1;
    fprintf(stderr, "FAIL loading %s: %s\n", path, ve_error());
    tu_check(0, file);
    return 0;
}

/* Compares got (numel n) with the reference file; prints max|diff| / max|ref|. */
static void compare(const char *cname, const char *what, const float *got, size_t n,
                    const char *file) {
    ve_npy_array want;
    if (!load(file, &want)) return;
    char label[128];
    snprintf(label, sizeof label, "%s: %s", cname, what);
    if ((size_t)want.numel != n) {
        fprintf(stderr, "FAIL %s: %zu elements, reference %lld\n", label, n, (long long)want.numel);
        tu_check(0, label);
        ve_npy_free(&want);
        return;
    }
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) {
        double dd = (double)got[i] - want.data[i], w = want.data[i];
        if (dd < 0) dd = -dd;
        if (w < 0) w = -w;
        if (dd > md) md = dd;
        if (w > mw) mw = w;
    }
    printf("%-8s %-16s max|diff| %.3g  max|ref| %.3g  ratio %.2g (limit 1e-4)\n", cname, what, md,
           mw, mw > 0 ? md / mw : md);
    /* A reference of zeros would make the check vacuous. */
    tu_check(mw > 0, label);
    tu_check(tu_close(label, got, want.data, n, 1e-4, 0), label);
    ve_npy_free(&want);
}

static void compare_tensor(ve_graph *g, const char *cname, const char *what, ve_tid t,
                           const char *file) {
    float *got = tu_read(g, t);
    compare(cname, what, got, (size_t)ve_tensor_numel(g, t), file);
    free(got);
}

/* The engine's image embeddings [B, g, g, C] of sam_image_<S>.npy, one batch-1 encoder graph
 * per image, compared with the reference. (Per image because sam_image_encoder_build refuses
 * batch > 1: its pos_embed add passes a [1, g*g*D] operand that ve_add only accepts as [g*g*D].)
 * Returns a malloc'd copy, or NULL. */
static float *encode_images(ve_device *dev, ve_checkpoint *ck, const char *cname, int size,
                            int batch) {
    char f[64];
    sam_preset p;
    ve_npy_array img;
    snprintf(f, sizeof f, "sam_image_%d", size);
    if (sam_preset_builtin("tiny", &p) != VE_OK || !load(f, &img)) return NULL;
    const int64_t per_img = 3 * (int64_t)size * size;
    const int64_t per_emb = (int64_t)(size / p.patch_size) * (size / p.patch_size) * p.prompt_dim;
    float *all = malloc(sizeof(float) * (size_t)(batch * per_emb));
    int ok = all != NULL && img.numel == batch * per_img;
    for (int b = 0; b < batch && ok; b++) {
        ve_graph *g = ve_graph_create(dev);
        sam_params ps = {0};
        sam_image_encoder enc;
        int64_t is[4] = {1, 3, size, size};
        ve_tid image = ve_tensor(g, VE_INPUT, "image", 4, is), emb = VE_NONE;
        ok = sam_image_encoder_declare(g, &p, size, &ps, &enc) == VE_OK &&
             (emb = sam_image_encoder_build(g, &enc, image)) != VE_NONE;
        if (ok) ve_keep(g, emb);
        ok = ok && ve_graph_compile(g, NULL) == VE_OK && sam_params_load(g, &ps, ck) == VE_OK &&
             ve_tensor_write(g, image, img.data + b * per_img, (size_t)per_img) == VE_OK &&
             ve_graph_run(g) == VE_OK &&
             ve_tensor_read(g, emb, all + b * per_emb, (size_t)per_emb) == VE_OK;
        if (!ok) fprintf(stderr, "FAIL %s encoder: %s\n", cname, ve_error());
        sam_params_free(&ps);
        ve_graph_destroy(g);
    }
    tu_check(ok, "image encoder");
    ve_npy_free(&img);
    if (!ok) {
        free(all);
        return NULL;
    }
    snprintf(f, sizeof f, "sam_embedding_%d", size);
    compare(cname, "image embedding", all, (size_t)(batch * per_emb), f);
    return all;
}

/* The parameter declared under checkpoint key `key`, or VE_NONE. */
static ve_tid param_by_key(const sam_params *ps, const char *key) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].key, key)) return ps->p[i].t;
    return VE_NONE;
}

/* Walks sam_<case>_grads.txt: "+ key" gradients must match the reference's, "- key" parameters
 * must get none (PyTorch's None: AdamW then skips them, decay included). */
static void compare_grads(ve_graph *g, const sam_params *ps, const char *cname) {
    char path[512], line[256], f[256];
    snprintf(path, sizeof path, "%s/sam_%s_grads.txt", VE_PARITY_DIR, cname);
    FILE *fp = fopen(path, "r");
    tu_check(fp != NULL, path);
    int n = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        char sign, key[200];
        if (sscanf(line, "%c %199s", &sign, key) != 2) continue;
        ve_tid t = param_by_key(ps, key);
        tu_check(t != VE_NONE, key);
        if (t == VE_NONE) continue;
        ve_tid gt = ve_grad(g, t);
        char what[256];
        snprintf(what, sizeof what, "%s: %s has %sa gradient", cname, key,
                 sign == '+' ? "" : "no ");
        if (sign == '-') {
            tu_check(gt == VE_NONE, what);
            continue;
        }
        tu_check(gt != VE_NONE, what);
        if (gt == VE_NONE) continue;
        /* Keys are long: print the tail. */
        const size_t kl = strlen(key);
        snprintf(what, sizeof what, "d %s", kl > 40 ? key + kl - 40 : key);
        snprintf(f, sizeof f, "sam_%s_grad_%s", cname, key);
        compare_tensor(g, cname, what, gt, f);
        n++;
    }
    if (fp) fclose(fp);
    tu_check(n > 0, "gradients compared");
}

/* Runs one case. emb_io: the engine's embedding for the cases without the encoder; the
 * first 1024 case stores its own there. */
static void run_case(ve_device *dev, ve_checkpoint *ck, const pcase *pc, float **emb_io) {
    char f[128];
    sam_preset p;
    if (sam_preset_builtin("tiny", &p) != VE_OK) {
        tu_check(0, ve_error());
        return;
    }
    p.mask_outputs = pc->mask_outputs;
    const int64_t gs = pc->size / p.patch_size, c = p.prompt_dim;
    ve_npy_array img = {0}, pts = {0}, lab = {0}, box = {0}, msk = {0}, dm = {0};
    int ok = 1;
    if (pc->with_encoder) {
        snprintf(f, sizeof f, "sam_image_%d", pc->size);
        ok = load(f, &img);
    }
    if (pc->n_points) {
        snprintf(f, sizeof f, "sam_%s_points", pc->name);
        ok = ok && load(f, &pts);
        snprintf(f, sizeof f, "sam_%s_labels", pc->name);
        ok = ok && load(f, &lab);
    }
    if (pc->has_box) {
        snprintf(f, sizeof f, "sam_%s_boxes", pc->name);
        ok = ok && load(f, &box);
    }
    if (pc->has_mask) {
        snprintf(f, sizeof f, "sam_%s_mask", pc->name);
        ok = ok && load(f, &msk);
    }
    if (pc->grads) {
        snprintf(f, sizeof f, "sam_%s_dmasks", pc->name);
        ok = ok && load(f, &dm);
    }
    ve_graph *g = ve_graph_create(dev);
    sam_params ps = {0};
    sam_image_encoder enc;
    sam_prompt_encoder pe;
    sam_mask_decoder dec = {0};
    sam_prompts pr = {0};
    sam_decoder_out out = {VE_NONE, VE_NONE};
    ve_tid image = VE_NONE, emb = VE_NONE;
    if (ok && pc->with_encoder) {
        int64_t is[4] = {pc->batch, 3, pc->size, pc->size};
        image = ve_tensor(g, VE_INPUT, "image", 4, is);
        ok = sam_image_encoder_declare(g, &p, pc->size, &ps, &enc) == VE_OK &&
             (emb = sam_image_encoder_build(g, &enc, image)) != VE_NONE;
    } else if (ok) {
        int64_t es[4] = {pc->batch, gs, gs, c};
        emb = ve_tensor(g, VE_INPUT, "image_embedding", 4, es);
    }
    sam_prompt_shape s = {pc->batch, pc->n_points, pc->has_box, pc->has_mask};
    ok = ok && emb != VE_NONE &&
         sam_prompt_encoder_declare(g, &p, pc->size, 1, &ps, &pe) == VE_OK &&
         sam_mask_decoder_declare(g, &p, pc->size, 1, &ps, &dec) == VE_OK &&
         sam_prompt_encoder_build(g, &pe, &s, &pr) == VE_OK &&
         sam_mask_decoder_build(g, &dec, emb, &pr, &out) == VE_OK;
    if (ok) {
        ve_keep(g, emb);
        ve_keep(g, out.masks);
        ve_keep(g, out.iou);
        if (pr.sparse != VE_NONE) ve_keep(g, pr.sparse);
        if (pr.dense != VE_NONE) ve_keep(g, pr.dense);
    }
    ve_tid dmasks = VE_NONE;
    if (ok && pc->grads) {
        int64_t ds[4] = {pc->batch, pc->mask_outputs, 4 * gs, 4 * gs};
        dmasks = ve_tensor(g, VE_INPUT, "dmasks", 4, ds);
        ok = ve_graph_backward_seed(g, out.masks, dmasks) == VE_OK;
    }
    ok = ok && ve_graph_compile(g, NULL) == VE_OK && sam_params_load(g, &ps, ck) == VE_OK &&
         sam_mask_decoder_write_consts(g, &dec) == VE_OK &&
         sam_prompts_write(g, &pe, &pr, pts.data, lab.data, box.data, msk.data) == VE_OK;
    if (ok && pc->with_encoder)
        ok = ve_tensor_write(g, image, img.data, (size_t)img.numel) == VE_OK;
    else if (ok)
        ok = *emb_io && ve_tensor_write(g, emb, *emb_io, (size_t)ve_tensor_numel(g, emb)) == VE_OK;
    if (ok && pc->grads) ok = ve_tensor_write(g, dmasks, dm.data, (size_t)dm.numel) == VE_OK;
    ok = ok && ve_graph_run(g) == VE_OK;
    if (!ok) fprintf(stderr, "FAIL %s: %s\n", pc->name, ve_error());
    tu_check(ok, pc->name);
    if (ok) {
        if (pc->with_encoder) {
            snprintf(f, sizeof f, "sam_embedding_%d", pc->size);
            compare_tensor(g, pc->name, "image embedding", emb, f);
            if (pc->size == 1024 && !*emb_io) *emb_io = tu_read(g, emb);
        }
        if (pr.sparse != VE_NONE) {
            snprintf(f, sizeof f, "sam_%s_sparse", pc->name);
            compare_tensor(g, pc->name, "sparse prompts", pr.sparse, f);
        }
        snprintf(f, sizeof f, "sam_%s_dense", pc->name);
        if (pr.dense != VE_NONE) {
            compare_tensor(g, pc->name, "dense prompt", pr.dense, f);
        } else {
            /* No mask: the dense prompt is no_mask_embed at every pixel (the decoder adds the
             * row; check the loaded row against the reference's broadcast). */
            const size_t n = (size_t)(pc->batch * gs * gs * c);
            float *row = tu_read(g, pe.no_mask), *full = malloc(sizeof(float) * n);
            for (size_t i = 0; i < n; i++)
                full[i] = row[i % (size_t)c];
            compare(pc->name, "dense prompt", full, n, f);
            free(row);
            free(full);
        }
        snprintf(f, sizeof f, "sam_%s_masks", pc->name);
        compare_tensor(g, pc->name, "mask logits", out.masks, f);
        snprintf(f, sizeof f, "sam_%s_iou", pc->name);
        compare_tensor(g, pc->name, "iou", out.iou, f);
        if (pc->grads) compare_grads(g, &ps, pc->name);
    }
    sam_mask_decoder_free(&dec);
    sam_params_free(&ps);
    ve_graph_destroy(g);
    ve_npy_free(&img);
    ve_npy_free(&pts);
    ve_npy_free(&lab);
    ve_npy_free(&box);
    ve_npy_free(&msk);
    ve_npy_free(&dm);
}

static ve_checkpoint *open_ckpt(const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VE_PARITY_DIR, file);
    return ve_checkpoint_open(path);
}

int main(void) {
    ve_checkpoint *sam = open_ckpt("sam_parity_1024.pth");
    ve_checkpoint *samed = open_ckpt("samed_parity_512.pth");
    if (!sam || !samed) {
        printf("skipped: %s (the fixture needs python3-torch)\n", ve_error());
        if (sam) ve_checkpoint_close(sam);
        return 77;
    }
    static const pcase cases[] = {
        {"point", 1024, 1, 4, 2, 0, 0, 1, 0}, {"box", 1024, 1, 4, 0, 1, 0, 0, 0},
        {"both", 1024, 1, 4, 2, 1, 0, 0, 1},  {"mask", 1024, 1, 4, 1, 0, 1, 0, 0},
        {"samed", 512, 2, 9, 0, 0, 0, 0, 1},
    };
    ve_device *dev = tu_device();
    float *emb1024 = NULL, *emb512 = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].size == 512 && !emb512)
            emb512 = encode_images(dev, samed, cases[i].name, 512, cases[i].batch);
        run_case(dev, cases[i].size == 1024 ? sam : samed, &cases[i],
                 cases[i].size == 1024 ? &emb1024 : &emb512);
    }
    free(emb1024);
    free(emb512);
    ve_checkpoint_close(sam);
    ve_checkpoint_close(samed);
    tu_check(tu_device_done(dev) == 0, "no validation messages");
    return tu_exit();
}
