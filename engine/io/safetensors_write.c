/* Writing safetensors (f32) atomically: PATH.tmp in the same directory, fsync, rename over PATH,
 * fsync the directory. Everything is validated before the temporary file is created, and any
 * later failure removes it, so an existing PATH is never left half-written. Also home of the
 * checks every checkpoint writer applies to its tensor list (ve_st_check, used by the `.pth`
 * writer too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "io_internal.h"
#include "status.h"

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static int put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) return ve_fail("out of memory for the safetensors header");
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return VE_OK;
}

static int puts_(sbuf *b, const char *s) {
    return put(b, s, strlen(s));
}

static int putf(sbuf *b, const char *fmt, long long v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    return put(b, tmp, (size_t)n);
}

/* s as a JSON string: quote, backslash and control characters escaped, UTF-8 kept as is. */
static int put_string(sbuf *b, const char *s) {
    static const char plain[] = "\"\\\b\f\n\r\t", escaped[] = "\"\\bfnrt";
    if (put(b, "\"", 1) != VE_OK) return VE_FAIL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *k = strchr(plain, c);
        char esc[8];
        if (k)
            snprintf(esc, sizeof esc, "\\%c", escaped[k - plain]);
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            esc[0] = (char)c, esc[1] = 0;
        if (put(b, esc, strlen(esc)) != VE_OK) return VE_FAIL;
    }
    return put(b, "\"", 1);
}

/* Strict UTF-8: no stray continuation bytes, overlong forms, surrogates or code points past
 * U+10FFFF (Python refuses them when it decodes a pickle or a JSON header). */
static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        unsigned n = c < 0x80 ? 0 : c < 0xc2 ? 9 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : c < 0xf5 ? 3 : 9;
        if (n == 9) return 0;
        unsigned cp = c & (0x7fu >> n);
        for (unsigned k = 0; k < n; k++, p++) {
            if ((*p & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fails if a string of strs[0..n) appears twice, naming it ("what 'x' given twice"). */
static int check_unique(int n, const char *const *strs, const char *what) {
    const char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return ve_fail("out of memory");
    if (n) memcpy(sorted, strs, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    int rc = VE_OK;
    for (int i = 1; i < n && rc == VE_OK; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) rc = ve_fail("%s '%s' given twice", what, sorted[i]);
    free(sorted);
    return rc;
}

int ve_st_check(int n, const ve_st_tensor *ts, int64_t *numel) {
    if (n < 0 || (n > 0 && !ts)) return ve_fail("%d tensors", n);
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) return ve_fail("out of memory");
    int rc = VE_OK;
    for (int i = 0; i < n && rc == VE_OK; i++) {
        const ve_st_tensor *t = &ts[i];
        size_t len = t->name ? strlen(t->name) : 0;
        names[i] = t->name;
        if (len == 0 || len > VE_CKPT_MAX_NAME)
            rc = ve_fail("tensor %d: name missing or longer than %d bytes", i, VE_CKPT_MAX_NAME);
        else if (!utf8_valid(t->name))
            rc = ve_fail("tensor %d: name is not valid UTF-8", i);
        else if (t->ndim < 0 || t->ndim > VE_CKPT_MAX_DIMS || (t->ndim > 0 && !t->shape))
            rc = ve_fail("tensor '%s': %d dimensions", t->name, t->ndim);
        int64_t count = 1;
        for (int d = 0; rc == VE_OK && d < t->ndim; d++) {
            if (t->shape[d] < 0 || t->shape[d] > ((int64_t)1 << 40) ||
                (t->shape[d] && count > ((int64_t)1 << 40) / t->shape[d]))
                rc = ve_fail("tensor '%s': dimension %d of size %lld", t->name, d,
                             (long long)t->shape[d]);
            count *= t->shape[d];
        }
        if (rc == VE_OK && count > 0 && !t->data) rc = ve_fail("tensor '%s': no data", t->name);
        if (numel) numel[i] = count;
    }
    if (rc == VE_OK) rc = check_unique(n, names, "tensor");
    free(names);
    return rc;
}

/* The metadata strings: present, valid UTF-8, within the reader's limit, keys unique. */
static int check_meta(int n, const char *const *keys, const char *const *values) {
    if (n < 0 || n >= VE_CKPT_MAX_META_ENTRIES || (n > 0 && (!keys || !values)))
        return ve_fail("%d metadata entries (0 to %d)", n, VE_CKPT_MAX_META_ENTRIES - 1);
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) return ve_fail("metadata entry %d: key or value missing", i);
        if (strlen(keys[i]) > VE_CKPT_MAX_META || strlen(values[i]) > VE_CKPT_MAX_META)
            return ve_fail("metadata '%.64s': key or value longer than %d bytes", keys[i],
                           VE_CKPT_MAX_META);
        if (!utf8_valid(keys[i]) || !utf8_valid(values[i]))
            return ve_fail("metadata entry %d ('%.64s'): key or value is not valid UTF-8", i,
                           keys[i]);
    }
    return check_unique(n, keys, "metadata key");
}

/* "__metadata__": {"format": "pt"} unless the caller gives its own "format", then the caller's
 * pairs in order. */
static int put_meta(sbuf *b, int n, const char *const *keys, const char *const *values) {
    int own_format = 0;
    for (int i = 0; i < n; i++)
        own_format |= !strcmp(keys[i], "format");
    int rc = puts_(b, own_format ? "{\"__metadata__\":{" : "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; i < n && rc == VE_OK; i++) {
        if (i > 0 || !own_format) rc = put(b, ",", 1);
        if (rc == VE_OK) rc = put_string(b, keys[i]);
        if (rc == VE_OK) rc = put(b, ":", 1);
        if (rc == VE_OK) rc = put_string(b, values[i]);
    }
    return rc == VE_OK ? put(b, "}", 1) : rc;
}

/* The 8-byte length and the JSON header, padded with blanks to a multiple of 8 bytes so the
 * data that follows stays aligned. */
static int build_header(int n, const ve_st_tensor *ts, const int64_t *numel, int n_meta,
                        const char *const *keys, const char *const *values, sbuf *b) {
    int rc = put(b, "\0\0\0\0\0\0\0\0", 8); /* the length, filled in below */
    if (rc == VE_OK) rc = put_meta(b, n_meta, keys, values);
    int64_t off = 0;
    for (int i = 0; i < n && rc == VE_OK; i++) {
        rc = put(b, ",", 1);
        if (rc == VE_OK) rc = put_string(b, ts[i].name);
        if (rc == VE_OK) rc = puts_(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < ts[i].ndim && rc == VE_OK; d++)
            rc = putf(b, d ? ",%lld" : "%lld", (long long)ts[i].shape[d]);
        if (rc == VE_OK) rc = putf(b, "],\"data_offsets\":[%lld,", off);
        off += numel[i] * 4;
        if (rc == VE_OK) rc = putf(b, "%lld]}", off);
    }
    if (rc == VE_OK) rc = put(b, "}", 1);
    while (rc == VE_OK && b->n % 8)
        rc = put(b, " ", 1);
    if (rc != VE_OK) return rc;
    uint64_t hlen = b->n - 8;
    for (int k = 0; k < 8; k++)
        b->s[k] = (char)(hlen >> (8 * k));
    return VE_OK;
}

int ve_safetensors_write_meta(const char *path, int n, const ve_st_tensor *ts, int n_meta,
                              const char *const *keys, const char *const *values) {
    if (!path || !*path) return ve_fail("safetensors write: no path");
    int64_t *numel = malloc((size_t)(n > 0 ? n : 1) * sizeof *numel);
    if (!numel) return ve_fail("out of memory");
    sbuf h = {0};
    int rc = ve_st_check(n, ts, numel);
    for (int i = 0; i < n && rc == VE_OK; i++)
        if (!strcmp(ts[i].name, "__metadata__"))
            rc = ve_fail("tensor %d: the name \"__metadata__\" is reserved", i);
    if (rc == VE_OK) rc = check_meta(n_meta, keys, values);
    if (rc == VE_OK) rc = build_header(n, ts, numel, n_meta, keys, values, &h);
    if (rc == VE_OK) {
        ve_atomic_file f;
        rc = ve_atomic_open(&f, path);
        if (rc == VE_OK) rc = ve_atomic_write(&f, h.s, h.n);
        for (int i = 0; i < n && rc == VE_OK; i++)
            rc = ve_atomic_write(&f, ts[i].data, (size_t)numel[i] * 4);
        if (rc == VE_OK) rc = ve_atomic_commit(&f);
        if (rc != VE_OK) ve_atomic_abort(&f);
    }
    if (rc != VE_OK) ve_fail_context("%s: ", path);
    free(numel);
    free(h.s);
    return rc;
}

int ve_safetensors_write(const char *path, int n, const ve_st_tensor *ts) {
    return ve_safetensors_write_meta(path, n, ts, 0, NULL, NULL);
}
