/* Checkpoint reading and writing (engine/io) and SAM preset detection (models/sam).
 *
 * Part 1 needs nothing: safetensors write -> read round trips, atomic-write failures, and
 * hostile safetensors files crafted here. Part 2 reads the files tests/reference/
 * make_checkpoints.py wrote with a real torch.save into VE_CKPT_DIR, checks every tensor against
 * its manifest (shape, sum, sampled values), the presets, and the hostile `.pth` files. Without
 * torch (no manifest) part 2 is skipped and the test exits 77 (ctest: skipped). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/io_internal.h" /* the pickle interpreter, fuzzed directly (past the zip CRC) */
#include "sam/preset_detect.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_CKPT_DIR
#define VE_CKPT_DIR "checkpoints"
#endif

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* Opening path must fail with a message holding the path and every given fragment. */
static void expect_open_fails(const char *path, const char *what, const char *frag1,
                              const char *frag2) {
    ve_error_clear();
    ve_checkpoint *ck = ve_checkpoint_open(path);
    const char *msg = ve_error();
    int ok = !ck && strstr(msg, path) && strstr(msg, frag1) && (!frag2 || strstr(msg, frag2));
    printf("  %s: %s\n", what, ck ? "(opened!)" : msg);
    tu_check(ok, what);
    ve_checkpoint_close(ck);
}

/* A safetensors file from a header string and n data bytes. */
static void write_st(const char *path, const char *header, size_t data_bytes) {
    size_t hl = strlen(header), n = 8 + hl + data_bytes;
    uint8_t *b = calloc(1, n);
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(b + 8, header, hl);
    tu_write_file(path, b, n);
    free(b);
}

/* ---------------- part 1: safetensors, no torch needed ---------------- */

static void test_round_trip(void) {
    uint64_t rng = tu_seed(7);
    int64_t s0[3] = {3, 1, 17}, s1[1] = {5}, s3[2] = {0, 4};
    float *d0 = tu_rand(&rng, 51, -2, 2), *d1 = tu_rand(&rng, 5, -1, 1), scalar = -0.75f;
    ve_st_tensor ts[4] = {{"blocks.0.w", 3, s0, d0},
                          {"b \"quoted\"\n", 1, s1, d1},
                          {"scalar", 0, NULL, &scalar},
                          {"empty", 2, s3, NULL}};
    const char *path = tu_scratch_path("rt.safetensors");
    tu_check(ve_safetensors_write(path, 4, ts) == VE_OK, "safetensors write");
    ve_checkpoint *ck = ve_checkpoint_open(path);
    tu_check(ck != NULL, "safetensors reopen");
    if (!ck) {
        printf("  %s\n", ve_error());
        return;
    }
    tu_check(ve_checkpoint_count(ck) == 4 && ve_checkpoint_format(ck) == VE_CKPT_SAFETENSORS,
             "round trip: count and format");
    for (int i = 0; i < 4; i++) {
        const ve_ckpt_tensor *t = ve_checkpoint_tensor(ck, i);
        int same = t && !strcmp(t->name, ts[i].name) && t->ndim == ts[i].ndim &&
                   t->dtype == VE_CKPT_F32 && ve_checkpoint_find(ck, ts[i].name) == t;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == ts[i].shape[d];
        tu_check(same, "round trip: name, shape, order");
        if (!same) continue;
        float *got = malloc((size_t)t->numel * 4 + 4);
        tu_check(ve_checkpoint_read_f32(ck, t, got, (size_t)t->numel) == VE_OK, "round read");
        tu_check(t->numel == 0 || !memcmp(got, ts[i].data, (size_t)t->numel * 4),
                 "round trip: data bit-exact");
        free(got);
    }
    /* The data section starts 8-byte aligned (the header is padded). */
    tu_check(ve_checkpoint_tensor(ck, 0)->storage_pos % 8 == 0, "round trip: aligned data");
    /* API misuse is refused, not crashed on. */
    float one;
    tu_check(ve_checkpoint_read_f32(ck, ve_checkpoint_tensor(ck, 0), &one, 1) == VE_FAIL &&
                 strstr(ve_error(), "51 elements"),
             "read with a wrong element count refused");
    ve_ckpt_tensor fake = *ve_checkpoint_tensor(ck, 1);
    tu_check(ve_checkpoint_read_f32(ck, &fake, &one, 1) == VE_FAIL, "foreign tensor refused");
    tu_check(ve_checkpoint_find(ck, "nope") == NULL, "find of an absent name");
    ve_checkpoint_close(ck);
    free(d0);
    free(d1);
}

static int same_file(const char *path, const uint8_t *want, size_t n) {
    size_t m;
    uint8_t *got = read_file(path, &m);
    int same = got && m == n && !memcmp(got, want, n);
    free(got);
    return same;
}

static void test_atomic_write(void) {
    const char *path = tu_scratch_path("keep.safetensors");
    float v[4] = {1, 2, 3, 4};
    int64_t s[1] = {4};
    ve_st_tensor good = {"w", 1, s, v};
    tu_check(ve_safetensors_write(path, 1, &good) == VE_OK, "atomic: first write");
    size_t n;
    uint8_t *orig = read_file(path, &n);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* Refused data: duplicate names, a bad shape, missing data. */
    ve_st_tensor dup[2] = {good, good};
    int64_t neg[1] = {-3};
    ve_st_tensor badshape = {"w", 1, neg, v}, nodata = {"w", 1, s, NULL};
    tu_check(ve_safetensors_write(path, 2, dup) == VE_FAIL && strstr(ve_error(), "twice") &&
                 strstr(ve_error(), path),
             "atomic: duplicate names refused");
    tu_check(ve_safetensors_write(path, 1, &badshape) == VE_FAIL &&
                 strstr(ve_error(), "dimension 0 of size -3"),
             "atomic: negative dimension refused");
    tu_check(ve_safetensors_write(path, 1, &nodata) == VE_FAIL && strstr(ve_error(), "no data"),
             "atomic: missing data refused");
    tu_check(same_file(path, orig, n) && access(tmp, F_OK) != 0,
             "atomic: old file intact after refused data");

    /* An unwritable target: a directory that does not exist. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", tu_scratch_dir());
    tu_check(ve_safetensors_write(missing, 1, &good) == VE_FAIL &&
                 strstr(ve_error(), "cannot create") && strstr(ve_error(), missing),
             "atomic: missing directory refused");

    /* A write failing halfway (file size limit): the old file stays, no .tmp is left. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    size_t big_n = 100000;
    float *big = calloc(big_n, 4);
    int64_t bs[1] = {(int64_t)big_n};
    ve_st_tensor bigt = {"big", 1, bs, big};
    int limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    int rc = ve_safetensors_write(path, 1, &bigt);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    if (limited) {
        printf("  halfway failure: %s\n", ve_error());
        tu_check(rc == VE_FAIL && strstr(ve_error(), "writing") && same_file(path, orig, n) &&
                     access(tmp, F_OK) != 0,
                 "atomic: old file intact after a failed write");
    }
    free(big);
    free(orig);
}

static void test_bad_safetensors(void) {
    const char *p = tu_scratch_path("bad.safetensors");
    uint8_t huge[16] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write_file(p, huge, 10);
    expect_open_fails(p, "safetensors: header length beyond the file", "header length 1000",
                      "runs beyond");
    tu_write_file(p, huge, 3);
    expect_open_fails(p, "safetensors: file shorter than 8 bytes", "no header length", NULL);
    write_st(p, "{\"a\" {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_open_fails(p, "safetensors: malformed JSON", "expected ':' at byte 5", NULL);
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8);
    expect_open_fails(p, "safetensors: unterminated JSON", "JSON: expected ','", NULL);
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}x", 8);
    expect_open_fails(p, "safetensors: trailing data", "trailing data", NULL);
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8);
    expect_open_fails(p, "safetensors: fractional shape", "found a fraction", "tensor 'a'");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[200],\"data_offsets\":[0,800]}}", 8);
    expect_open_fails(p, "safetensors: data_offsets outside the data", "[0, 800] outside",
                      "tensor 'a'");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_open_fails(p, "safetensors: offsets disagree with the shape", "the shape needs 12",
                      NULL);
    write_st(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8);
    expect_open_fails(p, "safetensors: unsupported dtype", "dtype \"U8\" not supported", NULL);
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8);
    expect_open_fails(p, "safetensors: unknown key", "unknown key \"x\"", NULL);
    write_st(p,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             8);
    expect_open_fails(p, "safetensors: duplicate name", "'a' appears twice", NULL);
    write_st(p, "{\"__metadata__\":{\"k\":3}}", 0);
    expect_open_fails(p, "safetensors: non-string metadata", "__metadata__", NULL);
    expect_open_fails(tu_scratch_path("absent.safetensors"), "missing file", "cannot open", NULL);
    /* Escapes and metadata are understood. */
    write_st(p,
             "{\"__metadata__\":{\"format\":\"pt\"},\"a\\u00e9\\n\":{\"dtype\":\"BF16\",\"shape\""
             ":[2],\"data_offsets\":[0,4]}} ",
             4);
    ve_checkpoint *ck = ve_checkpoint_open(p);
    tu_check(ck && ve_checkpoint_find(ck, "a\xc3\xa9\n") &&
                 ve_checkpoint_find(ck, "a\xc3\xa9\n")->dtype == VE_CKPT_BF16,
             "safetensors: escaped name and metadata");
    ve_checkpoint_close(ck);
}

/* ---------------- part 2: torch.save files and their manifest ---------------- */

static char *ckpt(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", VE_CKPT_DIR, name);
    return p;
}

typedef struct {
    char file[64];
    ve_checkpoint *ck;
    int next; /* index the next T line of this file must have */
} open_file;

/* One manifest T line: shape, file order, sum, sampled values. */
static void check_tensor(open_file *of, char *rest) {
    char *save, *name = strtok_r(rest, " ", &save), *dtype = strtok_r(NULL, " ", &save);
    int ndim = atoi(strtok_r(NULL, " ", &save));
    const ve_ckpt_tensor *t = ve_checkpoint_find(of->ck, name);
    char what[700];
    snprintf(what, sizeof what, "%s: %s", of->file, name);
    int ok = t && t == ve_checkpoint_tensor(of->ck, of->next++) && t->ndim == ndim &&
             !strcmp(ve_ckpt_dtype_name(t->dtype), dtype);
    for (int d = 0; d < ndim; d++) {
        long long v = atoll(strtok_r(NULL, " ", &save));
        ok = ok && t->shape[d] == v;
    }
    tu_check(ok, what);
    if (!ok) {
        printf("  shape/dtype/order mismatch: %s\n", what);
        return;
    }
    double sum = strtod(strtok_r(NULL, " ", &save), NULL);
    int k = atoi(strtok_r(NULL, " ", &save));
    float *v = malloc((size_t)t->numel * 4 + 4);
    if (ve_checkpoint_read_f32(of->ck, t, v, (size_t)t->numel) != VE_OK) {
        printf("  %s\n", ve_error());
        tu_check(0, what);
        free(v);
        return;
    }
    double got = 0, mag = 0;
    for (int64_t i = 0; i < t->numel; i++)
        got += v[i], mag += fabs(v[i]);
    /* Both sums are of the same f32 values in double; only the order differs. */
    ok = fabs(got - sum) <= 1e-12 * mag + 1e-30;
    for (int s = 0; s < k; s++) {
        long long i = atoll(strtok_r(NULL, " ", &save));
        float want = strtof(strtok_r(NULL, " ", &save), NULL);
        ok = ok && i < t->numel && v[i] == want;
    }
    if (!ok) printf("  values differ: %s (sum %.17g, want %.17g)\n", what, got, sum);
    tu_check(ok, what);
    free(v);
}

static void check_preset(char *rest) {
    char *save, *file = strtok_r(rest, " ", &save), *preset = strtok_r(NULL, " ", &save);
    int embed = atoi(strtok_r(NULL, " ", &save)), depth = atoi(strtok_r(NULL, " ", &save));
    int masks = atoi(strtok_r(NULL, " ", &save)), rank = atoi(strtok_r(NULL, " ", &save));
    ve_checkpoint *ck = ve_checkpoint_open(ckpt(file));
    sam_ckpt_info s;
    int ok = ck && sam_detect_preset(ck, &s) == VE_OK;
    if (!ok) printf("  %s\n", ve_error());
    ok = ok && !strcmp(s.preset, preset) && s.embed_dim == embed && s.depth == depth &&
         s.n_mask_tokens == masks && s.is_lora == (rank > 0) && s.lora_rank == rank &&
         s.heads == 2 && s.has_mask_decoder && s.has_prompt_encoder;
    if (ok && !s.is_lora) /* tiny: global blocks 2 and 5 (rel_pos tables of 127 rows) */
        ok = s.has_image_encoder && s.n_global == 2 && s.global_blocks[0] == 2 &&
             s.global_blocks[1] == 5;
    if (ok && s.is_lora) ok = !s.has_image_encoder && s.lora_pairs == 12;
    char what[128];
    snprintf(what, sizeof what, "preset of %s", file);
    tu_check(ok, what);
    ve_checkpoint_close(ck);
}

static int check_manifest(void) {
    FILE *f = fopen(ckpt("manifest.txt"), "r");
    if (!f) return 0;
    static char line[1 << 16];
    open_file of = {{0}, NULL, 0};
    int files = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *save, *kind = strtok_r(line, " ", &save), *rest = save;
        if (!kind) continue;
        if (!strcmp(kind, "P")) {
            check_preset(rest);
            continue;
        }
        char *file = strtok_r(NULL, " ", &save);
        rest = save;
        if (!strcmp(kind, "N")) {
            if (of.ck) tu_check(of.next == ve_checkpoint_count(of.ck), "every tensor listed");
            ve_checkpoint_close(of.ck);
            snprintf(of.file, sizeof of.file, "%s", file);
            of.ck = ve_checkpoint_open(ckpt(file));
            of.next = 0;
            if (!of.ck) printf("  %s\n", ve_error());
            tu_check(of.ck && ve_checkpoint_count(of.ck) == atoi(rest), file);
            files++;
        } else if (of.ck) {
            check_tensor(&of, rest);
        }
    }
    if (of.ck) tu_check(of.next == ve_checkpoint_count(of.ck), "every tensor listed");
    ve_checkpoint_close(of.ck);
    fclose(f);
    printf("manifest: %d files checked\n", files);
    tu_check(files >= 7, "manifest lists every file");
    return 1;
}

/* Copies src to a temporary file with a byte patch (or truncated to keep bytes). */
static const char *mutate(const char *src, const char *name, long at, const void *patch,
                          size_t patch_n, size_t keep) {
    size_t n;
    uint8_t *b = read_file(src, &n);
    if (!b) return "missing";
    if (patch && at >= 0 && (size_t)at + patch_n <= n) memcpy(b + at, patch, patch_n);
    const char *p = tu_scratch_path(name);
    tu_write_file(p, b, keep && keep < n ? keep : n);
    free(b);
    return p;
}

static long find_bytes(const char *path, const void *pat, size_t m, int last) {
    size_t n;
    uint8_t *b = read_file(path, &n);
    long at = -1;
    for (size_t i = 0; b && i + m <= n; i++)
        if (!memcmp(b + i, pat, m)) {
            at = (long)i;
            if (!last) break;
        }
    free(b);
    return at;
}

static void test_bad_pth(void) {
    expect_open_fails(ckpt("evil_global.pth"), "pth: forbidden GLOBAL os.system",
                      "forbidden global os.system at byte 2", "evil/data.pkl");
    expect_open_fails(ckpt("bad_opcode.pth"), "pth: unknown opcode", "opcode 0xff (unknown opcode)",
                      "at byte 6");
    expect_open_fails(ckpt("inst_opcode.pth"), "pth: INST opcode", "opcode 0x69 (INST)",
                      "at byte 6");
    expect_open_fails(ckpt("offset_beyond.pth"), "pth: storage offset beyond the storage",
                      "tensor 'w': storage offset 9", "beyond its storage");
    expect_open_fails(ckpt("missing_data.pth"), "pth: missing data entry", "tensor 'w'",
                      "/data/0' is missing");
    expect_open_fails(ckpt("deflated.pth"), "pth: deflated entry", "compressed (method 8",
                      "data.pkl");
    expect_open_fails(ckpt("big_endian.pth"), "pth: big-endian byteorder",
                      "archive/byteorder' is not \"little\"", NULL);
    expect_open_fails(ckpt("nested.pth"), "pth: nested dict", "'model' is a nested dict", NULL);

    const char *tiny = ckpt("tiny.pth"), *small = ckpt("small.pth");
    size_t n;
    free(read_file(tiny, &n));
    expect_open_fails(mutate(tiny, "half.pth", -1, NULL, 0, n / 2), "pth: truncated file",
                      "no end-of-central-directory", NULL);
    long cd = find_bytes(small, "PK\1\2", 4, 0), eocd = find_bytes(small, "PK\5\6", 4, 1);
    tu_check(cd > 0 && eocd > cd, "small.pth has a central directory");
    expect_open_fails(mutate(small, "cd.pth", cd + 1, "X", 1, 0), "pth: corrupt directory",
                      "corrupt central directory at offset", NULL);
    uint8_t far[4] = {0xff, 0xff, 0xff, 0x7f};
    expect_open_fails(mutate(small, "cdoff.pth", eocd + 16, far, 4, 0), "pth: end records disagree",
                      "ZIP64 end record disagree", NULL);
    long z64 = find_bytes(small, "PK\6\6", 4, 1);
    tu_check(z64 > cd, "small.pth has a ZIP64 end record (torch writes one)");
    /* Both records moved consistently past the end. */
    expect_open_fails(mutate(tu_scratch_path("cdoff.pth"), "cdoff64.pth", z64 + 48, far, 4, 0),
                      "pth: directory offset beyond the file", "does not fit", NULL);
    uint8_t local[4] = {0, 0, 0, 0x70};
    expect_open_fails(mutate(small, "local.pth", cd + 42, local, 4, 0),
                      "pth: local header offset beyond the file", "outside the archive", NULL);
    long pkl = find_bytes(small, "\x80\x02", 2, 0);
    expect_open_fails(mutate(small, "crc.pth", pkl + 2, "d", 1, 0), "pth: corrupt pickle bytes",
                      "fails its CRC check", NULL);
    free(read_file(ckpt("tiny.safetensors"), &n));
    expect_open_fails(mutate(ckpt("tiny.safetensors"), "cut.safetensors", -1, NULL, 0, n - 100),
                      "safetensors: truncated file", "outside the data section", NULL);
    ve_checkpoint *ck = ve_checkpoint_open(small);
    sam_ckpt_info s;
    tu_check(ck && sam_detect_preset(ck, &s) == VE_FAIL && strstr(ve_error(), "not a SAM"),
             "preset: a non-SAM file is refused");
    ve_checkpoint_close(ck);
}

/* The strided .pth views and their contiguous safetensors copies hold the same values. */
static void test_views_match(void) {
    ve_checkpoint *a = ve_checkpoint_open(ckpt("views.pth"));
    ve_checkpoint *b = ve_checkpoint_open(ckpt("views.safetensors"));
    tu_check(a && b, "views: both files open");
    int compared = 0, noncontig = 0;
    for (int i = 0; a && b && i < ve_checkpoint_count(b); i++) {
        const ve_ckpt_tensor *tb = ve_checkpoint_tensor(b, i);
        const ve_ckpt_tensor *ta = ve_checkpoint_find(a, tb->name);
        if (!ta) continue;
        float *va = malloc((size_t)ta->numel * 4 + 4), *vb = malloc((size_t)tb->numel * 4 + 4);
        int ok = ta->numel == tb->numel &&
                 ve_checkpoint_read_f32(a, ta, va, (size_t)ta->numel) == VE_OK &&
                 ve_checkpoint_read_f32(b, tb, vb, (size_t)tb->numel) == VE_OK &&
                 !memcmp(va, vb, (size_t)ta->numel * 4);
        tu_check(ok, tb->name);
        compared++;
        noncontig += ta->ndim > 1 && ta->strides[ta->ndim - 1] != 1;
        free(va);
        free(vb);
    }
    tu_check(compared >= 10 && noncontig >= 2, "views: strided tensors compared");
    ve_checkpoint_close(a);
    ve_checkpoint_close(b);
}

/* Random byte flips and truncations of valid files: every open either fails with a message or
 * yields tensors that read back; nothing may crash (the suite also runs under ASan). */
static void fuzz(const char *src, size_t region, int iters, uint64_t seed) {
    size_t n;
    uint8_t *orig = read_file(src, &n), *b = malloc(n + 1);
    uint64_t rng = tu_seed(seed);
    int opened = 0, refused = 0, bad = 0;
    const char *p = tu_scratch_path("fuzz.bin");
    for (int it = 0; orig && it < iters; it++) {
        memcpy(b, orig, n);
        size_t len = n, lim = region < n ? region : n;
        int flips = tu_int(&rng, 1, 4);
        for (int k = 0; k < flips; k++)
            b[tu_int(&rng, 0, (int)lim - 1)] ^= (uint8_t)tu_int(&rng, 1, 255);
        if (tu_int(&rng, 0, 7) == 0) len = (size_t)tu_int(&rng, 0, (int)n - 1);
        tu_write_file(p, b, len);
        ve_error_clear();
        ve_checkpoint *ck = ve_checkpoint_open(p);
        if (!ck) {
            refused++;
            bad += strstr(ve_error(), p) == NULL;
            continue;
        }
        opened++;
        for (int i = 0; i < ve_checkpoint_count(ck); i++) {
            const ve_ckpt_tensor *t = ve_checkpoint_tensor(ck, i);
            float *v = malloc((size_t)t->numel * 4 + 4);
            if (ve_checkpoint_read_f32(ck, t, v, (size_t)t->numel) != VE_OK) bad++;
            free(v);
        }
        ve_checkpoint_close(ck);
    }
    printf("  fuzz %s: %d opened, %d refused, %d bad\n", src, opened, refused, bad);
    tu_check(orig && bad == 0 && refused > 0, "fuzz: refused with messages, never crashed");
    free(orig);
    free(b);
}

/* The pickle of a real torch.save with random flips, fed straight to the interpreter: a zip
 * CRC would otherwise refuse nearly every mutation before the pickle is parsed. */
static void fuzz_pickle(const char *src, int iters, uint64_t seed) {
    ve_file f = {-1, 0};
    ve_zip z = {NULL, 0};
    const ve_zip_entry *e = NULL;
    if (ve_file_open(&f, src) == VE_OK && ve_zip_open(&z, &f) == VE_OK)
        for (int i = 0; i < z.n; i++)
            if (strstr(z.e[i].name, "/data.pkl")) e = &z.e[i];
    uint8_t *orig = e ? malloc(e->size) : NULL, *b = e ? malloc(e->size) : NULL;
    int ok = e && ve_file_read_at(&f, e->pos, orig, e->size) == VE_OK, parsed = 0, refused = 0;
    uint64_t rng = tu_seed(seed);
    for (int it = 0; ok && it < iters; it++) {
        memcpy(b, orig, e->size);
        int flips = tu_int(&rng, 1, 3);
        for (int k = 0; k < flips; k++)
            b[tu_int(&rng, 0, (int)e->size - 1)] = (uint8_t)tu_int(&rng, 0, 255);
        size_t len = tu_int(&rng, 0, 3) ? e->size : (size_t)tu_int(&rng, 1, (int)e->size);
        ve_tensor_list l = {NULL, 0, 0};
        ve_error_clear();
        if (ve_pickle_state_dict(b, len, &l) == VE_OK)
            parsed++;
        else
            refused += strstr(ve_error(), "pickle") != NULL;
        ve_tensor_list_free(&l);
    }
    printf("  pickle fuzz %s: %d parsed, %d refused\n", src, parsed, refused);
    tu_check(ok && parsed + refused == iters && refused > 0, "pickle fuzz: no crash, messages");
    free(orig);
    free(b);
    ve_zip_free(&z);
    ve_file_close(&f);
}

static void cleanup(void) {
    tu_scratch_close();
}

int main(void) {
    tu_scratch_open("ckpt");
    test_round_trip();
    test_atomic_write();
    test_bad_safetensors();
    fuzz(tu_scratch_path("rt.safetensors"), 1 << 20, 300, 14);
    int have = check_manifest();
    if (have) {
        test_bad_pth();
        test_views_match();
        fuzz(ckpt("small.pth"), 1 << 20, 400, 11);
        fuzz_pickle(ckpt("views.pth"), 3000, 15);
        fuzz_pickle(ckpt("param.pth"), 1000, 16);
        fuzz(ckpt("views.pth"), 1 << 20, 100, 12);
        fuzz(ckpt("views.safetensors"), 1600, 300, 13);
    } else {
        printf("SKIP: %s/manifest.txt missing: torch checkpoints not generated (the "
               "checkpoint_fixtures test needs /usr/bin/python3 with python3-torch)\n",
               VE_CKPT_DIR);
    }
    cleanup();
    int rc = tu_exit();
    return rc == 0 && !have ? 77 : rc;
}
