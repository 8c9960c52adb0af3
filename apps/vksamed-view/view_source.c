/* vksamed-view: slices from a file, a folder or a NIfTI volume (see view_source.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "status.h"
#include "view_source.h"

static int is_picture(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_version(const void *a, const void *b) {
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(view_source *s, const char *path, int *cap) {
    if (s->n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        char **f = realloc(s->files, sizeof *f * (size_t)c);
        if (!f) return ve_fail("out of host memory listing %s", s->path);
        s->files = f;
        *cap = c;
    }
    if (!(s->files[s->n] = strdup(path))) return ve_fail("out of host memory listing %s", s->path);
    s->n++;
    return VE_OK;
}

static int open_folder(view_source *s) {
    DIR *d = opendir(s->path);
    if (!d) return ve_fail("cannot open folder %s: %s", s->path, strerror(errno));
    int cap = 0, rc = VE_OK;
    for (struct dirent *e; rc == VE_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !is_picture(e->d_name)) continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", s->path, e->d_name);
        rc = add_file(s, p, &cap);
    }
    closedir(d);
    if (rc == VE_OK && !s->n) rc = ve_fail("%s: no PNG or JPEG slices in this folder", s->path);
    if (rc == VE_OK) qsort(s->files, (size_t)s->n, sizeof *s->files, by_version);
    return rc;
}

int view_source_open(view_source *s, const char *path, int axis) {
    memset(s, 0, sizeof *s);
    if (snprintf(s->path, sizeof s->path, "%s", path) >= (int)sizeof s->path)
        return ve_fail("%s: path too long", path);
    s->axis = axis;
    s->hi = 255;
    struct stat st;
    if (stat(path, &st) != 0) return ve_fail("cannot open %s: %s", path, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = open_folder(s);
    } else if (seg_is_nifti(path)) {
        rc = ve_nifti_load(path, &s->vol);
        if (rc == VE_OK && (axis < 0 || axis > 2))
            rc = ve_fail("%s: axis %d (must be 0, 1 or 2)", path, axis);
        if (rc == VE_OK) {
            s->is_volume = 1;
            s->n = (int)s->vol.dim[axis];
            ve_volume_minmax(&s->vol, &s->lo, &s->hi);
        }
    } else {
        int cap = 0;
        rc = add_file(s, path, &cap);
    }
    if (rc != VE_OK) view_source_close(s);
    return rc;
}

void view_source_close(view_source *s) {
    for (int i = 0; i < s->n && s->files; i++)
        free(s->files[i]);
    free(s->files);
    if (s->is_volume) ve_volume_free(&s->vol);
    memset(s, 0, sizeof *s);
}

/* As seg_image_load does for one NIfTI slice, without reading the file again. */
static int volume_slice(const view_source *s, int index, seg_image *img) {
    int w = 0, h = 0;
    float *v = ve_volume_slice(&s->vol, s->axis, index, &w, &h);
    if (!v) return ve_fail_context("%s: ", s->path);
    const size_t hw = (size_t)w * (size_t)h;
    img->rgb = malloc(sizeof(float) * 3 * hw);
    if (!img->rgb) {
        free(v);
        return ve_fail("out of host memory reading %s", s->path);
    }
    const float scale = s->hi > s->lo ? 255.0f / (s->hi - s->lo) : 0.0f;
    for (size_t i = 0; i < hw; i++) {
        float x = isfinite(v[i]) ? (v[i] - s->lo) * scale : 0.0f;
        x = x < 0 ? 0 : x > 255 ? 255 : x;
        img->rgb[i] = img->rgb[hw + i] = img->rgb[2 * hw + i] = x;
    }
    free(v);
    img->w = w;
    img->h = h;
    snprintf(img->what, sizeof img->what, "NIfTI slice %d of axis %d", index, s->axis);
    return VE_OK;
}

int view_source_slice(const view_source *s, int index, seg_image *img) {
    memset(img, 0, sizeof *img);
    if (index < 0 || index >= s->n)
        return ve_fail("%s: slice %d out of range (0 to %d)", s->path, index, s->n - 1);
    if (s->is_volume) return volume_slice(s, index, img);
    return seg_image_load(s->files[index], 2, -1, img);
}

void view_source_name(const view_source *s, int index, char *out, int n) {
    const char *p = s->is_volume ? s->path : s->files[index];
    const char *slash = strrchr(p, '/');
    const char *base = slash && slash[1] ? slash + 1 : p;
    if (s->is_volume)
        snprintf(out, (size_t)n, "%s %c %d/%d", base, "xyz"[s->axis], index, s -> n - 1);
    else if (s->n > 1)
        snprintf(out, (size_t)n, "%s (%d/%d)", base, index + 1, s->n);
    else
        snprintf(out, (size_t)n, "%s", base);
}

int view_source_default(const view_source *s) {
    return s->is_volume ? s->n / 2 : 0;
}

float view_source_raw(const view_source *s, float v255) {
    return s->lo + v255 * (s->hi - s->lo) / 255.0f;
}
