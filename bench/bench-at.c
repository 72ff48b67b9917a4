// SPDX-License-Identifier: LGPL-2.1-or-later
/* Benchmarks 1 and 2 (docs/performance.md): the AT round trip through the daemon against a bare D-Bus round
 * trip plus a direct pty round trip, and the command rate of 1..N concurrent clients against
 * the direct pty rate. The direct baselines run on a second simulator started with the same
 * options as the daemon's, so neither side shares a pty or a simulator main loop.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MODEM "/org/dfotad1/Modem/0"

static gboolean
ping_name(GDBusConnection *conn, const char *name, GError **error)
{
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_sync(conn, name, "/", "org.freedesktop.DBus.Peer", "Ping",
	                                    NULL, NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, error);

	return reply != NULL;
}

static gboolean
ping(GDBusConnection *conn, GError **error)
{
	return ping_name(conn, BENCH_BUS_NAME, error);
}

/* A floor of benchmark 1: bench/floor-modem, the least a D-Bus service can do for Command. */
typedef struct {
	char *label; /* e.g. "GDBus" */
	char *name;  /* its bus name */
	GArray *t_ping, *t_cmd;
	gboolean failed; /* information only: a floor that fails is reported and dropped */
} Floor;

static void
floor_free(Floor *f)
{
	g_free(f->label);
	g_free(f->name);
	g_array_unref(f->t_ping);
	g_array_unref(f->t_cmd);
	g_free(f);
}

/* LABEL=NAME */
static Floor *
floor_parse(const char *arg)
{
	const char *eq = strchr(arg, '=');
	Floor *f;

	if (!eq || eq == arg || !g_dbus_is_name(eq + 1))
		return NULL;
	f = g_new0(Floor, 1);
	f->label = g_strndup(arg, (gsize)(eq - arg));
	f->name = g_strdup(eq + 1);
	f->t_ping = g_array_new(FALSE, FALSE, sizeof(double));
	f->t_cmd = g_array_new(FALSE, FALSE, sizeof(double));
	return f;
}

static void
floor_drop(Floor *f, const char *what, GError *error)
{
	g_print("# 1. floor %s: %s failed (%s); its rows are left out\n", f->label, what,
	        error->message);
	f->failed = TRUE;
}

static void
floor_round(GDBusConnection *conn, Floor *f, gboolean keep)
{
	g_autoptr(GError) error = NULL;
	double t0 = bench_now_us(), t1, t2;

	if (f->failed)
		return;
	if (!ping_name(conn, f->name, &error)) {
		floor_drop(f, "Peer.Ping", error);
		return;
	}
	t1 = bench_now_us();
	if (!bench_command_to(conn, f->name, DEFAULT_MODEM, "AT", &error)) {
		floor_drop(f, "Command", error);
		return;
	}
	t2 = bench_now_us();
	if (keep) {
		g_array_append_val(f->t_ping, (double){ t1 - t0 });
		g_array_append_val(f->t_cmd, (double){ t2 - t1 });
	}
}

/* A floor starts alongside the daemon: wait until it owns its name. */
static void
floor_wait(GDBusConnection *conn, Floor *f)
{
	double deadline = bench_now_us() + 10e6;
	g_autoptr(GError) error = NULL;

	while (!ping_name(conn, f->name, &error)) {
		if (bench_now_us() > deadline) {
			floor_drop(f, "starting", error);
			return;
		}
		g_clear_error(&error);
		g_usleep(50000);
	}
}

/* The rows of one floor: its own ratio against the same baselines, and dfotad against it. */
static void
floor_report(Floor *f, const BenchStats *s_cmd, const BenchStats *s_pty)
{
	BenchStats fp = bench_stats(f->t_ping), fc = bench_stats(f->t_cmd);
	g_autofree char *d_ping = bench_stats_describe(&fp, "us");
	g_autofree char *d_cmd = bench_stats_describe(&fc, "us");
	g_autofree char *item = NULL, *m = NULL, *b = NULL;

	g_print("# 1. floor %s: Peer.Ping: %s\n", f->label, d_ping);
	g_print("# 1. floor %s: Command(\"AT\"): %s\n", f->label, d_cmd);
	item = g_strdup_printf("1. floor: minimal %s service, same Command, median", f->label);
	m = g_strdup_printf("%.1f us", fc.median);
	b = g_strdup_printf("%.1f + %.1f us", fp.median, s_pty->median);
	bench_row(item, m, b, fc.median / (fp.median + s_pty->median), NULL, FALSE);
	g_free(item);
	g_free(m);
	g_free(b);
	item = g_strdup_printf("1. dfotad's Command / the minimal %s service's, median", f->label);
	m = g_strdup_printf("%.1f us", s_cmd->median);
	b = g_strdup_printf("%.1f us", fc.median);
	bench_row(item, m, b, s_cmd->median / fc.median, NULL, FALSE);
}

/* Puts the direct simulator into the state the daemon keeps its own in (echo off). */
static int
open_direct(const char *path, GError **error)
{
	int fd = bench_pty_open(path, error);

	if (fd < 0)
		return -1;
	if (!bench_pty_roundtrip(fd, "ATE0", 5, error) ||
	    !bench_pty_roundtrip(fd, "AT+CMEE=1", 5, error)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bench_cmd_rtt(int argc, char **argv)
{
	g_autofree char *direct = NULL, *modem = NULL;
	g_auto(GStrv) floor_args = NULL;
	g_autoptr(GPtrArray) floors = g_ptr_array_new_with_free_func((GDestroyNotify)floor_free);
	int iterations = 2000, warmup = 100;
	GOptionEntry entries[] = {
		{ "direct", 0, 0, G_OPTION_ARG_FILENAME, &direct, "pty of the direct sim", "PATH" },
		{ "floor", 0, 0, G_OPTION_ARG_STRING_ARRAY, &floor_args,
		  "a floor-modem service measured in the same rounds", "LABEL=NAME" },
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "measured rounds", "N" },
		{ "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "unmeasured rounds", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) t_ping = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_cmd = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_pty = g_array_new(FALSE, FALSE, sizeof(double));
	g_autofree char *d_ping = NULL, *d_cmd = NULL, *d_pty = NULL;
	g_autofree char *m = NULL, *b = NULL;
	BenchStats s_ping, s_cmd, s_pty;
	double base_med, base_p99;
	int fd;

	if (!bench_parse("rtt", entries, &argc, &argv))
		return 1;
	if (!direct || iterations < 1) {
		g_printerr("dfota-bench rtt: --direct PATH and --iterations >= 1 are required\n");
		return 1;
	}
	if (!modem)
		modem = g_strdup(DEFAULT_MODEM);
	for (guint i = 0; floor_args && floor_args[i]; i++) {
		Floor *f = floor_parse(floor_args[i]);

		if (!f) {
			g_printerr("dfota-bench rtt: --floor %s is not LABEL=BUSNAME\n",
			           floor_args[i]);
			return 1;
		}
		g_ptr_array_add(floors, f);
	}
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error) ||
	    (fd = open_direct(direct, &error)) < 0) {
		g_printerr("dfota-bench rtt: %s\n", error->message);
		return 1;
	}
	/* interleaved rounds: a slow phase of the machine hits all three alike */
	for (int i = -warmup; i < iterations; i++) {
		double t0, t1, t2, t3;

		t0 = bench_now_us();
		if (!ping(conn, &error))
			break;
		t1 = bench_now_us();
		if (!bench_command(conn, modem, "AT", &error))
			break;
		t2 = bench_now_us();
		if (!bench_pty_roundtrip(fd, "AT", 5, &error))
			break;
		t3 = bench_now_us();
		for (guint k = 0; i == -warmup && k < floors->len; k++)
			floor_wait(conn, floors->pdata[k]);
		for (guint k = 0; k < floors->len; k++)
			floor_round(conn, floors->pdata[k], i >= 0);
		if (i < 0)
			continue;
		g_array_append_val(t_ping, (double){ t1 - t0 });
		g_array_append_val(t_cmd, (double){ t2 - t1 });
		g_array_append_val(t_pty, (double){ t3 - t2 });
	}
	close(fd);
	if (error) {
		g_printerr("dfota-bench rtt: %s\n", error->message);
		return 1;
	}
	s_ping = bench_stats(t_ping);
	s_cmd = bench_stats(t_cmd);
	s_pty = bench_stats(t_pty);
	d_ping = bench_stats_describe(&s_ping, "us");
	d_cmd = bench_stats_describe(&s_cmd, "us");
	d_pty = bench_stats_describe(&s_pty, "us");
	g_print("# 1. Peer.Ping to dfotad:     %s\n", d_ping);
	g_print("# 1. Command(\"AT\") via dfotad: %s\n", d_cmd);
	g_print("# 1. AT on the pty directly:  %s\n", d_pty);
	g_print("# 1. daemon's own share at the median: %.1f us\n",
	        s_cmd.median - s_ping.median - s_pty.median);
	base_med = s_ping.median + s_pty.median;
	base_p99 = s_ping.p99 + s_pty.p99;
	m = g_strdup_printf("%.1f us", s_cmd.median);
	b = g_strdup_printf("%.1f + %.1f us", s_ping.median, s_pty.median);
	bench_row("1. AT round trip, median", m, b, s_cmd.median / base_med, "<= 1.3",
	          s_cmd.median / base_med <= 1.3);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%.1f us", s_cmd.p99);
	b = g_strdup_printf("%.1f + %.1f us", s_ping.p99, s_pty.p99);
	bench_row("1. AT round trip, p99", m, b, s_cmd.p99 / base_p99, "<= 1.5",
	          s_cmd.p99 / base_p99 <= 1.5);
	for (guint k = 0; k < floors->len; k++)
		if (!((Floor *)floors->pdata[k])->failed)
			floor_report(floors->pdata[k], &s_cmd, &s_pty);
	return 0;
}

/* ---- benchmark 2: throughput ---- */

int
bench_cmd_client(int argc, char **argv)
{
	g_autofree char *modem = NULL, *name = NULL;
	double start = 0, end = 0;
	gboolean use_ping = FALSE;
	GOptionEntry entries[] = {
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, "bus name (default org.dfotad1)",
		  "NAME" },
		{ "ping", 0, 0, G_OPTION_ARG_NONE, &use_ping, "Peer.Ping instead of Command",
		  NULL },
		{ "start", 0, 0, G_OPTION_ARG_DOUBLE, &start, "CLOCK_MONOTONIC us", "T" },
		{ "end", 0, 0, G_OPTION_ARG_DOUBLE, &end, "CLOCK_MONOTONIC us", "T" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	guint ok = 0, failed = 0;
	gboolean late;
	double now;

	if (!bench_parse("client", entries, &argc, &argv) || !modem || end <= start)
		return 1;
	if (!name)
		name = g_strdup(BENCH_BUS_NAME);
	if (!(conn = bench_bus_new(&error)) || !bench_command_to(conn, name, modem, "AT", &error)) {
		g_printerr("dfota-bench client: %s\n", error->message);
		return 1;
	}
	now = bench_now_us();
	late = now > start;
	/* a common start time: all clients run during the same window */
	if (!late)
		g_usleep((gulong)(start - now));
	while (bench_now_us() < end) {
		g_autoptr(GError) e = NULL;
		gboolean done = use_ping ? ping_name(conn, name, &e)
		                         : bench_command_to(conn, name, modem, "AT", &e);

		if (bench_now_us() > end)
			break;
		if (done)
			ok++;
		else
			failed++;
	}
	g_print("%u %u %d\n", ok, failed, late);
	return 0;
}

/* Commands/s of one client doing AT back to back on the direct pty for @seconds, from
 * @start_us (CLOCK_MONOTONIC) or, when 0, from now. */
static double
direct_rate_from(const char *path, double start_us, double seconds, GError **error)
{
	int fd = open_direct(path, error);
	double start, end, now;
	guint n = 0;

	if (fd < 0)
		return -1;
	now = bench_now_us();
	if (start_us > now)
		g_usleep((gulong)(start_us - now));
	start = bench_now_us();
	end = (start_us > 0 ? start_us : start) + seconds * 1e6;
	while (bench_now_us() < end) {
		if (!bench_pty_roundtrip(fd, "AT", 5, error)) {
			close(fd);
			return -1;
		}
		n++;
	}
	close(fd);
	return n / ((bench_now_us() - start) / 1e6);
}

static double
direct_rate(const char *path, double seconds, GError **error)
{
	return direct_rate_from(path, 0, seconds, error);
}

static double
clients_rate(const char *name, const char *modem, gboolean use_ping, guint clients, double seconds,
             guint *failed, const char *direct_alongside, double *direct_alongside_rate,
             GError **error)
{
	g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func(g_object_unref);
	g_autofree char *self = g_file_read_link("/proc/self/exe", error);
	/* time for every client to connect before the common start */
	double start = bench_now_us() + 500e3 + clients * 40e3;
	double end = start + seconds * 1e6;
	g_autofree char *s_start = g_strdup_printf("%.0f", start);
	g_autofree char *s_end = g_strdup_printf("%.0f", end);
	guint total = 0, late = 0;

	if (!self)
		return -1;
	*failed = 0;
	for (guint i = 0; i < clients; i++) {
		GSubprocess *p =
		        g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, self, "client",
		                         "--name", name, "--modem", modem, "--start", s_start,
		                         "--end", s_end, use_ping ? "--ping" : NULL, NULL);
		if (!p)
			return -1;
		g_ptr_array_add(procs, p);
	}
	/* a direct client on the twin in the same window: the same machine, the same load */
	if (direct_alongside && (*direct_alongside_rate = direct_rate_from(direct_alongside, start,
	                                                                   seconds, error)) < 0)
		return -1;
	for (guint i = 0; i < procs->len; i++) {
		g_autofree char *out = NULL;
		guint ok = 0, bad = 0, was_late = 0;

		if (!g_subprocess_communicate_utf8(procs->pdata[i], NULL, NULL, &out, NULL, error))
			return -1;
		if (!g_subprocess_get_if_exited(procs->pdata[i]) ||
		    g_subprocess_get_exit_status(procs->pdata[i]) != 0 || !out ||
		    sscanf(out, "%u %u %u", &ok, &bad, &was_late) != 3) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "client %u failed", i);
			return -1;
		}
		total += ok;
		*failed += bad;
		late += was_late;
	}
	if (late)
		g_print("# 2. %u of %u clients connected after the common start\n", late, clients);
	return total / seconds;
}

/* The same @clients against a floor-modem (LABEL=NAME): its Command rate against its own
 * Peer.Ping rate, and dfotad's @rate against its Command rate. */
static gboolean
floor_throughput(const char *arg, guint clients, double seconds, double rate, GError **error)
{
	const char *eq = strchr(arg, '=');
	g_autofree char *label = NULL, *item = NULL, *m = NULL, *b = NULL;
	guint failed = 0;
	double prate, frate;

	if (!eq || eq == arg || !g_dbus_is_name(eq + 1)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "--floor %s is not LABEL=BUSNAME", arg);
		return FALSE;
	}
	label = g_strndup(arg, (gsize)(eq - arg));
	if ((prate = clients_rate(eq + 1, DEFAULT_MODEM, TRUE, clients, seconds, &failed, NULL,
	                          NULL, error)) < 0 ||
	    (frate = clients_rate(eq + 1, DEFAULT_MODEM, FALSE, clients, seconds, &failed, NULL,
	                          NULL, error)) < 0)
		return FALSE;
	item = g_strdup_printf("2. floor: minimal %s service, %u clients vs its Peer.Ping rate",
	                       label, clients);
	m = g_strdup_printf("%.0f cmd/s", frate);
	b = g_strdup_printf("%.0f ping/s", prate);
	bench_row(item, m, b, frate / prate, NULL, FALSE);
	g_free(item);
	g_free(m);
	g_free(b);
	item = g_strdup_printf("2. dfotad's rate / the minimal %s service's, %u clients", label,
	                       clients);
	m = g_strdup_printf("%.0f cmd/s", rate);
	b = g_strdup_printf("%.0f cmd/s", frate);
	bench_row(item, m, b, rate / frate, NULL, FALSE);
	return TRUE;
}

/* One round for @n clients: the Command rate and both baselines, which bracket the daemon's
 * window, one run right before and one right after it: the machine is shared and its load
 * drifts over seconds, so a baseline taken once, seconds earlier, saw a different machine.
 * The Ping rate is the ceiling of any D-Bus method (the same clients, no daemon code, no
 * line). */
static gboolean
throughput_round(const char *direct, const char *modem, gboolean paced, guint n, double seconds,
                 double *rate, double *base, double *alongside, double *prate, guint *failed,
                 GError **error)
{
	guint ping_failed = 0;
	double ping_before, ping_after, before, after;

	if ((ping_before = clients_rate(BENCH_BUS_NAME, modem, TRUE, n, seconds, &ping_failed, NULL,
	                                NULL, error)) < 0 ||
	    (before = direct_rate(direct, seconds, error)) < 0 ||
	    (*rate = clients_rate(BENCH_BUS_NAME, modem, FALSE, n, seconds, failed,
	                          paced ? direct : NULL, alongside, error)) < 0 ||
	    (after = direct_rate(direct, seconds, error)) < 0 ||
	    (ping_after = clients_rate(BENCH_BUS_NAME, modem, TRUE, n, seconds, &ping_failed, NULL,
	                               NULL, error)) < 0)
		return FALSE;
	*base = (before + after) / 2;
	*prate = (ping_before + ping_after) / 2;
	g_print("# 2. %u client%s: %.0f cmd/s; direct pty%s %.0f before, %.0f after", n,
	        n == 1 ? "" : "s", *rate, paced ? " (paced)" : "", before, after);
	if (paced)
		g_print(", %.0f alongside", *alongside);
	g_print("; Peer.Ping %.0f before, %.0f after\n", ping_before, ping_after);
	if (*failed)
		g_print("# 2. %u clients: %u commands failed (Busy: queue bound)\n", n, *failed);
	return TRUE;
}

static int
cmp_ratio(gconstpointer a, gconstpointer b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @v (sorted in place), and its range in @range. */
static double
median_of(double *v, guint n, char **range)
{
	qsort(v, n, sizeof(double), cmp_ratio);
	*range = g_strdup_printf("%.3f-%.3f", v[0], v[n - 1]);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
bench_cmd_throughput(int argc, char **argv)
{
	g_autofree char *direct = NULL, *modem = NULL, *clients = NULL;
	g_auto(GStrv) floor_args = NULL;
	double seconds = 3;
	int rounds = 1;
	gboolean paced = FALSE;
	GOptionEntry entries[] = {
		{ "paced", 0, 0, G_OPTION_ARG_NONE, &paced,
		  "the simulators pace the line (--baud): daemon vs direct rate is the target",
		  NULL },
		{ "direct", 0, 0, G_OPTION_ARG_FILENAME, &direct, "pty of the direct sim", "PATH" },
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "clients", 0, 0, G_OPTION_ARG_STRING, &clients, "e.g. 1,8,32", "LIST" },
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "per measurement", "S" },
		{ "floor", 0, 0, G_OPTION_ARG_STRING_ARRAY, &floor_args,
		  "a floor-modem service measured with 8 clients too", "LABEL=NAME" },
		{ "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
		  "rounds per client count; the rows give the median ratio", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_auto(GStrv) counts = NULL;

	if (!bench_parse("throughput", entries, &argc, &argv))
		return 1;
	if (!direct || seconds <= 0 || rounds < 1) {
		g_printerr("dfota-bench throughput: --direct PATH is required, --rounds >= 1\n");
		return 1;
	}
	if (!modem)
		modem = g_strdup(DEFAULT_MODEM);
	counts = g_strsplit(clients ? clients : "1,8,32", ",", -1);
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error)) {
		g_printerr("dfota-bench throughput: %s\n", error->message);
		return 1;
	}
	for (guint i = 0; counts[i]; i++) {
		guint n = (guint)atoi(counts[i]);
		g_autofree char *item =
		        g_strdup_printf("2. throughput%s, %u client%s", paced ? " paced" : "", n,
		                        n == 1 ? "" : "s");
		g_autofree char *pitem =
		        g_strdup_printf("2. ...%s vs Peer.Ping rate, %u client%s",
		                        paced ? " paced" : "", n, n == 1 ? "" : "s");
		g_autofree double *direct_ratio = g_new0(double, rounds);
		g_autofree double *ping_ratio = g_new0(double, rounds);
		g_autofree double *rates = g_new0(double, rounds);
		g_autofree double *bases = g_new0(double, rounds);
		g_autofree double *alongside = g_new0(double, rounds);
		g_autofree double *alongside_ratio = g_new0(double, rounds);
		g_autofree double *prates = g_new0(double, rounds);
		g_autofree char *m = NULL, *b = NULL, *pm = NULL, *am = NULL, *aitem = NULL;
		g_autofree char *r_direct = NULL, *r_ping = NULL, *r_rate = NULL, *r_base = NULL,
		                *r_prate = NULL, *r_along = NULL, *r_along_ratio = NULL;
		double dr, pr, ar = 0, mrate;

		if (n == 0)
			continue;
		for (int r = 0; r < rounds; r++) {
			guint failed = 0;

			if (!throughput_round(direct, modem, paced, n, seconds, &rates[r],
			                      &bases[r], &alongside[r], &prates[r], &failed,
			                      &error)) {
				g_printerr("dfota-bench throughput: %s\n", error->message);
				return 1;
			}
			direct_ratio[r] = rates[r] / bases[r];
			ping_ratio[r] = rates[r] / prates[r];
			if (paced)
				alongside_ratio[r] = rates[r] / alongside[r];
		}
		dr = median_of(direct_ratio, (guint)rounds, &r_direct);
		pr = median_of(ping_ratio, (guint)rounds, &r_ping);
		if (paced)
			ar = median_of(alongside_ratio, (guint)rounds, &r_along_ratio);
		if (rounds > 1)
			g_print("# 2. %u client%s, %d rounds: ratio to direct %s%s%s, to Ping %s\n",
			        n, n == 1 ? "" : "s", rounds, r_direct,
			        paced ? ", to direct alongside " : "", paced ? r_along_ratio : "",
			        r_ping);
		/* the rows: medians over the rounds (the rates' medians for reading) */
		mrate = median_of(rates, (guint)rounds, &r_rate);
		m = g_strdup_printf("%.0f cmd/s", mrate);
		b = g_strdup_printf("%.0f cmd/s direct", median_of(bases, (guint)rounds, &r_base));
		pm = g_strdup_printf("%.0f ping/s", median_of(prates, (guint)rounds, &r_prate));
		/* Paced, the line is the bottleneck and the daemon must keep it busy. The target is
		 * judged against the direct client alongside: the same window and machine load as
		 * the daemon, whose clients load the host's cores, its pty work and the simulator
		 * (a module's UART costs the host nothing); the direct client alone, before and
		 * after, is shown too. Unpaced, the honest ceiling is what the same clients reach
		 * with a call the daemon's code never sees (a serial line has no concurrency, a
		 * D-Bus round trip costs CPU). */
		bench_row(item, m, b, dr, NULL, FALSE);
		if (paced) {
			aitem = g_strdup_printf("2. ... paced vs direct alongside, %u client%s", n,
			                        n == 1 ? "" : "s");
			am = g_strdup_printf("%.0f cmd/s direct alongside",
			                     median_of(alongside, (guint)rounds, &r_along));
			bench_row(aitem, m, am, ar, n == 8 ? ">= 0.95" : NULL, ar >= 0.95);
		}
		bench_row(pitem, m, pm, pr, !paced && n == 8 ? ">= 0.8" : NULL, pr >= 0.8);
		for (guint k = 0; n == 8 && floor_args && floor_args[k]; k++) {
			g_autoptr(GError) e = NULL;

			/* information only: a floor that fails is reported, the run goes on */
			if (!floor_throughput(floor_args[k], n, seconds, mrate, &e))
				g_print("# 2. floor %s failed: %s\n", floor_args[k], e->message);
		}
	}
	return 0;
}
