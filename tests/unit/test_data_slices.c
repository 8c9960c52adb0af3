/* The slice loaders (engine/data/slices_*.c, slice_set.c, file_list.c).
 *
 * Part 1 needs nothing: PNG folder pairs written here with the engine's PNG writer (grey and
 * RGB images, sorting, scaling, case ids) and NIfTI volume pairs written here byte by byte
 * (slices along each axis, runs of slices as cases, windowing and min-max scaling, the label
 * lookup table), appending sets, and the refusals with their messages: missing label file,
 * size mismatch, unreadable file, RGB label, empty folder, label value 300 or 2.5, NaN image.
 * Part 2 reads .npz and .npy.h5 files that numpy and h5py wrote
 * (tests/reference/slice_files.py, into VE_DATA_DIR/slices) and the same refusals, plus a
 * compressed .npz. Part 3 reads the brain task's real volumes (mricron-data) when installed.
 * Without the files of part 2 the test runs the rest and exits 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/slices.h"
#include "io/image.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_DATA_DIR
#define VE_DATA_DIR "data_files"
#endif
#define FIX_DIR VE_DATA_DIR "/slices"
#define MRICRON "/usr/share/mricron/templates"

/* A failed load: VE_FAIL, every fragment in the message, and an empty set. */
static void expect_fail(int rc, ve_slice_set *set, const char *what, const char *frag1,
                        const char *frag2) {
    const char *msg = ve_error();
    int ok = rc != VE_OK && strstr(msg, frag1) && (!frag2 || strstr(msg, frag2)) && set->n == 0 &&
             !set->s && set->n_cases == 0;
    printf("  %s: %s\n", what, rc == VE_OK ? "(loaded!)" : msg);
    tu_check(ok, what);
    ve_slice_set_free(set);
}

/* ---- PNG folder pairs ---- */

static void write_png(const char *dir, const char *name, int w, int h, int ch, int seed) {
    uint8_t *px = malloc((size_t)w * h * ch);
    for (int i = 0; i < w * h * ch; i++)
        px[i] = (uint8_t)((i * 37 + seed * 11) % 256);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ve_png_write_u8(path, w, h, ch, px) != VE_OK) printf("  %s\n", ve_error());
    free(px);
}

static void write_label_png(const char *dir, const char *name, int w, int h, int ch) {
    uint8_t *px = malloc((size_t)w * h * ch);
    for (int i = 0; i < w * h * ch; i++)
        px[i] = (uint8_t)((i / ch) % 5);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ve_png_write_u8(path, w, h, ch, px);
    free(px);
}

static void png_pairs(void) {
    char img[300], lab[300], empty[300];
    snprintf(img, sizeof img, "%s", tu_scratch_path("img"));
    snprintf(lab, sizeof lab, "%s", tu_scratch_path("lab"));
    snprintf(empty, sizeof empty, "%s", tu_scratch_path("empty"));
    mkdir(img, 0700);
    mkdir(lab, 0700);
    mkdir(empty, 0700);
    write_png(img, "b.png", 5, 4, 3, 2); /* RGB */
    write_png(img, "a.png", 5, 4, 1, 1); /* grey; sorts first */
    write_label_png(lab, "a.png", 5, 4, 1);
    write_label_png(lab, "b.png", 5, 4, 1);
    ve_slice_set set;
    int rc = ve_slices_load_png_dirs(img, lab, &set);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && set.n == 2 && set.n_cases == 2, "png: two pairs load");
    if (rc == VE_OK && set.n == 2) {
        const ve_slice *a = &set.s[0], *b = &set.s[1];
        tu_check(!strcmp(a->name, "a") && !strcmp(b->name, "b") && !strcmp(set.case_names[1], "b"),
                 "png: sorted by name, named by stem");
        tu_check(a->channels == 1 && b->channels == 3 && a->h == 4 && a->w == 5,
                 "png: grey 1 channel, RGB 3, size");
        tu_check(a->case_id == 0 && b->case_id == 1 && a->slice == 0, "png: each file a case");
        /* b's planes: the writer's interleaved sample (y, x, c) is plane c */
        int ok = fabsf(a->image[7] - (float)((7 * 37 + 11) % 256) / 255.0f) < 1e-7f;
        ok &= fabsf(b->image[2 * 20 + 7] - (float)(((7 * 3 + 2) * 37 + 22) % 256) / 255.0f) < 1e-7f;
        tu_check(ok, "png: values scaled to [0, 1] by the bit depth, RGB planes");
        ok = 1;
        for (int i = 0; i < 20; i++)
            ok &= a->label[i] == i % 5 && b->label[i] == i % 5;
        tu_check(ok, "png: label pixel value = class");
    }
    ve_slice_set_free(&set);

    /* refusals */
    write_label_png(lab, "b.png", 4, 5, 1);
    expect_fail(ve_slices_load_png_dirs(img, lab, &set), &set, "png: size mismatch", "5 x 4",
                "4 x 5");
    write_label_png(lab, "b.png", 5, 4, 3);
    expect_fail(ve_slices_load_png_dirs(img, lab, &set), &set, "png: RGB label", "b.png",
                "3 channels");
    unlink(tu_scratch_path("lab/b.png"));
    expect_fail(ve_slices_load_png_dirs(img, lab, &set), &set, "png: missing label file",
                "no label file for image 'b.png'", "lab/b.png");
    write_label_png(lab, "b.png", 5, 4, 1);
    tu_write_file(tu_scratch_path("img/c.png"), "not a png", 9);
    write_label_png(lab, "c.png", 5, 4, 1);
    expect_fail(ve_slices_load_png_dirs(img, lab, &set), &set, "png: unreadable image", "c.png",
                NULL);
    expect_fail(ve_slices_load_png_dirs(empty, lab, &set), &set, "png: empty folder", empty,
                "no files in the folder");
    expect_fail(ve_slices_load_png_dirs(tu_scratch_path("nope"), lab, &set), &set,
                "png: missing folder", "nope", "cannot open");
}

/* ---- NIfTI volume pairs ---- */

enum { NX = 6, NY = 5, NZ = 4 };

/* A little-endian single-file NIfTI-1 of NX x NY x NZ voxels: datatype 16 (float32) or 2
 * (uint8). */
static void write_nifti(const char *path, int datatype, const float *v, int nx, int ny, int nz) {
    int bytes = datatype == 16 ? 4 : 1, n = nx * ny * nz;
    size_t size = 352 + (size_t)n * bytes;
    uint8_t *b = calloc(1, size);
    int32_t hdr = 348;
    int16_t dim[8] = {3, (int16_t)nx, (int16_t)ny, (int16_t)nz, 1, 1, 1, 1};
    int16_t dt = (int16_t)datatype, bitpix = (int16_t)(8 * bytes);
    float vox = 352, pix[4] = {1, 1, 1, 1};
    memcpy(b, &hdr, 4);
    memcpy(b + 40, dim, sizeof dim);
    memcpy(b + 70, &dt, 2);
    memcpy(b + 72, &bitpix, 2);
    memcpy(b + 76, pix, sizeof pix);
    memcpy(b + 108, &vox, 4);
    memcpy(b + 344, "n+1", 4);
    for (int i = 0; i < n; i++) {
        if (bytes == 4)
            memcpy(b + 352 + 4 * i, &v[i], 4);
        else
            b[352 + i] = (uint8_t)v[i];
    }
    tu_write_file(path, b, size);
    free(b);
}

static float image_voxel(int x, int y, int z) {
    return (float)(x + 10 * y + 100 * z - 50);
}

static float label_voxel(int x, int y, int z) {
    return x == 5 && y == 4 ? 9.0f : (float)((x + y + z) % 4);
}

static void write_volumes(const char *img_path, const char *lab_path) {
    float img[NX * NY * NZ], lab[NX * NY * NZ];
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                img[(z * NY + y) * NX + x] = image_voxel(x, y, z);
                lab[(z * NY + y) * NX + x] = label_voxel(x, y, z);
            }
    write_nifti(img_path, 16, img, NX, NY, NZ);
    write_nifti(lab_path, 2, lab, NX, NY, NZ);
}

static void nifti_slices(void) {
    char img[300], lab[300];
    snprintf(img, sizeof img, "%s", tu_scratch_path("vol.nii"));
    snprintf(lab, sizeof lab, "%s", tu_scratch_path("seg.nii"));
    write_volumes(img, lab);
    static const int lut[4] = {0, 3, 3, 7}; /* 9 is past the table: kept */
    const int pick[3] = {0, 1, 3};
    ve_nifti_slice_opts o = {.axis = 2,
                             .slices = pick,
                             .n_slices = 3,
                             .label_lut = lut,
                             .lut_len = 4,
                             .window = 1,
                             .lo = -10,
                             .hi = 90};
    ve_slice_set set;
    int rc = ve_slices_load_nifti(img, lab, &o, &set);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && set.n == 3 && set.n_cases == 2, "nifti: 3 slices in 2 runs");
    if (rc == VE_OK && set.n == 3) {
        char want0[400], want1[400];
        snprintf(want0, sizeof want0, "%s z=0-1", img);
        snprintf(want1, sizeof want1, "%s z=3-3", img);
        tu_check(set.s[0].case_id == 0 && set.s[1].case_id == 0 && set.s[2].case_id == 1 &&
                     set.s[2].slice == 3 && !strcmp(set.case_names[0], want0) &&
                     !strcmp(set.case_names[1], want1) && !strcmp(set.s[2].name, "vol.nii z=3"),
                 "nifti: each run of slices is a case; names");
        const ve_slice *s = &set.s[1]; /* z = 1: rows y, columns x */
        int ok = s->h == NY && s->w == NX && s->channels == 1;
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                float v = image_voxel(x, y, 1), c = v < -10 ? -10 : v > 90 ? 90 : v;
                ok &= fabsf(s->image[y * NX + x] - (c + 10) / 100) < 1e-6f;
                float l = label_voxel(x, y, 1);
                ok &= s->label[y * NX + x] == (l < 4 ? lut[(int)l] : (int)l);
            }
        tu_check(ok, "nifti: window [-10, 90] clipped and scaled, labels through the table");
    }
    ve_slice_set_free(&set);

    /* all slices along x, min-max scaled, no table: rows z, columns y */
    ve_nifti_slice_opts ox = {.axis = 0};
    rc = ve_slices_load_nifti(img, lab, &ox, &set);
    tu_check(rc == VE_OK && set.n == NX && set.n_cases == 1 && !strcmp(set.case_names[0], img),
             "nifti: all slices along x are one case named by the path");
    if (rc == VE_OK && set.n == NX) {
        const ve_slice *s = &set.s[2];
        int ok = s->h == NZ && s->w == NY && s->slice == 2;
        for (int z = 0; z < NZ; z++)
            for (int y = 0; y < NY; y++) {
                float want = (image_voxel(2, y, z) + 50) / (image_voxel(5, 4, 3) + 50);
                ok &= fabsf(s->image[z * NY + y] - want) < 1e-6f;
                ok &= s->label[z * NY + y] == (int)label_voxel(2, y, z);
            }
        tu_check(ok, "nifti: min-max scaling of the whole volume, labels unchanged");
    }

    /* appending a second volume renumbers its cases */
    ve_slice_set more;
    rc = ve_slices_load_nifti(img, lab, &o, &more);
    if (rc == VE_OK) rc = ve_slice_set_append(&set, &more);
    tu_check(rc == VE_OK && set.n == NX + 3 && set.n_cases == 3 && set.s[NX].case_id == 1 &&
                 set.s[NX + 2].case_id == 2 && more.n == 0 && !more.s,
             "nifti: append renumbers the cases and empties the second set");
    ve_slice_set_free(&set);

    /* refusals */
    float small[NX * NY * 3] = {0};
    char lab2[300];
    snprintf(lab2, sizeof lab2, "%s", tu_scratch_path("seg_small.nii"));
    write_nifti(lab2, 2, small, NX, NY, 3);
    expect_fail(ve_slices_load_nifti(img, lab2, &o, &set), &set, "nifti: shapes differ",
                "6 x 5 x 4", "6 x 5 x 3");
    float bad[NX * NY * NZ];
    for (int i = 0; i < NX * NY * NZ; i++)
        bad[i] = 1;
    bad[(1 * NY + 2) * NX + 3] = 300;
    write_nifti(lab2, 16, bad, NX, NY, NZ);
    expect_fail(ve_slices_load_nifti(img, lab2, &o, &set), &set, "nifti: label 300", "seg_small",
                "label value 300 at row 2, column 3");
    bad[(1 * NY + 2) * NX + 3] = 2.5f;
    write_nifti(lab2, 16, bad, NX, NY, NZ);
    expect_fail(ve_slices_load_nifti(img, lab2, &o, &set), &set, "nifti: label 2.5", "seg_small",
                "label value 2.5");
    bad[(1 * NY + 2) * NX + 3] = NAN;
    write_nifti(lab2, 16, bad, NX, NY, NZ); /* as an image now */
    expect_fail(ve_slices_load_nifti(lab2, lab, &o, &set), &set, "nifti: NaN image", "seg_small",
                "not finite");
    const int outside[1] = {4};
    ve_nifti_slice_opts oo = {.axis = 2, .slices = outside, .n_slices = 1};
    expect_fail(ve_slices_load_nifti(img, lab, &oo, &set), &set, "nifti: slice out of range",
                "slice 4 is outside 0..3", NULL);
}

/* ---- Synapse files from numpy / h5py ---- */

static int have_fixtures(void) {
    return access(FIX_DIR "/npz/train.txt", R_OK) == 0;
}

typedef int (*loader_fn)(const char *dir, const char *list_file, ve_slice_set *out);

/* Each broken file FIX_DIR/kind/bad/NAME.suffix, named by the list NAME.txt, must be refused
 * with a message naming the file and holding the fragments. */
static void broken_files(loader_fn load, const char *kind, const char *suffix,
                         const char *const (*bad)[3], size_t n) {
    for (size_t i = 0; i < n; i++) {
        char dir[300], list[400], file[64], what[80];
        snprintf(dir, sizeof dir, FIX_DIR "/%s/bad", kind);
        snprintf(list, sizeof list, "%s/%s.txt", dir, bad[i][0]);
        snprintf(file, sizeof file, "%s%s", bad[i][0], suffix);
        snprintf(what, sizeof what, "%s: %s", kind, bad[i][0]);
        ve_slice_set set;
        int rc = load(dir, list, &set);
        tu_check(rc != VE_OK && strstr(ve_error(), file), "the message names the file");
        expect_fail(rc, &set, what, bad[i][1], bad[i][2]);
    }
}

static void npz_files(void) {
    ve_slice_set set;
    int rc = ve_slices_load_npz_dir(FIX_DIR "/npz", FIX_DIR "/npz/train.txt", &set);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && set.n == 2 && set.n_cases == 2, "npz: the listed slices load");
    if (rc == VE_OK && set.n == 2) {
        tu_check(!strcmp(set.s[0].name, "case0005_slice001") &&
                     !strcmp(set.case_names[1], "case0005_slice000") && set.s[1].case_id == 1,
                 "npz: in the list's order, named by stem");
        int ok = 1;
        for (int k = 0; k < 2; k++) {
            const ve_slice *s = &set.s[k];
            int f = 1 - k; /* the file's k in the script */
            ok &= s->h == 12 && s->w == 10 && s->channels == 1;
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 10; x++) {
                    ok &=
                        fabsf(s->image[y * 10 + x] - ((y * 10 + x) / 1000.0f + 0.25f * f)) < 1e-6f;
                    ok &= s->label[y * 10 + x] == (y + x + f) % 9;
                }
        }
        tu_check(ok, "npz: image and label values (float32 and uint8 labels)");
    }
    ve_slice_set_free(&set);
    rc = ve_slices_load_npz_dir(FIX_DIR "/npz", NULL, &set);
    tu_check(rc == VE_OK && set.n == 2 && !strcmp(set.s[0].name, "case0005_slice000"),
             "npz: without a list every .npz, sorted");
    ve_slice_set_free(&set);

    static const char *const bad[][3] = {
        {"label300", "label value 300 at row 3, column 4", NULL},
        {"label25", "label value 2.5 at row 5, column 6", NULL},
        {"nan", "not finite", "row 7, column 2"},
        {"shape", "12 x 10", "10 x 12"},
        {"nolabel", "no entry 'label.npy'", NULL},
        {"compressed", "compressed", NULL},
    };
    broken_files(ve_slices_load_npz_dir, "npz", ".npz", bad, sizeof bad / sizeof *bad);
    expect_fail(ve_slices_load_npz_dir(FIX_DIR "/h5", NULL, &set), &set, "npz: empty folder",
                "no .npz files", NULL);
    expect_fail(ve_slices_load_npz_dir(FIX_DIR "/npz", FIX_DIR "/npz/nolist.txt", &set), &set,
                "npz: missing list file", "nolist.txt", NULL);
}

static void h5_files(void) {
    ve_slice_set set;
    int rc = ve_slices_load_h5_dir(FIX_DIR "/h5", FIX_DIR "/h5/test_vol.txt", &set);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && set.n == 5 && set.n_cases == 2, "h5: two listed volumes, 5 slices");
    if (rc == VE_OK && set.n == 5) {
        tu_check(strstr(set.case_names[0], "case0002.npy.h5") && set.s[1].slice == 1 &&
                     set.s[2].case_id == 1 && set.s[2].slice == 0 &&
                     !strcmp(set.s[4].name, "case0001.npy.h5 z=2"),
                 "h5: case per file in the list's order, slice = index along D");
        int ok = 1;
        for (int k = 0; k < 5; k++) {
            const ve_slice *s = &set.s[k];
            int z = s->slice;
            ok &= s->h == 8 && s->w == 6;
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 6; x++) {
                    ok &= fabsf(s->image[y * 6 + x] - (z * 100 + y * 10 + x) / 1000.0f) < 1e-6f;
                    ok &= s->label[y * 6 + x] == (z + y + x) % 9;
                }
        }
        tu_check(ok, "h5: image and label values (uint8 and float32 labels)");
    }
    ve_slice_set_free(&set);
    rc = ve_slices_load_h5_dir(FIX_DIR "/h5", NULL, &set);
    tu_check(rc == VE_OK && set.n == 5 && strstr(set.case_names[0], "case0001"),
             "h5: without a list every .h5, sorted");
    ve_slice_set_free(&set);

    static const char *const bad[][3] = {
        {"label25", "label z=1", "label value 2.5 at row 2, column 3"},
        {"nan", "image z=1", "value inf at row 4, column 5"},
        {"shape", "2 x 8 x 6", "2 x 7 x 6"},
        {"nolabel", "no dataset 'label'", NULL},
        {"flat", "2 dimensions", NULL},
        {"nothdf5", "not HDF5", NULL},
    };
    broken_files(ve_slices_load_h5_dir, "h5", ".npy.h5", bad, sizeof bad / sizeof *bad);
    expect_fail(ve_slices_load_h5_dir(FIX_DIR "/npz", NULL, &set), &set, "h5: empty folder",
                "no .h5 files", NULL);
}

/* ---- the brain task's real volumes (DATA.md) ---- */

static void brain_task(void) {
    /* AAL 1..116 -> 8 structures */
    int lut[117] = {0};
    static const int first[] = {1, 17, 19, 29, 31, 43, 57, 71, 79, 91, 117};
    static const int cls[] = {1, 2, 1, 2, 3, 4, 5, 6, 7, 8};
    for (int k = 0; k < 10; k++)
        for (int v = first[k]; v < first[k + 1]; v++)
            lut[v] = cls[k];
    int test[30];
    for (int i = 0; i < 30; i++)
        test[i] = 40 + (i / 10) * 40 + i % 10;
    ve_nifti_slice_opts o = {
        .axis = 2, .slices = test, .n_slices = 30, .label_lut = lut, .lut_len = 117};
    ve_slice_set set;
    int rc = ve_slices_load_nifti(MRICRON "/ch2.nii.gz", MRICRON "/aal.nii.gz", &o, &set);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && set.n == 30 && set.n_cases == 3, "brain: 30 test slices, 3 cases");
    if (rc == VE_OK && set.n == 30) {
        int seen[9] = {0}, ok = set.s[0].h == 217 && set.s[0].w == 181;
        float lo = 1, hi = 0;
        for (int k = 0; k < 30; k++)
            for (int i = 0; i < 217 * 181; i++) {
                ok &= set.s[k].label[i] <= 8;
                if (set.s[k].label[i] <= 8) seen[set.s[k].label[i]]++;
                lo = fminf(lo, set.s[k].image[i]);
                hi = fmaxf(hi, set.s[k].image[i]);
            }
        int classes = 0;
        for (int c = 1; c <= 8; c++)
            classes += seen[c] > 0;
        printf("  brain: %d of 8 structures present in the test slabs, intensities %.3f..%.3f\n",
               classes, lo, hi);
        tu_check(ok && classes >= 6 && lo >= 0 && hi <= 1, "brain: labels 0..8, images in [0, 1]");
    }
    ve_slice_set_free(&set);
}

int main(void) {
    tu_scratch_open("data_slices");
    png_pairs();
    nifti_slices();
    tu_scratch_close();
    if (access(MRICRON "/aal.nii.gz", R_OK) == 0)
        brain_task();
    else
        printf("no %s/aal.nii.gz (mricron-data): brain part skipped\n", MRICRON);
    if (!have_fixtures()) {
        printf("no numpy/h5py files in %s (tests/reference/slice_files.py): part 2 skipped\n",
               FIX_DIR);
        int rc = tu_exit();
        return rc ? rc : 77;
    }
    npz_files();
    h5_files();
    return tu_exit();
}
