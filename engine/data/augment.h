/* SAMed's training augmentation (its RandomGenerator, SAM_SPEC.md section 5) and the resampling
 * it is built from, on the host, matching scipy.ndimage (1.10) exactly:
 *
 * - zoom (scipy.ndimage.zoom, grid_mode=False): output index o samples input coordinate
 *   o * ((n_in - 1) / (n_out - 1)) (the factor in double, as scipy computes it); a coordinate
 *   outside [0, n_in - 1] takes 0 (mode 'constant'; for some sizes, e.g. 32 -> 224, the last
 *   row's coordinate rounds past n_in - 1 and scipy leaves that row 0: so does this).
 *   Order 3: cubic B-spline on coefficients prefiltered with mirror boundaries (what scipy's
 *   spline_filter does for mode 'constant'), coefficients past the edge mirrored, computed in
 *   double. Order 0: the sample at floor(coordinate + 0.5).
 * - rotate (scipy.ndimage.rotate(order=0, reshape=False)): about the centre ((n - 1) / 2),
 *   output (r, c) takes input (r cos + c sin + off_r, -r sin + c cos + off_c) rounded as
 *   order 0; points outside take 0.
 * - rot90 (numpy.rot90(x, k), counter-clockwise) and flip (numpy.flip(x, axis)). */
#ifndef VE_DATA_AUGMENT_H
#define VE_DATA_AUGMENT_H

#include <stdint.h>

#include "rng.h"
#include "slices.h"

typedef struct {
    int size;          /* S: the model's input side */
    int low;           /* S / 4: the side of the low-resolution label the loss uses */
    int augment;       /* 1: SAMed's random transforms; 0: only the zooms */
    int no_rot90_flip; /* 1: where SAMed draws rot90 + flip, no transform (rotations only, p
                          0.25): anatomy with a fixed orientation (brain slices) */
} ve_augment_opts;

enum { VE_AUG_NONE = 0, VE_AUG_ROT_FLIP = 1, VE_AUG_ROTATE = 2 };

/* One draw of SAMed's RandomGenerator. */
typedef struct {
    int kind;      /* VE_AUG_NONE, VE_AUG_ROT_FLIP or VE_AUG_ROTATE */
    int k;         /* ROT_FLIP: numpy.rot90 by k (0..3) ... */
    int flip_axis; /* ... then numpy.flip along axis 0 (rows) or 1 (columns) */
    int angle;     /* ROTATE: degrees in [-20, 20) */
} ve_augment_params;

/* Draws the transform as SAMed does: with p 0.5 (u > 0.5) rot90 by k in 0..3 then a flip along
 * a random axis; else with p 0.5 (a second u > 0.5) a rotation by an integer angle in
 * [-20, 20); else nothing. Consumes 1 to 3 draws of rng. */
void ve_augment_draw(ve_rng *rng, ve_augment_params *p);

/* Applies p to in, then zooms: image_out [3][S][S] (grey repeated in the 3 planes, RGB kept; no
 * normalisation: SAMed feeds [0, 1]), cubic (order 3); the label nearest (order 0) to S x S and
 * that nearest again to low x low, into label_out [low][low] as floats (class indices). A side
 * already equal to S is not zoomed (as SAMed). Fails on a bad sample or options. */
int ve_augment_apply(const ve_slice *in, const ve_augment_opts *o, const ve_augment_params *p,
                     float *image_out, float *label_out);

/* ve_augment_draw (when o->augment) then ve_augment_apply. */
int ve_augment_sample(const ve_slice *in, const ve_augment_opts *o, ve_rng *rng, float *image_out,
                      float *label_out);

/* The deterministic zooms alone, for evaluation: one plane src [h][w] to dst [oh][ow], cubic
 * (order 3) or nearest (order 0). Sides 1..32768; fails (ve_fail) on bad sizes or no memory. */
int ve_zoom_cubic(const float *src, int h, int w, float *dst, int oh, int ow);
int ve_zoom_nearest_u8(const uint8_t *src, int h, int w, uint8_t *dst, int oh, int ow);

/* Where each output pixel of a geometric transform reads its input: src_index[i] is the input
 * pixel (row * w + column) of output pixel i, or -1 for "outside: 0". The output is
 * out_h x out_w. */
typedef struct {
    int out_h, out_w;
    int64_t *src_index;
} ve_pixel_map;

/* numpy.rot90(x, k) then numpy.flip(x, flip_axis) (flip_axis -1: no flip) of an h x w plane. */
int ve_pixel_map_rot90_flip(int h, int w, int k, int flip_axis, ve_pixel_map *m);
/* scipy.ndimage.rotate(x, angle, order=0, reshape=False) of an h x w plane, angle in degrees. */
int ve_pixel_map_rotate(int h, int w, int angle, ve_pixel_map *m);
void ve_pixel_map_free(ve_pixel_map *m);
/* dst[i] = src[map[i]], or 0 where the map says outside. */
void ve_pixel_map_apply_f32(const ve_pixel_map *m, const float *src, float *dst);
void ve_pixel_map_apply_u8(const ve_pixel_map *m, const uint8_t *src, uint8_t *dst);

#endif
