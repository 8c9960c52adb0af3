/* SAMed's Synapse test volumes: HDF5 files (*.npy.h5) with datasets "image" and "label" of
 * shape [D, H, W]; each file is one case, each index along D a sample. Read with the serial
 * HDF5 C library, values converted to float by HDF5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "io/image.h"
#include "io/nifti.h"
#include "slices_internal.h"
#include "status.h"

typedef struct {
    hsize_t dim[3];
    float *data;
} volume3;

/* Reads dataset name of file f as floats: numeric, 3-D, within the voxel limit. */
static int read_dataset(hid_t f, const char *name, volume3 *v) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return ve_fail("no dataset '%s'", name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return ve_fail("cannot open '%s' as a dataset", name);
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    H5T_class_t cls = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int rc = VE_OK;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        rc = ve_fail("dataset '%s' is not numeric (HDF5 type class %d)", name, (int)cls);
    else if (nd != 3)
        rc = ve_fail("dataset '%s' has %d dimensions: [D, H, W] expected", name, nd);
    else
        H5Sget_simple_extent_dims(sp, v->dim, NULL);
    hsize_t n = 1;
    for (int k = 0; k < 3 && rc == VE_OK; k++) {
        if (v->dim[k] < 1 || (k > 0 && v->dim[k] > VE_IMAGE_MAX_SIDE) ||
            n * v->dim[k] > (hsize_t)VE_NIFTI_MAX_VOXELS)
            rc = ve_fail("dataset '%s' of shape %llu x %llu x %llu is empty or too large", name,
                         (unsigned long long)v->dim[0], (unsigned long long)v->dim[1],
                         (unsigned long long)v->dim[2]);
        n *= v->dim[k];
    }
    if (rc == VE_OK && !(v->data = malloc((size_t)n * sizeof *v->data)))
        rc = ve_fail("out of memory for dataset '%s'", name);
    if (rc == VE_OK && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->data) < 0)
        rc = ve_fail("cannot read dataset '%s'", name);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

static int add_volume(const char *path, const volume3 *img, const volume3 *lab, ve_slice_set *set) {
    for (int k = 0; k < 3; k++)
        if (img->dim[k] != lab->dim[k])
            return ve_fail("image is %llu x %llu x %llu but label is %llu x %llu x %llu",
                           (unsigned long long)img->dim[0], (unsigned long long)img->dim[1],
                           (unsigned long long)img->dim[2], (unsigned long long)lab->dim[0],
                           (unsigned long long)lab->dim[1], (unsigned long long)lab->dim[2]);
    int case_id = ve_set_add_case(set, path);
    if (case_id < 0) return VE_FAIL;
    int h = (int)img->dim[1], w = (int)img->dim[2];
    size_t px = (size_t)h * (size_t)w;
    const char *base = strrchr(path, '/');
    for (int z = 0; z < (int)img->dim[0]; z++) {
        const float *iv = img->data + (size_t)z * px, *lv = lab->data + (size_t)z * px;
        if (ve_check_finite(iv, (int64_t)px, w) != VE_OK) return ve_fail_context("image z=%d: ", z);
        ve_slice *s = ve_set_add_slice(set, h, w, 1, case_id, z);
        if (!s) return VE_FAIL;
        snprintf(s->name, sizeof s->name, "%s z=%d", base ? base + 1 : path, z);
        memcpy(s->image, iv, px * sizeof *iv);
        if (ve_labels_to_u8(lv, (int64_t)px, w, s->label) != VE_OK)
            return ve_fail_context("label z=%d: ", z);
    }
    return VE_OK;
}

/* Adds the samples (and the case) of one HDF5 volume. */
static int load_h5(const char *path, ve_slice_set *set) {
    volume3 img = {{0}, NULL}, lab = {{0}, NULL};
    int rc = VE_OK;
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (f < 0) rc = ve_fail("cannot open as an HDF5 file (missing or not HDF5)");
    if (rc == VE_OK) rc = read_dataset(f, "image", &img);
    if (rc == VE_OK) rc = read_dataset(f, "label", &lab);
    if (rc == VE_OK) rc = add_volume(path, &img, &lab, set);
    if (f >= 0) H5Fclose(f);
    free(img.data);
    free(lab.data);
    return rc == VE_OK ? VE_OK : ve_fail_context("%s: ", path);
}

static int load_one(const char *path, const char *name, void *ctx, ve_slice_set *set) {
    (void)name;
    (void)ctx;
    return load_h5(path, set);
}

int ve_slices_load_h5_dir(const char *dir, const char *list_file, ve_slice_set *out) {
    /* HDF5 prints its own error stack by default: keep it quiet, our messages say enough */
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = ve_load_inputs(dir, list_file, ".h5", ".npy.h5", load_one, NULL, out);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
