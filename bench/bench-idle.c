// SPDX-License-Identifier: LGPL-2.1-or-later
/* Benchmarks 6 and 7 (docs/performance.md): startup and idle cost of dfotad against minimal-owner.
 *
 * Startup: the time from spawning the process to READY=1 on a NOTIFY_SOCKET of our own, and
 * for dfotad also to its modem's State "ready". The baseline of the latter is minimal-owner's
 * start-to-READY plus the modem's initialisation done by hand: the commands dfotad sent (read
 * back from the simulator's log) replayed one by one on the pty of an identical simulator.
 * Idle: VmRSS/VmHWM and the context switches of all threads over an idle window.
 */
#include "bench.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MODEM0 "/org/dfotad1/Modem/0"

typedef struct {
	int notify_fd;
	char *notify_path;
	double ready_us; /* READY=1 received */
	gboolean ready;
	double modem_us; /* State "ready" seen */
	gboolean modem_ready;
	gboolean exited;
} Run;

static gboolean
on_notify(gint fd, GIOCondition cond, gpointer user_data)
{
	Run *r = user_data;
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	if (n > 0) {
		buf[n] = '\0';
		if (!r->ready && (g_str_has_prefix(buf, "READY=1") || strstr(buf, "\nREADY=1"))) {
			r->ready_us = bench_now_us();
			r->ready = TRUE;
		}
	}
	return G_SOURCE_CONTINUE;
}

static void
on_props(GDBusConnection *c, const char *sender, const char *path, const char *iface,
         const char *signal, GVariant *params, gpointer user_data)
{
	Run *r = user_data;
	g_autoptr(GVariant) changed = NULL;
	const char *state;

	g_variant_get(params, "(&s@a{sv}@as)", NULL, &changed, NULL);
	if (!r->modem_ready && g_variant_lookup(changed, "State", "&s", &state) &&
	    g_str_equal(state, "ready")) {
		r->modem_us = bench_now_us();
		r->modem_ready = TRUE;
	}
}

static int
notify_socket(const char *path, GError **error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "notify socket: %s",
		            g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static GSubprocess *
spawn(const char *const *argv, const char *notify_path, GError **error)
{
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);

	g_subprocess_launcher_setenv(l, "NOTIFY_SOCKET", notify_path, TRUE);
	return g_subprocess_launcher_spawnv(l, argv, error);
}

/* Voluntary + nonvoluntary context switches per thread: tid -> count (as a pointer-sized
 * integer), and each thread's name into @names. */
static GHashTable *
ctxsw(const char *pid, GHashTable *names)
{
	g_autofree char *dir = g_strdup_printf("/proc/%s/task", pid);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	GHashTable *counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *tid;

	while (d && (tid = g_dir_read_name(d))) {
		g_autofree char *path = g_strdup_printf("%s/%s/status", dir, tid);
		g_autofree char *text = NULL;
		g_auto(GStrv) lines = NULL;
		guint64 n = 0;

		if (!g_file_get_contents(path, &text, NULL, NULL))
			continue;
		lines = g_strsplit(text, "\n", -1);
		for (guint i = 0; lines[i]; i++) {
			if (g_str_has_prefix(lines[i], "Name:"))
				g_hash_table_replace(names, g_strdup(tid),
				                     g_strstrip(g_strdup(lines[i] + 5)));
			else if (g_str_has_prefix(lines[i], "voluntary_ctxt_switches:") ||
			         g_str_has_prefix(lines[i], "nonvoluntary_ctxt_switches:"))
				n += g_ascii_strtoull(strchr(lines[i], ':') + 1, NULL, 10);
		}
		g_hash_table_insert(counts, g_strdup(tid), GSIZE_TO_POINTER((gsize)n));
	}
	return counts;
}

/* Switches between two samples: per thread alive at the end (a new thread counts fully); a
 * thread that exited meanwhile (GLib's idle thread-pool worker does after 15 s) is listed,
 * its last switches are unknown and not counted. */
static guint64
ctxsw_delta(GHashTable *before, GHashTable *after, GHashTable *names, GString *detail)
{
	GHashTableIter it;
	gpointer k, v;
	guint64 total = 0;

	g_hash_table_iter_init(&it, after);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		gpointer old = NULL;
		gsize delta = GPOINTER_TO_SIZE(v);

		if (g_hash_table_lookup_extended(before, k, NULL, &old))
			delta -= MIN(delta, GPOINTER_TO_SIZE(old));
		total += delta;
		g_string_append_printf(detail, " %s/%s:+%zu", (char *)g_hash_table_lookup(names, k),
		                       (char *)k, delta);
	}
	g_hash_table_iter_init(&it, before);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (!g_hash_table_contains(after, k))
			g_string_append_printf(detail, " %s/%s:exited",
			                       (char *)g_hash_table_lookup(names, k), (char *)k);
	return total;
}

typedef struct {
	double rss_kb, hwm_kb;
	guint64 wakeups;
} Idle;

static void
measure_idle(const char *what, GSubprocess *p, double seconds, Idle *out)
{
	const char *pid = g_subprocess_get_identifier(p);
	g_autoptr(GHashTable) names =
	        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GHashTable) before = ctxsw(pid, names);
	g_autoptr(GHashTable) after = NULL;
	g_autoptr(GString) detail = g_string_new(NULL);

	g_usleep((gulong)(seconds * 1e6));
	after = ctxsw(pid, names);
	out->rss_kb = bench_status_kb(pid, "VmRSS:");
	out->hwm_kb = bench_status_kb(pid, "VmHWM:");
	out->wakeups = ctxsw_delta(before, after, names, detail);
	g_print("# 6. %s: VmRSS %.0f kB, VmHWM %.0f kB, %" G_GUINT64_FORMAT
	        " context switches in %.0f s;%s\n",
	        what, out->rss_kb, out->hwm_kb, out->wakeups, seconds, detail->str);
}

/* The commands dfotad sent, from the simulator log written since @offset. */
static GPtrArray *
init_commands(const char *log, gsize offset)
{
	GPtrArray *cmds = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *text = NULL;
	gsize len = 0;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(log, &text, &len, NULL) || offset > len)
		return cmds;
	lines = g_strsplit(text + offset, "\n", -1);
	for (guint i = 0; lines[i]; i++)
		if (g_str_has_prefix(lines[i], "> ") && lines[i][2] && lines[i][2] != '[')
			g_ptr_array_add(cmds, g_strdup(lines[i] + 2));
	return cmds;
}

static gsize
file_size(const char *path)
{
	g_autofree char *text = NULL;
	gsize len = 0;

	g_file_get_contents(path, &text, &len, NULL);
	return len;
}

/* Spawns @argv, waits for READY=1 (and with @conn for Modem/0's State ready). */
static GSubprocess *
start(GDBusConnection *conn, Run *r, const char *const *argv, GError **error)
{
	GSubprocess *p;
	guint src, sub = 0;
	double t0;

	r->ready = r->modem_ready = FALSE;
	src = g_unix_fd_add(r->notify_fd, G_IO_IN, on_notify, r);
	if (conn)
		sub = g_dbus_connection_signal_subscribe(
		        conn, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", MODEM0,
		        BENCH_MODEM_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_props, r, NULL);
	t0 = bench_now_us();
	p = spawn(argv, r->notify_path, error);
	if (p && !bench_wait_flag(&r->ready, 30)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no READY=1 in 30 s",
		            argv[0]);
		bench_stop_process(p);
		g_clear_object(&p);
	}
	if (p && conn && !bench_wait_flag(&r->modem_ready, 30)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Modem/0 not ready in 30 s");
		bench_stop_process(p);
		g_clear_object(&p);
	}
	r->ready_us -= t0;
	r->modem_us -= t0;
	g_source_remove(src);
	if (sub)
		g_dbus_connection_signal_unsubscribe(conn, sub);
	return p;
}

static double
replay(const char *direct, GPtrArray *cmds, GError **error)
{
	int fd = bench_pty_open(direct, error);
	double t0;

	if (fd < 0)
		return -1;
	t0 = bench_now_us();
	for (guint i = 0; i < cmds->len; i++)
		if (!bench_pty_roundtrip(fd, cmds->pdata[i], 10, error)) {
			close(fd);
			return -1;
		}
	t0 = bench_now_us() - t0;
	close(fd);
	return t0;
}

int
bench_cmd_idle(int argc, char **argv)
{
	g_autofree char *daemon = NULL, *minimal = NULL, *port = NULL, *log = NULL;
	g_autofree char *direct = NULL, *state = NULL;
	double seconds = 30;
	int runs = 5;
	GOptionEntry entries[] = {
		{ "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon, "dfotad", "PATH" },
		{ "minimal", 0, 0, G_OPTION_ARG_FILENAME, &minimal, "minimal-owner", "PATH" },
		{ "port", 0, 0, G_OPTION_ARG_FILENAME, &port, "the sim's link for dfotad", "PATH" },
		{ "sim-log", 0, 0, G_OPTION_ARG_FILENAME, &log, "that sim's --log", "FILE" },
		{ "direct", 0, 0, G_OPTION_ARG_FILENAME, &direct, "an identical sim's pty",
		  "PATH" },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state, "dfotad --state-dir", "DIR" },
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "idle window", "S" },
		{ "runs", 0, 0, G_OPTION_ARG_INT, &runs, "startups of each", "N" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GArray) m_ready = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) d_ready = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) d_modem = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) t_replay = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GPtrArray) cmds = NULL;
	g_autofree char *tmp = NULL, *m = NULL, *b = NULL;
	g_autoptr(GSubprocess) p = NULL;
	Run r = { .notify_fd = -1 };
	Idle im = { 0 }, id = { 0 };
	BenchStats sm, sd, smo, sr;
	int status = 1;

	if (!bench_parse("idle", entries, &argc, &argv))
		return 1;
	if (!daemon || !minimal || !port || !log || !direct || !state || runs < 1 || seconds <= 0) {
		g_printerr("dfota-bench idle: --daemon, --minimal, --port, --sim-log, --direct and "
		           "--state-dir are required\n");
		return 1;
	}
	const char *const margv[] = { minimal, NULL };
	const char *const dargv[] = { daemon,        "--session", "--port", port,
		                      "--state-dir", state,       NULL };

	if (!(tmp = g_dir_make_tmp("dfota-bench-XXXXXX", &error)) ||
	    !(conn = bench_bus_new(&error)))
		goto fail;
	r.notify_path = g_build_filename(tmp, "notify", NULL);
	if ((r.notify_fd = notify_socket(r.notify_path, &error)) < 0)
		goto fail;
	for (int i = 0; i < runs; i++) {
		gsize offset = file_size(log);
		double t;

		p = start(NULL, &r, margv, &error);
		if (!p)
			goto fail;
		bench_stop_process(p);
		g_clear_object(&p);
		g_array_append_val(m_ready, r.ready_us);
		p = start(conn, &r, dargv, &error);
		if (!p)
			goto fail;
		g_array_append_val(d_ready, r.ready_us);
		g_array_append_val(d_modem, r.modem_us);
		g_clear_pointer(&cmds, g_ptr_array_unref);
		cmds = init_commands(log, offset);
		bench_stop_process(p);
		g_clear_object(&p);
		if ((t = replay(direct, cmds, &error)) < 0)
			goto fail;
		g_array_append_val(t_replay, t);
		g_print("# 7. run %d: minimal READY %.1f ms; dfotad READY %.1f ms, modem ready "
		        "%.1f ms; %u init commands replayed directly in %.1f ms\n",
		        i, g_array_index(m_ready, double, i) / 1e3, r.ready_us / 1e3,
		        r.modem_us / 1e3, cmds->len, t / 1e3);
	}
	{
		g_autofree char *joined = NULL;

		g_ptr_array_add(cmds, NULL);
		joined = g_strjoinv(" | ", (char **)cmds->pdata);
		g_print("# 7. init commands: %s\n", joined);
		g_ptr_array_remove_index(cmds, cmds->len - 1);
	}
	sm = bench_stats(m_ready);
	sd = bench_stats(d_ready);
	smo = bench_stats(d_modem);
	sr = bench_stats(t_replay);
	m = g_strdup_printf("%.1f ms", sd.median / 1e3);
	b = g_strdup_printf("minimal %.1f ms", sm.median / 1e3);
	bench_row("7. start -> READY=1", m, b, sd.median / sm.median, NULL, FALSE);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%.1f ms", smo.median / 1e3);
	b = g_strdup_printf("%.1f + %u cmds %.1f ms", sm.median / 1e3, cmds->len, sr.median / 1e3);
	bench_row("7. start -> modem ready", m, b, smo.median / (sm.median + sr.median), NULL,
	          FALSE);

	/* idle: the baseline first, then dfotad with its modem ready */
	if (!(p = start(NULL, &r, margv, &error)))
		goto fail;
	g_usleep(1000000);
	measure_idle("minimal-owner", p, seconds, &im);
	bench_stop_process(p);
	g_clear_object(&p);
	if (!(p = start(conn, &r, dargv, &error)))
		goto fail;
	/* let the initialisation's last replies and property updates settle */
	g_usleep(1000000);
	measure_idle("dfotad", p, seconds, &id);
	bench_stop_process(p);
	g_clear_object(&p);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%.1f MB", id.rss_kb / 1024);
	b = g_strdup_printf("minimal %.1f MB", im.rss_kb / 1024);
	bench_row("6. idle VmRSS", m, b, id.rss_kb / im.rss_kb, "<= 1.3",
	          id.rss_kb / im.rss_kb <= 1.3);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%.1f MB", id.hwm_kb / 1024);
	b = g_strdup_printf("minimal %.1f MB", im.hwm_kb / 1024);
	bench_row("6. idle VmHWM", m, b, id.hwm_kb / im.hwm_kb, "<= 1.3",
	          id.hwm_kb / im.hwm_kb <= 1.3);
	g_free(m);
	g_free(b);
	m = g_strdup_printf("%" G_GUINT64_FORMAT " in %.0f s", id.wakeups, seconds);
	b = g_strdup_printf("minimal %" G_GUINT64_FORMAT, im.wakeups);
	bench_row("6. idle wakeups (ctx switches)", m, b,
	          (double)id.wakeups / (double)MAX(im.wakeups, 1), "none beyond minimal",
	          id.wakeups <= im.wakeups);
	status = 0;
	goto out;
fail:
	g_printerr("dfota-bench idle: %s\n", error->message);
out:
	if (p)
		bench_stop_process(p);
	if (r.notify_fd >= 0)
		close(r.notify_fd);
	if (r.notify_path)
		unlink(r.notify_path);
	if (tmp)
		rmdir(tmp);
	g_free(r.notify_path);
	return status;
}
