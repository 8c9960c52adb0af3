/* libFuzzer target: PyTorch `.pth` checkpoints (zip + pickle) through ve_checkpoint_open and
 * ve_checkpoint_read_f32 of every tensor. Seeds: the checkpoints tools/fuzz writes with
 * tests/reference/make_checkpoints.py. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_checkpoint_file(data, size, "input.pth");
    return 0;
}
