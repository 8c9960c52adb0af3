/* SAM presets from YAML: the built-in ones hold SAM_SPEC.md's numbers, and every malformed
 * file is refused with a message naming the line. No Vulkan device needed. */
#include <stdio.h>
#include <string.h>

#include "sam/preset.h"
#include "status.h"
#include "test_util.h"

static void builtin(const char *name, int dim, int depth, int heads, int ng, const int *gb) {
    sam_preset p;
    int ok = sam_preset_builtin(name, &p) == VE_OK;
    tu_check(ok, name);
    if (!ok) {
        fprintf(stderr, "%s\n", ve_error());
        return;
    }
    int same = !strcmp(p.name, name) && p.embed_dim == dim && p.depth == depth &&
               p.heads == heads && p.n_global == ng && p.patch_size == 16 && p.window_size == 14 &&
               p.mlp_ratio == 4 && p.neck_dim == 256 && p.prompt_dim == 256 &&
               p.decoder_depth == 2 && p.decoder_heads == 8 && p.decoder_mlp_dim == 2048 &&
               p.decoder_downsample == 2 && p.mask_outputs == 4 && p.iou_head_depth == 3 &&
               p.iou_head_hidden == 256 && p.mask_in_chans == 16 && p.image_size == 1024 &&
               p.encoder_ln_eps == 1e-6f;
    for (int i = 0; same && i < ng; i++)
        same = p.global_blocks[i] == gb[i];
    tu_check(same, "built-in preset holds the spec's numbers");
}

static const char *BASE = "name: t\nimage_size: 1024\npatch_size: 16\nembed_dim: 64\ndepth: 6\n"
                          "heads: 2\nmlp_ratio: 4\nwindow_size: 14\nglobal_blocks: [2, 5]\n"
                          "encoder_ln_eps: 1.0e-6\nneck_dim: 256\nprompt_dim: 256\n"
                          "mask_in_chans: 16\ndecoder_depth: 2\ndecoder_heads: 8\n"
                          "decoder_mlp_dim: 2048\ndecoder_downsample: 2\nmask_outputs: 9\n"
                          "iou_head_depth: 3\niou_head_hidden: 256\n";

/* BASE with one line replaced (or appended when `old` is NULL); expects failure mentioning
 * `want`. */
static void refused(const char *old, const char *repl, const char *want) {
    char buf[2048];
    const char *at = old ? strstr(BASE, old) : NULL;
    if (old && !at) {
        tu_check(0, "test setup: line not found");
        return;
    }
    if (at)
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - BASE), BASE, repl, at + strlen(old));
    else
        snprintf(buf, sizeof buf, "%s%s", BASE, repl);
    sam_preset p;
    int rc = sam_preset_parse(buf, strlen(buf), "x.yaml", &p);
    int ok = rc == VE_FAIL && strstr(ve_error(), want);
    if (!ok)
        fprintf(stderr, "expected failure with \"%s\", got: %s\n", want,
                rc ? ve_error() : "success");
    tu_check(ok, want);
}

int main(void) {
    builtin("vit_b", 768, 12, 12, 4, (const int[]){2, 5, 8, 11});
    builtin("vit_l", 1024, 24, 16, 4, (const int[]){5, 11, 17, 23});
    builtin("vit_h", 1280, 32, 16, 4, (const int[]){7, 15, 23, 31});
    builtin("tiny", 64, 6, 2, 2, (const int[]){2, 5});
    sam_preset p;
    tu_check(sam_preset_parse(BASE, strlen(BASE), "x.yaml", &p) == VE_OK && p.mask_outputs == 9,
             "a custom preset parses");
    tu_check(sam_preset_builtin("vit_x", &p) == VE_FAIL && strstr(ve_error(), "vit_x"),
             "unknown built-in named");
    refused(NULL, "colour: blue\n", "x.yaml:21: unknown key \"colour\"");
    refused(NULL, "depth: 7\n", "x.yaml:21: key \"depth\" given twice");
    refused("heads: 2\n", "", "missing key \"heads\"");
    refused("heads: 2\n", "heads: two\n", "x.yaml:6: heads: \"two\" is not an integer");
    refused("heads: 2\n", "heads: 3\n", "embed_dim 64 is not divisible by heads 3");
    refused("global_blocks: [2, 5]\n", "global_blocks: [2, 6]\n", "global block 6 is outside");
    refused("global_blocks: [2, 5]\n", "global_blocks: 2\n", "must be a list");
    refused("image_size: 1024\n", "image_size: 1000\n", "not a multiple of patch_size");
    refused("encoder_ln_eps: 1.0e-6\n", "encoder_ln_eps: -1\n", "not a number");
    refused("name: t\n", "name: 't\n", "YAML error");
    refused("name: t\n", "name:\n  sub: 1\n", "x.yaml:2: name must be a single value");
    refused("name: t\n", "name: [t]\n", "x.yaml:1: name must be a single value");
    tu_check(sam_preset_parse("", 0, "e.yaml", &p) == VE_FAIL && strstr(ve_error(), "e.yaml"),
             "empty file refused");
    tu_check(sam_preset_load("/nonexistent/p.yaml", &p) == VE_FAIL &&
                 strstr(ve_error(), "/nonexistent/p.yaml"),
             "missing file named");
    return tu_exit();
}
