/* SAMed's RandomGenerator on one sample (augment.h): draw the transform, move the planes and
 * the label through its pixel map, zoom the image (cubic) and the label (nearest) to S, and the
 * label again to S / 4. */
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "status.h"

void ve_augment_draw(ve_rng *rng, ve_augment_params *p) {
    memset(p, 0, sizeof *p);
    p->flip_axis = -1;
    if (ve_rng_uniform(rng) > 0.5) {
        p->kind = VE_AUG_ROT_FLIP;
        p->k = ve_rng_int(rng, 0, 4);
        p->flip_axis = ve_rng_int(rng, 0, 2);
    } else if (ve_rng_uniform(rng) > 0.5) {
        p->kind = VE_AUG_ROTATE;
        p->angle = ve_rng_int(rng, -20, 20);
    }
}

static int check(const ve_slice *in, const ve_augment_opts *o, const ve_augment_params *p) {
    if (!in || !in->image || !in->label || in->h < 1 || in->w < 1 ||
        (in->channels != 1 && in->channels != 3))
        return ve_fail("augment: sample '%s' is empty or has %d channels (1 or 3 expected)",
                       in ? in->name : "(null)", in ? in->channels : 0);
    if (!o || o->size < 1 || o->low < 1 || o->low > o->size)
        return ve_fail("augment: sizes S=%d, low=%d (1 <= low <= S expected)", o ? o->size : 0,
                       o ? o->low : 0);
    if (p->kind < VE_AUG_NONE || p->kind > VE_AUG_ROTATE ||
        (p->kind == VE_AUG_ROT_FLIP && (p->flip_axis < -1 || p->flip_axis > 1)))
        return ve_fail("augment: unknown transform %d (flip axis %d)", p->kind, p->flip_axis);
    return VE_OK;
}

/* The planes and label after the geometric transform; *h, *w their new size. */
static int transform(const ve_slice *in, const ve_augment_params *p, float **img, uint8_t **lab,
                     int *h, int *w) {
    ve_pixel_map m = {0};
    int rc = VE_OK;
    if (p->kind == VE_AUG_ROT_FLIP)
        rc = ve_pixel_map_rot90_flip(in->h, in->w, p->k, p->flip_axis, &m);
    else if (p->kind == VE_AUG_ROTATE)
        rc = ve_pixel_map_rotate(in->h, in->w, p->angle, &m);
    if (rc != VE_OK) return rc;
    *h = m.src_index ? m.out_h : in->h;
    *w = m.src_index ? m.out_w : in->w;
    size_t px = (size_t)*h * (size_t)*w;
    *img = malloc(px * (size_t)in->channels * sizeof **img);
    *lab = malloc(px);
    if (!*img || !*lab) {
        ve_pixel_map_free(&m);
        return ve_fail("augment: out of memory");
    }
    for (int c = 0; c < in->channels; c++) {
        const float *src = in->image + (size_t)c * px;
        if (m.src_index)
            ve_pixel_map_apply_f32(&m, src, *img + (size_t)c * px);
        else
            memcpy(*img + (size_t)c * px, src, px * sizeof *src);
    }
    if (m.src_index)
        ve_pixel_map_apply_u8(&m, in->label, *lab);
    else
        memcpy(*lab, in->label, px);
    ve_pixel_map_free(&m);
    return VE_OK;
}

/* The zooms: SAMed zooms only when a side differs from S. */
static int zoom_out(const float *img, const uint8_t *lab, int channels, int h, int w,
                    const ve_augment_opts *o, float *image_out, float *label_out) {
    int s = o->size, same = h == s && w == s;
    size_t spx = (size_t)s * s, px = (size_t)h * w;
    uint8_t *big = malloc(spx), *low = malloc((size_t)o->low * o->low);
    int rc = big && low ? VE_OK : ve_fail("augment: out of memory");
    for (int c = 0; c < channels && rc == VE_OK; c++) {
        float *dst = image_out + (size_t)c * spx;
        if (same)
            memcpy(dst, img + (size_t)c * px, spx * sizeof *dst);
        else
            rc = ve_zoom_cubic(img + (size_t)c * px, h, w, dst, s, s);
    }
    for (int c = channels; c < 3 && rc == VE_OK; c++) /* grey: the same plane three times */
        memcpy(image_out + (size_t)c * spx, image_out, spx * sizeof *image_out);
    if (rc == VE_OK && same) memcpy(big, lab, spx);
    if (rc == VE_OK && !same) rc = ve_zoom_nearest_u8(lab, h, w, big, s, s);
    if (rc == VE_OK) rc = ve_zoom_nearest_u8(big, s, s, low, o->low, o->low);
    for (size_t i = 0; rc == VE_OK && i < (size_t)o->low * o->low; i++)
        label_out[i] = low[i];
    free(big);
    free(low);
    return rc;
}

int ve_augment_apply(const ve_slice *in, const ve_augment_opts *o, const ve_augment_params *p,
                     float *image_out, float *label_out) {
    if (check(in, o, p) != VE_OK) return VE_FAIL;
    float *img = NULL;
    uint8_t *lab = NULL;
    int h = 0, w = 0;
    int rc = transform(in, p, &img, &lab, &h, &w);
    if (rc == VE_OK) rc = zoom_out(img, lab, in->channels, h, w, o, image_out, label_out);
    free(img);
    free(lab);
    return rc == VE_OK ? VE_OK : ve_fail_context("sample '%s': ", in->name);
}

int ve_augment_sample(const ve_slice *in, const ve_augment_opts *o, ve_rng *rng, float *image_out,
                      float *label_out) {
    ve_augment_params p = {VE_AUG_NONE, 0, -1, 0};
    if (o && o->augment) ve_augment_draw(rng, &p);
    /* The draw consumes the same numbers either way, so both settings see the same stream. */
    if (o && o->no_rot90_flip && p.kind == VE_AUG_ROT_FLIP)
        p = (ve_augment_params){VE_AUG_NONE, 0, -1, 0};
    return ve_augment_apply(in, o, &p, image_out, label_out);
}
