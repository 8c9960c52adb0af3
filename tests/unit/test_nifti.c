/* NIfTI-1 reading (engine/io/nifti.c, byte_stream.c, nifti_slice.c).
 *
 * Part 1 needs nothing: tiny volumes written here (every datatype, scl_slope/scl_inter, either
 * byte order, an extension before vox_offset, gzip via zlib's gzwrite), 2-D slices along each
 * axis, and every refusal with its message (missing file, truncated header, wrong sizeof_hdr,
 * NIfTI-2, two-file "ni1", unknown datatype, data beyond the file, truncated and corrupt .gz).
 * Part 2 reads Debian's real volumes (mricron-data: ch2 and the AAL atlas;
 * insighttoolkit5-examples: KmeansTest) and checks the known facts (DATA.md). Without those
 * packages part 2 is skipped and the test exits 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "io/nifti.h"
#include "status.h"
#include "test_util.h"

#define MRICRON "/usr/share/mricron/templates"
#define ITK_DATA "/usr/share/doc/insighttoolkit5-examples/examples/Data"

/* ---- writing test volumes ---- */

typedef struct {
    int sizeof_hdr, ndim, dim[7], datatype, bitpix;
    float vox_offset, slope, inter, pixdim[3];
    const char *magic;
    int big; /* big-endian header and data */
} hdr_spec;

static hdr_spec spec(int nx, int ny, int nz, int datatype, int bytes) {
    hdr_spec s = {348,   3, {nx, ny, nz, 1, 1, 1, 1}, datatype, 8 * bytes, 352, 0, 0, {1, 1, 1},
                  "n+1", 0};
    return s;
}

static void put(uint8_t *p, const void *v, int n, int big) {
    const uint8_t *q = v;
    for (int k = 0; k < n; k++)
        p[k] = q[big ? n - 1 - k : k];
}

static void put16(uint8_t *p, int v, int big) {
    int16_t x = (int16_t)v;
    put(p, &x, 2, big);
}

static void put32(uint8_t *p, int32_t v, int big) {
    put(p, &v, 4, big);
}

static void putf(uint8_t *p, float v, int big) {
    put(p, &v, 4, big);
}

/* The header, then (vox_offset - 348) bytes of extension filler, then the voxel bytes given in
 * little-endian (swapped per element of elem bytes when big). */
static uint8_t *build(const hdr_spec *s, const void *data, size_t data_bytes, int elem, size_t *n) {
    size_t off = isfinite(s->vox_offset) && s->vox_offset >= 348 ? (size_t)s->vox_offset : 352;
    *n = off + data_bytes;
    uint8_t *b = calloc(1, *n);
    put32(b, s->sizeof_hdr, s->big);
    put16(b + 40, s->ndim, s->big);
    for (int d = 0; d < 7; d++)
        put16(b + 42 + 2 * d, s->dim[d], s->big);
    put16(b + 70, s->datatype, s->big);
    put16(b + 72, s->bitpix, s->big);
    putf(b + 76, -1.0f, s->big); /* qfac */
    for (int d = 0; d < 3; d++)
        putf(b + 80 + 4 * d, s->pixdim[d], s->big);
    putf(b + 108, s->vox_offset, s->big);
    putf(b + 112, s->slope, s->big);
    putf(b + 116, s->inter, s->big);
    b[123] = 2; /* mm */
    memcpy(b + 344, s->magic, strlen(s->magic) + 1 > 4 ? 4 : strlen(s->magic) + 1);
    for (size_t k = 348; k < off; k++)
        b[k] = (uint8_t)(0xA5 ^ k); /* an extension's bytes: must be skipped */
    const uint8_t *d = data;
    for (size_t k = 0; k < data_bytes; k += (size_t)elem)
        for (int j = 0; j < elem && k + (size_t)j < data_bytes; j++)
            b[off + k + (size_t)j] = d[k + (size_t)(s->big ? elem - 1 - j : j)];
    return b;
}

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile g = gzopen(path, "wb6");
    if (!g || gzwrite(g, data, (unsigned)n) != (int)n || gzclose(g) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void write_nii(const char *path, const hdr_spec *s, const void *data, size_t bytes, int elem,
                      int gz) {
    size_t n;
    uint8_t *b = build(s, data, bytes, elem, &n);
    if (gz)
        write_gz(path, b, n);
    else
        tu_write_file(path, b, n);
    free(b);
}

/* Loading path must fail with a message holding the path and the fragment. */
static void expect_load_fails(const char *path, const char *what, const char *frag) {
    ve_volume v;
    ve_error_clear();
    int rc = ve_nifti_load(path, &v);
    const char *msg = ve_error();
    int ok = rc != VE_OK && strstr(msg, path) && strstr(msg, frag) && !v.data;
    printf("  %s: %s\n", what, rc == VE_OK ? "(loaded!)" : msg);
    tu_check(ok, what);
    ve_volume_free(&v);
}

/* ---- part 1 ---- */

/* One datatype: 5 x 4 x 3 voxels of values chosen for the type (negative ones for signed
 * types, beyond 16 bits for the 32-bit ones), each stored and read back. */
static void datatypes(void) {
    struct {
        int code, bytes;
        const char *name;
    } types[] = {{2, 1, "uint8"}, {256, 1, "int8"},   {4, 2, "int16"},    {512, 2, "uint16"},
                 {8, 4, "int32"}, {768, 4, "uint32"}, {16, 4, "float32"}, {64, 8, "float64"}};
    enum { NX = 5, NY = 4, NZ = 3, N = NX * NY * NZ };
    for (int t = 0; t < 8; t++) {
        for (int variant = 0; variant < 4; variant++) {
            /* 0 plain; 1 scaled (slope 2.5, inter -3); 2 big-endian; 3 gzip with an extension
             * and slope 0 (inter must then be ignored) */
            uint8_t raw[N * 8];
            float want[N];
            for (int i = 0; i < N; i++) {
                double x;
                switch (types[t].code) {
                case 2:
                    x = (i * 37) % 256;
                    break;
                case 256:
                    x = (i * 37) % 256 - 128;
                    break;
                case 4:
                    x = (i * 1237) % 65536 - 32768;
                    break;
                case 512:
                    x = (i * 1237) % 65536;
                    break;
                case 8:
                    x = (double)i * 1000003 - 30000000;
                    break;
                case 768:
                    x = (double)i * 70000001;
                    break;
                default:
                    x = (i - 29) * 0.37;
                    break;
                }
                int64_t iv = (int64_t)x;
                float fv = (float)x;
                if (types[t].code == 16) x = fv; /* what the file holds */
                double dv = x;
                if (types[t].code == 16)
                    memcpy(raw + 4 * i, &fv, 4);
                else if (types[t].code == 64)
                    memcpy(raw + 8 * i, &dv, 8);
                else
                    memcpy(raw + (size_t)types[t].bytes * (size_t)i, &iv, (size_t)types[t].bytes);
                double y = variant == 1 ? x * 2.5 - 3.0 : x;
                want[i] = (float)y;
            }
            hdr_spec s = spec(NX, NY, NZ, types[t].code, types[t].bytes);
            s.pixdim[0] = 0.5f;
            s.pixdim[1] = -2.0f; /* spacing is the magnitude */
            s.pixdim[2] = 0.0f;  /* unusable: spacing 1 */
            if (variant == 1) s.slope = 2.5f, s.inter = -3.0f;
            if (variant == 2) s.big = 1;
            if (variant == 3) s.vox_offset = 400, s.slope = 0.0f, s.inter = 5.0f;
            char name[64], what[96];
            snprintf(name, sizeof name, "t%d_%d.nii%s", t, variant, variant == 3 ? ".gz" : "");
            static const char *vname[] = {"plain", "scaled", "big-endian", "gzip+extension"};
            snprintf(what, sizeof what, "%s %s", types[t].name, vname[variant]);
            write_nii(tu_scratch_path(name), &s, raw, (size_t)N * (size_t)types[t].bytes,
                      types[t].bytes, variant == 3);
            ve_volume v;
            int rc = ve_nifti_load(tu_scratch_path(name), &v);
            int ok = rc == VE_OK && v.dim[0] == NX && v.dim[1] == NY && v.dim[2] == NZ &&
                     v.datatype == types[t].code && v.byte_swapped == (variant == 2) &&
                     v.spacing[0] == 0.5f && v.spacing[1] == 2.0f && v.spacing[2] == 1.0f &&
                     v.pixdim[2] == -2.0f && v.xyzt_units == 2;
            if (ok)
                ok = tu_close(what, v.data, want, N, 1e-7, 1e-6) &&
                     memcmp(v.data, want, sizeof want) == 0;
            else
                printf("  %s: %s\n", what, rc == VE_OK ? "metadata mismatch" : ve_error());
            tu_check(ok, what);
            ve_volume_free(&v);
        }
    }
}

/* value = x + 100 y + 10000 z, so every voxel says where it came from */
static void slices_and_dims(void) {
    enum { NX = 7, NY = 5, NZ = 4, N = NX * NY * NZ };
    float raw[N];
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++)
                raw[(z * NY + y) * NX + x] = (float)(x + 100 * y + 10000 * z);
    hdr_spec s = spec(NX, NY, NZ, 16, 4);
    write_nii(tu_scratch_path("xyz.nii"), &s, raw, sizeof raw, 4, 0);
    /* the same file as two concatenated gzip members (gzip(1) reads them as one stream) */
    size_t n, n1, n2;
    uint8_t *b = build(&s, raw, sizeof raw, 4, &n);
    write_gz(tu_scratch_path("m1.gz"), b, 200);
    write_gz(tu_scratch_path("m2.gz"), b + 200, n - 200);
    uint8_t *g1 = tu_read_file(tu_scratch_path("m1.gz"), &n1),
            *g2 = tu_read_file(tu_scratch_path("m2.gz"), &n2);
    uint8_t *cat = malloc(n1 + n2);
    memcpy(cat, g1, n1);
    memcpy(cat + n1, g2, n2);
    tu_write_file(tu_scratch_path("members.nii.gz"), cat, n1 + n2);
    free(b), free(g1), free(g2), free(cat);
    ve_volume v;
    int rc = ve_nifti_load(tu_scratch_path("members.nii.gz"), &v);
    tu_check(rc == VE_OK && v.dim[0] == NX && !memcmp(v.data, raw, sizeof raw), "two gzip members");
    if (rc != VE_OK) printf("  members: %s\n", ve_error());
    ve_volume_free(&v);

    if (ve_nifti_load(tu_scratch_path("xyz.nii"), &v) != VE_OK) {
        printf("  xyz.nii: %s\n", ve_error());
        tu_check(0, "load xyz.nii");
        return;
    }
    float lo, hi;
    ve_volume_minmax(&v, &lo, &hi);
    tu_check(lo == 0.0f && hi == (float)(NX - 1 + 100 * (NY - 1) + 10000 * (NZ - 1)),
             "min and max");
    for (int axis = 0; axis < 3; axis++) {
        int64_t idx = v.dim[axis] - 2;
        int w = 0, h = 0;
        float *sl = ve_volume_slice(&v, axis, idx, &w, &h);
        int ew = axis == 0 ? NY : NX, eh = axis == 2 ? NY : NZ;
        int ok = sl && w == ew && h == eh;
        for (int r = 0; ok && r < h; r++)
            for (int c = 0; ok && c < w; c++) {
                int x = axis == 0 ? (int)idx : c, y = axis == 0 ? c : axis == 1 ? (int)idx : r;
                int z = axis == 2 ? (int)idx : r;
                ok = sl[r * w + c] == (float)(x + 100 * y + 10000 * z);
            }
        char what[64];
        snprintf(what, sizeof what, "slice along axis %d", axis);
        tu_check(ok, what);
        free(sl);
    }
    int w, h;
    ve_error_clear();
    tu_check(!ve_volume_slice(&v, 3, 0, &w, &h) && strstr(ve_error(), "axis 3"),
             "slice: bad axis refused");
    tu_check(!ve_volume_slice(&v, 2, NZ, &w, &h) && strstr(ve_error(), "index 4 outside 0..3"),
             "slice: index past the end refused");
    tu_check(!ve_volume_slice(&v, 1, -1, &w, &h) && strstr(ve_error(), "index -1"),
             "slice: negative index refused");
    ve_volume_free(&v);

    /* 2-D file: nz = 1; 4-D with a single volume: accepted */
    hdr_spec s2 = spec(NX, NY, 1, 16, 4);
    s2.ndim = 2;
    write_nii(tu_scratch_path("2d.nii"), &s2, raw, NX * NY * 4, 4, 0);
    rc = ve_nifti_load(tu_scratch_path("2d.nii"), &v);
    tu_check(rc == VE_OK && v.dim[2] == 1 && v.dim[0] == NX && v.data[NX * NY - 1] == 406.0f,
             "2-D file");
    ve_volume_free(&v);
    hdr_spec s4 = spec(NX, NY, NZ, 16, 4);
    s4.ndim = 4;
    write_nii(tu_scratch_path("4d1.nii"), &s4, raw, sizeof raw, 4, 0);
    rc = ve_nifti_load(tu_scratch_path("4d1.nii"), &v);
    tu_check(rc == VE_OK && v.dim[2] == NZ && v.data[N - 1] == raw[N - 1], "4-D, one volume");
    ve_volume_free(&v);
    s4.dim[3] = 2;
    write_nii(tu_scratch_path("4d2.nii"), &s4, raw, sizeof raw, 4, 0);
    expect_load_fails(tu_scratch_path("4d2.nii"), "4-D with 2 volumes", "only 3-D volumes");
}

static void hostile(void) {
    enum { N = 4 * 3 * 2 };
    uint8_t raw[N * 4] = {0};
    hdr_spec good = spec(4, 3, 2, 16, 4);
    expect_load_fails(tu_scratch_path("nope.nii"), "missing file", "cannot open");
    size_t n;
    uint8_t *b = build(&good, raw, sizeof raw, 4, &n);
    tu_write_file(tu_scratch_path("short.nii"), b, 100);
    expect_load_fails(tu_scratch_path("short.nii"), "truncated header",
                      "shorter than the 348-byte");
    write_gz(tu_scratch_path("short.nii.gz"), b, 200);
    expect_load_fails(tu_scratch_path("short.nii.gz"), "truncated header (gzip)",
                      "reading the 348-byte header");
    tu_write_file(tu_scratch_path("cut.nii"), b, n - 1);
    expect_load_fails(tu_scratch_path("cut.nii"), "data beyond the end of the file", "truncated?");
    write_gz(tu_scratch_path("cut.nii.gz"), b, n - 5);
    expect_load_fails(tu_scratch_path("cut.nii.gz"), "data beyond the end of the gzip stream",
                      "decompressed data ends");
    free(b);

    /* a .nii.gz cut short: half of it, and only its 8-byte trailer */
    write_nii(tu_scratch_path("whole.nii.gz"), &good, raw, sizeof raw, 4, 1);
    uint8_t *gz = tu_read_file(tu_scratch_path("whole.nii.gz"), &n);
    tu_write_file(tu_scratch_path("half.nii.gz"), gz, n / 2);
    expect_load_fails(tu_scratch_path("half.nii.gz"), "truncated .gz", "truncated .gz?");
    tu_write_file(tu_scratch_path("notrailer.nii.gz"), gz, n - 8);
    expect_load_fails(tu_scratch_path("notrailer.nii.gz"), "truncated .gz trailer",
                      "truncated .gz?");
    gz[n - 6] ^= 0xff; /* the CRC */
    tu_write_file(tu_scratch_path("crc.nii.gz"), gz, n);
    expect_load_fails(tu_scratch_path("crc.nii.gz"), "gzip CRC mismatch", "corrupt gzip data");
    free(gz);

    struct {
        const char *name, *frag;
        hdr_spec s;
    } bad[] = {
        {"wrong sizeof_hdr", "sizeof_hdr is 123, not 348", good},
        {"NIfTI-2", "NIfTI-2", good},
        {"two-file ni1", "two-file NIfTI", good},
        {"no magic (ANALYZE)", "no NIfTI-1 magic", good},
        {"unknown datatype (RGB)", "datatype 128 is not supported", good},
        {"unknown datatype (complex)", "datatype 32 is not supported", good},
        {"bitpix mismatch", "bitpix 16 does not match datatype 16", good},
        {"dim[0] = 0", "dim[0] is 0", good},
        {"dim[0] = 8", "dim[0] is 8", good},
        {"zero dimension", "dim[2] is 0", good},
        {"negative dimension", "dim[1] is -4", good},
        {"too many voxels", "more than 2^30", good},
        {"vox_offset below 348", "vox_offset 0", good},
        {"fractional vox_offset", "vox_offset 352.5", good},
        {"NaN vox_offset", "vox_offset nan", good},
    };
    bad[0].s.sizeof_hdr = 123;
    bad[1].s.sizeof_hdr = 540;
    bad[2].s.magic = "ni1";
    bad[3].s.magic = "";
    bad[4].s.datatype = 128, bad[4].s.bitpix = 24;
    bad[5].s.datatype = 32, bad[5].s.bitpix = 64;
    bad[6].s.bitpix = 16;
    bad[7].s.ndim = 0;
    bad[8].s.ndim = 8;
    bad[9].s.dim[1] = 0;
    bad[10].s.dim[0] = -4;
    bad[11].s.dim[0] = bad[11].s.dim[1] = bad[11].s.dim[2] = 32767;
    bad[12].s.vox_offset = 0;
    bad[13].s.vox_offset = 352.5f;
    bad[14].s.vox_offset = NAN;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad%zu.nii", i);
        write_nii(tu_scratch_path(name), &bad[i].s, raw, sizeof raw, 4, 0);
        expect_load_fails(tu_scratch_path(name), bad[i].name, bad[i].frag);
    }
    /* gzip garbage: the magic, then nonsense */
    uint8_t junk[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int k = 10; k < 64; k++)
        junk[k] = (uint8_t)(k * 77);
    tu_write_file(tu_scratch_path("junk.nii.gz"), junk, sizeof junk);
    expect_load_fails(tu_scratch_path("junk.nii.gz"), "corrupt gzip", "corrupt gzip data");
    tu_write_file(tu_scratch_path("empty.nii"), "", 0);
    expect_load_fails(tu_scratch_path("empty.nii"), "empty file", "shorter than the 348-byte");
}

/* ---- part 2: real volumes ---- */

static int have_file(const char *path) {
    return access(path, R_OK) == 0;
}

static void real_volume(const char *path, int64_t nx, int64_t ny, int64_t nz, int datatype,
                        float lo, float hi, double sum, float spacing_y) {
    ve_volume v;
    if (ve_nifti_load(path, &v) != VE_OK) {
        printf("  %s\n", ve_error());
        tu_check(0, path);
        return;
    }
    float a, b;
    ve_volume_minmax(&v, &a, &b);
    double s = 0;
    int integral = 1;
    for (int64_t i = 0; i < ve_volume_voxels(&v); i++) {
        s += v.data[i];
        integral &= v.data[i] == floorf(v.data[i]);
    }
    int ok = v.dim[0] == nx && v.dim[1] == ny && v.dim[2] == nz && v.datatype == datatype &&
             a == lo && b == hi && s == sum && integral && v.spacing[1] == spacing_y;
    printf("  %s: %lld x %lld x %lld, datatype %d, %g..%g, sum %.0f, spacing %g %g %g %s\n", path,
           (long long)v.dim[0], (long long)v.dim[1], (long long)v.dim[2], v.datatype, (double)a,
           (double)b, s, (double)v.spacing[0], (double)v.spacing[1], (double)v.spacing[2],
           ok ? "ok" : "MISMATCH");
    tu_check(ok, path);
    ve_volume_free(&v);
}

/* AAL: labels 0..116, all present; axial slices z = 10..155 carry labels, the others none. */
static void aal_slices(void) {
    ve_volume v;
    if (ve_nifti_load(MRICRON "/aal.nii.gz", &v) != VE_OK) {
        tu_check(0, ve_error());
        return;
    }
    int seen[117] = {0}, bad = 0, first = -1, last = -1;
    for (int64_t z = 0; z < v.dim[2]; z++) {
        int w, h, any = 0;
        float *sl = ve_volume_slice(&v, 2, z, &w, &h);
        if (!sl || w != 181 || h != 217) {
            bad++;
            free(sl);
            continue;
        }
        for (int i = 0; i < w * h; i++) {
            int l = (int)sl[i];
            if (l < 0 || l > 116 || (float)l != sl[i])
                bad++;
            else
                seen[l]++;
            any |= l != 0;
        }
        if (any && first < 0) first = (int)z;
        if (any) last = (int)z;
        free(sl);
    }
    int present = 0;
    for (int l = 0; l < 117; l++)
        present += seen[l] > 0;
    printf("  aal: %d labels present, labelled axial slices z = %d..%d\n", present, first, last);
    tu_check(!bad && present == 117 && first == 10 && last == 155, "AAL labels and slices");
    ve_volume_free(&v);
}

static int real_files(void) {
    int have = 0;
    if (have_file(MRICRON "/ch2.nii.gz") && have_file(MRICRON "/aal.nii.gz")) {
        real_volume(MRICRON "/ch2.nii.gz", 181, 217, 181, 2, 0, 254, 317151210.0, 1.0f);
        real_volume(MRICRON "/aal.nii.gz", 181, 217, 181, 2, 0, 116, 76656511.0, 1.0f);
        aal_slices();
        /* one voxel, located independently with numpy: x 80, y 100, z 90 */
        ve_volume v;
        if (ve_nifti_load(MRICRON "/ch2.nii.gz", &v) == VE_OK) {
            int w, h;
            float *sl = ve_volume_slice(&v, 2, 90, &w, &h);
            tu_check(sl && sl[100 * w + 80] == 42.0f, "ch2 voxel (80, 100, 90)");
            free(sl);
            ve_volume_free(&v);
        }
        have++;
    } else {
        printf("SKIP mricron-data: apt-get install mricron-data\n");
    }
    if (have_file(ITK_DATA "/KmeansTest_T1UCharRaw.nii.gz")) {
        real_volume(ITK_DATA "/KmeansTest_T1UCharRaw.nii.gz", 128, 128, 62, 4, 0, 255, 19533798.0,
                    2.0f);
        real_volume(ITK_DATA "/KmeansTest_T1KmeansPrelimSegmentation.nii.gz", 128, 128, 62, 2, 0, 6,
                    1753763.0, 2.0f);
        have++;
    } else {
        printf("SKIP insighttoolkit5-examples: apt-get install insighttoolkit5-examples\n");
    }
    return have == 2;
}

int main(void) {
    tu_scratch_open("nifti");
    datatypes();
    slices_and_dims();
    hostile();
    int have = real_files();
    tu_scratch_close();
    int rc = tu_exit();
    return rc == 0 && !have ? 77 : rc;
}
