/* vksamed-view: interactive SAM on medical slices (issue #6). Opens a PNG / JPEG slice, a
 * folder of slices or a NIfTI volume in an SDL2 window; the model (the predictor of
 * `vksamed segment`) runs on a worker thread: one image embedding per slice, then each prompt
 * reuses it. Each prompt's latency, from the input event to the presented frame, goes to stderr
 * and the status bar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_app.h"
#include "view_script.h"

/* Waits for input at most this long (ms): short while the progress bar moves. */
#define POLL_BUSY_MS 30
#define POLL_IDLE_MS 250

static int open_window(view_app *a) {
    a->win = SDL_CreateWindow("vksamed-view", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                              a->args.win_w, a->args.win_h, SDL_WINDOW_RESIZABLE);
    if (!a->win) return ve_fail("cannot open a window: %s", SDL_GetError());
    a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_PRESENTVSYNC);
    if (!a->ren) a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_SOFTWARE);
    if (!a->ren) return ve_fail("cannot create an SDL renderer: %s", SDL_GetError());
    return VE_OK;
}

/* Presents the frame; the first frame after a prediction logs that prompt's latency. */
static void present(view_app *a) {
    if (view_render(a) != VE_OK) {
        fprintf(stderr, "vksamed-view: %s\n", ve_error());
        return;
    }
    SDL_RenderPresent(a->ren);
    if (!a->log_pending) return;
    a->log_pending = 0;
    const double total = view_now() - a->t_event;
    a->last_total_ms = total * 1000;
    if (a->args.model.classes) /* no prompt: the slice's labels, embedding included */
        fprintf(stderr,
                "vksamed-view: labels of %s: %.1f ms from choosing the slice to the frame "
                "presented (embedding %.1f ms, decoder %.1f ms)\n",
                a->slice_name, total * 1000, a->embed_seconds * 1000, a->model_seconds * 1000);
    else
        fprintf(stderr,
                "vksamed-view: prompt %d: %.1f ms from the event to the frame presented (model "
                "%.1f ms, app %.1f ms)\n",
                a->prompt_id, total * 1000, a->model_seconds * 1000,
                (total - a->model_seconds) * 1000);
    a->dirty = 1; /* the status bar shows the new latency */
}

static void loop(view_app *a) {
    while (!a->quit) {
        if (a->script) view_script_step(a);
        if (a->quit) break;
        const int busy = view_worker_busy(a->worker) || !a->embedded;
        SDL_Event e;
        if (SDL_WaitEventTimeout(&e, busy || a->script ? POLL_BUSY_MS : POLL_IDLE_MS)) {
            view_handle_event(a, &e);
            while (!a->quit && SDL_PollEvent(&e))
                view_handle_event(a, &e);
        }
        if (a->dirty || a->log_pending || busy) present(a);
    }
}

int main(int argc, char **argv) {
    view_app *a = calloc(1, sizeof *a);
    if (!a) return 1;
    int rc = view_args_parse(argc, argv, &a->args);
    if (rc >= 0) {
        free(a);
        return rc;
    }
    a->opacity = a->args.opacity;
    a->win_width = 255.0f;
    a->win_level = 127.5f;
    a->slice = -1;
    for (int k = 0; k <= VIEW_MAX_CLASSES; k++)
        a->class_on[k] = 1;
    a->class_on[0] = 0;
    rc = view_source_open(&a->src, a->args.image, a->args.axis);
    if (rc == VE_OK && a->args.slice >= a->src.n)
        rc = ve_fail("--slice %ld: %s has %d slices", a->args.slice, a->args.image, a->src.n);
    if (rc == VE_OK && a->args.script)
        rc = (a->script = view_script_open(a->args.script)) ? VE_OK : VE_FAIL;
    if (rc == VE_OK && SDL_Init(SDL_INIT_VIDEO) != 0)
        rc = ve_fail("cannot start SDL video (is there a display?): %s", SDL_GetError());
    const int sdl = rc == VE_OK;
    if (rc == VE_OK) {
        a->wake_event = SDL_RegisterEvents(1);
        if (a->wake_event == (uint32_t)-1) rc = ve_fail("no SDL user event left");
    }
    if (rc == VE_OK) rc = open_window(a);
    if (rc == VE_OK)
        rc = (a->worker = view_worker_start(&a->args.model, a->wake_event)) ? VE_OK : VE_FAIL;
    if (rc == VE_OK) {
        const int first = a->args.slice >= 0 ? (int)a->args.slice : view_source_default(&a->src);
        rc = view_show_slice(a, first);
    }
    if (rc == VE_OK) {
        loop(a);
        rc = a->exit_code ? VE_FAIL : VE_OK;
    } else {
        fprintf(stderr, "vksamed-view: %s\n", ve_error());
    }
    view_worker_stop(a->worker);
    view_script_close(a->script);
    sam_prediction_free(&a->pr);
    seg_image_free(&a->img);
    free(a->labels);
    view_source_close(&a->src);
    if (a->tex) SDL_DestroyTexture(a->tex);
    free(a->canvas.px);
    if (a->ren) SDL_DestroyRenderer(a->ren);
    if (a->win) SDL_DestroyWindow(a->win);
    if (sdl) SDL_Quit();
    free(a);
    return rc == VE_OK ? 0 : 1;
}
