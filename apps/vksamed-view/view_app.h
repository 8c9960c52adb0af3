/* vksamed-view: the application state shared by the event handlers (view_events.c), the
 * renderer (view_render.c), the saver (view_save.c) and the script player (view_script.c). */
#ifndef VIEW_APP_H
#define VIEW_APP_H

#include <SDL.h>
#include <stdint.h>

#include "status.h"
#include "view_args.h"
#include "view_font.h"
#include "view_prompts.h"
#include "view_source.h"
#include "view_worker.h"

#define VIEW_MAX_CLASSES 255

typedef struct view_script view_script;

/* Where the slice is drawn: window pixel = offset + image pixel * scale. */
typedef struct {
    double scale, ox, oy;
    int x0, y0, x1, y1; /* the image's rectangle in the window, [x0, x1) x [y0, y1) */
} view_layout;

typedef struct {
    view_args args;
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    view_canvas canvas;
    uint32_t wake_event; /* the worker's SDL user event */

    view_source src;
    int slice;
    seg_image img; /* the current slice, 0..255 */
    char slice_name[160];

    view_worker *worker;
    char model[160]; /* empty until the model has loaded */
    int mask_tokens;
    int gen;            /* image generation, one per slice shown */
    int embedded;       /* the embedding of gen is ready */
    double embed_start; /* seconds, when the embedding of gen was requested */
    double embed_seconds;

    view_history hist;
    int prompt_id;     /* the latest prompt sent */
    sam_prediction pr; /* the latest prediction of gen (m == 0: none) */
    int cand;          /* the shown mask (SAM mode) */
    uint8_t *labels;   /* [h, w]: SAM 0/1, semantic the class (0: background) */
    int class_on[VIEW_MAX_CLASSES + 1];
    float opacity;
    float win_width, win_level; /* window / level in 0..255 units */
    int show_help;

    /* Mouse. */
    int pressed, moved; /* left button down; moved past the drag threshold */
    int press_x, press_y, cur_x, cur_y;

    /* Latency of the latest prompt: event time (seconds) to the frame presented. */
    double t_event, model_seconds, last_total_ms;
    int log_pending; /* the prediction arrived: log once its frame is presented */

    char message[512]; /* the latest notice or error, shown in the status bar */
    int message_is_error;
    int dirty; /* the frame must be redrawn */
    int quit, exit_code;
    view_script *script;
} view_app;

double view_now(void); /* seconds, monotonic */
void view_notice(view_app *a, int is_error, const char *fmt, ...) VE_PRINTF(3, 4);

/* view_events.c */
int view_show_slice(view_app *a, int index); /* loads it and requests its embedding */
void view_handle_event(view_app *a, const SDL_Event *e);
int view_idle(view_app *a); /* no request pending, nothing left to draw */

/* view_render.c */
extern const uint8_t VIEW_SAM_COLOUR[3]; /* the SAM mask, as `vksamed segment --overlay` */
view_layout view_get_layout(const view_app *a);
int view_render(view_app *a); /* draws the frame into the renderer (not yet presented) */

/* view_save.c */
int view_save(view_app *a, const char *prefix); /* PREFIX.mask.png, PREFIX.overlay.png */
int view_save_default(view_app *a);             /* --save PREFIX[-sliceN] */
int view_screenshot(view_app *a, const char *path);

#endif
