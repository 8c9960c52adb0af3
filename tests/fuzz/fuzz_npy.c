/* libFuzzer target: NumPy `.npy` arrays through ve_npy_load. Seeds: arrays numpy writes in
 * every dtype the reader takes (tools/fuzz, tests/reference/npy_reference.py's kinds). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_input.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ve_npy_array a;
    if (ve_npy_load(fuzz_write_input(data, size, "input.npy"), &a) == 0) ve_npy_free(&a);
    return 0;
}
