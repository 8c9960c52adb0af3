/* What `vksamed train` shows and keeps while it runs: a progress bar on stderr and a CSV log with
 * one row per step (read back for the loss-curve PNG, apps/vksamed/loss_plot.h).
 *
 * Failures return NULL / VE_FAIL with a ve_fail() message (engine/status.h) naming the file. */
#ifndef VKSAMED_TRAIN_LOG_H
#define VKSAMED_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

/* ---- progress bar ---- */

typedef struct train_progress train_progress;

/* total_steps of the run, the step it starts at (0, or the step a resumed run continues after),
 * and where it prints (stderr normally). On a terminal (isatty) the bar redraws in place with '\r'
 * at most 10 times a second (and always for the last step); otherwise (CI logs, pipes) it prints
 * a plain line every `every` steps (every <= 0: about 50 lines per run) and for the last step, so
 * logs stay readable. Returns NULL only when out of memory. */
train_progress *train_progress_create(int64_t total_steps, int64_t start_step, FILE *out,
                                      int64_t every);

/* After step `step` (1-based, start_step < step <= total_steps). The line reads
 *   [#######.............]  120/1000 ep 3 | 2.41 it/s 28.9 img/s | loss 0.4123 (last 0.3980)
 *   ce 0.1234 dice 0.5678 | lr 4.8e-03 | ETA 0:06:05 elapsed 0:00:50
 * (one line): it/s is steps per second over a sliding window of the last 20 updates (including
 * the moment of create), img/s is it/s * batch, loss is an exponential moving average (0.9 old +
 * 0.1 new; non-finite losses are shown as last but left out of the average), ETA is the
 * remaining steps at the current it/s as h:mm:ss ("-:--:--" before any rate is known), elapsed
 * is the time since create. */
void train_progress_update(train_progress *p, int64_t step, int epoch, double loss, double ce,
                           double dice, double lr, int batch);

/* Ends the bar: the last update is shown if it was not, then a newline. Frees p (NULL is fine). */
void train_progress_finish(train_progress *p);

/* A message line (checkpoint saved, eval result) printed above the bar without garbling it: on a
 * terminal the bar is cleared, the message printed with a newline, and the bar redrawn. */
void train_progress_note(train_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* For tests: replaces the monotonic clock (seconds) and forces terminal (1) or plain-line (0)
 * mode. Call right after create; the clock is read again at once as the start time. */
void train_progress_set_clock(train_progress *p, double (*now)(void *ctx), void *ctx);
void train_progress_set_tty(train_progress *p, int tty);
/* The terminal's width in columns (create reads it with TIOCGWINSZ; 0: unlimited). A terminal
 * line that would not fit is drawn compact ("[#####.....] 120/1000 ep 3 ETA 0:06:05 (0:00:50) |
 * loss 0.4123 (0.398) | 2.41 it/s | lr 4.8e-03") and cut at the width, since a wrapped line
 * cannot be redrawn in place. */
void train_progress_set_width(train_progress *p, int cols);

/* ---- CSV log ---- */

/* The header line the log starts with (without the newline). */
#define TRAIN_CSV_HEADER "step,epoch,lr,loss,ce,dice,images_per_s,elapsed_s"

typedef struct train_csv train_csv;

/* resume_step 0: a new run, the file is created or truncated and gets the header.
 * resume_step s > 0: the run continues after step s. The existing log keeps its header and the
 * rows with step <= s byte for byte; later rows (written by a run killed after its last
 * checkpoint) and a last line cut off without its newline are dropped; the file is rewritten
 * atomically (PATH.tmp, rename) and then appended to. A missing log is started afresh; a log
 * whose header or a row's step does not parse is an error naming the file and line. */
train_csv *train_csv_open(const char *path, int64_t resume_step);

/* One row, numbers printed with %.9g (resume exactness is checked on these digits), flushed. */
int train_csv_row(train_csv *c, int64_t step, int epoch, double lr, double loss, double ce,
                  double dice, double ips, double elapsed);

/* Closes and frees (NULL is fine). */
void train_csv_close(train_csv *c);

/* A log read back: n rows, each column an array of n values. */
typedef struct {
    int n;
    double *step, *epoch, *lr, *loss, *ce, *dice, *ips, *elapsed;
} train_csv_rows;

/* Reads a log written by train_csv_*: checks the header, parses every complete row (a last line
 * without its newline is ignored, as a run may be writing it). A malformed row is an error
 * naming the file and line. On failure *rows is zeroed. */
int train_csv_read(const char *path, train_csv_rows *rows);
void train_csv_rows_free(train_csv_rows *rows);

#endif
