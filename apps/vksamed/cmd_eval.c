/* vksamed eval CONFIG.yaml [key=value ...] [--model FILE] [--out DIR] [--device SEL]
 *                          [--no-overlays]
 * Evaluates a trained model on the config's test split the SAMed way (SAM_SPEC.md section 5):
 * every slice zoomed (cubic) to S, predicted without prompts, argmax over the classes at S x S,
 * zoomed back (nearest); per case (a volume, or a slab of one) and class, Dice and HD95 as medpy
 * computes them in 3-D with SAMed's special cases (engine/eval/seg_metrics.h). Writes into DIR
 * (default OUTPUT/eval): metrics.csv, metrics.json, overlays/<slice>.png (prediction beside
 * ground truth) and, for volume inputs, pred_<case>.nii.gz with the input's header geometry. The
 * table goes to stdout.
 *
 * The model: --model FILE, else OUTPUT/model.safetensors. A LoRA run's file holds only the
 * adapters and the decoder side: the base is model.checkpoint from the config. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "data/augment.h"
#include "eval/seg_metrics.h"
#include "io/image.h"
#include "io/nifti.h"
#include "run_data.h"
#include "sam/predictor.h"
#include "segment.h"
#include "status.h"

static int usage(void) {
    fprintf(stderr, "usage: vksamed eval CONFIG.yaml [section.key=value ...] [--model FILE] "
                    "[--out DIR] [--device SEL] [--no-overlays]\n");
    return 2;
}

typedef struct {
    sam_predictor *m;
    int S, M;
    float *in;
} predictor;

/* One slice -> its predicted label map at the slice's size. */
static int predict(predictor *pd, const ve_slice *s, uint8_t *out) {
    const size_t SS = (size_t)pd->S * (size_t)pd->S, hw = (size_t)s->h * (size_t)s->w;
    for (int c = 0; c < 3; c++) {
        const float *src = s->image + (s->channels == 3 ? (size_t)c * hw : 0);
        if (s->h == pd->S && s->w == pd->S)
            memcpy(pd->in + c * SS, src, sizeof(float) * SS);
        else if (ve_zoom_cubic(src, s->h, s->w, pd->in + c * SS, pd->S, pd->S) != VE_OK)
            return VE_FAIL;
    }
    /* No prompts (SAMed's semantic mode): masks at S x S. */
    sam_prompt_set none = {0, NULL, NULL, NULL, NULL};
    sam_prediction r;
    if (sam_predictor_set_input(pd->m, pd->in, pd->S, pd->S) != VE_OK ||
        sam_predictor_predict(pd->m, &none, &r) != VE_OK)
        return VE_FAIL;
    uint8_t *am = malloc(SS);
    if (!am) {
        sam_prediction_free(&r);
        return ve_fail("out of host memory");
    }
    for (size_t i = 0; i < SS; i++) {
        int best = 0;
        for (int k = 1; k < pd->M; k++)
            if (r.masks[(size_t)k * SS + i] > r.masks[(size_t)best * SS + i]) best = k;
        am[i] = (uint8_t)best;
    }
    sam_prediction_free(&r);
    int rc = VE_OK;
    if (s->h == pd->S && s->w == pd->S)
        memcpy(out, am, SS);
    else
        rc = ve_zoom_nearest_u8(am, pd->S, pd->S, out, s->h, s->w);
    free(am);
    return rc;
}

/* The slice with pred (left) and ground truth (right) overlaid, side by side. */
static int write_overlay(const char *dir, const ve_slice *s, const uint8_t *pred) {
    const size_t hw = (size_t)s->h * (size_t)s->w;
    seg_image img = {s->w, s->h, malloc(sizeof(float) * 3 * hw), ""};
    if (!img.rgb) return ve_fail("out of host memory");
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < hw; i++)
            img.rgb[(size_t)c * hw + i] =
                255.0f * s->image[(s->channels == 3 ? (size_t)c * hw : 0) + i];
    uint8_t *a = seg_overlay(&img, pred, NULL, 0.45f),
            *b = seg_overlay(&img, s->label, NULL, 0.45f);
    const int gap = 4, W = 2 * s->w + gap;
    uint8_t *both = calloc((size_t)W * (size_t)s->h * 3, 1);
    int rc = a && b && both ? VE_OK : ve_fail("out of host memory");
    for (int y = 0; y < s->h && rc == VE_OK; y++) {
        memcpy(both + ((size_t)y * W) * 3, a + (size_t)y * s->w * 3, (size_t)s->w * 3);
        memcpy(both + ((size_t)y * W + s->w + gap) * 3, b + (size_t)y * s->w * 3, (size_t)s->w * 3);
    }
    char path[2048], name[VE_SLICE_NAME_LEN];
    snprintf(name, sizeof name, "%s", s->name);
    for (char *q = name; *q; q++)
        if (*q == ' ' || *q == '/' || *q == '=') *q = '_';
    snprintf(path, sizeof path, "%s/overlays/%s.png", dir, name);
    if (rc == VE_OK) rc = ve_png_write_u8(path, W, s->h, 3, both);
    free(img.rgb), free(a), free(b), free(both);
    return rc;
}

typedef struct {
    char name[VE_SLICE_NAME_LEN];
    int classes;
    ve_seg_metric *m;       /* [classes] for classes 1.. */
    unsigned char *present; /* [classes]: the class occurs in the case's ground truth */
} case_result;

/* Stacks the samples of case k of set into volumes and computes its metrics. */
static int case_metrics(const ve_slice_set *set, uint8_t *const *pred, int k, int classes,
                        case_result *r) {
    int d = 0, h = 0, w = 0;
    for (int i = 0; i < set->n; i++)
        if (set->s[i].case_id == k) {
            if (d && (set->s[i].h != h || set->s[i].w != w))
                return ve_fail("case %s: slices of different sizes", set->case_names[k]);
            h = set->s[i].h, w = set->s[i].w, d++;
        }
    const size_t hw = (size_t)h * (size_t)w;
    uint8_t *pv = malloc(hw * (size_t)d), *gv = malloc(hw * (size_t)d);
    r->m = calloc((size_t)classes, sizeof *r->m);
    r->present = calloc((size_t)classes, 1);
    r->classes = classes;
    snprintf(r->name, sizeof r->name, "%s", set->case_names[k]);
    if (!pv || !gv || !r->m || !r->present) {
        free(pv), free(gv);
        return ve_fail("out of host memory");
    }
    int z = 0;
    for (int i = 0; i < set->n; i++)
        if (set->s[i].case_id == k) {
            memcpy(pv + (size_t)z * hw, pred[i], hw);
            memcpy(gv + (size_t)z * hw, set->s[i].label, hw);
            z++;
        }
    const double spacing[3] = {1, 1, 1}; /* voxels, as SAMed reports HD95 */
    int rc = VE_OK;
    for (int c = 1; c <= classes && rc == VE_OK; c++)
        rc = ve_seg_metric_class(pv, gv, d, h, w, spacing, c, &r->m[c - 1]);
    for (size_t i = 0; i < hw * (size_t)d; i++)
        if (gv[i] >= 1 && gv[i] <= classes) r->present[gv[i] - 1] = 1;
    free(pv), free(gv);
    return rc;
}

/* Writes the predicted slices of one NIfTI volume into a label volume of its size. */
static int write_nifti_pred(const char *dir, const train_config *c, const tc_volume *v,
                            const ve_slice_set *set, uint8_t *const *pred, int vol_index) {
    ve_volume src;
    if (ve_nifti_load(v->image, &src) != VE_OK) return VE_FAIL;
    const int64_t nx = src.dim[0], ny = src.dim[1], nz = src.dim[2];
    uint8_t *lab = calloc((size_t)(nx * ny * nz), 1);
    int rc = lab ? VE_OK : ve_fail("out of host memory");
    for (int i = 0; i < set->n && rc == VE_OK; i++) {
        const ve_slice *s = &set->s[i];
        const int64_t idx = s->slice;
        for (int64_t r = 0; r < s->h; r++)
            for (int64_t q = 0; q < s->w; q++) {
                int64_t x, y, z;
                if (c->axis == 2)
                    x = q, y = r, z = idx;
                else if (c->axis == 1)
                    x = q, y = idx, z = r;
                else
                    x = idx, y = q, z = r;
                lab[(z * ny + y) * nx + x] = pred[i][r * s->w + q];
            }
    }
    char path[2048];
    const char *base = strrchr(v->image, '/');
    base = base ? base + 1 : v->image;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strstr(stem, ".nii");
    if (dot) *dot = 0;
    snprintf(path, sizeof path, "%s/pred_%d_%s.nii.gz", dir, vol_index, stem);
    if (rc == VE_OK) rc = ve_nifti_write_labels(path, &src, lab, src.dim);
    free(lab);
    ve_volume_free(&src);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *cfg_path = NULL, *model_path = NULL, *out_dir = NULL, *dev_sel = NULL;
    int overlays = 1;
    train_config c;
    memset(&c, 0, sizeof c);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out_dir = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            dev_sel = argv[++i];
        else if (!strcmp(argv[i], "--no-overlays"))
            overlays = 0;
        else if (argv[i][0] == '-')
            return usage();
        else if (!cfg_path)
            cfg_path = argv[i];
        else if (!strchr(argv[i], '='))
            return usage();
    }
    if (!cfg_path) return usage();
    int rc = 1;
    static const char *const value_flags[] = {"--model", "--out", "--device", NULL};
    if (run_config_load(cfg_path, 0, NULL, argc, argv, value_flags, &c) != VE_OK) goto fail_cfg;
    if (!dev_sel && c.device[0]) dev_sel = c.device;

    char dir[TC_PATH + 64], mp[TC_PATH + 64], sub[TC_PATH + 96];
    if (out_dir)
        snprintf(dir, sizeof dir, "%s", out_dir);
    else
        snprintf(dir, sizeof dir, "%s/eval", c.output);
    if (model_path)
        snprintf(mp, sizeof mp, "%s", model_path);
    else
        snprintf(mp, sizeof mp, "%s/model.safetensors", c.output);
    snprintf(sub, sizeof sub, "%s/overlays", dir);

    sam_preset p;
    ve_slice_set set = {0};
    ve_device *dev = NULL;
    ve_checkpoint *model = NULL, *basek = NULL;
    predictor pd = {0};
    uint8_t **pred = NULL;
    case_result *res = NULL;
    int n_res = 0;
    char *json = NULL;
    if (run_preset(&c, &p) != VE_OK) goto fail;
    if (run_load_split(&c, &c.test, "test", &set) != VE_OK) goto fail;
    if (!(model = ve_checkpoint_open(mp))) goto fail;
    const int is_lora = ve_checkpoint_find(model, "w_a_000") != NULL;
    if (is_lora) {
        if (!c.checkpoint[0]) {
            ve_fail("%s holds LoRA adapters: model.checkpoint (the SAM base) is needed", mp);
            goto fail;
        }
        if (!(basek = ve_checkpoint_open(c.checkpoint))) goto fail;
    }
    /* Inputs are good: now the output folder. */
    if (run_make_dir(dir) != VE_OK || (overlays && run_make_dir(sub) != VE_OK)) goto fail;
    if (!(dev = ve_device_open(dev_sel))) goto fail;
    pd.S = c.image_size;
    pd.M = c.classes + 1;
    if (!(pd.m = sam_predictor_create(dev, &p, pd.S, SAM_INPUT_SAMED, is_lora ? basek : model,
                                      is_lora ? model : NULL)))
        goto fail;
    pd.in = malloc(sizeof(float) * 3 * (size_t)pd.S * (size_t)pd.S);
    pred = calloc((size_t)set.n, sizeof *pred);
    if (!pd.in || !pred) {
        ve_fail("out of host memory");
        goto fail;
    }
    fprintf(stderr, "evaluating %s on %d test slices in %d cases\n", mp, set.n, set.n_cases);
    for (int i = 0; i < set.n; i++) {
        pred[i] = malloc((size_t)set.s[i].h * (size_t)set.s[i].w);
        if (!pred[i]) {
            ve_fail("out of host memory");
            goto fail;
        }
        if (predict(&pd, &set.s[i], pred[i]) != VE_OK ||
            (overlays && write_overlay(dir, &set.s[i], pred[i]) != VE_OK)) {
            ve_fail_context("%s: ", set.s[i].name);
            goto fail;
        }
        fprintf(stderr, "\r  predicted %d / %d", i + 1, set.n);
    }
    fprintf(stderr, "\n");
    res = calloc((size_t)set.n_cases, sizeof *res);
    if (!res) goto fail;
    for (int k = 0; k < set.n_cases; k++, n_res++)
        if (case_metrics(&set, pred, k, c.classes, &res[k]) != VE_OK) goto fail;
    if (c.data_format == TC_DATA_NIFTI) {
        /* Predictions as volumes: the test slices of each input volume, in its geometry. */
        int first = 0;
        for (int v = 0; v < c.test.n_vol; v++) {
            ve_slice_set one = set;
            int n = c.test.vol[v].slices ? c.test.vol[v].n_slices : 0;
            if (!c.test.vol[v].slices) { /* all slices: the rest of the set for a single volume */
                n = set.n - first;
            }
            one.s = set.s + first;
            one.n = n;
            if (write_nifti_pred(dir, &c, &c.test.vol[v], &one, pred + first, v) != VE_OK)
                goto fail;
            first += n;
        }
    }

    /* The table, CSV and JSON. */
    snprintf(sub, sizeof sub, "%s/metrics.csv", dir);
    size_t cap = 4096 + (size_t)n_res * (size_t)c.classes * 160;
    json = malloc(cap);
    char *csvtext = malloc(cap);
    if (!json || !csvtext) {
        free(csvtext);
        ve_fail("out of host memory");
        goto fail;
    }
    size_t jl = 0, cl = 0;
    cl += (size_t)snprintf(csvtext + cl, cap - cl, "case,class,dice,hd95,in_ground_truth\n");
    jl += (size_t)snprintf(json + jl, cap - jl, "{\n  \"model\": \"%s\",\n  \"cases\": [\n", mp);
    printf("%-28s", "case");
    for (int k = 1; k <= c.classes; k++)
        printf(" %8s%-3d", "class ", k);
    printf(" %9s\n", "mean");
    double mean_d = 0, mean_h = 0, gt_d = 0;
    int n_gt = 0;
    double *cls_d = calloc((size_t)c.classes, sizeof(double)),
           *cls_h = calloc((size_t)c.classes, sizeof(double));
    for (int r = 0; r < n_res; r++) {
        double cd = 0, ch = 0;
        const char *cn = strrchr(res[r].name, '/');
        printf("%-28.28s", cn ? cn + 1 : res[r].name);
        jl += (size_t)snprintf(json + jl, cap - jl, "    {\"case\": \"%s\", \"dice\": [",
                               res[r].name);
        for (int k = 0; k < c.classes; k++) {
            const ve_seg_metric *m = &res[r].m[k];
            printf(" %5.3f/%5.1f", m->dice, m->hd95);
            cl += (size_t)snprintf(csvtext + cl, cap - cl, "\"%s\",%d,%.6f,%.6f,%d\n", res[r].name,
                                   k + 1, m->dice, m->hd95, res[r].present[k]);
            jl += (size_t)snprintf(json + jl, cap - jl, "%s%.6f", k ? ", " : "", m->dice);
            cd += m->dice, ch += m->hd95;
            if (res[r].present[k]) gt_d += m->dice, n_gt++;
            cls_d[k] += m->dice / n_res, cls_h[k] += m->hd95 / n_res;
        }
        jl += (size_t)snprintf(json + jl, cap - jl, "], \"hd95\": [");
        for (int k = 0; k < c.classes; k++)
            jl += (size_t)snprintf(json + jl, cap - jl, "%s%.6f", k ? ", " : "", res[r].m[k].hd95);
        jl += (size_t)snprintf(json + jl, cap - jl, "]}%s\n", r + 1 < n_res ? "," : "");
        printf(" %5.3f/%5.1f\n", cd / c.classes, ch / c.classes);
        mean_d += cd / c.classes / n_res, mean_h += ch / c.classes / n_res;
    }
    printf("%-28s", "mean over cases");
    jl += (size_t)snprintf(json + jl, cap - jl, "  ],\n  \"class_dice\": [");
    for (int k = 0; k < c.classes; k++) {
        printf(" %5.3f/%5.1f", cls_d[k], cls_h[k]);
        jl += (size_t)snprintf(json + jl, cap - jl, "%s%.6f", k ? ", " : "", cls_d[k]);
    }
    jl += (size_t)snprintf(json + jl, cap - jl, "],\n  \"class_hd95\": [");
    for (int k = 0; k < c.classes; k++)
        jl += (size_t)snprintf(json + jl, cap - jl, "%s%.6f", k ? ", " : "", cls_h[k]);
    if (n_gt) gt_d /= n_gt;
    jl += (size_t)snprintf(json + jl, cap - jl,
                           "],\n  \"mean_dice\": %.6f,\n  \"mean_hd95\": %.6f,\n"
                           "  \"mean_dice_in_ground_truth\": %.6f,\n  \"cells_in_ground_truth\": "
                           "%d\n}\n",
                           mean_d, mean_h, gt_d, n_gt);
    printf(" %5.3f/%5.1f\n", mean_d, mean_h);
    printf("mean Dice %.4f, mean HD95 %.2f (voxels) over %d cases x %d classes (SAMed's rule: a "
           "class absent from both prediction and ground truth scores 0)\n",
           mean_d, mean_h, n_res, c.classes);
    if (n_gt < n_res * c.classes)
        printf("mean Dice over the %d of %d case/class cells whose ground truth has the class: "
               "%.4f\n",
               n_gt, n_res * c.classes, gt_d);
    free(cls_d), free(cls_h);
    int wr = seg_write_text(sub, csvtext);
    free(csvtext);
    if (wr != VE_OK) goto fail;
    snprintf(sub, sizeof sub, "%s/metrics.json", dir);
    if (seg_write_text(sub, json) != VE_OK) goto fail;
    fprintf(stderr, "wrote %s/metrics.csv, metrics.json%s%s\n", dir, overlays ? ", overlays/" : "",
            c.data_format == TC_DATA_NIFTI ? ", pred_*.nii.gz" : "");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "vksamed eval: %s\n", ve_error());
    rc = 1;
done:
    if (pred)
        for (int i = 0; i < set.n; i++)
            free(pred[i]);
    free(pred);
    for (int r = 0; r < n_res; r++)
        free(res[r].m), free(res[r].present);
    free(res);
    free(json);
    free(pd.in);
    sam_predictor_destroy(pd.m);
    if (model) ve_checkpoint_close(model);
    if (basek) ve_checkpoint_close(basek);
    ve_slice_set_free(&set);
    if (dev && ve_device_close(dev) != 0 && rc == 0) rc = 1;
    train_config_free(&c);
    return rc;
fail_cfg:
    fprintf(stderr, "vksamed eval: %s\n", ve_error());
    train_config_free(&c);
    return 2;
}
