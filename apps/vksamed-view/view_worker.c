/* vksamed-view: the model thread (see view_worker.h). Every engine call happens on this
 * thread: the device is opened here and the predictor lives here. */
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "sam/sam.h"
#include "segment.h"
#include "status.h"
#include "view_worker.h"

#define RESULTS 8

struct view_worker {
    view_model_opts o;
    uint32_t wake_event;
    SDL_Thread *thread;
    SDL_mutex *mu;
    SDL_cond *cv;
    int stop, running, broken; /* broken: the model failed to load; requests are dropped */
    /* The pending requests (latest wins). */
    int img_pending, img_gen;
    seg_image img;
    int pred_pending, pred_gen, pred_id;
    view_prompts pred;
    /* Results, oldest first. */
    view_done done[RESULTS];
    int n_done;
};

static double now_s(void) {
    return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency();
}

/* Called with the lock held. A full queue drops its oldest result. */
static void post(view_worker *w, view_done *d) {
    if (w->n_done == RESULTS) {
        sam_prediction_free(&w->done[0].p);
        memmove(w->done, w->done + 1, sizeof w->done[0] * (RESULTS - 1));
        w->n_done--;
    }
    w->done[w->n_done++] = *d;
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = w->wake_event;
    SDL_PushEvent(&e);
}

/* post() from the worker, without the lock held. */
static void report(view_worker *w, view_done *d) {
    SDL_LockMutex(w->mu);
    post(w, d);
    SDL_UnlockMutex(w->mu);
}

static void post_error(view_worker *w, int gen, int id, const char *what) {
    view_done d;
    memset(&d, 0, sizeof d);
    d.kind = VIEW_DONE_ERROR;
    d.gen = gen;
    d.id = id;
    snprintf(d.message, sizeof d.message, "%s: %s", what, ve_error());
    report(w, &d);
}

static sam_predictor *load_model(view_worker *w, ve_device **dev, view_done *info) {
    const view_model_opts *o = &w->o;
    ve_checkpoint *ck = ve_checkpoint_open(o->checkpoint), *lora = NULL;
    int rc = ck ? VE_OK : VE_FAIL;
    if (rc == VE_OK && o->lora) rc = (lora = ve_checkpoint_open(o->lora)) ? VE_OK : VE_FAIL;
    sam_preset p;
    if (rc == VE_OK) rc = sam_resolve_preset(ck, lora, &p);
    if (rc == VE_OK)
        rc = seg_check_mask_tokens(p.mask_outputs, o->classes, o->lora ? o->lora : o->checkpoint);
    const int S = o->size ? o->size : o->classes ? 512 : p.image_size;
    if (rc == VE_OK && S % p.patch_size)
        rc = ve_fail("--size %d is not a multiple of the patch size %d", S, p.patch_size);
    if (rc == VE_OK) rc = (*dev = ve_device_open(o->device)) ? VE_OK : VE_FAIL;
    sam_predictor *pr = NULL;
    if (rc == VE_OK)
        pr = sam_predictor_create(*dev, &p, S, o->classes ? SAM_INPUT_SAMED : SAM_INPUT_SAM, ck,
                                  lora);
    if (ck) ve_checkpoint_close(ck);
    if (lora) ve_checkpoint_close(lora);
    if (pr) {
        info->mask_tokens = sam_predictor_outputs(pr);
        snprintf(info->model, sizeof info->model, "%s, input %d, %d mask tokens", p.name, S,
                 info->mask_tokens);
    }
    return pr;
}

static void run_predict(view_worker *w, sam_predictor *pr, const view_prompts *vp, int gen,
                        int id) {
    float pts[2 * VIEW_MAX_POINTS], labels[VIEW_MAX_POINTS];
    for (int i = 0; i < vp->n_points; i++) {
        pts[2 * i] = vp->xy[i][0];
        pts[2 * i + 1] = vp->xy[i][1];
        labels[i] = (float)vp->fg[i];
    }
    sam_prompt_set ps = {vp->n_points, vp->n_points ? pts : NULL, vp->n_points ? labels : NULL,
                         vp->has_box ? vp->box : NULL, NULL};
    view_done d;
    memset(&d, 0, sizeof d);
    const double t0 = now_s();
    if (sam_predictor_predict(pr, &ps, &d.p) != VE_OK) {
        post_error(w, gen, id, "prompt");
        return;
    }
    d.kind = VIEW_DONE_PREDICT;
    d.gen = gen;
    d.id = id;
    d.seconds = now_s() - t0;
    report(w, &d);
}

static int thread_main(void *arg) {
    view_worker *w = arg;
    ve_device *dev = NULL;
    view_done info;
    memset(&info, 0, sizeof info);
    const double t0 = now_s();
    sam_predictor *pr = load_model(w, &dev, &info);
    if (!pr) {
        post_error(w, -1, -1, "loading the model");
    } else {
        info.kind = VIEW_DONE_MODEL;
        info.seconds = now_s() - t0;
        report(w, &info);
    }
    int embedded = -1; /* the generation whose embedding the predictor holds */
    SDL_LockMutex(w->mu);
    w->broken = !pr;
    w->running = 0; /* loading counted as running */
    while (!w->stop) {
        if (!pr && (w->img_pending || w->pred_pending)) { /* no model: requests are dropped */
            seg_image_free(&w->img);
            w->img_pending = w->pred_pending = 0;
            continue;
        }
        if (w->img_pending) {
            seg_image img = w->img;
            const int gen = w->img_gen;
            w->img_pending = 0;
            memset(&w->img, 0, sizeof w->img);
            w->running = 1;
            SDL_UnlockMutex(w->mu);
            const double t = now_s();
            const int rc = sam_predictor_set_image(pr, img.rgb, img.h, img.w);
            seg_image_free(&img);
            if (rc != VE_OK) {
                embedded = -1;
                post_error(w, gen, -1, "computing the image embedding");
            } else {
                embedded = gen;
                view_done d;
                memset(&d, 0, sizeof d);
                d.kind = VIEW_DONE_EMBED;
                d.gen = gen;
                d.seconds = now_s() - t;
                report(w, &d);
            }
            SDL_LockMutex(w->mu);
            w->running = 0;
            continue;
        }
        if (w->pred_pending) {
            w->pred_pending = 0;
            if (w->pred_gen != embedded) continue; /* an older image's prompt, or a failed one */
            const view_prompts p = w->pred;
            const int gen = w->pred_gen, id = w->pred_id;
            w->running = 1;
            SDL_UnlockMutex(w->mu);
            run_predict(w, pr, &p, gen, id);
            SDL_LockMutex(w->mu);
            w->running = 0;
            continue;
        }
        SDL_CondWait(w->cv, w->mu);
    }
    SDL_UnlockMutex(w->mu);
    sam_predictor_destroy(pr);
    if (dev) ve_device_close(dev);
    return 0;
}

view_worker *view_worker_start(const view_model_opts *o, uint32_t wake_event) {
    view_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ve_fail("out of host memory");
        return NULL;
    }
    w->o = *o;
    w->wake_event = wake_event;
    w->running = 1;
    w->mu = SDL_CreateMutex();
    w->cv = SDL_CreateCond();
    if (w->mu && w->cv) w->thread = SDL_CreateThread(thread_main, "vksamed-model", w);
    if (!w->thread) {
        ve_fail("cannot start the model thread: %s", SDL_GetError());
        if (w->mu) SDL_DestroyMutex(w->mu);
        if (w->cv) SDL_DestroyCond(w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void view_worker_stop(view_worker *w) {
    if (!w) return;
    SDL_LockMutex(w->mu);
    w->stop = 1;
    SDL_CondSignal(w->cv);
    SDL_UnlockMutex(w->mu);
    SDL_WaitThread(w->thread, NULL);
    seg_image_free(&w->img);
    for (int i = 0; i < w->n_done; i++)
        sam_prediction_free(&w->done[i].p);
    SDL_DestroyMutex(w->mu);
    SDL_DestroyCond(w->cv);
    free(w);
}

int view_worker_set_image(view_worker *w, const seg_image *img, int gen) {
    const size_t n = 3 * (size_t)img->w * (size_t)img->h;
    float *copy = malloc(sizeof(float) * n);
    if (!copy) return ve_fail("out of host memory");
    memcpy(copy, img->rgb, sizeof(float) * n);
    SDL_LockMutex(w->mu);
    seg_image_free(&w->img);
    w->img = *img;
    w->img.rgb = copy;
    w->img_gen = gen;
    w->img_pending = !w->broken;
    if (w->broken) seg_image_free(&w->img);
    w->pred_pending = 0; /* prompts of the previous image are moot */
    SDL_CondSignal(w->cv);
    SDL_UnlockMutex(w->mu);
    return VE_OK;
}

void view_worker_predict(view_worker *w, const view_prompts *p, int gen, int id) {
    SDL_LockMutex(w->mu);
    w->pred = *p;
    w->pred_gen = gen;
    w->pred_id = id;
    w->pred_pending = !w->broken;
    SDL_CondSignal(w->cv);
    SDL_UnlockMutex(w->mu);
}

int view_worker_take(view_worker *w, view_done *out) {
    SDL_LockMutex(w->mu);
    const int any = w->n_done > 0;
    if (any) {
        *out = w->done[0];
        memmove(w->done, w->done + 1, sizeof w->done[0] * (size_t)(w->n_done - 1));
        w->n_done--;
    }
    SDL_UnlockMutex(w->mu);
    return any;
}

int view_worker_busy(view_worker *w) {
    SDL_LockMutex(w->mu);
    /* Before the model is loaded (or has failed) the worker counts as busy too. */
    const int busy = w->img_pending || w->pred_pending || w->running || w->n_done > 0;
    SDL_UnlockMutex(w->mu);
    return busy;
}
