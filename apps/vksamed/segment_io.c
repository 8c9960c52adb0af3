/* `vksamed segment`: the input slice, prompt parsing, overlays and the legend file. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io/image.h"
#include "io/nifti.h"
#include "segment.h"
#include "status.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

int seg_is_nifti(const char *path) {
    return ends_with(path, ".nii") || ends_with(path, ".nii.gz");
}

static int load_nifti(const char *path, int axis, long slice, seg_image *img) {
    ve_volume v;
    if (ve_nifti_load(path, &v) != VE_OK) return VE_FAIL;
    if (axis < 0 || axis > 2) {
        ve_volume_free(&v);
        return ve_fail("%s: axis %d (must be 0, 1 or 2)", path, axis);
    }
    if (slice < 0) slice = (long)(v.dim[axis] / 2);
    int w = 0, h = 0;
    float *s = ve_volume_slice(&v, axis, slice, &w, &h);
    if (!s) {
        ve_fail_context("%s: ", path);
        ve_volume_free(&v);
        return VE_FAIL;
    }
    float lo, hi;
    ve_volume_minmax(&v, &lo, &hi);
    const size_t hw = (size_t)w * (size_t)h;
    img->rgb = malloc(sizeof(float) * 3 * hw);
    if (!img->rgb) {
        free(s);
        ve_volume_free(&v);
        return ve_fail("out of host memory reading %s", path);
    }
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (size_t i = 0; i < hw; i++) {
        float x = isfinite(s[i]) ? (s[i] - lo) * scale : 0.0f;
        x = x < 0 ? 0 : x > 255 ? 255 : x;
        img->rgb[i] = img->rgb[hw + i] = img->rgb[2 * hw + i] = x;
    }
    img->w = w;
    img->h = h;
    snprintf(img->what, sizeof img->what, "NIfTI slice %ld of axis %d (%lldx%lldx%lld)", slice,
             axis, (long long)v.dim[0], (long long)v.dim[1], (long long)v.dim[2]);
    free(s);
    ve_volume_free(&v);
    return VE_OK;
}

static int load_picture(const char *path, seg_image *img) {
    ve_image im;
    if (ve_image_load(path, &im) != VE_OK) return VE_FAIL;
    const size_t hw = (size_t)im.w * (size_t)im.h;
    img->rgb = malloc(sizeof(float) * 3 * hw);
    if (!img->rgb) {
        ve_image_free(&im);
        return ve_fail("out of host memory reading %s", path);
    }
    const int colour = im.channels >= 3;
    /* 16-bit medical images rarely use the full range: scale by the largest sample. */
    float top = 255.0f;
    if (im.bit_depth == 16) {
        top = 0;
        for (size_t i = 0; i < hw * (colour ? 3 : 1); i++)
            if (im.data[i] > top) top = im.data[i];
        if (top <= 0) top = 1;
    }
    for (int k = 0; k < 3; k++) {
        const float *src = im.data + (colour ? (size_t)k * hw : 0);
        for (size_t i = 0; i < hw; i++)
            img->rgb[(size_t)k * hw + i] = src[i] * (255.0f / top);
    }
    img->w = im.w;
    img->h = im.h;
    snprintf(img->what, sizeof img->what, "%d-bit %s", im.bit_depth, colour ? "colour" : "grey");
    ve_image_free(&im);
    return VE_OK;
}

int seg_image_load(const char *path, int axis, long slice, seg_image *img) {
    memset(img, 0, sizeof *img);
    return seg_is_nifti(path) ? load_nifti(path, axis, slice, img) : load_picture(path, img);
}

void seg_image_free(seg_image *img) {
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

int seg_parse_numbers(const char *text, float *v, int max) {
    int n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !isfinite(x) || n == max) return -1;
        v[n++] = (float)x;
        if (*end == '\0') return n;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

void seg_class_colour(int k, uint8_t rgb[3]) {
    static const uint8_t table[][3] = {
        {0, 0, 0},       {230, 25, 75},   {60, 180, 75},   {255, 225, 25},  {0, 130, 200},
        {245, 130, 48},  {145, 30, 180},  {70, 240, 240},  {240, 50, 230},  {210, 245, 60},
        {250, 190, 212}, {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200},
        {128, 0, 0},     {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},
    };
    const int n = (int)(sizeof table / sizeof table[0]);
    if (k < n) {
        memcpy(rgb, table[k], 3);
        return;
    }
    /* Beyond the table: spread hues by the golden ratio, full saturation. */
    double hue = fmod(k * 0.618033988749895, 1.0) * 6.0, f = hue - floor(hue);
    uint8_t a = 255, b = (uint8_t)(255 * (1 - f)), c = (uint8_t)(255 * f);
    const uint8_t six[6][3] = {{a, c, 0}, {b, a, 0}, {0, a, c}, {0, b, a}, {c, 0, a}, {a, 0, b}};
    memcpy(rgb, six[(int)hue % 6], 3);
}

uint8_t *seg_overlay(const seg_image *img, const uint8_t *labels, const uint8_t rgb[3],
                     float alpha) {
    const size_t hw = (size_t)img->w * (size_t)img->h;
    uint8_t *out = malloc(3 * hw);
    if (!out) {
        ve_fail("out of host memory making the overlay");
        return NULL;
    }
    for (size_t i = 0; i < hw; i++) {
        uint8_t col[3];
        if (labels[i] && !rgb)
            seg_class_colour(labels[i], col);
        else if (labels[i])
            memcpy(col, rgb, 3);
        for (int k = 0; k < 3; k++) {
            float v = img->rgb[(size_t)k * hw + i];
            if (labels[i]) v = (1 - alpha) * v + alpha * col[k];
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            out[3 * i + (size_t)k] = (uint8_t)(v + 0.5f);
        }
    }
    return out;
}

int seg_write_text(const char *path, const char *text) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return ve_fail("%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return ve_fail("cannot create %s: %s", tmp, strerror(errno));
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t k = write(fd, text + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        off += (size_t)k;
    }
    int ok = off == n && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) return VE_OK;
    if (ok) err = errno;
    unlink(tmp);
    return ve_fail("cannot write %s: %s", path, strerror(err));
}

int seg_check_mask_tokens(int mask_outputs, int classes, const char *src) {
    if (classes && mask_outputs != classes + 1)
        return ve_fail("%s has %d mask tokens (%d classes + background), but --classes %d needs "
                       "%d",
                       src, mask_outputs, mask_outputs - 1, classes, classes + 1);
    if (!classes && mask_outputs != 4)
        return ve_fail("%s has %d mask tokens, SAM has 4: a SAMed model? use --classes %d", src,
                       mask_outputs, mask_outputs - 1);
    return VE_OK;
}
