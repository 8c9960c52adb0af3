/* Reading safetensors: an 8-byte little-endian header length, a JSON header
 * {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}, then the data. The
 * metadata strings are kept (the training state stores its step, RNG and config there). */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "status.h"

#define MAX_HEADER ((uint64_t)100 << 20)

static const char *const k_dtypes[] = {
    [VE_CKPT_F32] = "F32", [VE_CKPT_F16] = "F16", [VE_CKPT_BF16] = "BF16",
    [VE_CKPT_F64] = "F64", [VE_CKPT_I64] = "I64", [VE_CKPT_I32] = "I32",
};

void ve_meta_list_free(ve_meta_list *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->value[i]);
    }
    free(m->key);
    free(m->value);
    memset(m, 0, sizeof *m);
}

static int meta_push(ve_meta_list *m, const char *key, const char *value) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) return ve_fail("key \"%s\" given twice", key);
    if (m->n == VE_CKPT_MAX_META_ENTRIES)
        return ve_fail("more than %d entries", VE_CKPT_MAX_META_ENTRIES);
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        char **nk = realloc(m->key, (size_t)cap * sizeof *nk);
        if (nk) m->key = nk;
        char **nv = nk ? realloc(m->value, (size_t)cap * sizeof *nv) : NULL;
        if (!nv) return ve_fail("out of memory");
        m->value = nv;
        m->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return ve_fail("out of memory");
    }
    m->key[m->n] = k;
    m->value[m->n++] = v;
    return VE_OK;
}

/* "__metadata__": an object of string values (the format allows nothing else), kept in order. */
static int parse_metadata(ve_json *j, ve_meta_list *meta) {
    char *key = malloc(VE_CKPT_MAX_META + 1), *value = malloc(VE_CKPT_MAX_META + 1);
    int rc = key && value ? ve_json_expect(j, '{') : ve_fail("out of memory");
    if (rc == VE_OK && ve_json_peek(j) == '}') {
        j->i++;
        free(key);
        free(value);
        return VE_OK;
    }
    while (rc == VE_OK) {
        rc = ve_json_string(j, key, VE_CKPT_MAX_META + 1);
        if (rc == VE_OK) rc = ve_json_expect(j, ':');
        if (rc == VE_OK && ve_json_peek(j) != '"')
            rc = ve_fail("the value of \"%s\" at byte %zu is not a string (only strings are "
                         "allowed)",
                         key, j->i);
        if (rc == VE_OK) rc = ve_json_string(j, value, VE_CKPT_MAX_META + 1);
        if (rc == VE_OK) rc = meta_push(meta, key, value);
        if (rc != VE_OK) break;
        if (ve_json_peek(j) == '}') {
            j->i++;
            break;
        }
        rc = ve_json_expect(j, ',');
    }
    free(key);
    free(value);
    if (rc != VE_OK) ve_fail_context("__metadata__: ");
    return rc;
}

/* [int, int, ...] into out (at most max values). */
static int int_array(ve_json *j, int64_t *out, int max, int *n, const char *what) {
    *n = 0;
    if (ve_json_expect(j, '[') != VE_OK) return VE_FAIL;
    if (ve_json_peek(j) == ']') {
        j->i++;
        return VE_OK;
    }
    for (;;) {
        if (*n == max) return ve_fail("%s has more than %d values", what, max);
        if (ve_json_int(j, &out[(*n)++]) != VE_OK) return VE_FAIL;
        if (ve_json_peek(j) == ']') {
            j->i++;
            return VE_OK;
        }
        if (ve_json_expect(j, ',') != VE_OK) return VE_FAIL;
    }
}

static int parse_dtype(ve_json *j, ve_ckpt_dtype *dt) {
    char s[16];
    if (ve_json_string(j, s, sizeof s) != VE_OK) return VE_FAIL;
    for (size_t k = 0; k < sizeof k_dtypes / sizeof k_dtypes[0]; k++)
        if (!strcmp(s, k_dtypes[k])) {
            *dt = (ve_ckpt_dtype)k;
            return VE_OK;
        }
    return ve_fail("dtype \"%s\" not supported (F32, F16, BF16, F64, I64, I32)", s);
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]}, each key exactly once. */
static int parse_tensor(ve_json *j, ve_ckpt_tensor *t, int64_t off[2]) {
    int seen[3] = {0, 0, 0}, n_off = 0;
    if (ve_json_expect(j, '{') != VE_OK) return VE_FAIL;
    for (;;) {
        char key[32];
        size_t at = j->i;
        if (ve_json_string(j, key, sizeof key) != VE_OK || ve_json_expect(j, ':') != VE_OK)
            return VE_FAIL;
        int k = !strcmp(key, "dtype")          ? 0
                : !strcmp(key, "shape")        ? 1
                : !strcmp(key, "data_offsets") ? 2
                                               : -1;
        if (k < 0) return ve_fail("unknown key \"%s\" at byte %zu", key, at);
        if (seen[k]++) return ve_fail("key \"%s\" given twice at byte %zu", key, at);
        int rc = k == 0   ? parse_dtype(j, &t->dtype)
                 : k == 1 ? int_array(j, t->shape, VE_CKPT_MAX_DIMS, &t->ndim, "shape")
                          : int_array(j, off, 2, &n_off, "data_offsets");
        if (rc != VE_OK) return VE_FAIL;
        if (ve_json_peek(j) == '}') {
            j->i++;
            break;
        }
        if (ve_json_expect(j, ',') != VE_OK) return VE_FAIL;
    }
    if (!seen[0] || !seen[1] || !seen[2]) return ve_fail("needs dtype, shape and data_offsets");
    if (n_off != 2) return ve_fail("data_offsets is not a [begin, end] pair");
    return VE_OK;
}

/* Contiguous strides, the storage = the tensor, and its bytes within the data section. */
static int place(ve_ckpt_tensor *t, const int64_t off[2], uint64_t data_pos, uint64_t data_size) {
    t->storage_numel = (int64_t)1 << 40; /* provisional, for the shape check */
    for (int d = t->ndim; d-- > 0;)
        t->strides[d] = d == t->ndim - 1 ? 1 : 0;
    if (ve_tensor_check_extent(t) != VE_OK) return VE_FAIL;
    for (int d = t->ndim - 1; d-- > 0;) /* a size-0 tensor keeps strides it never uses */
        t->strides[d] = t->numel ? t->strides[d + 1] * t->shape[d + 1] : 1;
    t->storage_numel = t->numel;
    uint64_t bytes = (uint64_t)t->numel * ve_ckpt_dtype_size(t->dtype);
    if (off[0] < 0 || off[1] < off[0] || (uint64_t)off[1] > data_size)
        return ve_fail("data_offsets [%lld, %lld] outside the data section of %llu bytes",
                       (long long)off[0], (long long)off[1], (unsigned long long)data_size);
    if ((uint64_t)(off[1] - off[0]) != bytes)
        return ve_fail("data_offsets [%lld, %lld] span %lld bytes, the shape needs %llu",
                       (long long)off[0], (long long)off[1], (long long)(off[1] - off[0]),
                       (unsigned long long)bytes);
    t->storage_pos = data_pos + (uint64_t)off[0];
    return ve_tensor_check_extent(t);
}

static int parse_header(ve_json *j, uint64_t data_pos, uint64_t data_size, ve_tensor_list *out,
                        ve_meta_list *meta) {
    int seen_meta = 0;
    if (ve_json_expect(j, '{') != VE_OK) return VE_FAIL;
    if (ve_json_peek(j) == '}') {
        j->i++;
        return ve_json_end(j);
    }
    for (;;) {
        char name[VE_CKPT_MAX_NAME + 1];
        if (ve_json_string(j, name, sizeof name) != VE_OK || ve_json_expect(j, ':') != VE_OK)
            return VE_FAIL;
        if (!strcmp(name, "__metadata__")) {
            if (seen_meta++) return ve_fail("\"__metadata__\" given twice");
            if (parse_metadata(j, meta) != VE_OK) return VE_FAIL;
        } else {
            ve_ckpt_tensor t = {.name = name, .storage_key = name};
            int64_t off[2];
            if (parse_tensor(j, &t, off) != VE_OK || place(&t, off, data_pos, data_size) != VE_OK)
                return ve_fail_context("tensor '%s': ", name);
            if (ve_tensor_list_push(out, &t) != VE_OK) return VE_FAIL;
        }
        if (ve_json_peek(j) == '}') {
            j->i++;
            return ve_json_end(j);
        }
        if (ve_json_expect(j, ',') != VE_OK) return VE_FAIL;
    }
}

int ve_safetensors_load(const ve_file *f, ve_tensor_list *out, ve_meta_list *meta) {
    uint8_t len8[8];
    if (ve_file_read_at(f, 0, len8, 8) != VE_OK)
        return ve_fail("safetensors: file of %llu bytes has no header length",
                       (unsigned long long)f->size);
    uint64_t hlen = 0;
    for (int k = 8; k-- > 0;)
        hlen = hlen << 8 | len8[k];
    if (hlen > f->size - 8 || hlen > MAX_HEADER)
        return ve_fail("safetensors: header length %llu runs beyond the file (%llu bytes) or "
                       "past 100 MiB",
                       (unsigned long long)hlen, (unsigned long long)f->size);
    char *h = malloc(hlen ? hlen : 1);
    if (!h) return ve_fail("out of memory for a %llu-byte header", (unsigned long long)hlen);
    int rc = ve_file_read_at(f, 8, h, hlen);
    ve_json j = {.s = h, .n = hlen, .i = 0};
    if (rc == VE_OK) rc = parse_header(&j, 8 + hlen, f->size - 8 - hlen, out, meta);
    if (rc != VE_OK) ve_fail_context("safetensors header: ");
    free(h);
    return rc;
}

const char *ve_ckpt_dtype_name(ve_ckpt_dtype dt) {
    return (unsigned)dt < sizeof k_dtypes / sizeof k_dtypes[0] ? k_dtypes[dt] : "?";
}
