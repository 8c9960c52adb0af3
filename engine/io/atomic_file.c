/* PATH.tmp + fsync + rename + directory fsync (see atomic_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "status.h"

int ve_atomic_open(ve_atomic_file *a, const char *path) {
    a->fd = -1;
    a->path = a->tmp = NULL;
    if (!path || !*path) return ve_fail("no output path");
    size_t n = strlen(path);
    a->path = strdup(path);
    a->tmp = malloc(n + 5);
    if (!a->path || !a->tmp) {
        ve_atomic_abort(a);
        return ve_fail("out of memory");
    }
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        int rc = ve_fail("cannot create %s: %s", a->tmp, strerror(errno));
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return rc;
    }
    return VE_OK;
}

int ve_atomic_write(ve_atomic_file *a, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(a->fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return ve_fail("writing %s: %s", a->tmp, w < 0 ? strerror(errno) : "no progress");
        c += w;
        n -= (size_t)w;
    }
    return VE_OK;
}

/* Makes the rename durable: fsync of the directory holding path. */
static void sync_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) return;
    memcpy(dir, path, n);
    dir[n] = 0;
    int fd = open(slash ? (n ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ve_atomic_commit(ve_atomic_file *a) {
    int rc = VE_OK;
    if (fsync(a->fd) != 0) rc = ve_fail("fsync %s: %s", a->tmp, strerror(errno));
    if (close(a->fd) != 0 && rc == VE_OK) rc = ve_fail("closing %s: %s", a->tmp, strerror(errno));
    a->fd = -1;
    if (rc == VE_OK && rename(a->tmp, a->path) != 0)
        rc = ve_fail("renaming %s to %s: %s", a->tmp, a->path, strerror(errno));
    if (rc != VE_OK) {
        ve_atomic_abort(a);
        return rc;
    }
    sync_dir(a->path);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    return VE_OK;
}

void ve_atomic_abort(ve_atomic_file *a) {
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    if (a->tmp) unlink(a->tmp);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}
