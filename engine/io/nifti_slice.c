/* Whole-volume helpers: voxel count, value range and 2-D slices along an axis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nifti.h"
#include "status.h"

void ve_volume_free(ve_volume *v) {
    if (!v) return;
    free(v->data);
    memset(v, 0, sizeof *v);
}

int64_t ve_volume_voxels(const ve_volume *v) {
    return v->dim[0] * v->dim[1] * v->dim[2];
}

void ve_volume_minmax(const ve_volume *v, float *lo, float *hi) {
    float a = INFINITY, b = -INFINITY;
    int64_t n = v->data ? ve_volume_voxels(v) : 0;
    for (int64_t i = 0; i < n; i++) {
        float x = v->data[i];
        if (!isfinite(x)) continue;
        if (x < a) a = x;
        if (x > b) b = x;
    }
    *lo = a <= b ? a : 0.0f;
    *hi = a <= b ? b : 0.0f;
}

float *ve_volume_slice(const ve_volume *v, int axis, int64_t index, int *w, int *h) {
    if (!v || !v->data || axis < 0 || axis > 2) {
        ve_fail("volume slice: axis %d (0, 1 or 2 expected)", axis);
        return NULL;
    }
    if (index < 0 || index >= v->dim[axis]) {
        ve_fail("volume slice: index %lld outside 0..%lld along axis %d", (long long)index,
                (long long)v->dim[axis] - 1, axis);
        return NULL;
    }
    int64_t nx = v->dim[0], ny = v->dim[1], nz = v->dim[2];
    /* strides of the image's columns (c) and rows (r) through the volume */
    int64_t cw = axis == 0 ? ny : nx, rh = axis == 2 ? ny : nz;
    int64_t cs = axis == 0 ? nx : 1, rs = axis == 2 ? nx : nx * ny;
    int64_t base = axis == 0 ? index : axis == 1 ? index * nx : index * nx * ny;
    float *out = malloc((size_t)(cw * rh) * sizeof *out);
    if (!out) {
        ve_fail("volume slice: out of memory");
        return NULL;
    }
    for (int64_t r = 0; r < rh; r++)
        for (int64_t c = 0; c < cw; c++)
            out[r * cw + c] = v->data[base + r * rs + c * cs];
    *w = (int)cw;
    *h = (int)rh;
    return out;
}
