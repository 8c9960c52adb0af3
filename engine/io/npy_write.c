/* .npy writing: version 1.0, '<f4', C order, the header padded so the data starts on a 64-byte
 * boundary (as numpy writes it), then the floats, all through an atomic file. */
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "npy.h"
#include "status.h"

/* Floats are written as they lie in memory: little-endian hosts only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .npy writer assumes a "
                                                          "little-endian host");

static int build_header(int ndim, const int64_t *shape, char *h, size_t cap, size_t *len) {
    memcpy(h, "\x93NUMPY\x01\x00", 8); /* magic, version 1.0; the length follows */
    int n = 10 + snprintf(h + 10, cap - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim; d++)
        n += snprintf(h + n, cap - (size_t)n, d ? " %lld," : "%lld,", (long long)shape[d]);
    if (ndim > 1) n--; /* (2, 3) but (3,) */
    n += snprintf(h + n, cap - (size_t)n, "), }");
    while ((n + 1) % 64)
        h[n++] = ' ';
    h[n++] = '\n';
    uint16_t hl = (uint16_t)(n - 10);
    h[8] = (char)(hl & 0xff);
    h[9] = (char)(hl >> 8);
    *len = (size_t)n;
    return VE_OK;
}

static int write_npy(const char *path, int ndim, const int64_t *shape, const float *data) {
    if (ndim < 0 || ndim > VE_NPY_MAX_DIMS || (ndim && !shape))
        return ve_fail("%d dimensions (0 to %d)", ndim, VE_NPY_MAX_DIMS);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] && numel > VE_NPY_MAX_ELEMS / shape[d]))
            return ve_fail("dimension %d of size %lld", d, (long long)shape[d]);
        numel *= shape[d];
    }
    if (numel && !data) return ve_fail("no data");
    char h[512]; /* 8 dims of 20 digits fit easily */
    size_t hlen;
    build_header(ndim, shape, h, sizeof h, &hlen);
    ve_atomic_file a;
    if (ve_atomic_open(&a, path) != VE_OK) return VE_FAIL;
    int rc = ve_atomic_write(&a, h, hlen);
    if (rc == VE_OK) rc = ve_atomic_write(&a, data, (size_t)numel * sizeof(float));
    if (rc == VE_OK) return ve_atomic_commit(&a);
    ve_atomic_abort(&a);
    return rc;
}

int ve_npy_write_f32(const char *path, int ndim, const int64_t *shape, const float *data) {
    if (!path || !*path) return ve_fail("npy write: no path");
    int rc = write_npy(path, ndim, shape, data);
    return rc == VE_OK ? rc : ve_fail_context("%s: ", path);
}
