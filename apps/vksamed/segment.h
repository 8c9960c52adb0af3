/* Helpers of `vksamed segment` (cmd_segment.c): reading the input image, parsing prompts, and
 * making the output images. */
#ifndef VKSAMED_SEGMENT_H
#define VKSAMED_SEGMENT_H

#include <stdint.h>

/* The input slice as 3 planes of h x w floats in 0..255: 8-bit files as stored, 16-bit PNG
 * scaled by the image's largest sample, NIfTI slices by the volume's min and max. */
typedef struct {
    int w, h;
    float *rgb;
    char what[96]; /* how it was read, for the summary line */
} seg_image;

/* path: PNG / JPEG, or NIfTI (.nii, .nii.gz) with axis 0..2 and slice (-1: the middle). */
int seg_image_load(const char *path, int axis, long slice, seg_image *img);
void seg_image_free(seg_image *img);
int seg_is_nifti(const char *path);

/* Parses n comma-separated numbers ("x,y" etc.) into v; returns how many were read, -1 on
 * malformed text. */
int seg_parse_numbers(const char *text, float *v, int max);

/* A model's mask tokens against the mode: SAM (classes 0) has 4; a SAMed model of N classes has
 * N + 1. src names the file the decoder came from. */
int seg_check_mask_tokens(int mask_outputs, int classes, const char *src);

/* Colour of class k (0 is background: black). */
void seg_class_colour(int k, uint8_t rgb[3]);

/* The image with colour rgb blended in at alpha where mask (h x w bytes) is non-zero (label
 * maps: labels > 0 blended in their class colour when rgb is NULL). Interleaved RGB bytes. */
uint8_t *seg_overlay(const seg_image *img, const uint8_t *labels, const uint8_t rgb[3],
                     float alpha);

/* Writes text to path atomically (PATH.tmp, fsync, rename). */
int seg_write_text(const char *path, const char *text);

#endif
