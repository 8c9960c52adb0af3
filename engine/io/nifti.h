/* Reading NIfTI-1 volumes (`.nii`, and `.nii.gz` detected by the gzip magic).
 *
 * A volume comes back as floats in the file's order (x fastest, then y, then z), with
 * scl_slope / scl_inter applied when the slope is non-zero and finite. Supported: single-file
 * NIfTI-1 (magic "n+1"), either byte order, up to 3 dimensions (higher ones must have size 1),
 * datatypes uint8, int8, int16, uint16, int32, uint32, float32, float64. Files are treated as
 * hostile: every size is checked against the file (or the end of the gzip stream) and failures
 * return VE_FAIL with a ve_fail() message that names the file. Label volumes are written with
 * the geometry of a volume that was read (ve_nifti_write_labels). */
#ifndef VE_IO_NIFTI_H
#define VE_IO_NIFTI_H

#include <stdint.h>

/* Voxels a volume may have: 2^30 (4 GiB of floats). */
#define VE_NIFTI_MAX_VOXELS ((int64_t)1 << 30)

/* Size of a NIfTI-1 header; a single-file volume's data starts at vox_offset >= 352. */
#define VE_NIFTI_HDR_BYTES 348

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
    /* The 348-byte header exactly as read, in the file's byte order (big-endian when
     * byte_swapped), so writers can copy its geometry; all zero for a volume not loaded. */
    uint8_t header[VE_NIFTI_HDR_BYTES];
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

/* Writes a label volume of dim[0] * dim[1] * dim[2] voxels (x fastest, as ve_volume.data) as a
 * little-endian NIfTI-1 file: .nii, or gzip-compressed when path ends in ".gz". Written
 * atomically (PATH.tmp, fsync, rename): on failure no file, partial or temporary, is left.
 * Fields: datatype uint8, bitpix 8, dim[0] 3, scl_slope 1, scl_inter 0, cal_min 0, cal_max the
 * largest label, vox_offset 352 (no extension), magic "n+1". geometry_src's dim must equal dim;
 * its geometry (pixdim[0..7] with qfac, xyzt_units, qform_code, sform_code, quatern_b/c/d,
 * qoffset_x/y/z, srow_x/y/z, descrip) is copied from its header as read. A geometry_src with no
 * header (not from ve_nifti_load) gives its pixdim and xyzt_units with both codes 0; NULL gives
 * 1 mm voxels, qform and sform codes 1 (scanner) with the identity transform. */
int ve_nifti_write_labels(const char *path, const ve_volume *geometry_src, const uint8_t *labels,
                          const int64_t dim[3]);

#endif
