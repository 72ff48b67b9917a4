// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-bench: benchmarks of dfotad against baselines measured in the same run
 * (docs/performance.md).
 *
 * Each subcommand measures one thing and its baseline, prints "#" detail lines and one or more
 * table rows of the form
 *   | item | measured | baseline | ratio | target | verdict |
 * A benchmark fails (exit status 1) only when it cannot run; a missed target is reported, not
 * failed, because the numbers depend on the machine.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#define BENCH_BUS_NAME "org.dfotad1"
#define BENCH_MODEM_IFACE "org.dfotad1.Modem"
#define BENCH_FOTA_IFACE "org.dfotad1.Fota"
#define BENCH_FILES_IFACE "org.dfotad1.Files"

/* Statistics of a sample, all in the unit of the samples. */
typedef struct {
	guint n;
	double min, median, p99, max, mean;
} BenchStats;

/* CLOCK_MONOTONIC in microseconds (double, ns resolution); system-wide, so it can be compared
 * between processes. */
double bench_now_us(void);
BenchStats bench_stats(GArray *samples_double);
/* "median/p99/min/max" with 1 decimal, for "#" lines. */
char *bench_stats_describe(const BenchStats *s, const char *unit);

/* One row of the result table. @target: e.g. "<= 1.3", NULL for an informational row;
 * @met: the verdict. */
void bench_row(const char *item, const char *measured, const char *baseline, double ratio,
               const char *target, gboolean met);

/* A bus connection of its own (not the shared singleton), to the session bus address. */
GDBusConnection *bench_bus_new(GError **error);

/* Waits (main context iterations, deadline) until the Modem object at @path on @conn has
 * State @state. FALSE with a message on timeout. */
gboolean bench_wait_modem_state(GDBusConnection *conn, const char *path, const char *state,
                                double timeout_s, GError **error);

/* Modem.Command synchronously; returns FALSE and sets @error on a D-Bus error. */
gboolean bench_command(GDBusConnection *conn, const char *path, const char *command,
                       GError **error);
/* The same to another bus name (a floor-modem of benchmark 1). */
gboolean bench_command_to(GDBusConnection *conn, const char *name, const char *path,
                          const char *command, GError **error);

/* The host side of a simulator's pty: opened raw, blocking with poll deadlines. */
int bench_pty_open(const char *path, GError **error);
/* Writes @command + CR and reads until a final result line (OK, ERROR, +CME ERROR). */
gboolean bench_pty_roundtrip(int fd, const char *command, double timeout_s, GError **error);

/* Iterates the thread-default main context until *@flag or the deadline. */
gboolean bench_wait_flag(gboolean *flag, double timeout_s);
/* SIGTERM, then SIGKILL after 10 s; waits for the exit either way. NULL is ignored. */
void bench_stop_process(GSubprocess *p);

/* A "VmRSS:"-style field of /proc/PID/status in kB, or -1. */
double bench_status_kb(const char *pid, const char *key);

/* Subcommands (bench-at.c, bench-urc.c, bench-upload.c, bench-fetch.c, bench-idle.c) */
int bench_cmd_rtt(int argc, char **argv);
int bench_cmd_throughput(int argc, char **argv);
int bench_cmd_client(int argc, char **argv);
int bench_cmd_urc(int argc, char **argv);
int bench_cmd_upload(int argc, char **argv);
int bench_cmd_fetch(int argc, char **argv);
int bench_cmd_idle(int argc, char **argv);
int bench_cmd_scale_modems(int argc, char **argv);
int bench_cmd_scale_jobs(int argc, char **argv);

/* Parses GOptionEntry options for a subcommand; prints the error and returns FALSE. */
gboolean bench_parse(const char *name, GOptionEntry *entries, int *argc, char ***argv);
