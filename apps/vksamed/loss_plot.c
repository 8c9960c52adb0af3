/* The loss-curve PNG of `vksamed train` (see loss_plot.h): a tiny software plotter, with its own
 * 5x7 bitmap font, so the CLI needs no plotting or font library. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "loss_plot.h"
#include "status.h"
#include "train_log.h"

/* ---- 5x7 font: 7 rows of 5 bits, the high bit the leftmost column ---- */

typedef struct {
    char c;
    uint8_t rows[7];
} glyph;

static const glyph FONT[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},
    {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
};

static const glyph *find_glyph(char c) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof FONT / sizeof FONT[0]; i++)
        if (FONT[i].c == c) return &FONT[i];
    return find_glyph('?');
}

/* ---- the canvas ---- */

typedef struct {
    uint8_t r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, INK = {40, 40, 40}, GRID = {228, 228, 228},
                 RAW = {160, 190, 235}, SMOOTH = {25, 70, 170}, DOTS = {235, 120, 20};

typedef struct {
    uint8_t *px;
    int x0, y0, x1, y1; /* clip rectangle, inclusive */
} canvas;

static void put(canvas *c, int x, int y, rgb col) {
    if (x < c->x0 || x > c->x1 || y < c->y0 || y > c->y1) return;
    uint8_t *p = c->px + 3 * ((size_t)y * LOSS_PLOT_W + (size_t)x);
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void clip(canvas *c, int x0, int y0, int x1, int y1) {
    c->x0 = x0;
    c->y0 = y0;
    c->x1 = x1;
    c->y1 = y1;
}

static void clip_all(canvas *c) {
    clip(c, 0, 0, LOSS_PLOT_W - 1, LOSS_PLOT_H - 1);
}

static void hline(canvas *c, int x0, int x1, int y, rgb col) {
    for (int x = x0; x <= x1; x++)
        put(c, x, y, col);
}

static void vline(canvas *c, int x, int y0, int y1, rgb col) {
    for (int y = y0; y <= y1; y++)
        put(c, x, y, col);
}

/* A segment between pixel-space points, `width` pixels thick. */
static void segment(canvas *c, double xa, double ya, double xb, double yb, int width, rgb col) {
    double dx = xb - xa, dy = yb - ya;
    int n = (int)ceil(fmax(fabs(dx), fabs(dy)));
    if (n > 4 * (LOSS_PLOT_W + LOSS_PLOT_H)) n = 4 * (LOSS_PLOT_W + LOSS_PLOT_H);
    for (int i = 0; i <= n; i++) {
        double t = n ? (double)i / n : 0;
        int x = (int)lround(xa + t * dx) - width / 2, y = (int)lround(ya + t * dy) - width / 2;
        for (int oy = 0; oy < width; oy++)
            for (int ox = 0; ox < width; ox++)
                put(c, x + ox, y + oy, col);
    }
}

static void dot(canvas *c, double x, double y, rgb col) {
    int cx = (int)lround(x), cy = (int)lround(y);
    for (int oy = -3; oy <= 3; oy++)
        for (int ox = -3; ox <= 3; ox++)
            if (ox * ox + oy * oy <= 9) put(c, cx + ox, cy + oy, col);
}

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (6 * n - 1) * scale : 0;
}

/* Text with its top-left corner at (x, y). */
static void text(canvas *c, int x, int y, const char *s, int scale, rgb col) {
    for (; *s; s++, x += 6 * scale) {
        const glyph *g = find_glyph(*s);
        for (int row = 0; row < 7; row++)
            for (int bit = 0; bit < 5; bit++)
                if (g->rows[row] >> (4 - bit) & 1)
                    for (int oy = 0; oy < scale; oy++)
                        for (int ox = 0; ox < scale; ox++)
                            put(c, x + bit * scale + ox, y + row * scale + oy, col);
    }
}

/* ---- axes ---- */

typedef struct {
    double lo, hi, step; /* in the plotted scale (log10 of the value on a log axis) */
    int log;
} axis;

/* 1, 2 or 5 x 10^k, about span / ticks. */
static double nice_step(double span, int ticks) {
    double raw = span / ticks, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static axis linear_axis(double lo, double hi, int ticks) {
    if (!(hi - lo > 1e-12 * fmax(1, fmax(fabs(lo), fabs(hi))))) {
        double pad = fmax(0.1 * fmax(fabs(lo), fabs(hi)), 1e-3);
        lo -= pad;
        hi += pad;
    }
    axis a = {.step = nice_step(hi - lo, ticks)};
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    if (a.hi <= a.lo) a.hi = a.lo + a.step;
    return a;
}

static axis log_axis(double lo, double hi) {
    axis a = {.log = 1, .lo = floor(log10(lo)), .hi = ceil(log10(hi))};
    a.step = ceil((a.hi - a.lo) / 8);
    return a;
}

static double to_px(const axis *a, double f, int p0, int p1) {
    return p0 + (f - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static void tick_label(const axis *a, double f, char *buf, size_t n) {
    if (a->log)
        snprintf(buf, n, "%g", pow(10, f));
    else
        snprintf(buf, n, "%g", fabs(f) < a->step * 1e-6 ? 0 : f);
}

static void draw_x_axis(canvas *c, const axis *a) {
    char label[32];
    for (int i = 0;; i++) {
        double f = a->lo + i * a->step;
        if (f > a->hi + a->step * 1e-6) break;
        int x = (int)lround(to_px(a, f, LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT));
        vline(c, x, LOSS_PLOT_TOP, LOSS_PLOT_BOTTOM, GRID);
        vline(c, x, LOSS_PLOT_BOTTOM + 1, LOSS_PLOT_BOTTOM + 4, INK);
        tick_label(a, f, label, sizeof label);
        text(c, x - text_width(label, 1) / 2, LOSS_PLOT_BOTTOM + 8, label, 1, INK);
    }
    text(c, (LOSS_PLOT_LEFT + LOSS_PLOT_RIGHT - text_width("STEP", 1)) / 2, LOSS_PLOT_BOTTOM + 24,
         "STEP", 1, INK);
}

/* left: labels right-aligned before the left edge, else after the right edge. */
static void draw_y_axis(canvas *c, const axis *a, int left, int grid) {
    char label[32];
    for (int i = 0;; i++) {
        double f = a->lo + i * a->step;
        if (f > a->hi + a->step * 1e-6) break;
        int y = (int)lround(to_px(a, f, LOSS_PLOT_BOTTOM, LOSS_PLOT_TOP));
        if (grid) hline(c, LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT, y, GRID);
        tick_label(a, f, label, sizeof label);
        if (left) {
            hline(c, LOSS_PLOT_LEFT - 4, LOSS_PLOT_LEFT - 1, y, INK);
            text(c, LOSS_PLOT_LEFT - 7 - text_width(label, 1), y - 3, label, 1, INK);
        } else {
            hline(c, LOSS_PLOT_RIGHT + 1, LOSS_PLOT_RIGHT + 4, y, INK);
            text(c, LOSS_PLOT_RIGHT + 7, y - 3, label, 1, INK);
        }
    }
}

/* ---- series ---- */

typedef struct {
    double *x, *f; /* finite points, f in the plotted scale */
    int n;
} points;

/* The finite points of s (and y > 0 when the axis is logarithmic). */
static int finite_points(const plot_series *s, int log_scale, points *p) {
    p->n = 0;
    p->x = malloc((size_t)s->n * sizeof *p->x);
    p->f = malloc((size_t)s->n * sizeof *p->f);
    if (!p->x || !p->f) return VE_FAIL;
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]) && (!log_scale || s->y[i] > 0)) {
            p->x[p->n] = s->x[i];
            p->f[p->n++] = log_scale ? log10(s->y[i]) : s->y[i];
        }
    return VE_OK;
}

static void free_points(points *p) {
    free(p->x);
    free(p->f);
}

/* Centred moving average of p->f over 2 * ((n + 20) / 40) + 1 points (at most 2001), narrower
 * near the ends. */
static double *smooth(const points *p) {
    double *sum = malloc(((size_t)p->n + 1) * sizeof *sum);
    double *out = malloc((size_t)p->n * sizeof *out);
    if (!sum || !out) {
        free(sum);
        free(out);
        return NULL;
    }
    int half = (p->n + 20) / 40 < 1000 ? (p->n + 20) / 40 : 1000;
    sum[0] = 0;
    for (int i = 0; i < p->n; i++)
        sum[i + 1] = sum[i] + p->f[i];
    for (int i = 0; i < p->n; i++) {
        int k = half;
        if (k > i) k = i;
        if (k > p->n - 1 - i) k = p->n - 1 - i;
        out[i] = (sum[i + k + 1] - sum[i - k]) / (2 * k + 1);
    }
    free(sum);
    return out;
}

static void draw_line(canvas *c, const axis *ax, const axis *ay, const double *x, const double *f,
                      int n, int width, rgb col) {
    for (int i = 0; i < n; i++) {
        double px = to_px(ax, x[i], LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT);
        double py = to_px(ay, f[i], LOSS_PLOT_BOTTOM, LOSS_PLOT_TOP);
        if (i == 0) {
            segment(c, px, py, px, py, width, col);
        } else {
            double qx = to_px(ax, x[i - 1], LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT);
            double qy = to_px(ay, f[i - 1], LOSS_PLOT_BOTTOM, LOSS_PLOT_TOP);
            segment(c, qx, qy, px, py, width, col);
        }
    }
}

/* ---- the picture ---- */

static int check_series(const char *path, const char *what, const plot_series *s) {
    if (s->n < 0 || (s->n > 0 && (!s->x || !s->y)))
        return ve_fail("loss plot %s: the %s series has %d values but no arrays", path, what, s->n);
    return VE_OK;
}

/* Draws everything but the data on an allocated canvas. */
static void draw_frame(canvas *c, const char *title, const axis *ax, const axis *ay,
                       const axis *ad) {
    clip_all(c);
    for (int y = 0; y < LOSS_PLOT_H; y++)
        hline(c, 0, LOSS_PLOT_W - 1, y, WHITE);
    draw_x_axis(c, ax);
    draw_y_axis(c, ay, 1, 1);
    if (ad) draw_y_axis(c, ad, 0, 0);
    hline(c, LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT, LOSS_PLOT_BOTTOM, INK);
    hline(c, LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT, LOSS_PLOT_TOP, INK);
    vline(c, LOSS_PLOT_LEFT, LOSS_PLOT_TOP, LOSS_PLOT_BOTTOM, INK);
    vline(c, LOSS_PLOT_RIGHT, LOSS_PLOT_TOP, LOSS_PLOT_BOTTOM, INK);
    char t[66];
    snprintf(t, sizeof t, "%s", title ? title : "");
    text(c, (LOSS_PLOT_W - text_width(t, 2)) / 2, 8, t, 2, INK);
    text(c, LOSS_PLOT_LEFT, LOSS_PLOT_TOP - 11, ay->log ? "LOSS (LOG SCALE)" : "LOSS", 1, SMOOTH);
    if (ad) text(c, LOSS_PLOT_RIGHT - text_width("DICE", 1), LOSS_PLOT_TOP - 11, "DICE", 1, DOTS);
}

int loss_plot_write(const char *path, const char *title, const plot_series *loss,
                    const plot_series *dice_or_null) {
    if (!path || !*path) return ve_fail("loss plot: no output path");
    if (!loss || loss->n <= 0) return ve_fail("loss plot %s: no loss values to plot", path);
    if (check_series(path, "loss", loss) != VE_OK) return VE_FAIL;
    const plot_series *dice = dice_or_null && dice_or_null->n > 0 ? dice_or_null : NULL;
    if (dice && check_series(path, "dice", dice) != VE_OK) return VE_FAIL;

    /* the scale: log when every finite loss is > 0 and they span more than a decade */
    double lo = INFINITY, hi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
    int log_scale = 1, any = 0;
    for (int i = 0; i < loss->n; i++) {
        if (!isfinite(loss->x[i]) || !isfinite(loss->y[i])) continue;
        any = 1;
        lo = fmin(lo, loss->y[i]);
        hi = fmax(hi, loss->y[i]);
        xlo = fmin(xlo, loss->x[i]);
        xhi = fmax(xhi, loss->x[i]);
        if (loss->y[i] <= 0) log_scale = 0;
    }
    if (!any) return ve_fail("loss plot %s: none of the %d loss values is finite", path, loss->n);
    log_scale = log_scale && hi / lo > 10;
    for (int i = 0; dice && i < dice->n; i++)
        if (isfinite(dice->x[i]) && isfinite(dice->y[i])) {
            xlo = fmin(xlo, dice->x[i]);
            xhi = fmax(xhi, dice->x[i]);
        }
    if (xhi <= xlo) {
        xlo -= 1;
        xhi += 1;
    }
    axis ax = linear_axis(xlo, xhi, 8), ay = log_scale ? log_axis(lo, hi) : linear_axis(lo, hi, 6);
    axis ad = {.lo = 0, .hi = 1, .step = 0.2};

    canvas c = {.px = malloc((size_t)3 * LOSS_PLOT_W * LOSS_PLOT_H)};
    points p = {0}, d = {0};
    double *sm = NULL;
    int rc = VE_OK;
    if (!c.px || finite_points(loss, log_scale, &p) != VE_OK || !(sm = smooth(&p)) ||
        (dice && finite_points(dice, 0, &d) != VE_OK)) {
        rc = ve_fail("loss plot %s: out of memory", path);
    } else {
        draw_frame(&c, title, &ax, &ay, dice ? &ad : NULL);
        clip(&c, LOSS_PLOT_LEFT, LOSS_PLOT_TOP, LOSS_PLOT_RIGHT, LOSS_PLOT_BOTTOM);
        draw_line(&c, &ax, &ay, p.x, p.f, p.n, 1, RAW);
        draw_line(&c, &ax, &ay, p.x, sm, p.n, 2, SMOOTH);
        clip_all(&c);
        for (int i = 0; i < d.n; i++)
            dot(&c, to_px(&ax, d.x[i], LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT),
                to_px(&ad, fmin(fmax(d.f[i], 0), 1), LOSS_PLOT_BOTTOM, LOSS_PLOT_TOP), DOTS);
        rc = ve_png_write_u8(path, LOSS_PLOT_W, LOSS_PLOT_H, 3, c.px);
    }
    free(sm);
    free_points(&p);
    free_points(&d);
    free(c.px);
    return rc;
}

int loss_plot_from_csv(const char *png_path, const char *title, const char *csv_path,
                       const plot_series *dice_or_null) {
    train_csv_rows rows;
    if (train_csv_read(csv_path, &rows) != VE_OK)
        return ve_fail_context("loss plot %s: ", png_path ? png_path : "(null)");
    int rc;
    if (rows.n == 0) {
        rc = ve_fail("loss plot %s: the training log %s has no rows yet",
                     png_path ? png_path : "(null)", csv_path);
    } else {
        plot_series s = {rows.step, rows.loss, rows.n};
        rc = loss_plot_write(png_path, title, &s, dice_or_null);
    }
    train_csv_rows_free(&rows);
    return rc;
}
