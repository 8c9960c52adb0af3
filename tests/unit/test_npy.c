/* NumPy .npy reading and writing (engine/io/npy_*.c).
 *
 * Part 1 needs nothing: write -> read round trips (bit-exact) for awkward shapes, the header's
 * 64-byte alignment, atomic-write failures, and hostile files crafted here (every refusal with
 * its message). It also writes DIR/ours_*.npy + ours_manifest.txt, which the ctest
 * npy_numpy_reads then opens with numpy.load. Part 2 reads the files numpy.save wrote
 * (tests/reference/npy_reference.py, into VE_NPY_DIR): every dtype the reader converts, against
 * its manifest, and numpy's own Fortran-order, object, structured and complex files, which must
 * be refused. Without numpy (no manifest) part 2 is skipped and the test exits 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_NPY_DIR
#define VE_NPY_DIR "npy_files"
#endif

/* Loading path must fail with a message holding the path and the fragment. */
static void expect_load_fails(const char *path, const char *what, const char *frag) {
    ve_npy_array a;
    ve_error_clear();
    int rc = ve_npy_load(path, &a);
    const char *msg = ve_error();
    int ok = rc != VE_OK && strstr(msg, path) && strstr(msg, frag) && !a.data && a.numel == 0;
    printf("  %s: %s\n", what, rc == VE_OK ? "(loaded!)" : msg);
    tu_check(ok, what);
    ve_npy_free(&a);
}

/* A .npy of the given version from a header literal (padded with blanks and '\n' to 64 bytes)
 * and n data bytes (0x3f: 1.0f in '<f4' when aligned). */
static void write_npy_raw(const char *path, int major, const char *dict, size_t data_bytes) {
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    while ((pre + hl) % 64)
        hl++;
    size_t n = pre + hl + data_bytes;
    uint8_t *b = calloc(1, n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    for (size_t k = 0; k < pre - 8; k++)
        b[8 + k] = (uint8_t)(hl >> (8 * k));
    memset(b + pre, ' ', hl);
    memcpy(b + pre, dict, strlen(dict));
    b[pre + hl - 1] = '\n';
    for (size_t k = 0; k < data_bytes; k += 4) {
        float one = 1.0f;
        memcpy(b + pre + hl + k, &one, data_bytes - k < 4 ? data_bytes - k : 4);
    }
    tu_write_file(path, b, n);
    free(b);
}

static void round_trips(uint64_t *rng, FILE *manifest) {
    static const int64_t shapes[][9] = {
        /* ndim, dims... */
        {0},         {1, 1},          {1, 7},
        {2, 3, 5},   {2, 1, 13},      {3, 2, 1, 3},
        {2, 0, 4},   {4, 3, 1, 2, 5}, {8, 2, 1, 2, 1, 3, 1, 2, 1},
        {2, 97, 61}, {1, 300000},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int nd = (int)shapes[s][0];
        const int64_t *shape = &shapes[s][1];
        size_t n = 1;
        for (int d = 0; d < nd; d++)
            n *= (size_t)shape[d];
        float *x = tu_rand(rng, n ? n : 1, -3.0f, 3.0f);
        char name[64], what[96];
        snprintf(name, sizeof name, "ours_%zu.npy", s);
        char *path = tu_scratch_path(name);
        snprintf(what, sizeof what, "round trip %dD (%zu elements)", nd, n);
        int rc = ve_npy_write_f32(path, nd, shape, x);
        ve_npy_array a;
        int rc2 = rc == VE_OK ? ve_npy_load(path, &a) : VE_FAIL;
        int ok = rc == VE_OK && rc2 == VE_OK && a.ndim == nd && a.numel == (int64_t)n &&
                 !strcmp(a.descr, "<f4") && (n == 0 || !memcmp(a.data, x, n * sizeof *x));
        for (int d = 0; ok && d < nd; d++)
            ok = a.shape[d] == shape[d];
        /* numpy writes the data 64-byte aligned: so do we */
        long size = tu_file_size(path);
        ok = ok && size > 0 && (size - (long)(n * 4)) % 64 == 0;
        if (!ok) printf("  %s: %s\n", what, rc == VE_OK && rc2 == VE_OK ? "mismatch" : ve_error());
        tu_check(ok, what);
        if (rc2 == VE_OK) ve_npy_free(&a);
        /* for numpy.load: copy into the shared directory with its sum */
        if (manifest) {
            char dst[512];
            snprintf(dst, sizeof dst, "%s/%s", VE_NPY_DIR, name);
            if (ve_npy_write_f32(dst, nd, shape, x) == VE_OK) {
                double sum = 0;
                for (size_t i = 0; i < n; i++)
                    sum += x[i];
                fprintf(manifest, "%s %d ", name, nd);
                for (int d = 0; d < nd; d++)
                    fprintf(manifest, d ? ",%lld" : "%lld", (long long)shape[d]);
                fprintf(manifest, "%s %.17g\n", nd ? "" : "-", sum);
            } else {
                tu_check(0, ve_error());
            }
        }
        free(x);
    }
}

static void write_failures(void) {
    /* a failed write leaves the existing file and no temporary */
    char *path = tu_scratch_path("keep.npy");
    int64_t shape[2] = {2, 2};
    float x[4] = {1, 2, 3, 4};
    tu_check(ve_npy_write_f32(path, 2, shape, x) == VE_OK, "write keep.npy");
    long before = tu_file_size(path);
    int64_t bad[2] = {2, -1};
    ve_error_clear();
    int rc = ve_npy_write_f32(path, 2, bad, x);
    printf("  negative dimension: %s\n", ve_error());
    tu_check(rc != VE_OK && strstr(ve_error(), "dimension 1") && tu_file_size(path) == before &&
                 access(tu_scratch_path("keep.npy.tmp"), F_OK) != 0,
             "write refuses a negative dimension and keeps the old file");
    rc = ve_npy_write_f32(path, 9, shape, x);
    tu_check(rc != VE_OK && strstr(ve_error(), "9 dimensions"), "write refuses 9 dimensions");
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.npy", tu_scratch_dir());
    ve_error_clear();
    rc = ve_npy_write_f32(missing, 2, shape, x);
    printf("  missing directory: %s\n", ve_error());
    tu_check(rc != VE_OK && strstr(ve_error(), "cannot create") && strstr(ve_error(), missing),
             "write into a missing directory");
}

static void hostile_files(void) {
    expect_load_fails(tu_scratch_path("nope.npy"), "missing file", "cannot open");
    tu_write_file(tu_scratch_path("short.npy"), "\x93NUMPY\x01", 7);
    expect_load_fails(tu_scratch_path("short.npy"), "truncated preamble", "too short");
    tu_write_file(tu_scratch_path("text.npy"), "hello, this is not numpy at all", 31);
    expect_load_fails(tu_scratch_path("text.npy"), "not npy", "magic");
    const char *ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    write_npy_raw(tu_scratch_path("v4.npy"), 4, ok_dict, 24);
    expect_load_fails(tu_scratch_path("v4.npy"), "version 4.0", "version 4.0");
    /* version 2.0 with a 4-byte header length is fine */
    write_npy_raw(tu_scratch_path("v2.npy"), 2, ok_dict, 24);
    ve_npy_array a;
    int rc = ve_npy_load(tu_scratch_path("v2.npy"), &a);
    tu_check(rc == VE_OK && a.numel == 6 && a.data[5] == 1.0f, "version 2.0 header");
    if (rc == VE_OK)
        ve_npy_free(&a);
    else
        printf("  v2: %s\n", ve_error());
    write_npy_raw(tu_scratch_path("trunc.npy"), 1, ok_dict, 23);
    expect_load_fails(tu_scratch_path("trunc.npy"), "truncated data", "truncated");
    write_npy_raw(tu_scratch_path("trail.npy"), 1, ok_dict, 28);
    expect_load_fails(tu_scratch_path("trail.npy"), "trailing bytes", "4 unexpected bytes");
    struct {
        const char *name, *dict, *frag;
    } bad[] = {
        {"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran"},
        {"object", "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", "object"},
        {"structured", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
         "structured"},
        {"half", "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", "'<f2'"},
        {"unicode", "{'descr': '<U4', 'fortran_order': False, 'shape': (2, 3), }", "'<U4'"},
        {"wide byte order", "{'descr': '|i4', 'fortran_order': False, 'shape': (2, 3), }", "'|i4'"},
        {"unknown key", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}",
         "unexpected key 'x'"},
        {"duplicate key", "{'descr': '<f4', 'descr': '<f4', 'shape': (6,)}", "twice"},
        {"missing key", "{'descr': '<f4', 'shape': (6,)}", "'fortran_order' missing"},
        {"shape not a tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
         "not a tuple"},
        {"negative shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}",
         "non-negative integer"},
        {"huge shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536)}", "2^31"},
        {"fortran_order word", "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}",
         "True or False"},
        {"escape", "{'descr': '<f\\4', 'fortran_order': False, 'shape': (6,)}", "escape"},
        {"garbage after dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",
         "after the dictionary"},
        {"unterminated", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", "expected"},
        {"not a dict", "['descr', '<f4']", "'{' expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad%zu.npy", i);
        write_npy_raw(tu_scratch_path(name), 1, bad[i].dict, 24);
        expect_load_fails(tu_scratch_path(name), bad[i].name, bad[i].frag);
    }
    /* a header length past the end of the file */
    uint8_t b[16] = "\x93NUMPY\x01\x00\xff\xff{}";
    tu_write_file(tu_scratch_path("hlen.npy"), b, 12);
    expect_load_fails(tu_scratch_path("hlen.npy"), "header length past the end", "runs past the end");
    uint8_t b2[16] = "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}";
    tu_write_file(tu_scratch_path("hlen2.npy"), b2, 14);
    expect_load_fails(tu_scratch_path("hlen2.npy"), "header length 2 GiB", "at most 1 MiB");
}

/* Part 2: numpy.save's files against their manifest. Returns 0 when there is none. */
static int numpy_files(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.txt", VE_NPY_DIR);
    FILE *m = fopen(path, "r");
    if (!m) {
        printf("SKIP part 2: %s missing (no python3-numpy?)\n", path);
        return 0;
    }
    char line[1024];
    int count = 0;
    while (fgets(line, sizeof line, m)) {
        char name[64], shape_s[128];
        int nd, pos = 0;
        double sum;
        if (sscanf(line, "%63s %d %127s %lf%n", name, &nd, shape_s, &sum, &pos) != 4) continue;
        char file[600], what[128];
        snprintf(file, sizeof file, "%s/numpy_%s.npy", VE_NPY_DIR, name);
        snprintf(what, sizeof what, "numpy.save %s", name);
        ve_npy_array a;
        if (ve_npy_load(file, &a) != VE_OK) {
            printf("  %s: %s\n", what, ve_error());
            tu_check(0, what);
            continue;
        }
        int ok = a.ndim == nd;
        char *sp = shape_s;
        for (int d = 0; d < nd && ok; d++) {
            ok = strtoll(sp, &sp, 10) == a.shape[d];
            if (*sp == ',') sp++;
        }
        double got = 0;
        for (int64_t i = 0; i < a.numel; i++)
            got += a.data[i];
        /* the manifest sums float64 values; ours sums their float32 conversions */
        ok = ok && fabs(got - sum) <= 1e-5 * fmax(1.0, fabs(sum));
        char *vp = line + pos;
        for (int64_t i = 0; i < a.numel && i < 4 && ok; i++)
            ok = a.data[i] == (float)strtod(vp, &vp);
        printf("  %s (%s): %d-D, %lld elements, sum %.9g vs %.9g %s\n", what, a.descr, a.ndim,
               (long long)a.numel, got, sum, ok ? "ok" : "MISMATCH");
        tu_check(ok, what);
        ve_npy_free(&a);
        count++;
    }
    fclose(m);
    tu_check(count >= 14, "numpy manifest lists every dtype");
    static const char *refused[][2] = {{"fortran", "Fortran"},
                                       {"object", "object"},
                                       {"structured", "structured"},
                                       {"complex", "'<c8' is not supported"}};
    for (int i = 0; i < 4; i++) {
        char file[600], what[64];
        snprintf(file, sizeof file, "%s/numpy_bad_%s.npy", VE_NPY_DIR, refused[i][0]);
        snprintf(what, sizeof what, "numpy.save %s refused", refused[i][0]);
        expect_load_fails(file, what, refused[i][1]);
    }
    return 1;
}

int main(void) {
    tu_scratch_open("npy");
    uint64_t rng = tu_seed(11);
    mkdir(VE_NPY_DIR, 0755);
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/ours_manifest.txt", VE_NPY_DIR);
    FILE *manifest = fopen(mpath, "w");
    if (!manifest) printf("note: cannot write %s; numpy will not check our files\n", mpath);
    round_trips(&rng, manifest);
    if (manifest) fclose(manifest);
    write_failures();
    hostile_files();
    int have = numpy_files();
    tu_scratch_close();
    int rc = tu_exit();
    return rc == 0 && !have ? 77 : rc;
}
