/* The checkpoint API: format detection, lookup by name (and of safetensors metadata), and
 * reading a tensor out as contiguous f32 (strided views materialised, 16-bit and other dtypes
 * converted). */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "status.h"

#define CHUNK_ELEMS ((int64_t)1 << 20)

struct ve_checkpoint {
    char *path;
    ve_file f;
    ve_ckpt_format format;
    ve_tensor_list l;
    ve_meta_list meta;              /* safetensors only */
    const ve_ckpt_tensor **by_name; /* sorted by name */
};

size_t ve_ckpt_dtype_size(ve_ckpt_dtype dt) {
    switch (dt) {
    case VE_CKPT_F16:
    case VE_CKPT_BF16:
        return 2;
    case VE_CKPT_F32:
    case VE_CKPT_I32:
        return 4;
    default:
        return 8;
    }
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const ve_ckpt_tensor *const *)a)->name,
                  (*(const ve_ckpt_tensor *const *)b)->name);
}

static int index_names(ve_checkpoint *ck) {
    ck->by_name = malloc((size_t)(ck->l.n ? ck->l.n : 1) * sizeof *ck->by_name);
    if (!ck->by_name) return ve_fail("out of memory");
    for (int i = 0; i < ck->l.n; i++)
        ck->by_name[i] = &ck->l.t[i];
    qsort(ck->by_name, (size_t)ck->l.n, sizeof *ck->by_name, cmp_name);
    for (int i = 1; i < ck->l.n; i++)
        if (!strcmp(ck->by_name[i - 1]->name, ck->by_name[i]->name))
            return ve_fail("tensor '%s' appears twice", ck->by_name[i]->name);
    return VE_OK;
}

ve_checkpoint *ve_checkpoint_open(const char *path) {
    ve_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->path = strdup(path))) {
        free(ck);
        ve_fail("%s: out of memory", path);
        return NULL;
    }
    ck->f.fd = -1;
    int rc = ve_file_open(&ck->f, path);
    uint8_t magic[4] = {0};
    if (rc == VE_OK && ck->f.size >= 4) rc = ve_file_read_at(&ck->f, 0, magic, 4);
    if (rc == VE_OK) {
        ck->format = !memcmp(magic, "PK\3\4", 4) ? VE_CKPT_PTH : VE_CKPT_SAFETENSORS;
        rc = ck->format == VE_CKPT_PTH ? ve_pth_load(&ck->f, &ck->l)
                                       : ve_safetensors_load(&ck->f, &ck->l, &ck->meta);
    }
    if (rc == VE_OK) rc = index_names(ck);
    if (rc != VE_OK) {
        ve_fail_context("%s: ", path);
        ve_checkpoint_close(ck);
        return NULL;
    }
    return ck;
}

void ve_checkpoint_close(ve_checkpoint *ck) {
    if (!ck) return;
    ve_file_close(&ck->f);
    ve_tensor_list_free(&ck->l);
    ve_meta_list_free(&ck->meta);
    free(ck->by_name);
    free(ck->path);
    free(ck);
}

ve_ckpt_format ve_checkpoint_format(const ve_checkpoint *ck) {
    return ck->format;
}

const char *ve_checkpoint_path(const ve_checkpoint *ck) {
    return ck->path;
}

int ve_checkpoint_count(const ve_checkpoint *ck) {
    return ck ? ck->l.n : 0;
}

const ve_ckpt_tensor *ve_checkpoint_tensor(const ve_checkpoint *ck, int i) {
    return ck && i >= 0 && i < ck->l.n ? &ck->l.t[i] : NULL;
}

const ve_ckpt_tensor *ve_checkpoint_find(const ve_checkpoint *ck, const char *name) {
    if (!ck || !name) return NULL;
    ve_ckpt_tensor key = {.name = name};
    const ve_ckpt_tensor *kp = &key;
    const ve_ckpt_tensor **hit =
        bsearch(&kp, ck->by_name, (size_t)ck->l.n, sizeof *ck->by_name, cmp_name);
    return hit ? *hit : NULL;
}

const char *ve_checkpoint_meta(const ve_checkpoint *ck, const char *key) {
    for (int i = 0; ck && key && i < ck->meta.n; i++)
        if (!strcmp(ck->meta.key[i], key)) return ck->meta.value[i];
    return NULL;
}

static float half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | man << 13; /* inf, nan */
    else if (exp != 0)
        bits = sign | (exp + 112) << 23 | man << 13;
    else if (man == 0)
        bits = sign;
    else { /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400))
            man <<= 1, exp--;
        bits = sign | exp << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float to_f32(const uint8_t *p, ve_ckpt_dtype dt) {
    switch (dt) {
    case VE_CKPT_F32: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case VE_CKPT_F16:
        return half_to_f32((uint16_t)(p[0] | p[1] << 8));
    case VE_CKPT_BF16: {
        uint32_t bits = (uint32_t)(p[0] | p[1] << 8) << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    case VE_CKPT_F64: {
        double d;
        memcpy(&d, p, 8);
        return (float)d;
    }
    case VE_CKPT_I64: {
        int64_t v;
        memcpy(&v, p, 8);
        return (float)v;
    }
    default: {
        int32_t v;
        memcpy(&v, p, 4);
        return (float)v;
    }
    }
}

static int is_contiguous(const ve_ckpt_tensor *t) {
    int64_t want = 1;
    for (int d = t->ndim; d-- > 0;) {
        if (t->shape[d] != 1 && t->strides[d] != want) return 0;
        want *= t->shape[d];
    }
    return 1;
}

/* Contiguous: straight into dst (f32) or through a bounded buffer (conversion). */
static int read_contiguous(ve_checkpoint *ck, const ve_ckpt_tensor *t, float *dst) {
    size_t es = ve_ckpt_dtype_size(t->dtype);
    uint64_t pos = t->storage_pos + (uint64_t)t->storage_offset * es;
    if (t->dtype == VE_CKPT_F32) return ve_file_read_at(&ck->f, pos, dst, (size_t)t->numel * 4);
    uint8_t *buf = malloc((size_t)(t->numel < CHUNK_ELEMS ? t->numel : CHUNK_ELEMS) * es);
    if (!buf) return ve_fail("out of memory");
    for (int64_t done = 0; done < t->numel;) {
        int64_t n = t->numel - done < CHUNK_ELEMS ? t->numel - done : CHUNK_ELEMS;
        if (ve_file_read_at(&ck->f, pos + (uint64_t)done * es, buf, (size_t)n * es) != VE_OK) {
            free(buf);
            return VE_FAIL;
        }
        for (int64_t i = 0; i < n; i++)
            dst[done + i] = to_f32(buf + i * es, t->dtype);
        done += n;
    }
    free(buf);
    return VE_OK;
}

/* A strided view: reads the span of storage it touches, then gathers row-major. */
static int read_strided(ve_checkpoint *ck, const ve_ckpt_tensor *t, float *dst) {
    size_t es = ve_ckpt_dtype_size(t->dtype);
    int64_t span = 1;
    for (int d = 0; d < t->ndim; d++)
        span += (t->shape[d] - 1) * t->strides[d];
    uint8_t *buf = malloc((size_t)span * es);
    if (!buf) return ve_fail("out of memory for a %lld-element span", (long long)span);
    uint64_t pos = t->storage_pos + (uint64_t)t->storage_offset * es;
    if (ve_file_read_at(&ck->f, pos, buf, (size_t)span * es) != VE_OK) {
        free(buf);
        return VE_FAIL;
    }
    int64_t idx[VE_CKPT_MAX_DIMS] = {0}, src = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        dst[i] = to_f32(buf + src * (int64_t)es, t->dtype);
        for (int d = t->ndim; d-- > 0;) { /* odometer over the row-major index */
            src += t->strides[d];
            if (++idx[d] < t->shape[d]) break;
            src -= t->strides[d] * t->shape[d];
            idx[d] = 0;
        }
    }
    free(buf);
    return VE_OK;
}

int ve_checkpoint_read_f32(ve_checkpoint *ck, const ve_ckpt_tensor *t, float *dst, size_t n) {
    if (!ck || !t || t < ck->l.t || t >= ck->l.t + ck->l.n)
        return ve_fail("checkpoint read: tensor does not belong to this checkpoint");
    if (n != (size_t)t->numel)
        return ve_fail("%s: tensor '%s' has %lld elements, destination holds %zu", ck->path,
                       t->name, (long long)t->numel, n);
    if (n == 0) return VE_OK;
    int rc = is_contiguous(t) ? read_contiguous(ck, t, dst) : read_strided(ck, t, dst);
    if (rc != VE_OK) ve_fail_context("%s: tensor '%s': ", ck->path, t->name);
    return rc;
}
