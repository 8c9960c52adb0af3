/* vksamed-view: the background thread that owns the device and the SAM predictor
 * (models/sam/predictor.h, the prompting path of `vksamed segment` too). The UI thread never
 * waits on the model: it posts requests, the worker runs them in order (an image's embedding
 * before any prompt of that image; a newer request of a kind replaces an older one not yet
 * started) and wakes the UI with an SDL user event; the UI then takes the results. */
#ifndef VIEW_WORKER_H
#define VIEW_WORKER_H

#include <stdint.h>

#include "sam/predictor.h"
#include "segment.h"
#include "view_prompts.h"

typedef struct view_worker view_worker;

typedef struct {
    const char *checkpoint, *lora, *device;
    int classes; /* SAMed semantic mode: N classes + background; 0: SAM prompts */
    int size;    /* model input side; 0: the preset's (512 with classes) */
} view_model_opts;

/* What the worker reports. */
typedef enum {
    VIEW_DONE_NONE,
    VIEW_DONE_MODEL,   /* model loaded: info filled */
    VIEW_DONE_EMBED,   /* embedding of image gen computed (seconds) */
    VIEW_DONE_PREDICT, /* prediction for (gen, id) */
    VIEW_DONE_ERROR,   /* message; gen/id of the request that failed (-1: loading the model) */
} view_done_kind;

typedef struct {
    view_done_kind kind;
    int gen, id;
    double seconds; /* model time of the request */
    char message[512];
    char model[160];  /* VIEW_DONE_MODEL: "tiny, input 1024, 4 mask tokens" */
    int mask_tokens;  /* VIEW_DONE_MODEL */
    sam_prediction p; /* VIEW_DONE_PREDICT: owned by the taker (sam_prediction_free) */
} view_done;

/* Starts the thread, which loads the model first. wake_event: an SDL user event type pushed
 * whenever a result is ready. NULL on failure (SDL's message in ve_error). */
view_worker *view_worker_start(const view_model_opts *o, uint32_t wake_event);
/* Joins the thread (after the running request) and frees everything. */
void view_worker_stop(view_worker *w);

/* Embeds img (copied) as image generation gen; prompts of older generations are dropped. */
int view_worker_set_image(view_worker *w, const seg_image *img, int gen);
/* Predicts prompts against image gen; id names the request in its result. */
void view_worker_predict(view_worker *w, const view_prompts *p, int gen, int id);
/* Takes the oldest result; 0 when none. */
int view_worker_take(view_worker *w, view_done *out);
/* 1 while a request is queued or running, or a result waits to be taken. */
int view_worker_busy(view_worker *w);

#endif
