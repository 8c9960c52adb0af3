/* .npy reading: the magic and version, a strict parser for the header's dictionary literal,
 * then the data, converted to float chunk by chunk with bounded reads. */
#include <stdlib.h>
#include <string.h>

#include "npy_internal.h"
#include "status.h"

#define MAX_HEADER ((uint32_t)1 << 20)
#define CHUNK ((size_t)1 << 20)

typedef struct {
    const char *s;
    size_t n, i;
} cursor;

typedef struct {
    char order; /* '<' little, '>' big */
    char kind;  /* 'f', 'i', 'u', 'b' */
    int size;   /* bytes */
} dtype;

static void blanks(cursor *c) {
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int peek(cursor *c) {
    blanks(c);
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int expect(cursor *c, char ch) {
    if (peek(c) != (unsigned char)ch) return ve_fail("header: '%c' expected at byte %zu", ch, c->i);
    c->i++;
    return VE_OK;
}

/* A quoted string without escapes, into out (cap bytes with the NUL). */
static int string(cursor *c, char *out, size_t cap) {
    int q = peek(c);
    if (q != '\'' && q != '"') return ve_fail("header: string expected at byte %zu", c->i);
    size_t start = ++c->i;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\' || (unsigned char)c->s[c->i] < 0x20)
            return ve_fail("header: escape or control character in a string at byte %zu", c->i);
        c->i++;
    }
    if (c->i >= c->n) return ve_fail("header: unterminated string");
    size_t len = c->i - start;
    c->i++;
    if (len >= cap) return ve_fail("header: string of %zu bytes is too long", len);
    memcpy(out, c->s + start, len);
    out[len] = 0;
    return VE_OK;
}

static int word(cursor *c, const char *w) {
    size_t n = strlen(w);
    if (peek(c) < 0 || c->n - c->i < n || memcmp(c->s + c->i, w, n)) return 0;
    c->i += n;
    return 1;
}

static int parse_descr(cursor *c, dtype *dt, char *descr) {
    if (peek(c) == '[') return ve_fail("structured dtypes are not supported");
    if (string(c, descr, 8) != VE_OK) return ve_fail_context("descr: ");
    const char *d = descr;
    if (d[1] == 'O') return ve_fail("object arrays (dtype '%s') are not supported", descr);
    int size = d[1] && d[2] >= '1' && d[2] <= '8' && !d[3] ? d[2] - '0' : 0;
    int ok = (d[1] == 'f' && (size == 4 || size == 8)) ||
             ((d[1] == 'i' || d[1] == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
             (d[1] == 'b' && size == 1);
    if (!ok || !(d[0] == '<' || d[0] == '>' || (d[0] == '|' && size == 1)))
        return ve_fail("dtype '%s' is not supported (float32/64, bool, [u]int8/16/32/64 are)",
                       descr);
    dt->order = d[0] == '>' ? '>' : '<';
    dt->kind = d[1];
    dt->size = size;
    return VE_OK;
}

static int parse_shape(cursor *c, ve_npy_array *a) {
    if (expect(c, '(') != VE_OK) return ve_fail("shape: a tuple expected");
    a->ndim = 0;
    int commas = 0;
    while (peek(c) != ')') {
        if (a->ndim == VE_NPY_MAX_DIMS)
            return ve_fail("shape: more than %d dimensions", VE_NPY_MAX_DIMS);
        int64_t v = 0;
        int digits = 0;
        while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
            if (v > ((int64_t)1 << 40)) return ve_fail("shape: dimension too large");
            v = v * 10 + (c->s[c->i++] - '0');
            digits++;
        }
        if (!digits) return ve_fail("shape: non-negative integer expected at byte %zu", c->i);
        if (c->i < c->n && c->s[c->i] == 'L') c->i++; /* Python 2 longs */
        a->shape[a->ndim++] = v;
        if (peek(c) == ',') {
            c->i++;
            commas++;
        } else if (peek(c) != ')') {
            return ve_fail("shape: ',' or ')' expected at byte %zu", c->i);
        }
    }
    c->i++;
    if (a->ndim == 1 && commas == 0) return ve_fail("shape: (n) is not a tuple; (n,) expected");
    return VE_OK;
}

/* The dictionary literal: exactly the three keys, each once, in any order. */
static int parse_header(const char *s, size_t n, ve_npy_array *a, dtype *dt) {
    cursor c = {s, n, 0};
    int seen[3] = {0, 0, 0}, fortran = 0;
    if (expect(&c, '{') != VE_OK) return VE_FAIL;
    while (peek(&c) != '}') {
        char key[32];
        if (string(&c, key, sizeof key) != VE_OK || expect(&c, ':') != VE_OK) return VE_FAIL;
        int k = !strcmp(key, "descr")           ? 0
                : !strcmp(key, "fortran_order") ? 1
                : !strcmp(key, "shape")         ? 2
                                                : -1;
        if (k < 0) return ve_fail("header: unexpected key '%s'", key);
        if (seen[k]++) return ve_fail("header: key '%s' given twice", key);
        int rc = VE_OK;
        if (k == 0)
            rc = parse_descr(&c, dt, a->descr);
        else if (k == 2)
            rc = parse_shape(&c, a);
        else if (word(&c, "True"))
            fortran = 1;
        else if (!word(&c, "False"))
            rc = ve_fail("header: fortran_order must be True or False");
        if (rc != VE_OK) return rc;
        if (peek(&c) == ',')
            c.i++;
        else if (peek(&c) != '}')
            return ve_fail("header: ',' or '}' expected at byte %zu", c.i);
    }
    c.i++;
    if (peek(&c) != -1) return ve_fail("header: unexpected bytes after the dictionary");
    if (!seen[0] || !seen[1] || !seen[2])
        return ve_fail("header: key '%s' missing", !seen[0]   ? "descr"
                                                   : !seen[1] ? "fortran_order"
                                                              : "shape");
    if (fortran)
        return ve_fail("Fortran-order arrays are not supported (save with C order, e.g. "
                       "numpy.ascontiguousarray)");
    return VE_OK;
}

static float convert_one(const uint8_t *p, const dtype *dt) {
    uint64_t u = 0;
    for (int k = 0; k < dt->size; k++) /* assemble as an integer in the file's byte order */
        u |= (uint64_t)p[dt->order == '<' ? k : dt->size - 1 - k] << (8 * k);
    switch (dt->kind) {
    case 'f':
        if (dt->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            return f;
        } else {
            double x;
            memcpy(&x, &u, 8);
            return (float)x;
        }
    case 'u':
        return (float)u;
    case 'b':
        return u ? 1.0f : 0.0f;
    default: /* 'i': sign-extend */
        if (dt->size < 8 && (u >> (8 * dt->size - 1)) & 1) u |= ~(uint64_t)0 << (8 * dt->size);
        return (float)(int64_t)u;
    }
}

static int read_data(const ve_file *f, uint64_t pos, ve_npy_array *a, const dtype *dt) {
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return ve_fail("out of memory");
    size_t per = CHUNK / (size_t)dt->size;
    int rc = VE_OK;
    for (int64_t i = 0; i < a->numel && rc == VE_OK; i += (int64_t)per) {
        size_t m = a->numel - i < (int64_t)per ? (size_t)(a->numel - i) : per;
        rc = ve_file_read_at(f, pos + (uint64_t)i * (uint64_t)dt->size, buf, m * dt->size);
        for (size_t j = 0; j < m && rc == VE_OK; j++)
            a->data[i + (int64_t)j] = convert_one(buf + j * dt->size, dt);
    }
    free(buf);
    return rc;
}

static int read_npy(const ve_file *f, uint64_t pos, uint64_t len, ve_npy_array *a) {
    uint8_t pre[12];
    if (len < 10 || ve_file_read_at(f, pos, pre, len < 12 ? 10 : 12) != VE_OK)
        return ve_fail("only %llu bytes: too short for a .npy header", (unsigned long long)len);
    if (memcmp(pre, "\x93NUMPY", 6)) return ve_fail("not a .npy file (no \\x93NUMPY magic)");
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return ve_fail(".npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)", pre[6],
                       pre[7]);
    int v1 = pre[6] == 1;
    uint64_t hstart = v1 ? 10 : 12;
    uint32_t hlen = v1 ? (uint32_t)(pre[8] | pre[9] << 8)
                       : (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
                             (uint32_t)pre[11] << 24;
    if (hlen > MAX_HEADER) return ve_fail("header of %u bytes (at most 1 MiB)", hlen);
    if (hstart + hlen > len)
        return ve_fail("header of %u bytes runs past the end (%llu bytes)", hlen,
                       (unsigned long long)len);
    char *h = malloc(hlen + 1);
    if (!h) return ve_fail("out of memory");
    int rc = ve_file_read_at(f, pos + hstart, h, hlen);
    h[hlen] = 0;
    if (rc == VE_OK && memchr(h, 0, hlen)) rc = ve_fail("header: NUL byte");
    dtype dt = {0};
    if (rc == VE_OK) rc = parse_header(h, hlen, a, &dt);
    free(h);
    if (rc != VE_OK) return rc;
    a->numel = 1;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] && a->numel > VE_NPY_MAX_ELEMS / a->shape[d])
            return ve_fail("shape: more than 2^31 elements");
        a->numel *= a->shape[d];
    }
    uint64_t need = (uint64_t)a->numel * (uint64_t)dt.size, have = len - hstart - hlen;
    if (need > have)
        return ve_fail("the data needs %llu bytes but %llu follow the header (truncated?)",
                       (unsigned long long)need, (unsigned long long)have);
    if (need < have)
        return ve_fail("%llu unexpected bytes after the data", (unsigned long long)(have - need));
    a->data = malloc((size_t)(a->numel ? a->numel : 1) * sizeof(float));
    if (!a->data) return ve_fail("out of memory for %lld floats", (long long)a->numel);
    return read_data(f, pos + hstart + hlen, a, &dt);
}

int ve_npy_read_at(const ve_file *f, uint64_t pos, uint64_t len, ve_npy_array *a) {
    memset(a, 0, sizeof *a);
    if (read_npy(f, pos, len, a) != VE_OK) {
        ve_npy_free(a);
        return VE_FAIL;
    }
    return VE_OK;
}

int ve_npy_load(const char *path, ve_npy_array *a) {
    memset(a, 0, sizeof *a);
    if (!path) return ve_fail("npy load: no path");
    ve_file f = {.fd = -1};
    int rc = ve_file_open(&f, path);
    if (rc == VE_OK) rc = ve_npy_read_at(&f, 0, f.size, a);
    ve_file_close(&f);
    return rc == VE_OK ? rc : ve_fail_context("%s: ", path);
}

void ve_npy_free(ve_npy_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
