/* NIfTI-1 label writing (engine/io/nifti_write.c): source volumes with a non-trivial geometry
 * (qfac -1, anisotropic pixdim, rotated qform and sform, offsets, descrip) are written here by
 * hand in both byte orders, loaded, and labels written with their geometry as .nii and .nii.gz;
 * reading back checks the values, dims, pixdim, the uint8 fields and every geometry byte. Also
 * NULL geometry (1 mm identity), a dimension mismatch, and a missing directory (message names the
 * path, nothing left behind). The files stay in VE_NIFTI_OUT_DIR with pairs.txt so that a ctest
 * check (tests/metrics_tests.cmake) re-reads the headers with python's struct and gzip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/nifti.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_NIFTI_OUT_DIR
#define VE_NIFTI_OUT_DIR "nifti_write_files"
#endif

enum { NX = 7, NY = 5, NZ = 4 };

static void put(uint8_t *p, const void *v, int n, int big) {
    const uint8_t *q = v;
    for (int k = 0; k < n; k++)
        p[k] = q[big ? n - 1 - k : k];
}

static void put16(uint8_t *p, int v, int big) {
    int16_t x = (int16_t)v;
    put(p, &x, 2, big);
}

static void putf(uint8_t *p, float v, int big) {
    put(p, &v, 4, big);
}

/* A float32 source volume with a rotated, offset, anisotropic geometry. */
static void write_source(const char *path, int big) {
    uint8_t b[352 + NX * NY * NZ * 4] = {0};
    int32_t sz = 348;
    put(b, &sz, 4, big);
    put16(b + 40, 3, big);
    const int dims[7] = {NX, NY, NZ, 1, 1, 1, 1};
    for (int d = 0; d < 7; d++)
        put16(b + 42 + 2 * d, dims[d], big);
    put16(b + 70, VE_NIFTI_FLOAT32, big);
    put16(b + 72, 32, big);
    const float pixdim[8] = {-1.0f, 0.9f, 1.1f, 2.5f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int k = 0; k < 8; k++)
        putf(b + 76 + 4 * k, pixdim[k], big);
    putf(b + 108, 352.0f, big);
    b[123] = 10; /* mm + sec */
    memcpy(b + 148, "source geometry", 16);
    put16(b + 252, 1, big); /* qform_code scanner */
    put16(b + 254, 4, big); /* sform_code MNI */
    const float q[6] = {0.1f, -0.2f, 0.3f, -90.5f, 126.25f, -72.0f};
    for (int k = 0; k < 6; k++)
        putf(b + 256 + 4 * k, q[k], big);
    const float srow[12] = {-0.9f,  0.01f,   0.0f, 90.0f, 0.02f, 1.1f,
                            -0.03f, -126.0f, 0.0f, 0.04f, 2.5f,  -72.0f};
    for (int k = 0; k < 12; k++)
        putf(b + 280 + 4 * k, srow[k], big);
    memcpy(b + 344, "n+1", 4);
    for (int i = 0; i < NX * NY * NZ; i++)
        putf(b + 352 + 4 * i, (float)i * 0.5f, big);
    tu_write_file(path, b, sizeof b);
}

/* The geometry bytes of two headers as little-endian values: pixdim, xyzt_units, descrip,
 * qform/sform codes, quatern, qoffset, srow. */
static int same_geometry(const ve_volume *a, const ve_volume *b) {
    static const int fields[][3] = {
        {76, 8, 4}, {123, 1, 1}, {148, 80, 1}, {252, 2, 2}, {256, 18, 4}};
    for (int f = 0; f < 5; f++)
        for (int e = 0; e < fields[f][1]; e++) {
            int size = fields[f][2], at = fields[f][0] + e * size;
            for (int k = 0; k < size; k++)
                if (a->header[at + (a->byte_swapped ? size - 1 - k : k)] !=
                    b->header[at + (b->byte_swapped ? size - 1 - k : k)])
                    return 0;
        }
    return 1;
}

static float f32_le(const uint8_t *p) {
    uint32_t u = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void round_trip(const ve_volume *src, const char *src_path, const uint8_t *labels,
                       const char *name, FILE *pairs) {
    char out[512], what[600];
    snprintf(out, sizeof out, "%s/%s", VE_NIFTI_OUT_DIR, name);
    const int64_t dim[3] = {NX, NY, NZ};
    int rc = ve_nifti_write_labels(out, src, labels, dim);
    snprintf(what, sizeof what, "write %s", name);
    tu_check(rc == VE_OK, what);
    if (rc != VE_OK) {
        fprintf(stderr, "  %s\n", ve_error());
        return;
    }
    ve_volume v;
    rc = ve_nifti_load(out, &v);
    snprintf(what, sizeof what, "read back %s", name);
    tu_check(rc == VE_OK, what);
    if (rc != VE_OK) return;
    int same = v.dim[0] == NX && v.dim[1] == NY && v.dim[2] == NZ && v.datatype == VE_NIFTI_UINT8;
    for (int i = 0; i < NX * NY * NZ; i++)
        same &= v.data[i] == (float)labels[i];
    snprintf(what, sizeof what, "%s: dims, uint8, values", name);
    tu_check(same, what);
    snprintf(what, sizeof what, "%s: pixdim and spacing", name);
    tu_check(!memcmp(v.pixdim, src->pixdim, sizeof v.pixdim) &&
                 !memcmp(v.spacing, src->spacing, sizeof v.spacing),
             what);
    snprintf(what, sizeof what, "%s: every geometry field equals the source's", name);
    tu_check(same_geometry(&v, src), what);
    const uint8_t *h = v.header;
    snprintf(what, sizeof what,
             "%s: little-endian, bitpix 8, slope 1, inter 0, cal 0..3, "
             "vox_offset 352",
             name);
    tu_check(!v.byte_swapped && h[72] == 8 && f32_le(h + 112) == 1.0f && f32_le(h + 116) == 0.0f &&
                 f32_le(h + 128) == 0.0f && f32_le(h + 124) == 3.0f && f32_le(h + 108) == 352.0f,
             what);
    if (pairs) fprintf(pairs, "%s %s\n", src_path, out);
    ve_volume_free(&v);
}

static void test_round_trips(const uint8_t *labels, FILE *pairs) {
    for (int big = 0; big < 2; big++) {
        char src_path[512], name[64];
        snprintf(src_path, sizeof src_path, "%s/source_%s.nii", VE_NIFTI_OUT_DIR,
                 big ? "be" : "le");
        write_source(src_path, big);
        ve_volume src;
        if (ve_nifti_load(src_path, &src) != VE_OK) {
            tu_check(0, ve_error());
            continue;
        }
        tu_check(src.byte_swapped == big && fabsf(src.pixdim[0] + 1.0f) == 0.0f,
                 "source loaded with its header");
        for (int gz = 0; gz < 2; gz++) {
            snprintf(name, sizeof name, "labels_%s.nii%s", big ? "be" : "le", gz ? ".gz" : "");
            round_trip(&src, src_path, labels, name, pairs);
        }
        ve_volume_free(&src);
    }
    /* the .gz file really is gzip, the .nii not */
    char path[512];
    snprintf(path, sizeof path, "%s/labels_le.nii.gz", VE_NIFTI_OUT_DIR);
    FILE *f = fopen(path, "rb");
    uint8_t magic[2] = {0};
    if (f) {
        tu_check(fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b,
                 ".nii.gz starts with the gzip magic");
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/labels_le.nii", VE_NIFTI_OUT_DIR);
    tu_check(tu_file_size(path) == 352 + NX * NY * NZ, ".nii is 352 + voxels bytes");
}

static void test_defaults_and_failures(const uint8_t *labels) {
    const int64_t dim[3] = {NX, NY, NZ};
    char out[512];
    snprintf(out, sizeof out, "%s/identity.nii", VE_NIFTI_OUT_DIR);
    ve_volume v;
    int ok =
        ve_nifti_write_labels(out, NULL, labels, dim) == VE_OK && ve_nifti_load(out, &v) == VE_OK;
    tu_check(ok, "NULL geometry: written and read");
    if (ok) {
        const uint8_t *h = v.header;
        tu_check(v.spacing[0] == 1.0f && v.spacing[1] == 1.0f && v.spacing[2] == 1.0f &&
                     v.pixdim[0] == 1.0f && v.xyzt_units == 2 && h[252] == 1 && h[254] == 1 &&
                     f32_le(h + 280) == 1.0f && f32_le(h + 300) == 1.0f &&
                     f32_le(h + 320) == 1.0f && f32_le(h + 284) == 0.0f && f32_le(h + 292) == 0.0f,
                 "NULL geometry: 1 mm, codes 1, identity srow");
        ve_volume_free(&v);
    }
    /* geometry source of another size */
    ve_volume src = {0};
    src.dim[0] = NX;
    src.dim[1] = NY + 1;
    src.dim[2] = NZ;
    snprintf(out, sizeof out, "%s/mismatch.nii", VE_NIFTI_OUT_DIR);
    tu_check(ve_nifti_write_labels(out, &src, labels, dim) == VE_FAIL &&
                 strstr(ve_error(), "mismatch.nii") && strstr(ve_error(), "geometry source") &&
                 tu_file_size(out) < 0,
             "dimension mismatch refused, names the file, writes nothing");
    /* missing directory */
    snprintf(out, sizeof out, "%s/no_such_dir/x.nii.gz", VE_NIFTI_OUT_DIR);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    tu_check(ve_nifti_write_labels(out, NULL, labels, dim) == VE_FAIL && strstr(ve_error(), out) &&
                 tu_file_size(out) < 0 && tu_file_size(tmp) < 0,
             "missing directory: error names the path, nothing left");
    const int64_t bad[3] = {NX, 0, NZ};
    tu_check(ve_nifti_write_labels(out, NULL, labels, bad) == VE_FAIL &&
                 strstr(ve_error(), "dimension 1"),
             "zero dimension refused");
    tu_check(ve_nifti_write_labels(out, NULL, NULL, dim) == VE_FAIL, "NULL labels refused");
    /* a failed write over an existing file leaves it as it was */
    snprintf(out, sizeof out, "%s/identity.nii", VE_NIFTI_OUT_DIR);
    long before = tu_file_size(out);
    tu_check(ve_nifti_write_labels(out, NULL, labels, bad) == VE_FAIL &&
                 tu_file_size(out) == before,
             "failed write keeps the existing file");
}

int main(void) {
    mkdir(VE_NIFTI_OUT_DIR, 0755);
    uint8_t labels[NX * NY * NZ];
    for (int i = 0; i < NX * NY * NZ; i++)
        labels[i] = (uint8_t)((i * 7 + i / 5) % 4);
    char pairs_path[512];
    snprintf(pairs_path, sizeof pairs_path, "%s/pairs.txt", VE_NIFTI_OUT_DIR);
    FILE *pairs = fopen(pairs_path, "w");
    if (!pairs) printf("note: cannot write %s; python will not check the headers\n", pairs_path);
    test_round_trips(labels, pairs);
    if (pairs) fclose(pairs);
    test_defaults_and_failures(labels);
    return tu_exit();
}
