// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-config.c: configuration that can never work ends the daemon at once with exit status 1
 * and a message on stderr that names the problem (never a crash, never a hang); a configured
 * port that does not exist yet is not fatal (State "disconnected", then "ready" once the
 * simulator creates it). The real dfotad binary, on a private bus where one is needed. */
#include "helper-fixture.h"

typedef struct {
	const char *name;
	const char *config;       /* contents of --config, or NULL: see path */
	const char *path;         /* --config path relative to the temporary dir, when no config */
	const char *const *extra; /* further arguments */
	const char *const needles[3];
} BadConfig;

static const char *const baud_args[] = { "--port", "/nonexistent/tty", "--baud", "12345", NULL };
/* GOption keeps the last value: this --state-dir "" replaces the test's own. */
static const char *const empty_state_args[] = { "--port", "/nonexistent/tty", "--state-dir", "",
	                                        NULL };

static const BadConfig bad_configs[] = {
	{ "unknown-group",
	  "[daemon]\n[modems a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "unknown group", "modems a" } },
	{ "unknown-key",
	  "[modem a]\nport=/dev/null\nfrobnicate=1\n",
	  NULL,
	  NULL,
	  { "unknown key", "frobnicate", "modem a" } },
	{ "unknown-daemon-key",
	  "[daemon]\nport=/dev/null\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "unknown key", "port", "daemon" } },
	{ "bad-baud", "[modem a]\nport=/dev/null\nbaud=12345\n", NULL, NULL, { "baud", "12345" } },
	{ "bad-baud-text",
	  "[modem a]\nport=/dev/null\nbaud=fast\n",
	  NULL,
	  NULL,
	  { "baud", "fast" } },
	{ "bad-flow",
	  "[modem a]\nport=/dev/null\nflow=xonxoff\n",
	  NULL,
	  NULL,
	  { "flow", "xonxoff" } },
	{ "metrics-file-per-modem",
	  "[modem a]\nport=/dev/null\nmetrics-file=/tmp/a.prom\n",
	  NULL,
	  NULL,
	  { "metrics-file", "daemon-wide", "modem a" } },
	{ "metrics-file-relative",
	  "[daemon]\nmetrics-file=dfotad.prom\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "metrics-file", "absolute" } },
	{ "no-modem", "[daemon]\ncommand-timeout-ms=5000\n", NULL, NULL, { "modem" } },
	{ "modem-without-port", "[modem a]\nbaud=9600\n", NULL, NULL, { "modem a", "port" } },
	{ "unreadable-missing",
	  NULL,
	  "no-such-dir/dfotad.conf",
	  NULL,
	  { "no-such-dir/dfotad.conf" } },
	{ "unreadable-directory", NULL, ".", NULL, { "dfotad-sys-" } },
	{ "bad-cli-baud", "[daemon]\n", NULL, baud_args, { "baud", "12345" } },
	/* Out of range: configuration that can never work, however it is spelt. */
	{ "empty-cli-state-dir", "[daemon]\n", NULL, empty_state_args, { "--state-dir", "empty" } },
	{ "empty-state-dir",
	  "[daemon]\nstate-dir=\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "state-dir", "absolute" } },
	{ "relative-state-dir",
	  "[daemon]\nstate-dir=var/dfotad\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "state-dir=var/dfotad", "absolute" } },
	{ "package-size-2e32",
	  "[daemon]\nmax-package-size=4294967296\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "max-package-size=4294967296", "67108864" } },
	{ "package-size-over-64mib",
	  "[modem a]\nport=/dev/null\nmax-package-size=67108865\n",
	  NULL,
	  NULL,
	  { "[modem a] max-package-size=67108865", "67108864" } },
	{ "package-size-zero",
	  "[daemon]\nmax-package-size=0\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "max-package-size=0" } },
	{ "timeout-zero",
	  "[daemon]\ndownload-timeout=0\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "download-timeout=0", "from 1" } },
	{ "modem-timeout-zero",
	  "[modem a]\nport=/dev/null\nfetch-timeout=0\n",
	  NULL,
	  NULL,
	  { "[modem a] fetch-timeout=0" } },
	{ "command-timeout-huge",
	  "[daemon]\ncommand-timeout-ms=18446744073709551616\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "command-timeout-ms=18446744073709551616", "600000" } },
	{ "timeout-negative",
	  "[daemon]\nreboot-timeout=-5\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "reboot-timeout=-5" } },
	{ "timeout-with-unit",
	  "[daemon]\nupdate-timeout=10s\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "update-timeout=10s" } },
	{ "deadline-zero",
	  "[daemon]\nfetch-deadline=0\n[modem a]\nport=/dev/null\n",
	  NULL,
	  NULL,
	  { "fetch-deadline=0" } },
	{ "queue-zero", "[modem a]\nport=/dev/null\nmax-queue=0\n", NULL, NULL, { "max-queue=0" } },
	{ "baud-zero", "[modem a]\nport=/dev/null\nbaud=0\n", NULL, NULL, { "baud=0" } },
};

typedef struct {
	gboolean done;
	char *out;
	char *err;
	GError *error;
} Run;

static void
on_communicated(GObject *source, GAsyncResult *res, gpointer data)
{
	Run *r = data;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &r->out, &r->err,
	                                     &r->error);
	r->done = TRUE;
}

static gboolean
cond_run_done(gpointer data)
{
	return ((Run *)data)->done;
}

static void
test_bad_config(gconstpointer data)
{
	const BadConfig *bc = data;
	g_autoptr(Fix) f = fix_new();
	g_autofree char *config = fix_path(f, bc->config != NULL ? "dfotad.conf" : bc->path);
	g_autofree char *state = fix_path(f, "state");
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	Run r = { 0 };

	if (bc->config != NULL) {
		g_file_set_contents(config, bc->config, -1, &error);
		g_assert_no_error(error);
	}
	g_ptr_array_add(argv, (gpointer)fix_env("DFOTAD"));
	g_ptr_array_add(argv, "--session");
	g_ptr_array_add(argv, "--config");
	g_ptr_array_add(argv, config);
	g_ptr_array_add(argv, "--state-dir");
	g_ptr_array_add(argv, state);
	for (guint i = 0; bc->extra != NULL && bc->extra[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)bc->extra[i]);
	g_ptr_array_add(argv, NULL);

	/* No bus at all: configuration errors must be found before the daemon connects. */
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS",
	                             "unix:path=/nonexistent/bus", TRUE);
	proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_communicated, &r);
	if (!fix_wait(cond_run_done, &r, FIX_START_MS, "dfotad to exit")) {
		g_subprocess_force_exit(proc);
		while (!r.done)
			g_main_context_iteration(NULL, TRUE);
		g_test_fail_printf("%s: dfotad did not exit within %d ms", bc->name, FIX_START_MS);
	}
	g_assert_no_error(r.error);
	g_subprocess_wait(proc, NULL, NULL);
	g_test_message("%s: stderr: %s", bc->name, r.err);

	g_assert_true(g_subprocess_get_if_exited(proc)); /* not a crash */
	g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 1);
	g_assert_nonnull(r.err);
	g_assert_true(g_str_has_prefix(r.err, "dfotad: "));
	for (guint i = 0; i < G_N_ELEMENTS(bc->needles) && bc->needles[i] != NULL; i++) {
		if (strstr(r.err, bc->needles[i]) == NULL)
			g_error("%s: stderr does not name \"%s\": %s", bc->name, bc->needles[i],
			        r.err);
	}
	g_free(r.out);
	g_free(r.err);
}

/* A gateway may start the daemon before its USB adapter appears. */
static void
test_missing_port(void)
{
	g_autoptr(Fix) f = fix_new();
	g_autofree char *config = fix_path(f, "dfotad.conf");
	g_autofree char *state = fix_path(f, "state");
	g_autofree char *link = fix_path(f, "tty");
	g_autofree char *log = fix_path(f, "dfotad.out");
	g_autofree char *text = NULL;
	g_autofree char *bus_env = NULL;
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GVariant) port = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *daemon_log = NULL;
	GSubprocess *daemon;
	const char *argv[] = { fix_env("DFOTAD"), "--session", "--config", config,
		               "--state-dir",     state,       NULL };
	const char *env[] = { NULL, NULL };

	fix_start_bus(f, "session", FIX_POLICY_OPEN);
	bus_env = g_strconcat("DBUS_SESSION_BUS_ADDRESS=", f->bus_address, NULL);
	env[0] = bus_env;
	text = g_strdup_printf("[daemon]\ncommand-timeout-ms=5000\n[modem gw]\nport=%s\n", link);
	g_file_set_contents(config, text, -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_mkdir(state, 0700), ==, 0);

	daemon = fix_spawn(f, "dfotad", argv, env, NULL);
	conn = fix_connect(f);
	g_assert_true(fix_wait_name(conn, FIX_BUS_NAME, FIX_START_MS));
	g_assert_true(fix_alive(daemon));

	g_assert_true(fix_wait_property(conn, "org.dfotad1.Modem", "State", "disconnected",
	                                FIX_START_MS));
	port = fix_get_property(conn, "org.dfotad1.Modem", "Port", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(g_variant_get_string(port, NULL), ==, link);
	/* The journal (here: stderr) says why the modem is not there. */
	g_assert_true(fix_wait_file_has(log, link, FIX_START_MS));

	fix_start_sim(f, NULL, f->tmpdir, NULL);
	/* The daemon retries with a capped back-off (30 s at most; far less this early). */
	if (!fix_wait_property(conn, "org.dfotad1.Modem", "State", "ready", 40000))
		g_test_fail_printf("Modem.State never became \"ready\" after the port appeared");
	g_assert_true(fix_alive(daemon));

	daemon_log = fix_read(log);
	g_test_message("dfotad log:\n%s", daemon_log);
	g_dbus_connection_close_sync(conn, NULL, NULL);
	g_assert_cmpint(fix_stop(daemon), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(bad_configs); i++) {
		g_autofree char *path = g_strdup_printf("/config/fatal/%s", bad_configs[i].name);

		g_test_add_data_func(path, &bad_configs[i], test_bad_config);
	}
	g_test_add_func("/config/missing-port", test_missing_port);
	return g_test_run();
}
