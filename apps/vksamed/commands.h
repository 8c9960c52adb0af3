/* The vksamed CLI's subcommands, one file each. Each returns the process exit code. */
#ifndef VKSAMED_COMMANDS_H
#define VKSAMED_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_bench(int argc, char **argv);     /* dispatches to the bench_* below */
int bench_matmul(int argc, char **argv);  /* apps/vksamed/bench_matmul.c */
int bench_encoder(int argc, char **argv); /* apps/vksamed/bench_encoder.c */
int bench_train(int argc, char **argv);   /* apps/vksamed/bench_train.c */
int bench_prompt(int argc, char **argv);  /* apps/vksamed/bench_prompt.c */
int cmd_train(int argc, char **argv);     /* apps/vksamed/cmd_train.c */
int cmd_eval(int argc, char **argv);      /* apps/vksamed/cmd_eval.c */
int cmd_info(int argc, char **argv);      /* apps/vksamed/cmd_info.c */
int cmd_segment(int argc, char **argv);   /* apps/vksamed/cmd_segment.c */

/* Shared option: --device SEL (index or name substring); NULL when not given. */
const char *cli_device_option(int argc, char **argv);

#endif
