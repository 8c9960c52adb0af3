/* Reading PNG and JPEG images (stb_image) and writing 8-bit PNG.
 *
 * An image comes back as float planes (channels x h x w, row-major, top row first) holding the
 * stored sample values unscaled: 0..255 for 8-bit files, 0..65535 for 16-bit PNG; max_value
 * records which, so callers scale 16-bit data properly. Paletted PNGs are expanded to RGB (RGBA
 * with transparency). Files are treated as hostile: the dimensions are checked from the header
 * before any pixel is decoded, and every failure returns VE_FAIL with a ve_fail() message that
 * names the file. */
#ifndef VE_IO_IMAGE_H
#define VE_IO_IMAGE_H

#include <stdint.h>

#define VE_IMAGE_MAX_SIDE 32768
#define VE_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

typedef struct {
    int w, h;
    int channels;    /* 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA */
    int bit_depth;   /* 8 or 16, as stored in the file */
    float max_value; /* 255 or 65535: the range of the samples */
    float *data;     /* channels * h * w floats: plane c, row y, column x at (c * h + y) * w + x */
} ve_image;

/* Loads a PNG (8- or 16-bit) or JPEG. On failure *img is zeroed. */
int ve_image_load(const char *path, ve_image *img);
void ve_image_free(ve_image *img);

/* The image as 3 planes (R, G, B) scaled to 0..255 whatever the bit depth: grey is repeated,
 * alpha dropped. out holds 3 * h * w floats. */
void ve_image_rgb255(const ve_image *img, float *out);

/* Writes an 8-bit PNG atomically (PATH.tmp, fsync, rename). pixels are interleaved rows, top row
 * first: channels 1 (grey) or 3 (RGB); also 2 and 4 (with alpha). */
int ve_png_write_u8(const char *path, int w, int h, int channels, const uint8_t *pixels);
/* Writes planes (as ve_image.data) as an 8-bit PNG: each sample is scaled by 255 / max_value,
 * rounded and clamped to 0..255. */
int ve_png_write_planes(const char *path, int w, int h, int channels, const float *planes,
                        float max_value);

#endif
