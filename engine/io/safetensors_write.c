/* Writing safetensors (f32) atomically: PATH.tmp in the same directory, fsync, rename over PATH,
 * fsync the directory. Everything is validated before the temporary file is created, and any
 * later failure removes it, so an existing PATH is never left half-written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int put_string(sbuf *b, const char *s) {
    if (put(b, "\"", 1) != VE_OK) return VE_FAIL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            esc[0] = (char)c, esc[1] = 0;
        if (put(b, esc, strlen(esc)) != VE_OK) return VE_FAIL;
    }
    return put(b, "\"", 1);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names, shapes and data pointers, before anything touches the disk; *numel per tensor. */
static int validate(int n, const ve_st_tensor *ts, int64_t *numel) {
    if (n < 0 || (n > 0 && !ts)) return ve_fail("%d tensors", n);
    for (int i = 0; i < n; i++) {
        const ve_st_tensor *t = &ts[i];
        size_t len = t->name ? strlen(t->name) : 0;
        if (len == 0 || len > VE_CKPT_MAX_NAME || !strcmp(t->name, "__metadata__"))
            return ve_fail("tensor %d: name missing, longer than %d bytes or reserved", i,
                           VE_CKPT_MAX_NAME);
        if (t->ndim < 0 || t->ndim > VE_CKPT_MAX_DIMS || (t->ndim > 0 && !t->shape))
            return ve_fail("tensor '%s': %d dimensions", t->name, t->ndim);
        numel[i] = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || t->shape[d] > ((int64_t)1 << 40) ||
                (t->shape[d] && numel[i] > ((int64_t)1 << 40) / t->shape[d]))
                return ve_fail("tensor '%s': dimension %d of size %lld", t->name, d,
                               (long long)t->shape[d]);
            numel[i] *= t->shape[d];
        }
        if (numel[i] > 0 && !t->data) return ve_fail("tensor '%s': no data", t->name);
    }
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) return ve_fail("out of memory");
    for (int i = 0; i < n; i++)
        names[i] = ts[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int rc = VE_OK;
    for (int i = 1; i < n && rc == VE_OK; i++)
        if (!strcmp(names[i - 1], names[i])) rc = ve_fail("tensor '%s' given twice", names[i]);
    free(names);
    return rc;
}

/* The 8-byte length and the JSON header, padded with blanks to a multiple of 8 bytes so the
 * data that follows stays aligned. */
static int build_header(int n, const ve_st_tensor *ts, const int64_t *numel, sbuf *b) {
    int rc = put(b, "\0\0\0\0\0\0\0\0", 8); /* the length, filled in below */
    if (rc == VE_OK) rc = puts_(b, "{\"__metadata__\":{\"format\":\"pt\"}");
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

int ve_safetensors_write(const char *path, int n, const ve_st_tensor *ts) {
    if (!path || !*path) return ve_fail("safetensors write: no path");
    int64_t *numel = malloc((size_t)(n > 0 ? n : 1) * sizeof *numel);
    if (!numel) return ve_fail("out of memory");
    sbuf h = {0};
    int rc = validate(n, ts, numel);
    if (rc == VE_OK) rc = build_header(n, ts, numel, &h);
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
