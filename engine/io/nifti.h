/* Reading NIfTI-1 volumes (`.nii`, and `.nii.gz` detected by the gzip magic).
 *
 * A volume comes back as floats in the file's order (x fastest, then y, then z), with
 * scl_slope / scl_inter applied when the slope is non-zero and finite. Supported: single-file
 * NIfTI-1 (magic "n+1"), either byte order, up to 3 dimensions (higher ones must have size 1),
 * datatypes uint8, int8, int16, uint16, int32, uint32, float32, float64. Files are treated as
 * hostile: every size is checked against the file (or the end of the gzip stream) and failures
 * return VE_FAIL with a ve_fail() message that names the file. */
#ifndef VE_IO_NIFTI_H
#define VE_IO_NIFTI_H

#include <stdint.h>

/* Voxels a volume may have: 2^30 (4 GiB of floats). */
#define VE_NIFTI_MAX_VOXELS ((int64_t)1 << 30)

/* NIfTI-1 datatype codes this reads. */
enum {
    VE_NIFTI_UINT8 = 2,
    VE_NIFTI_INT16 = 4,
    VE_NIFTI_INT32 = 8,
    VE_NIFTI_FLOAT32 = 16,
    VE_NIFTI_FLOAT64 = 64,
    VE_NIFTI_INT8 = 256,
    VE_NIFTI_UINT16 = 512,
    VE_NIFTI_UINT32 = 768,
};

typedef struct {
    int64_t dim[3];             /* nx, ny, nz; 1 for dimensions the file does not have */
    float pixdim[8];            /* as stored: pixdim[0] is qfac, pixdim[1..3] the voxel size */
    float spacing[3];           /* |pixdim[1..3]|, 1 where that is zero or not finite */
    int xyzt_units;             /* as stored (2 = mm) */
    int datatype;               /* the stored datatype code */
    int byte_swapped;           /* the file was big-endian */
    float scl_slope, scl_inter; /* as stored; applied only when the slope is non-zero */
    float *data;                /* dim[0] * dim[1] * dim[2] floats: (z * ny + y) * nx + x */
} ve_volume;

/* On failure *v is zeroed. */
int ve_nifti_load(const char *path, ve_volume *v);
void ve_volume_free(ve_volume *v);

int64_t ve_volume_voxels(const ve_volume *v);
/* Smallest and largest finite value (both 0 for a volume with none). */
void ve_volume_minmax(const ve_volume *v, float *lo, float *hi);

/* The 2-D slice at index along axis (0 = x, 1 = y, 2 = z), as a malloc'ed image of *h rows of
 * *w floats. Its columns run along the lower-numbered remaining axis, its rows along the
 * higher: axis 2 gives rows y, columns x; axis 1 rows z, columns x; axis 0 rows z, columns y.
 * NULL with a ve_fail() message for a bad axis or index. */
float *ve_volume_slice(const ve_volume *v, int axis, int64_t index, int *w, int *h);

#endif
