/* vksamed bench train: one SAMed training step (upload, forward, loss, backward, AdamW; one
 * recorded command buffer replayed) beside PyTorch CPU's step on the same preset, size, batch,
 * mode and thread count (tests/reference/bench_train_torch.py), measured in the same run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "commands.h"
#include "sam/samed_train.h"
#include "status.h"

static int usage(void) {
    fprintf(stderr, "usage: vksamed bench train [--preset NAME] [--size S] [--batch B] "
                    "[--classes N] [--mode lora|full] [--iters N] [--device SEL] [--profile] "
                    "[--no-torch]\n");
    return 2;
}

static double mib(uint64_t b) {
    return (double)b / (1024.0 * 1024.0);
}

int bench_train(int argc, char **argv) {
    bench_common b = {"vit_b", 512, 3, 1, 0, 1};
    const char *mode = "lora";
    int classes = 8;
    for (int i = 1; i < argc; i++) {
        const int k = bench_common_arg(&b, argc, argv, i);
        if (k) {
            i += k - 1;
        } else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
            classes = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            mode = argv[++i];
        } else {
            return usage();
        }
    }
    const char *preset_name = b.preset;
    const int size = b.size, batch = b.batch, iters = b.iters, profile = b.profile, torch = b.torch;
    if (size < 16 || batch < 1 || classes < 1 || iters < 1 ||
        (strcmp(mode, "lora") && strcmp(mode, "full")))
        return usage();
    sam_preset p;
    if (sam_preset_builtin(preset_name, &p) != VE_OK) {
        fprintf(stderr, "bench train: %s\n", ve_error());
        return 2;
    }
    p.mask_outputs = classes + 1;
    ve_device *dev = ve_device_open(cli_device_option(argc, argv));
    if (!dev) {
        fprintf(stderr, "bench train: %s\n", ve_error());
        return 1;
    }
    const ve_device_info *info = ve_device_get_info(dev);
    const int threads = bench_thread_count();
    printf("device: %s (%s)\n", info->name, info->driver_info);
    printf("train step: %s, input %d, batch %d, %d outputs, %s, threads %d\n", p.name, size, batch,
           classes + 1, !strcmp(mode, "lora") ? "LoRA r 4 on qkv (SAMed)" : "full fine-tuning",
           threads);
    fflush(stdout);
    sam_train_opts o;
    sam_train_opts_default(&o, &p, size, batch);
    o.finetune = !strcmp(mode, "lora") ? SAM_FT_LORA : SAM_FT_FULL;
    o.profile = profile;
    int rc = 1;
    double *t = malloc(sizeof(double) * (size_t)iters), t0 = bench_now_s();
    sam_trainer *tr = sam_trainer_create(dev, &o);
    const double t_build = bench_now_s() - t0;
    float *img = NULL, *lab = NULL;
    if (!tr || !t) {
        fprintf(stderr, "bench train: %s\n", ve_error());
        goto done;
    }
    const int L = sam_trainer_label_side(tr);
    const size_t ni = (size_t)batch * 3 * (size_t)size * (size_t)size,
                 nl = (size_t)batch * (size_t)L * (size_t)L;
    img = malloc(sizeof(float) * ni);
    lab = malloc(sizeof(float) * nl);
    if (!img || !lab || sam_trainer_init_weights(tr, NULL, NULL, 1, NULL) != VE_OK) {
        fprintf(stderr, "bench train: %s\n", img && lab ? ve_error() : "out of host memory");
        goto done;
    }
    uint64_t s = 5;
    for (size_t i = 0; i < ni; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        img[i] = (float)((double)(s >> 40) / 16777216.0);
    }
    for (size_t i = 0; i < nl; i++) /* class stripes: every class present */
        lab[i] = (float)((i / (size_t)(L / 4 > 0 ? L / 4 : 1)) % (size_t)(classes + 1));
    printf("device memory: %.1f MiB; trainable elements %lld; build + compile %.2f s\n",
           mib(sam_trainer_device_bytes(tr)), (long long)sam_trainer_trainable_elements(tr),
           t_build);
    sam_train_losses l;
    t0 = bench_now_s();
    if (sam_trainer_step(tr, img, lab, 1e-4, 1, &l) != VE_OK) {
        fprintf(stderr, "bench train: %s\n", ve_error());
        goto done;
    }
    const double first = bench_now_s() - t0;
    for (int i = 0; i < iters; i++) {
        t0 = bench_now_s();
        if (sam_trainer_step(tr, img, lab, 1e-4, 2 + i, &l) != VE_OK) {
            fprintf(stderr, "bench train: %s\n", ve_error());
            goto done;
        }
        t[i] = bench_now_s() - t0;
    }
    const double ours = bench_median(t, iters) * 1e3;
    printf("ours: first step %.1f ms (pipeline compiles), median %.1f ms of %d (%.2f images/s); "
           "loss %.4f\n",
           first * 1e3, ours, iters, 1e3 * batch / ours, l.loss);
    if (profile) {
        printf("\nprofile of the last step (GPU timestamps):\n");
        sam_trainer_profile_print(tr, stdout);
        printf("\n");
    }
    fflush(stdout);
    const double our_mib = mib(sam_trainer_device_bytes(tr));
    sam_trainer_destroy(tr);
    tr = NULL;
    if (!torch) {
        printf("pytorch: skipped (--no-torch)\n");
    } else {
        char args[256];
        snprintf(args, sizeof args, "'%s' %d %d %d %d %d %s", preset_name, size, batch, iters,
                 threads, classes, mode);
        bench_torch_result r = bench_run_torch("bench_train_torch.py", args);
        if (!r.ok) {
            printf("pytorch: unavailable (%s): ours only\n", r.why);
        } else {
            printf("pytorch CPU (%d threads): first step %.1f ms, median %.1f ms of %d (%.2f "
                   "images/s); peak RSS %.0f MB (%.0f MB before the model)\n",
                   threads, r.first_ms, r.median_ms, iters, 1e3 * batch / r.median_ms,
                   r.peak_rss_mb, r.base_rss_mb);
            printf("ratio ours / pytorch: time %.2f (target <= 1.5), memory: ours %.0f MiB "
                   "device vs pytorch %.0f MB RSS growth\n",
                   ours / r.median_ms, our_mib, r.peak_rss_mb - r.base_rss_mb);
        }
    }
    rc = 0;
done:
    sam_trainer_destroy(tr);
    free(t), free(img), free(lab);
    int vm = ve_device_close(dev);
    return rc == 0 && vm == 0 ? 0 : 1;
}
