/* SAM's input preprocessing on the host (as the official predictor does it on the CPU): resize
 * so the longest side is S, normalise per channel, pad bottom/right with zeros to S x S. */
#ifndef SAM_PREPROCESS_H
#define SAM_PREPROCESS_H

/* SAM's pixel statistics on 0..255 RGB; SAMed uses mean 0, std 1 on [0, 1] images. */
extern const float SAM_PIXEL_MEAN[3], SAM_PIXEL_STD[3];

/* The resized size: new = int(old * S / max(h, w) + 0.5) for each side. */
void sam_resized_size(int h, int w, int s, int *nh, int *nw);

/* rgb: 3 planes of h x w. out: 3 planes of s x s. Bilinear (align_corners false, no
 * antialiasing) to the resized size, then (x - mean) / std, then zeros in the padding. */
int sam_preprocess(const float *rgb, int h, int w, int s, const float mean[3], const float std[3],
                   float *out);

#endif
