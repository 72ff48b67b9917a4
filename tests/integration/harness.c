// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness.c: the processes of the integration harness, waits with deadlines, the simulator's
 * control FIFO and log. */
#include "harness-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *
require_env(const char *name)
{
	const char *value = g_getenv(name);

	if (value == NULL || *value == '\0')
		g_error("%s is not set: run the integration tests with `meson test`", name);
	return value;
}

static gboolean
proc_alive(GSubprocess *proc)
{
	/* The identifier (the PID) is cleared once GLib has reaped the child. */
	return proc != NULL && g_subprocess_get_identifier(proc) != NULL;
}

static gboolean
on_wait_timeout(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static gboolean
on_tick(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @cond holds or @timeout_ms passed. Messages (the
 * filter wakes the context), file changes (the monitor) and child exits wake it; a slow tick
 * re-checks conditions on files whose writers may not trigger inotify in every case. A
 * process of ours that dies ends the wait at once. */
gboolean
harness_wait(Harness *h, HarnessCond cond, gpointer data, guint timeout_ms, const char *what)
{
	gboolean timed_out = FALSE;
	guint timeout_id = g_timeout_add(timeout_ms, on_wait_timeout, &timed_out);
	guint tick_id = g_timeout_add(100, on_tick, NULL);
	gboolean ok;

	while (!(ok = cond(h, data)) && !timed_out) {
		if ((h->daemon_proc != NULL && !proc_alive(h->daemon_proc)) ||
		    (h->sim_proc != NULL && !proc_alive(h->sim_proc)) ||
		    (h->dbus_proc != NULL && !proc_alive(h->dbus_proc))) {
			g_test_message("a process of the test exited while waiting for %s", what);
			ok = cond(h, data);
			break;
		}
		g_main_context_iteration(NULL, TRUE);
	}
	if (!timed_out)
		g_source_remove(timeout_id);
	g_source_remove(tick_id);
	if (!ok)
		g_test_message("gave up waiting for %s after %u ms", what, timeout_ms);
	return ok;
}

/* Runs in the child between fork and exec: when the test process dies (an assertion
 * aborts it), its children get SIGTERM instead of living on. */
static void
child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
on_proc_exited(GObject *source, GAsyncResult *res, gpointer data)
{
	/* Being dispatched woke the main context: waiters re-check whether it is alive. */
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

static GSubprocess *
spawn(Harness *h, const char *out_name, GSubprocessLauncher *launcher, const char *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *out_path = g_build_filename(h->tmpdir, out_name, NULL);
	g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
	GSubprocess *proc;

	g_subprocess_launcher_set_stdout_file_path(launcher, out_path);
	g_subprocess_launcher_set_flags(launcher, G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_test_message("started pid %s: %s", g_subprocess_get_identifier(proc), cmdline);
	g_subprocess_wait_async(proc, NULL, on_proc_exited, NULL);
	return proc;
}

char *
read_file_or_empty(const char *path)
{
	char *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return g_strdup("");
	return contents;
}

typedef struct {
	const char *path;
	const char *needle;
} FileNeedle;

static gboolean
cond_file_has(Harness *h, gpointer data)
{
	FileNeedle *fn = data;
	g_autofree char *contents = read_file_or_empty(fn->path);

	return strstr(contents, fn->needle) != NULL;
}

static char *
wait_file_line(Harness *h, const char *name, const char *needle)
{
	g_autofree char *path = g_build_filename(h->tmpdir, name, NULL);
	FileNeedle fn = { path, needle };
	g_autofree char *contents = NULL;
	char *start, *end;

	if (!harness_wait(h, cond_file_has, &fn, START_TIMEOUT_MS, name))
		g_error("no \"%s\" in %s: %s", needle, name, read_file_or_empty(path));
	contents = read_file_or_empty(path);
	start = strstr(contents, needle);
	end = strchr(start, '\n');
	return g_strndup(start, end - start);
}

static void
start_bus(Harness *h)
{
	g_autofree char *conf = g_build_filename(h->tmpdir, "bus.conf", NULL);
	g_autofree char *xml = NULL;
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(0);
	g_autoptr(GError) error = NULL;
	const char *argv[] = { require_env("DBUS_DAEMON"),
		               "--nofork",
		               "--print-address=1",
		               "--config-file",
		               conf,
		               NULL };

	/* A minimal session-type bus: no service activation, nothing from the host's config. */
	xml = g_strdup_printf("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus "
	                      "Configuration 1.0//EN\" \"http://www.freedesktop.org/standards/"
	                      "dbus/1.0/busconfig.dtd\">\n<busconfig><type>session</type>"
	                      "<listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
	                      "<policy context=\"default\"><allow send_destination=\"*\" "
	                      "eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>"
	                      "</policy></busconfig>\n",
	                      h->tmpdir);
	g_file_set_contents(conf, xml, -1, &error);
	g_assert_no_error(error);
	h->dbus_proc = spawn(h, "dbus.out", launcher, argv);
}

static gboolean
cond_port_file(Harness *h, gpointer data)
{
	g_autofree char *contents = read_file_or_empty(data);
	guint64 port = 0;

	g_strstrip(contents);
	if (!g_ascii_string_to_unsigned(contents, 10, 1, 65535, &port, NULL))
		return FALSE;
	h->http_port = port;
	return TRUE;
}

static void
start_httpd(Harness *h)
{
	g_autofree char *port_file = g_build_filename(h->tmpdir, "httpd.port", NULL);
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(0);
	const char *argv[] = { require_env("PYTHON"),
		               require_env("HTTPD"),
		               "--root",
		               h->http_root,
		               "--port-file",
		               port_file,
		               NULL };

	h->httpd_proc = spawn(h, "httpd.log", launcher, argv);
}

/* The three helpers start in parallel (python alone takes a second); then each is awaited. */
static void
wait_helpers_started(Harness *h)
{
	g_autofree char *port_file = g_build_filename(h->tmpdir, "httpd.port", NULL);
	g_autofree char *ready = NULL;

	h->bus_address = wait_file_line(h, "dbus.out", "unix:");
	if (!harness_wait(h, cond_port_file, port_file, START_TIMEOUT_MS, "httpd port file"))
		g_error("httpd did not write its port: %s",
		        read_file_or_empty(g_build_filename(h->tmpdir, "httpd.log", NULL)));
	ready = wait_file_line(h, "sim.out", "READY ");
	g_test_message("simulator: %s", ready);
	g_assert_true(g_file_test(h->link_path, G_FILE_TEST_EXISTS));
}

static void
start_sim(Harness *h, const HarnessOptions *opts)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(0);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	g_ptr_array_add(argv, (gpointer)require_env("DFOTA_SIM"));
	g_ptr_array_add(argv, "--link");
	g_ptr_array_add(argv, h->link_path);
	g_ptr_array_add(argv, "--log");
	g_ptr_array_add(argv, h->sim_log_path);
	g_ptr_array_add(argv, "--control");
	g_ptr_array_add(argv, h->control_path);
	g_ptr_array_add(argv, "--revision");
	g_ptr_array_add(argv, HARNESS_REV_FROM);
	g_ptr_array_add(argv, "--imei");
	g_ptr_array_add(argv, "866971030012345");
	g_ptr_array_add(argv, "--time-scale");
	g_ptr_array_add(argv, "0.02");
	for (guint i = 0; opts->sim_args != NULL && opts->sim_args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)opts->sim_args[i]);
	g_ptr_array_add(argv, NULL);

	h->sim_proc = spawn(h, "sim.out", launcher, (const char *const *)argv->pdata);
}

static void
start_daemon(Harness *h, const HarnessOptions *opts)
{
	g_autofree char *config = g_build_filename(h->tmpdir, "dfotad.conf", NULL);
	g_autofree char *state = g_build_filename(h->tmpdir, "state", NULL);
	g_autoptr(GString) text = g_string_new("[daemon]\n");
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(0);
	g_autoptr(GError) error = NULL;
	const char *argv[] = { require_env("DFOTAD"), "--session", "--port",   h->link_path,
		               "--state-dir",         state,       "--config", config,
		               "--verbose",           NULL };

	/* Defaults short enough that a hung phase fails a test well before meson's timeout. */
	g_string_append(text, "command-timeout-ms=5000\n");
	g_string_append(text, "reboot-timeout=20\n");
	for (guint i = 0; opts->daemon_keys != NULL && opts->daemon_keys[i] != NULL; i++)
		g_string_append_printf(text, "%s\n", opts->daemon_keys[i]);
	if (!strstr(text->str, "download-timeout="))
		g_string_append(text, "download-timeout=20\n");
	if (!strstr(text->str, "update-timeout="))
		g_string_append(text, "update-timeout=20\n");
	g_file_set_contents(config, text->str, -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_mkdir_with_parents(state, 0700), ==, 0);

	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", h->bus_address, TRUE);
	g_subprocess_launcher_unsetenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS");
	g_subprocess_launcher_setenv(launcher, "XDG_STATE_HOME", state, TRUE);
	h->daemon_proc = spawn(h, "dfotad.log", launcher, argv);
}

static gboolean
cond_name_owned(Harness *h, gpointer data)
{
	return h->name_owned;
}

static void
on_dir_changed(GFileMonitor *m, GFile *f, GFile *o, GFileMonitorEvent e, gpointer data)
{
	/* Nothing to do: the event woke the main context, the waiter re-checks its condition. */
}

Harness *
harness_new(const HarnessOptions *opts)
{
	static const HarnessOptions defaults = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GFile) dir = NULL;
	Harness *h = g_new0(Harness, 1);

	if (opts == NULL)
		opts = &defaults;
	g_mutex_init(&h->lock);
	h->events = g_ptr_array_new_with_free_func(harness_event_free);
	h->control_fd = -1;
	h->tmpdir = g_dir_make_tmp("dfotad-integ-XXXXXX", &error);
	g_assert_no_error(error);
	g_test_message("temporary directory %s", h->tmpdir);
	h->link_path = g_build_filename(h->tmpdir, "tty", NULL);
	h->sim_log_path = g_build_filename(h->tmpdir, "sim.log", NULL);
	h->control_path = g_build_filename(h->tmpdir, "sim.control", NULL);
	h->http_root = g_build_filename(h->tmpdir, "www", NULL);
	g_assert_cmpint(g_mkdir(h->http_root, 0700), ==, 0);

	dir = g_file_new_for_path(h->tmpdir);
	h->monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE, NULL, &error);
	g_assert_no_error(error);
	g_signal_connect(h->monitor, "changed", G_CALLBACK(on_dir_changed), h);

	start_bus(h);
	start_httpd(h);
	start_sim(h, opts);
	wait_helpers_started(h);

	h->bus = harness_new_client(h);
	h->filter_id = g_dbus_connection_add_filter(h->bus, harness_record_filter, h, NULL);
	/* The bus routes broadcast signals only to connections with a matching rule: this
	 * subscription adds it; the filter above does the recording. */
	h->signal_sub = g_dbus_connection_signal_subscribe(h->bus, HARNESS_BUS_NAME, NULL, NULL,
	                                                   NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
	                                                   harness_on_signal, h, NULL);
	h->name_watch = g_bus_watch_name_on_connection(
	        h->bus, HARNESS_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, harness_on_name_appeared,
	        harness_on_name_vanished, h, NULL);

	start_daemon(h, opts);
	if (!harness_wait(h, cond_name_owned, NULL, START_TIMEOUT_MS, "org.dfotad1 on the bus"))
		g_error("dfotad did not own %s; its log:\n%s", HARNESS_BUS_NAME,
		        read_file_or_empty(g_build_filename(h->tmpdir, "dfotad.log", NULL)));
	if (!opts->no_wait_ready &&
	    !harness_wait_property(h, HARNESS_IFACE_MODEM, "State", g_variant_new_string("ready"),
	                           START_TIMEOUT_MS))
		g_error("Modem.State never became \"ready\"; dfotad log:\n%s",
		        read_file_or_empty(g_build_filename(h->tmpdir, "dfotad.log", NULL)));
	return h;
}

static void
stop_process(Harness *h, GSubprocess **procp, const char *what, gboolean check_clean)
{
	GSubprocess *proc = *procp;
	gboolean timed_out = FALSE;
	guint timeout_id;

	if (proc == NULL)
		return;
	if (proc_alive(proc)) {
		g_test_message("stopping %s (pid %s)", what, g_subprocess_get_identifier(proc));
		g_subprocess_send_signal(proc, SIGTERM);
		timeout_id = g_timeout_add(STOP_TIMEOUT_MS, on_wait_timeout, &timed_out);
		while (proc_alive(proc) && !timed_out)
			g_main_context_iteration(NULL, TRUE);
		if (!timed_out)
			g_source_remove(timeout_id);
		if (proc_alive(proc)) {
			g_test_message("%s ignored SIGTERM for %d ms: SIGKILL", what,
			               STOP_TIMEOUT_MS);
			g_subprocess_force_exit(proc);
			g_subprocess_wait(proc, NULL, NULL);
			if (check_clean)
				g_test_fail_printf("%s did not stop on SIGTERM", what);
		}
	}
	/* The contract: the daemon stops cleanly on SIGTERM (and never crashes). */
	if (check_clean && !timed_out) {
		int status = g_subprocess_get_status(proc);

		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			g_test_fail_printf("%s did not exit cleanly: wait status 0x%x", what,
			                   status);
	}
	g_clear_object(procp);
}

static void
dump_file(Harness *h, const char *name)
{
	g_autofree char *path = g_build_filename(h->tmpdir, name, NULL);
	g_autofree char *contents = read_file_or_empty(path);
	gsize len = strlen(contents);

	/* The tail is where a failure is explained. */
	g_printerr("==== %s (last 12000 bytes) ====\n%s\n", name,
	           len > 12000 ? contents + len - 12000 : contents);
}

void
harness_free(Harness *h)
{
	if (h == NULL)
		return;
	if (h->control_fd >= 0)
		close(h->control_fd);
	stop_process(h, &h->daemon_proc, "dfotad", TRUE);
	stop_process(h, &h->sim_proc, "dfota-sim", FALSE);
	stop_process(h, &h->httpd_proc, "httpd.py", FALSE);
	if (h->name_watch != 0)
		g_bus_unwatch_name(h->name_watch);
	if (h->bus != NULL) {
		g_dbus_connection_signal_unsubscribe(h->bus, h->signal_sub);
		g_dbus_connection_remove_filter(h->bus, h->filter_id);
		g_dbus_connection_close_sync(h->bus, NULL, NULL);
		g_clear_object(&h->bus);
	}
	stop_process(h, &h->dbus_proc, "dbus-daemon", FALSE);

	if (g_test_failed()) {
		dump_file(h, "dfotad.log");
		dump_file(h, "sim.log");
		dump_file(h, "sim.out");
		dump_file(h, "httpd.log");
	}
	if (g_getenv("DFOTA_TEST_KEEP") != NULL || g_test_failed()) {
		g_printerr("kept %s\n", h->tmpdir);
	} else {
		g_autoptr(GFile) dir = g_file_new_for_path(h->tmpdir);
		g_autoptr(GError) error = NULL;

		/* The dir holds only small files and a bus socket, no subtrees but two. */
		g_autofree char *argv0 = g_find_program_in_path("rm");
		const char *argv[] = { argv0, "-rf", "--", h->tmpdir, NULL };

		g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
		             NULL, &error);
		g_assert_no_error(error);
	}
	g_clear_object(&h->monitor);
	g_ptr_array_unref(h->events);
	g_mutex_clear(&h->lock);
	g_free(h->tmpdir);
	g_free(h->link_path);
	g_free(h->sim_log_path);
	g_free(h->control_path);
	g_free(h->http_root);
	g_free(h->bus_address);
	g_free(h);
}

GDBusConnection *
harness_bus(Harness *h)
{
	return h->bus;
}

const char *
harness_tmpdir(Harness *h)
{
	return h->tmpdir;
}

const char *
harness_link_path(Harness *h)
{
	return h->link_path;
}

void
harness_make_package(Harness *h, const char *name, const char *model, const char *from,
                     const char *to, const char *const *extra)
{
	g_autofree char *out = g_build_filename(h->http_root, name, NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *err_text = NULL;
	int status = 0;

	g_ptr_array_add(argv, (gpointer)require_env("DFOTA_SIM"));
	g_ptr_array_add(argv, "--make-package");
	g_ptr_array_add(argv, out);
	g_ptr_array_add(argv, "--from");
	g_ptr_array_add(argv, (gpointer)from);
	g_ptr_array_add(argv, "--to");
	g_ptr_array_add(argv, (gpointer)to);
	g_ptr_array_add(argv, "--model");
	g_ptr_array_add(argv, (gpointer)model);
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)extra[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
	             &err_text, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("dfota-sim --make-package failed: %s", err_text);
	g_assert_true(g_file_test(out, G_FILE_TEST_IS_REGULAR));
}

char *
harness_url(Harness *h, const char *path)
{
	return g_strdup_printf("http://127.0.0.1:%u/%s", h->http_port, path);
}

static gboolean
cond_control_open(Harness *h, gpointer data)
{
	/* O_NONBLOCK: fails with ENXIO instead of hanging while no reader has the FIFO open. */
	if (h->control_fd < 0)
		h->control_fd = open(h->control_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	return h->control_fd >= 0;
}

static guint
count_control_acks(Harness *h)
{
	g_autofree char *path = g_build_filename(h->tmpdir, "sim.out", NULL);
	g_autofree char *contents = read_file_or_empty(path);
	g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
	guint n = 0;

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "OK ") || g_str_has_prefix(lines[i], "ERROR "))
			n++;
	}
	return n;
}

static gboolean
cond_control_acked(Harness *h, gpointer data)
{
	return count_control_acks(h) >= h->n_controls;
}

void
harness_control(Harness *h, const char *fmt, ...)
{
	g_autofree char *line = NULL;
	g_autofree char *text = NULL;
	g_autofree char *ok_line = NULL;
	g_autofree char *out_path = g_build_filename(h->tmpdir, "sim.out", NULL);
	g_autofree char *out = NULL;
	va_list ap;
	gssize n;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strconcat(text, "\n", NULL);
	if (!harness_wait(h, cond_control_open, NULL, START_TIMEOUT_MS, "the control FIFO"))
		g_error("cannot open %s: %s", h->control_path, g_strerror(errno));
	/* One write below PIPE_BUF is atomic: the simulator reads whole lines. */
	do
		n = write(h->control_fd, line, strlen(line));
	while (n < 0 && errno == EINTR);
	g_assert_cmpint(n, ==, (gssize)strlen(line));
	h->n_controls++;
	g_test_message("control: %s", text);

	/* The simulator answers "OK <line>" on stdout once it acted on it: go on only then. */
	if (!harness_wait(h, cond_control_acked, NULL, START_TIMEOUT_MS, "control ack"))
		g_error("the simulator did not acknowledge \"%s\"", text);
	ok_line = g_strdup_printf("OK %s\n", text);
	out = read_file_or_empty(out_path);
	if (strstr(out, ok_line) == NULL)
		g_error("the simulator refused control line \"%s\"", text);
}

GPtrArray *
harness_tty_lines(Harness *h)
{
	g_autofree char *contents = read_file_or_empty(h->sim_log_path);
	g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "> "))
			g_ptr_array_add(out, g_strdup(lines[i] + 2));
	}
	return out;
}

guint
harness_tty_mark(Harness *h)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	return lines->len;
}

int
harness_tty_find(Harness *h, guint from, const char *prefix)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	for (guint i = from; i < lines->len; i++) {
		if (g_str_has_prefix(lines->pdata[i], prefix))
			return (int)i;
	}
	return -1;
}

typedef struct {
	guint from;
	const char *prefix;
	int index;
} TtyWait;

static gboolean
cond_tty(Harness *h, gpointer data)
{
	TtyWait *tw = data;

	tw->index = harness_tty_find(h, tw->from, tw->prefix);
	return tw->index >= 0;
}

int
harness_wait_tty(Harness *h, guint from, const char *prefix, guint timeout_ms)
{
	TtyWait tw = { from, prefix, -1 };
	g_autofree char *what = g_strdup_printf("\"%s\" in the simulator log", prefix);

	harness_wait(h, cond_tty, &tw, timeout_ms, what);
	return tw.index;
}

typedef struct {
	gboolean done;
	char *out;
	char *err;
	GError *error;
} RunState;

static void
on_communicated(GObject *source, GAsyncResult *res, gpointer data)
{
	RunState *rs = data;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &rs->out, &rs->err,
	                                     &rs->error);
	rs->done = TRUE;
}

static gboolean
cond_run_done(Harness *h, gpointer data)
{
	return ((RunState *)data)->done;
}

int
harness_run(Harness *h, const char *const *argv, const char *bus_address, char **out, char **err,
            guint timeout_ms)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
	RunState rs = { 0 };
	int status;

	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS",
	                             bus_address != NULL ? bus_address : h->bus_address, TRUE);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_test_message("run: %s", cmdline);
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_communicated, &rs);
	if (!harness_wait(h, cond_run_done, &rs, timeout_ms, cmdline)) {
		g_subprocess_force_exit(proc);
		/* communicate_utf8 must finish before rs goes out of scope. */
		while (!rs.done)
			g_main_context_iteration(NULL, TRUE);
		g_error("%s did not finish within %u ms", cmdline, timeout_ms);
	}
	g_assert_no_error(rs.error);
	g_subprocess_wait(proc, NULL, NULL);
	status = g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1;
	g_test_message("exit %d\nstdout: %s\nstderr: %s", status, rs.out, rs.err);
	if (out != NULL)
		*out = g_steal_pointer(&rs.out);
	if (err != NULL)
		*err = g_steal_pointer(&rs.err);
	g_free(rs.out);
	g_free(rs.err);
	return status;
}
