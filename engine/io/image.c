/* PNG and JPEG reading through stb_image: the whole file is read with bounded reads, the header
 * checked (stbi_info) before decoding, then the interleaved samples become float planes. */
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "image.h"
#include "io_internal.h"
#include "status.h"

/* A PNG or JPEG larger than this is not a slice anyone segments. */
#define MAX_FILE_BYTES ((uint64_t)1 << 30)

static int read_whole(const char *path, uint8_t **buf, size_t *n) {
    ve_file f = {.fd = -1};
    if (ve_file_open(&f, path) != VE_OK) return VE_FAIL;
    int rc = VE_OK;
    if (f.size == 0)
        rc = ve_fail("empty file, not an image");
    else if (f.size > MAX_FILE_BYTES)
        rc = ve_fail("%llu bytes, larger than any image this reads (1 GiB)",
                     (unsigned long long)f.size);
    else if (!(*buf = malloc((size_t)f.size)))
        rc = ve_fail("out of memory for %llu bytes", (unsigned long long)f.size);
    else if ((rc = ve_file_read_at(&f, 0, *buf, (size_t)f.size)) != VE_OK) {
        free(*buf);
        *buf = NULL;
    }
    *n = (size_t)f.size;
    ve_file_close(&f);
    return rc;
}

static const char *stb_reason(void) {
    const char *r = stbi_failure_reason();
    return r ? r : "unknown reason";
}

/* Interleaved 8- or 16-bit samples to planes. */
static void to_planes(ve_image *img, const void *pix) {
    size_t hw = (size_t)img->w * (size_t)img->h, c = (size_t)img->channels;
    for (size_t k = 0; k < c; k++) {
        float *dst = img->data + k * hw;
        if (img->bit_depth == 16) {
            const uint16_t *s = (const uint16_t *)pix + k;
            for (size_t i = 0; i < hw; i++)
                dst[i] = (float)s[i * c];
        } else {
            const uint8_t *s = (const uint8_t *)pix + k;
            for (size_t i = 0; i < hw; i++)
                dst[i] = (float)s[i * c];
        }
    }
}

static int check_dims(int64_t w, int64_t h) {
    if (w <= 0 || h <= 0)
        return ve_fail("empty image (%lld x %lld pixels)", (long long)w, (long long)h);
    if (w > VE_IMAGE_MAX_SIDE || h > VE_IMAGE_MAX_SIDE || w * h > VE_IMAGE_MAX_PIXELS)
        return ve_fail("%lld x %lld pixels: larger than this reads (at most %d per side and 2^28 "
                       "pixels)",
                       (long long)w, (long long)h, VE_IMAGE_MAX_SIDE);
    return VE_OK;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int decode(const uint8_t *buf, size_t n, ve_image *img) {
    if (n > (size_t)INT32_MAX) return ve_fail("file too large for the decoder");
    /* A PNG's size is in its first chunk: checked here so that 0 x 0 gets its own message
     * (stb_image only says "unknown image type") */
    if (n >= 24 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8) && !memcmp(buf + 12, "IHDR", 4) &&
        check_dims(be32(buf + 16), be32(buf + 20)) != VE_OK)
        return VE_FAIL;
    /* stb_image also reads TGA, BMP, PSD, GIF, HDR, PIC and PNM; TGA has no magic, so any
     * 20 bytes can claim a huge image that decodes to a gigabyte. Only PNG and JPEG pass. */
    if (n < 8 || (memcmp(buf, "\x89PNG\r\n\x1a\n", 8) != 0 && memcmp(buf, "\xff\xd8\xff", 3) != 0))
        return ve_fail("not a PNG or JPEG image (no PNG or JPEG signature)");
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(buf, (int)n, &w, &h, &comp))
        return ve_fail("not a PNG or JPEG image, or corrupt (stb_image: %s)", stb_reason());
    if (check_dims(w, h) != VE_OK) return VE_FAIL;
    if (comp < 1 || comp > 4) return ve_fail("%d channels (1 to 4 expected)", comp);
    int is16 = stbi_is_16_bit_from_memory(buf, (int)n);
    int dw = 0, dh = 0, dc = 0;
    void *pix = is16 ? (void *)stbi_load_16_from_memory(buf, (int)n, &dw, &dh, &dc, 0)
                     : (void *)stbi_load_from_memory(buf, (int)n, &dw, &dh, &dc, 0);
    if (!pix) return ve_fail("corrupt image (stb_image: %s)", stb_reason());
    if (dw != w || dh != h || dc != comp) {
        stbi_image_free(pix);
        return ve_fail("decoder disagrees with the header (%d x %d x %d vs %d x %d x %d)", dw, dh,
                       dc, w, h, comp);
    }
    img->w = w;
    img->h = h;
    img->channels = comp;
    img->bit_depth = is16 ? 16 : 8;
    img->max_value = is16 ? 65535.0f : 255.0f;
    img->data = malloc((size_t)comp * (size_t)w * (size_t)h * sizeof(float));
    if (!img->data) {
        stbi_image_free(pix);
        return ve_fail("out of memory for %d x %d x %d floats", comp, h, w);
    }
    to_planes(img, pix);
    stbi_image_free(pix);
    return VE_OK;
}

int ve_image_load(const char *path, ve_image *img) {
    memset(img, 0, sizeof *img);
    if (!path) return ve_fail("image load: no path");
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = read_whole(path, &buf, &n);
    if (rc == VE_OK) rc = decode(buf, n, img);
    free(buf);
    if (rc != VE_OK) {
        ve_image_free(img);
        return ve_fail_context("%s: ", path);
    }
    return VE_OK;
}

void ve_image_free(ve_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

void ve_image_rgb255(const ve_image *img, float *out) {
    size_t hw = (size_t)img->w * (size_t)img->h;
    float s = 255.0f / img->max_value;
    for (int k = 0; k < 3; k++) {
        /* grey (+alpha): plane 0 for all three; RGB(A): plane k */
        const float *src = img->data + (img->channels >= 3 ? (size_t)k * hw : 0);
        for (size_t i = 0; i < hw; i++)
            out[(size_t)k * hw + i] = src[i] * s;
    }
}
