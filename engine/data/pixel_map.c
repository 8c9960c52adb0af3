/* The geometric part of the augmentation as pixel maps (augment.h): numpy.rot90 + numpy.flip,
 * and scipy.ndimage.rotate(order=0, reshape=False) with scipy 1.10's arithmetic, so that the
 * same map moves every image plane and the label. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "status.h"

static int alloc_map(int h, int w, ve_pixel_map *m) {
    memset(m, 0, sizeof *m);
    if (h < 1 || w < 1) return ve_fail("pixel map: %d x %d plane", h, w);
    m->src_index = malloc((size_t)h * (size_t)w * sizeof *m->src_index);
    if (!m->src_index) return ve_fail("pixel map: out of memory for %d x %d", h, w);
    m->out_h = h;
    m->out_w = w;
    return VE_OK;
}

void ve_pixel_map_free(ve_pixel_map *m) {
    if (!m) return;
    free(m->src_index);
    memset(m, 0, sizeof *m);
}

int ve_pixel_map_rot90_flip(int h, int w, int k, int flip_axis, ve_pixel_map *m) {
    k = ((k % 4) + 4) % 4;
    int oh = k & 1 ? w : h, ow = k & 1 ? h : w;
    if (alloc_map(oh, ow, m) != VE_OK) return VE_FAIL;
    for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
            int r = flip_axis == 0 ? oh - 1 - i : i, c = flip_axis == 1 ? ow - 1 - j : j;
            int y, x; /* numpy.rot90 (counter-clockwise) of the unflipped position (r, c) */
            switch (k) {
            case 0:
                y = r, x = c;
                break;
            case 1:
                y = c, x = w - 1 - r;
                break;
            case 2:
                y = h - 1 - r, x = w - 1 - c;
                break;
            default:
                y = h - 1 - c, x = r;
                break;
            }
            m->src_index[(size_t)i * ow + j] = (int64_t)y * w + x;
        }
    return VE_OK;
}

/* scipy.special.cosdg / sindg: exact at multiples of 90 degrees; elsewhere libm, which gives
 * the same doubles for the integer angles SAMed draws (checked against scipy for -20..19). */
static void cos_sin_deg(int angle, double *c, double *s) {
    int a = ((angle % 360) + 360) % 360;
    if (a % 90 == 0) {
        static const double C[4] = {1, 0, -1, 0}, S[4] = {0, 1, 0, -1};
        *c = C[a / 90];
        *s = S[a / 90];
        return;
    }
    double r = (double)angle * (M_PI / 180.0);
    *c = cos(r);
    *s = sin(r);
}

int ve_pixel_map_rotate(int h, int w, int angle, ve_pixel_map *m) {
    if (alloc_map(h, w, m) != VE_OK) return VE_FAIL;
    double c, s;
    cos_sin_deg(angle, &c, &s);
    /* rotate(): matrix [[c, s], [-s, c]] maps output (row, column) to input; the offset puts
     * the centre on the centre: in_center - matrix @ out_center */
    const double m00 = c, m01 = s, m10 = -s, m11 = c;
    double hc = (double)(h - 1) / 2.0, wc = (double)(w - 1) / 2.0;
    double off0 = hc - (m00 * hc + m01 * wc), off1 = wc - (m10 * hc + m11 * wc);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            /* the sums in the order of scipy's NI_GeometricTransform */
            double y = (double)i * m00 + (double)j * m01 + off0;
            double x = (double)i * m10 + (double)j * m11 + off1;
            int64_t idx = -1;
            if (y >= 0 && y <= (double)(h - 1) && x >= 0 && x <= (double)(w - 1))
                idx = (int64_t)floor(y + 0.5) * w + (int64_t)floor(x + 0.5);
            m->src_index[(size_t)i * w + j] = idx;
        }
    return VE_OK;
}

void ve_pixel_map_apply_f32(const ve_pixel_map *m, const float *src, float *dst) {
    size_t n = (size_t)m->out_h * (size_t)m->out_w;
    for (size_t i = 0; i < n; i++)
        dst[i] = m->src_index[i] < 0 ? 0.0f : src[m->src_index[i]];
}

void ve_pixel_map_apply_u8(const ve_pixel_map *m, const uint8_t *src, uint8_t *dst) {
    size_t n = (size_t)m->out_h * (size_t)m->out_w;
    for (size_t i = 0; i < n; i++)
        dst[i] = m->src_index[i] < 0 ? 0 : src[m->src_index[i]];
}
