/* vksamed-view: saving what is shown: the mask as a PNG label map, the overlay (as
 * `vksamed segment --overlay` makes it) and screenshots of the window. Every file is written
 * atomically by the engine's PNG writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "view_app.h"

int view_save(view_app *a, const char *prefix) {
    if (!a->pr.m) {
        view_notice(a, 1, "nothing to save: no mask yet");
        return VE_FAIL;
    }
    const size_t hw = (size_t)a->img.w * (size_t)a->img.h;
    const int sam = !a->args.model.classes;
    uint8_t *shown = malloc(hw), *mask = malloc(hw), *over = NULL;
    char mpath[4200], opath[4200];
    snprintf(mpath, sizeof mpath, "%s.mask.png", prefix);
    snprintf(opath, sizeof opath, "%s.overlay.png", prefix);
    int rc = shown && mask ? VE_OK : ve_fail("out of host memory");
    for (size_t i = 0; i < hw && rc == VE_OK; i++) {
        shown[i] = a->class_on[a->labels[i]] ? a->labels[i] : 0;
        mask[i] = sam && shown[i] ? 255 : shown[i]; /* SAM 0 / 255; SAMed the class */
    }
    if (rc == VE_OK &&
        !(over = seg_overlay(&a->img, shown, sam ? VIEW_SAM_COLOUR : NULL, a->opacity)))
        rc = VE_FAIL;
    if (rc == VE_OK) rc = ve_png_write_u8(mpath, a->img.w, a->img.h, 1, mask);
    if (rc == VE_OK) rc = ve_png_write_u8(opath, a->img.w, a->img.h, 3, over);
    if (rc == VE_OK)
        view_notice(a, 0, "saved %s (%s) and %s", mpath,
                    sam ? "mask 255, background 0" : "pixel value = class", opath);
    else
        view_notice(a, 1, "saving: %s", ve_error());
    free(shown);
    free(mask);
    free(over);
    return rc;
}

int view_save_default(view_app *a) {
    char prefix[4200];
    if (a->src.n > 1)
        snprintf(prefix, sizeof prefix, "%s-slice%03d", a->args.save, a->slice);
    else
        snprintf(prefix, sizeof prefix, "%s", a->args.save);
    return view_save(a, prefix);
}

int view_screenshot(view_app *a, const char *path) {
    if (view_render(a) != VE_OK) return VE_FAIL;
    const int w = a->canvas.w, h = a->canvas.h;
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    if (!px) return ve_fail("out of host memory for a screenshot");
    int rc = VE_OK;
    if (SDL_RenderReadPixels(a->ren, NULL, SDL_PIXELFORMAT_RGB24, px, w * 3) != 0)
        rc = ve_fail("reading the window back for %s: %s", path, SDL_GetError());
    if (rc == VE_OK) rc = ve_png_write_u8(path, w, h, 3, px);
    free(px);
    /* Where the slice is, so a checker can map window pixels back to image pixels. */
    const view_layout l = view_get_layout(a);
    if (rc == VE_OK)
        fprintf(stderr, "vksamed-view: screenshot %s: %dx%d, image at %.17g %.17g scale %.17g\n",
                path, w, h, l.ox, l.oy, l.scale);
    SDL_RenderPresent(a->ren);
    return rc;
}
