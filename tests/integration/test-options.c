// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-options.c: UpgradeWithOptions (from-revision, fallback-via-host, sha256) and the
 * client's upgrade URL --from-revision / --fallback-via-host / --sha256. */
#include "fault-helpers.h"

static const char *
dfotactl(void)
{
	const char *path = g_getenv("DFOTACTL");

	g_assert_nonnull(path);
	return path;
}

static GVariant *
options_call(Harness *h, const char *url, GVariant *options, GError **error)
{
	return harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeWithOptions",
	                    g_variant_new("(s@a{sv})", url, options), NULL, error);
}

static GVariant *
dict1(const char *key, GVariant *value)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", key, value);
	return g_variant_builder_end(&b);
}

/* Refused before any byte reaches the module: from-revision that does not match, sha256
 * without fallback-via-host, unknown keys and wrong types. */
static void
test_refusals(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = harness_url(h, "update.pack");
	guint mark = harness_tty_mark(h);
	struct {
		GVariant *options;
		const char *error;
	} cases[] = {
		{ dict1("from-revision", g_variant_new_string("BC65JAR01A00")),
		  "RevisionMismatch" },
		{ dict1("from-revision", g_variant_new_string(HARNESS_REV_FROM "_BETA0203")),
		  "RevisionMismatch" },
		{ dict1("sha256", g_variant_new_string("00000000000000000000000000000000"
		                                       "00000000000000000000000000000000")),
		  "InvalidArgument" },
		{ dict1("fallback-via-host", g_variant_new_string("yes")), "InvalidArgument" },
		{ dict1("from-revision", g_variant_new_uint32(1)), "InvalidArgument" },
		{ dict1("via-host", g_variant_new_boolean(TRUE)), "InvalidArgument" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = options_call(h, url, cases[i].options, &error);

		g_test_message("case %u: %s", i, error ? error->message : "accepted");
		g_assert_null(reply);
		harness_assert_error(error, cases[i].error);
	}
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL"), <, 0);
	g_assert_true(fh_wait_state(h, "ready", 10000));
}

/* A from-revision that matches runs the upgrade as Upgrade does. */
static void
test_from_revision_matches(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	reply = options_call(h, url, dict1("from-revision", g_variant_new_string(HARNESS_REV_FROM)),
	                     &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	g_assert_false(g_variant_lookup(result, "via-host", "b", NULL));
}

/* The module's download fails (HTTPEND 702): the gateway fetches the same URL, uploads it and
 * the same job goes on to success, via-host true, one Finished. */
static void
test_fallback_succeeds(void)
{
	const char *const sim_args[] = { "--inject-error", "702:httpend", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *phases = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	GVariantBuilder b;
	guint64 since, id;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "fallback-via-host", g_variant_new_boolean(TRUE));
	g_variant_builder_add(&b, "{sv}", "from-revision", g_variant_new_string(HARNESS_REV_FROM));
	reply = options_call(h, url, g_variant_builder_end(&b), &error);
	g_assert_no_error(error);
	id = fh_job_id(h);
	g_assert_true(fh_wait_progress(h, since, "fetching", 0, 60000));
	{
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_true(harness_dict_bool(job, "via-host"));
		g_assert_cmpuint(harness_dict_uint64(job, "id"), ==, id);
		g_assert_cmpstr(harness_dict_str(job, "kind"), ==, "upgrade");
	}
	result = harness_wait_finished(h, since, 90000);
	g_test_message("Finished: %s", fh_printed(result));
	phases = fh_phases(h, since);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_true(harness_dict_bool(result, "via-host"));
	g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	g_assert_cmpstr(phases, ==, "downloading,fetching,uploading,updating,rebooting,verifying");
	g_assert_true(fh_wait_state(h, "ready", 30000));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
}

/* The module goes silent after HTTPSTART (no progress, no HTTPEND): download-timeout ends its
 * download, and the gateway takes over in the same job. */
static void
test_fallback_after_timeout(void)
{
	const char *const sim_args[] = { "--field", "lost-download", NULL };
	const char *const keys[] = { "download-timeout=2", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *phases = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	reply = options_call(h, url, dict1("fallback-via-host", g_variant_new_boolean(TRUE)),
	                     &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_test_message("Finished: %s", fh_printed(result));
	phases = fh_phases(h, since);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_true(harness_dict_bool(result, "via-host"));
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	g_assert_cmpstr(phases, ==, "downloading,fetching,uploading,updating,rebooting,verifying");
	g_assert_true(fh_wait_state(h, "ready", 30000));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
}

/* The same silent module without the fallback: an honest Timeout, still downloading at 0. */
static void
test_lost_download_times_out(void)
{
	const char *const sim_args[] = { "--field", "lost-download", NULL };
	const char *const keys[] = { "download-timeout=2", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *trace = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	result = harness_wait_finished(h, since, 60000);
	trace = fh_progress_trace(h, since);
	g_test_message("progress: %s; Finished: %s", trace, fh_printed(result));
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "Timeout"));
	g_assert_cmpstr(trace, ==, "downloading:0 idle:0");
}

/* Both fail: the module's download (404 → 6504) and the gateway's (404 → FetchFailed). The
 * result carries the fallback's error and code and names both failures. */
static void
test_fallback_fails_too(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = harness_url(h, "missing.pack");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	const char *message;
	guint64 since = harness_mark(h);

	reply = options_call(h, url, dict1("fallback-via-host", g_variant_new_boolean(TRUE)),
	                     &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_test_message("Finished: %s", fh_printed(result));
	message = harness_dict_str(result, "message");
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_dict_bool(result, "via-host"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "FetchFailed"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, -1);
	g_assert_nonnull(strstr(message, "PackageNotFound"));
	g_assert_nonnull(strstr(message, "404"));
	g_assert_true(fh_wait_state(h, "ready", 30000));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
}

/* dfotactl: upgrade URL --from-revision REV --fallback-via-host --sha256 HEX. */
static void
test_dfotactl(void)
{
	const char *const sim_args[] = { "--inject-error", "702:httpend", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *path = NULL;
	g_autofree char *sha = NULL;
	g_autofree char *contents = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autoptr(GVariant) last = NULL;
	gsize len = 0;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	/* The simulator's packages are deterministic: the same one again, for its digest. */
	path = g_build_filename(harness_tmpdir(h), "digest.pack", NULL);
	{
		const char *argv[] = { g_getenv("DFOTA_SIM"),
			               "--make-package",
			               path,
			               "--from",
			               HARNESS_REV_FROM,
			               "--to",
			               HARNESS_REV_TO,
			               "--model",
			               "BC65",
			               NULL };

		g_assert_cmpint(harness_run(h, argv, NULL, &out, &err, 30000), ==, 0);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
	url = harness_url(h, "update.pack");
	{
		const char *bad[] = {
			dfotactl(), "--session", "upgrade", url, "--sha256", sha, NULL
		};

		g_assert_cmpint(harness_run(h, bad, NULL, &out, &err, 30000), ==, 2);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	{
		const char *argv[] = { dfotactl(),
			               "--session",
			               "upgrade",
			               url,
			               "--from-revision",
			               HARNESS_REV_FROM,
			               "--sha256",
			               sha,
			               "--fallback-via-host",
			               NULL };

		g_assert_cmpint(harness_run(h, argv, NULL, &out, &err, 120000), ==, 0);
		g_test_message("dfotactl: %s", out);
		g_assert_nonnull(strstr(out, "the gateway downloaded the package"));
	}
	last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_assert_true(harness_dict_bool(last, "success"));
	g_assert_true(harness_dict_bool(last, "via-host"));
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_func("/options/refusals", test_refusals);
	g_test_add_func("/options/from-revision-matches", test_from_revision_matches);
	g_test_add_func("/options/fallback-succeeds", test_fallback_succeeds);
	g_test_add_func("/options/fallback-fails-too", test_fallback_fails_too);
	g_test_add_func("/options/fallback-after-timeout", test_fallback_after_timeout);
	g_test_add_func("/options/lost-download-times-out", test_lost_download_times_out);
	g_test_add_func("/options/dfotactl", test_dfotactl);
	return g_test_run();
}
