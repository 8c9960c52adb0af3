/* NumPy `.npy` arrays: reading (converted to float) and writing float32.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, C order only, dtypes float32, float64,
 * bool, int8/uint8, int16/uint16, int32/uint32, int64/uint64 in either byte order. The header
 * dictionary is parsed strictly (exactly the keys descr, fortran_order and shape); Fortran order,
 * object and structured dtypes are refused, and the data must fill the file exactly. Writing
 * produces version 1.0, '<f4', C order, atomically (PATH.tmp, fsync, rename): numpy.load reads
 * it. Failures return VE_FAIL with a ve_fail() message that names the file. */
#ifndef VE_IO_NPY_H
#define VE_IO_NPY_H

#include <stdint.h>

#define VE_NPY_MAX_DIMS 8
/* Elements an array may have: 2^31 (8 GiB of floats). */
#define VE_NPY_MAX_ELEMS ((int64_t)1 << 31)

typedef struct {
    int ndim; /* 0 for a scalar */
    int64_t shape[VE_NPY_MAX_DIMS];
    int64_t numel;
    char descr[8]; /* the stored dtype, e.g. "<f4" */
    float *data;   /* numel floats, C order */
} ve_npy_array;

/* On failure *a is zeroed. */
int ve_npy_load(const char *path, ve_npy_array *a);
void ve_npy_free(ve_npy_array *a);

/* ndim 0..VE_NPY_MAX_DIMS; data holds the product of shape floats (C order). */
int ve_npy_write_f32(const char *path, int ndim, const int64_t *shape, const float *data);

#endif
