/* libFuzzer target: NIfTI-1 volumes, plain and gzip-compressed (the loader detects gzip by its
 * magic), through ve_nifti_load, plus the min/max scan and a slice along each axis. Seeds: the
 * MRI templates of Debian's mricron-data, compressed and not. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "io/nifti.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ve_volume v;
    if (ve_nifti_load(fuzz_write_input(data, size, "input.nii"), &v) != 0) return 0;
    float lo, hi;
    ve_volume_minmax(&v, &lo, &hi);
    for (int axis = 0; axis < 3; axis++) {
        int w, h;
        free(ve_volume_slice(&v, axis, v.dim[axis] / 2, &w, &h));
    }
    ve_volume_free(&v);
    return 0;
}
