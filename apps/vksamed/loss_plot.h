/* The training loss curve as a PNG, redrawn by `vksamed train` from its CSV log every so often so
 * a user can open it while the run goes on.
 *
 * The picture (LOSS_PLOT_W x LOSS_PLOT_H, RGB, white background): x = step over the plot
 * rectangle [LOSS_PLOT_LEFT, LOSS_PLOT_RIGHT] x [LOSS_PLOT_TOP, LOSS_PLOT_BOTTOM] (pixel columns
 * and rows, inclusive); the x axis runs over "nice" round limits (multiples of a 1, 2 or 5 x 10^k
 * tick step) around the data. y = loss on the left axis: log10 scale over whole decades when all
 * finite losses are > 0 and max / min > 10, else linear over nice limits. The raw loss is a light
 * blue line, its centred moving average (over about n / 20 points, at most 2001, in the plotted
 * scale) a dark blue line 2 pixels wide; the optional second series (validation Dice per epoch,
 * right axis 0..1, values clamped) is drawn as orange dots. Axes have tick marks, grid lines and
 * tick labels, and the picture a title, all in a built-in 5x7 bitmap font (digits, letters shown
 * in capitals, . - : + / ( ) , % = _; other characters become '?').
 *
 * Points whose x or y is not finite are skipped (the line joins the finite points around them).
 * Failures return VE_FAIL with a ve_fail() message naming the path: no loss series or no finite
 * point in it, or the file cannot be written; the file is written atomically (PATH.tmp, rename),
 * so an existing plot is never left half-written. */
#ifndef VKSAMED_LOSS_PLOT_H
#define VKSAMED_LOSS_PLOT_H

#define LOSS_PLOT_W 800
#define LOSS_PLOT_H 500
#define LOSS_PLOT_LEFT 72
#define LOSS_PLOT_RIGHT 739
#define LOSS_PLOT_TOP 40
#define LOSS_PLOT_BOTTOM 449

typedef struct {
    const double *x, *y;
    int n;
} plot_series;

int loss_plot_write(const char *path, const char *title, const plot_series *loss,
                    const plot_series *dice_or_null);

/* Reads the CSV log (train_log.h, train_csv_read) and plots its loss column against its step
 * column into png_path. */
int loss_plot_from_csv(const char *png_path, const char *title, const char *csv_path,
                       const plot_series *dice_or_null);

#endif
