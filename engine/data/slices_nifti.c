/* Samples from a NIfTI-1 image volume and its label volume: one 1-channel sample per slice
 * along an axis, intensities windowed (CT) or min-max scaled, labels mapped through a lookup
 * table; each run of consecutive slice indices is one case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/nifti.h"
#include "slices_internal.h"
#include "status.h"

static const char AXIS_NAME[3] = {'x', 'y', 'z'};

/* Checks the options against the volume; fills the scale: value -> (value - lo) * scale. */
static int check_opts(const ve_nifti_slice_opts *o, const ve_volume *img, float *lo, float *hi) {
    if (o->axis < 0 || o->axis > 2) return ve_fail("axis %d (0, 1 or 2 expected)", o->axis);
    for (int i = 0; o->slices && i < o->n_slices; i++)
        if (o->slices[i] < 0 || o->slices[i] >= img->dim[o->axis])
            return ve_fail("slice %d is outside 0..%lld along axis %c", o->slices[i],
                           (long long)img->dim[o->axis] - 1, AXIS_NAME[o->axis]);
    if (o->slices && o->n_slices <= 0) return ve_fail("an empty list of slices");
    if (o->lut_len < 0 || (o->lut_len > 0 && !o->label_lut))
        return ve_fail("label lookup table of length %d without values", o->lut_len);
    if (o->window) {
        if (!(isfinite(o->lo) && isfinite(o->hi) && o->hi > o->lo))
            return ve_fail("window [%g, %g] is not an interval", (double)o->lo, (double)o->hi);
        *lo = o->lo;
        *hi = o->hi;
    } else {
        ve_volume_minmax(img, lo, hi);
    }
    return VE_OK;
}

/* Scales one slice in place to [0, 1]: clipped to [lo, hi]; all 0 when hi == lo. */
static void scale(float *v, int64_t n, float lo, float hi) {
    double s = hi > lo ? 1.0 / ((double)hi - lo) : 0.0;
    for (int64_t i = 0; i < n; i++) {
        float x = v[i] < lo ? lo : v[i] > hi ? hi : v[i];
        v[i] = (float)(((double)x - lo) * s);
    }
}

static void map_labels(float *v, int64_t n, const ve_nifti_slice_opts *o) {
    for (int64_t i = 0; i < n && o->label_lut; i++)
        if (v[i] >= 0 && v[i] < (float)o->lut_len && v[i] == floorf(v[i]))
            v[i] = (float)o->label_lut[(int)v[i]];
}

/* The slices given (or all) as a malloc'ed list. */
static int *slice_list(const ve_nifti_slice_opts *o, int64_t dim, int *n) {
    *n = o->slices ? o->n_slices : (int)dim;
    int *s = malloc((size_t)*n * sizeof *s);
    if (!s) {
        ve_fail("out of memory");
        return NULL;
    }
    for (int i = 0; i < *n; i++)
        s[i] = o->slices ? o->slices[i] : i;
    return s;
}

/* Case name for the run starting at list[i]: the path, with the range when there are several. */
static int add_run_case(ve_slice_set *set, const char *path, int axis, const int *list, int n,
                        int i, int several) {
    int j = i;
    while (j + 1 < n && list[j + 1] == list[j] + 1)
        j++;
    char name[VE_SLICE_NAME_LEN];
    if (several)
        snprintf(name, sizeof name, "%s %c=%d-%d", path, AXIS_NAME[axis], list[i], list[j]);
    else
        snprintf(name, sizeof name, "%s", path);
    return ve_set_add_case(set, name);
}

static int count_runs(const int *list, int n) {
    int runs = n > 0;
    for (int i = 1; i < n; i++)
        runs += list[i] != list[i - 1] + 1;
    return runs;
}

/* Takes slice index k of both volumes into a new sample of case case_id. */
static int add_slice(ve_slice_set *set, const ve_volume *img, const ve_volume *lab,
                     const ve_nifti_slice_opts *o, int k, int case_id, float lo, float hi,
                     const char *image_path, const char *label_path) {
    int w, h, lw, lh;
    float *iv = ve_volume_slice(img, o->axis, k, &w, &h);
    float *lv = iv ? ve_volume_slice(lab, o->axis, k, &lw, &lh) : NULL;
    int rc = lv ? VE_OK : VE_FAIL;
    int64_t n = (int64_t)w * h;
    if (rc == VE_OK && ve_check_finite(iv, n, w) != VE_OK)
        rc = ve_fail_context("%s: %c=%d: ", image_path, AXIS_NAME[o->axis], k);
    ve_slice *s = rc == VE_OK ? ve_set_add_slice(set, h, w, 1, case_id, k) : NULL;
    if (s) {
        const char *base = strrchr(image_path, '/');
        snprintf(s->name, sizeof s->name, "%s %c=%d", base ? base + 1 : image_path,
                 AXIS_NAME[o->axis], k);
        scale(iv, n, lo, hi);
        memcpy(s->image, iv, (size_t)n * sizeof *iv);
        map_labels(lv, n, o);
        if (ve_labels_to_u8(lv, n, w, s->label) != VE_OK)
            rc = ve_fail_context("%s: %c=%d: %s", label_path, AXIS_NAME[o->axis], k,
                                 o->label_lut ? "after the lookup table: " : "");
    } else {
        rc = VE_FAIL;
    }
    free(iv);
    free(lv);
    return rc;
}

static int load(const char *image_path, const char *label_path, const ve_nifti_slice_opts *o,
                const ve_volume *img, const ve_volume *lab, ve_slice_set *out) {
    for (int d = 0; d < 3; d++)
        if (img->dim[d] != lab->dim[d])
            return ve_fail("image %s is %lld x %lld x %lld but label %s is %lld x %lld x %lld",
                           image_path, (long long)img->dim[0], (long long)img->dim[1],
                           (long long)img->dim[2], label_path, (long long)lab->dim[0],
                           (long long)lab->dim[1], (long long)lab->dim[2]);
    float lo, hi;
    if (check_opts(o, img, &lo, &hi) != VE_OK)
        return ve_fail_context("%s: slice options: ", image_path);
    int n;
    int *list = slice_list(o, img->dim[o->axis], &n);
    if (!list) return VE_FAIL;
    int several = count_runs(list, n) > 1, case_id = -1, rc = VE_OK;
    for (int i = 0; i < n && rc == VE_OK; i++) {
        if (i == 0 || list[i] != list[i - 1] + 1)
            case_id = add_run_case(out, image_path, o->axis, list, n, i, several);
        rc = case_id < 0
                 ? VE_FAIL
                 : add_slice(out, img, lab, o, list[i], case_id, lo, hi, image_path, label_path);
    }
    free(list);
    return rc;
}

int ve_slices_load_nifti(const char *image_path, const char *label_path,
                         const ve_nifti_slice_opts *o, ve_slice_set *out) {
    memset(out, 0, sizeof *out);
    if (!image_path || !label_path || !o) return ve_fail("nifti slices: missing argument");
    ve_volume img = {0}, lab = {0};
    int rc = ve_nifti_load(image_path, &img);
    if (rc == VE_OK) rc = ve_nifti_load(label_path, &lab);
    if (rc == VE_OK) rc = load(image_path, label_path, o, &img, &lab, out);
    ve_volume_free(&img);
    ve_volume_free(&lab);
    if (rc != VE_OK) ve_slice_set_free(out);
    return rc;
}
