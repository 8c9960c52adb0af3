/* Parity of the image encoder with the PyTorch reference (tests/reference/sam_model.py): a
 * random-weight SAM saved with torch.save is loaded by the engine's own .pth reader, and the
 * image embedding must match within max|diff| <= 1e-4 * max|reference| at each size (S = 512 is
 * SAMed's: pos_embed and rel_pos tables resized at load time).
 * usage: test_sam_encoder_parity [PRESET SIZE...]   (default: tiny 1024 512) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/npy.h"
#include "sam/image_encoder.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_PARITY_DIR
#define VE_PARITY_DIR "."
#endif

/* The same image in every slot of the batch. */
static int write_batch(ve_graph *g, ve_tid t, const float *img, size_t n, int batch) {
    float *buf = malloc(sizeof(float) * n * (size_t)batch);
    if (!buf) return VE_FAIL;
    for (int b = 0; b < batch; b++)
        memcpy(buf + (size_t)b * n, img, sizeof(float) * n);
    int rc = ve_tensor_write(g, t, buf, n * (size_t)batch);
    free(buf);
    return rc;
}

static void run(ve_device *dev, ve_checkpoint *ck, const char *preset, int size, int batch) {
    char what[64], path[512];
    snprintf(what, sizeof what, "image encoder parity, %s at S=%d, batch %d", preset, size, batch);
    sam_preset p;
    if (sam_preset_builtin(preset, &p) != VE_OK) {
        tu_check(0, ve_error());
        return;
    }
    ve_npy_array img, want;
    snprintf(path, sizeof path, "%s/%s_image_%d.npy", VE_PARITY_DIR, preset, size);
    int ok = ve_npy_load(path, &img) == VE_OK;
    snprintf(path, sizeof path, "%s/%s_embedding_%d.npy", VE_PARITY_DIR, preset, size);
    ok = ok && ve_npy_load(path, &want) == VE_OK;
    if (!ok) {
        fprintf(stderr, "FAIL %s: %s\n", what, ve_error());
        tu_check(0, what);
        return;
    }
    ve_graph *g = ve_graph_create(dev);
    sam_params ps = {0};
    sam_image_encoder e;
    int64_t ishape[4] = {batch, 3, size, size};
    ve_tid image = ve_tensor(g, VE_INPUT, "image", 4, ishape);
    ve_tid emb = VE_NONE;
    if (sam_image_encoder_declare(g, &p, size, &ps, &e) == VE_OK)
        emb = sam_image_encoder_build(g, &e, image);
    if (emb != VE_NONE) ve_keep(g, emb);
    ok = emb != VE_NONE && ve_graph_compile(g, NULL) == VE_OK &&
         sam_params_load(g, &ps, ck) == VE_OK &&
         write_batch(g, image, img.data, (size_t)img.numel, batch) == VE_OK &&
         ve_graph_run(g) == VE_OK;
    if (!ok) fprintf(stderr, "FAIL %s: %s\n", what, ve_error());
    tu_check(ok, what);
    if (ok) {
        tu_check(ve_tensor_numel(g, emb) == batch * want.numel, "embedding shape");
        float *all = tu_read(g, emb);
        /* every image of the batch is the same one: each must match the reference */
        float *got = all + (batch - 1) * want.numel;
        if (batch > 1)
            tu_check(memcmp(all, got, sizeof(float) * (size_t)want.numel) == 0,
                     "images of a batch are computed identically");
        double md = 0, mw = 0;
        for (int64_t i = 0; i < want.numel; i++) {
            double dd = got[i] > want.data[i] ? got[i] - want.data[i] : want.data[i] - got[i];
            double w = want.data[i] < 0 ? -want.data[i] : want.data[i];
            if (dd > md) md = dd;
            if (w > mw) mw = w;
        }
        printf("%s: max|diff| %.3g, max|reference| %.3g, ratio %.2g (limit 1e-4)\n", what, md, mw,
               md / mw);
        tu_check(tu_close(what, got, want.data, (size_t)want.numel, 1e-4, 0), what);
        free(all);
    }
    sam_params_free(&ps);
    ve_graph_destroy(g);
    ve_npy_free(&img);
    ve_npy_free(&want);
}

int main(int argc, char **argv) {
    const char *preset = argc > 1 ? argv[1] : "tiny";
    char path[512];
    snprintf(path, sizeof path, "%s/%s_parity.pth", VE_PARITY_DIR, preset);
    ve_checkpoint *ck = ve_checkpoint_open(path);
    if (!ck) {
        printf("skipped: %s (the fixture needs python3-torch)\n", ve_error());
        return 77;
    }
    ve_device *dev = tu_device();
    if (argc > 2)
        for (int i = 2; i < argc; i++)
            run(dev, ck, preset, atoi(argv[i]), 1);
    else {
        run(dev, ck, preset, 1024, 1);
        run(dev, ck, preset, 512, 2); /* SAMed trains with batches */
    }
    ve_checkpoint_close(ck);
    tu_device_done(dev);
    return tu_exit();
}
