/* The data pipeline's generator and augmentation (engine/data/rng.c, zoom.c, pixel_map.c,
 * augment.c).
 *
 * Part 1 needs nothing: the generator (reproducible, derived streams independent, ranges),
 * ve_augment_sample reproducible for a fixed seed, each of SAMed's branches drawn with its
 * frequency (rot90 + flip 1/2, rotate 1/4, none 1/4; every k, axis and angle), the zoom of an
 * S x S sample being the identity, and bad sizes refused. Part 2 compares with scipy 1.10
 * (tests/reference/augment_reference.py, into VE_DATA_DIR/augment): cubic zoom within 1e-5 of
 * the largest value, nearest zoom and rotate exact, and SAMed's whole RandomGenerator for given
 * draws. Without the reference files part 2 is skipped and the test exits 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "io/npy.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_DATA_DIR
#define VE_DATA_DIR "data_files"
#endif
#define REF_DIR VE_DATA_DIR "/augment"

/* ---- part 1 ---- */

static void generator(void) {
    ve_rng a, b;
    ve_rng_seed(&a, 42);
    ve_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= ve_rng_u64(&a) == ve_rng_u64(&b);
    tu_check(same, "rng: the same seed gives the same sequence");
    ve_rng_seed(&b, 43);
    tu_check(ve_rng_u64(&a) != ve_rng_u64(&b), "rng: another seed, another sequence");

    /* derived streams: equal tuples agree, any changed word changes the stream */
    ve_rng d[5];
    ve_rng_derive(&d[0], 7, 1, 2, 3);
    ve_rng_derive(&d[1], 7, 1, 2, 3);
    ve_rng_derive(&d[2], 7, 1, 3, 2);
    ve_rng_derive(&d[3], 8, 1, 2, 3);
    ve_rng_derive(&d[4], 7, 1, 2, 4);
    uint64_t x[5];
    for (int i = 0; i < 5; i++)
        x[i] = ve_rng_u64(&d[i]);
    tu_check(x[0] == x[1] && x[0] != x[2] && x[0] != x[3] && x[0] != x[4] && x[2] != x[4],
             "rng: derived streams depend on every word and their order");

    double sum = 0, lo = 1, hi = 0;
    int counts[7] = {0}, bad = 0;
    for (int i = 0; i < 70000; i++) {
        double u = ve_rng_uniform(&a);
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        int k = ve_rng_int(&a, -3, 4);
        if (k < -3 || k > 3)
            bad++;
        else
            counts[k + 3]++;
    }
    tu_check(lo >= 0 && hi < 1 && fabs(sum / 70000 - 0.5) < 0.01, "rng: uniform in [0, 1)");
    int flat = !bad;
    for (int k = 0; k < 7; k++)
        flat &= abs(counts[k] - 10000) < 500;
    tu_check(flat, "rng: integers uniform over [lo, hi)");
    tu_check(ve_rng_int(&a, 5, 5) == 5 && ve_rng_int(&a, 5, 2) == 5, "rng: empty range gives lo");
}

/* A sample with a smooth-ish image and a label of a few classes. */
static ve_slice make_slice(int h, int w, int channels, uint64_t seed) {
    ve_slice s = {.h = h, .w = w, .channels = channels};
    uint64_t st = tu_seed(seed);
    s.image = tu_rand(&st, (size_t)channels * h * w, 0, 1);
    s.label = malloc((size_t)h * w);
    for (int i = 0; i < h * w; i++)
        s.label[i] = (uint8_t)tu_int(&st, 0, 8);
    snprintf(s.name, sizeof s.name, "random %dx%d", h, w);
    return s;
}

static void reproducible(void) {
    ve_slice s = make_slice(70, 90, 1, 3);
    ve_augment_opts o = {64, 16, 1, 0};
    size_t ni = 3 * 64 * 64, nl = 16 * 16;
    float *img[3], *lab[3];
    for (int k = 0; k < 3; k++) {
        img[k] = calloc(ni, sizeof(float));
        lab[k] = calloc(nl, sizeof(float));
        ve_rng r;
        ve_rng_seed(&r, k < 2 ? 99 : 100);
        /* a few draws so that the seeds reach different branches */
        for (int i = 0; i < 4; i++)
            tu_check(ve_augment_sample(&s, &o, &r, img[k], lab[k]) == VE_OK, "augment runs");
    }
    tu_check(!memcmp(img[0], img[1], ni * sizeof(float)) &&
                 !memcmp(lab[0], lab[1], nl * sizeof(float)),
             "augment: the same seed gives the same bytes");
    tu_check(memcmp(img[0], img[2], ni * sizeof(float)) != 0,
             "augment: another seed gives another sample");
    int planes = !memcmp(img[0], img[0] + 64 * 64, 64 * 64 * sizeof(float)) &&
                 !memcmp(img[0], img[0] + 2 * 64 * 64, 64 * 64 * sizeof(float));
    tu_check(planes, "augment: a grey sample fills the 3 planes alike");
    for (int k = 0; k < 3; k++) {
        free(img[k]);
        free(lab[k]);
    }
    free(s.image);
    free(s.label);
}

/* no_rot90_flip: where SAMed draws rot90 + flip the sample comes out untransformed (zoom only),
 * every other draw as with SAMed's generator, from the same random stream. */
static void without_rot90_flip(void) {
    ve_slice s = make_slice(40, 52, 1, 5);
    ve_augment_opts off = {32, 8, 1, 1}, none = {32, 8, 0, 0};
    size_t ni = 3 * 32 * 32, nl = 8 * 8;
    float *a = calloc(ni, sizeof(float)), *b = calloc(ni, sizeof(float));
    float *la = calloc(nl, sizeof(float)), *lb = calloc(nl, sizeof(float));
    int rot_flip = 0, same = 1;
    for (int i = 0; i < 200; i++) {
        ve_rng r1, r2;
        ve_rng_derive(&r1, 7, (uint64_t)i, 0, 0);
        ve_rng_derive(&r2, 7, (uint64_t)i, 0, 0);
        ve_augment_params p;
        ve_augment_draw(&r2, &p);
        if (p.kind == VE_AUG_ROT_FLIP) rot_flip++, p = (ve_augment_params){VE_AUG_NONE, 0, -1, 0};
        int ok = ve_augment_sample(&s, &off, &r1, a, la) == VE_OK &&
                 ve_augment_apply(&s, &none, &p, b, lb) == VE_OK;
        same &= ok && !memcmp(a, b, ni * sizeof(float)) && !memcmp(la, lb, nl * sizeof(float));
    }
    tu_check(same, "no_rot90_flip: rot90 + flip draws give the untransformed sample");
    tu_check(rot_flip > 60 && rot_flip < 140, "no_rot90_flip: the branch was drawn ~half the time");
    free(a), free(b), free(la), free(lb);
    free(s.image), free(s.label);
}

static void branch_frequencies(void) {
    enum { N = 40000 };
    int kinds[3] = {0}, ks[4] = {0}, axes[2] = {0}, angles[40] = {0}, bad = 0;
    for (int i = 0; i < N; i++) {
        ve_rng r;
        ve_rng_derive(&r, 5, 0, (uint64_t)i, 1); /* as the loader seeds each sample */
        ve_augment_params p;
        ve_augment_draw(&r, &p);
        kinds[p.kind]++;
        if (p.kind == VE_AUG_ROT_FLIP) {
            bad += p.k < 0 || p.k > 3 || p.flip_axis < 0 || p.flip_axis > 1;
            ks[p.k & 3]++;
            axes[p.flip_axis & 1]++;
        } else if (p.kind == VE_AUG_ROTATE) {
            bad += p.angle < -20 || p.angle >= 20;
            angles[(p.angle + 20) % 40]++;
        }
    }
    printf("  branches over %d draws: rot90+flip %d, rotate %d, none %d\n", N, kinds[1], kinds[2],
           kinds[0]);
    /* binomial standard deviations: 100 and 87; allow 5 */
    tu_check(abs(kinds[1] - N / 2) < 500 && abs(kinds[2] - N / 4) < 435 &&
                 abs(kinds[0] - N / 4) < 435,
             "augment: rot90+flip 1/2, rotate 1/4, none 1/4");
    int ok = !bad;
    for (int k = 0; k < 4; k++)
        ok &= abs(ks[k] - kinds[1] / 4) < 400;
    for (int a = 0; a < 2; a++)
        ok &= abs(axes[a] - kinds[1] / 2) < 500;
    for (int a = 0; a < 40; a++)
        ok &= angles[a] > kinds[2] / 40 - 160 && angles[a] < kinds[2] / 40 + 160;
    tu_check(ok, "augment: every k 0..3, flip axis 0..1 and angle -20..19 equally often");
}

static void identity_and_errors(void) {
    /* S x S input without augmentation: the image unchanged, the label only subsampled */
    ve_slice s = make_slice(48, 48, 3, 11);
    ve_augment_opts o = {48, 12, 0, 0};
    float *img = malloc(3 * 48 * 48 * sizeof(float)), lab[12 * 12];
    ve_rng r;
    ve_rng_seed(&r, 1);
    tu_check(ve_augment_sample(&s, &o, &r, img, lab) == VE_OK, "augment S x S runs");
    tu_check(!memcmp(img, s.image, 3 * 48 * 48 * sizeof(float)),
             "augment: an S x S RGB sample passes unchanged");
    int same = 1;
    for (int y = 0; y < 12; y++) /* 47 / 11 per step: index round(o * 47 / 11) */
        for (int x = 0; x < 12; x++)
            same &=
                lab[y * 12 + x] ==
                s.label[(int)floor(y * (47.0 / 11) + 0.5) * 48 + (int)floor(x * (47.0 / 11) + 0.5)];
    tu_check(same, "augment: the low label is the nearest subsample");

    float dst[4];
    ve_error_clear();
    tu_check(ve_zoom_cubic(s.image, 0, 5, dst, 2, 2) != VE_OK && strstr(ve_error(), "0 x 5"),
             "zoom: an empty plane is refused");
    ve_augment_opts bad = {48, 64, 1, 0};
    tu_check(ve_augment_sample(&s, &bad, &r, img, lab) != VE_OK && strstr(ve_error(), "low=64"),
             "augment: low > S is refused");
    s.channels = 2;
    tu_check(ve_augment_sample(&s, &o, &r, img, lab) != VE_OK && strstr(ve_error(), "2 channels"),
             "augment: 2 channels are refused");
    free(img);
    free(s.image);
    free(s.label);
}

/* ---- part 2: scipy ---- */

static int load_ref(const char *name, ve_npy_array *a) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.npy", REF_DIR, name);
    if (ve_npy_load(path, a) == VE_OK) return 1;
    printf("  cannot read %s\n", ve_error());
    tu_check(0, "reference file readable");
    return 0;
}

static uint8_t *to_u8(const ve_npy_array *a) {
    uint8_t *u = malloc((size_t)a->numel);
    for (int64_t i = 0; i < a->numel; i++)
        u[i] = (uint8_t)a->data[i];
    return u;
}

static int count_diff_u8(const uint8_t *a, const uint8_t *b, size_t n) {
    int d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

/* PREFIX_NAME_in and PREFIX_NAME_out; 0 (both freed) when either is missing. */
static int load_in_out(const char *prefix, const char *name, ve_npy_array *in, ve_npy_array *out) {
    char in_name[64], out_name[64];
    snprintf(in_name, sizeof in_name, "%s_%s_in", prefix, name);
    snprintf(out_name, sizeof out_name, "%s_%s_out", prefix, name);
    if (!load_ref(in_name, in)) return 0;
    if (load_ref(out_name, out)) return 1;
    ve_npy_free(in);
    return 0;
}

static void cubic_parity(const char *name) {
    char what[96];
    ve_npy_array in, want;
    if (!load_in_out("cubic", name, &in, &want)) return;
    int oh = (int)want.shape[0], ow = (int)want.shape[1];
    float *got = malloc((size_t)want.numel * sizeof *got);
    snprintf(what, sizeof what, "cubic zoom %s %lldx%lld -> %dx%d", name, (long long)in.shape[0],
             (long long)in.shape[1], oh, ow);
    tu_check(ve_zoom_cubic(in.data, (int)in.shape[0], (int)in.shape[1], got, oh, ow) == VE_OK,
             what);
    double md = 0, mw = 0;
    for (int64_t i = 0; i < want.numel; i++) {
        md = fmax(md, fabs((double)got[i] - want.data[i]));
        mw = fmax(mw, fabs((double)want.data[i]));
    }
    printf("  %s: max |diff| %.3g (max |value| %.3g)\n", what, md, mw);
    tu_check(tu_close(what, got, want.data, (size_t)want.numel, 1e-5, 1e-3), what);
    free(got);
    ve_npy_free(&in);
    ve_npy_free(&want);
}

static void nearest_parity(const char *name) {
    char what[96];
    ve_npy_array in, want;
    if (!load_in_out("nearest", name, &in, &want)) return;
    int oh = (int)want.shape[0], ow = (int)want.shape[1];
    uint8_t *src = to_u8(&in), *ref = to_u8(&want), *got = malloc((size_t)want.numel);
    int rc = ve_zoom_nearest_u8(src, (int)in.shape[0], (int)in.shape[1], got, oh, ow);
    int d = rc == VE_OK ? count_diff_u8(got, ref, (size_t)want.numel) : -1;
    snprintf(what, sizeof what, "nearest zoom %s %lldx%lld -> %dx%d: %d labels differ", name,
             (long long)in.shape[0], (long long)in.shape[1], oh, ow, d);
    printf("  %s\n", what);
    tu_check(d == 0, what);
    free(src);
    free(ref);
    free(got);
    ve_npy_free(&in);
    ve_npy_free(&want);
}

static void rotate_parity(const char *name) {
    char out_name[64], what[96];
    snprintf(out_name, sizeof out_name, "rotate_%s_out", name);
    ve_npy_array want;
    if (!load_ref(out_name, &want)) return;
    int h = (int)want.shape[1], w = (int)want.shape[2], diff = 0;
    float *src = malloc((size_t)h * w * sizeof *src), *got = malloc((size_t)h * w * sizeof *got);
    for (int i = 0; i < h * w; i++)
        src[i] = (float)(i + 1); /* the values the script rotated */
    for (int a = -20; a < 20; a++) {
        ve_pixel_map m;
        if (ve_pixel_map_rotate(h, w, a, &m) != VE_OK) {
            diff = -1;
            break;
        }
        ve_pixel_map_apply_f32(&m, src, got);
        const float *ref = want.data + (size_t)(a + 20) * h * w;
        for (int i = 0; i < h * w; i++)
            diff += got[i] != ref[i];
        ve_pixel_map_free(&m);
    }
    snprintf(what, sizeof what, "rotate %s %dx%d, angles -20..19: %d pixels differ", name, h, w,
             diff);
    printf("  %s\n", what);
    tu_check(diff == 0, what);
    free(src);
    free(got);
    ve_npy_free(&want);
}

/* SAMed's RandomGenerator with the draws fixed, on a 90 x 70 sample to S = 96, low = 24. */
static void pipeline_parity(void) {
    ve_npy_array img, lab, par, oimg, olab;
    if (!load_ref("pipe_in_image", &img) || !load_ref("pipe_in_label", &lab) ||
        !load_ref("pipe_params", &par) || !load_ref("pipe_out_image", &oimg) ||
        !load_ref("pipe_out_label", &olab))
        return;
    ve_slice s = {.h = (int)img.shape[0], .w = (int)img.shape[1], .channels = 1};
    s.image = img.data;
    s.label = to_u8(&lab);
    snprintf(s.name, sizeof s.name, "pipe");
    int S = (int)oimg.shape[1], low = (int)olab.shape[1], n = (int)par.shape[0];
    ve_augment_opts o = {S, low, 1, 0};
    float *got = malloc((size_t)3 * S * S * sizeof *got), *glab = malloc((size_t)low * low * 4);
    for (int i = 0; i < n; i++) {
        const float *q = par.data + 4 * i;
        ve_augment_params p = {(int)q[0], (int)q[1], (int)q[2], (int)q[3]};
        char what[128];
        snprintf(what, sizeof what, "SAMed pipeline: kind %d, k %d, axis %d, angle %d", p.kind, p.k,
                 p.flip_axis, p.angle);
        if (ve_augment_apply(&s, &o, &p, got, glab) != VE_OK) {
            printf("  %s\n", ve_error());
            tu_check(0, what);
            continue;
        }
        const float *wi = oimg.data + (size_t)i * S * S, *wl = olab.data + (size_t)i * low * low;
        int ok = tu_close(what, got, wi, (size_t)S * S, 1e-5, 1e-3);
        ok &= !memcmp(got, got + S * S, (size_t)S * S * 4) &&
              !memcmp(got, got + 2 * S * S, (size_t)S * S * 4);
        int d = 0;
        for (int k = 0; k < low * low; k++)
            d += glab[k] != wl[k];
        if (d) printf("  %s: %d low labels differ\n", what, d);
        tu_check(ok && d == 0, what);
    }
    free(got);
    free(glab);
    free(s.label);
    ve_npy_free(&img);
    ve_npy_free(&lab);
    ve_npy_free(&par);
    ve_npy_free(&oimg);
    ve_npy_free(&olab);
}

static int have_reference(void) {
    FILE *f = fopen(REF_DIR "/pipe_params.npy", "rb");
    if (f) fclose(f);
    return f != NULL;
}

int main(void) {
    without_rot90_flip();
    generator();
    reproducible();
    branch_frequencies();
    identity_and_errors();
    if (!have_reference()) {
        printf("no scipy reference files in %s (tests/reference/augment_reference.py): part 2 "
               "skipped\n",
               REF_DIR);
        int rc = tu_exit();
        return rc ? rc : 77;
    }
    const char *cubic[] = {"up", "quirk", "odd", "down", "same", "thin", "tiny"};
    for (size_t i = 0; i < sizeof cubic / sizeof *cubic; i++)
        cubic_parity(cubic[i]);
    const char *nearest[] = {"up", "low", "quirk", "odd", "down3"};
    for (size_t i = 0; i < sizeof nearest / sizeof *nearest; i++)
        nearest_parity(nearest[i]);
    rotate_parity("square");
    rotate_parity("oblong");
    pipeline_parity();
    return tu_exit();
}
