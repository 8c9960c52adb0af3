/* `vksamed segment`: one image (or NIfTI slice) through SAM with point / box / mask prompts, or
 * through a SAMed model (--classes N) to a label map. Everything is computed before anything is
 * written, and every writer is atomic, so a failure leaves no partial output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "device.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "io/npy.h"
#include "sam/preprocess.h"
#include "sam/predictor.h"
#include "sam/sam.h"
#include "segment.h"
#include "status.h"

#define MAX_POINTS 64
#define MAX_CLASSES 254 /* labels are bytes */

static const char USAGE[] =
    "usage: vksamed segment --checkpoint FILE --image FILE [options]\n"
    "  --image FILE          PNG / JPEG (grey, RGB, 16-bit) or NIfTI (.nii, .nii.gz)\n"
    "  --slice N --axis A    NIfTI slice index along axis 0|1|2 (default: axis 2, middle)\n"
    "SAM prompts (pixels of the original image):\n"
    "  --point x,y[,label]   label 1 foreground (default) or 0 background; repeatable\n"
    "  --box x0,y0,x1,y1     one box\n"
    "  --mask-input FILE.npy low-res logits [4g, 4g] from an earlier run\n"
    "  --multimask           the best of SAM's three masks by predicted IoU (else mask 0)\n"
    "SAMed semantic mode (no prompts):\n"
    "  --classes N           N classes + background: argmax label map (N + 1 mask tokens)\n"
    "  --lora FILE           SAMed LoRA file merged into the checkpoint\n"
    "outputs:\n"
    "  --out FILE.png        binary mask (0/255), or the colour label map (+ FILE.legend.txt)\n"
    "  --overlay FILE.png    the image with the mask / labels blended in\n"
    "  --logits FILE.npy     raw low-res logits [1, M, 4g, 4g]\n"
    "  --embedding FILE.npy  image embedding [1, C, g, g]\n"
    "  --size S              model input side (default: the preset's; 512 with --classes)\n"
    "  --device SEL          Vulkan device (index or name substring)\n";

typedef struct {
    const char *ckpt, *image, *mask_input, *out, *overlay, *logits, *embedding, *lora, *device;
    long slice;
    int axis, multimask, classes, size;
    int n_points, has_box;
    float points[MAX_POINTS][3];
    float box[4];
} seg_opts;

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "vksamed segment: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Returns -1 when parsed, else the exit code (0 for --help). */
static int parse(int argc, char **argv, seg_opts *o) {
    memset(o, 0, sizeof *o);
    o->slice = -1;
    o->axis = 2;
    int axis_given = 0, slice_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--multimask")) {
            o->multimask = 1;
            continue;
        }
        static const char *const valued[] = {
            "--checkpoint", "--image",      "--slice", "--axis",    "--point",
            "--box",        "--mask-input", "--out",   "--overlay", "--logits",
            "--embedding",  "--classes",    "--lora",  "--size",    "--device",
        };
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) return usage_error("unknown option \"%s\"", a);
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        long n;
        if (!strcmp(a, "--checkpoint"))
            o->ckpt = v;
        else if (!strcmp(a, "--image"))
            o->image = v;
        else if (!strcmp(a, "--mask-input"))
            o->mask_input = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--overlay"))
            o->overlay = v;
        else if (!strcmp(a, "--logits"))
            o->logits = v;
        else if (!strcmp(a, "--embedding"))
            o->embedding = v;
        else if (!strcmp(a, "--lora"))
            o->lora = v;
        else if (!strcmp(a, "--device"))
            o->device = v;
        else if (!strcmp(a, "--slice")) {
            if (parse_int(v, 0, 1L << 30, &n)) return usage_error("bad --slice \"%s\"", v);
            o->slice = n;
            slice_given = 1;
        } else if (!strcmp(a, "--axis")) {
            if (parse_int(v, 0, 2, &n)) return usage_error("bad --axis \"%s\" (0, 1 or 2)", v);
            o->axis = (int)n;
            axis_given = 1;
        } else if (!strcmp(a, "--classes")) {
            if (parse_int(v, 1, MAX_CLASSES, &n))
                return usage_error("bad --classes \"%s\" (1 to 254)", v);
            o->classes = (int)n;
        } else if (!strcmp(a, "--size")) {
            if (parse_int(v, 16, 8192, &n) || n % 16)
                return usage_error("bad --size \"%s\" (a multiple of 16)", v);
            o->size = (int)n;
        } else if (!strcmp(a, "--point")) {
            float p[3] = {0, 0, 1};
            int k = seg_parse_numbers(v, p, 3);
            if (k < 2 || (p[2] != 0 && p[2] != 1))
                return usage_error("bad --point \"%s\" (x,y or x,y,label with label 0 or 1)", v);
            if (o->n_points == MAX_POINTS) return usage_error("more than 64 points%s", "");
            memcpy(o->points[o->n_points++], p, sizeof p);
        } else if (!strcmp(a, "--box")) {
            if (o->has_box) return usage_error("one --box only%s", "");
            if (seg_parse_numbers(v, o->box, 4) != 4 || o->box[0] > o->box[2] ||
                o->box[1] > o->box[3])
                return usage_error("bad --box \"%s\" (x0,y0,x1,y1 with x0 <= x1, y0 <= y1)", v);
            o->has_box = 1;
        }
    }
    if (!o->ckpt) return usage_error("--checkpoint is required%s", "");
    if (!o->image) return usage_error("--image is required%s", "");
    if ((axis_given || slice_given) && !seg_is_nifti(o->image))
        return usage_error("--slice / --axis need a NIfTI image (.nii, .nii.gz), not %s", o->image);
    if (o->classes && (o->n_points || o->has_box || o->mask_input || o->multimask))
        return usage_error("--classes (SAMed) takes no prompts or --multimask%s", "");
    if (o->lora && !o->classes) return usage_error("--lora needs --classes%s", "");
    return -1;
}

/* Each output's folder must exist and be writable: found before the (long) run, not after. */
static int check_outputs(const seg_opts *o) {
    const char *outs[] = {o->out, o->overlay, o->logits, o->embedding};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (!outs[i]) continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", outs[i]);
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (access(dir, W_OK) != 0)
            return ve_fail("cannot write %s: folder %s: %s", outs[i], dir, strerror(errno));
    }
    return VE_OK;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Everything a run produces, held until all of it is ready. */
typedef struct {
    sam_prediction pred; /* masks [M, h, w], low-res [M, 4g, 4g], IoUs [M] */
    int c;               /* embedding channels */
    float *emb;          /* [C, g, g] or NULL */
} seg_result;

static void result_free(seg_result *r) {
    sam_prediction_free(&r->pred);
    free(r->emb);
}

/* The mask input: any array of 4g x 4g logits (leading dims of size 1). */
static int load_mask_input(const char *path, int side, ve_npy_array *a) {
    if (ve_npy_load(path, a) != VE_OK) return VE_FAIL;
    if (a->ndim >= 2 && a->shape[a->ndim - 1] == side && a->shape[a->ndim - 2] == side &&
        a->numel == (int64_t)side * side)
        return VE_OK;
    char shape[128] = "";
    size_t k = 0;
    for (int i = 0; i < a->ndim && k < sizeof shape; i++)
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", i ? ", " : "",
                              (long long)a->shape[i]);
    ve_npy_free(a);
    return ve_fail("%s: mask input has shape [%s], expected [%d, %d] low-res logits (4 x the "
                   "embedding grid)",
                   path, shape, side, side);
}

/* Loads, encodes the image, runs the prompts (the predictor: the one prompting path); fills r. */
static int run_model(const seg_opts *o, const seg_image *img, ve_checkpoint *ck,
                     ve_checkpoint *lora, const sam_preset *p, seg_result *r) {
    const int S = o->size ? o->size : o->classes ? 512 : p->image_size;
    if (S % p->patch_size)
        return ve_fail("--size %d is not a multiple of the patch size %d", S, p->patch_size);
    float pts[2 * MAX_POINTS], labels[MAX_POINTS];
    for (int i = 0; i < o->n_points; i++) {
        pts[2 * i] = o->points[i][0];
        pts[2 * i + 1] = o->points[i][1];
        labels[i] = o->points[i][2];
    }
    sam_prompt_set ps = {o->n_points, pts, labels, o->has_box ? o->box : NULL, NULL};
    /* Checked before the (long) model build. */
    if (sam_prompts_check(&ps, img->h, img->w) != VE_OK) return ve_fail_context("%s: ", o->image);
    const int g = S / p->patch_size;
    ve_npy_array mask = {0};
    if (o->mask_input && load_mask_input(o->mask_input, 4 * g, &mask) != VE_OK) return VE_FAIL;
    ps.mask = o->mask_input ? mask.data : NULL;
    int nh = S, nw = S;
    if (!o->classes) sam_resized_size(img->h, img->w, S, &nh, &nw);
    ve_device *dev = NULL;
    sam_predictor *pr = NULL;
    double t0 = now_s(), t1 = t0, t2 = t0, t3 = t0;
    int rc = (dev = ve_device_open(o->device)) ? VE_OK : VE_FAIL;
    if (rc == VE_OK) {
        pr =
            sam_predictor_create(dev, p, S, o->classes ? SAM_INPUT_SAMED : SAM_INPUT_SAM, ck, lora);
        rc = pr ? VE_OK : VE_FAIL;
    }
    if (rc == VE_OK) {
        t1 = now_s();
        rc = sam_predictor_set_image(pr, img->rgb, img->h, img->w);
        t2 = now_s();
    }
    if (rc == VE_OK) {
        rc = sam_predictor_predict(pr, &ps, &r->pred);
        t3 = now_s();
    }
    if (rc == VE_OK && o->embedding) {
        r->c = sam_predictor_embed_dim(pr);
        const size_t n = (size_t)r->c * (size_t)g * (size_t)g;
        r->emb = malloc(sizeof(float) * n);
        rc = r->emb ? sam_predictor_read_embedding(pr, r->emb, n) : ve_fail("out of host memory");
    }
    if (rc == VE_OK)
        printf("model: %s, input %dx%d (image resized to %dx%d), %d mask tokens; build + load "
               "%.2f s, image encoder %.2f s, prompt %.3f s\n",
               p->name, S, S, nw, nh, r->pred.m, t1 - t0, t2 - t1, t3 - t2);
    sam_predictor_destroy(pr);
    if (dev) ve_device_close(dev);
    ve_npy_free(&mask);
    return rc;
}

/* SAM: mask 0, or the best of 1..3 by predicted IoU. */
static int write_sam(const seg_opts *o, const seg_image *img, const seg_result *r) {
    const size_t hw = (size_t)img->w * (size_t)img->h;
    int k = 0;
    if (o->multimask) {
        k = 1;
        for (int i = 1; i <= 3; i++) {
            printf("mask %d: predicted IoU %.4f\n", i, r->pred.iou[i]);
            if (r->pred.iou[i] > r->pred.iou[k]) k = i;
        }
    }
    printf("mask %d%s: predicted IoU %.4f", k, o->multimask ? " (best)" : "", r->pred.iou[k]);
    uint8_t *mask = malloc(hw), *labels = malloc(hw), *over = NULL;
    if (!mask || !labels) {
        free(mask);
        free(labels);
        return ve_fail("out of host memory");
    }
    size_t area = 0;
    for (size_t i = 0; i < hw; i++) {
        labels[i] = r->pred.masks[(size_t)k * hw + i] > 0.0f;
        mask[i] = labels[i] ? 255 : 0;
        area += labels[i];
    }
    printf(", %zu of %zu pixels\n", area, hw);
    static const uint8_t colour[3] = {30, 144, 255};
    int rc = VE_OK;
    if (o->overlay && !(over = seg_overlay(img, labels, colour, 0.5f))) rc = VE_FAIL;
    if (rc == VE_OK && o->out) rc = ve_png_write_u8(o->out, img->w, img->h, 1, mask);
    if (rc == VE_OK && o->overlay) rc = ve_png_write_u8(o->overlay, img->w, img->h, 3, over);
    free(mask);
    free(labels);
    free(over);
    return rc;
}

/* SAMed: argmax over the N + 1 class logits (softmax is monotonic), colour map and legend. */
static int write_semantic(const seg_opts *o, const seg_image *img, const seg_result *r) {
    const size_t hw = (size_t)img->w * (size_t)img->h;
    uint8_t *labels = malloc(hw), *map = malloc(3 * hw), *over = NULL;
    size_t *count = calloc((size_t)r->pred.m, sizeof *count);
    char *legend = malloc((size_t)r->pred.m * 64 + 1);
    int rc = labels && map && count && legend ? VE_OK : ve_fail("out of host memory");
    for (size_t i = 0; i < hw && rc == VE_OK; i++) {
        int best = 0;
        for (int c = 1; c < r->pred.m; c++)
            if (r->pred.masks[(size_t)c * hw + i] > r->pred.masks[(size_t)best * hw + i]) best = c;
        labels[i] = (uint8_t)best;
        count[best]++;
        seg_class_colour(best, map + 3 * i);
    }
    if (rc == VE_OK) {
        size_t k = 0;
        legend[0] = '\0';
        for (int c = 0; c < r->pred.m; c++) {
            uint8_t col[3];
            seg_class_colour(c, col);
            k += (size_t)snprintf(legend + k, 64, "class %d: colour #%02x%02x%02x, %zu pixels\n", c,
                                  col[0], col[1], col[2], count[c]);
        }
        fputs(legend, stdout);
    }
    if (rc == VE_OK && o->overlay && !(over = seg_overlay(img, labels, NULL, 0.5f))) rc = VE_FAIL;
    if (rc == VE_OK && o->out) rc = ve_png_write_u8(o->out, img->w, img->h, 3, map);
    if (rc == VE_OK && o->out) {
        /* mask.png -> mask.legend.txt */
        char path[4096];
        size_t n = strlen(o->out);
        if (n > 4 && !strcasecmp(o->out + n - 4, ".png")) n -= 4;
        if (n + 12 >= sizeof path)
            rc = ve_fail("%s: path too long", o->out);
        else {
            snprintf(path, sizeof path, "%.*s.legend.txt", (int)n, o->out);
            rc = seg_write_text(path, legend);
        }
    }
    if (rc == VE_OK && o->overlay) rc = ve_png_write_u8(o->overlay, img->w, img->h, 3, over);
    free(labels);
    free(map);
    free(over);
    free(count);
    free(legend);
    return rc;
}

static int write_arrays(const seg_opts *o, const seg_result *r) {
    const int64_t g = r->pred.g, side = 4 * g;
    int64_t ls[4] = {1, r->pred.m, side, side}, es[4] = {1, r->c, g, g};
    if (o->logits && ve_npy_write_f32(o->logits, 4, ls, r->pred.lowres) != VE_OK) return VE_FAIL;
    if (o->embedding && ve_npy_write_f32(o->embedding, 4, es, r->emb) != VE_OK) return VE_FAIL;
    return VE_OK;
}

/* The checkpoint's preset, and its token count checked against the mode. */
static int resolve(const seg_opts *o, ve_checkpoint *ck, ve_checkpoint *lora, sam_preset *p) {
    if (sam_resolve_preset(ck, lora, p) != VE_OK) return VE_FAIL;
    return seg_check_mask_tokens(p->mask_outputs, o->classes, o->lora ? o->lora : o->ckpt);
}

int cmd_segment(int argc, char **argv) {
    seg_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    seg_image img = {0};
    seg_result r = {0};
    sam_preset p;
    ve_checkpoint *ck = NULL, *lora = NULL;
    rc = check_outputs(&o);
    if (rc == VE_OK) rc = seg_image_load(o.image, o.axis, o.slice, &img);
    if (rc == VE_OK) {
        printf("image: %s, %dx%d, %s\n", o.image, img.w, img.h, img.what);
        rc = (ck = ve_checkpoint_open(o.ckpt)) ? VE_OK : VE_FAIL;
    }
    if (rc == VE_OK && o.lora) rc = (lora = ve_checkpoint_open(o.lora)) ? VE_OK : VE_FAIL;
    if (rc == VE_OK) rc = resolve(&o, ck, lora, &p);
    if (rc == VE_OK) rc = run_model(&o, &img, ck, lora, &p, &r);
    if (rc == VE_OK) rc = o.classes ? write_semantic(&o, &img, &r) : write_sam(&o, &img, &r);
    if (rc == VE_OK) rc = write_arrays(&o, &r);
    if (rc != VE_OK) fprintf(stderr, "vksamed segment: %s\n", ve_error());
    result_free(&r);
    seg_image_free(&img);
    if (ck) ve_checkpoint_close(ck);
    if (lora) ve_checkpoint_close(lora);
    return rc == VE_OK ? 0 : 1;
}
