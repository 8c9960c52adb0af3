/* vksamed-view: what each input event and each worker result does to the state. Script mode
 * pushes the same SDL events, so it runs these very handlers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_app.h"

#define DRAG_THRESHOLD 4 /* window pixels the pointer must move for a press to become a drag */

double view_now(void) {
    return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency();
}

void view_notice(view_app *a, int is_error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
    a->message_is_error = is_error;
    fprintf(stderr, "vksamed-view: %s\n", a->message);
    a->dirty = 1;
}

/* labels from the prediction: SAM the shown candidate's logits > 0, SAMed the argmax. */
static void update_labels(view_app *a) {
    const size_t hw = (size_t)a->img.w * (size_t)a->img.h;
    const sam_prediction *p = &a->pr;
    if (!p->m) {
        memset(a->labels, 0, hw);
    } else if (!a->args.model.classes) {
        const float *m = p->masks + (size_t)a->cand * hw;
        for (size_t i = 0; i < hw; i++)
            a->labels[i] = m[i] > 0.0f;
    } else {
        for (size_t i = 0; i < hw; i++) {
            int best = 0;
            for (int c = 1; c < p->m; c++)
                if (p->masks[(size_t)c * hw + i] > p->masks[(size_t)best * hw + i]) best = c;
            a->labels[i] = (uint8_t)best;
        }
    }
    a->dirty = 1;
}

static void drop_prediction(view_app *a) {
    sam_prediction_free(&a->pr);
    memset(&a->pr, 0, sizeof a->pr);
    a->cand = 0;
    update_labels(a);
}

/* Sends the current prompts (or, with none, shows no mask at once). t_event: when the user
 * acted, for the latency line. */
static void submit(view_app *a, double t_event) {
    a->t_event = t_event;
    a->prompt_id++;
    if (view_prompts_empty(&a->hist.cur) && !a->args.model.classes) {
        drop_prediction(a);
        a->model_seconds = 0;
        a->log_pending = 1;
        return;
    }
    view_worker_predict(a->worker, &a->hist.cur, a->gen, a->prompt_id);
}

int view_show_slice(view_app *a, int index) {
    if (index < 0) index = 0;
    if (index >= a->src.n) index = a->src.n - 1;
    if (index == a->slice && a->img.rgb) return VE_OK;
    seg_image img;
    if (view_source_slice(&a->src, index, &img) != VE_OK) {
        view_notice(a, 1, "%s", ve_error());
        return VE_FAIL;
    }
    uint8_t *labels = calloc((size_t)img.w * (size_t)img.h, 1);
    if (!labels) {
        seg_image_free(&img);
        view_notice(a, 1, "out of host memory");
        return VE_FAIL;
    }
    seg_image_free(&a->img);
    free(a->labels);
    a->img = img;
    a->labels = labels;
    a->slice = index;
    view_source_name(&a->src, index, a->slice_name, sizeof a->slice_name);
    view_history_reset(&a->hist);
    drop_prediction(a);
    a->log_pending = 0;
    a->gen++;
    a->embedded = 0;
    a->embed_start = view_now();
    if (view_worker_set_image(a->worker, &a->img, a->gen) != VE_OK) {
        view_notice(a, 1, "%s", ve_error());
        return VE_FAIL;
    }
    if (a->args.model.classes) submit(a, view_now()); /* SAMed: every class, no prompt */
    a->dirty = 1;
    return VE_OK;
}

/* The best of SAM's multimask outputs (1..3) by predicted IoU when one point alone is
 * ambiguous (as the official predictor advises); mask 0 otherwise. */
static int default_candidate(const view_app *a) {
    const view_prompts *p = &a->hist.cur;
    if (a->pr.m < 4 || p->n_points != 1 || p->has_box) return 0;
    int k = 1;
    for (int i = 2; i <= 3; i++)
        if (a->pr.iou[i] > a->pr.iou[k]) k = i;
    return k;
}

static void take_results(view_app *a) {
    view_done d;
    while (view_worker_take(a->worker, &d)) {
        switch (d.kind) {
        case VIEW_DONE_MODEL:
            snprintf(a->model, sizeof a->model, "%s", d.model);
            a->mask_tokens = d.mask_tokens;
            view_notice(a, 0, "model %s loaded in %.2f s", d.model, d.seconds);
            break;
        case VIEW_DONE_EMBED:
            if (d.gen != a->gen) break;
            a->embedded = 1;
            a->embed_seconds = d.seconds;
            view_notice(a, 0, "image embedding of %s: %.2f s", a->slice_name, d.seconds);
            break;
        case VIEW_DONE_PREDICT:
            if (d.gen != a->gen || d.id != a->prompt_id) { /* overtaken by a newer request */
                sam_prediction_free(&d.p);
                break;
            }
            sam_prediction_free(&a->pr);
            a->pr = d.p;
            a->cand = default_candidate(a);
            a->model_seconds = d.seconds;
            a->log_pending = 1;
            update_labels(a);
            break;
        case VIEW_DONE_ERROR:
            if (d.gen >= 0 && d.gen != a->gen) break;
            view_notice(a, 1, "%s", d.message);
            if (a->script || d.gen < 0) a->exit_code = 1;
            if (a->script) a->quit = 1;
            break;
        case VIEW_DONE_NONE:
            break;
        }
    }
}

/* Window pixel to image pixel; 0 when outside the image. */
static int to_image(const view_app *a, int x, int y, float *ix, float *iy) {
    const view_layout l = view_get_layout(a);
    const double fx = floor((x + 0.5 - l.ox) / l.scale), fy = floor((y + 0.5 - l.oy) / l.scale);
    *ix = (float)fx;
    *iy = (float)fy;
    return fx >= 0 && fy >= 0 && fx < a->img.w && fy < a->img.h;
}

static double event_time(const SDL_Event *e) {
    /* The event's queue time (ms ticks) on the performance clock. */
    const double waited = (double)(SDL_GetTicks() - e->common.timestamp) / 1000.0;
    return view_now() - (waited > 0 && waited < 10 ? waited : 0);
}

static void prompt_point(view_app *a, const SDL_Event *e, int fg) {
    float x, y;
    if (a->args.model.classes) {
        view_notice(a, 0, "semantic mode: every class is shown, prompts are not used");
        return;
    }
    if (!to_image(a, e->button.x, e->button.y, &x, &y)) return;
    if (!view_history_add_point(&a->hist, x, y, fg)) {
        view_notice(a, 1, "at most %d points", VIEW_MAX_POINTS);
        return;
    }
    submit(a, event_time(e));
}

static void prompt_box(view_app *a, const SDL_Event *e) {
    float x0, y0, x1, y1;
    if (a->args.model.classes) return;
    to_image(a, a->press_x, a->press_y, &x0, &y0);
    to_image(a, e->button.x, e->button.y, &x1, &y1);
    const float w = (float)a->img.w, h = (float)a->img.h;
    x0 = fminf(fmaxf(x0, 0), w), x1 = fminf(fmaxf(x1, 0), w);
    y0 = fminf(fmaxf(y0, 0), h), y1 = fminf(fmaxf(y1, 0), h);
    if (x0 == x1 || y0 == y1) return; /* outside the image, or flat */
    view_history_set_box(&a->hist, x0, y0, x1, y1);
    submit(a, event_time(e));
}

static void on_mouse(view_app *a, const SDL_Event *e) {
    switch (e->type) {
    case SDL_MOUSEBUTTONDOWN:
        if (e->button.button == SDL_BUTTON_LEFT) {
            a->pressed = 1;
            a->moved = 0;
            a->press_x = a->cur_x = e->button.x;
            a->press_y = a->cur_y = e->button.y;
        }
        break;
    case SDL_MOUSEMOTION:
        if (!a->pressed) break;
        a->cur_x = e->motion.x;
        a->cur_y = e->motion.y;
        if (abs(a->cur_x - a->press_x) > DRAG_THRESHOLD ||
            abs(a->cur_y - a->press_y) > DRAG_THRESHOLD)
            a->moved = 1;
        a->dirty = 1;
        break;
    case SDL_MOUSEBUTTONUP:
        if (e->button.button == SDL_BUTTON_RIGHT) {
            prompt_point(a, e, 0);
        } else if (e->button.button == SDL_BUTTON_LEFT && a->pressed) {
            a->pressed = 0;
            if (abs(e->button.x - a->press_x) > DRAG_THRESHOLD ||
                abs(e->button.y - a->press_y) > DRAG_THRESHOLD)
                a->moved = 1;
            if (a->moved)
                prompt_box(a, e);
            else
                prompt_point(a, e, 1);
            a->dirty = 1;
        }
        break;
    case SDL_MOUSEWHEEL:
        if (e->wheel.y) view_show_slice(a, a->slice + e->wheel.y);
        break;
    }
}

static void on_key(view_app *a, const SDL_Event *e) {
    const SDL_Keycode k = e->key.keysym.sym;
    const int classes = a->args.model.classes;
    switch (k) {
    case SDLK_q:
        a->quit = 1;
        break;
    case SDLK_ESCAPE:
        if (a->show_help)
            a->show_help = 0;
        else
            a->quit = 1;
        break;
    case SDLK_h:
    case SDLK_F1:
        a->show_help = !a->show_help;
        break;
    case SDLK_PAGEUP:
        view_show_slice(a, a->slice - 1);
        break;
    case SDLK_PAGEDOWN:
        view_show_slice(a, a->slice + 1);
        break;
    case SDLK_HOME:
        view_show_slice(a, 0);
        break;
    case SDLK_END:
        view_show_slice(a, a->src.n - 1);
        break;
    case SDLK_LEFT:
    case SDLK_RIGHT:
        a->win_width *= k == SDLK_LEFT ? 1 / 1.15f : 1.15f;
        a->win_width = fminf(fmaxf(a->win_width, 1.0f), 1024.0f);
        break;
    case SDLK_UP:
    case SDLK_DOWN:
        a->win_level += k == SDLK_UP ? 6.0f : -6.0f;
        a->win_level = fminf(fmaxf(a->win_level, -255.0f), 510.0f);
        break;
    case SDLK_r:
        a->win_width = 255.0f;
        a->win_level = 127.5f;
        break;
    case SDLK_z:
    case SDLK_BACKSPACE:
        if (classes) break;
        if (view_history_undo(&a->hist))
            submit(a, event_time(e));
        else
            view_notice(a, 0, "nothing to undo");
        break;
    case SDLK_c:
        if (!classes && view_history_clear(&a->hist)) submit(a, event_time(e));
        break;
    case SDLK_m:
        if (!classes && a->pr.m > 1) {
            a->cand = (a->cand + 1) % a->pr.m;
            update_labels(a);
        }
        break;
    case SDLK_PLUS:
    case SDLK_EQUALS:
    case SDLK_KP_PLUS:
        a->opacity = fminf(a->opacity + 0.1f, 1.0f);
        break;
    case SDLK_MINUS:
    case SDLK_KP_MINUS:
        a->opacity = fmaxf(a->opacity - 0.1f, 0.0f);
        break;
    case SDLK_s:
        view_save_default(a);
        break;
    default:
        if (k >= SDLK_0 && k <= SDLK_9 && classes) {
            const int c = (int)(k - SDLK_0);
            if (c == 0)
                for (int i = 0; i <= VIEW_MAX_CLASSES; i++)
                    a->class_on[i] = 1;
            else if (c <= classes)
                a->class_on[c] = !a->class_on[c];
        }
        break;
    }
    a->dirty = 1;
}

void view_handle_event(view_app *a, const SDL_Event *e) {
    if (e->type == a->wake_event) {
        take_results(a);
        return;
    }
    switch (e->type) {
    case SDL_QUIT:
        a->quit = 1;
        break;
    case SDL_WINDOWEVENT:
        a->dirty = 1;
        break;
    case SDL_KEYDOWN:
        on_key(a, e);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
    case SDL_MOUSEMOTION:
    case SDL_MOUSEWHEEL:
        on_mouse(a, e);
        break;
    }
}

int view_idle(view_app *a) {
    take_results(a);
    return !a->dirty && !a->log_pending && !view_worker_busy(a->worker);
}
