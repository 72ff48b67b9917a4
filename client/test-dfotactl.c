/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfotactl's own behaviour, as a program: exit statuses (2 usage, 3 unreachable, 1 failed call or
 * job, 0 success), error names without the "GDBus.Error:" prefix, job following with a Finished
 * right behind the reply, and descriptor passing. The peer is this test itself, exporting the
 * generated skeletons on a private bus with scripted answers; the real daemon is exercised by
 * the integration tests.
 */
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "dfota-dbus-generated.h"

typedef struct {
	GTestDBus *bus;
	GDBusConnection *conn;
	GDBusObjectManagerServer *server;
	DfotaDBusModem *modem;
	DfotaDBusFota *fota;
	DfotaDBusFiles *files;
	char *uploaded;
	char *tmpdir;
} Fixture;

typedef struct {
	int status;
	char *out;
	char *err;
} Run;

static void
run_clear(Run *r)
{
	g_free(r->out);
	g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

static void
on_communicated(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Run *r = user_data;
	g_autoptr(GError) error = NULL;
	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &r->out, &r->err, &error);
	g_assert_no_error(error);
	r->status = g_subprocess_get_if_exited(G_SUBPROCESS(source))
	                    ? g_subprocess_get_exit_status(G_SUBPROCESS(source))
	                    : 1000;
}

/* Runs dfotactl with @args (NULL-terminated) while this process keeps serving the bus. */
static void
run(Run *r, const char *bus_address, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	const char *arg;
	va_list ap;

	g_ptr_array_add(argv, (gpointer)g_getenv("DFOTACTL"));
	va_start(ap, bus_address);
	while ((arg = va_arg(ap, const char *)))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);

	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
	                                     G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", bus_address, TRUE);
	proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	r->status = -1;
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_communicated, r);
	while (r->status == -1)
		g_main_context_iteration(NULL, TRUE);
}

static GVariant *
empty_dict(void)
{
	return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

static GVariant *
result_dict(gboolean success, const char *error, gint32 code, const char *message)
{
	GVariantDict d;
	g_variant_dict_init(&d, NULL);
	g_variant_dict_insert(&d, "id", "t", (guint64)7);
	g_variant_dict_insert(&d, "kind", "s", "upgrade");
	g_variant_dict_insert(&d, "success", "b", success);
	g_variant_dict_insert(&d, "code", "i", code);
	g_variant_dict_insert(&d, "error", "s", error);
	g_variant_dict_insert(&d, "message", "s", message);
	g_variant_dict_insert(&d, "from-revision", "s", "BC65JAR01A01");
	g_variant_dict_insert(&d, "to-revision", "s", success ? "BC65JAR01A02" : "BC65JAR01A01");
	return g_variant_dict_end(&d);
}

/* Scripted by the URL: "bad" refuses the call, "fail" fails the job at once, else success. */
static gboolean
on_upgrade(DfotaDBusFota *fota, GDBusMethodInvocation *inv, const char *url, gpointer data)
{
	GVariantDict job;

	if (strstr(url, "bad")) {
		g_dbus_method_invocation_return_dbus_error(inv, "org.dfotad1.Error.InvalidUrl",
		                                           "the URL must start with http://");
		return TRUE;
	}
	g_variant_dict_init(&job, NULL);
	g_variant_dict_insert(&job, "id", "t", (guint64)7);
	g_variant_dict_insert(&job, "kind", "s", "upgrade");
	g_variant_dict_insert(&job, "source", "s", url);
	dfota_dbus_fota_set_job(fota, g_variant_dict_end(&job));
	dfota_dbus_fota_complete_upgrade(fota, inv);
	if (strstr(url, "fail")) {
		dfota_dbus_fota_emit_finished(fota,
		                              result_dict(FALSE, "org.dfotad1.Error.DownloadFailed",
		                                          6503, "HTTPEND 6503"));
		return TRUE;
	}
	dfota_dbus_fota_emit_progress(fota, "downloading", 0);
	dfota_dbus_fota_emit_progress(fota, "downloading", 50);
	dfota_dbus_fota_emit_progress(fota, "downloading", 100);
	dfota_dbus_fota_emit_progress(fota, "updating", 100);
	dfota_dbus_fota_emit_finished(fota, result_dict(TRUE, "", 0, ""));
	return TRUE;
}

static gboolean
on_command(DfotaDBusModem *modem, GDBusMethodInvocation *inv, const char *cmd, guint timeout,
           gpointer data)
{
	if (strcmp(cmd, "AT+CESQ") == 0)
		dfota_dbus_modem_complete_command(modem, inv, "+CESQ: 99,99,255,255,10,40");
	else
		g_dbus_method_invocation_return_dbus_error(inv, "org.dfotad1.Error.InvalidCommand",
		                                           "not an AT command");
	return TRUE;
}

static int
fd_of(GDBusMethodInvocation *inv, GVariant *handle)
{
	GDBusMessage *msg = g_dbus_method_invocation_get_message(inv);
	GUnixFDList *fds = g_dbus_message_get_unix_fd_list(msg);
	g_assert_nonnull(fds);
	return g_unix_fd_list_get(fds, g_variant_get_handle(handle), NULL);
}

static gboolean
on_download(DfotaDBusFiles *files, GDBusMethodInvocation *inv, const char *name, GVariant *h,
            gpointer data)
{
	int fd = fd_of(inv, h);
	g_assert_cmpint(write(fd, "mcu bytes", 9), ==, 9);
	close(fd);
	dfota_dbus_files_complete_download(files, inv);
	return TRUE;
}

static gboolean
on_upload(DfotaDBusFiles *files, GDBusMethodInvocation *inv, const char *name, GVariant *h,
          gpointer data)
{
	Fixture *fx = data;
	char buf[64] = { 0 };
	int fd = fd_of(inv, h);
	g_assert_cmpint(read(fd, buf, sizeof buf - 1), >, 0);
	close(fd);
	g_free(fx->uploaded);
	fx->uploaded = g_strdup_printf("%s=%s", name, buf);
	dfota_dbus_files_complete_upload(files, inv);
	return TRUE;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DfotaDBusObjectSkeleton) obj = NULL;
	g_autoptr(GVariant) reply = NULL;

	fx->tmpdir = g_dir_make_tmp("test-dfotactl-XXXXXX", &error);
	g_assert_no_error(error);
	fx->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_test_dbus_up(fx->bus);
	fx->conn = g_dbus_connection_new_for_address_sync(
	        g_test_dbus_get_bus_address(fx->bus),
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);
	g_assert_no_error(error);
	if (!GPOINTER_TO_INT(data))
		return; /* a bus where nobody owns org.dfotad1 */

	fx->modem = dfota_dbus_modem_skeleton_new();
	dfota_dbus_modem_set_port(fx->modem, "/tmp/ttyBC65");
	dfota_dbus_modem_set_state(fx->modem, "ready");
	dfota_dbus_modem_set_revision(fx->modem, "BC65JAR01A01");
	dfota_dbus_modem_set_imei(fx->modem, "866971030000042");
	dfota_dbus_modem_set_model(fx->modem, "Quectel_BC65");
	dfota_dbus_modem_set_device(fx->modem, empty_dict());
	dfota_dbus_modem_set_network(fx->modem, empty_dict());
	g_signal_connect(fx->modem, "handle-command", G_CALLBACK(on_command), fx);
	fx->fota = dfota_dbus_fota_skeleton_new();
	dfota_dbus_fota_set_phase(fx->fota, "idle");
	dfota_dbus_fota_set_job(fx->fota, empty_dict());
	dfota_dbus_fota_set_last_result(fx->fota, empty_dict());
	g_signal_connect(fx->fota, "handle-upgrade", G_CALLBACK(on_upgrade), fx);
	fx->files = dfota_dbus_files_skeleton_new();
	g_signal_connect(fx->files, "handle-download", G_CALLBACK(on_download), fx);
	g_signal_connect(fx->files, "handle-upload", G_CALLBACK(on_upload), fx);

	obj = dfota_dbus_object_skeleton_new("/org/dfotad1/Modem/0");
	dfota_dbus_object_skeleton_set_modem(obj, fx->modem);
	dfota_dbus_object_skeleton_set_fota(obj, fx->fota);
	dfota_dbus_object_skeleton_set_files(obj, fx->files);
	fx->server = g_dbus_object_manager_server_new("/org/dfotad1");
	g_dbus_object_manager_server_export(fx->server, G_DBUS_OBJECT_SKELETON(obj));
	g_dbus_object_manager_server_set_connection(fx->server, fx->conn);
	reply = g_dbus_connection_call_sync(
	        fx->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "RequestName", g_variant_new("(su)", "org.dfotad1", 4u), G_VARIANT_TYPE("(u)"),
	        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_clear_object(&fx->server);
	g_clear_object(&fx->modem);
	g_clear_object(&fx->fota);
	g_clear_object(&fx->files);
	g_dbus_connection_close_sync(fx->conn, NULL, NULL);
	g_clear_object(&fx->conn);
	g_test_dbus_down(fx->bus);
	g_clear_object(&fx->bus);
	g_free(fx->uploaded);
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
}

static void
test_usage(void)
{
	/* No bus at all: usage errors must be found before any connection attempt. */
	const char *nobus = "unix:path=/nonexistent/dfotactl-test";
	const char *cases[][4] = {
		{ NULL },
		{ "frobnicate" },
		{ "--frob", "status" },
		{ "status", "extra" },
		{ "upgrade" },
		{ "upgrade", "--local", "http://h/p" },
		{ "upgrade", "--sha256" },
		{ "upgrade", "--sha256", "00", "http://h/p" },
		{ "upgrade", "--fallback-via-host", "--via-host", "http://h/p" },
		{ "upgrade", "--local", "--from-revision", "R1" },
		{ "at" },
		{ "at", "ATI", "--timeout", "soon" },
		{ "files" },
		{ "files", "cp" },
		{ "files", "get", "x" },
		{ "files", "put", "-" },
		{ "--modem", "x", "status" },
		{ "status", "--no-wait" },
		{ "--json=1", "status" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(Run) r = { 0 };
		run(&r, nobus, "--session", cases[i][0], cases[i][1], cases[i][2], cases[i][3],
		    NULL);
		g_test_message("case %zu: %s", i, r.err);
		g_assert_cmpint(r.status, ==, 2);
		g_assert_true(g_str_has_prefix(r.err, "dfotactl: "));
		g_assert_nonnull(strstr(r.err, "Usage: dfotactl"));
	}
	g_auto(Run) help = { 0 };
	run(&help, nobus, "--help", NULL);
	g_assert_cmpint(help.status, ==, 0);
	g_assert_nonnull(strstr(help.out, "upgrade --via-host URL"));
}

static void
test_no_bus(void)
{
	g_auto(Run) r = { 0 };
	run(&r, "unix:path=/nonexistent/dfotactl-test", "--session", "status", NULL);
	g_assert_cmpint(r.status, ==, 3);
	g_assert_nonnull(strstr(r.err, "session bus"));
}

static void
test_no_daemon(Fixture *fx, gconstpointer data)
{
	g_auto(Run) r = { 0 };
	run(&r, g_test_dbus_get_bus_address(fx->bus), "upgrade", "--session", "http://h/p", NULL);
	g_assert_cmpint(r.status, ==, 3);
	g_assert_nonnull(strstr(r.err, "org.dfotad1"));
}

static void
test_no_modem(Fixture *fx, gconstpointer data)
{
	g_auto(Run) r = { 0 };
	run(&r, g_test_dbus_get_bus_address(fx->bus), "--session", "--modem", "7", "status", NULL);
	g_assert_cmpint(r.status, ==, 3);
	g_assert_nonnull(strstr(r.err, "/org/dfotad1/Modem/7"));
}

static void
test_status(Fixture *fx, gconstpointer data)
{
	const char *addr = g_test_dbus_get_bus_address(fx->bus);
	g_auto(Run) text = { 0 };
	g_auto(Run) json = { 0 };
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	run(&text, addr, "--session", "status", NULL);
	g_assert_cmpint(text.status, ==, 0);
	g_assert_nonnull(strstr(text.out, "Revision:     BC65JAR01A01\n"));
	g_assert_nonnull(strstr(text.out, "State:        ready\n"));
	g_assert_nonnull(strstr(text.out, "IMEI:         866971030000042\n"));

	run(&json, addr, "status", "--json", "--session", NULL);
	g_assert_cmpint(json.status, ==, 0);
	json_parser_load_from_data(parser, json.out, -1, &error);
	g_assert_no_error(error);
	JsonObject *o = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "ready");
	g_assert_cmpstr(json_object_get_string_member(o, "port"), ==, "/tmp/ttyBC65");
	g_assert_cmpstr(json_object_get_string_member(o, "imei"), ==, "866971030000042");
}

static void
test_upgrade(Fixture *fx, gconstpointer data)
{
	const char *addr = g_test_dbus_get_bus_address(fx->bus);
	g_auto(Run) ok = { 0 };
	g_auto(Run) refused = { 0 };
	g_auto(Run) failed = { 0 };
	g_auto(Run) json = { 0 };

	run(&ok, addr, "--session", "upgrade", "http://127.0.0.1:1/update.pack", NULL);
	g_assert_cmpint(ok.status, ==, 0);
	g_assert_nonnull(strstr(ok.out, "downloading 0%\ndownloading 50%\ndownloading 100%\n"
	                                "updating 100%\n"));
	g_assert_nonnull(strstr(ok.out, "Revision: BC65JAR01A01 -> BC65JAR01A02\n"));

	run(&refused, addr, "--session", "upgrade", "http://bad/", NULL);
	g_assert_cmpint(refused.status, ==, 1);
	g_assert_cmpstr(refused.err, ==,
	                "dfotactl: org.dfotad1.Error.InvalidUrl: "
	                "the URL must start with http://\n");

	/* Finished right behind the reply, with no progress at all. */
	run(&failed, addr, "--session", "upgrade", "http://fail/", NULL);
	g_assert_cmpint(failed.status, ==, 1);
	g_assert_nonnull(strstr(failed.out, "Code:     6503\n"));
	g_assert_cmpstr(failed.err, ==,
	                "dfotactl: org.dfotad1.Error.DownloadFailed: HTTPEND 6503\n");

	run(&json, addr, "--json", "--session", "upgrade", "http://127.0.0.1:1/update.pack", NULL);
	g_assert_cmpint(json.status, ==, 0);
	g_auto(GStrv) lines = g_strsplit(g_strchomp(json.out), "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 6); /* started, 4 progress, finished */
	for (guint i = 0; lines[i]; i++) {
		g_autoptr(JsonParser) parser = json_parser_new();
		g_autoptr(GError) error = NULL;
		json_parser_load_from_data(parser, lines[i], -1, &error);
		g_assert_no_error(error);
		JsonObject *o = json_node_get_object(json_parser_get_root(parser));
		const char *event = json_object_get_string_member(o, "event");
		if (i == 1)
			g_assert_cmpint(json_object_get_int_member(o, "percent"), ==, 0);
		if (lines[i + 1] == NULL) {
			g_assert_cmpstr(event, ==, "finished");
			g_assert_true(json_object_get_boolean_member(o, "success"));
			g_assert_cmpstr(json_object_get_string_member(o, "to-revision"), ==,
			                "BC65JAR01A02");
		}
	}
}

static void
test_at_and_files(Fixture *fx, gconstpointer data)
{
	const char *addr = g_test_dbus_get_bus_address(fx->bus);
	g_autofree char *dst = g_build_filename(fx->tmpdir, "mcu.bin", NULL);
	g_autofree char *src = g_build_filename(fx->tmpdir, "pkg.bin", NULL);
	g_autofree char *contents = NULL;
	g_auto(Run) at = { 0 };
	g_auto(Run) at_bad = { 0 };
	g_auto(Run) get = { 0 };
	g_auto(Run) put = { 0 };

	run(&at, addr, "--session", "at", "AT+CESQ", "--timeout", "5000", NULL);
	g_assert_cmpint(at.status, ==, 0);
	g_assert_cmpstr(at.out, ==, "+CESQ: 99,99,255,255,10,40\n");
	run(&at_bad, addr, "--session", "at", "ATX", NULL);
	g_assert_cmpint(at_bad.status, ==, 1);
	g_assert_true(g_str_has_prefix(at_bad.err, "dfotactl: org.dfotad1.Error.InvalidCommand: "));

	run(&get, addr, "--session", "files", "get", "mcu_update.bin", dst, NULL);
	g_assert_cmpint(get.status, ==, 0);
	g_assert_true(g_file_get_contents(dst, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==, "mcu bytes");

	g_assert_true(g_file_set_contents(src, "package", -1, NULL));
	run(&put, addr, "--session", "files", "put", src, NULL);
	g_assert_cmpint(put.status, ==, 0);
	g_assert_cmpstr(fx->uploaded, ==, "pkg.bin=package");
	g_unlink(dst);
	g_unlink(src);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!g_getenv("DFOTACTL")) {
		g_printerr("DFOTACTL must name the dfotactl binary\n");
		return 1;
	}
	g_test_add_func("/dfotactl/usage", test_usage);
	g_test_add_func("/dfotactl/unreachable/no-bus", test_no_bus);
	g_test_add("/dfotactl/unreachable/no-daemon", Fixture, GINT_TO_POINTER(0), fixture_setup,
	           test_no_daemon, fixture_teardown);
	g_test_add("/dfotactl/unreachable/no-modem", Fixture, GINT_TO_POINTER(1), fixture_setup,
	           test_no_modem, fixture_teardown);
	g_test_add("/dfotactl/status", Fixture, GINT_TO_POINTER(1), fixture_setup, test_status,
	           fixture_teardown);
	g_test_add("/dfotactl/upgrade", Fixture, GINT_TO_POINTER(1), fixture_setup, test_upgrade,
	           fixture_teardown);
	g_test_add("/dfotactl/at-and-files", Fixture, GINT_TO_POINTER(1), fixture_setup,
	           test_at_and_files, fixture_teardown);
	return g_test_run();
}
