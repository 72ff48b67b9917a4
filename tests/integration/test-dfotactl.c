// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-dfotactl.c: the bundled client against the real daemon (exit statuses and output as
 * the command-line contract says). */
#include "harness.h"
#include "harness-private.h"

#include <signal.h>
#include <string.h>

static const char *
dfotactl(void)
{
	const char *path = g_getenv("DFOTACTL");

	g_assert_nonnull(path);
	return path;
}

static void
test_status_and_at(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	const char *status_argv[] = { dfotactl(), "--session", "status", NULL };
	const char *at_argv[] = { dfotactl(), "--session", "at", "AT+CGSN=1", NULL };
	const char *refused_argv[] = { dfotactl(), "--session", "at", "ATZ", NULL };

	g_assert_cmpint(harness_run(h, status_argv, NULL, &out, &err, 30000), ==, 0);
	g_assert_nonnull(strstr(out, HARNESS_REV_FROM));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(harness_run(h, at_argv, NULL, &out, &err, 30000), ==, 0);
	g_assert_nonnull(strstr(out, "+CGSN: 866971030012345"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	/* A failed call: status 1, the error name on stderr. */
	g_assert_cmpint(harness_run(h, refused_argv, NULL, &out, &err, 30000), ==, 1);
	g_assert_nonnull(strstr(err, "InvalidCommand"));
	g_assert_cmpint(harness_tty_find(h, 0, "ATZ"), <, 0);
}

static void
test_upgrade(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;
	g_autofree char *missing = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) rev = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	missing = harness_url(h, "missing.pack");
	{
		const char *argv[] = { dfotactl(), "--session", "upgrade", url, NULL };

		/* Follows the job and returns after Finished, with status 0 on success. */
		since = harness_mark(h);
		g_assert_cmpint(harness_run(h, argv, NULL, &out, &err, 90000), ==, 0);
		g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"),
		                 ==, 1);
		result = harness_wait_finished(h, since, 1000);
		g_assert_true(harness_dict_bool(result, "success"));
		rev = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");
		g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, HARNESS_REV_TO);
	}
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	{
		const char *argv[] = { dfotactl(), "--session", "upgrade", missing, NULL };

		/* The job fails: status 1 and the error name on stderr. */
		since = harness_mark(h);
		g_assert_cmpint(harness_run(h, argv, NULL, &out, &err, 90000), ==, 1);
		g_assert_nonnull(strstr(err, "PackageNotFound"));
		g_clear_pointer(&result, g_variant_unref);
		result = harness_wait_finished(h, since, 1000);
		g_assert_false(harness_dict_bool(result, "success"));
	}
}

/* A running "dfotactl monitor": its stdout so far, and whether it has exited. */
typedef struct {
	Harness *h;
	GSubprocess *proc;
	GDataInputStream *out;
	GString *text;
	gboolean exited;
	gboolean eof;
	const char *want; /* what the wait looks for */
	gint64 next_urc;  /* when to inject the next URC while waiting (0: never) */
} Monitor;

static void
on_monitor_line(GObject *source, GAsyncResult *res, gpointer data)
{
	Monitor *m = data;
	g_autofree char *line = g_data_input_stream_read_line_finish_utf8(
	        G_DATA_INPUT_STREAM(source), res, NULL, NULL);

	if (line == NULL) {
		m->eof = TRUE;
		return;
	}
	g_string_append_printf(m->text, "%s\n", line);
	g_data_input_stream_read_line_async(m->out, G_PRIORITY_DEFAULT, NULL, on_monitor_line, m);
}

static void
on_monitor_exited(GObject *source, GAsyncResult *res, gpointer data)
{
	Monitor *m = data;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	m->exited = TRUE;
}

/* Whether the monitor printed m->want. Until then, when m->next_urc is set, a URC goes to the
 * module every 200 ms: the monitor may not have subscribed yet when the first one comes. */
static gboolean
cond_monitor_printed(Harness *h, gpointer data)
{
	Monitor *m = data;

	if (strstr(m->text->str, m->want) != NULL)
		return TRUE;
	if (m->next_urc && g_get_monotonic_time() >= m->next_urc) {
		harness_control(h, "urc +CEREG: 5");
		m->next_urc = g_get_monotonic_time() + 200 * G_TIME_SPAN_MILLISECOND;
	}
	return FALSE;
}

static gboolean
cond_monitor_exited(Harness *h, gpointer data)
{
	Monitor *m = data;

	return m->exited && m->eof;
}

/* Runs "dfotactl monitor" (with --json when @json), waits until it reports a URC the module
 * sends, then stops it with SIGTERM; returns what it printed. */
static char *
run_monitor(Harness *h, gboolean json, const char *want)
{
	g_autoptr(GSubprocessLauncher) launcher =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	const char *argv[] = { dfotactl(), "--session", json ? "--json" : "monitor",
		               json ? "monitor" : NULL, NULL };
	g_autoptr(GError) error = NULL;
	Monitor m = { .h = h, .text = g_string_new(NULL) };

	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", h->bus_address, TRUE);
	m.proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	m.out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(m.proc));
	g_data_input_stream_read_line_async(m.out, G_PRIORITY_DEFAULT, NULL, on_monitor_line, &m);
	g_subprocess_wait_async(m.proc, NULL, on_monitor_exited, &m);
	m.want = want;
	m.next_urc = g_get_monotonic_time();
	g_assert_true(harness_wait(h, cond_monitor_printed, &m, 30000, want));
	g_subprocess_send_signal(m.proc, SIGTERM);
	g_assert_true(harness_wait(h, cond_monitor_exited, &m, 30000, "monitor exits"));
	g_assert_true(g_subprocess_get_if_exited(m.proc));
	g_assert_cmpint(g_subprocess_get_exit_status(m.proc), ==, 0);
	g_test_message("monitor%s printed:\n%s", json ? " --json" : "", m.text->str);
	g_object_unref(m.out);
	g_object_unref(m.proc);
	return g_string_free(m.text, FALSE);
}

static void
test_monitor(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *text = run_monitor(h, FALSE, " urc +CEREG: 5\n");
	g_autofree char *json = run_monitor(h, TRUE, "+CEREG: 5");

	g_assert_nonnull(strstr(text, "monitoring "));
	g_assert_nonnull(strstr(json, "{\"event\":\"urc\",\"line\":\"+CEREG: 5\"}\n"));
	g_assert_null(strstr(json, "monitoring "));
}

static void
test_unreachable(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *nowhere = g_strdup_printf("unix:path=%s/no-bus", harness_tmpdir(h));
	const char *argv[] = { dfotactl(), "--session", "status", NULL };

	g_assert_cmpint(harness_run(h, argv, nowhere, NULL, NULL, 30000), ==, 3);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dfotactl/status-and-at", test_status_and_at);
	g_test_add_func("/dfotactl/upgrade", test_upgrade);
	g_test_add_func("/dfotactl/unreachable", test_unreachable);
	g_test_add_func("/dfotactl/monitor", test_monitor);
	return g_test_run();
}
