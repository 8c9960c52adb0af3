/* vksamed-view: where the slices come from: one PNG / JPEG, a folder of them (sorted by name,
 * numbers in names compared as numbers), or a NIfTI volume (kept in memory, sliced along an
 * axis). Each slice comes back as segment_io's seg_image (3 planes, 0..255), the input of
 * `vksamed segment` too: NIfTI slices scaled by the volume's min and max. */
#ifndef VIEW_SOURCE_H
#define VIEW_SOURCE_H

#include "io/nifti.h"
#include "segment.h"

typedef struct {
    char path[4096];
    int n;         /* slices */
    char **files;  /* folder: n paths; single image: 1 */
    int is_volume; /* NIfTI */
    ve_volume vol;
    int axis;
    float lo, hi; /* NIfTI: value range mapped to 0..255; else 0, 255 */
} view_source;

/* Opens path (a file or a folder); axis for NIfTI. Fails naming the path (no image in a
 * folder, unreadable file). */
int view_source_open(view_source *s, const char *path, int axis);
void view_source_close(view_source *s);
/* Slice index (0..n-1) into img (seg_image_free). */
int view_source_slice(const view_source *s, int index, seg_image *img);
/* A short name of slice index for the status line ("ch2.nii.gz z 90", "BrainT1Slice.png"). */
void view_source_name(const view_source *s, int index, char *out, int n);
/* The default slice: the middle of a volume, the first file. */
int view_source_default(const view_source *s);
/* A display value (0..255 units) in the source's own units (NIfTI intensities). */
float view_source_raw(const view_source *s, float v255);

#endif
