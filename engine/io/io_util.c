/* Bounded file reads and the tensor list shared by the checkpoint readers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"
#include "io/file_open.h"
#include "status.h"

int ve_file_open(ve_file *f, const char *path) {
    /* O_NONBLOCK: a FIFO given as a file must be refused, not wait for a writer. */
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0) return ve_fail("cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        close(f->fd);
        f->fd = -1;
        return ve_fail("not a regular file");
    }
    f->size = (uint64_t)st.st_size;
    return VE_OK;
}

FILE *ve_fopen_regular(const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0) {
        ve_fail("cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    ve_file vf;
    if (!S_ISREG(st.st_mode) || ve_file_open(&vf, path) != VE_OK) {
        if (S_ISREG(st.st_mode))
            ve_fail("cannot open %s %s: %s", what, path, strerror(errno));
        else
            ve_fail("%s %s is not a regular file (a folder, FIFO or device?)", what, path);
        return NULL;
    }
    FILE *f = fdopen(vf.fd, "rb");
    if (!f) {
        ve_fail("cannot open %s %s: %s", what, path, strerror(errno));
        ve_file_close(&vf);
    }
    return f;
}

void ve_file_close(ve_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

int ve_file_read_at(const ve_file *f, uint64_t pos, void *dst, size_t n) {
    if (pos > f->size || n > f->size - pos)
        return ve_fail("read of %zu bytes at offset %llu runs past the end of the file (%llu "
                       "bytes)",
                       n, (unsigned long long)pos, (unsigned long long)f->size);
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t got = pread(f->fd, p, n, (off_t)pos);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return ve_fail("read at offset %llu: %s", (unsigned long long)pos, strerror(errno));
        if (got == 0)
            return ve_fail("file shrank while reading: nothing at offset %llu",
                           (unsigned long long)pos);
        p += got;
        pos += (uint64_t)got;
        n -= (size_t)got;
    }
    return VE_OK;
}

int ve_tensor_list_push(ve_tensor_list *l, const ve_ckpt_tensor *t) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        ve_ckpt_tensor *nt = realloc(l->t, (size_t)cap * sizeof *nt);
        if (!nt) return ve_fail("out of memory for %d tensors", cap);
        l->t = nt;
        l->cap = cap;
    }
    ve_ckpt_tensor *d = &l->t[l->n];
    *d = *t;
    d->name = strdup(t->name);
    d->storage_key = strdup(t->storage_key ? t->storage_key : t->name);
    if (!d->name || !d->storage_key) {
        free((char *)d->name);
        free((char *)d->storage_key);
        return ve_fail("out of memory");
    }
    l->n++;
    return VE_OK;
}

void ve_tensor_list_free(ve_tensor_list *l) {
    for (int i = 0; i < l->n; i++) {
        free((char *)l->t[i].name);
        free((char *)l->t[i].storage_key);
    }
    free(l->t);
    memset(l, 0, sizeof *l);
}

/* Limits keep every product below 2^62, so no check here can overflow. */
#define DIM_LIMIT ((int64_t)1 << 40)

int ve_tensor_check_extent(ve_ckpt_tensor *t) {
    if (t->ndim < 0 || t->ndim > VE_CKPT_MAX_DIMS)
        return ve_fail("tensor '%s': %d dimensions (at most %d)", t->name, t->ndim,
                       VE_CKPT_MAX_DIMS);
    if (t->storage_offset < 0 || t->storage_numel < 0 || t->storage_numel > DIM_LIMIT)
        return ve_fail("tensor '%s': storage offset %lld / size %lld out of range", t->name,
                       (long long)t->storage_offset, (long long)t->storage_numel);
    int64_t numel = 1, last = t->storage_offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || t->shape[d] > DIM_LIMIT || t->strides[d] < 0 ||
            t->strides[d] > DIM_LIMIT)
            return ve_fail("tensor '%s': dimension %d has size %lld, stride %lld", t->name, d,
                           (long long)t->shape[d], (long long)t->strides[d]);
        if (t->shape[d] == 0)
            numel = 0;
        else if (numel > DIM_LIMIT / t->shape[d])
            return ve_fail("tensor '%s': more than 2^40 elements", t->name);
        else
            numel *= t->shape[d];
    }
    t->numel = numel;
    if (numel == 0) return VE_OK;
    for (int d = 0; d < t->ndim; d++) {
        last += (t->shape[d] - 1) * t->strides[d];
        if (last > DIM_LIMIT) break;
    }
    if (last >= t->storage_numel)
        return ve_fail("tensor '%s': storage offset %lld with this shape and stride reaches "
                       "element %lld, beyond its storage '%s' of %lld elements",
                       t->name, (long long)t->storage_offset, (long long)last,
                       t->storage_key ? t->storage_key : t->name, (long long)t->storage_numel);
    return VE_OK;
}
