/* Samples from a folder of PNG/JPEG images and a folder of label PNGs of the same names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/image.h"
#include "slices_internal.h"
#include "status.h"

/* The label file for image file name: the same name, or else the same stem with ".png". NULL
 * with a message naming what was looked for when neither exists. */
static char *label_path(const char *label_dir, const char *name) {
    char *p = ve_path_join(label_dir, name);
    if (!p || access(p, F_OK) == 0) return p;
    char stem[VE_SLICE_NAME_LEN + 8], png[VE_SLICE_NAME_LEN + 16];
    const char *dot = strrchr(name, '.');
    snprintf(stem, sizeof stem, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
    snprintf(png, sizeof png, "%s.png", stem);
    char *q = ve_path_join(label_dir, png);
    if (q && access(q, F_OK) == 0) {
        free(p);
        return q;
    }
    if (q) ve_fail("no label file for image '%s': %s does not exist", name, p);
    free(p);
    free(q);
    return NULL;
}

/* Fills s from the image: 1 channel from grey (+ alpha), 3 from RGB (+ alpha), scaled by the
 * file's range. */
static void copy_image(const ve_image *img, ve_slice *s) {
    size_t px = (size_t)img->w * (size_t)img->h;
    for (int c = 0; c < s->channels; c++)
        for (size_t i = 0; i < px; i++)
            s->image[(size_t)c * px + i] = img->data[(size_t)c * px + i] / img->max_value;
}

static int check_pair(const char *image_path, const ve_image *img, const char *label_file,
                      const ve_image *lab) {
    if (lab->channels != 1 && lab->channels != 2)
        return ve_fail("label %s has %d channels: a grey PNG (pixel value = class) is expected",
                       label_file, lab->channels);
    if (lab->w != img->w || lab->h != img->h)
        return ve_fail("image %s is %d x %d (w x h) but its label %s is %d x %d", image_path,
                       img->w, img->h, label_file, lab->w, lab->h);
    return VE_OK;
}

/* Adds the sample (and its case) for one image and its label file. */
static int load_pair(const char *image_path, const char *label_file, const char *name,
                     ve_slice_set *set) {
    ve_image img = {0}, lab = {0};
    int rc = ve_image_load(image_path, &img);
    if (rc == VE_OK) rc = ve_image_load(label_file, &lab);
    if (rc == VE_OK) rc = check_pair(image_path, &img, label_file, &lab);
    char stem[VE_SLICE_NAME_LEN];
    ve_file_stem(name, strrchr(name, '.'), stem, sizeof stem);
    int case_id = rc == VE_OK ? ve_set_add_case(set, stem) : -1;
    ve_slice *s = NULL;
    if (case_id >= 0)
        s = ve_set_add_slice(set, img.h, img.w, img.channels >= 3 ? 3 : 1, case_id, 0);
    rc = s ? VE_OK : VE_FAIL;
    if (s) {
        snprintf(s->name, sizeof s->name, "%s", stem);
        copy_image(&img, s);
        rc = ve_labels_to_u8(lab.data, (int64_t)lab.w * lab.h, lab.w, s->label);
        if (rc != VE_OK) ve_fail_context("%s: ", label_file);
    }
    ve_image_free(&img);
    ve_image_free(&lab);
    return rc;
}

static int load_one(const char *path, const char *name, void *ctx, ve_slice_set *set) {
    char *lp = label_path(ctx, name);
    int rc = lp ? load_pair(path, lp, name, set) : VE_FAIL;
    free(lp);
    return rc;
}

int ve_slices_load_png_dirs(const char *image_dir, const char *label_dir, ve_slice_set *out) {
    if (!label_dir) {
        memset(out, 0, sizeof *out);
        return ve_fail("png slices: no label folder given");
    }
    return ve_load_inputs(image_dir, NULL, "", "", load_one, (void *)label_dir, out);
}
