/* Interactive SAM (predictor.h): one encoder graph (image -> embedding) built at create; per
 * prompt shape a decoder graph (prompt encoder, mask decoder, and the official postprocessing
 * when full masks are asked for) whose image embedding is an input fed from the host copy of
 * the kept embedding, built on first use and kept in a small LRU cache. */
#include "sam/predictor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sam/image_encoder.h"
#include "sam/mask_decoder.h"
#include "sam/preprocess.h"
#include "sam/prompt_encoder.h"
#include "sam/predictor_weights.h"
#include "sam/sam.h"
#include "status.h"

#define SAM_DECODER_CACHE 8

/* What a decoder graph is built for. */
typedef struct {
    int n_points, has_box, has_mask;
    int in_h, in_w, out_h, out_w; /* resized image inside the input; original image */
    int full;                     /* masks at the image size (else low-res only) */
} dec_key;

typedef struct {
    int used;
    uint64_t last_use, emb_gen; /* LRU stamp; the image generation the embedding input holds */
    dec_key k;
    ve_graph *g;
    sam_params ps;
    sam_prompt_encoder pe;
    sam_mask_decoder dec;
    sam_prompts pr;
    sam_decoder_out out;
    ve_tid emb, masks;
} dec_graph;

struct sam_predictor {
    ve_device *dev;
    sam_preset p;
    sam_input_mode mode;
    int S, grid;
    ve_graph *eg;
    sam_params eps;
    sam_image_encoder enc;
    ve_tid image, emb;
    float *input;    /* [3, S, S] */
    float *emb_host; /* [g, g, C] channels-last, the kept embedding */
    int have_image, h, w, in_h, in_w;
    uint64_t image_gen, clock;
    sam_host_weights dw;
    dec_graph cache[SAM_DECODER_CACHE];
    dec_graph *last; /* the last prediction's graph */
    int profile;     /* decoder graphs record per-op timestamps */
};

static int build_encoder(sam_predictor *pr, const sam_weight_source *src) {
    ve_graph *g = pr->eg = ve_graph_create(pr->dev);
    int64_t is[4] = {1, 3, pr->S, pr->S};
    if (!g || (pr->image = ve_tensor(g, VE_INPUT, "image", 4, is)) == VE_NONE ||
        sam_image_encoder_declare(g, &pr->p, pr->S, &pr->eps, &pr->enc) != VE_OK ||
        (pr->emb = sam_image_encoder_build(g, &pr->enc, pr->image)) == VE_NONE)
        return VE_FAIL;
    ve_keep(g, pr->emb);
    if (ve_graph_compile(g, NULL) != VE_OK) return VE_FAIL;
    return sam_encoder_weights_load(g, &pr->enc, &pr->eps, src);
}

static sam_predictor *create(ve_device *dev, const sam_preset *p, int img_size, sam_input_mode mode,
                             const sam_weight_source *src) {
    if (img_size < p->patch_size || img_size % p->patch_size) {
        ve_fail("SAM predictor: input side %d is not a multiple of the patch size %d", img_size,
                p->patch_size);
        return NULL;
    }
    if (mode != SAM_INPUT_SAM && mode != SAM_INPUT_SAMED) {
        ve_fail("SAM predictor: unknown input mode %d", (int)mode);
        return NULL;
    }
    sam_predictor *pr = calloc(1, sizeof *pr);
    if (!pr) {
        ve_fail("SAM predictor: out of host memory");
        return NULL;
    }
    pr->dev = dev;
    pr->p = *p;
    pr->mode = mode;
    pr->S = img_size;
    pr->grid = img_size / p->patch_size;
    const size_t ss = (size_t)img_size * (size_t)img_size;
    const size_t ne = (size_t)pr->grid * (size_t)pr->grid * (size_t)p->prompt_dim;
    pr->input = malloc(sizeof(float) * 3 * ss);
    pr->emb_host = malloc(sizeof(float) * ne);
    int rc = pr->input && pr->emb_host ? VE_OK : ve_fail("SAM predictor: out of host memory");
    if (rc == VE_OK) rc = build_encoder(pr, src);
    if (rc == VE_OK) rc = sam_decoder_weights_capture(dev, p, img_size, src, &pr->dw);
    if (rc != VE_OK) {
        ve_fail_context("SAM predictor (%s, input %d): ", p->name, img_size);
        sam_predictor_destroy(pr);
        return NULL;
    }
    return pr;
}

sam_predictor *sam_predictor_create(ve_device *dev, const sam_preset *p, int img_size,
                                    sam_input_mode mode, ve_checkpoint *base, ve_checkpoint *lora) {
    if (!base) {
        ve_fail("SAM predictor: no base checkpoint");
        return NULL;
    }
    sam_weight_source src = {base, lora, NULL};
    return create(dev, p, img_size, mode, &src);
}

sam_predictor *sam_predictor_create_random(ve_device *dev, const sam_preset *p, int img_size,
                                           sam_input_mode mode, uint64_t seed) {
    uint64_t rng = seed;
    sam_weight_source src = {NULL, NULL, &rng};
    return create(dev, p, img_size, mode, &src);
}

static void dec_graph_free(sam_predictor *pr, dec_graph *d) {
    if (pr->last == d) pr->last = NULL;
    sam_mask_decoder_free(&d->dec);
    sam_params_free(&d->ps);
    if (d->g) ve_graph_destroy(d->g);
    memset(d, 0, sizeof *d);
}

void sam_predictor_destroy(sam_predictor *pr) {
    if (!pr) return;
    for (int i = 0; i < SAM_DECODER_CACHE; i++)
        if (pr->cache[i].used) dec_graph_free(pr, &pr->cache[i]);
    sam_host_weights_free(&pr->dw);
    sam_params_free(&pr->eps);
    if (pr->eg) ve_graph_destroy(pr->eg);
    free(pr->input);
    free(pr->emb_host);
    free(pr);
}

/* Runs the encoder on pr->input (already preprocessed) and keeps the embedding. */
static int encode(sam_predictor *pr, int h, int w, int in_h, int in_w) {
    pr->have_image = 0;
    const size_t n = (size_t)ve_tensor_numel(pr->eg, pr->emb);
    if (ve_tensor_write(pr->eg, pr->image, pr->input, 3 * (size_t)pr->S * (size_t)pr->S) != VE_OK ||
        ve_graph_run(pr->eg) != VE_OK || ve_tensor_read(pr->eg, pr->emb, pr->emb_host, n) != VE_OK)
        return ve_fail_context("SAM predictor: image encoder: ");
    pr->h = h, pr->w = w, pr->in_h = in_h, pr->in_w = in_w;
    pr->image_gen++;
    pr->have_image = 1;
    return VE_OK;
}

int sam_predictor_set_image(sam_predictor *pr, const float *rgb, int h, int w) {
    pr->have_image = 0;
    if (!rgb || h < 1 || w < 1) return ve_fail("SAM predictor: bad image (%dx%d)", w, h);
    const int S = pr->S;
    if (pr->mode == SAM_INPUT_SAM) {
        int nh, nw;
        sam_resized_size(h, w, S, &nh, &nw);
        if (sam_preprocess(rgb, h, w, S, SAM_PIXEL_MEAN, SAM_PIXEL_STD, pr->input) != VE_OK)
            return VE_FAIL;
        return encode(pr, h, w, nh, nw);
    }
    const size_t n = 3 * (size_t)h * (size_t)w;
    float *rgb01 = malloc(sizeof(float) * n);
    if (!rgb01) return ve_fail("SAM predictor: out of host memory for a %dx%d image", w, h);
    for (size_t i = 0; i < n; i++)
        rgb01[i] = rgb[i] / 255.0f;
    int rc = sam_samed_preprocess(rgb01, h, w, S, pr->input);
    free(rgb01);
    return rc == VE_OK ? encode(pr, h, w, S, S) : VE_FAIL;
}

int sam_predictor_set_input(sam_predictor *pr, const float *input, int h, int w) {
    pr->have_image = 0;
    if (!input || h < 1 || w < 1) return ve_fail("SAM predictor: bad image size %dx%d", w, h);
    int nh = pr->S, nw = pr->S;
    if (pr->mode == SAM_INPUT_SAM) sam_resized_size(h, w, pr->S, &nh, &nw);
    memcpy(pr->input, input, sizeof(float) * 3 * (size_t)pr->S * (size_t)pr->S);
    return encode(pr, h, w, nh, nw);
}

int sam_predictor_set_embedding(sam_predictor *pr, const float *emb, int h, int w) {
    pr->have_image = 0;
    if (!emb || h < 1 || w < 1) return ve_fail("SAM predictor: bad image size %dx%d", w, h);
    const size_t gg = (size_t)pr->grid * (size_t)pr->grid, c = (size_t)pr->p.prompt_dim;
    for (size_t p = 0; p < gg; p++)
        for (size_t ch = 0; ch < c; ch++)
            pr->emb_host[p * c + ch] = emb[ch * gg + p];
    int nh = pr->S, nw = pr->S;
    if (pr->mode == SAM_INPUT_SAM) sam_resized_size(h, w, pr->S, &nh, &nw);
    pr->h = h, pr->w = w, pr->in_h = nh, pr->in_w = nw;
    pr->image_gen++;
    pr->have_image = 1;
    return VE_OK;
}

/* The official postprocessing: logits up to S x S, crop the padding (the planes viewed as a
 * channels-last grid with one channel), then to the original size. */
static ve_tid postprocess(ve_graph *g, ve_tid lowres, int S, int M, const dec_key *k) {
    ve_tid x = ve_resize_bilinear(g, lowres, S, S);
    if (x != VE_NONE && (k->in_h != S || k->in_w != S)) {
        int64_t v[4] = {M, S, S, 1}, b[4] = {1, M, k->in_h, k->in_w};
        x = ve_reshape(g, x, 4, v);
        if (x != VE_NONE) x = ve_grid_resize(g, x, k->in_h, k->in_w);
        if (x != VE_NONE) x = ve_reshape(g, x, 4, b);
    }
    if (x != VE_NONE && (k->out_h != k->in_h || k->out_w != k->in_w))
        x = ve_resize_bilinear(g, x, k->out_h, k->out_w);
    return x;
}

static int build_decoder(sam_predictor *pr, dec_graph *d) {
    const sam_preset *p = &pr->p;
    ve_graph *g = d->g = ve_graph_create(pr->dev);
    int64_t es[4] = {1, pr->grid, pr->grid, p->prompt_dim};
    sam_prompt_shape s = {1, d->k.n_points, d->k.has_box, d->k.has_mask};
    d->masks = VE_NONE;
    if (!g || (d->emb = ve_tensor(g, VE_INPUT, "image_embedding", 4, es)) == VE_NONE ||
        sam_prompt_encoder_declare(g, p, pr->S, 0, &d->ps, &d->pe) != VE_OK ||
        sam_mask_decoder_declare(g, p, pr->S, 0, &d->ps, &d->dec) != VE_OK ||
        /* Segment 0, run once after the weights are written: the grid's positional encoding
         * (a constant of the frozen Gaussian; 25 ms a prompt at vit_b 1024 otherwise). */
        sam_prompt_encoder_dense_pe(g, &d->pe) == VE_NONE || ve_graph_cut(g) != VE_OK ||
        sam_prompt_encoder_build(g, &d->pe, &s, &d->pr) != VE_OK ||
        sam_mask_decoder_build(g, &d->dec, d->emb, &d->pr, &d->out) != VE_OK)
        return VE_FAIL;
    if (d->k.full &&
        (d->masks = postprocess(g, d->out.masks, pr->S, p->mask_outputs, &d->k)) == VE_NONE)
        return VE_FAIL;
    ve_keep(g, d->out.masks);
    ve_keep(g, d->out.iou);
    if (d->masks != VE_NONE) ve_keep(g, d->masks);
    ve_compile_opts opts = {.profile = pr->profile};
    if (ve_graph_compile(g, &opts) != VE_OK ||
        sam_decoder_weights_write(g, &d->ps, &pr->dw) != VE_OK ||
        sam_mask_decoder_write_consts(g, &d->dec) != VE_OK || ve_graph_run_segment(g, 0) != VE_OK)
        return VE_FAIL;
    return VE_OK;
}

/* The cached graph for k, built (evicting the least recently used) when missing. */
static dec_graph *decoder_for(sam_predictor *pr, const dec_key *k) {
    dec_graph *slot = NULL;
    for (int i = 0; i < SAM_DECODER_CACHE; i++) {
        dec_graph *d = &pr->cache[i];
        if (d->used && !memcmp(&d->k, k, sizeof *k)) {
            d->last_use = ++pr->clock;
            return d;
        }
        /* A free slot, else the least recently used. */
        if (!slot || (slot->used && (!d->used || d->last_use < slot->last_use))) slot = d;
    }
    if (slot->used) dec_graph_free(pr, slot);
    slot->k = *k;
    if (build_decoder(pr, slot) != VE_OK) {
        ve_fail_context("SAM predictor: decoder for %d points%s%s: ", k->n_points,
                        k->has_box ? ", a box" : "", k->has_mask ? ", a mask" : "");
        dec_graph_free(pr, slot);
        return NULL;
    }
    slot->used = 1;
    slot->last_use = ++pr->clock;
    return slot;
}

int sam_prompts_check(const sam_prompt_set *ps, int h, int w) {
    if (ps->n_points < 0 || (ps->n_points && (!ps->points || !ps->labels)))
        return ve_fail("%d points without coordinates or labels", ps->n_points);
    for (int i = 0; i < ps->n_points; i++) {
        const float x = ps->points[2 * i], y = ps->points[2 * i + 1];
        if (!(x >= 0 && y >= 0 && x < w && y < h))
            return ve_fail("point %d (%g,%g) lies outside the %dx%d image", i + 1, x, y, w, h);
    }
    const float *b = ps->box;
    if (b && !(b[0] >= 0 && b[1] >= 0 && b[2] <= w && b[3] <= h && b[0] <= b[2] && b[1] <= b[3]))
        return ve_fail("box (%g,%g,%g,%g) lies outside the %dx%d image (or x1 < x0, y1 < y0)", b[0],
                       b[1], b[2], b[3], w, h);
    return VE_OK;
}

/* Maps the (checked) prompts to the model input as the official predictor: x * new_w / old_w,
 * y * new_h / old_h, in double. */
static void map_prompts(const sam_predictor *pr, const sam_prompt_set *ps, float *pts, float *box) {
    const double sx = (double)pr->in_w / pr->w, sy = (double)pr->in_h / pr->h;
    for (int i = 0; i < ps->n_points; i++) {
        pts[2 * i] = (float)(ps->points[2 * i] * sx);
        pts[2 * i + 1] = (float)(ps->points[2 * i + 1] * sy);
    }
    for (int k = 0; k < 4 && ps->box; k++)
        box[k] = (float)(ps->box[k] * (k % 2 ? sy : sx));
}

static int predict(sam_predictor *pr, const sam_prompt_set *ps, int full, sam_prediction *out) {
    memset(out, 0, sizeof *out);
    if (!pr->have_image)
        return ve_fail("SAM predictor: no image set (sam_predictor_set_image must succeed "
                       "before a prediction)");
    if (sam_prompts_check(ps, pr->h, pr->w) != VE_OK) return VE_FAIL;
    const int M = pr->p.mask_outputs, g4 = 4 * pr->grid;
    float *pts = malloc(sizeof(float) * 2 * (size_t)(ps->n_points ? ps->n_points : 1)), box[4];
    if (!pts) return ve_fail("SAM predictor: out of host memory");
    dec_key k = {ps->n_points, ps->box != NULL, ps->mask != NULL, pr->in_h, pr->in_w, pr->h, pr->w,
                 full};
    map_prompts(pr, ps, pts, box);
    dec_graph *d = decoder_for(pr, &k);
    int rc = d ? VE_OK : VE_FAIL;
    if (rc == VE_OK && d->emb_gen != pr->image_gen) {
        rc = ve_tensor_write(d->g, d->emb, pr->emb_host, (size_t)ve_tensor_numel(d->g, d->emb));
        if (rc == VE_OK) d->emb_gen = pr->image_gen;
    }
    if (rc == VE_OK)
        rc = sam_prompts_write(d->g, &d->pe, &d->pr, ps->n_points ? pts : NULL,
                               ps->n_points ? ps->labels : NULL, ps->box ? box : NULL, ps->mask);
    free(pts);
    if (rc == VE_OK) rc = ve_graph_run_segments(d->g, 1, ve_graph_segments(d->g));
    if (rc == VE_OK) pr->last = d;
    if (rc != VE_OK) return VE_FAIL;
    const size_t hw = (size_t)pr->h * (size_t)pr->w, lr = (size_t)g4 * (size_t)g4;
    out->m = M, out->h = pr->h, out->w = pr->w, out->g = pr->grid;
    out->masks = full ? malloc(sizeof(float) * (size_t)M * hw) : NULL;
    out->lowres = malloc(sizeof(float) * (size_t)M * lr);
    out->iou = malloc(sizeof(float) * (size_t)M);
    rc = (out->masks || !full) && out->lowres && out->iou
             ? VE_OK
             : ve_fail("SAM predictor: out of host memory for the masks");
    if (rc == VE_OK && full) rc = ve_tensor_read(d->g, d->masks, out->masks, (size_t)M * hw);
    if (rc == VE_OK) rc = ve_tensor_read(d->g, d->out.masks, out->lowres, (size_t)M * lr);
    if (rc == VE_OK) rc = ve_tensor_read(d->g, d->out.iou, out->iou, (size_t)M);
    if (rc != VE_OK) sam_prediction_free(out);
    return rc;
}

int sam_predictor_predict(sam_predictor *pr, const sam_prompt_set *ps, sam_prediction *out) {
    return predict(pr, ps, 1, out);
}

int sam_predictor_predict_lowres(sam_predictor *pr, const sam_prompt_set *ps, sam_prediction *out) {
    return predict(pr, ps, 0, out);
}

void sam_prediction_free(sam_prediction *r) {
    if (!r) return;
    free(r->masks);
    free(r->lowres);
    free(r->iou);
    memset(r, 0, sizeof *r);
}

/* The engine's embedding is channels-last [g, g, C]: transposed to [C, g, g] here. */
int sam_predictor_read_embedding(sam_predictor *pr, float *dst, size_t n) {
    const size_t gg = (size_t)pr->grid * (size_t)pr->grid, c = (size_t)pr->p.prompt_dim;
    if (!pr->have_image) return ve_fail("SAM predictor: no image set: no embedding to read");
    if (n != gg * c)
        return ve_fail("SAM predictor: embedding has %zu elements, %zu requested", gg * c, n);
    for (size_t p = 0; p < gg; p++)
        for (size_t ch = 0; ch < c; ch++)
            dst[ch * gg + p] = pr->emb_host[p * c + ch];
    return VE_OK;
}

void sam_predictor_set_profile(sam_predictor *pr, int on) {
    pr->profile = on;
}

void sam_predictor_profile_print(const sam_predictor *pr, FILE *out) {
    if (pr->last)
        ve_graph_profile_print(pr->last->g, out);
    else
        fprintf(out, "profile: no prediction yet\n");
}

int sam_predictor_grid(const sam_predictor *pr) {
    return pr->grid;
}
int sam_predictor_outputs(const sam_predictor *pr) {
    return pr->p.mask_outputs;
}
int sam_predictor_embed_dim(const sam_predictor *pr) {
    return pr->p.prompt_dim;
}
int sam_predictor_img_size(const sam_predictor *pr) {
    return pr->S;
}
