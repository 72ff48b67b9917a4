// SPDX-License-Identifier: LGPL-2.1-or-later
/* Shared helpers of dfota-bench: clocks, statistics, the table, bus and pty plumbing. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(gconstpointer a, gconstpointer b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, guint n, double p)
{
	guint rank = (guint)ceil(p / 100.0 * n);

	return v[rank == 0 ? 0 : MIN(rank, n) - 1];
}

BenchStats
bench_stats(GArray *samples)
{
	BenchStats s = { 0 };
	g_autoptr(GArray) sorted = NULL;
	double sum = 0;

	if (samples->len == 0)
		return s;
	sorted = g_array_sized_new(FALSE, FALSE, sizeof(double), samples->len);
	g_array_append_vals(sorted, samples->data, samples->len);
	g_array_sort(sorted, cmp_double);
	s.n = sorted->len;
	for (guint i = 0; i < s.n; i++)
		sum += g_array_index(sorted, double, i);
	s.min = g_array_index(sorted, double, 0);
	s.max = g_array_index(sorted, double, s.n - 1);
	s.median = percentile((double *)sorted->data, s.n, 50);
	s.p99 = percentile((double *)sorted->data, s.n, 99);
	s.mean = sum / s.n;
	return s;
}

char *
bench_stats_describe(const BenchStats *s, const char *unit)
{
	return g_strdup_printf("n=%u median=%.1f%s p99=%.1f%s min=%.1f%s max=%.1f%s", s->n,
	                       s->median, unit, s->p99, unit, s->min, unit, s->max, unit);
}

void
bench_row(const char *item, const char *measured, const char *baseline, double ratio,
          const char *target, gboolean met)
{
	g_print("| %s | %s | %s | %.3f | %s | %s |\n", item, measured, baseline, ratio,
	        target ? target : "-", target ? (met ? "met" : "MISSED") : "info");
}

GDBusConnection *
bench_bus_new(GError **error)
{
	g_autofree char *address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SESSION, NULL, error);

	if (!address)
		return NULL;
	return g_dbus_connection_new_for_address_sync(
	        address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, error);
}

static gboolean
timer_fired(gpointer data)
{
	return G_SOURCE_REMOVE;
}

gboolean
bench_wait_flag(gboolean *flag, double timeout_s)
{
	GMainContext *ctx = g_main_context_get_thread_default();
	double deadline = bench_now_us() + timeout_s * 1e6;

	while (!*flag) {
		double left = deadline - bench_now_us();
		g_autoptr(GSource) timer = NULL;

		if (left <= 0)
			return FALSE;
		/* a timer source bounds the blocking iteration, so the deadline holds */
		timer = g_timeout_source_new((guint)(left / 1000) + 1);
		g_source_set_callback(timer, timer_fired, NULL, NULL);
		g_source_attach(timer, ctx);
		g_main_context_iteration(ctx, TRUE);
		g_source_destroy(timer);
	}
	return TRUE;
}

typedef struct {
	const char *want;
	gboolean seen;
} StateWait;

static void
on_props_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer user_data)
{
	StateWait *w = user_data;
	g_autoptr(GVariant) changed = NULL;
	const char *state;

	g_variant_get(params, "(&s@a{sv}@as)", NULL, &changed, NULL);
	if (g_variant_lookup(changed, "State", "&s", &state) && g_str_equal(state, w->want))
		w->seen = TRUE;
}

gboolean
bench_wait_modem_state(GDBusConnection *conn, const char *path, const char *state, double timeout_s,
                       GError **error)
{
	StateWait w = { state, FALSE };
	guint sub;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) value = NULL;

	/* subscribe first, then read: a change between the two cannot be missed */
	sub = g_dbus_connection_signal_subscribe(
	        conn, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", path,
	        BENCH_MODEM_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_props_changed, &w, NULL);
	reply = g_dbus_connection_call_sync(
	        conn, BENCH_BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
	        g_variant_new("(ss)", BENCH_MODEM_IFACE, "State"), G_VARIANT_TYPE("(v)"),
	        G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	if (reply) {
		g_variant_get(reply, "(v)", &value);
		if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) &&
		    g_str_equal(g_variant_get_string(value, NULL), state))
			w.seen = TRUE;
	}
	bench_wait_flag(&w.seen, timeout_s);
	g_dbus_connection_signal_unsubscribe(conn, sub);
	if (!w.seen)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		            "%s did not reach State %s within %.0f s", path, state, timeout_s);
	return w.seen;
}

gboolean
bench_command(GDBusConnection *conn, const char *path, const char *command, GError **error)
{
	return bench_command_to(conn, BENCH_BUS_NAME, path, command, error);
}

gboolean
bench_command_to(GDBusConnection *conn, const char *name, const char *path, const char *command,
                 GError **error)
{
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	        conn, name, path, BENCH_MODEM_IFACE, "Command", g_variant_new("(su)", command, 0u),
	        G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);

	return reply != NULL;
}

int
bench_pty_open(const char *path, GError **error)
{
	struct termios tio;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 || tcgetattr(fd, &tio) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "open %s: %s", path,
		            g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	cfmakeraw(&tio);
	tcsetattr(fd, TCSANOW, &tio);
	return fd;
}

static gboolean
has_final(const char *buf)
{
	const char *finals[] = { "\nOK\r\n", "\nERROR\r\n", "+CME ERROR:" };

	for (guint i = 0; i < G_N_ELEMENTS(finals); i++) {
		const char *p = strstr(buf, finals[i]);

		if (p && (i < 2 || strstr(p, "\r\n")))
			return TRUE;
	}
	return FALSE;
}

gboolean
bench_pty_roundtrip(int fd, const char *command, double timeout_s, GError **error)
{
	g_autofree char *line = g_strdup_printf("%s\r", command);
	char buf[8192];
	gsize have = 0;
	double deadline = bench_now_us() + timeout_s * 1e6;

	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "write pty: %s",
		            g_strerror(errno));
		return FALSE;
	}
	/* a leading CR/LF in the buffer lets "\nOK\r\n" match the first line too */
	buf[have++] = '\n';
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - bench_now_us();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "no final result to %s on the pty", command);
			return FALSE;
		}
		n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "read pty: %s",
			            n < 0 ? g_strerror(errno) : "EOF");
			return FALSE;
		}
		have += (gsize)n;
		buf[have] = '\0';
		if (has_final(buf))
			return TRUE;
		if (have > sizeof buf / 2) {
			/* keep the tail: a final line is short */
			memmove(buf + 1, buf + have - 64, 64);
			have = 65;
		}
	}
}

gboolean
bench_parse(const char *name, GOptionEntry *entries, int *argc, char ***argv)
{
	g_autofree char *title = g_strdup_printf("%s - dfotad benchmark", name);
	g_autoptr(GOptionContext) ctx = g_option_context_new(title);
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &error)) {
		g_printerr("dfota-bench %s: %s\n", name, error->message);
		return FALSE;
	}
	return TRUE;
}

static void
on_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	*(gboolean *)user_data = TRUE;
}

void
bench_stop_process(GSubprocess *p)
{
	gboolean exited = FALSE;

	if (!p)
		return;
	g_subprocess_wait_async(p, NULL, on_stopped, &exited);
	g_subprocess_send_signal(p, SIGTERM);
	if (!bench_wait_flag(&exited, 10)) {
		g_printerr("dfota-bench: pid %s ignored SIGTERM; killing it\n",
		           g_subprocess_get_identifier(p));
		g_subprocess_force_exit(p);
		bench_wait_flag(&exited, 10);
	}
}

double
bench_status_kb(const char *pid, const char *key)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/status", pid);
	g_autofree char *text = NULL;
	const char *p;

	if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, key)))
		return -1;
	return g_ascii_strtod(p + strlen(key), NULL);
}
