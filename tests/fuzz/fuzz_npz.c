/* libFuzzer target: SAMed's Synapse `.npz` training slices (zip of image.npy and label.npy)
 * through ve_slices_load_npz_dir on a folder holding the one input file. */
#include <stddef.h>
#include <stdint.h>

#include "data/slices.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write_input(data, size, "input.npz");
    ve_slice_set set = {0};
    (void)ve_slices_load_npz_dir(fuzz_folder(), NULL, &set);
    ve_slice_set_free(&set);
    return 0;
}
