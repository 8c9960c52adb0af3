/* Shared by fuzz_pth.c and fuzz_safetensors.c: open a checkpoint through the public API and read
 * every tensor, as the model loaders do, then free everything. */
#ifndef VKSAMED_FUZZ_CHECKPOINT_H
#define VKSAMED_FUZZ_CHECKPOINT_H

#include <stdlib.h>

#include "fuzz_input.h"
#include "io/checkpoint.h"

static void fuzz_checkpoint_file(const uint8_t *data, size_t size, const char *name) {
    ve_checkpoint *ck = ve_checkpoint_open(fuzz_write_input(data, size, name));
    if (!ck) return;
    (void)ve_checkpoint_meta(ck, "format");
    for (int i = 0; i < ve_checkpoint_count(ck); i++) {
        const ve_ckpt_tensor *t = ve_checkpoint_tensor(ck, i);
        (void)ve_checkpoint_find(ck, t->name);
        /* Sizes were checked against the file at open, so this allocation is bounded by it. */
        float *dst = malloc(((size_t)t->numel + 1) * sizeof *dst);
        if (dst) (void)ve_checkpoint_read_f32(ck, t, dst, (size_t)t->numel);
        free(dst);
    }
    ve_checkpoint_close(ck);
}

#endif
