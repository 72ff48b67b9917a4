// SPDX-License-Identifier: LGPL-2.1-or-later
/* Benchmark 5 (docs/performance.md): the fetch phase of UpgradeViaHost against curl of the same URL, and the
 * daemon's responsiveness meanwhile.
 *
 * The job runs on one modem; a second thread, on its own bus connection, keeps sending
 * Command("AT") to another modem of the same daemon (a modem with a job refuses commands with
 * Busy, which would say nothing about the main loop). Its latency while the fetch runs is
 * compared with its latency before any job (the target: at most twice the idle median), and with the latency of
 * Peer.Ping, which the same thread alternates with Command: GDBus answers Ping on its worker
 * thread without the daemon's main loop, so Ping during the fetch is what the machine's load
 * (HTTP server, bus, 2 cores) costs any D-Bus call, whatever the daemon does. The fetch is
 * timed from the call to the first
 * Progress whose phase is no longer "fetching"; the job then goes on (upload, local upgrade)
 * and the next round starts after its Finished.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	GDBusConnection *conn;
	char *modem;
	GMutex lock;
	GArray *spans;      /* Command: pairs of doubles, start and end (us) */
	GArray *ping_spans; /* Peer.Ping, the same */
	gint stop;
	GError *error;
} Side;

static gpointer
side_thread(gpointer data)
{
	Side *s = data;

	for (guint i = 0; !g_atomic_int_get(&s->stop); i++) {
		gboolean ping = i % 2;
		double t0 = bench_now_us(), t1;
		GError *e = NULL;
		g_autoptr(GVariant) r = NULL;

		if (ping)
			r = g_dbus_connection_call_sync(
			        s->conn, BENCH_BUS_NAME, "/", "org.freedesktop.DBus.Peer", "Ping",
			        NULL, NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &e);
		if ((ping && !r) || (!ping && !bench_command(s->conn, s->modem, "AT", &e))) {
			s->error = e;
			break;
		}
		t1 = bench_now_us();
		g_mutex_lock(&s->lock);
		g_array_append_val(ping ? s->ping_spans : s->spans, t0);
		g_array_append_val(ping ? s->ping_spans : s->spans, t1);
		g_mutex_unlock(&s->lock);
	}
	return NULL;
}

typedef struct {
	double left_fetch_us; /* 0 until Phase leaves "fetching" */
	gboolean saw_fetching;
	gboolean finished;
	gboolean left;
	gboolean success;
	char *error;
} Job;

static void
on_fota_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *params, gpointer user_data)
{
	Job *j = user_data;

	if (g_str_equal(signal, "Progress")) {
		const char *phase;

		g_variant_get(params, "(&su)", &phase, NULL);
		if (g_str_equal(phase, "fetching"))
			j->saw_fetching = TRUE;
		else if (!j->left) {
			j->left_fetch_us = bench_now_us();
			j->left = TRUE;
		}
	} else if (g_str_equal(signal, "Finished")) {
		g_autoptr(GVariant) result = NULL;

		g_variant_get(params, "(@a{sv})", &result);
		g_variant_lookup(result, "success", "b", &j->success);
		g_variant_lookup(result, "error", "s", &j->error);
		if (!j->left) {
			j->left_fetch_us = bench_now_us();
			j->left = TRUE;
		}
		j->finished = TRUE;
	}
}

/* curl -o /dev/null: wall time of the process and its own time_total, in us. */
static gboolean
run_curl(const char *curl, const char *url, double *wall, double *total, GError **error)
{
	g_autoptr(GSubprocess) p = NULL;
	g_autofree char *out = NULL;
	double t0 = bench_now_us();

	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, curl, "-s", "-f", "-o",
	                     "/dev/null", "-w", "%{time_total}", url, NULL);
	if (!p || !g_subprocess_communicate_utf8(p, NULL, NULL, &out, NULL, error))
		return FALSE;
	*wall = bench_now_us() - t0;
	if (!g_subprocess_get_if_exited(p) || g_subprocess_get_exit_status(p) != 0 || !out) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "curl %s failed", url);
		return FALSE;
	}
	*total = g_ascii_strtod(out, NULL) * 1e6;
	return TRUE;
}

/* One UpgradeViaHost; the fetch time in us, the window in @from and @to. */
static gboolean
run_job(GDBusConnection *conn, const char *modem, const char *url, double *from, double *to,
        GError **error)
{
	Job j = { 0 };
	guint sub;
	g_autoptr(GVariant) reply = NULL;
	gboolean ok = FALSE;

	sub = g_dbus_connection_signal_subscribe(conn, BENCH_BUS_NAME, BENCH_FOTA_IFACE, NULL,
	                                         modem, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
	                                         on_fota_signal, &j, NULL);
	*from = bench_now_us();
	reply = g_dbus_connection_call_sync(
	        conn, BENCH_BUS_NAME, modem, BENCH_FOTA_IFACE, "UpgradeViaHost",
	        g_variant_new("(s@a{sv})", url,
	                      g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
	        NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
	if (!reply)
		goto out;
	if (!bench_wait_flag(&j.left, 120)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the job stayed in fetching");
		goto out;
	}
	*to = j.left_fetch_us;
	if (!bench_wait_flag(&j.finished, 600)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no Finished within 600 s");
		goto out;
	}
	if (j.error && (g_str_has_suffix(j.error, "FetchFailed") ||
	                g_str_has_suffix(j.error, "PackageTooLarge"))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the fetch failed: %s", j.error);
		goto out;
	}
	g_print("# 5. job finished: success=%d %s\n", j.success, j.error ? j.error : "");
	ok = TRUE;
out:
	g_dbus_connection_signal_unsubscribe(conn, sub);
	g_free(j.error);
	return ok;
}

static void
side_latency(Side *side, const GArray *spans, const GArray *windows, double idle_end, GArray *idle,
             GArray *busy)
{
	g_mutex_lock(&side->lock);
	for (guint i = 0; i + 1 < spans->len; i += 2) {
		double a = g_array_index(spans, double, i);
		double z = g_array_index(spans, double, i + 1);
		double d = z - a;

		if (z < idle_end) {
			g_array_append_val(idle, d);
			continue;
		}
		for (guint w = 0; w + 1 < windows->len; w += 2)
			if (a < g_array_index(windows, double, w + 1) &&
			    z > g_array_index(windows, double, w)) {
				g_array_append_val(busy, d);
				break;
			}
	}
	g_mutex_unlock(&side->lock);
}

int
bench_cmd_fetch(int argc, char **argv)
{
	g_autofree char *modem = NULL, *side_modem = NULL, *url = NULL, *curl = NULL;
	int iterations = 5;
	GOptionEntry entries[] = {
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem running the job", "PATH" },
		{ "side", 0, 0, G_OPTION_ARG_STRING, &side_modem, "modem for Command", "PATH" },
		{ "url", 0, 0, G_OPTION_ARG_STRING, &url, "package URL", "URL" },
		{ "curl", 0, 0, G_OPTION_ARG_FILENAME, &curl, "curl binary", "PATH" },
		{ "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "rounds", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) t_daemon = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_wall = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_total = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) windows = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) idle = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) busy = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) ping_idle = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) ping_busy = g_array_new(FALSE, FALSE, sizeof(double));
	g_autofree char *m = NULL, *b = NULL, *d = NULL;
	Side side = { 0 };
	GThread *thread;
	BenchStats sd, sw, st, si, sb, spi, spb;
	double idle_end;
	int status = 1;

	if (!bench_parse("fetch", entries, &argc, &argv))
		return 1;
	if (!modem || !side_modem || !url || iterations < 1) {
		g_printerr("dfota-bench fetch: --modem, --side and --url are required\n");
		return 1;
	}
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error) ||
	    !bench_wait_modem_state(conn, side_modem, "ready", 30, &error) ||
	    !(side.conn = bench_bus_new(&error))) {
		g_printerr("dfota-bench fetch: %s\n", error->message);
		return 1;
	}
	side.modem = side_modem;
	side.spans = g_array_new(FALSE, FALSE, sizeof(double));
	side.ping_spans = g_array_new(FALSE, FALSE, sizeof(double));
	g_mutex_init(&side.lock);
	thread = g_thread_new("side", side_thread, &side);
	/* the side thread's idle latency first, with no job anywhere */
	g_usleep(500000);
	idle_end = bench_now_us();
	for (int i = 0; i < iterations; i++) {
		double wall, total, from, to;

		if (!run_curl(curl ? curl : "curl", url, &wall, &total, &error) ||
		    !run_job(conn, modem, url, &from, &to, &error))
			break;
		g_array_append_val(t_wall, wall);
		g_array_append_val(t_total, total);
		g_array_append_val(t_daemon, (double){ to - from });
		g_array_append_val(windows, from);
		g_array_append_val(windows, to);
		g_print("# 5. round %d: dfotad fetch %.1f ms, curl %.1f ms (time_total %.1f ms)\n",
		        i, (to - from) / 1e3, wall / 1e3, total / 1e3);
	}
	g_atomic_int_set(&side.stop, 1);
	g_thread_join(thread);
	if (error || side.error) {
		g_printerr("dfota-bench fetch: %s\n", error ? error->message : side.error->message);
		goto out;
	}
	side_latency(&side, side.spans, windows, idle_end, idle, busy);
	side_latency(&side, side.ping_spans, windows, idle_end, ping_idle, ping_busy);
	sd = bench_stats(t_daemon);
	sw = bench_stats(t_wall);
	st = bench_stats(t_total);
	si = bench_stats(idle);
	sb = bench_stats(busy);
	spi = bench_stats(ping_idle);
	spb = bench_stats(ping_busy);
	g_print("# 5. fetch via dfotad (ms): min/median/max %.1f/%.1f/%.1f\n", sd.min / 1e3,
	        sd.median / 1e3, sd.max / 1e3);
	g_print("# 5. curl wall (ms): min/median/max %.1f/%.1f/%.1f; its time_total median %.1f\n",
	        sw.min / 1e3, sw.median / 1e3, sw.max / 1e3, st.median / 1e3);
	d = bench_stats_describe(&si, "us");
	g_print("# 5. side Command idle: %s\n", d);
	g_free(d);
	d = bench_stats_describe(&sb, "us");
	g_print("# 5. side Command during fetch: %s\n", d);
	g_free(d);
	d = bench_stats_describe(&spi, "us");
	g_print("# 5. side Peer.Ping idle: %s\n", d);
	g_free(d);
	d = bench_stats_describe(&spb, "us");
	g_print("# 5. side Peer.Ping during fetch: %s\n", d);
	m = g_strdup_printf("%.1f ms", sd.median / 1e3);
	b = g_strdup_printf("curl %.1f ms", sw.median / 1e3);
	bench_row("5. host download 1 MiB (speed vs curl)", m, b, sw.median / sd.median, ">= 0.8",
	          sw.median / sd.median >= 0.8);
	g_free(b);
	b = g_strdup_printf("curl time_total %.1f ms", st.median / 1e3);
	bench_row("5. ... vs curl's own time_total", m, b, st.median / sd.median, NULL, FALSE);
	if (sb.n == 0) {
		g_print("# 5. no side Command overlapped a fetch (fetches too short)\n");
	} else {
		g_free(m);
		g_free(b);
		m = g_strdup_printf("max %.1f us (n=%u)", sb.max, sb.n);
		b = g_strdup_printf("idle median %.1f us", si.median);
		bench_row("5. Command latency during fetch", m, b, sb.max / si.median, "<= 2",
		          sb.max / si.median <= 2);
	}
	if (sb.n > 0 && spb.n > 0) {
		g_free(m);
		g_free(b);
		m = g_strdup_printf("median %.1f us, p99 %.1f us", sb.median, sb.p99);
		b = g_strdup_printf("Ping median %.1f us, p99 %.1f us", spb.median, spb.p99);
		bench_row("5. ... Command vs Peer.Ping, both during fetch (median)", m, b,
		          sb.median / spb.median, NULL, FALSE);
	}
	/* The two shares of the worst case: Ping never enters the daemon's main loop, so its
	 * worst case during the fetch against its idle median is what the machine (HTTP server,
	 * bus, two cores) costs any call; what Command's worst case adds on top of Ping's is the
	 * daemon's main loop. */
	if (sb.n > 0 && spb.n > 0 && spi.n > 0) {
		g_free(m);
		g_free(b);
		m = g_strdup_printf("Ping max %.1f us during fetch", spb.max);
		b = g_strdup_printf("Ping idle median %.1f us", spi.median);
		bench_row("5. ... machine's part: Ping during fetch", m, b, spb.max / spi.median,
		          NULL, FALSE);
		g_free(m);
		g_free(b);
		m = g_strdup_printf("Command max %.1f us", sb.max);
		b = g_strdup_printf("Ping max %.1f us, both during fetch", spb.max);
		bench_row("5. ... daemon's part: Command vs Ping worst case", m, b,
		          sb.max / spb.max, NULL, FALSE);
	}
	status = 0;
out:
	g_object_unref(side.conn);
	g_array_unref(side.spans);
	g_array_unref(side.ping_spans);
	g_mutex_clear(&side.lock);
	g_clear_error(&side.error);
	return status;
}
