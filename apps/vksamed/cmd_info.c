/* `vksamed info FILE`: every tensor of a checkpoint (.pth or safetensors) with its dtype and
 * shape, the parameter count, and the SAM preset its shapes match. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "io/checkpoint.h"
#include "sam/preset_detect.h"
#include "status.h"

static void print_shape(const ve_ckpt_tensor *t) {
    printf("(");
    for (int d = 0; d < t->ndim; d++)
        printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
    printf(t->ndim == 1 ? ",)" : ")");
}

static void print_preset(const ve_checkpoint *ck) {
    sam_ckpt_info s;
    if (sam_detect_preset(ck, &s) != VE_OK) {
        printf("preset: none (%s)\n", ve_error());
        return;
    }
    printf("preset: %s", s.preset);
    if (s.embed_dim && s.heads)
        printf(" (embed %d, depth %d, heads %d)", s.embed_dim, s.depth, s.heads);
    else if (s.embed_dim) /* heads cannot be read from shapes */
        printf(" (embed %d, depth %d, heads unknown)", s.embed_dim, s.depth);
    printf("\n");
    if (s.has_image_encoder) {
        printf("global-attention blocks:");
        for (int i = 0; i < s.n_global; i++)
            printf(" %d", s.global_blocks[i]);
        printf("\n");
    }
    if (s.has_mask_decoder) printf("mask tokens: %d\n", s.n_mask_tokens);
    if (s.is_lora)
        printf("SAMed LoRA: rank %d, %d A/B pairs (q and v of %d blocks)\n", s.lora_rank,
               s.lora_pairs, s.depth);
    printf("parts:%s%s%s%s\n", s.has_image_encoder ? " image_encoder" : "",
           s.is_lora ? " lora" : "", s.has_prompt_encoder ? " prompt_encoder" : "",
           s.has_mask_decoder ? " mask_decoder" : "");
}

int cmd_info(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: vksamed info FILE   (.pth or .safetensors)\n");
        return argc == 2 ? 0 : 2;
    }
    ve_checkpoint *ck = ve_checkpoint_open(argv[1]);
    if (!ck) {
        fprintf(stderr, "vksamed info: %s\n", ve_error());
        return 1;
    }
    int64_t total = 0;
    for (int i = 0; i < ve_checkpoint_count(ck); i++) {
        const ve_ckpt_tensor *t = ve_checkpoint_tensor(ck, i);
        printf("%-64s %-4s ", t->name, ve_ckpt_dtype_name(t->dtype));
        print_shape(t);
        printf("\n");
        total += t->numel;
    }
    printf("%s: %s, %d tensors, %lld parameters (%.2f M)\n", argv[1],
           ve_checkpoint_format(ck) == VE_CKPT_PTH ? "PyTorch zip" : "safetensors",
           ve_checkpoint_count(ck), (long long)total, (double)total / 1e6);
    print_preset(ck);
    ve_checkpoint_close(ck);
    return 0;
}
