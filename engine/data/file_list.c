/* Which files a loader reads: the sorted files of a folder, or the stems of a list file
 * (SAMed's train.txt / test_vol.txt), and small path helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slices_internal.h"
#include "status.h"

char *ve_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        ve_fail("out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void ve_file_stem(const char *path, const char *suffix, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (suffix && ends_with(base, suffix)) n -= strlen(suffix);
    snprintf(out, cap, "%.*s", (int)n, base);
}

static int push(ve_name_list *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->s, (size_t)cap * sizeof *p);
        if (!p) return ve_fail("out of memory");
        l->s = p;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return ve_fail("out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    l->s[l->n++] = c;
    return VE_OK;
}

void ve_name_list_free(ve_name_list *l) {
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ve_list_dir(const char *dir, const char *suffix, ve_name_list *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return ve_fail("%s: cannot open the folder: %s", dir, strerror(errno));
    int rc = VE_OK;
    struct dirent *e;
    while (rc == VE_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix)) continue;
        char *p = ve_path_join(dir, e->d_name);
        struct stat st;
        if (!p)
            rc = VE_FAIL;
        else if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc = push(out, e->d_name, strlen(e->d_name));
        free(p);
    }
    closedir(d);
    if (rc != VE_OK) {
        ve_name_list_free(out);
        return rc;
    }
    if (out->n) qsort(out->s, (size_t)out->n, sizeof *out->s, cmp_names);
    return VE_OK;
}

int ve_read_list_file(const char *path, ve_name_list *out) {
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK and a regular-file check: a FIFO or a folder is refused, never waited on. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ve_fail("%s: cannot open the list file: %s", path, strerror(errno));
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || !(f = fdopen(fd, "r"))) {
        close(fd);
        return ve_fail("%s: the list file is not a regular file", path);
    }
    char line[4096];
    int rc = VE_OK, no = 0;
    while (rc == VE_OK && fgets(line, sizeof line, f)) {
        no++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n')
            rc = ve_fail("%s: line %d is longer than %zu bytes", path, no, sizeof line - 2);
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (rc == VE_OK && n) rc = push(out, s, n);
    }
    if (rc == VE_OK && ferror(f)) rc = ve_fail("%s: read error", path);
    fclose(f);
    if (rc != VE_OK) ve_name_list_free(out);
    return rc;
}

int ve_list_inputs(const char *dir, const char *list_file, const char *dir_suffix,
                   const char *list_suffix, ve_name_list *out) {
    if (!list_file) {
        if (ve_list_dir(dir, dir_suffix, out) != VE_OK) return VE_FAIL;
        if (out->n) return VE_OK;
        ve_name_list_free(out);
        return ve_fail("%s: no %s%sfiles in the folder", dir, dir_suffix, *dir_suffix ? " " : "");
    }
    if (ve_read_list_file(list_file, out) != VE_OK) return VE_FAIL;
    if (!out->n) return ve_fail("%s: the list names no files", list_file);
    for (int i = 0; i < out->n; i++) {
        if (ends_with(out->s[i], dir_suffix)) continue;
        size_t n = strlen(out->s[i]) + strlen(list_suffix) + 1;
        char *p = realloc(out->s[i], n);
        if (!p) {
            ve_name_list_free(out);
            return ve_fail("out of memory");
        }
        strcat(p, list_suffix);
        out->s[i] = p;
    }
    return VE_OK;
}

int ve_load_inputs(const char *dir, const char *list_file, const char *dir_suffix,
                   const char *list_suffix, ve_load_one_fn fn, void *ctx, ve_slice_set *out) {
    memset(out, 0, sizeof *out);
    if (!dir) return ve_fail("no folder given");
    ve_name_list names;
    if (ve_list_inputs(dir, list_file, dir_suffix, list_suffix, &names) != VE_OK) return VE_FAIL;
    int rc = VE_OK;
    for (int i = 0; i < names.n && rc == VE_OK; i++) {
        char *path = ve_path_join(dir, names.s[i]);
        rc = path ? fn(path, names.s[i], ctx, out) : VE_FAIL;
        free(path);
    }
    ve_name_list_free(&names);
    if (rc != VE_OK) ve_slice_set_free(out);
    return rc;
}
