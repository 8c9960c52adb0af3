/* libFuzzer target: the strict pickle interpreter of `.pth` files (engine/io/pickle.c) on raw
 * bytes, without the zip around it, so the fuzzer reaches every opcode quickly. */
#include <stddef.h>
#include <stdint.h>

#include "io/io_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ve_tensor_list l = {0};
    if (ve_pickle_state_dict(data, size, &l) == 0) {
        for (int i = 0; i < l.n; i++)
            (void)ve_tensor_check_extent(&l.t[i]);
    }
    ve_tensor_list_free(&l);
    return 0;
}
