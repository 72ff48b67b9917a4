// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-refusals.c: what Fota refuses before anything reaches the module (URLs, Busy, Cancel,
 * NotReady), the BC92-free preconditions, and the per-phase inactivity timeout. */
#include "harness.h"

#include <string.h>

static void
test_invalid_urls(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GString) long_url = g_string_new("http://127.0.0.1/");
	g_autoptr(GString) max_url = g_string_new("http://127.0.0.1:1/");
	const char *urls[] = {
		"ftp://x/y",
		"http://",
		NULL, /* 512 bytes */
		"http://127.0.0.1:70000/update.pack",
		"http://127.0.0.1:0/update.pack",
		"http://127.0.0.1/up\"date.pack",
		"http://127.0.0.1/a\r\nAT+QFOTADL=1",
		"http://127.0.0.1/caf\xc3\xa9.pack",
		"https://127.0.0.1/update.pack",
		"",
	};
	guint64 since = harness_mark(h);

	while (long_url->len < 512)
		g_string_append_c(long_url, 'a');
	urls[2] = long_url->str;

	for (guint i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;

		g_test_message("URL %.60s", urls[i]);
		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade",
		                     g_variant_new("(s)", urls[i]), NULL, &error);
		harness_assert_error(error, "InvalidUrl");
	}
	/* 511 bytes is allowed: it passes validation (the download then fails on port 1). */
	while (max_url->len < 511)
		g_string_append_c(max_url, 'b');
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;

		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade",
		                     g_variant_new("(s)", max_url->str), NULL, &error);
		if (error != NULL) {
			g_autofree char *name = g_dbus_error_get_remote_error(error);

			g_assert_cmpstr(name, !=, HARNESS_ERROR_PREFIX "InvalidUrl");
		} else {
			g_autoptr(GVariant) result = harness_wait_finished(h, since, 60000);

			g_assert_false(harness_dict_bool(result, "success"));
		}
	}
	/* None of the refused URLs reached the line; only the 511-byte one may have. */
	{
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);

		for (guint i = 0; i < lines->len; i++) {
			const char *line = lines->pdata[i];

			if (!g_str_has_prefix(line, "AT+QFOTADL"))
				continue;
			g_assert_nonnull(strstr(line, max_url->str));
		}
	}
}

static void
test_seed_url_is_valid(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	const char *url = "http://224.168.203.812:3029/update.pack";
	guint64 since = harness_mark(h);

	/* The seed's own example host is not a valid IPv4 address; it is not resolved by the
	 * daemon, so the URL passes, and fails later (the download cannot work). */
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	if (error != NULL) {
		g_autofree char *name = g_dbus_error_get_remote_error(error);

		g_assert_cmpstr(name, !=, HARNESS_ERROR_PREFIX "InvalidUrl");
	} else {
		g_autoptr(GVariant) result = harness_wait_finished(h, since, 60000);

		g_assert_false(harness_dict_bool(result, "success"));
		g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	}
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFOTADL=\"http://224.168.203.812:3029/"), >=, 0);
}

static void
test_busy_and_cancel(void)
{
	const char *const keys[] = { "download-timeout=3", NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *url = NULL;
	g_autofree char *stall = NULL;
	g_autofree char *resp = NULL;
	g_autoptr(GDBusConnection) other = harness_new_client(h);
	guint64 since;
	guint mark;

	/* Idle: nothing to cancel. */
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Cancel", NULL, NULL, &error);
	harness_assert_error(error, "NotCancellable");
	g_clear_error(&error);

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	/* A download that stalls keeps the job in "downloading" until download-timeout. */
	stall = harness_url(h, "stall/update.pack");
	since = harness_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", stall),
	                     NULL, &error);
	g_assert_no_error(error);
	mark = harness_tty_mark(h);

	g_clear_pointer(&reply, g_variant_unref);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	harness_assert_error(error, "Busy");
	g_clear_error(&error);
	/* Busy also for another client and for passthrough commands. */
	reply = harness_call(h, other, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	harness_assert_error(error, "Busy");
	g_clear_error(&error);
	resp = harness_command(h, other, "AT+CESQ", 0, &error);
	harness_assert_error(error, "Busy");
	g_clear_error(&error);
	/* The module offers no way to stop its own download. */
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Cancel", NULL, NULL, &error);
	harness_assert_error(error, "NotCancellable");
	g_clear_error(&error);
	{
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
		g_autoptr(GVariant) state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

		g_assert_cmpstr(harness_dict_str(job, "kind"), ==, "upgrade");
		g_assert_cmpstr(harness_dict_str(job, "source"), ==, stall);
		g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "busy");
	}
	/* Nothing of the refused calls went out. */
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL"), <, 0);
	g_assert_cmpint(harness_tty_find(h, mark, "AT+CESQ"), <, 0);

	/* No DOWNLOADING for 3 s: the job ends with Timeout, exactly once. */
	result = harness_wait_finished(h, since, 60000);
	harness_message_variant("Finished", result);
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "Timeout"));
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	}
}

static void
test_silent_module_times_out(void)
{
	const char *const keys[] = { "download-timeout=2", "update-timeout=2", NULL };
	/* Real-time pacing: the module is still downloading when it falls silent. */
	const char *const sim_args[] = { "--time-scale", "1", NULL };
	HarnessOptions opts = { .daemon_keys = keys, .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *url = NULL;
	guint64 since;
	gint64 t_silent;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	/* From now on the module says nothing: no URC resets the inactivity timer. */
	harness_control(h, "silence on");
	t_silent = g_get_monotonic_time();

	g_assert_true(harness_wait_signals(h, since, HARNESS_IFACE_FOTA, "Finished", 1, 30000));
	/* An inactivity timeout of 2 s, not the 20 s default of the harness. */
	g_assert_cmpint(g_get_monotonic_time() - t_silent, <, 15 * G_USEC_PER_SEC);
	harness_control(h, "silence off");
	result = harness_wait_finished(h, since, 1000);
	harness_message_variant("Finished", result);
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "Timeout"));
}

static void
test_not_registered(void)
{
	const char *const sim_args[] = { "--unregistered", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) network = NULL;
	g_autofree char *url = NULL;
	guint64 since = harness_mark(h);

	network = harness_get_property(h, HARNESS_IFACE_MODEM, "Network");
	g_assert_false(harness_dict_bool(network, "registered"));
	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	harness_assert_error(error, "NotReady");
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFOTADL=\""), <, 0);
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
}

static void
test_no_ip(void)
{
	const char *const sim_args[] = { "--no-ip", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *url = NULL;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	harness_assert_error(error, "NotReady");
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFOTADL=\""), <, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/refusals/invalid-urls", test_invalid_urls);
	g_test_add_func("/refusals/seed-url-is-valid", test_seed_url_is_valid);
	g_test_add_func("/refusals/busy-and-cancel", test_busy_and_cancel);
	g_test_add_func("/refusals/not-registered", test_not_registered);
	g_test_add_func("/refusals/no-ip", test_no_ip);
	g_test_add_func("/timeouts/silent-module", test_silent_module_times_out);
	return g_test_run();
}
