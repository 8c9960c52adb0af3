#include <stdio.h>
#include <string.h>

#include "commands.h"

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: vksamed bench matmul [--device SEL] [--iters N] [--shape MxNxK]\n"
                        "       vksamed bench encoder [--preset P] [--size S] [--iters N] "
                        "[--batch B] [--device SEL] [--profile]\n"
                        "       vksamed bench train [--preset P] [--size S] [--batch B] "
                        "[--classes N] [--mode lora|full] [--iters N] [--profile]\n"
                        "       vksamed bench prompt [--preset P] [--size S] [--iters N] "
                        "[--profile]\n");
        return 2;
    }
    if (!strcmp(argv[1], "matmul")) return bench_matmul(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encoder")) return bench_encoder(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "prompt")) return bench_prompt(argc - 1, argv + 1);
    fprintf(stderr,
            "vksamed bench: unknown benchmark \"%s\" (available: matmul, encoder, train, prompt)\n",
            argv[1]);
    return 2;
}
