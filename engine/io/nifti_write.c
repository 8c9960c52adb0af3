/* NIfTI-1 label volume writing: a little-endian uint8 file whose geometry fields are copied from
 * the header of the volume the labels were predicted for (byte-swapped when that file was
 * big-endian), written plain or through zlib's gzip deflate into an atomic file. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "atomic_file.h"
#include "nifti.h"
#include "status.h"

#define VOX_OFFSET 352 /* the header plus the 4-byte extension flag (no extensions) */

static void put16(uint8_t *p, int v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> 8 * k);
}

static void putf(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(p, u);
}

/* Geometry fields of a NIfTI-1 header: byte offset, element count, element size. */
static const struct {
    int off, count, size;
} GEOMETRY[] = {
    {76, 8, 4},   /* pixdim[8] */
    {123, 1, 1},  /* xyzt_units */
    {148, 80, 1}, /* descrip */
    {252, 2, 2},  /* qform_code, sform_code */
    {256, 18, 4}, /* quatern_b/c/d, qoffset_x/y/z, srow_x[4], srow_y[4], srow_z[4] */
};

/* The source has a header as read: sizeof_hdr is 348 in its byte order. */
static int has_header(const ve_volume *v) {
    const uint8_t *b = v->header;
    uint32_t n = v->byte_swapped
                     ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                     : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    return n == VE_NIFTI_HDR_BYTES;
}

/* Copies the geometry fields, little-endian. */
static void copy_geometry(uint8_t *h, const ve_volume *src) {
    for (size_t f = 0; f < sizeof GEOMETRY / sizeof GEOMETRY[0]; f++)
        for (int e = 0; e < GEOMETRY[f].count; e++) {
            int size = GEOMETRY[f].size, at = GEOMETRY[f].off + e * size;
            for (int k = 0; k < size; k++)
                h[at + k] = src->header[at + (src->byte_swapped ? size - 1 - k : k)];
        }
}

static void default_geometry(uint8_t *h, const ve_volume *src) {
    if (src) {
        for (int k = 0; k < 8; k++)
            putf(h + 76 + 4 * k, src->pixdim[k]);
        h[123] = (uint8_t)src->xyzt_units;
    } else {
        for (int k = 0; k < 4; k++)
            putf(h + 76 + 4 * k, 1.0f); /* qfac 1, 1 mm voxels */
        h[123] = 2;                     /* NIFTI_UNITS_MM */
        put16(h + 252, 1);              /* qform_code: scanner, identity quaternion */
        put16(h + 254, 1);              /* sform_code: scanner */
        for (int r = 0; r < 3; r++)
            putf(h + 280 + 16 * r + 4 * r, 1.0f); /* srow identity */
    }
    memcpy(h + 148, "vksamed labels", 15);
}

static void build_header(uint8_t *h, const ve_volume *src, const int64_t dim[3], uint8_t maxv) {
    memset(h, 0, VOX_OFFSET);
    if (src && has_header(src))
        copy_geometry(h, src);
    else
        default_geometry(h, src);
    put32(h, VE_NIFTI_HDR_BYTES);
    put16(h + 40, 3);
    for (int d = 0; d < 7; d++)
        put16(h + 42 + 2 * d, d < 3 ? (int)dim[d] : 1);
    put16(h + 70, VE_NIFTI_UINT8);
    put16(h + 72, 8);
    putf(h + 108, (float)VOX_OFFSET);
    putf(h + 112, 1.0f); /* scl_slope */
    putf(h + 116, 0.0f); /* scl_inter */
    putf(h + 124, (float)maxv);
    putf(h + 128, 0.0f);
    memcpy(h + 344, "n+1", 4);
}

/* Deflates (gzip wrapper) the header then the voxels into a. */
static int write_gz(ve_atomic_file *a, const uint8_t *h, const uint8_t *data, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ve_fail("zlib deflateInit2 failed");
    enum { CHUNK = 1 << 16 };
    uint8_t *out = malloc(CHUNK);
    int rc = out ? VE_OK : ve_fail("out of memory");
    for (int part = 0; part < 2 && rc == VE_OK; part++) {
        z.next_in = (Bytef *)(part ? data : h);
        z.avail_in = (uInt)(part ? n : VOX_OFFSET);
        int flush = part ? Z_FINISH : Z_NO_FLUSH, zr;
        do {
            z.next_out = out;
            z.avail_out = CHUNK;
            zr = deflate(&z, flush);
            if (zr == Z_STREAM_ERROR) {
                rc = ve_fail("zlib deflate failed");
                break;
            }
            rc = ve_atomic_write(a, out, CHUNK - z.avail_out);
        } while (rc == VE_OK && (z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END)));
    }
    deflateEnd(&z);
    free(out);
    return rc;
}

static int write_labels(const char *path, const ve_volume *src, const uint8_t *labels,
                        const int64_t dim[3]) {
    if (!labels || !dim) return ve_fail("no labels or no dimensions");
    int64_t n = 1;
    for (int d = 0; d < 3; d++) {
        if (dim[d] < 1 || dim[d] > 32767)
            return ve_fail("dimension %d is %lld (1 to 32767)", d, (long long)dim[d]);
        n *= dim[d];
    }
    if (n > VE_NIFTI_MAX_VOXELS) return ve_fail("%lld voxels: more than 2^30", (long long)n);
    if (src)
        for (int d = 0; d < 3; d++)
            if (src->dim[d] != dim[d])
                return ve_fail("labels are %lld x %lld x %lld but the geometry source is "
                               "%lld x %lld x %lld",
                               (long long)dim[0], (long long)dim[1], (long long)dim[2],
                               (long long)src->dim[0], (long long)src->dim[1],
                               (long long)src->dim[2]);
    uint8_t maxv = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] > maxv) maxv = labels[i];
    uint8_t h[VOX_OFFSET];
    build_header(h, src, dim, maxv);
    size_t len = strlen(path);
    int gz = len >= 3 && !strcmp(path + len - 3, ".gz");
    ve_atomic_file a;
    if (ve_atomic_open(&a, path) != VE_OK) return VE_FAIL;
    int rc = gz ? write_gz(&a, h, labels, (size_t)n) : ve_atomic_write(&a, h, VOX_OFFSET);
    if (rc == VE_OK && !gz) rc = ve_atomic_write(&a, labels, (size_t)n);
    if (rc == VE_OK) return ve_atomic_commit(&a);
    ve_atomic_abort(&a);
    return rc;
}

int ve_nifti_write_labels(const char *path, const ve_volume *geometry_src, const uint8_t *labels,
                          const int64_t dim[3]) {
    if (!path || !*path) return ve_fail("NIfTI write: no path");
    int rc = write_labels(path, geometry_src, labels, dim);
    return rc == VE_OK ? rc : ve_fail_context("%s: ", path);
}
