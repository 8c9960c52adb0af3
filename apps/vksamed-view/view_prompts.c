/* vksamed-view: prompts and their undo ring (see view_prompts.h). */
#include <string.h>

#include "view_prompts.h"

void view_history_reset(view_history *h) {
    memset(h, 0, sizeof *h);
}

static void push(view_history *h) {
    if (h->n_undo == VIEW_UNDO_DEPTH) {
        h->first = (h->first + 1) % VIEW_UNDO_DEPTH; /* drop the oldest */
        h->n_undo--;
    }
    h->undo[(h->first + h->n_undo) % VIEW_UNDO_DEPTH] = h->cur;
    h->n_undo++;
}

int view_history_add_point(view_history *h, float x, float y, int fg) {
    view_prompts *p = &h->cur;
    if (p->n_points == VIEW_MAX_POINTS) return 0;
    push(h);
    p->xy[p->n_points][0] = x;
    p->xy[p->n_points][1] = y;
    p->fg[p->n_points] = fg ? 1 : 0;
    p->n_points++;
    return 1;
}

int view_history_set_box(view_history *h, float x0, float y0, float x1, float y1) {
    push(h);
    float *b = h->cur.box;
    b[0] = x0 < x1 ? x0 : x1;
    b[1] = y0 < y1 ? y0 : y1;
    b[2] = x0 < x1 ? x1 : x0;
    b[3] = y0 < y1 ? y1 : y0;
    h->cur.has_box = 1;
    return 1;
}

int view_history_clear(view_history *h) {
    if (view_prompts_empty(&h->cur)) return 0;
    push(h);
    memset(&h->cur, 0, sizeof h->cur);
    return 1;
}

int view_history_undo(view_history *h) {
    if (!h->n_undo) return 0;
    h->n_undo--;
    h->cur = h->undo[(h->first + h->n_undo) % VIEW_UNDO_DEPTH];
    return 1;
}

int view_prompts_empty(const view_prompts *p) {
    return !p->n_points && !p->has_box;
}
