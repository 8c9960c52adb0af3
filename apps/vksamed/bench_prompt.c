/* vksamed bench prompt: the latency of one prompt once the image embedding is kept (the
 * predictor, models/sam/predictor.h, as `vksamed segment` and vksamed-view use it), with random
 * weights of the preset: (a) prompt encoder + mask decoder + the low-res masks read back, (b) the
 * same plus the official upsampling to the original image (S x S here) with the masks read to
 * the host. Beside PyTorch CPU doing the same with the official architecture
 * (tests/reference/bench_prompt_torch.py, same thread count), run after our timings. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "commands.h"
#include "sam/predictor.h"
#include "sam/preset.h"
#include "status.h"

int bench_prompt(int argc, char **argv);

static int usage(void) {
    fprintf(stderr, "usage: vksamed bench prompt [--preset vit_b|vit_l|vit_h|tiny] [--size S] "
                    "[--iters N] [--device SEL] [--profile] [--encode] [--no-torch]\n");
    return 2;
}

/* Times iters predictions (full: at the image size, else low-res); *first: the first call's
 * time (the graph's build and pipeline compiles). Returns the median in ms, < 0 on failure. */
static double time_prompts(sam_predictor *pr, const sam_prompt_set *ps, int full, int iters,
                           double *first, double *lo, double *hi) {
    double *t = malloc(sizeof(double) * (size_t)iters), med = -1;
    if (!t) return -1;
    for (int i = -1; i < iters; i++) {
        sam_prediction r;
        double t0 = bench_now_s();
        int rc =
            full ? sam_predictor_predict(pr, ps, &r) : sam_predictor_predict_lowres(pr, ps, &r);
        double dt = bench_now_s() - t0;
        if (rc == VE_OK && i < 0) {
            /* Checked once, outside the timings' loop body cost. */
            for (size_t k = 0; k < (size_t)r.m * 16 * r.g * r.g && rc == VE_OK; k++)
                if (!isfinite(r.lowres[k])) rc = ve_fail("low-res logit %zu is %g", k, r.lowres[k]);
        }
        sam_prediction_free(&r);
        if (rc != VE_OK) {
            free(t);
            return -1;
        }
        if (i < 0)
            *first = dt;
        else
            t[i] = dt;
    }
    *lo = *hi = t[0];
    for (int i = 1; i < iters; i++)
        *lo = t[i] < *lo ? t[i] : *lo, *hi = t[i] > *hi ? t[i] : *hi;
    med = bench_median(t, iters);
    free(t);
    return med * 1e3;
}

int bench_prompt(int argc, char **argv) {
    bench_common b = {"vit_b", 1024, 10, 1, 0, 1};
    int encode = 0;
    for (int i = 1; i < argc; i++) {
        const int k = bench_common_arg(&b, argc, argv, i);
        if (k) {
            i += k - 1;
        } else if (!strcmp(argv[i], "--encode")) {
            encode = 1;
        } else {
            return usage();
        }
    }
    const char *preset_name = b.preset;
    const int size = b.size, iters = b.iters, profile = b.profile, torch = b.torch;
    if (size < 16 || iters < 1) return usage();
    sam_preset p;
    if (sam_preset_builtin(preset_name, &p) != VE_OK) {
        fprintf(stderr, "bench prompt: %s\n", ve_error());
        return 2;
    }
    ve_device *dev = ve_device_open(cli_device_option(argc, argv));
    if (!dev) {
        fprintf(stderr, "bench prompt: %s\n", ve_error());
        return 1;
    }
    const ve_device_info *info = ve_device_get_info(dev);
    const int threads = bench_thread_count();
    printf("device: %s (%s, %s kernels)\n", info->name, info->driver_info,
           info->device_class == VE_CLASS_CPU ? "CPU-class" : "GPU-class");
    printf("prompt: %s, input %d, image %dx%d, one foreground point, %d mask tokens, random "
           "weights, threads %d%s\n",
           p.name, size, size, size, p.mask_outputs, threads, profile ? ", profiled" : "");
    fflush(stdout);

    int rc = 1;
    const size_t n_img = 3 * (size_t)size * (size_t)size;
    float *img = malloc(sizeof(float) * n_img);
    uint64_t s = 7;
    for (size_t i = 0; img && i < n_img; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        img[i] = (float)((s >> 40) % 256);
    }
    double t0 = bench_now_s();
    sam_predictor *pr = img ? sam_predictor_create_random(dev, &p, size, SAM_INPUT_SAM, 1) : NULL;
    const double t_create = bench_now_s() - t0;
    if (!pr) {
        fprintf(stderr, "bench prompt: %s\n", img ? ve_error() : "out of host memory");
        goto done;
    }
    sam_predictor_set_profile(pr, profile);
    /* The embedding: the encoder's output on a random image with --encode, else random values
     * (the prompt's cost does not depend on them; vit_b's encoder takes a minute on a CPU). */
    const int g = sam_predictor_grid(pr), c = sam_predictor_embed_dim(pr);
    const size_t ne = (size_t)c * (size_t)g * (size_t)g;
    float *emb = encode ? NULL : malloc(sizeof(float) * ne);
    for (size_t i = 0; emb && i < ne; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        emb[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0);
    }
    t0 = bench_now_s();
    int set = encode ? sam_predictor_set_image(pr, img, size, size)
              : emb  ? sam_predictor_set_embedding(pr, emb, size, size)
                     : ve_fail("out of host memory");
    free(emb);
    if (set != VE_OK) {
        fprintf(stderr, "bench prompt: %s\n", ve_error());
        goto done;
    }
    printf("create %.2f s, image embedding (once, %s) %.2f s\n", t_create,
           encode ? "image encoder" : "random values", bench_now_s() - t0);
    const float pt[2] = {0.4f * (float)size, 0.55f * (float)size}, lab[1] = {1};
    sam_prompt_set ps = {1, pt, lab, NULL, NULL};
    double first[2], lo[2], hi[2], med[2];
    for (int full = 0; full < 2; full++) {
        med[full] = time_prompts(pr, &ps, full, iters, &first[full], &lo[full], &hi[full]);
        if (med[full] < 0) {
            fprintf(stderr, "bench prompt: %s\n", ve_error());
            goto done;
        }
        printf("ours (%c) %s: first %.1f ms (graph build), median %.1f ms of %d (min %.1f, max "
               "%.1f)\n",
               full ? 'b' : 'a',
               full ? "+ upsampling to the image, masks read" : "prompt encoder + decoder, low-res",
               first[full] * 1e3, med[full], iters, lo[full] * 1e3, hi[full] * 1e3);
        if (profile) {
            printf("\nprofile of the last (%c) prediction (GPU timestamps):\n", full ? 'b' : 'a');
            sam_predictor_profile_print(pr, stdout);
            printf("\n");
        }
        fflush(stdout);
    }
    sam_predictor_destroy(pr);
    pr = NULL;
    if (!torch) {
        printf("pytorch: skipped (--no-torch)\n");
    } else {
        for (int full = 0; full < 2; full++) {
            char args[256];
            snprintf(args, sizeof args, "'%s' %d %d %d %s", preset_name, size, iters, threads,
                     full ? "full" : "lowres");
            bench_torch_result tr = bench_run_torch("bench_prompt_torch.py", args);
            if (!tr.ok) {
                printf("pytorch (%c): unavailable (%s): ours only\n", full ? 'b' : 'a', tr.why);
                continue;
            }
            printf("pytorch CPU (%c) (%d threads): first %.1f ms, median %.1f ms of %d; ratio "
                   "ours / pytorch %.2f\n",
                   full ? 'b' : 'a', threads, tr.first_ms, tr.median_ms, iters,
                   med[full] / tr.median_ms);
        }
    }
    if (!strcmp(p.name, "vit_b") && size == 1024)
        printf("target: (b) <= 150 ms at vit_b 1024: %s\n", med[1] <= 150 ? "met" : "NOT met");
    rc = 0;
done:
    sam_predictor_destroy(pr);
    free(img);
    int vm = ve_device_close(dev);
    return rc == 0 && vm == 0 ? 0 : 1;
}
