/* The predictor (models/sam/predictor.h), the one prompting path: the embedding kept by
 * set_image is reused by every prompt shape in any order (each shape's decoder graph built once
 * and cached, evicted and rebuilt past the cache's size) and gives bitwise the results of a
 * fresh predictor; a second image replaces the embedding in every cached graph; prediction
 * before set_image and prompts outside the image fail naming them; SAMed mode (9 tokens, no
 * prompts) at the image's size. Weights: the tiny SAM / SAMed checkpoints of the parity fixture
 * (tests/reference/dump_sam.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "sam/predictor.h"
#include "sam/sam.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_PARITY_DIR
#define VE_PARITY_DIR "."
#endif

#define H 200
#define W 300
#define SHAPES 5

/* Shape i of the prompts used below (mask: an earlier low-res prediction, or NULL). */
static sam_prompt_set prompt(int i, const float *mask) {
    static const float pts[] = {150, 100, 40, 170, 280, 20, 10, 10};
    static const float lab[] = {1, 0, 1, 0};
    static const float box[] = {60, 40, 250, 180};
    switch (i) {
    case 0:
        return (sam_prompt_set){1, pts, lab, NULL, NULL};
    case 1:
        return (sam_prompt_set){0, NULL, NULL, box, NULL};
    case 2:
        return (sam_prompt_set){2, pts, lab, box, NULL};
    case 3:
        return (sam_prompt_set){1, pts + 2, lab + 1, NULL, mask};
    default:
        return (sam_prompt_set){4, pts, lab, NULL, NULL};
    }
}

static float *image(uint64_t seed) {
    uint64_t s = tu_seed(seed);
    float *rgb = tu_rand(&s, 3 * H * W, 0, 255);
    /* A bright rectangle, so the masks have something to find. */
    for (int c = 0; c < 3; c++)
        for (int y = 50; y < 150; y++)
            for (int x = 100; x < 220; x++)
                rgb[(c * H + y) * W + x] = 230;
    return rgb;
}

static int same(const sam_prediction *a, const sam_prediction *b) {
    const size_t hw = (size_t)a->h * a->w, lr = 16 * (size_t)a->g * a->g;
    return a->m == b->m && a->h == b->h && a->w == b->w && a->g == b->g &&
           !memcmp(a->masks, b->masks, sizeof(float) * a->m * hw) &&
           !memcmp(a->lowres, b->lowres, sizeof(float) * a->m * lr) &&
           !memcmp(a->iou, b->iou, sizeof(float) * a->m);
}

static int predict(sam_predictor *pr, int shape, const float *mask, sam_prediction *out) {
    sam_prompt_set ps = prompt(shape, mask);
    if (sam_predictor_predict(pr, &ps, out) == VE_OK) return 1;
    fprintf(stderr, "FAIL predict shape %d: %s\n", shape, ve_error());
    return 0;
}

static void expect_fail(int rc, const char *needle, const char *what) {
    int ok = rc != VE_OK && strstr(ve_error(), needle) != NULL;
    if (!ok) fprintf(stderr, "FAIL %s: rc %d, message \"%s\"\n", what, rc, ve_error());
    tu_check(ok, what);
}

static void sam_mode(ve_device *dev, ve_checkpoint *ck) {
    sam_preset p;
    tu_check(sam_resolve_preset(ck, NULL, &p) == VE_OK, "resolve SAM preset");
    sam_predictor *pr = sam_predictor_create(dev, &p, 512, SAM_INPUT_SAM, ck, NULL);
    tu_check(pr != NULL, "create");
    if (!pr) {
        fprintf(stderr, "%s\n", ve_error());
        return;
    }
    float *img1 = image(1), *img2 = image(2);
    sam_prediction first[SHAPES] = {0}, r = {0};
    sam_prompt_set ps = prompt(0, NULL);
    expect_fail(sam_predictor_predict(pr, &ps, &r), "no image set", "predict before set_image");
    tu_check(sam_predictor_set_image(pr, img1, H, W) == VE_OK, "set_image");

    /* Each shape once, in order (shape 3's mask input: shape 0's low-res mask 0). */
    int ok = 1;
    for (int i = 0; i < SHAPES && ok; i++)
        ok = predict(pr, i, first[0].lowres, &first[i]);
    tu_check(ok, "every prompt shape");
    if (!ok) goto done;
    tu_check(first[0].m == 4 && first[0].h == H && first[0].w == W && first[0].g == 32,
             "prediction sizes");
    /* Not vacuous: masks differ between prompts, and have both signs. */
    size_t hw = (size_t)H * W, pos = 0;
    for (size_t i = 0; i < hw; i++)
        pos += first[0].masks[i] > 0;
    tu_check(pos > 0 && pos < hw, "mask 0 of a point is neither empty nor full");
    tu_check(memcmp(first[0].masks, first[1].masks, sizeof(float) * hw) != 0,
             "a point and a box give different masks");

    /* Again in another order, with repeats: the same bits. */
    static const int order[] = {3, 1, 4, 0, 2, 0, 3};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        const int i = order[k];
        char what[64];
        snprintf(what, sizeof what, "shape %d again (step %zu) reuses the embedding", i, k);
        tu_check(predict(pr, i, first[0].lowres, &r) && same(&r, &first[i]), what);
        sam_prediction_free(&r);
    }

    /* More shapes than the cache holds (points 5..13), then shape 0 again (rebuilt). */
    static const float many[26] = {5,  5,  6,  6,  7,  7,  8,  8,  9,  9,  10, 10, 11,
                                   11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17};
    static const float ones[13] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int n = 5; n <= 13 && ok; n++) {
        sam_prompt_set mp = {n, many, ones, NULL, NULL};
        ok = sam_predictor_predict(pr, &mp, &r) == VE_OK;
        sam_prediction_free(&r);
    }
    tu_check(ok, "nine more shapes");
    tu_check(predict(pr, 0, NULL, &r) && same(&r, &first[0]), "shape 0 after eviction");
    sam_prediction_free(&r);

    /* A second image replaces the embedding in the cached graphs; the first comes back. */
    tu_check(sam_predictor_set_image(pr, img2, H, W) == VE_OK, "set_image 2");
    tu_check(predict(pr, 1, NULL, &r) && !same(&r, &first[1]), "image 2 gives other masks");
    sam_prediction_free(&r);
    tu_check(sam_predictor_set_image(pr, img1, H, W) == VE_OK, "set_image 1 again");
    tu_check(predict(pr, 1, NULL, &r) && same(&r, &first[1]), "image 1 again: same masks");
    sam_prediction_free(&r);

    /* Low-res only: the same low-res logits and IoUs, no full masks. */
    ps = prompt(2, NULL);
    tu_check(sam_predictor_predict_lowres(pr, &ps, &r) == VE_OK && r.masks == NULL &&
                 !memcmp(r.lowres, first[2].lowres, sizeof(float) * 4 * 128 * 128) &&
                 !memcmp(r.iou, first[2].iou, sizeof(float) * 4),
             "low-res prediction");
    sam_prediction_free(&r);

    /* The embedding, and a wrong size. */
    float *emb = malloc(sizeof(float) * 256 * 32 * 32);
    tu_check(sam_predictor_read_embedding(pr, emb, 256 * 32 * 32) == VE_OK, "read embedding");
    expect_fail(sam_predictor_read_embedding(pr, emb, 5), "embedding has", "embedding size");
    free(emb);

    /* Prompts outside the image. */
    const float out_pts[] = {10, 10, W, 5}, out_lab[] = {1, 1};
    sam_prompt_set bad = {2, out_pts, out_lab, NULL, NULL};
    expect_fail(sam_predictor_predict(pr, &bad, &r), "point 2 (300,5) lies outside the 300x200",
                "point outside");
    const float out_box[] = {0, 0, 100, H + 1};
    sam_prompt_set badb = {0, NULL, NULL, out_box, NULL};
    expect_fail(sam_predictor_predict(pr, &badb, &r), "box (0,0,100,201) lies outside",
                "box outside");
    tu_check(r.masks == NULL && r.lowres == NULL, "a failed prediction hands back nothing");

    /* A fresh predictor, shapes in reverse order: the same results. */
    sam_predictor *fresh = sam_predictor_create(dev, &p, 512, SAM_INPUT_SAM, ck, NULL);
    tu_check(fresh && sam_predictor_set_image(fresh, img1, H, W) == VE_OK, "fresh predictor");
    for (int i = SHAPES - 1; i >= 0 && fresh; i--) {
        char what[64];
        snprintf(what, sizeof what, "shape %d on a fresh predictor", i);
        tu_check(predict(fresh, i, first[0].lowres, &r) && same(&r, &first[i]), what);
        sam_prediction_free(&r);
    }
    sam_predictor_destroy(fresh);
done:
    for (int i = 0; i < SHAPES; i++)
        sam_prediction_free(&first[i]);
    free(img1);
    free(img2);
    sam_predictor_destroy(pr);
}

/* SAMed: 9 tokens, no prompts, masks at the image's size. */
static void samed_mode(ve_device *dev, ve_checkpoint *ck) {
    sam_preset p;
    tu_check(sam_resolve_preset(ck, NULL, &p) == VE_OK && p.mask_outputs == 9, "SAMed preset");
    sam_predictor *pr = sam_predictor_create(dev, &p, 256, SAM_INPUT_SAMED, ck, NULL);
    tu_check(pr != NULL, "create SAMed");
    float *img = image(3);
    sam_prompt_set none = {0, NULL, NULL, NULL, NULL};
    sam_prediction r = {0};
    int ok = pr && sam_predictor_set_image(pr, img, H, W) == VE_OK &&
             sam_predictor_predict(pr, &none, &r) == VE_OK;
    if (!ok) fprintf(stderr, "FAIL SAMed: %s\n", ve_error());
    tu_check(ok && r.m == 9 && r.h == H && r.w == W && r.g == 16, "SAMed prediction");
    int finite = ok;
    for (size_t i = 0; ok && i < (size_t)9 * H * W; i++)
        finite &= isfinite(r.masks[i]) != 0;
    tu_check(finite, "SAMed masks finite");
    sam_prediction_free(&r);
    free(img);
    sam_predictor_destroy(pr);
}

int main(void) {
    ve_checkpoint *sam = ve_checkpoint_open(VE_PARITY_DIR "/sam_parity_1024.pth");
    ve_checkpoint *samed = ve_checkpoint_open(VE_PARITY_DIR "/samed_parity_512.pth");
    if (!sam || !samed) {
        printf("skipped: %s (the fixture needs python3-torch)\n", ve_error());
        if (sam) ve_checkpoint_close(sam);
        return 77;
    }
    ve_device *dev = tu_device();
    sam_mode(dev, sam);
    samed_mode(dev, samed);
    ve_checkpoint_close(sam);
    ve_checkpoint_close(samed);
    tu_check(tu_device_done(dev) == 0, "no validation messages");
    return tu_exit();
}
