/* The progress bar and CSV log of `vksamed train` (see train_log.h). The bar measures its own
 * rate over a sliding window so a slow first step (compilation) does not skew the ETA for long;
 * the CSV is plain text, flushed per row, so a killed run loses at most the row being written. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench_util.h"
#include "io/atomic_file.h"
#include "status.h"
#include "train_log.h"

/* ---- progress bar ---- */

#define WINDOW 21 /* (step, time) samples: 20 intervals */
#define BAR_CELLS 20
#define TTY_PERIOD_S 0.1

struct train_progress {
    FILE *out;
    int64_t total, start, every;
    int tty, cols; /* cols: the terminal's width, 0 if unknown */
    double (*now)(void *ctx);
    void *ctx;
    double t0, last_draw;
    int64_t win_step[WINDOW];
    double win_t[WINDOW];
    int win_n, win_head; /* win_head: index of the next sample written */
    double ema;
    int have_ema;
    /* the last update, for redraws */
    int has_update, shown; /* shown: the last update's line is on screen / in the log */
    int64_t step;
    int epoch, batch;
    double loss, ce, dice, lr, t;
    size_t drawn_len; /* terminal: length of the bar line now on screen, 0 if none */
};

static double clock_now(void *ctx) {
    (void)ctx;
    return bench_now_s();
}

static void window_push(train_progress *p, int64_t step, double t) {
    p->win_step[p->win_head] = step;
    p->win_t[p->win_head] = t;
    p->win_head = (p->win_head + 1) % WINDOW;
    if (p->win_n < WINDOW) p->win_n++;
}

/* Steps per second between the oldest and newest samples; 0 when unknown. */
static double window_rate(const train_progress *p) {
    if (p->win_n < 2) return 0;
    int newest = (p->win_head + WINDOW - 1) % WINDOW;
    int oldest = (p->win_head + WINDOW - p->win_n) % WINDOW;
    double dt = p->win_t[newest] - p->win_t[oldest];
    double ds = (double)(p->win_step[newest] - p->win_step[oldest]);
    return dt > 0 && ds > 0 ? ds / dt : 0;
}

/* h:mm:ss, or -:--:-- when s is unknown. */
static void format_hms(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0 || s > 1e9) {
        snprintf(buf, n, "-:--:--");
        return;
    }
    long long t = llround(s);
    snprintf(buf, n, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

/* The bar line; compact: a shorter one for narrow terminals, ETA first, without ce and dice. */
static void format_line(const train_progress *p, int compact, char *buf, size_t n) {
    char bar[BAR_CELLS + 1], eta[32], elapsed[32];
    int cells = compact ? BAR_CELLS / 2 : BAR_CELLS;
    double frac = p->total > 0 ? (double)p->step / (double)p->total : 1;
    int full = (int)(fmin(fmax(frac, 0), 1) * cells);
    for (int i = 0; i < cells; i++)
        bar[i] = i < full ? '#' : '.';
    bar[cells] = 0;
    double rate = window_rate(p);
    format_hms(rate > 0 ? (double)(p->total - p->step) / rate : NAN, eta, sizeof eta);
    format_hms(p->t - p->t0, elapsed, sizeof elapsed);
    int width = snprintf(NULL, 0, "%lld", (long long)p->total);
    double loss = p->have_ema ? p->ema : p->loss;
    if (compact) {
        snprintf(buf, n,
                 "[%s] %*lld/%lld ep %d ETA %s (%s) | loss %.4g (%.4g) | %.3g it/s | lr %.1e", bar,
                 width, (long long)p->step, (long long)p->total, p->epoch, eta, elapsed, loss,
                 p->loss, rate, p->lr);
        return;
    }
    snprintf(buf, n,
             "[%s] %*lld/%lld ep %d | %.3g it/s %.3g img/s | loss %.4g (last %.4g) ce %.4g dice "
             "%.4g | lr %.2e | ETA %s elapsed %s",
             bar, width, (long long)p->step, (long long)p->total, p->epoch, rate, rate * p->batch,
             loss, p->loss, p->ce, p->dice, p->lr, eta, elapsed);
}

static void draw(train_progress *p) {
    char line[512];
    format_line(p, 0, line, sizeof line);
    size_t len = strlen(line);
    if (p->tty && p->cols > 0 && len >= (size_t)p->cols) {
        /* a line that wraps cannot be redrawn with '\r': shorten it to the terminal's width */
        format_line(p, 1, line, sizeof line);
        len = strlen(line);
        if (len >= (size_t)p->cols) line[len = (size_t)p->cols - 1] = 0;
    }
    if (p->tty) {
        fprintf(p->out, "\r%s", line);
        /* blank out the rest of a longer previous line */
        for (size_t i = len; i < p->drawn_len; i++)
            fputc(' ', p->out);
        p->drawn_len = len;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->shown = 1;
    p->last_draw = p->t;
}

static void clear_bar(train_progress *p) {
    if (!p->tty || !p->drawn_len) return;
    fputc('\r', p->out);
    for (size_t i = 0; i < p->drawn_len; i++)
        fputc(' ', p->out);
    fputc('\r', p->out);
    p->drawn_len = 0;
}

train_progress *train_progress_create(int64_t total_steps, int64_t start_step, FILE *out,
                                      int64_t every) {
    train_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->out = out ? out : stderr;
    p->total = total_steps;
    p->start = start_step;
    p->every = every > 0 ? every : (total_steps - start_step) / 50;
    if (p->every < 1) p->every = 1;
    p->tty = isatty(fileno(p->out));
    struct winsize ws;
    if (p->tty && ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0) p->cols = ws.ws_col;
    p->now = clock_now;
    p->t0 = p->now(p->ctx);
    window_push(p, start_step, p->t0);
    return p;
}

void train_progress_set_clock(train_progress *p, double (*now)(void *ctx), void *ctx) {
    if (!p || !now) return;
    p->now = now;
    p->ctx = ctx;
    p->t0 = now(ctx);
    p->win_n = p->win_head = 0;
    window_push(p, p->start, p->t0);
}

void train_progress_set_tty(train_progress *p, int tty) {
    if (p) p->tty = tty != 0;
}

void train_progress_set_width(train_progress *p, int cols) {
    if (p) p->cols = cols > 1 ? cols : 0;
}

void train_progress_update(train_progress *p, int64_t step, int epoch, double loss, double ce,
                           double dice, double lr, int batch) {
    if (!p) return;
    p->t = p->now(p->ctx);
    window_push(p, step, p->t);
    if (isfinite(loss)) {
        p->ema = p->have_ema ? 0.9 * p->ema + 0.1 * loss : loss;
        p->have_ema = 1;
    }
    p->has_update = 1;
    p->shown = 0;
    p->step = step;
    p->epoch = epoch;
    p->loss = loss;
    p->ce = ce;
    p->dice = dice;
    p->lr = lr;
    p->batch = batch;
    int last = step >= p->total;
    if (p->tty ? last || !p->drawn_len || p->t - p->last_draw >= TTY_PERIOD_S
               : last || step % p->every == 0)
        draw(p);
}

void train_progress_note(train_progress *p, const char *fmt, ...) {
    FILE *out = p ? p->out : stderr;
    if (p) clear_bar(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    size_t n = strlen(fmt);
    if (n == 0 || fmt[n - 1] != '\n') fputc('\n', out);
    if (p && p->tty && p->has_update) draw(p);
    fflush(out);
}

void train_progress_finish(train_progress *p) {
    if (!p) return;
    if (p->has_update && !p->shown) draw(p);
    if (p->tty && p->drawn_len) fputc('\n', p->out);
    fflush(p->out);
    free(p);
}

/* ---- CSV log ---- */

struct train_csv {
    FILE *f;
    char *path;
};

/* The step at the start of a row; -1 if it does not parse. */
static long long row_step(const char *line) {
    char *end;
    errno = 0;
    long long s = strtoll(line, &end, 10);
    if (end == line || *end != ',' || errno || s < 0) return -1;
    return s;
}

static int header_ok(const char *line, ssize_t n) {
    size_t h = strlen(TRAIN_CSV_HEADER);
    return (size_t)n == h + 1 && !memcmp(line, TRAIN_CSV_HEADER, h) && line[h] == '\n';
}

/* Rewrites path keeping the header and the complete rows with step <= keep. The source is read
 * whole before the rename, so a failure leaves the old log as it was. */
static int truncate_log(FILE *in, const char *path, int64_t keep) {
    ve_atomic_file a;
    if (ve_atomic_open(&a, path) != VE_OK) return VE_FAIL;
    char *line = NULL;
    size_t cap = 0;
    int rc = VE_OK, have_header = 0, reached = keep == 0;
    long lineno = 0;
    ssize_t n;
    while (rc == VE_OK && (n = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') break; /* cut off by a kill: dropped */
        if (lineno == 1) {
            if (!header_ok(line, n))
                rc = ve_fail("%s line 1: not a training log (header is not \"%s\")", path,
                             TRAIN_CSV_HEADER);
            else
                rc = ve_atomic_write(&a, line, (size_t)n);
            have_header = 1;
            continue;
        }
        long long s = row_step(line);
        int shown = (int)strcspn(line, ",\n");
        if (s > keep || (s < 0 && reached)) break; /* rows after the checkpoint: dropped */
        if (s < 0)
            rc = ve_fail("%s line %ld: step \"%.*s\" is not a number", path, lineno,
                         shown > 20 ? 20 : shown, line);
        else
            rc = ve_atomic_write(&a, line, (size_t)n);
        reached = s == keep;
    }
    if (rc == VE_OK && ferror(in)) rc = ve_fail("reading %s: %s", path, strerror(errno));
    /* an empty log, or one cut off inside its header */
    if (rc == VE_OK && !have_header)
        rc = ve_atomic_write(&a, TRAIN_CSV_HEADER "\n", strlen(TRAIN_CSV_HEADER) + 1);
    free(line);
    if (rc == VE_OK) return ve_atomic_commit(&a);
    ve_atomic_abort(&a);
    return rc;
}

train_csv *train_csv_open(const char *path, int64_t resume_step) {
    if (!path || !*path) {
        ve_fail("training log: no path");
        return NULL;
    }
    if (resume_step < 0) {
        ve_fail("training log %s: resume step %lld is negative", path, (long long)resume_step);
        return NULL;
    }
    train_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        ve_fail("training log %s: out of memory", path);
        return NULL;
    }
    FILE *in = resume_step > 0 ? fopen(path, "r") : NULL;
    if (resume_step > 0 && !in && errno != ENOENT) {
        ve_fail("cannot open training log %s: %s", path, strerror(errno));
        train_csv_close(c);
        return NULL;
    }
    if (in) {
        int rc = truncate_log(in, path, resume_step);
        fclose(in);
        if (rc != VE_OK) {
            train_csv_close(c);
            return NULL;
        }
        c->f = fopen(path, "a");
    } else {
        c->f = fopen(path, "w");
        if (c->f && (fputs(TRAIN_CSV_HEADER "\n", c->f) < 0 || fflush(c->f) != 0)) {
            ve_fail("writing training log %s: %s", path, strerror(errno));
            train_csv_close(c);
            return NULL;
        }
    }
    if (!c->f) {
        ve_fail("cannot create training log %s: %s", path, strerror(errno));
        train_csv_close(c);
        return NULL;
    }
    return c;
}

int train_csv_row(train_csv *c, int64_t step, int epoch, double lr, double loss, double ce,
                  double dice, double ips, double elapsed) {
    if (!c || !c->f) return ve_fail("training log: not open");
    if (fprintf(c->f, "%lld,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", (long long)step, epoch, lr, loss,
                ce, dice, ips, elapsed) < 0 ||
        fflush(c->f) != 0)
        return ve_fail("writing training log %s: %s", c->path, strerror(errno));
    return VE_OK;
}

void train_csv_close(train_csv *c) {
    if (!c) return;
    if (c->f) fclose(c->f);
    free(c->path);
    free(c);
}

/* ---- reading a log back ---- */

#define CSV_COLUMNS 8

static double **rows_column(train_csv_rows *r, int k) {
    double **cols[CSV_COLUMNS] = {&r->step, &r->epoch, &r->lr,  &r->loss,
                                  &r->ce,   &r->dice,  &r->ips, &r->elapsed};
    return cols[k];
}

/* Parses the 8 numbers of a row into v; returns 0 if it does not parse. */
static int parse_row(const char *line, double *v) {
    const char *s = line;
    for (int k = 0; k < CSV_COLUMNS; k++) {
        char *end;
        v[k] = strtod(s, &end);
        if (end == s || *end != (k + 1 < CSV_COLUMNS ? ',' : '\n')) return 0;
        s = end + 1;
    }
    return *s == 0;
}

void train_csv_rows_free(train_csv_rows *r) {
    if (!r) return;
    for (int k = 0; k < CSV_COLUMNS; k++)
        free(*rows_column(r, k));
    memset(r, 0, sizeof *r);
}

int train_csv_read(const char *path, train_csv_rows *r) {
    memset(r, 0, sizeof *r);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return ve_fail("cannot open training log %s: %s", path ? path : "(null)",
                       path ? strerror(errno) : "no path");
    char *line = NULL;
    size_t cap = 0;
    int rc = VE_OK, rows_cap = 0;
    long lineno = 0;
    ssize_t n;
    while (rc == VE_OK && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') break; /* being written */
        if (lineno == 1) {
            if (!header_ok(line, n))
                rc = ve_fail("%s line 1: not a training log (header is not \"%s\")", path,
                             TRAIN_CSV_HEADER);
            continue;
        }
        double v[CSV_COLUMNS];
        if (!parse_row(line, v)) {
            rc = ve_fail("%s line %ld: not %d comma-separated numbers", path, lineno, CSV_COLUMNS);
            break;
        }
        if (r->n == rows_cap) {
            int new_cap = rows_cap ? 2 * rows_cap : 256;
            for (int k = 0; k < CSV_COLUMNS && rc == VE_OK; k++) {
                double **col = rows_column(r, k);
                double *grown = realloc(*col, (size_t)new_cap * sizeof **col);
                if (!grown)
                    rc = ve_fail("%s: out of memory for %d rows", path, new_cap);
                else
                    *col = grown;
            }
            rows_cap = new_cap;
        }
        for (int k = 0; k < CSV_COLUMNS && rc == VE_OK; k++)
            (*rows_column(r, k))[r->n] = v[k];
        if (rc == VE_OK) r->n++;
    }
    if (rc == VE_OK && lineno == 0) rc = ve_fail("%s: empty, not a training log", path);
    if (rc == VE_OK && ferror(f)) rc = ve_fail("reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc != VE_OK) train_csv_rows_free(r);
    return rc;
}
