/* vksamed-view: the prompts of the current slice (points and one box, as SAM takes them) and
 * their undo history. Pure data, no SDL and no model, so it is unit-tested on its own. */
#ifndef VIEW_PROMPTS_H
#define VIEW_PROMPTS_H

#define VIEW_MAX_POINTS 64
#define VIEW_UNDO_DEPTH 128

typedef struct {
    int n_points;
    float xy[VIEW_MAX_POINTS][2]; /* image pixels */
    int fg[VIEW_MAX_POINTS];      /* 1 foreground, 0 background */
    int has_box;
    float box[4]; /* x0, y0, x1, y1 with x0 <= x1, y0 <= y1 */
} view_prompts;

/* The current prompts and the states before each change (oldest dropped past the depth). */
typedef struct {
    view_prompts cur;
    view_prompts undo[VIEW_UNDO_DEPTH];
    int n_undo, first; /* a ring: undo[(first + i) % depth], i < n_undo */
} view_history;

void view_history_reset(view_history *h); /* no prompts, nothing to undo */
/* Each change keeps the state before it for undo. Returns 0 when nothing changed (the point
 * limit reached, clearing nothing), 1 otherwise. */
int view_history_add_point(view_history *h, float x, float y, int fg);
int view_history_set_box(view_history *h, float x0, float y0, float x1, float y1); /* any order */
int view_history_clear(view_history *h);
/* Back to the state before the last change; 0 when there is none. */
int view_history_undo(view_history *h);
int view_prompts_empty(const view_prompts *p);

#endif
