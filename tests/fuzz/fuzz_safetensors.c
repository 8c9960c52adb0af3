/* libFuzzer target: safetensors checkpoints (JSON header + data) through ve_checkpoint_open,
 * the metadata lookup and ve_checkpoint_read_f32 of every tensor. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_checkpoint_file(data, size, "input.safetensors");
    return 0;
}
