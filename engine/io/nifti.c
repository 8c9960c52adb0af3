/* NIfTI-1 loading: the 348-byte header (either byte order) is validated field by field, then the
 * voxel data is read from vox_offset through the plain-or-gzip stream and converted to float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "byte_stream.h"
#include "nifti.h"
#include "status.h"

#define HDR_BYTES 348
/* Bytes allowed in a .nii.gz after the voxel data (decompressed, then discarded). */
#define MAX_TRAILING ((uint64_t)64 << 20)

typedef struct {
    const uint8_t *b;
    int swap;
} hdr;

static uint32_t u32_at(const uint8_t *p, int swap) {
    return swap ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int16_t i16(const hdr *h, int off) {
    const uint8_t *p = h->b + off;
    return (int16_t)(h->swap ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]));
}

static float f32(const hdr *h, int off) {
    uint32_t u = u32_at(h->b + off, h->swap);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int type_size(int dt) {
    switch (dt) {
    case VE_NIFTI_UINT8:
    case VE_NIFTI_INT8:
        return 1;
    case VE_NIFTI_INT16:
    case VE_NIFTI_UINT16:
        return 2;
    case VE_NIFTI_INT32:
    case VE_NIFTI_UINT32:
    case VE_NIFTI_FLOAT32:
        return 4;
    case VE_NIFTI_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static int check_ident(const uint8_t *b, int *swap) {
    uint32_t le = u32_at(b, 0), be = u32_at(b, 1);
    if (le == 540 || be == 540) return ve_fail("a NIfTI-2 file: only NIfTI-1 is supported");
    if (le != HDR_BYTES && be != HDR_BYTES)
        return ve_fail("not a NIfTI-1 file: sizeof_hdr is %u, not 348", le);
    *swap = le != HDR_BYTES;
    const uint8_t *m = b + 344;
    if (!memcmp(m, "ni1\0", 4))
        return ve_fail("a two-file NIfTI (.hdr + .img, magic \"ni1\") is not supported: "
                       "convert it to a single .nii");
    if (memcmp(m, "n+1\0", 4))
        return ve_fail("no NIfTI-1 magic \"n+1\" at byte 344 (found %02x %02x %02x %02x; an "
                       "ANALYZE 7.5 header?)",
                       m[0], m[1], m[2], m[3]);
    return VE_OK;
}

/* Fills v's metadata from the header; *data_pos and *data_bytes locate the voxels. */
static int parse_header(const hdr *h, ve_volume *v, uint64_t *data_pos, uint64_t *data_bytes) {
    int nd = i16(h, 40);
    if (nd < 1 || nd > 7) return ve_fail("dim[0] is %d (1 to 7 expected)", nd);
    int64_t n = 1;
    for (int d = 1; d <= nd; d++) {
        int s = i16(h, 40 + 2 * d);
        if (s < 1) return ve_fail("dim[%d] is %d", d, s);
        if (d > 3 && s != 1)
            return ve_fail("dim[%d] is %d: only 3-D volumes are read (dimensions beyond the "
                           "third must have size 1)",
                           d, s);
        if (d <= 3) v->dim[d - 1] = s;
        n *= s; /* at most 32767^3: no overflow */
    }
    for (int d = nd; d < 3; d++)
        v->dim[d] = 1;
    if (n > VE_NIFTI_MAX_VOXELS)
        return ve_fail("%lld x %lld x %lld voxels: more than 2^30", (long long)v->dim[0],
                       (long long)v->dim[1], (long long)v->dim[2]);
    v->datatype = i16(h, 70);
    int size = type_size(v->datatype), bitpix = i16(h, 72);
    if (!size)
        return ve_fail("datatype %d is not supported (uint8 2, int16 4, int32 8, float32 16, "
                       "float64 64, int8 256, uint16 512, uint32 768 are)",
                       v->datatype);
    if (bitpix != 8 * size)
        return ve_fail("bitpix %d does not match datatype %d (%d bits)", bitpix, v->datatype,
                       8 * size);
    for (int k = 0; k < 8; k++)
        v->pixdim[k] = f32(h, 76 + 4 * k);
    for (int k = 0; k < 3; k++) {
        float s = fabsf(v->pixdim[k + 1]);
        v->spacing[k] = isfinite(s) && s > 0.0f ? s : 1.0f;
    }
    float off = f32(h, 108);
    if (!isfinite(off) || off < HDR_BYTES || off > (float)((uint64_t)1 << 40) || off != floorf(off))
        return ve_fail("vox_offset %g is not a whole number of bytes from 348 on", (double)off);
    v->scl_slope = f32(h, 112);
    v->scl_inter = f32(h, 116);
    v->xyzt_units = h->b[123];
    *data_pos = (uint64_t)off;
    *data_bytes = (uint64_t)n * (uint64_t)size;
    return VE_OK;
}

/* Raw little- or big-endian samples to float, scaled. */
static void convert(const ve_volume *v, const uint8_t *raw, int64_t n, int swap) {
    int size = type_size(v->datatype);
    int scale = isfinite(v->scl_slope) && v->scl_slope != 0.0f && isfinite(v->scl_inter);
    double a = scale ? v->scl_slope : 1.0, b = scale ? v->scl_inter : 0.0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *p = raw + i * size;
        uint8_t q[8];
        for (int k = 0; k < size; k++)
            q[k] = p[swap ? size - 1 - k : k]; /* now little-endian */
        uint64_t u = 0;
        for (int k = size - 1; k >= 0; k--)
            u = u << 8 | q[k];
        double x;
        switch (v->datatype) {
        case VE_NIFTI_UINT8:
        case VE_NIFTI_UINT16:
        case VE_NIFTI_UINT32:
            x = (double)u;
            break;
        case VE_NIFTI_INT8:
            x = (int8_t)u;
            break;
        case VE_NIFTI_INT16:
            x = (int16_t)u;
            break;
        case VE_NIFTI_INT32:
            x = (int32_t)u;
            break;
        case VE_NIFTI_FLOAT32: {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            x = f;
            break;
        }
        default: {
            memcpy(&x, &u, 8);
            break;
        }
        }
        v->data[i] = (float)(scale ? x * a + b : x);
    }
}

static int load(const char *path, ve_volume *v) {
    ve_stream *s = malloc(sizeof *s);
    if (!s) return ve_fail("out of memory");
    uint8_t b[HDR_BYTES];
    uint8_t *raw = NULL;
    int rc = ve_stream_open(s, path);
    if (rc != VE_OK) {
        free(s);
        return rc;
    }
    if (!s->gz && s->f.size < HDR_BYTES)
        rc = ve_fail("only %llu bytes: shorter than the 348-byte NIfTI-1 header",
                     (unsigned long long)s->f.size);
    else if (ve_stream_read(s, b, HDR_BYTES) != VE_OK)
        rc = ve_fail_context("reading the 348-byte header: ");
    hdr h = {b, 0};
    uint64_t pos = 0, bytes = 0;
    if (rc == VE_OK) rc = check_ident(b, &h.swap);
    if (rc == VE_OK) rc = parse_header(&h, v, &pos, &bytes);
    v->byte_swapped = h.swap;
    if (rc == VE_OK) memcpy(v->header, b, HDR_BYTES); /* kept for ve_nifti_write_labels */
    if (rc == VE_OK && !s->gz && (pos > s->f.size || bytes > s->f.size - pos))
        rc = ve_fail("the voxel data needs %llu bytes from offset %llu, but the file has %llu "
                     "bytes (truncated?)",
                     (unsigned long long)bytes, (unsigned long long)pos,
                     (unsigned long long)s->f.size);
    if (rc == VE_OK && !(raw = malloc(bytes ? bytes : 1)))
        rc = ve_fail("out of memory for %llu bytes", (unsigned long long)bytes);
    if (rc == VE_OK &&
        !(v->data = malloc((bytes / (uint64_t)type_size(v->datatype)) * sizeof(float) + 1)))
        rc = ve_fail("out of memory for the volume");
    if (rc == VE_OK && ve_stream_skip(s, pos - HDR_BYTES) != VE_OK)
        rc = ve_fail_context("skipping to vox_offset %llu: ", (unsigned long long)pos);
    if (rc == VE_OK && ve_stream_read(s, raw, bytes) != VE_OK)
        rc = ve_fail_context("reading %llu bytes of voxel data at offset %llu: ",
                             (unsigned long long)bytes, (unsigned long long)pos);
    if (rc == VE_OK && ve_stream_finish(s, MAX_TRAILING) != VE_OK)
        rc = ve_fail_context("after the voxel data: ");
    if (rc == VE_OK) convert(v, raw, ve_volume_voxels(v), h.swap);
    free(raw);
    ve_stream_close(s);
    free(s);
    return rc;
}

int ve_nifti_load(const char *path, ve_volume *v) {
    memset(v, 0, sizeof *v);
    if (!path) return ve_fail("NIfTI load: no path");
    if (load(path, v) != VE_OK) {
        ve_volume_free(v);
        return ve_fail_context("%s: ", path);
    }
    return VE_OK;
}
