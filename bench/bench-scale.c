// SPDX-License-Identifier: LGPL-2.1-or-later
/* Scale: how the daemon's cost grows with the number of modems and of jobs, each against the
 * baseline of the same run.
 *
 * modems: one dfotad per count N (1 first: the baseline), each with N simulators on lines
 * paced at the given baud: spawn to every Modem ready, idle VmRSS once settled (per modem
 * added over the one-modem daemon), and the aggregate Command rate of one client process per
 * modem against N times the rate of one client on the one-modem daemon (no modem should wait
 * for another).
 *
 * jobs: UpgradeViaHost jobs in a row on one modem (the module rejects each package, which ends
 * the job after fetch, upload and AT+QFOTADL=1): the time from the call to Finished and the
 * daemon's VmRSS after each, the last 100 against the first 100, and the size of the state
 * directory after every tenth of them.
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

/* ---- processes ---- */

/* A simulator on @dir/@name.tty, returned once it printed READY. */
static GSubprocess *
start_sim(const char *sim, const char *dir, const char *name, guint baud, GError **error)
{
	g_autofree char *link = g_strdup_printf("%s/%s.tty", dir, name);
	g_autofree char *ctl = g_strdup_printf("%s/%s.ctl", dir, name);
	g_autofree char *log = g_strdup_printf("%s/%s.sim", dir, name);
	g_autofree char *b = g_strdup_printf("%u", baud);
	g_autoptr(GSubprocess) p = g_subprocess_new(
	        G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, sim, "--link", link, "--control", ctl,
	        "--log", log, "--baud", b, "--ack-turnaround", "0", "--time-scale", "0.01", NULL);
	g_autoptr(GDataInputStream) in = NULL;

	if (!p)
		return NULL;
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
	for (;;) {
		g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, error);

		if (!line) {
			if (error && !*error)
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				            "simulator %s ended before READY", name);
			bench_stop_process(p);
			return NULL;
		}
		if (g_str_has_prefix(line, "READY"))
			return g_steal_pointer(&p);
	}
}

/* CPU time of the process's main thread in us (schedstat: on-CPU ns first) */
static double
main_thread_cpu_us(const char *pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/task/%s/schedstat", pid, pid);
	g_autofree char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	return g_ascii_strtod(text, NULL) / 1000;
}

static void
settle(double seconds)
{
	gboolean never = FALSE;

	bench_wait_flag(&never, seconds);
}

/* ---- modems ---- */

typedef struct {
	guint n;
	guint ready;
	gboolean all;
	GHashTable *seen; /* object paths already ready */
} ReadyWait;

static void
on_modem_props(GDBusConnection *c, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *params, gpointer user_data)
{
	ReadyWait *w = user_data;
	g_autoptr(GVariant) changed = NULL;
	const char *state;

	g_variant_get(params, "(&s@a{sv}@as)", NULL, &changed, NULL);
	if (g_variant_lookup(changed, "State", "&s", &state) && g_str_equal(state, "ready") &&
	    g_hash_table_add(w->seen, g_strdup(path)) && ++w->ready >= w->n)
		w->all = TRUE;
}

/* Commands/s of one client process per modem path, over @seconds from a common start. */
static double
aggregate_rate(GPtrArray *paths, double seconds, GError **error)
{
	g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func(g_object_unref);
	g_autofree char *self = g_file_read_link("/proc/self/exe", error);
	double start = bench_now_us() + 500e3 + paths->len * 40e3;
	g_autofree char *s_start = g_strdup_printf("%.0f", start);
	g_autofree char *s_end = g_strdup_printf("%.0f", start + seconds * 1e6);
	guint total = 0;

	if (!self)
		return -1;
	for (guint i = 0; i < paths->len; i++) {
		GSubprocess *p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, self,
		                                  "client", "--modem", paths->pdata[i], "--start",
		                                  s_start, "--end", s_end, NULL);
		if (!p)
			return -1;
		g_ptr_array_add(procs, p);
	}
	for (guint i = 0; i < procs->len; i++) {
		g_autofree char *out = NULL;
		guint ok = 0, bad = 0, late = 0;

		if (!g_subprocess_communicate_utf8(procs->pdata[i], NULL, NULL, &out, NULL, error))
			return -1;
		if (!g_subprocess_get_if_exited(procs->pdata[i]) ||
		    g_subprocess_get_exit_status(procs->pdata[i]) != 0 || !out ||
		    sscanf(out, "%u %u %u", &ok, &bad, &late) != 3) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "client %u failed", i);
			return -1;
		}
		if (late)
			g_print("# 8. client of %s connected after the common start\n",
			        (char *)paths->pdata[i]);
		total += ok;
	}
	return total / seconds;
}

typedef struct {
	double ready_ms, rss_kb, rate;
} ModemsResult;

static gboolean
run_modems(const char *daemon, const char *sim, const char *dir, guint n, guint baud,
           double seconds, ModemsResult *out, GError **error)
{
	g_autoptr(GPtrArray) sims = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) conf = g_string_new("[daemon]\n");
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GSubprocess) d = NULL;
	g_autofree char *conf_path = g_strdup_printf("%s/scale-%u.conf", dir, n);
	g_autofree char *state = g_strdup_printf("%s/scale-state-%u", dir, n);
	g_autofree char *log_path = g_strdup_printf("%s/scale-dfotad-%u.log", dir, n);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	ReadyWait w = { .n = n,
		        .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
	guint sub = 0;
	double t0, t1, cpu0, busy;
	gboolean ok = FALSE;

	for (guint i = 0; i < n; i++) {
		g_autofree char *name = g_strdup_printf("scale%u-%u", n, i);
		GSubprocess *p = start_sim(sim, dir, name, baud, error);

		if (!p)
			goto out;
		g_ptr_array_add(sims, p);
		g_string_append_printf(conf, "\n[modem %s]\nport=%s/%s.tty\nbaud=%u\n", name, dir,
		                       name, baud);
		g_ptr_array_add(paths, g_strdup_printf("/org/dfotad1/Modem/%u", i));
	}
	if (g_mkdir_with_parents(state, 0700) < 0 ||
	    !g_file_set_contents(conf_path, conf->str, -1, error) || !(conn = bench_bus_new(error)))
		goto out;
	sub = g_dbus_connection_signal_subscribe(
	        conn, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL,
	        BENCH_MODEM_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_modem_props, &w, NULL);
	t0 = bench_now_us();
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_subprocess_launcher_set_stderr_file_path(launcher, log_path);
	g_subprocess_launcher_set_stdout_file_path(launcher, log_path);
	d = g_subprocess_launcher_spawn(launcher, error, daemon, "--session", "--config", conf_path,
	                                "--state-dir", state, NULL);
	if (!d)
		goto out;
	if (!bench_wait_flag(&w.all, 60)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		            "%u of %u modems ready after 60 s", w.ready, n);
		goto out;
	}
	out->ready_ms = (bench_now_us() - t0) / 1000;
	settle(1);
	out->rss_kb = bench_status_kb(g_subprocess_get_identifier(d), "VmRSS:");
	cpu0 = main_thread_cpu_us(g_subprocess_get_identifier(d));
	t1 = bench_now_us();
	out->rate = aggregate_rate(paths, seconds, error);
	ok = out->rate >= 0;
	/* how busy the daemon's main loop was: near 100 % it is the limit, well below it the
	 * machine's cores (clients, simulators, bus) are */
	busy = (main_thread_cpu_us(g_subprocess_get_identifier(d)) - cpu0) / (bench_now_us() - t1) *
	       100;
	g_print("# 8. %2u modem%s: all ready in %.1f ms, VmRSS %.0f kB, %.0f cmd/s in all, "
	        "daemon main thread on CPU %.0f %% of the window\n",
	        n, n == 1 ? " " : "s", out->ready_ms, out->rss_kb, out->rate, busy);
out:
	if (sub)
		g_dbus_connection_signal_unsubscribe(conn, sub);
	bench_stop_process(d);
	for (guint i = 0; i < sims->len; i++)
		bench_stop_process(sims->pdata[i]);
	g_hash_table_unref(w.seen);
	return ok;
}

int
bench_cmd_scale_modems(int argc, char **argv)
{
	g_autofree char *daemon = NULL, *sim = NULL, *dir = NULL, *counts = NULL;
	int baud = 9600; /* the module's default: the line, not the two cores, is the limit */
	double seconds = 3;
	GOptionEntry entries[] = {
		{ "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon, "dfotad", "PATH" },
		{ "sim", 0, 0, G_OPTION_ARG_FILENAME, &sim, "dfota-sim", "PATH" },
		{ "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "for ptys, configs, state", "DIR" },
		{ "counts", 0, 0, G_OPTION_ARG_STRING, &counts, "modem counts, e.g. 1,4,16",
		  "LIST" },
		{ "baud", 0, 0, G_OPTION_ARG_INT, &baud, "line pace of every simulator", "BAUD" },
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "rate window", "S" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) list = NULL;
	ModemsResult one = { 0 };

	if (!bench_parse("scale-modems", entries, &argc, &argv))
		return 1;
	if (!daemon || !sim || !dir || baud <= 0 || seconds <= 0) {
		g_printerr("dfota-bench scale-modems: --daemon, --sim and --dir are required\n");
		return 1;
	}
	list = g_strsplit(counts ? counts : "1,4,16", ",", -1);
	/* the one-modem daemon first: the baseline of every other count */
	if (!run_modems(daemon, sim, dir, 1, (guint)baud, seconds, &one, &error)) {
		g_printerr("dfota-bench scale-modems: %s\n", error->message);
		return 1;
	}
	for (guint i = 0; list[i]; i++) {
		guint n = (guint)atoi(list[i]);
		ModemsResult r;
		g_autofree char *item = NULL, *m = NULL, *b = NULL;

		if (n <= 1)
			continue;
		if (!run_modems(daemon, sim, dir, n, (guint)baud, seconds, &r, &error)) {
			g_printerr("dfota-bench scale-modems: %s\n", error->message);
			return 1;
		}
		item = g_strdup_printf("8. %u modems: idle VmRSS per added modem", n);
		m = g_strdup_printf("%.0f kB (%.0f kB in all)", (r.rss_kb - one.rss_kb) / (n - 1),
		                    r.rss_kb);
		b = g_strdup_printf("1 modem %.0f kB", one.rss_kb);
		bench_row(item, m, b, r.rss_kb / one.rss_kb, NULL, FALSE);
		g_free(item), g_free(m), g_free(b);
		item = g_strdup_printf("8. %u modems: spawn -> all ready", n);
		m = g_strdup_printf("%.1f ms", r.ready_ms);
		b = g_strdup_printf("1 modem %.1f ms", one.ready_ms);
		bench_row(item, m, b, r.ready_ms / one.ready_ms, NULL, FALSE);
		g_free(item), g_free(m), g_free(b);
		item = g_strdup_printf("8. %u modems: paced cmd/s, all / (N x one)", n);
		m = g_strdup_printf("%.0f cmd/s", r.rate);
		b = g_strdup_printf("%u x %.0f cmd/s", n, one.rate);
		bench_row(item, m, b, r.rate / (n * one.rate), ">= 0.9",
		          r.rate / (n * one.rate) >= 0.9);
	}
	return 0;
}

/* ---- jobs ---- */

typedef struct {
	gboolean finished;
	char *error;
} JobEnd;

static void
on_finished(GDBusConnection *c, const char *sender, const char *path, const char *iface,
            const char *signal, GVariant *params, gpointer user_data)
{
	JobEnd *j = user_data;
	g_autoptr(GVariant) result = NULL;

	g_variant_get(params, "(@a{sv})", &result);
	g_clear_pointer(&j->error, g_free);
	g_variant_lookup(result, "error", "s", &j->error);
	j->finished = TRUE;
}

static guint64
dir_bytes(const char *path)
{
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const char *name;
	guint64 total = 0;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *full = g_build_filename(path, name, NULL);
		GStatBuf st;

		if (g_lstat(full, &st) == 0)
			total += S_ISDIR(st.st_mode) ? dir_bytes(full) : (guint64)st.st_size;
	}
	return total;
}

static double
mean_of(GArray *a, guint from, guint n)
{
	double sum = 0;

	for (guint i = from; i < from + n; i++)
		sum += g_array_index(a, double, i);
	return sum / n;
}

int
bench_cmd_scale_jobs(int argc, char **argv)
{
	g_autofree char *modem = NULL, *url = NULL, *pid = NULL, *state = NULL;
	int jobs = 1000;
	GOptionEntry entries[] = {
		{ "modem", 0, 0, G_OPTION_ARG_STRING, &modem, "modem object path", "PATH" },
		{ "url", 0, 0, G_OPTION_ARG_STRING, &url, "package URL", "URL" },
		{ "pid", 0, 0, G_OPTION_ARG_STRING, &pid, "the daemon's PID (VmRSS)", "PID" },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state, "the daemon's", "DIR" },
		{ "jobs", 'n', 0, G_OPTION_ARG_INT, &jobs, "jobs in a row", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) t = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) rss = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GString) sizes = g_string_new(NULL);
	JobEnd j = { 0 };
	guint sub, window;
	guint64 size_min = G_MAXUINT64, size_max = 0;
	double t_first, t_last, r_first, r_last;
	g_autofree char *m = NULL, *b = NULL;

	if (!bench_parse("scale-jobs", entries, &argc, &argv))
		return 1;
	if (!modem || !url || !pid || !state || jobs < 2) {
		g_printerr("dfota-bench scale-jobs: --modem, --url, --pid, --state-dir and "
		           "--jobs >= 2 are required\n");
		return 1;
	}
	if (!(conn = bench_bus_new(&error)) ||
	    !bench_wait_modem_state(conn, modem, "ready", 30, &error)) {
		g_printerr("dfota-bench scale-jobs: %s\n", error->message);
		return 1;
	}
	sub = g_dbus_connection_signal_subscribe(conn, BENCH_BUS_NAME, BENCH_FOTA_IFACE, "Finished",
	                                         modem, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_finished,
	                                         &j, NULL);
	for (int i = 0; i < jobs && !error; i++) {
		g_autoptr(GVariant) reply = NULL;
		double t0 = bench_now_us();

		j.finished = FALSE;
		reply = g_dbus_connection_call_sync(
		        conn, BENCH_BUS_NAME, modem, BENCH_FOTA_IFACE, "UpgradeViaHost",
		        g_variant_new("(s@a{sv})", url,
		                      g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
		        NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
		if (!reply)
			break;
		if (!bench_wait_flag(&j.finished, 120)) {
			g_set_error(&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "job %d: no Finished within 120 s", i);
			break;
		}
		if (j.error && (g_str_has_suffix(j.error, "FetchFailed") ||
		                g_str_has_suffix(j.error, "PackageTooLarge"))) {
			g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "job %d: %s", i,
			            j.error);
			break;
		}
		g_array_append_val(t, (double){ bench_now_us() - t0 });
		g_array_append_val(rss, (double){ bench_status_kb(pid, "VmRSS:") });
		if ((i + 1) % MAX(1, jobs / 10) == 0 || i + 1 == jobs) {
			guint64 s = dir_bytes(state);

			size_min = MIN(size_min, s);
			size_max = MAX(size_max, s);
			g_string_append_printf(sizes, "%s%" G_GUINT64_FORMAT, sizes->len ? " " : "",
			                       s);
		}
	}
	g_dbus_connection_signal_unsubscribe(conn, sub);
	g_free(j.error);
	if (error) {
		g_printerr("dfota-bench scale-jobs: %s\n", error->message);
		return 1;
	}
	window = MIN(100u, (guint)jobs / 2);
	t_first = mean_of(t, 0, window);
	t_last = mean_of(t, t->len - window, window);
	r_first = mean_of(rss, 0, window);
	r_last = mean_of(rss, rss->len - window, window);
	g_print("# 8. %d jobs: mean time first/last %u: %.1f / %.1f ms; VmRSS %.0f / %.0f kB\n",
	        jobs, window, t_first / 1000, t_last / 1000, r_first, r_last);
	g_print("# 8. state directory (bytes, every %d jobs): %s\n", MAX(1, jobs / 10), sizes->str);
	m = g_strdup_printf("last %u: %.1f ms", window, t_last / 1000);
	b = g_strdup_printf("first %u: %.1f ms", window, t_first / 1000);
	bench_row("8. jobs in a row: time per job", m, b, t_last / t_first, "<= 1.1",
	          t_last / t_first <= 1.1);
	g_free(m), g_free(b);
	m = g_strdup_printf("last %u: %.0f kB", window, r_last);
	b = g_strdup_printf("first %u: %.0f kB", window, r_first);
	bench_row("8. jobs in a row: VmRSS", m, b, r_last / r_first, "<= 1.1",
	          r_last / r_first <= 1.1);
	g_free(m), g_free(b);
	m = g_strdup_printf("max %" G_GUINT64_FORMAT " B", size_max);
	b = g_strdup_printf("min %" G_GUINT64_FORMAT " B", size_min);
	/* constant: a few bytes for the digits of growing job ids, nothing per job */
	bench_row("8. jobs in a row: state directory size", m, b,
	          size_min ? (double)size_max / size_min : 0, "<= 1.05 (constant)",
	          size_min && (double)size_max / size_min <= 1.05);
	return 0;
}
