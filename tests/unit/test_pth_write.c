/* Writing `.pth` files (ve_pth_write) and safetensors metadata (ve_safetensors_write_meta,
 * ve_checkpoint_meta).
 *
 * Part 1 needs nothing: round trips through ve_checkpoint_open (names, order, shapes, values,
 * 64-byte aligned data), ZIP64 fields forced on small files, refused input and failed writes that
 * must leave an existing file as it was, and metadata with escapes. Part 2 writes into
 * VE_PTH_EXPORT_DIR the files tests/reference/check_pth_export.py then loads with torch: the
 * formula tensors (compared byte for byte with torch.save), ZIP64 variants, a SAMed LoRA export
 * of the tensors check_pth_export.py prepared (samed/keys.txt + .npy), and metadata. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/io_internal.h" /* ve_pth_write_zip64_at */
#include "io/npy.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_PTH_EXPORT_DIR
#define VE_PTH_EXPORT_DIR "pth_export"
#endif

/* ---- the formula tensors: check_pth_export.py builds the same (FORMULA there) ---- */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[5];
} fspec;

static const fspec k_formula[] = {
    {"w_a_000", 2, {4, 64}},
    {"scalar", 0, {0}},
    {"vec", 1, {70}},
    {"mat", 2, {2, 3}},
    {"décodeur.poids ✓", 3, {3, 4, 5}},
    {"four_d", 4, {2, 3, 4, 5}},
    {"empty", 2, {0, 3}},
    {"big", 2, {300, 256}},
    {"five_d", 5, {2, 1, 3, 1, 2}},
    {"t9", 1, {7}},
    {"t10", 1, {1}},
    {"t11", 2, {3, 3}},
};
#define N_FORMULA ((int)(sizeof k_formula / sizeof k_formula[0]))

/* Exact in f32 (multiples of 1/64 below 16), so python computes the same bits. */
static float formula_value(int t, int64_t k) {
    return (float)((t * 131 + k * 7) % 1000) / 64.0f - 7.8125f;
}

static float *g_formula_data[N_FORMULA];

static void formula(ve_st_tensor *ts) {
    for (int t = 0; t < N_FORMULA; t++) {
        size_t n = tu_numel(k_formula[t].ndim, k_formula[t].shape);
        if (!g_formula_data[t]) {
            g_formula_data[t] = malloc(n * 4 + 4);
            for (size_t k = 0; k < n; k++)
                g_formula_data[t][k] = formula_value(t, (int64_t)k);
        }
        ts[t] = (ve_st_tensor){k_formula[t].name, k_formula[t].ndim, k_formula[t].shape,
                               g_formula_data[t]};
    }
}

/* ---- the metadata: check_pth_export.py expects the same (META there) ---- */
static const char *const k_meta_keys[] = {"step", "rng", "config", "empty", "clé ✓"};
static const char *const k_meta_values[] = {
    "1200",
    "a \"quoted\" \\back\\slash\nnew line\ttab\x01 control /slash",
    "préset: brain ✓ 🧠\nlr: 0.005",
    "",
    "value of a non-ASCII key",
};
#define N_META 5

static int same_file(const char *path, const uint8_t *want, size_t n) {
    size_t m = 0;
    uint8_t *got = tu_read_file(path, &m);
    int same = got && m == n && !memcmp(got, want, n);
    free(got);
    return same;
}

static int tmp_absent(const char *path) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    return access(tmp, F_OK) != 0;
}

/* Reads path back and compares it with ts: format, count, order, shapes, contiguous strides,
 * bit-exact values, 64-byte aligned data. */
static int check_read_back(const char *path, int n, const ve_st_tensor *ts, ve_ckpt_format fmt) {
    ve_checkpoint *ck = ve_checkpoint_open(path);
    if (!ck) {
        printf("  %s\n", ve_error());
        return 0;
    }
    int ok = ve_checkpoint_count(ck) == n && ve_checkpoint_format(ck) == fmt;
    for (int i = 0; ok && i < n; i++) {
        const ve_ckpt_tensor *t = ve_checkpoint_tensor(ck, i);
        ok = !strcmp(t->name, ts[i].name) && t->ndim == ts[i].ndim && t->dtype == VE_CKPT_F32 &&
             ve_checkpoint_find(ck, ts[i].name) == t && t->storage_offset == 0 &&
             (fmt != VE_CKPT_PTH || t->storage_pos % 64 == 0);
        int64_t stride = 1;
        for (int d = t->ndim; ok && d-- > 0;) {
            ok = t->shape[d] == ts[i].shape[d] && (t->numel == 0 || t->strides[d] == stride);
            stride *= t->shape[d];
        }
        float *got = malloc((size_t)t->numel * 4 + 4);
        ok = ok && ve_checkpoint_read_f32(ck, t, got, (size_t)t->numel) == VE_OK &&
             (t->numel == 0 || !memcmp(got, ts[i].data, (size_t)t->numel * 4));
        if (!ok) printf("  %s: tensor %d '%s' differs\n", path, i, ts[i].name);
        free(got);
    }
    ve_checkpoint_close(ck);
    return ok;
}

static void test_round_trip(void) {
    ve_st_tensor ts[N_FORMULA];
    formula(ts);
    const char *path = tu_scratch_path("rt.pth");
    int rc = ve_pth_write(path, N_FORMULA, ts);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK, "pth write");
    tu_check(check_read_back(path, N_FORMULA, ts, VE_CKPT_PTH),
             "pth round trip: names, order, shapes, values, aligned data");
    /* A broken copy must fail the same check: a changed value, a dropped tensor. */
    printf("  (expected to differ:)\n");
    float save = g_formula_data[2][5];
    g_formula_data[2][5] += 1;
    tu_check(!check_read_back(path, N_FORMULA, ts, VE_CKPT_PTH), "round trip check can fail");
    g_formula_data[2][5] = save;
    tu_check(!check_read_back(path, N_FORMULA - 1, ts, VE_CKPT_PTH), "count check can fail");

    /* An empty dict and a single item (SETITEM rather than MARK ... SETITEMS). */
    tu_check(ve_pth_write(path, 0, NULL) == VE_OK && check_read_back(path, 0, ts, VE_CKPT_PTH),
             "pth round trip: empty dict");
    tu_check(ve_pth_write(path, 1, ts + 3) == VE_OK &&
                 check_read_back(path, 1, ts + 3, VE_CKPT_PTH),
             "pth round trip: one tensor");

    /* 1001 tensors: two pickle batches, memo indices past 255, storages sorted as strings. */
    enum { MANY = 1001 };
    ve_st_tensor *many = malloc(MANY * sizeof *many);
    char(*names)[16] = malloc(MANY * sizeof *names);
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "s%04d", i);
        many[i] = ts[i % N_FORMULA];
        many[i].name = names[i];
    }
    tu_check(ve_pth_write(path, MANY, many) == VE_OK &&
                 check_read_back(path, MANY, many, VE_CKPT_PTH),
             "pth round trip: 1001 tensors");
    free(many);
    free(names);
}

/* ZIP64 extra fields, data descriptors and end records on every entry (limit 0) and on some
 * (limit 700: by size for the big tensor, by offset from the fourth entry on). */
static void test_zip64(void) {
    ve_st_tensor ts[N_FORMULA];
    formula(ts);
    const uint64_t limits[2] = {0, 700};
    for (int k = 0; k < 2; k++) {
        const char *path = tu_scratch_path("z64.pth");
        int rc = ve_pth_write_zip64_at(path, N_FORMULA, ts, limits[k]);
        if (rc != VE_OK) printf("  %s\n", ve_error());
        tu_check(rc == VE_OK && check_read_back(path, N_FORMULA, ts, VE_CKPT_PTH),
                 k ? "zip64 fields on some entries" : "zip64 fields on every entry");
    }
}

static void test_refused(void) {
    const char *path = tu_scratch_path("keep.pth");
    float v[4] = {1, 2, 3, 4};
    int64_t s[1] = {4}, neg[1] = {-3};
    ve_st_tensor good = {"w", 1, s, v};
    tu_check(ve_pth_write(path, 1, &good) == VE_OK, "refused: first write");
    size_t n = 0;
    uint8_t *orig = tu_read_file(path, &n);

    ve_st_tensor dup[2] = {good, good}, empty = {"", 1, s, v}, noname = {NULL, 1, s, v};
    ve_st_tensor bad_utf8 = {"w\xc3(", 1, s, v}, overlong = {"\xc0\xaf", 1, s, v};
    ve_st_tensor badshape = {"w", 1, neg, v}, nodata = {"w", 1, s, NULL};
    struct {
        const ve_st_tensor *ts;
        int n;
        const char *frag, *what;
    } cases[] = {
        {dup, 2, "'w' given twice", "duplicate names refused"},
        {&empty, 1, "name missing", "empty name refused"},
        {&noname, 1, "name missing", "NULL name refused"},
        {&bad_utf8, 1, "not valid UTF-8", "invalid UTF-8 name refused"},
        {&overlong, 1, "not valid UTF-8", "overlong UTF-8 name refused"},
        {&badshape, 1, "dimension 0 of size -3", "negative dimension refused"},
        {&nodata, 1, "no data", "missing data refused"},
        {&good, -1, "-1 tensors", "negative count refused"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ve_error_clear();
        int rc = ve_pth_write(path, cases[c].n, cases[c].ts);
        printf("  %s: %s\n", cases[c].what, ve_error());
        tu_check(rc == VE_FAIL && strstr(ve_error(), cases[c].frag) && strstr(ve_error(), path),
                 cases[c].what);
    }
    tu_check(same_file(path, orig, n) && tmp_absent(path), "old file intact after refused data");

    /* A directory that does not exist: the error names the path, nothing is created. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.pth", tu_scratch_dir());
    ve_error_clear();
    tu_check(ve_pth_write(missing, 1, &good) == VE_FAIL && strstr(ve_error(), "cannot create") &&
                 strstr(ve_error(), missing) && tmp_absent(missing),
             "missing directory refused, naming the path");

    /* The target is a directory: the rename fails, the temporary is removed. */
    const char *dir = tu_scratch_path("adir");
    mkdir(dir, 0755);
    ve_error_clear();
    tu_check(ve_pth_write(dir, 1, &good) == VE_FAIL && strstr(ve_error(), dir) && tmp_absent(dir),
             "directory as target refused, no temporary left");

    /* A write failing halfway (file size limit): the old file stays, no .tmp is left. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    size_t big_n = 100000;
    float *big = calloc(big_n, 4);
    int64_t bs[1] = {(int64_t)big_n};
    ve_st_tensor bigt[2] = {{"small", 1, s, v}, {"big", 1, bs, big}};
    int limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    int rc = ve_pth_write(path, 2, bigt);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    if (limited) {
        printf("  halfway failure: %s\n", ve_error());
        tu_check(rc == VE_FAIL && strstr(ve_error(), "writing") && same_file(path, orig, n) &&
                     tmp_absent(path),
                 "old file intact after a failed write");
    }
    free(big);
    free(orig);
}

static void test_metadata(void) {
    ve_st_tensor ts[N_FORMULA];
    formula(ts);
    const char *path = tu_scratch_path("meta.safetensors");
    int rc = ve_safetensors_write_meta(path, 4, ts, N_META, k_meta_keys, k_meta_values);
    if (rc != VE_OK) printf("  %s\n", ve_error());
    tu_check(rc == VE_OK && check_read_back(path, 4, ts, VE_CKPT_SAFETENSORS),
             "metadata: tensors round trip");
    ve_checkpoint *ck = ve_checkpoint_open(path);
    int same = ck != NULL;
    for (int i = 0; same && i < N_META; i++) {
        const char *got = ve_checkpoint_meta(ck, k_meta_keys[i]);
        same = got && !strcmp(got, k_meta_values[i]);
    }
    tu_check(same, "metadata: every value back, escapes and UTF-8 intact");
    ve_error_clear();
    tu_check(ck && !strcmp(ve_checkpoint_meta(ck, "format"), "pt") &&
                 !ve_checkpoint_meta(ck, "absent") && !ve_checkpoint_meta(ck, "ste") &&
                 !strcmp(ve_error(), "no error recorded"),
             "metadata: default format, absent key NULL without an error");
    ve_checkpoint_close(ck);

    /* A caller's "format" replaces the default; no metadata keeps just the default. */
    const char *fk[2] = {"format", "k"}, *fv[2] = {"mine", "v"};
    ck = ve_safetensors_write_meta(path, 1, ts, 2, fk, fv) == VE_OK ? ve_checkpoint_open(path)
                                                                    : NULL;
    tu_check(ck && !strcmp(ve_checkpoint_meta(ck, "format"), "mine") &&
                 !strcmp(ve_checkpoint_meta(ck, "k"), "v"),
             "metadata: caller's format kept");
    ve_checkpoint_close(ck);
    ck = ve_safetensors_write(path, 1, ts) == VE_OK ? ve_checkpoint_open(path) : NULL;
    tu_check(ck && !strcmp(ve_checkpoint_meta(ck, "format"), "pt") &&
                 !ve_checkpoint_meta(ck, "step"),
             "metadata: plain write has only the format");
    ve_checkpoint_close(ck);

    /* A long value (256 KiB) survives; a `.pth` has no metadata. */
    size_t long_n = 256 * 1024;
    char *long_v = malloc(long_n + 1);
    for (size_t i = 0; i < long_n; i++)
        long_v[i] = "ab\"\\\n\x7f"[i % 6];
    long_v[long_n] = 0;
    const char *lk[1] = {"long"}, *lv[1] = {long_v};
    ck = ve_safetensors_write_meta(path, 0, NULL, 1, lk, lv) == VE_OK ? ve_checkpoint_open(path)
                                                                      : NULL;
    tu_check(ck && !strcmp(ve_checkpoint_meta(ck, "long"), long_v), "metadata: 256 KiB value");
    ve_checkpoint_close(ck);
    free(long_v);
    const char *pth = tu_scratch_path("nometa.pth");
    ck = ve_pth_write(pth, 1, ts) == VE_OK ? ve_checkpoint_open(pth) : NULL;
    tu_check(ck && !ve_checkpoint_meta(ck, "format"), "metadata: none in a .pth");
    ve_checkpoint_close(ck);

    /* Refused metadata. */
    const char *dk[2] = {"a", "a"}, *dv[2] = {"1", "2"}, *bv[1] = {"\xff"}, *nv[1] = {NULL};
    tu_check(ve_safetensors_write_meta(path, 0, NULL, 2, dk, dv) == VE_FAIL &&
                 strstr(ve_error(), "metadata key 'a' given twice"),
             "metadata: duplicate key refused");
    tu_check(ve_safetensors_write_meta(path, 0, NULL, 1, dk, bv) == VE_FAIL &&
                 strstr(ve_error(), "not valid UTF-8"),
             "metadata: invalid UTF-8 refused");
    tu_check(ve_safetensors_write_meta(path, 0, NULL, 1, dk, nv) == VE_FAIL &&
                 strstr(ve_error(), "missing"),
             "metadata: NULL value refused");
}

/* Metadata the reader must refuse, written by hand. */
static void test_bad_metadata(void) {
    static const struct {
        const char *header, *frag;
    } cases[] = {
        {"{\"__metadata__\":{\"step\":3}}", "value of \"step\" at byte 24 is not a string"},
        {"{\"__metadata__\":{\"a\":[\"x\"]}}", "is not a string"},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "key \"a\" given twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "\"__metadata__\" given twice"},
        {"{\"__metadata__\":[]}", "expected '{'"},
    };
    const char *path = tu_scratch_path("badmeta.safetensors");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t hl = strlen(cases[c].header);
        uint8_t buf[128] = {(uint8_t)hl};
        memcpy(buf + 8, cases[c].header, hl);
        tu_write_file(path, buf, 8 + hl);
        ve_error_clear();
        ve_checkpoint *ck = ve_checkpoint_open(path);
        printf("  bad metadata %zu: %s\n", c, ck ? "(opened!)" : ve_error());
        tu_check(!ck && strstr(ve_error(), cases[c].frag) && strstr(ve_error(), path) &&
                     strstr(ve_error(), "__metadata__"),
                 "bad metadata refused with a clear message");
        ve_checkpoint_close(ck);
    }
}

/* ---------------- part 2: files for check_pth_export.py ---------------- */

static char *export_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", VE_PTH_EXPORT_DIR, name);
    return p;
}

/* samed/keys.txt names the tensors, samed/NNNN.npy holds tensor NNNN: written back as a .pth. */
static void export_samed(void) {
    FILE *f = fopen(export_path("samed/keys.txt"), "r");
    if (!f) {
        printf("  no %s: SAMed export skipped (check_pth_export.py prepare writes it)\n",
               export_path("samed/keys.txt"));
        return;
    }
    int n = 0, cap = 1024, ok = 1;
    ve_st_tensor *ts = malloc((size_t)cap * sizeof *ts);
    ve_npy_array *arr = calloc((size_t)cap, sizeof *arr);
    char line[600];
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char npy[32];
        snprintf(npy, sizeof npy, "samed/%04d.npy", n);
        ok = n < cap && ve_npy_load(export_path(npy), &arr[n]) == VE_OK;
        if (!ok) break;
        ts[n] = (ve_st_tensor){strdup(line), arr[n].ndim, arr[n].shape, arr[n].data};
        n++;
    }
    fclose(f);
    if (!ok) printf("  %s\n", ve_error());
    tu_check(ok && n > 0, "samed: keys and arrays read");
    int rc = ok ? ve_pth_write(export_path("samed_lora.pth"), n, ts) : VE_FAIL;
    tu_check(rc == VE_OK && check_read_back(export_path("samed_lora.pth"), n, ts, VE_CKPT_PTH),
             "samed: LoRA export written and read back");
    printf("  samed: %d tensors -> %s\n", n, export_path("samed_lora.pth"));
    for (int i = 0; i < n; i++) {
        free((char *)ts[i].name);
        ve_npy_free(&arr[i]);
    }
    free(ts);
    free(arr);
}

static void export_files(void) {
    if (mkdir(VE_PTH_EXPORT_DIR, 0755) != 0 && errno != EEXIST) {
        printf("  cannot create %s: %s\n", VE_PTH_EXPORT_DIR, strerror(errno));
        tu_check(0, "export folder");
        return;
    }
    ve_st_tensor ts[N_FORMULA];
    formula(ts);
    tu_check(ve_pth_write(export_path("formula.pth"), N_FORMULA, ts) == VE_OK,
             "export: formula.pth");
    tu_check(ve_pth_write_zip64_at(export_path("zip64_all.pth"), N_FORMULA, ts, 0) == VE_OK &&
                 ve_pth_write_zip64_at(export_path("zip64_some.pth"), N_FORMULA, ts, 700) == VE_OK,
             "export: zip64 files");
    tu_check(ve_safetensors_write_meta(export_path("meta.safetensors"), N_FORMULA, ts, N_META,
                                       k_meta_keys, k_meta_values) == VE_OK,
             "export: meta.safetensors");
    export_samed();
}

int main(void) {
    tu_scratch_open("pth_write");
    test_round_trip();
    test_zip64();
    test_refused();
    test_metadata();
    test_bad_metadata();
    export_files();
    tu_scratch_close();
    for (int t = 0; t < N_FORMULA; t++)
        free(g_formula_data[t]);
    return tu_exit();
}
