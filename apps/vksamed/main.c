/* vksamed: the command-line entry point. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static int usage(FILE *out) {
    fprintf(out, "usage: vksamed <command> [options]\n"
                 "commands:\n"
                 "  devices            list Vulkan devices and the limits the engine uses\n"
                 "  info FILE          tensors, parameter count and SAM preset of a .pth / "
                 ".safetensors\n"
                 "  bench matmul       matmul GFLOP/s on SAM's shapes beside OpenBLAS\n"
                 "  bench encoder      image-encoder time and memory beside PyTorch CPU\n"
                 "  bench train        one SAMed training step beside PyTorch CPU\n"
                 "  train CONFIG       train SAMed (or SAM from scratch) as the YAML config says\n"
                 "  eval CONFIG        Dice / HD95 per case and class on the config's test set\n"
                 "  segment            mask an image (or NIfTI slice) with SAM prompts, or label "
                 "it with SAMed\n"
                 "options common to commands: --device SEL (index or name substring; also "
                 "VKSAMED_DEVICE)\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) return usage(stdout);
    if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "segment")) return cmd_segment(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "vksamed: unknown command \"%s\"\n", cmd);
    return usage(stderr);
}
