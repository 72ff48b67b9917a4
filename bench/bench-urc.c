// SPDX-License-Identifier: LGPL-2.1-or-later
/* Benchmark 3 (docs/performance.md): URC to Urc-signal latency against a bare GDBus signal.
 *
 * Both paths start the same way: a line written to a FIFO. For the daemon, the simulator's
 * control FIFO ("urc LINE"): the simulator writes the line to its pty, the daemon frames it and
 * emits Modem.Urc. For the baseline, minimal-owner's FIFO: it reads the line and emits a signal
 * on the same private bus. The clock runs from just before the FIFO write to the subscribed
 * signal handler; nothing is subtracted, both are reported.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	char *want;
	double at_us;
	gboolean seen;
} Expect;

static void
on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *signal, GVariant *params, gpointer user_data)
{
	Expect *e = user_data;
	const char *line;

	if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(s)")))
		return;
	g_variant_get(params, "(&s)", &line);
	if (e->want && g_str_equal(line, e->want) && !e->seen) {
		e->at_us = bench_now_us();
		e->seen = TRUE;
	}
}

static gboolean
fifo_write(int fd, const char *line, GError **error)
{
	gsize len = strlen(line);

	if (write(fd, line, len) != (ssize_t)len) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "write FIFO: %s",
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* Writes @fifo_line, waits for a signal whose argument is @want; the latency in *@us. */
static gboolean
one(Expect *e, int fd, const char *fifo_line, const char *want, double *us, GError **error)
{
	double t0;

	g_free(e->want);
	e->want = g_strdup(want);
	e->seen = FALSE;
	t0 = bench_now_us();
	if (!fifo_write(fd, fifo_line, error))
		return FALSE;
	if (!bench_wait_flag(&e->seen, 5)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no signal \"%s\" within 5 s",
		            want);
		return FALSE;
	}
	*us = e->at_us - t0;
	return TRUE;
}

static void
on_name_appeared(GDBusConnection *c, const char *name, const char *owner, gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

int
bench_cmd_urc(int argc, char **argv)
{
	g_autofree char *control = NULL, *modem = NULL, *efifo = NULL, *ename = NULL;
	int iterations = 500, warmup = 20;
	GOptionEntry entries[] = {
		{ "control", 0, 0, G_OPTION_ARG_FILENAME, &control, "sim control FIFO", "PATH" },
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "emitter-fifo", 0, 0, G_OPTION_ARG_FILENAME, &efifo, "minimal-owner FIFO",
		  "PATH" },
		{ "emitter-name", 0, 0, G_OPTION_ARG_STRING, &ename, "its bus name", "NAME" },
		{ "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "measured rounds", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) t_urc = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_sig = g_array_new(FALSE, FALSE, sizeof(double));
	g_autofree char *d_urc = NULL, *d_sig = NULL, *m = NULL, *b = NULL;
	Expect e_urc = { 0 }, e_sig = { 0 };
	BenchStats s_urc, s_sig;
	guint sub_urc, sub_sig, watch;
	gboolean emitter_up = FALSE;
	int cfd = -1, efd = -1;
	int status = 0;

	if (!bench_parse("urc", entries, &argc, &argv))
		return 1;
	if (!control || !efifo || !ename || !modem || iterations < 1) {
		g_printerr("dfota-bench urc: --control, --modem, --emitter-fifo and --emitter-name "
		           "are required\n");
		return 1;
	}
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error)) {
		g_printerr("dfota-bench urc: %s\n", error->message);
		return 1;
	}
	/* minimal-owner emits only once it owns its name */
	watch = g_bus_watch_name_on_connection(conn, ename, G_BUS_NAME_WATCHER_FLAGS_NONE,
	                                       on_name_appeared, NULL, &emitter_up, NULL);
	bench_wait_flag(&emitter_up, 30);
	g_bus_unwatch_name(watch);
	if (!emitter_up) {
		g_printerr("dfota-bench urc: %s did not appear on the bus\n", ename);
		return 1;
	}
	cfd = open(control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	efd = open(efifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (cfd < 0 || efd < 0) {
		g_printerr("dfota-bench urc: open %s: %s\n", cfd < 0 ? control : efifo,
		           g_strerror(errno));
		status = 1;
		goto out;
	}
	sub_urc = g_dbus_connection_signal_subscribe(conn, BENCH_BUS_NAME, BENCH_MODEM_IFACE, "Urc",
	                                             modem, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
	                                             on_signal, &e_urc, NULL);
	sub_sig = g_dbus_connection_signal_subscribe(conn, ename, NULL, "Urc", NULL, NULL,
	                                             G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &e_sig,
	                                             NULL);
	/* The bus applies the match rules before it answers this call (messages are ordered), and
	 * dfotad answers a Command only after every command queued before it (FIFO): a URC line
	 * written after this cannot be lost to a missing match rule nor taken as an information
	 * line of a command still in flight from an earlier benchmark. */
	if (!bench_command(conn, modem, "AT", &error)) {
		g_printerr("dfota-bench urc: %s\n", error->message);
		status = 1;
		goto out;
	}
	for (int i = -warmup; i < iterations; i++) {
		g_autofree char *urc = g_strdup_printf("+BENCHURC: %d", i + warmup);
		g_autofree char *cline = g_strdup_printf("urc %s\n", urc);
		g_autofree char *eline = g_strdup_printf("%s\n", urc);
		double a, z;

		if (!one(&e_urc, cfd, cline, urc, &a, &error) ||
		    !one(&e_sig, efd, eline, urc, &z, &error))
			break;
		if (i < 0)
			continue;
		g_array_append_val(t_urc, a);
		g_array_append_val(t_sig, z);
	}
	g_dbus_connection_signal_unsubscribe(conn, sub_urc);
	g_dbus_connection_signal_unsubscribe(conn, sub_sig);
	if (error) {
		g_printerr("dfota-bench urc: %s\n", error->message);
		status = 1;
		goto out;
	}
	s_urc = bench_stats(t_urc);
	s_sig = bench_stats(t_sig);
	d_urc = bench_stats_describe(&s_urc, "us");
	d_sig = bench_stats_describe(&s_sig, "us");
	g_print("# 3. FIFO -> sim -> pty -> dfotad -> Urc: %s\n", d_urc);
	g_print("# 3. FIFO -> minimal emitter -> signal:    %s\n", d_sig);
	m = g_strdup_printf("%.1f us", s_urc.median);
	b = g_strdup_printf("%.1f us", s_sig.median);
	bench_row("3. URC -> Urc signal, median", m, b, s_urc.median / s_sig.median, "<= 1.5",
	          s_urc.median / s_sig.median <= 1.5);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%.1f us", s_urc.p99);
	b = g_strdup_printf("%.1f us", s_sig.p99);
	bench_row("3. URC -> Urc signal, p99", m, b, s_urc.p99 / s_sig.p99, NULL, FALSE);
out:
	g_free(e_urc.want);
	g_free(e_sig.want);
	if (cfd >= 0)
		close(cfd);
	if (efd >= 0)
		close(efd);
	return status;
}
