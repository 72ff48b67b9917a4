// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-host.c: org.dfotad1.Fota.UpgradeViaHost against the real daemon, simulator and HTTP(S)
 * servers on 127.0.0.1: the full host-side job over http (and through redirects), https with a
 * test CA given in ca-file, the sha256 and from-revision options, and every way the gateway's
 * own download fails (404, 500, oversized, a stalled server). */
#include "harness-modes.h"

#include <string.h>

#define MAX_PACKAGE "60000"

/* A method call refused with @error_name: no job, no Finished, nothing on the line. */
static void
via_host_refused(Harness *h, const char *url, GVariant *opts, const char *error_name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *printed = g_variant_print(opts, TRUE);
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);

	g_test_message("options %s", printed);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), NULL, &error);
	harness_assert_error(error, error_name);
	g_test_message("%s", error->message);
	hm_assert_no_finished(h, since);
	hm_assert_tty_only(h, mark, NULL);
}

/* ---- the failures, next to a stalled download on a second modem ---------------------------- */

static void
test_failures(void)
{
	g_autoptr(HmSim) sim1 = hm_sim_start(NULL);
	g_autoptr(Harness) h =
	        hm_harness_with_second_modem(sim1,
	                                     "max-package-size=" MAX_PACKAGE "\n"
	                                     "download-timeout=20\nupdate-timeout=20\n"
	                                     "fetch-timeout=3\n",
	                                     "stall", "");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) stall_result = NULL;
	g_autoptr(GPtrArray) sim1_lines = NULL;
	g_autofree char *pkg = NULL;
	g_autofree char *url = NULL;
	g_autofree char *stall_url = NULL;
	g_autofree char *sha = NULL;
	g_autofree char *wrong_sha = NULL;
	g_autofree char *httpd_log = NULL;
	guint64 stall_since;
	gint64 stall_started;
	guint sim1_mark;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	pkg = hm_www_path(h, "update.pack");
	url = harness_url(h, "update.pack");
	sha = hm_sha256_of(pkg);

	/* Modem/1: a server that sends half the package, then nothing. Only the gateway's
	 * low-speed timeout can end it; meanwhile Modem/0 goes through everything else. */
	stall_url = harness_url(h, "stall/update.pack");
	sim1_mark = hm_sim_tty_mark(sim1);
	stall_since = harness_mark(h);
	stall_started = g_get_monotonic_time();
	reply = hm_call_at(h, HM_MODEM1_PATH, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                   g_variant_new("(s@a{sv})", stall_url, hm_options(NULL, NULL)), -1,
	                   &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);

	/* Options: unknown keys and wrong types. */
	{
		GVariantBuilder b;

		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha-256", g_variant_new_string(sha));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_bytestring(sha));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string("abc123"));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "from-revision", g_variant_new_uint32(1));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
	}
	/* The module runs another revision: refused before a byte moves (no request either). */
	{
		g_autofree char *marked = harness_url(h, "update.pack?revision-check=1");
		g_autofree char *log = g_build_filename(harness_tmpdir(h), "httpd.log", NULL);

		via_host_refused(h, marked, hm_options(sha, "BC65JAR01A00"), "RevisionMismatch");
		g_assert_true(g_file_get_contents(log, &httpd_log, NULL, NULL));
		g_assert_null(strstr(httpd_log, "revision-check"));
	}
	/* A package that is not the expected one: nothing is uploaded. */
	wrong_sha = g_strdup(sha);
	wrong_sha[0] = wrong_sha[0] == '0' ? '1' : '0';
	result = hm_via_host_fails(h, url, hm_options(wrong_sha, NULL), "ChecksumMismatch");
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	g_clear_pointer(&result, g_variant_unref);

	/* HTTP errors carry the status. */
	for (guint i = 0; i < 2; i++) {
		const char *status = i == 0 ? "404" : "500";
		g_autofree char *path = g_strdup_printf("status/%s", status);
		g_autofree char *status_url = harness_url(h, path);

		result = hm_via_host_fails(h, status_url, hm_options(NULL, NULL), "FetchFailed");
		g_assert_nonnull(strstr(harness_dict_str(result, "message"), status));
		g_clear_pointer(&result, g_variant_unref);
	}
	/* Larger than max-package-size. */
	{
		const char *const big[] = { "--payload-size", "80000", NULL };
		g_autofree char *big_url = harness_url(h, "big.pack");

		harness_make_package(h, "big.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, big);
		result = hm_via_host_fails(h, big_url, hm_options(NULL, NULL), "PackageTooLarge");
		g_clear_pointer(&result, g_variant_unref);
	}
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	g_assert_cmpuint(hm_count_tty(h, 0, "AT+QFUPL"), ==, 0);

	/* Modem/1: the stalled download ends with FetchFailed, once, after the low-speed
	 * timeout, and its module never saw an upload. */
	{
		g_autofree char *phases = NULL;
		g_autofree char *lower = NULL;
		const char *const allowed[] = { NULL };

		stall_result = hm_wait_finished_at(h, stall_since, HM_MODEM1_PATH, 30000);
		g_test_message("stall ended after %.1f s",
		               (g_get_monotonic_time() - stall_started) / 1e6);
		hm_assert_failed(stall_result, "FetchFailed");
		g_assert_cmpstr(harness_dict_str(stall_result, "source"), ==, stall_url);
		lower = g_ascii_strdown(harness_dict_str(stall_result, "message"), -1);
		g_assert_true(strstr(lower, "slow") != NULL || strstr(lower, "time") != NULL);
		phases = hm_job_phases_at(h, HM_MODEM1_PATH, stall_since, NULL);
		g_assert_cmpstr(phases, ==, "fetching");
		sim1_lines = hm_sim_tty_lines(sim1);
		hm_assert_lines_only(sim1_lines, sim1_mark, allowed, "the second simulator");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/via-host/failures", test_failures);
	return g_test_run();
}
