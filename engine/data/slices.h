/* 2-D labelled samples in memory, and the loaders that make them from the formats users bring
 * (DATA.md): PNG/JPEG folder pairs, NIfTI-1 volume pairs, and SAMed's Synapse layout (.npz
 * training slices, .npy.h5 test volumes).
 *
 * Every sample holds its image scaled to [0, 1] and its label map of class indices. Samples that
 * come from one volume share a case id (evaluation computes 3-D metrics per case). Files are
 * treated as hostile: every failure returns VE_FAIL with a ve_fail() message naming the file
 * and what is wrong (shape, value), and leaves *out empty. */
#ifndef VE_DATA_SLICES_H
#define VE_DATA_SLICES_H

#include <stdint.h>

#define VE_SLICE_NAME_LEN 160

typedef struct {
    int h, w, channels;           /* channels 1 (grey) or 3 (RGB) */
    float *image;                 /* [channels][h][w], intensities already scaled to [0, 1] */
    uint8_t *label;               /* [h][w] class indices (0 = background) */
    char name[VE_SLICE_NAME_LEN]; /* for messages and overlay files: the file stem, or
                                     "ch2.nii.gz z=40" */
    int case_id; /* samples of one volume share a case id (0, 1, ...); a PNG or npz file is its
                    own case */
    int slice;   /* slice index inside its case (the volume's index along the axis) */
} ve_slice;

typedef struct {
    ve_slice *s;
    int n;
    char (*case_names)[VE_SLICE_NAME_LEN]; /* case name: the volume's path (with the slab's
                                              range when a volume gives several cases), or
                                              the file stem */
    int n_cases;
} ve_slice_set;

/* Frees every sample and the case names, and zeroes *set (safe on a zeroed set, and twice). */
void ve_slice_set_free(ve_slice_set *set);

/* Moves b's samples and cases to the end of a, renumbering b's case ids after a's; b is left
 * empty. On failure (out of memory) both sets are unchanged. */
int ve_slice_set_append(ve_slice_set *a, ve_slice_set *b);

/* PNG/JPEG images (told by their signature: ve_image_load) in image_dir, sorted by file name,
 * each with the label PNG of the same file name in label_dir (for a JPEG "x.jpg", "x.jpg" or else
 * "x.png").
 * Grey and 16-bit images become 1 channel, RGB 3 (alpha dropped); samples are scaled to [0, 1]
 * by the file's bit depth. Labels: 8- or 16-bit grey PNG (alpha ignored), pixel value = class,
 * at most 255. Each file is its own case (case name and sample name: the file stem), slice 0.
 * Hidden files (".x") are skipped. Errors: a missing label file (named), an image and label of
 * different sizes (both sizes), an empty folder, unreadable files, an RGB label, a value > 255. */
int ve_slices_load_png_dirs(const char *image_dir, const char *label_dir, ve_slice_set *out);

typedef struct {
    int axis;          /* 0, 1 or 2: slices are taken along this NIfTI axis (as ve_volume_slice) */
    const int *slices; /* which indices, in the order given (NULL: all); each run of consecutive
                          indices (k, k+1, ...) is one case, e.g. one test slab */
    int n_slices;
    const int *label_lut; /* label value v -> class label_lut[v]; v >= lut_len, or no lut:
                             unchanged. A result that is not a whole number in 0..255 is an
                             error naming the file, the value and the voxel */
    int lut_len;
    int window; /* 1: clip to [lo, hi], then scale to [0, 1] (CT: -125, 275); 0: scale by
                   the whole volume's minimum and maximum */
    float lo, hi;
} ve_nifti_slice_opts;

/* An image volume and its label volume (the same dimensions, else an error naming both shapes)
 * -> one 1-channel sample per requested slice. Sample names: "<file name> <x|y|z>=<index>".
 * An image voxel that is NaN or infinite is an error naming the file. */
int ve_slices_load_nifti(const char *image_path, const char *label_path,
                         const ve_nifti_slice_opts *o, ve_slice_set *out);

/* SAMed's Synapse training slices: every DIR/STEM.npz named in list_file (one stem per line,
 * SAMed's train.txt; blank lines ignored), or every *.npz in dir sorted by name when list_file
 * is NULL. Each .npz (numpy.savez: stored, not compressed) holds image.npy (float [H, W], used
 * as it is: SAMed's slices are already in [0, 1]) and label.npy ([H, W], any numeric dtype,
 * whole numbers 0..255). Each file is its own case named by its stem. Errors name the file:
 * a missing entry, shapes that differ, a NaN/infinite image value, a bad label value. */
int ve_slices_load_npz_dir(const char *dir, const char *list_file, ve_slice_set *out);

/* SAMed's Synapse test volumes: every DIR/STEM.npy.h5 named in list_file (SAMed's
 * test_vol.txt), or every *.h5 in dir sorted by name when list_file is NULL. Each HDF5 file
 * holds datasets "image" (float [D, H, W]) and "label" ([D, H, W], whole numbers 0..255); it is
 * one case (named by its path) and gives D samples, slice = index along D, named
 * "<file name> z=<index>". */
int ve_slices_load_h5_dir(const char *dir, const char *list_file, ve_slice_set *out);

#endif
