/* libFuzzer target: the YAML config of `vksamed train` / `eval` (apps/vksamed/train_config.c,
 * compiled into this target) through train_config_load: strict parsing, type checks, path
 * resolution and the cross-key validation. Seeds: the YAML files of configs/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "train_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    train_config *c = calloc(1, sizeof *c);
    if (!c) return 0;
    (void)train_config_load(fuzz_write_input(data, size, "config.yaml"), c);
    train_config_free(c);
    free(c);
    return 0;
}
