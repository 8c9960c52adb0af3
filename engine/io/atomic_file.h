/* Writing a file atomically: the bytes go to PATH.tmp in the same directory, which is fsync'ed
 * and renamed over PATH, and the directory is fsync'ed, so a failure at any point leaves an
 * existing PATH as it was. Used by the image, NumPy and (later) other writers. Not public. */
#ifndef VE_IO_ATOMIC_FILE_H
#define VE_IO_ATOMIC_FILE_H

#include <stddef.h>

typedef struct {
    int fd;
    char *path, *tmp;
} ve_atomic_file;

/* Creates PATH.tmp. On failure nothing is left behind. */
int ve_atomic_open(ve_atomic_file *a, const char *path);
/* Appends n bytes; on failure the caller still calls ve_atomic_abort. */
int ve_atomic_write(ve_atomic_file *a, const void *p, size_t n);
/* fsync, close, rename over PATH, fsync the directory. On failure the temporary is removed. */
int ve_atomic_commit(ve_atomic_file *a);
/* Closes and removes the temporary (safe after a failed commit, and twice). */
void ve_atomic_abort(ve_atomic_file *a);

#endif
