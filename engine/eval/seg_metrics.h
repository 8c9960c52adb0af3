/* Segmentation metrics as SAMed reports them: Dice and HD95 per case and class, computed exactly
 * as medpy.metric.binary.dc / hd95 (medpy 0.4) on top of SAMed's calculate_metric_percase.
 *
 * Volumes are [d][h][w] arrays (w fastest): a NIfTI volume (x fastest) is [z][y][x], so its
 * spacing is (pixdim[3], pixdim[2], pixdim[1]). SAMed passes no spacing to medpy, so its HD95 is
 * in voxels: spacing (1, 1, 1). Host C, no device.
 *
 * HD95 follows medpy's __surface_distances exactly:
 *  - surface of a mask = mask AND NOT binary_erosion(mask, cross structure of connectivity 1,
 *    iterations 1, border_value 0): a voxel is interior only when it and its 6 face neighbours
 *    are all set, and a neighbour outside the volume counts as unset. So every voxel on the
 *    volume's outer faces is surface, and a mask with no interior (a line, a sheet, a single
 *    voxel, anything in a volume with a size-1 dimension) is all surface.
 *  - d(P->G): for each surface voxel of P, the exact Euclidean distance (with spacing) to the
 *    nearest surface voxel of G (scipy's distance_transform_edt(~G_surface, sampling)); likewise
 *    d(G->P). Here a separable exact EDT (Felzenszwalb-Huttenlocher) over the bounding box of
 *    P or G, which gives the same distances as over the whole volume.
 *  - hd95 = numpy.percentile(concatenate(d(P->G), d(G->P)), 95), linear interpolation.
 *  - 2-D input: medpy on an (h, w) array erodes with the 2-D cross, so a 2-D mask has an
 *    interior. Passing it here as d = 1 gives the 3-D result instead (every voxel is surface,
 *    as medpy on a (1, h, w) array); use ve_hd95_2d for medpy's 2-D result. */
#ifndef VE_EVAL_SEG_METRICS_H
#define VE_EVAL_SEG_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double dice, hd95;
} ve_seg_metric;

/* One class c of a 3-D case: pred and gt are [d][h][w] label volumes (class indices), spacing[3]
 * the voxel size along (d, h, w). With P = (pred == c) and G = (gt == c), as SAMed's
 * calculate_metric_percase: P and G both non-empty: ve_dice and ve_hd95; P non-empty and G
 * empty: dice 1, hd95 0; P empty: dice 0, hd95 0. VE_FAIL (with a message) for NULL arrays,
 * a size below 1, a spacing that is not finite and positive, or out of memory. */
int ve_seg_metric_class(const uint8_t *pred, const uint8_t *gt, int d, int h, int w,
                        const double spacing[3], int c, ve_seg_metric *out);

/* medpy's hd95 of two binary masks (non-zero = set) of [d][h][w] voxels, as described above.
 * NaN with a ve_fail() message when either mask is empty (medpy raises there), for bad sizes or
 * spacing, or when out of memory. */
double ve_hd95(const uint8_t *p, const uint8_t *g, int d, int h, int w, const double spacing[3]);

/* medpy's hd95 of two 2-D masks of [h][w] pixels (2-D cross erosion); spacing[2] along (h, w).
 * Same failures as ve_hd95. */
double ve_hd95_2d(const uint8_t *p, const uint8_t *g, int h, int w, const double spacing[2]);

/* medpy's dc of two binary masks of n elements (non-zero = set): 2|P&G| / (|P| + |G|), 0 when
 * both are empty (medpy 0.4, which SAMed used; medpy 0.5 returns 1 there). */
double ve_dice(const uint8_t *p, const uint8_t *g, size_t n);

#endif
