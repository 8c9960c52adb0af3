/* PNG and JPEG reading and PNG writing (engine/io/image*.c).
 *
 * Part 1 needs nothing: PNGs encoded here by hand (zlib + CRC: every colour type at 8 and 16
 * bits, and a palette) read back exactly; our own PNG writer round trips; JPEGs written with
 * stb_image_write read back within JPEG's loss; every refusal with its message (missing file,
 * empty, not an image, corrupt and truncated PNG, 0 x 0, absurd dimensions, bad writes). Part 2
 * reads real MRI slices from Debian's insighttoolkit5-examples; without that package it is
 * skipped and the test exits 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <stb/stb_image_write.h>

#include "io/image.h"
#include "status.h"
#include "test_util.h"

#define ITK_DATA "/usr/share/doc/insighttoolkit5-examples/examples/Data"

/* ---- a minimal PNG encoder, independent of the code under test ---- */

typedef struct {
    uint8_t *p;
    size_t n;
} bytes;

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void chunk(bytes *b, const char *type, const uint8_t *data, uint32_t len) {
    b->p = realloc(b->p, b->n + 12 + len);
    uint8_t *q = b->p + b->n;
    put_be32(q, len);
    memcpy(q + 4, type, 4);
    if (len) memcpy(q + 8, data, len);
    put_be32(q + 8 + len, (uint32_t)crc32(0, q + 4, 4 + len));
    b->n += 12 + len;
}

/* samples: h rows of w * channels samples (16-bit ones as host integers), colour type ct:
 * 0 grey, 4 grey + alpha, 2 RGB, 6 RGBA, 3 palette (then plte/nplte give the palette). */
static bytes encode_png(int w, int h, int ct, int depth, const uint16_t *samples,
                        const uint8_t *plte, int nplte) {
    int ch = ct == 0 ? 1 : ct == 4 ? 2 : ct == 2 ? 3 : ct == 6 ? 4 : 1;
    size_t row = 1 + (size_t)w * (size_t)ch * (size_t)(depth / 8);
    uint8_t *raw = calloc((size_t)h * row + 1, 1);
    for (int y = 0; y < h; y++) {
        uint8_t *r = raw + (size_t)y * row;
        r[0] = 0; /* filter: none */
        for (int i = 0; i < w * ch; i++) {
            uint16_t v = samples[(size_t)y * (size_t)(w * ch) + (size_t)i];
            if (depth == 16)
                r[1 + 2 * i] = (uint8_t)(v >> 8), r[2 + 2 * i] = (uint8_t)v;
            else
                r[1 + i] = (uint8_t)v;
        }
    }
    uLongf zn = compressBound((uLong)((size_t)h * row));
    uint8_t *z = malloc(zn);
    compress2(z, &zn, raw, (uLong)((size_t)h * row), 6);
    bytes b = {malloc(8), 8};
    memcpy(b.p, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)ct;
    chunk(&b, "IHDR", ihdr, 13);
    if (ct == 3) chunk(&b, "PLTE", plte, (uint32_t)(3 * nplte));
    chunk(&b, "IDAT", z, (uint32_t)zn);
    chunk(&b, "IEND", NULL, 0);
    free(raw);
    free(z);
    return b;
}

/* Loading path must fail with a message holding the path and the fragment. */
static void expect_load_fails(const char *path, const char *what, const char *frag) {
    ve_image img;
    ve_error_clear();
    int rc = ve_image_load(path, &img);
    const char *msg = ve_error();
    int ok = rc != VE_OK && strstr(msg, path) && strstr(msg, frag) && !img.data;
    printf("  %s: %s\n", what, rc == VE_OK ? "(loaded!)" : msg);
    tu_check(ok, what);
    ve_image_free(&img);
}

/* ---- part 1 ---- */

static void png_colour_types(uint64_t *rng) {
    static const int cts[] = {0, 4, 2, 6};
    static const char *names[] = {"grey", "grey+alpha", "RGB", "RGBA"};
    for (int t = 0; t < 4; t++)
        for (int depth = 8; depth <= 16; depth += 8) {
            int ch = t + 1, w = tu_int(rng, 1, 37), h = tu_int(rng, 1, 23);
            size_t n = (size_t)w * (size_t)h * (size_t)ch;
            uint16_t *s = malloc(n * sizeof *s);
            for (size_t i = 0; i < n; i++)
                s[i] = (uint16_t)tu_int(rng, 0, depth == 16 ? 65535 : 255);
            s[0] = depth == 16 ? 65535 : 255; /* the top of the range survives */
            bytes png = encode_png(w, h, cts[t], depth, s, NULL, 0);
            char name[64], what[96];
            snprintf(name, sizeof name, "ct%d_%d.png", cts[t], depth);
            snprintf(what, sizeof what, "PNG %s %d-bit %d x %d", names[t], depth, w, h);
            tu_write_file(tu_scratch_path(name), png.p, png.n);
            ve_image img;
            int rc = ve_image_load(tu_scratch_path(name), &img);
            int ok = rc == VE_OK && img.w == w && img.h == h && img.channels == ch &&
                     img.bit_depth == depth && img.max_value == (depth == 16 ? 65535.f : 255.f);
            for (int c = 0; ok && c < ch; c++)
                for (int i = 0; ok && i < w * h; i++)
                    ok = img.data[(size_t)c * (size_t)(w * h) + (size_t)i] ==
                         (float)s[(size_t)i * (size_t)ch + (size_t)c];
            if (rc != VE_OK) printf("  %s: %s\n", what, ve_error());
            tu_check(ok, what);
            if (ok) {
                /* rgb255: grey repeated, alpha dropped, 16-bit scaled */
                float *rgb = malloc(3 * (size_t)(w * h) * sizeof *rgb);
                ve_image_rgb255(&img, rgb);
                int good = 1;
                for (int k = 0; k < 3 && good; k++)
                    for (int i = 0; i < w * h && good; i++) {
                        float want = (float)s[(size_t)i * (size_t)ch + (size_t)(ch >= 3 ? k : 0)] *
                                     (255.0f / img.max_value);
                        good = fabsf(rgb[(size_t)k * (size_t)(w * h) + (size_t)i] - want) <= 1e-4f;
                    }
                tu_check(good && rgb[0] == 255.0f, "rgb255");
                free(rgb);
            }
            ve_image_free(&img);
            free(png.p);
            free(s);
        }
    /* palette: expanded to RGB */
    uint8_t plte[3 * 4] = {0, 0, 0, 255, 0, 0, 10, 20, 30, 200, 201, 202};
    uint16_t idx[6] = {0, 1, 2, 3, 2, 1};
    bytes png = encode_png(3, 2, 3, 8, idx, plte, 4);
    tu_write_file(tu_scratch_path("palette.png"), png.p, png.n);
    free(png.p);
    ve_image img;
    int rc = ve_image_load(tu_scratch_path("palette.png"), &img);
    int ok = rc == VE_OK && img.channels == 3 && img.w == 3 && img.h == 2 && img.bit_depth == 8;
    for (int c = 0; ok && c < 3; c++)
        for (int i = 0; ok && i < 6; i++)
            ok = img.data[c * 6 + i] == plte[3 * idx[i] + c];
    tu_check(ok, "PNG palette expanded to RGB");
    ve_image_free(&img);
}

static void png_writer(uint64_t *rng) {
    for (int ch = 1; ch <= 4; ch++) {
        int w = tu_int(rng, 1, 300), h = tu_int(rng, 1, 200);
        size_t n = (size_t)w * (size_t)h * (size_t)ch;
        uint8_t *pix = malloc(n);
        for (size_t i = 0; i < n; i++)
            pix[i] = (uint8_t)tu_int(rng, 0, 255);
        char name[32], what[64];
        snprintf(name, sizeof name, "w%d.png", ch);
        snprintf(what, sizeof what, "PNG write/read %d channels %d x %d", ch, w, h);
        int rc = ve_png_write_u8(tu_scratch_path(name), w, h, ch, pix);
        ve_image img;
        int rc2 = rc == VE_OK ? ve_image_load(tu_scratch_path(name), &img) : VE_FAIL;
        int ok = rc2 == VE_OK && img.w == w && img.h == h && img.channels == ch &&
                 img.bit_depth == 8 && access(tu_scratch_path("w1.png.tmp"), F_OK) != 0;
        for (int c = 0; ok && c < ch; c++)
            for (size_t i = 0; ok && i < (size_t)(w * h); i++)
                ok = img.data[(size_t)c * (size_t)(w * h) + i] == pix[i * (size_t)ch + (size_t)c];
        if (!ok) printf("  %s: %s\n", what, ve_error());
        tu_check(ok, what);
        if (rc2 == VE_OK) ve_image_free(&img);
        free(pix);
    }
    /* planes of a 16-bit range, scaled to 8 bits; out-of-range and NaN clamp */
    float planes[6] = {0, 65535, 32767.5f, -5, 1e9f, NAN};
    int rc = ve_png_write_planes(tu_scratch_path("planes.png"), 3, 2, 1, planes, 65535.0f);
    ve_image img;
    rc = rc == VE_OK ? ve_image_load(tu_scratch_path("planes.png"), &img) : rc;
    static const float want[6] = {0, 255, 128, 0, 255, 0};
    tu_check(rc == VE_OK && img.channels == 1 && !memcmp(img.data, want, sizeof want),
             "PNG write planes (scaled, clamped)");
    if (rc == VE_OK) ve_image_free(&img);

    /* failures leave an existing file and no temporary */
    uint8_t px[4] = {1, 2, 3, 4};
    char *keep = tu_scratch_path("keep.png");
    tu_check(ve_png_write_u8(keep, 2, 2, 1, px) == VE_OK, "write keep.png");
    long before = tu_file_size(keep);
    ve_error_clear();
    rc = ve_png_write_u8(keep, 2, 2, 5, px);
    printf("  5 channels: %s\n", ve_error());
    tu_check(rc != VE_OK && strstr(ve_error(), "5 channels") && strstr(ve_error(), keep) &&
                 tu_file_size(keep) == before && access(tu_scratch_path("keep.png.tmp"), F_OK) != 0,
             "write refuses 5 channels and keeps the old file");
    rc = ve_png_write_u8(keep, 0, 2, 1, px);
    tu_check(rc != VE_OK && strstr(ve_error(), "0 x 2"), "write refuses a 0-wide image");
    rc = ve_png_write_u8(keep, 40000, 1, 1, px);
    tu_check(rc != VE_OK && strstr(ve_error(), "40000 x 1"), "write refuses 40000 wide");
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.png", tu_scratch_dir());
    ve_error_clear();
    rc = ve_png_write_u8(missing, 2, 2, 1, px);
    printf("  missing directory: %s\n", ve_error());
    tu_check(rc != VE_OK && strstr(ve_error(), "cannot create") && strstr(ve_error(), missing),
             "write into a missing directory");
}

/* JPEG: a smooth image through stb's encoder at quality 95 comes back within a few levels.
 * stb_image_write always encodes colour (YCbCr), so a grey input comes back as 3 channels. */
static void jpeg(void) {
    for (int ch = 1; ch <= 3; ch += 2) {
        int w = 67, h = 45;
        uint8_t *pix = malloc((size_t)(w * h * ch));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < ch; c++)
                    pix[(y * w + x) * ch + c] =
                        (uint8_t)(127.5 + 100 * sin(0.07 * x + 0.05 * y + c));
        char name[32], what[64];
        snprintf(name, sizeof name, "j%d.jpg", ch);
        snprintf(what, sizeof what, "JPEG %s %d x %d", ch == 1 ? "grey" : "RGB", w, h);
        int ok = stbi_write_jpg(tu_scratch_path(name), w, h, ch, pix, 95);
        ve_image img;
        int rc = ok ? ve_image_load(tu_scratch_path(name), &img) : VE_FAIL;
        ok = rc == VE_OK && img.w == w && img.h == h && img.channels == 3 && img.bit_depth == 8;
        double worst = 0, mean = 0;
        for (int c = 0; ok && c < 3; c++)
            for (int i = 0; i < w * h; i++) {
                double d = fabs(img.data[c * w * h + i] - pix[i * ch + (ch == 1 ? 0 : c)]);
                worst = fmax(worst, d);
                mean += d / (w * h * 3);
            }
        /* quality 95 on a smooth image: chroma subsampling costs RGB a little more */
        printf("  %s: max error %.0f, mean %.2f levels\n", what, worst, mean);
        tu_check(ok && worst <= 12 && mean <= 2.0, what);
        if (rc == VE_OK) ve_image_free(&img);
        free(pix);
    }
}

static void hostile(void) {
    expect_load_fails(tu_scratch_path("nope.png"), "missing file", "cannot open");
    tu_write_file(tu_scratch_path("empty.png"), "", 0);
    expect_load_fails(tu_scratch_path("empty.png"), "empty file", "empty file");
    tu_write_file(tu_scratch_path("text.png"), "this is not an image at all", 27);
    expect_load_fails(tu_scratch_path("text.png"), "not an image", "not a PNG or JPEG");
    uint16_t s[64 * 48];
    for (int i = 0; i < 64 * 48; i++)
        s[i] = (uint16_t)(i * 7 % 256);
    bytes png = encode_png(64, 48, 0, 8, s, NULL, 0);
    tu_write_file(tu_scratch_path("cut.png"), png.p, png.n - 40);
    expect_load_fails(tu_scratch_path("cut.png"), "truncated PNG", "corrupt");
    /* corrupt the compressed pixel data (the IDAT chunk starts at byte 33) */
    bytes bad = {malloc(png.n), png.n};
    memcpy(bad.p, png.p, png.n);
    for (size_t k = 45; k < 60 && k < bad.n; k++)
        bad.p[k] ^= 0x5a;
    tu_write_file(tu_scratch_path("corrupt.png"), bad.p, bad.n);
    expect_load_fails(tu_scratch_path("corrupt.png"), "corrupt PNG", "corrupt");
    free(bad.p);
    free(png.p);
    png = encode_png(0, 0, 0, 8, s, NULL, 0);
    tu_write_file(tu_scratch_path("zero.png"), png.p, png.n);
    expect_load_fails(tu_scratch_path("zero.png"), "0 x 0 PNG", "empty image (0 x 0 pixels)");
    free(png.p);
    /* absurd dimensions, refused from the header before any decoding */
    struct {
        int w, h;
        const char *what;
    } big[] = {{40000, 2, "40000 wide"}, {20000, 20000, "2^28 pixels"}};
    for (int i = 0; i < 2; i++) {
        png = encode_png(1, 1, 0, 8, s, NULL, 0);
        put_be32(png.p + 16, (uint32_t)big[i].w);
        put_be32(png.p + 20, (uint32_t)big[i].h);
        put_be32(png.p + 29, (uint32_t)crc32(0, png.p + 12, 17));
        tu_write_file(tu_scratch_path("big.png"), png.p, png.n);
        expect_load_fails(tu_scratch_path("big.png"), big[i].what, "larger than this reads");
        free(png.p);
    }
}

/* ---- part 2: real slices ---- */

static int real_files(void) {
    struct {
        const char *file;
        int w, h, ch, depth;
    } f[] = {
        {"BrainProtonDensitySlice.png", 181, 217, 3, 8}, /* 8-bit palette */
        {"BrainMidSagittalSlice.png", 217, 180, 1, 8},
        {"BrainT1Slice.png", 181, 217, 3, 8},
        {"Point.png", 50, 50, 3, 16},
        {"FivePointsDilated.png", 512, 512, 4, 8},
    };
    if (access(ITK_DATA "/BrainProtonDensitySlice.png", R_OK) != 0) {
        printf("SKIP part 2: apt-get install insighttoolkit5-examples\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", ITK_DATA, f[i].file);
        ve_image img;
        if (ve_image_load(path, &img) != VE_OK) {
            printf("  %s\n", ve_error());
            tu_check(0, f[i].file);
            continue;
        }
        size_t n = (size_t)img.channels * (size_t)img.w * (size_t)img.h;
        double sum = 0, hi = 0;
        int grey_palette = 1;
        for (size_t k = 0; k < n; k++) {
            sum += img.data[k];
            hi = fmax(hi, img.data[k]);
        }
        if (img.channels >= 3)
            for (size_t k = 0; k < (size_t)(img.w * img.h); k++)
                grey_palette &= img.data[k] == img.data[k + (size_t)(img.w * img.h)];
        int ok = img.w == f[i].w && img.h == f[i].h && img.channels == f[i].ch &&
                 img.bit_depth == f[i].depth && sum > 0 && hi <= img.max_value;
        /* the brain slices are grey images stored as RGB or a palette: R == G */
        if (i == 0 || i == 2) ok = ok && grey_palette;
        printf("  %s: %d x %d, %d channels, %d-bit, mean %.1f, max %.0f %s\n", f[i].file, img.w,
               img.h, img.channels, img.bit_depth, sum / (double)n, hi, ok ? "ok" : "MISMATCH");
        tu_check(ok, f[i].file);
        ve_image_free(&img);
    }
    return 1;
}

int main(void) {
    tu_scratch_open("image");
    uint64_t rng = tu_seed(5);
    png_colour_types(&rng);
    png_writer(&rng);
    jpeg();
    hostile();
    int have = real_files();
    tu_scratch_close();
    int rc = tu_exit();
    return rc == 0 && !have ? 77 : rc;
}
