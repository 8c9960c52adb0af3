/* vksamed-view: draws a frame on the CPU (slice with window / level, mask overlay, prompts,
 * progress, legend, status bar, help) into a canvas, then hands it to SDL as one texture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_app.h"
#include "view_help.h"

#define BACKGROUND 0x202020u
#define BAR_BG 0x101010u
#define TEXT 0xE0E0E0u
#define TEXT_DIM 0x909090u
#define TEXT_ERROR 0xFF6060u
#define FG_POINT 0x00E000u
#define BG_POINT 0xFF3030u
#define BOX 0xFFD700u
#define PROGRESS 0x1E90FFu

const uint8_t VIEW_SAM_COLOUR[3] = {30, 144, 255}; /* as `vksamed segment --overlay` */

/* Font pixels are 2 x 2 screen pixels on a wide window, else 1 x 1. */
static int text_scale(const view_app *a) {
    return a->canvas.w >= 1100 ? 2 : 1;
}

static int bar_height(const view_app *a) {
    return 3 * VIEW_CELL_H * text_scale(a) + 8;
}

view_layout view_get_layout(const view_app *a) {
    view_layout l;
    const int aw = a->canvas.w, ah = a->canvas.h - bar_height(a);
    const int w = a->img.w > 0 ? a->img.w : 1, h = a->img.h > 0 ? a->img.h : 1;
    l.scale = fmin((double)aw / w, (double)ah / h);
    if (!(l.scale > 0)) l.scale = 1;
    l.ox = floor((aw - w * l.scale) / 2);
    l.oy = floor((ah - h * l.scale) / 2);
    l.x0 = (int)fmax(l.ox, 0);
    l.y0 = (int)fmax(l.oy, 0);
    l.x1 = (int)fmin(ceil(l.ox + w * l.scale), aw);
    l.y1 = (int)fmin(ceil(l.oy + h * l.scale), ah);
    return l;
}

static void fill(view_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->w ? c->w : x1, y1 = y1 > c->h ? c->h : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            c->px[(size_t)y * (size_t)c->w + (size_t)x] = rgb;
}

static void frame_rect(view_canvas *c, int x0, int y0, int x1, int y1, int t, uint32_t rgb) {
    fill(c, x0, y0, x1, y0 + t, rgb);
    fill(c, x0, y1 - t, x1, y1, rgb);
    fill(c, x0, y0, x0 + t, y1, rgb);
    fill(c, x1 - t, y0, x1, y1, rgb);
}

static void disc(view_canvas *c, int cx, int cy, int r, uint32_t rgb) {
    for (int y = -r; y <= r; y++)
        for (int x = -r; x <= r; x++)
            if (x * x + y * y <= r * r) fill(c, cx + x, cy + y, cx + x + 1, cy + y + 1, rgb);
}

static uint8_t clamp255(float v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
}

/* The slice through window / level, the visible labels blended in at the opacity. */
static void draw_slice(view_app *a, const view_layout *l) {
    view_canvas *c = &a->canvas;
    const int w = a->img.w, h = a->img.h;
    const size_t hw = (size_t)w * (size_t)h;
    const float lo = a->win_level - a->win_width / 2, gain = 255.0f / a->win_width;
    const float alpha = a->opacity;
    uint8_t colour[VIEW_MAX_CLASSES + 1][3];
    for (int k = 0; k <= VIEW_MAX_CLASSES; k++) {
        if (a->args.model.classes)
            seg_class_colour(k, colour[k]);
        else
            memcpy(colour[k], VIEW_SAM_COLOUR, 3);
    }
    for (int y = l->y0; y < l->y1; y++) {
        int iy = (int)floor((y + 0.5 - l->oy) / l->scale);
        iy = iy < 0 ? 0 : iy >= h ? h - 1 : iy;
        for (int x = l->x0; x < l->x1; x++) {
            int ix = (int)floor((x + 0.5 - l->ox) / l->scale);
            ix = ix < 0 ? 0 : ix >= w ? w - 1 : ix;
            const size_t i = (size_t)iy * (size_t)w + (size_t)ix;
            float v[3];
            for (int k = 0; k < 3; k++)
                v[k] = (a->img.rgb[(size_t)k * hw + i] - lo) * gain;
            const int lab = a->labels[i];
            if (lab && a->class_on[lab])
                for (int k = 0; k < 3; k++)
                    v[k] = (1 - alpha) * fminf(fmaxf(v[k], 0), 255) + alpha * colour[lab][k];
            c->px[(size_t)y * (size_t)c->w + (size_t)x] =
                (uint32_t)clamp255(v[0]) << 16 | (uint32_t)clamp255(v[1]) << 8 | clamp255(v[2]);
        }
    }
}

static void draw_prompts(view_app *a, const view_layout *l) {
    view_canvas *c = &a->canvas;
    const view_prompts *p = &a->hist.cur;
    if (p->has_box) {
        const int x0 = (int)(l->ox + p->box[0] * l->scale),
                  y0 = (int)(l->oy + p->box[1] * l->scale);
        const int x1 = (int)(l->ox + p->box[2] * l->scale),
                  y1 = (int)(l->oy + p->box[3] * l->scale);
        frame_rect(c, x0, y0, x1 + 1, y1 + 1, 2, BOX);
    }
    if (a->pressed && a->moved) {
        const int x0 = a->press_x < a->cur_x ? a->press_x : a->cur_x;
        const int x1 = a->press_x < a->cur_x ? a->cur_x : a->press_x;
        const int y0 = a->press_y < a->cur_y ? a->press_y : a->cur_y;
        const int y1 = a->press_y < a->cur_y ? a->cur_y : a->press_y;
        frame_rect(c, x0, y0, x1 + 1, y1 + 1, 1, BOX);
    }
    for (int i = 0; i < p->n_points; i++) {
        /* At the clicked pixel's centre. */
        const int cx = (int)floor(l->ox + (p->xy[i][0] + 0.5) * l->scale);
        const int cy = (int)floor(l->oy + (p->xy[i][1] + 0.5) * l->scale);
        disc(c, cx, cy, 6, 0x000000u);
        disc(c, cx, cy, 4, p->fg[i] ? FG_POINT : BG_POINT);
    }
}

/* An indeterminate bar over the image while the model loads or the embedding is computed. */
static void draw_progress(view_app *a, const view_layout *l) {
    if (a->embedded && a->model[0]) return;
    if (a->message_is_error && !a->model[0]) return; /* the model failed: the status says so */
    view_canvas *c = &a->canvas;
    const int s = text_scale(a), bw = (l->x1 - l->x0) * 3 / 4, bh = 6 * s;
    const int x = l->x0 + (l->x1 - l->x0 - bw) / 2, y = l->y0 + 10 * s;
    const double t = view_now() - a->embed_start;
    fill(c, x - 4, y - 4, x + bw + 4, y + bh + VIEW_CELL_H * s + 12, BAR_BG);
    frame_rect(c, x, y, x + bw, y + bh, 1, TEXT_DIM);
    const int block = bw / 5, pos = (int)(fmod(t, 1.5) / 1.5 * (bw - block));
    fill(c, x + pos, y + 1, x + pos + block, y + bh - 1, PROGRESS);
    char line[128];
    if (!a->model[0])
        snprintf(line, sizeof line, "loading the model... %.1f s", t);
    else
        snprintf(line, sizeof line, "computing the image embedding... %.1f s", t);
    view_text(c, x, y + bh + 4, s, TEXT, line);
}

/* Semantic mode: each class's colour, number, visibility and pixel count. */
static void draw_legend(view_app *a, const view_layout *l) {
    const int classes = a->args.model.classes;
    if (!classes) return;
    view_canvas *c = &a->canvas;
    const int s = text_scale(a) > 1 ? text_scale(a) - 1 : 1, lh = (VIEW_CELL_H + 3) * s;
    const int n = classes < 20 ? classes : 20;
    const int pw = 30 * VIEW_CELL_W * s, x = c->w - pw - 8, y = l->y0 + 8;
    size_t count[VIEW_MAX_CLASSES + 1] = {0};
    const size_t hw = (size_t)a->img.w * (size_t)a->img.h;
    for (size_t i = 0; i < hw; i++)
        count[a->labels[i]]++;
    fill(c, x, y, x + pw, y + (n + 1) * lh + 8, BAR_BG);
    view_text(c, x + 6, y + 4, s, TEXT, "class  shown  pixels");
    for (int k = 1; k <= n; k++) {
        const int yy = y + 4 + k * lh;
        uint8_t col[3];
        seg_class_colour(k, col);
        fill(c, x + 6, yy + s, x + 6 + 8 * s, yy + 8 * s,
             (uint32_t)col[0] << 16 | col[1] << 8 | col[2]);
        char line[64];
        snprintf(line, sizeof line, "%3d   %s %9zu", k, a->class_on[k] ? "[x]" : "[ ]", count[k]);
        view_text(c, x + 6 + 10 * s, yy, s, a->class_on[k] ? TEXT : TEXT_DIM, line);
    }
}

static void draw_status(view_app *a) {
    view_canvas *c = &a->canvas;
    const int s = text_scale(a), bh = bar_height(a), y = c->h - bh;
    fill(c, 0, y, c->w, c->h, BAR_BG);
    char l1[512], l2[512], tmp[96] = "";
    const float wlo = view_source_raw(&a->src, a->win_level - a->win_width / 2);
    const float whi = view_source_raw(&a->src, a->win_level + a->win_width / 2);
    snprintf(l1, sizeof l1, "%s  %dx%d | window %.4g..%.4g | opacity %d%% | %s", a->slice_name,
             a->img.w, a->img.h, wlo, whi, (int)lroundf(a->opacity * 100),
             a->model[0] ? a->model : "loading model");
    const view_prompts *p = &a->hist.cur;
    if (a->args.model.classes) {
        int on = 0;
        for (int k = 1; k <= a->args.model.classes; k++)
            on += a->class_on[k];
        snprintf(l2, sizeof l2, "classes shown %d/%d (1-9 toggle, 0 all) | h: help", on,
                 a->args.model.classes);
    } else {
        if (a->pr.m)
            snprintf(tmp, sizeof tmp, "mask %d/%d IoU %.3f (m: next)", a->cand, a->pr.m,
                     a->pr.iou[a->cand]);
        else
            snprintf(tmp, sizeof tmp, "no mask");
        snprintf(l2, sizeof l2, "%s | %d point%s%s | prompt %.0f ms (model %.0f) | h: help", tmp,
                 p->n_points, p->n_points == 1 ? "" : "s", p->has_box ? ", box" : "",
                 a->last_total_ms, a->model_seconds * 1000);
    }
    view_text(c, 6, y + 4, s, TEXT, l1);
    view_text(c, 6, y + 4 + VIEW_CELL_H * s, s, TEXT, l2);
    view_text(c, 6, y + 4 + 2 * VIEW_CELL_H * s, s, a->message_is_error ? TEXT_ERROR : TEXT_DIM,
              a->message);
}

static void draw_help(view_app *a) {
    view_canvas *c = &a->canvas;
    const int s = c->w >= 64 * VIEW_CELL_W * 2 + 20 ? 2 : 1, lh = (VIEW_CELL_H + 2) * s;
    const int pw = 64 * VIEW_CELL_W * s, ph = (VIEW_N_SHORTCUTS + 3) * lh;
    const int x = (c->w - pw) / 2, y = (c->h - bar_height(a) - ph) / 2;
    fill(c, x, y, x + pw, y + ph, BAR_BG);
    frame_rect(c, x, y, x + pw, y + ph, 1, TEXT_DIM);
    view_text(c, x + 10, y + 6, s, TEXT, "vksamed-view shortcuts (h, F1 or Esc closes)");
    for (int i = 0; i < VIEW_N_SHORTCUTS; i++) {
        const int yy = y + 6 + (i + 2) * lh;
        view_text(c, x + 10, yy, s, BOX, VIEW_SHORTCUTS[i].keys);
        view_text(c, x + 10 + 24 * VIEW_CELL_W * s, yy, s, TEXT, VIEW_SHORTCUTS[i].what);
    }
}

/* Canvas and texture at the renderer's output size. */
static int fit_canvas(view_app *a) {
    int w, h;
    if (SDL_GetRendererOutputSize(a->ren, &w, &h) != 0)
        return ve_fail("SDL_GetRendererOutputSize: %s", SDL_GetError());
    if (a->tex && w == a->canvas.w && h == a->canvas.h) return VE_OK;
    if (a->tex) SDL_DestroyTexture(a->tex);
    free(a->canvas.px);
    a->canvas.px = malloc(sizeof(uint32_t) * (size_t)w * (size_t)h);
    a->tex = SDL_CreateTexture(a->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
    a->canvas.w = w;
    a->canvas.h = h;
    if (!a->canvas.px) return ve_fail("out of host memory for a %dx%d frame", w, h);
    if (!a->tex) return ve_fail("SDL_CreateTexture %dx%d: %s", w, h, SDL_GetError());
    return VE_OK;
}

int view_render(view_app *a) {
    if (fit_canvas(a) != VE_OK) return VE_FAIL;
    view_canvas *c = &a->canvas;
    fill(c, 0, 0, c->w, c->h, BACKGROUND);
    if (a->img.rgb) {
        const view_layout l = view_get_layout(a);
        draw_slice(a, &l);
        draw_prompts(a, &l);
        draw_legend(a, &l);
        draw_progress(a, &l);
    }
    draw_status(a);
    if (a->show_help) draw_help(a);
    if (SDL_UpdateTexture(a->tex, NULL, c->px, c->w * (int)sizeof(uint32_t)) != 0 ||
        SDL_RenderCopy(a->ren, a->tex, NULL, NULL) != 0)
        return ve_fail("drawing the frame: %s", SDL_GetError());
    a->dirty = 0;
    return VE_OK;
}
