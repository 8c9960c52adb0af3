/* vksamed-view: a built-in 5x7 bitmap font (ASCII 32..126, drawn for this program) for the
 * status bar, legend, help and progress text, since SDL2 draws no text. */
#ifndef VIEW_FONT_INCLUDED
#define VIEW_FONT_INCLUDED

#include <stdint.h>

#define VIEW_FONT_W 5 /* glyph size in font pixels; a character cell is 6 x 9 */
#define VIEW_FONT_H 7
#define VIEW_CELL_W 6
#define VIEW_CELL_H 9

/* A frame buffer of 0xRRGGBB pixels, row-major. */
typedef struct {
    uint32_t *px;
    int w, h;
} view_canvas;

/* Draws text at (x, y) (top left of the first cell), each font pixel a scale x scale square;
 * characters outside 32..126 are drawn as a hollow box. Clipped to the canvas. Returns the x
 * after the last character. */
int view_text(view_canvas *c, int x, int y, int scale, uint32_t rgb, const char *text);
/* Width in pixels of text at scale. */
int view_text_width(const char *text, int scale);

#endif
