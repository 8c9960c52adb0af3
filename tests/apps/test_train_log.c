/* The training progress output of `vksamed train` (apps/vksamed/train_log.c, loss_plot.c).
 *
 * Progress bar: with a fake clock, the plain-line (non-terminal) output's fields (step/total,
 * it/s over the sliding window, img/s, ETA and elapsed as h:mm:ss, the smoothed and last loss),
 * which steps print, and the terminal mode's throttled '\r' redraws and notes. CSV log: a new
 * log's rows and %.9g digits, read-back, resume truncation (earlier rows byte-identical, later
 * and cut-off rows dropped), and refusals. Loss plot: the PNG read back with the project's image
 * reader, the smoothed curve where y = 1/x (log axis) and y = 2 - x/100 (linear axis) map to,
 * dice dots, text pixels in the title and axis areas, NaN / empty / unwritable cases.
 * TRAIN_LOG_KEEP=1 keeps the scratch folder, to look at the PNGs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/image.h"
#include "loss_plot.h"
#include "status.h"
#include "test_util.h"
#include "train_log.h"

/* ---- helpers ---- */

static double fake_now(void *ctx) {
    return *(double *)ctx;
}

/* The whole of a stream written so far, NUL-terminated (malloc'd). */
static char *slurp_stream(FILE *f) {
    long n = ftell(f);
    char *s = calloc((size_t)n + 1, 1);
    rewind(f);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    char *s = slurp_stream(f);
    fclose(f);
    return s;
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* Line k (0-based) of s, copied into buf. */
static const char *line_of(const char *s, int k, char *buf, size_t n) {
    for (; k > 0 && s; k--) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    buf[0] = 0;
    if (s) snprintf(buf, n, "%.*s", (int)strcspn(s, "\n"), s);
    return buf;
}

static int has(const char *s, const char *what) {
    if (strstr(s, what)) return 1;
    printf("  missing \"%s\" in \"%s\"\n", what, s);
    return 0;
}

static int error_names(const char *what) {
    if (strstr(ve_error(), what)) return 1;
    printf("  error \"%s\" does not name \"%s\"\n", ve_error(), what);
    return 0;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- progress bar ---- */

/* A bar printing to a temporary file with a fake clock at *t. */
typedef struct {
    FILE *f;
    train_progress *p;
} bar_run;

static train_progress *bar_start(bar_run *r, int64_t total, int64_t start, int64_t every, int tty,
                                 double *t) {
    r->f = tmpfile();
    r->p = train_progress_create(total, start, r->f, every);
    train_progress_set_clock(r->p, fake_now, t);
    train_progress_set_tty(r->p, tty);
    return r->p;
}

/* Finishes the bar and returns all it printed (malloc'd). */
static char *bar_end(bar_run *r) {
    train_progress_finish(r->p);
    char *out = slurp_stream(r->f);
    fclose(r->f);
    return out;
}

static void test_progress_lines(void) {
    bar_run r;
    double t = 100;
    train_progress *p = bar_start(&r, 1000, 0, 10, 0, &t);
    /* 20 steps at 2 it/s, then 25 at 4 it/s; loss 1 then 0: EMA 0.9^(k-1) */
    for (int step = 1; step <= 45; step++) {
        t += step <= 20 ? 0.5 : 0.25;
        train_progress_update(p, step, 1 + (step - 1) / 10, step == 1 ? 1.0 : 0.0, 0.25, 0.5, 0.001,
                              12);
    }
    char *out = bar_end(&r);
    char l[512];
    tu_check(count_char(out, '\n') == 5 && !strchr(out, '\r'),
             "non-tty: a plain line at steps 10, 20, 30, 40 and at the end (45), no '\\r'");
    line_of(out, 0, l, sizeof l);
    tu_check(has(l, "[....................]   10/1000 ep 1 |") && has(l, " 2 it/s 24 img/s |") &&
                 has(l, "loss 0.3874 (last 0) ce 0.25 dice 0.5 |") && has(l, "lr 1.00e-03") &&
                 has(l, "ETA 0:08:15 elapsed 0:00:05"),
             "step 10: bar, step/total, 2 it/s, 24 img/s, EMA loss, lr, ETA 990/2 s, elapsed");
    line_of(out, 3, l, sizeof l);
    tu_check(has(l, "   40/1000 ep 4 |") && has(l, " 4 it/s 48 img/s |") &&
                 has(l, "ETA 0:04:00 elapsed 0:00:15"),
             "step 40: the sliding window sees only the last 20 steps (4 it/s, not 2.67)");
    line_of(out, 4, l, sizeof l);
    tu_check(has(l, "   45/1000 ep 5 |") && has(l, "ETA 0:03:59 elapsed 0:00:16"),
             "finish prints the last step (ETA 955/4 s rounds to 0:03:59, elapsed 16.25 s)");
    free(out);

    /* a resumed run of 4 steps, every larger than the run: only the last step prints, once */
    t = 0;
    p = bar_start(&r, 8, 4, 100, 0, &t);
    for (int step = 5; step <= 8; step++) {
        t += 3600.0;
        train_progress_update(p, step, 2, NAN, 0, 0, 0.005, 2);
        if (step == 6) train_progress_note(p, "checkpoint saved: %s", "ckpt_6.pth");
    }
    out = bar_end(&r);
    tu_check(count_char(out, '\n') == 2 && has(out, "checkpoint saved: ckpt_6.pth\n[") &&
                 has(out, "[####################] 8/8 ep 2 |") && has(out, "loss nan (last nan)") &&
                 has(out, "ETA 0:00:00 elapsed 4:00:00"),
             "resume: rate from start_step, only the last step and the note, NaN loss shown");
    free(out);
}

static void test_progress_tty(void) {
    bar_run r;
    double t = 0;
    train_progress *p = bar_start(&r, 100, 0, 0, 1, &t);
    for (int step = 1; step <= 100; step++) {
        t = step * 0.01;
        train_progress_update(p, step, 1, 0.5, 0.1, 0.2, 1e-4, 1);
        if (step == 50) train_progress_note(p, "eval: dice %.2f", 0.75);
    }
    char *out = bar_end(&r);
    int redraws = count_char(out, '\r');
    /* ~11 throttled draws over 1 s, plus 2 '\r' to clear and 1 to redraw around the note */
    tu_check(redraws >= 8 && redraws <= 16, "tty: redraws throttled to ~10 a second");
    tu_check(count_char(out, '\n') == 2 && has(out, "\reval: dice 0.75\n\r[") &&
                 has(out, "] 100/100 ep 1 |") && out[strlen(out) - 1] == '\n',
             "tty: the note on a cleared line, the bar redrawn, the last step, a final newline");
    free(out);
    train_progress_finish(NULL);

    /* an 80-column terminal: every drawn line fits in 79 columns and keeps the ETA */
    t = 0;
    p = bar_start(&r, 100000, 0, 0, 1, &t);
    train_progress_set_width(p, 80);
    for (int step = 1; step <= 3; step++) {
        t += 1;
        train_progress_update(p, step, 1, 0.123456, 0.1, 0.2, 1e-4, 12);
    }
    out = bar_end(&r);
    int fits = 1, n = 0;
    for (char *s = strtok(out, "\r\n"); s; s = strtok(NULL, "\r\n"), n++)
        if (strlen(s) > 79 || !strstr(s, "ETA ")) fits = 0;
    tu_check(fits && n >= 1, "narrow terminal: compact lines within the width, with the ETA");
    free(out);
}

/* ---- CSV log ---- */

static void write_rows(train_csv *c, int from, int to, double scale) {
    for (int s = from; s <= to; s++)
        train_csv_row(c, s, 1 + s / 4, 0.005 * s / 250, scale / s, 0.1 * scale / s, 0.9 - s * 0.01,
                      12.0 / 7.0, s * 0.5);
}

static void test_csv(void) {
    const char *path = tu_scratch_path("train_log.csv");
    tu_write_file(path, "old contents\n", 13);
    train_csv *c = train_csv_open(path, 0);
    tu_check(c != NULL, "new log opens (truncating an old file)");
    if (!c) return;
    write_rows(c, 1, 10, 1.0);
    char *mid = slurp(path); /* flushed every row: readable while the run goes on */
    train_csv_close(c);
    char *full = slurp(path);
    char l[256];
    tu_check(full && mid && !strcmp(mid, full) && count_char(full, '\n') == 11 &&
                 !strcmp(line_of(full, 0, l, sizeof l), TRAIN_CSV_HEADER) &&
                 !strcmp(line_of(full, 3, l, sizeof l),
                         "3,1,6e-05,0.333333333,0.0333333333,0.87,1.71428571,1.5"),
             "new log: header, one %.9g row per step, flushed per row");

    train_csv_rows rows;
    tu_check(train_csv_read(path, &rows) == VE_OK && rows.n == 10 && rows.step[9] == 10 &&
                 fabs(rows.loss[2] - 1.0 / 3) < 1e-9 && rows.epoch[3] == 2 && rows.elapsed[9] == 5,
             "read back: 10 rows, columns in place");
    train_csv_rows_free(&rows);

    /* resume at 6: rows 1..6 byte-identical, 7..10 dropped, new rows appended */
    size_t keep = (size_t)(strstr(full, "\n7,") + 1 - full);
    c = train_csv_open(path, 6);
    tu_check(c != NULL, "resume opens");
    if (!c) return;
    char *resumed = slurp(path);
    tu_check(resumed && strlen(resumed) == keep && !memcmp(resumed, full, keep),
             "resume at 6: header and rows 1..6 kept byte for byte, 7..10 dropped");
    write_rows(c, 7, 8, 2.0);
    train_csv_close(c);
    char *after = slurp(path);
    tu_check(after && !memcmp(after, full, keep) && count_char(after, '\n') == 9 &&
                 !strcmp(line_of(after, 7, l, sizeof l),
                         "7,2,0.00014,0.285714286,0.0285714286,0.83,1.71428571,3.5"),
             "resumed run appends after the kept rows");
    free(resumed);

    /* a run killed mid-row: the partial line is dropped on resume and ignored on read */
    FILE *f = fopen(path, "a");
    fputs("9,3,0.00018,0.2", f);
    fclose(f);
    tu_check(train_csv_read(path, &rows) == VE_OK && rows.n == 8, "read skips a cut-off row");
    train_csv_rows_free(&rows);
    c = train_csv_open(path, 100);
    char *cut = slurp(path);
    tu_check(c && cut && !strcmp(cut, after), "resume drops a cut-off last row, keeps the rest");
    train_csv_close(c);
    free(cut);
    free(after);
    free(mid);
    free(full);

    /* a missing log on resume starts afresh */
    const char *fresh = tu_scratch_path("fresh.csv");
    c = train_csv_open(fresh, 50);
    char *fr = slurp(fresh);
    tu_check(c && fr && !strcmp(fr, TRAIN_CSV_HEADER "\n"), "resume without a log starts one");
    train_csv_close(c);
    free(fr);

    /* refusals: the file is left as it was */
    const char *bad = tu_scratch_path("bad.csv");
    tu_write_file(bad, "foo,bar\n1,2\n", 12);
    tu_check(!train_csv_open(bad, 1) && error_names(bad) && error_names("line 1") &&
                 tu_file_size(bad) == 12 && !exists(tu_scratch_path("bad.csv.tmp")),
             "resume of a file with another header fails naming file and line, file untouched");
    tu_check(train_csv_read(bad, &rows) != VE_OK && error_names("line 1") && rows.n == 0,
             "read of a file with another header fails");
    const char *badrow = tu_scratch_path("badrow.csv");
    char text[256];
    int n =
        snprintf(text, sizeof text, "%s\n1,1,0,1,1,1,1,1\nx1,1,0,1,1,1,1,1\n", TRAIN_CSV_HEADER);
    tu_write_file(badrow, text, (size_t)n);
    tu_check(!train_csv_open(badrow, 5) && error_names(badrow) && error_names("line 3") &&
                 error_names("\"x1\"") && tu_file_size(badrow) == n,
             "resume of a log with a bad step fails naming the line");
    n = snprintf(text, sizeof text, "%s\n1,1,0,1,1,1,1,1\n2,1,0\n", TRAIN_CSV_HEADER);
    tu_write_file(badrow, text, (size_t)n);
    tu_check(train_csv_read(badrow, &rows) != VE_OK && error_names("line 3"),
             "read of a short row fails naming the line");
    tu_check(train_csv_read(tu_scratch_path("none.csv"), &rows) != VE_OK && error_names("none.csv"),
             "read of a missing log fails naming it");

    const char *blocker = tu_scratch_path("a_file");
    tu_write_file(blocker, "x", 1);
    const char *unwritable = tu_scratch_path("a_file/log.csv");
    tu_check(!train_csv_open(unwritable, 0) && error_names(unwritable),
             "an unwritable log path fails naming it");
    tu_check(!train_csv_open(unwritable, 3) && error_names(unwritable),
             "an unwritable log path fails on resume too");
}

/* ---- loss plot ---- */

static float px(const ve_image *im, int c, int x, int y) {
    return im->data[((size_t)c * (size_t)im->h + (size_t)y) * (size_t)im->w + (size_t)x];
}

static int is_dark_blue(const ve_image *im, int x, int y) {
    return px(im, 0, x, y) < 60 && px(im, 1, x, y) < 100 && px(im, 2, x, y) > 130;
}

static int is_ink(const ve_image *im, int x, int y) {
    return px(im, 0, x, y) < 100 && px(im, 1, x, y) < 100 && px(im, 2, x, y) < 100;
}

static int count_ink(const ve_image *im, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            n += is_ink(im, x, y);
    return n;
}

/* Every plot column whose x (axis 0..100) lies in [xa, xb] has dark curve pixels spanning the
 * row that want(x) maps to (axis value f in [f0, f1]), within 3 pixels, in a short run. */
static int curve_follows(const ve_image *im, double xa, double xb, double (*want)(double),
                         double f0, double f1) {
    int bad = 0, checked = 0;
    for (int c = LOSS_PLOT_LEFT + 1; c < LOSS_PLOT_RIGHT; c++) {
        double x = (c - LOSS_PLOT_LEFT) * 100.0 / (LOSS_PLOT_RIGHT - LOSS_PLOT_LEFT);
        if (x < xa || x > xb) continue;
        double row =
            LOSS_PLOT_BOTTOM - (want(x) - f0) / (f1 - f0) * (LOSS_PLOT_BOTTOM - LOSS_PLOT_TOP);
        int lo = -1, hi = -1;
        for (int y = LOSS_PLOT_TOP; y <= LOSS_PLOT_BOTTOM; y++)
            if (is_dark_blue(im, c, y)) {
                if (lo < 0) lo = y;
                hi = y;
            }
        checked++;
        if (lo < 0 || row < lo - 3 || row > hi + 3 || hi - lo > 12) {
            if (bad++ < 3)
                printf("  column %d (x %.2f): curve rows %d..%d, expected %.1f\n", c, x, lo, hi,
                       row);
        }
    }
    return checked > 100 && bad == 0;
}

static double neg_log10(double x) {
    return -log10(x);
}

static double line_2(double x) {
    return 2 - x / 100;
}

static void test_plot(void) {
    enum { N = 100 };
    double x[N + 1], y[N + 1];
    for (int i = 0; i < N; i++)
        x[i] = i + 1, y[i] = 1.0 / (i + 1);
    plot_series loss = {x, y, N};
    const char *path = tu_scratch_path("loss.png");
    tu_check(loss_plot_write(path, "Brain LoRA r=4: loss", &loss, NULL) == VE_OK, "plot writes");
    ve_image im;
    if (ve_image_load(path, &im) != VE_OK) {
        tu_check(0, ve_error());
        return;
    }
    tu_check(im.w == 800 && im.h == 500 && im.channels == 3 && im.bit_depth == 8,
             "800 x 500 RGB 8-bit PNG");
    /* 0.01..1 spans two decades: log axis over 10^-2..10^0; x axis 0..100 */
    tu_check(curve_follows(&im, 15, 99, neg_log10, -2, 0),
             "y = 1/x: the smoothed curve lies on the log-scale mapping");
    tu_check(count_ink(&im, 0, 0, 799, LOSS_PLOT_TOP - 14) > 100, "title text pixels");
    tu_check(count_ink(&im, 0, LOSS_PLOT_TOP - 4, LOSS_PLOT_LEFT - 6, LOSS_PLOT_BOTTOM + 4) > 30,
             "y tick labels: text pixels left of the axis");
    tu_check(count_ink(&im, LOSS_PLOT_LEFT, LOSS_PLOT_BOTTOM + 6, LOSS_PLOT_RIGHT,
                       LOSS_PLOT_BOTTOM + 30) > 60,
             "x tick labels and axis name: text pixels below the axis");
    tu_check(count_ink(&im, LOSS_PLOT_RIGHT + 5, LOSS_PLOT_TOP - 4, 799, LOSS_PLOT_BOTTOM + 4) == 0,
             "no right-axis labels without a dice series");
    ve_image_free(&im);

    /* linear axis (1..2 is under a decade) with dice dots on the right axis */
    for (int i = 0; i <= N; i++)
        x[i] = i, y[i] = 2 - i / 100.0;
    loss.n = N + 1;
    double dx[5] = {20, 40, 60, 80, 100}, dy[5] = {0.5, 0.5, NAN, 0.5, 1.5};
    plot_series dice = {dx, dy, 5};
    const char *lin = tu_scratch_path("linear.png");
    tu_check(loss_plot_write(lin, "linear", &loss, &dice) == VE_OK && ve_image_load(lin, &im) == 0,
             "linear plot with dice writes");
    if (im.data) {
        tu_check(curve_follows(&im, 1, 99, line_2, 1, 2),
                 "y = 2 - x/100: the curve lies on the linear mapping (axis 1..2)");
        int mid = (LOSS_PLOT_TOP + LOSS_PLOT_BOTTOM + 1) / 2;
        int c40 = (int)lround(LOSS_PLOT_LEFT + 0.4 * (LOSS_PLOT_RIGHT - LOSS_PLOT_LEFT));
        int c100 = LOSS_PLOT_RIGHT;
        tu_check(px(&im, 0, c40, mid) > 200 && px(&im, 2, c40, mid) < 60 &&
                     px(&im, 0, c100, LOSS_PLOT_TOP) > 200 && px(&im, 2, c100, LOSS_PLOT_TOP) < 60,
                 "dice dots: orange at (40, 0.5) and at (100, clamped to 1)");
        tu_check(count_ink(&im, LOSS_PLOT_RIGHT + 5, LOSS_PLOT_TOP - 4, 799, LOSS_PLOT_BOTTOM + 4) >
                     30,
                 "right-axis tick labels for dice");
        ve_image_free(&im);
    }

    /* a zigzag with NaN and infinite points (skipped): the raw line shows the zigzag in light
     * blue, the smoothed line runs flat through the middle */
    for (int i = 0; i <= N; i++)
        x[i] = i, y[i] = 1 + i % 2;
    y[10] = NAN, y[20] = INFINITY, x[30] = NAN;
    const char *zig = tu_scratch_path("zigzag.png");
    tu_check(loss_plot_write(zig, "nan", &loss, NULL) == VE_OK && ve_image_load(zig, &im) == 0,
             "non-finite points are skipped");
    if (im.data) {
        int raw = 0;
        for (int yy = LOSS_PLOT_TOP; yy <= LOSS_PLOT_BOTTOM; yy++)
            for (int xx = LOSS_PLOT_LEFT; xx <= LOSS_PLOT_RIGHT; xx++)
                raw += px(&im, 0, xx, yy) > 140 && px(&im, 0, xx, yy) < 180 &&
                       px(&im, 2, xx, yy) > 220;
        tu_check(raw > 2000, "the raw loss line is drawn (light blue zigzag)");
        ve_image_free(&im);
    }

    /* refusals: clear message, no file */
    for (int i = 0; i <= N; i++)
        y[i] = NAN;
    const char *none = tu_scratch_path("none.png");
    tu_check(loss_plot_write(none, "t", &loss, NULL) != VE_OK && error_names(none) &&
                 error_names("finite") && !exists(none),
             "all-NaN loss: error naming the file, no file");
    plot_series empty = {x, y, 0};
    tu_check(loss_plot_write(none, "t", &empty, NULL) != VE_OK && error_names("no loss values") &&
                 loss_plot_write(none, "t", NULL, NULL) != VE_OK && !exists(none),
             "empty or missing loss series: error, no file");
    plot_series broken = {NULL, NULL, 3};
    tu_check(loss_plot_write(none, "t", &broken, NULL) != VE_OK && !exists(none),
             "a series without arrays: error, no crash");
    long before = tu_file_size(path);
    tu_check(loss_plot_write(path, "t", &loss, NULL) != VE_OK && tu_file_size(path) == before,
             "a failed redraw leaves the previous plot as it was");
    const char *unwritable = tu_scratch_path("a_file/loss.png");
    for (int i = 0; i <= N; i++)
        y[i] = 1 + i;
    tu_check(loss_plot_write(unwritable, "t", &loss, NULL) != VE_OK && error_names(unwritable) &&
                 !exists(unwritable) && !exists(tu_scratch_path("a_file/loss.png.tmp")),
             "an unwritable path: error naming it, no partial file");

    /* from the CSV log */
    const char *csv = tu_scratch_path("train_log.csv"), *from = tu_scratch_path("from_csv.png");
    tu_check(loss_plot_from_csv(from, "from csv", csv, NULL) == VE_OK && tu_file_size(from) > 0,
             "plot from the CSV log");
    const char *missing = tu_scratch_path("missing.csv");
    tu_check(loss_plot_from_csv(from, "t", missing, NULL) != VE_OK && error_names(missing),
             "plot from a missing log fails naming it");
    train_csv_close(train_csv_open(tu_scratch_path("empty.csv"), 0));
    tu_check(loss_plot_from_csv(from, "t", tu_scratch_path("empty.csv"), NULL) != VE_OK &&
                 error_names("no rows"),
             "plot from a log without rows fails");
}

int main(void) {
    tu_scratch_open("trainlog");
    test_progress_lines();
    test_progress_tty();
    test_csv();
    test_plot();
    if (!getenv("TRAIN_LOG_KEEP")) tu_scratch_close();
    return tu_exit();
}
