/* 8-bit PNG writing: stb_image_write encodes into memory, then the bytes go to disk atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "atomic_file.h"
#include "image.h"
#include "status.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} membuf;

static void append(void *ctx, void *data, int size) {
    membuf *b = ctx;
    if (b->oom || size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + (size_t)size)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

static int write_png(const char *path, int w, int h, int channels, const uint8_t *pixels) {
    if (w <= 0 || h <= 0 || w > VE_IMAGE_MAX_SIDE || h > VE_IMAGE_MAX_SIDE ||
        (int64_t)w * h > VE_IMAGE_MAX_PIXELS)
        return ve_fail("cannot write a %d x %d image", w, h);
    if (channels < 1 || channels > 4) return ve_fail("cannot write %d channels", channels);
    if (!pixels) return ve_fail("no pixels");
    membuf b = {0};
    int ok = stbi_write_png_to_func(append, &b, w, h, channels, pixels, w * channels);
    int rc = VE_OK;
    if (!ok || b.oom) rc = ve_fail("PNG encoding failed%s", b.oom ? ": out of memory" : "");
    ve_atomic_file a;
    if (rc == VE_OK) rc = ve_atomic_open(&a, path);
    if (rc == VE_OK) {
        rc = ve_atomic_write(&a, b.p, b.n);
        if (rc == VE_OK)
            rc = ve_atomic_commit(&a);
        else
            ve_atomic_abort(&a);
    }
    free(b.p);
    return rc;
}

int ve_png_write_u8(const char *path, int w, int h, int channels, const uint8_t *pixels) {
    int rc = write_png(path, w, h, channels, pixels);
    return rc == VE_OK ? rc : ve_fail_context("%s: ", path ? path : "(null)");
}

int ve_png_write_planes(const char *path, int w, int h, int channels, const float *planes,
                        float max_value) {
    if (w <= 0 || h <= 0 || channels < 1 || channels > 4 || !planes || !(max_value > 0.0f) ||
        (int64_t)w * h > VE_IMAGE_MAX_PIXELS)
        return ve_fail("%s: cannot write %d x %d x %d planes with max value %g",
                       path ? path : "(null)", channels, h, w, (double)max_value);
    size_t hw = (size_t)w * (size_t)h;
    uint8_t *pix = malloc(hw * (size_t)channels);
    if (!pix) return ve_fail("%s: out of memory", path ? path : "(null)");
    float s = 255.0f / max_value;
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < hw; i++) {
            float v = planes[(size_t)c * hw + i] * s;
            /* NaN goes to 0 as well: !(v > 0) */
            pix[i * (size_t)channels + (size_t)c] = !(v > 0.0f)   ? 0
                                                    : v >= 255.0f ? 255
                                                                  : (uint8_t)lrintf(v);
        }
    int rc = ve_png_write_u8(path, w, h, channels, pix);
    free(pix);
    return rc;
}
