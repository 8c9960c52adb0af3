/* vksamed-view's prompt history (apps/vksamed-view/view_prompts.c): points, the box, clear and
 * undo, including the undo ring dropping its oldest state past its depth. */
#include <string.h>

#include "test_util.h"
#include "view_prompts.h"

int main(void) {
    view_history h;
    view_history_reset(&h);
    tu_check(view_prompts_empty(&h.cur), "starts empty");
    tu_check(!view_history_undo(&h), "nothing to undo at first");
    tu_check(!view_history_clear(&h), "clearing nothing changes nothing");

    view_history_add_point(&h, 10, 20, 1);
    view_history_add_point(&h, 30, 40, 0);
    view_history_set_box(&h, 50, 60, 5, 6); /* corners in any order */
    tu_check(h.cur.n_points == 2 && h.cur.fg[0] == 1 && h.cur.fg[1] == 0, "two points, labels");
    tu_check(h.cur.xy[1][0] == 30 && h.cur.xy[1][1] == 40, "point coordinates kept");
    tu_check(h.cur.has_box && h.cur.box[0] == 5 && h.cur.box[1] == 6 && h.cur.box[2] == 50 &&
                 h.cur.box[3] == 60,
             "box ordered x0 <= x1, y0 <= y1");
    view_history_set_box(&h, 1, 2, 3, 4);
    tu_check(h.cur.box[2] == 3, "a new box replaces the old one");

    tu_check(view_history_clear(&h) && view_prompts_empty(&h.cur), "clear");
    tu_check(view_history_undo(&h) && h.cur.n_points == 2 && h.cur.box[2] == 3, "undo clear");
    tu_check(view_history_undo(&h) && h.cur.box[2] == 50, "undo the second box");
    tu_check(view_history_undo(&h) && !h.cur.has_box && h.cur.n_points == 2, "undo the box");
    tu_check(view_history_undo(&h) && h.cur.n_points == 1, "undo a point");
    tu_check(view_history_undo(&h) && view_prompts_empty(&h.cur), "undo the first point");
    tu_check(!view_history_undo(&h), "then nothing left");

    /* The point limit, and the ring: past the depth the oldest states go. */
    view_history_reset(&h);
    int added = 0;
    for (int i = 0; i < VIEW_MAX_POINTS + 5; i++)
        added += view_history_add_point(&h, (float)i, 0, 1);
    tu_check(added == VIEW_MAX_POINTS && h.cur.n_points == VIEW_MAX_POINTS, "point limit");
    for (int i = 0; i < VIEW_UNDO_DEPTH; i++)
        view_history_set_box(&h, 0, 0, (float)i + 1, 1);
    int undone = 0;
    while (view_history_undo(&h))
        undone++;
    tu_check(undone == VIEW_UNDO_DEPTH, "undo depth is the ring's size");
    /* 64 point changes then 128 box changes made 192 "before" states; the ring kept the last
     * 128, the oldest being the state before the first box: 64 points, no box. */
    tu_check(!h.cur.has_box && h.cur.n_points == VIEW_MAX_POINTS, "oldest kept state");
    return tu_exit();
}
