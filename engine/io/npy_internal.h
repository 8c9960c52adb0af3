/* The .npy reader on a byte range of an open file, so an .npz (a zip of .npy entries) can reuse
 * it. Not public. */
#ifndef VE_IO_NPY_INTERNAL_H
#define VE_IO_NPY_INTERNAL_H

#include "io_internal.h"
#include "npy.h"

/* Reads the .npy that occupies exactly len bytes at pos. */
int ve_npy_read_at(const ve_file *f, uint64_t pos, uint64_t len, ve_npy_array *a);

#endif
