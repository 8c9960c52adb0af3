#include "run_data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "status.h"

static int check_labels(const ve_slice_set *s, int classes) {
    for (int i = 0; i < s->n; i++) {
        const size_t n = (size_t)s->s[i].h * (size_t)s->s[i].w;
        for (size_t j = 0; j < n; j++)
            if (s->s[i].label[j] > classes)
                return ve_fail("%s: label value %d at pixel (%zu, %zu), but the model has %d "
                               "classes (values 0..%d)",
                               s->s[i].name, s->s[i].label[j], j % (size_t)s->s[i].w,
                               j / (size_t)s->s[i].w, classes, classes);
    }
    return VE_OK;
}

int run_load_split(const train_config *c, const tc_split *sp, const char *what, ve_slice_set *out) {
    memset(out, 0, sizeof *out);
    if (!sp->present) return ve_fail("the config has no data.%s split", what);
    int rc = VE_OK;
    switch (c->data_format) {
    case TC_DATA_PNG:
        rc = ve_slices_load_png_dirs(sp->images, sp->labels, out);
        break;
    case TC_DATA_SYNAPSE:
        rc = !strcmp(what, "train")
                 ? ve_slices_load_npz_dir(sp->dir, sp->list[0] ? sp->list : NULL, out)
                 : ve_slices_load_h5_dir(sp->dir, sp->list[0] ? sp->list : NULL, out);
        break;
    case TC_DATA_NIFTI:
        for (int v = 0; v < sp->n_vol && rc == VE_OK; v++) {
            ve_nifti_slice_opts o = {.axis = c->axis,
                                     .slices = sp->vol[v].slices,
                                     .n_slices = sp->vol[v].n_slices,
                                     .label_lut = c->has_label_lut ? c->label_lut : NULL,
                                     .lut_len = c->has_label_lut ? 256 : 0,
                                     .window = c->window,
                                     .lo = (float)c->window_lo,
                                     .hi = (float)c->window_hi};
            ve_slice_set one;
            rc = ve_slices_load_nifti(sp->vol[v].image, sp->vol[v].label, &o, &one);
            if (rc == VE_OK) {
                rc = ve_slice_set_append(out, &one);
                ve_slice_set_free(&one);
            }
        }
        break;
    }
    if (rc == VE_OK && out->n == 0) rc = ve_fail("%s data: no samples", what);
    if (rc == VE_OK) rc = check_labels(out, c->classes);
    if (rc != VE_OK) {
        ve_slice_set_free(out);
        return ve_fail_context("%s data: ", what);
    }
    return VE_OK;
}

int run_preset(const train_config *c, sam_preset *p) {
    if (sam_preset_builtin(c->preset, p) != VE_OK && sam_preset_load(c->preset, p) != VE_OK)
        return ve_fail("model.preset %s: neither a builtin preset nor a readable preset file (%s)",
                       c->preset, ve_error());
    p->mask_outputs = c->classes + 1;
    return VE_OK;
}

static int is_value_flag(const char *a, const char *const *flags) {
    for (; *flags; flags++)
        if (!strcmp(a, *flags)) return 1;
    return 0;
}

int run_config_load(const char *path, int n_pre, const char *const *pre, int argc, char **argv,
                    const char *const *value_flags, train_config *c) {
    if (train_config_read(path, c) != VE_OK) return VE_FAIL;
    for (int i = 0; i < n_pre; i++)
        if (pre[i] && train_config_set(c, pre[i]) != VE_OK) return VE_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_value_flag(a, value_flags)) {
            i++;
            continue;
        }
        if (a == path || a[0] == '-' || !strchr(a, '=')) continue;
        if (train_config_set(c, a) != VE_OK) return VE_FAIL;
    }
    return train_config_validate(c);
}

int run_make_dir(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ve_fail("%s: path too long", path);
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ve_fail("cannot create the folder %s: %s", buf, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return ve_fail("%s is not a folder", path);
    return VE_OK;
}
