// SPDX-License-Identifier: LGPL-2.1-or-later
/* Benchmark 4 (docs/performance.md): Files.Upload efficiency against the bound of the protocol.
 *
 * Acknowledged mode (flow=none): the module takes a 1 KiB block at line rate, writes flash for
 * the turnaround, then sends 'A'; the host cannot beat 1024 / (1024/rate + turnaround) bytes/s,
 * rate = baud/10. Streamed mode (flow=rtscts): line rate. The simulator models both (see
 * tests/sim/sim-ufs.c). Two sizes are uploaded: the large one gives the end-to-end rate (with
 * the fixed cost of AT+QFLDS, AT+QFDEL and the final +QFUPL); the difference to a one-block
 * upload gives the marginal rate of the data phase alone.
 */
#include "bench.h"

#include <gio/gunixfdlist.h>
#include <string.h>
#include <unistd.h>

static int
make_file(gsize size, GError **error)
{
	g_autofree char *path = NULL;
	g_autofree guint8 *data = g_malloc(size);
	g_autoptr(GRand) rand = g_rand_new_with_seed(7);
	int fd = g_file_open_tmp("dfota-bench-XXXXXX", &path, error);

	if (fd < 0)
		return -1;
	unlink(path);
	for (gsize i = 0; i < size; i++)
		data[i] = (guint8)g_rand_int(rand);
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write the test file");
		close(fd);
		return -1;
	}
	return fd;
}

/* One Files.Upload of @size bytes; its wall time in seconds, or < 0 with @error. */
static double
upload(GDBusConnection *conn, const char *modem, gsize size, double bound, GError **error)
{
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GVariant) reply = NULL;
	int fd = make_file(size, error);
	int timeout_ms = (int)(size / bound * 4000) + 60000;
	double t0;

	if (fd < 0 || g_unix_fd_list_append(fds, fd, error) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	t0 = bench_now_us();
	reply = g_dbus_connection_call_with_unix_fd_list_sync(
	        conn, BENCH_BUS_NAME, modem, BENCH_FILES_IFACE, "Upload",
	        g_variant_new("(sh)", "bench.bin", 0), NULL, G_DBUS_CALL_FLAGS_NONE, timeout_ms,
	        fds, NULL, NULL, error);
	if (!reply)
		return -1;
	return (bench_now_us() - t0) / 1e6;
}

typedef struct {
	guint pending;
	GError *error;
} Concurrent;

static void
concurrent_done(GObject *source, GAsyncResult *res, gpointer data)
{
	Concurrent *c = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish(
	        G_DBUS_CONNECTION(source), NULL, res, &error);

	if (!reply && !c->error)
		c->error = g_steal_pointer(&error);
	c->pending--;
}

static gboolean
concurrent_all_done(gpointer data)
{
	return ((Concurrent *)data)->pending == 0;
}

/* @n uploads of @size bytes at once, from regular files (what a gateway's services would
 * pass): the daemon's peak RSS (VmHWM) against its RSS before, measured in the same run. */
static int
upload_concurrent(GDBusConnection *conn, const char *modem, gsize size, int n)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) pidv = g_dbus_connection_call_sync(
	        conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "GetConnectionUnixProcessID", g_variant_new("(s)", BENCH_BUS_NAME),
	        G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	Concurrent c = { 0 };
	g_autofree char *item = NULL, *m = NULL, *b = NULL;
	guint32 pid;
	g_autofree char *pid_s = NULL;
	double before, peak, t0;

	if (!pidv) {
		g_printerr("dfota-bench upload: %s\n", error->message);
		return 1;
	}
	g_variant_get(pidv, "(u)", &pid);
	pid_s = g_strdup_printf("%u", pid);
	before = bench_status_kb(pid_s, "VmRSS:");
	t0 = bench_now_us();
	for (int i = 0; i < n; i++) {
		g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
		g_autofree char *name = g_strdup_printf("bench%d.bin", i);
		int fd = make_file(size, &error);

		if (fd < 0 || g_unix_fd_list_append(fds, fd, &error) < 0) {
			g_printerr("dfota-bench upload: %s\n", error->message);
			return 1;
		}
		close(fd);
		c.pending++;
		g_dbus_connection_call_with_unix_fd_list(
		        conn, BENCH_BUS_NAME, modem, BENCH_FILES_IFACE, "Upload",
		        g_variant_new("(sh)", name, 0), NULL, G_DBUS_CALL_FLAGS_NONE, G_MAXINT, fds,
		        NULL, concurrent_done, &c);
	}
	while (!concurrent_all_done(&c))
		g_main_context_iteration(NULL, TRUE);
	if (c.error) {
		g_printerr("dfota-bench upload: %s\n", c.error->message);
		g_error_free(c.error);
		return 1;
	}
	peak = bench_status_kb(pid_s, "VmHWM:");
	g_print("# 4. %d concurrent uploads of %zu B in %.1f s: VmRSS before %.0f kB, VmHWM %.0f "
	        "kB\n",
	        n, size, (bench_now_us() - t0) / 1e6, before, peak);
	item = g_strdup_printf("4. peak RSS, %d concurrent uploads of %zu KiB", n, size / 1024);
	m = g_strdup_printf("%.1f MB", peak / 1024);
	b = g_strdup_printf("%.1f MB before", before / 1024);
	bench_row(item, m, b, peak / before, "<= 3.7 (48 MB at 13 MB)", peak / before <= 3.7);
	return 0;
}

int
bench_cmd_upload(int argc, char **argv)
{
	g_autofree char *modem = NULL, *flow = NULL;
	int baud = 115200, turnaround = 0, kib = 64, repeat = 1, concurrent = 0;
	GOptionEntry entries[] = {
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "baud", 0, 0, G_OPTION_ARG_INT, &baud, "the simulator's line rate", "N" },
		{ "turnaround", 0, 0, G_OPTION_ARG_INT, &turnaround, "its --ack-turnaround", "MS" },
		{ "flow", 0, 0, G_OPTION_ARG_STRING, &flow, "none or rtscts", "FLOW" },
		{ "kib", 0, 0, G_OPTION_ARG_INT, &kib, "upload size", "KIB" },
		{ "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "runs (min/median/max)", "N" },
		{ "concurrent", 0, 0, G_OPTION_ARG_INT, &concurrent,
		  "instead: N uploads at once, the daemon's peak RSS against its RSS before", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) rates = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) marginal = g_array_new(FALSE, FALSE, sizeof(double));
	g_autofree char *item = NULL, *m = NULL, *b = NULL;
	gboolean rtscts;
	double bound, line_rate;
	gsize size;
	BenchStats s, sm;

	if (!bench_parse("upload", entries, &argc, &argv))
		return 1;
	rtscts = flow && g_str_equal(flow, "rtscts");
	if (!modem || baud <= 0 || turnaround < 0 || kib < 2 || repeat < 1) {
		g_printerr("dfota-bench upload: --modem, --baud > 0 and --kib >= 2 are required\n");
		return 1;
	}
	line_rate = baud / 10.0;
	bound = rtscts ? line_rate : 1024.0 / (1024.0 / line_rate + turnaround / 1000.0);
	size = (gsize)kib * 1024;
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error)) {
		g_printerr("dfota-bench upload: %s\n", error->message);
		return 1;
	}
	if (concurrent > 0)
		return upload_concurrent(conn, modem, size, concurrent);
	for (int i = 0; i < repeat; i++) {
		double t_big = upload(conn, modem, size, bound, &error);
		double t_one = t_big < 0 ? -1 : upload(conn, modem, 1024, bound, &error);

		if (t_one < 0) {
			g_printerr("dfota-bench upload: %s\n", error->message);
			return 1;
		}
		g_array_append_val(rates, (double){ size / t_big });
		g_array_append_val(marginal, (double){ (size - 1024) / (t_big - t_one) });
		g_print("# 4. %d baud, %s: %zu B in %.3f s, 1 KiB in %.3f s\n", baud,
		        rtscts ? "rtscts" : "ack", size, t_big, t_one);
	}
	s = bench_stats(rates);
	sm = bench_stats(marginal);
	if (repeat > 1)
		g_print("# 4. end-to-end rate min/median/max %.0f/%.0f/%.0f B/s\n", s.min, s.median,
		        s.max);
	if (rtscts)
		item = g_strdup_printf("4. upload %d KiB, %d baud, rtscts", kib, baud);
	else
		item = g_strdup_printf("4. upload %d KiB, %d baud, ack %d ms", kib, baud,
		                       turnaround);
	m = g_strdup_printf("%.0f B/s", s.median);
	b = g_strdup_printf("%.0f B/s %s", bound, rtscts ? "line" : "bound");
	bench_row(item, m, b, s.median / bound, ">= 0.95", s.median / bound >= 0.95);
	g_free(item);
	g_free(m);
	item = g_strdup_printf("4. ... data phase only (marginal)");
	m = g_strdup_printf("%.0f B/s", sm.median);
	bench_row(item, m, b, sm.median / bound, NULL, FALSE);
	return 0;
}
