/* SAMed's Synapse training slices: .npz archives (numpy.savez: a zip of stored .npy entries)
 * holding image.npy and label.npy, read with the project's zip and .npy readers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "io/io_internal.h"
#include "io/npy_internal.h"
#include "slices_internal.h"
#include "status.h"

static int read_entry(const ve_file *f, const ve_zip *z, const char *entry, ve_npy_array *a) {
    const ve_zip_entry *e = ve_zip_find(z, entry);
    if (!e) return ve_fail("no entry '%s' in the archive", entry);
    if (ve_npy_read_at(f, e->pos, e->size, a) != VE_OK) return ve_fail_context("%s: ", entry);
    if (a->ndim != 2 || a->shape[0] < 1 || a->shape[1] < 1 || a->shape[0] > VE_IMAGE_MAX_SIDE ||
        a->shape[1] > VE_IMAGE_MAX_SIDE)
        return ve_fail("%s: a 2-D array [H, W] of sides 1..%d expected, shape has %d dims", entry,
                       VE_IMAGE_MAX_SIDE, a->ndim);
    return VE_OK;
}

/* Adds the sample (and its case) of one .npz file. */
static int load_npz(const char *path, const char *stem, ve_slice_set *set) {
    ve_file f = {.fd = -1};
    ve_zip z = {0};
    ve_npy_array img = {0}, lab = {0};
    int rc = ve_file_open(&f, path);
    if (rc == VE_OK) rc = ve_zip_open(&z, &f);
    if (rc == VE_OK) rc = read_entry(&f, &z, "image.npy", &img);
    if (rc == VE_OK) rc = read_entry(&f, &z, "label.npy", &lab);
    if (rc == VE_OK && (img.shape[0] != lab.shape[0] || img.shape[1] != lab.shape[1]))
        rc = ve_fail("image is %lld x %lld but label is %lld x %lld", (long long)img.shape[0],
                     (long long)img.shape[1], (long long)lab.shape[0], (long long)lab.shape[1]);
    int h = (int)img.shape[0], w = (int)img.shape[1];
    if (rc == VE_OK) rc = ve_check_finite(img.data, img.numel, w);
    int case_id = rc == VE_OK ? ve_set_add_case(set, stem) : -1;
    ve_slice *s = case_id >= 0 ? ve_set_add_slice(set, h, w, 1, case_id, 0) : NULL;
    if (s) {
        snprintf(s->name, sizeof s->name, "%s", stem);
        memcpy(s->image, img.data, (size_t)img.numel * sizeof *img.data);
        rc = ve_labels_to_u8(lab.data, lab.numel, w, s->label);
    } else if (rc == VE_OK) {
        rc = VE_FAIL;
    }
    ve_npy_free(&img);
    ve_npy_free(&lab);
    ve_zip_free(&z);
    ve_file_close(&f);
    return rc == VE_OK ? VE_OK : ve_fail_context("%s: ", path);
}

static int load_one(const char *path, const char *name, void *ctx, ve_slice_set *set) {
    (void)ctx;
    char stem[VE_SLICE_NAME_LEN];
    ve_file_stem(name, ".npz", stem, sizeof stem);
    return load_npz(path, stem, set);
}

int ve_slices_load_npz_dir(const char *dir, const char *list_file, ve_slice_set *out) {
    return ve_load_inputs(dir, list_file, ".npz", ".npz", load_one, NULL, out);
}
