#include "sam/preprocess.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "status.h"

const float SAM_PIXEL_MEAN[3] = {123.675f, 116.28f, 103.53f};
const float SAM_PIXEL_STD[3] = {58.395f, 57.12f, 57.375f};

void sam_resized_size(int h, int w, int s, int *nh, int *nw) {
    double scale = (double)s / (double)(h > w ? h : w);
    *nh = (int)((double)h * scale + 0.5);
    *nw = (int)((double)w * scale + 0.5);
    if (*nh < 1) *nh = 1;
    if (*nw < 1) *nw = 1;
}

int sam_preprocess(const float *rgb, int h, int w, int s, const float mean[3], const float std[3],
                   float *out) {
    int nh, nw;
    sam_resized_size(h, w, s, &nh, &nw);
    /* Separable bilinear: rows (h -> nh) on whole planes, then each row (w -> nw). */
    float *tmp = malloc(sizeof(float) * (size_t)nh * (size_t)w);
    float *row = malloc(sizeof(float) * (size_t)nw);
    if (!tmp || !row) {
        free(tmp);
        free(row);
        return ve_fail("out of host memory preprocessing a %dx%d image", w, h);
    }
    int rc = VE_OK;
    memset(out, 0, sizeof(float) * 3 * (size_t)s * (size_t)s);
    for (int c = 0; c < 3 && rc == VE_OK; c++) {
        rc = ve_resize_rows_linear_host(rgb + (size_t)c * h * w, h, w, tmp, nh);
        for (int y = 0; y < nh && rc == VE_OK; y++) {
            rc = ve_resize_rows_linear_host(tmp + (size_t)y * w, w, 1, row, nw);
            float *dst = out + ((size_t)c * s + y) * s;
            for (int x = 0; x < nw; x++)
                dst[x] = (row[x] - mean[c]) / std[c];
        }
    }
    free(tmp);
    free(row);
    return rc;
}
