// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-errors.c: the module's error codes 6500-6509 (seed chapter 5) through both paths
 * (+CME ERROR to AT+QFOTADL, and HTTPEND/END URCs), HTTP failures, wrong packages. */
#include "harness.h"

#include <string.h>

static const struct {
	int code;
	const char *name;
} module_errors[] = {
	{ 6500, "Unknown" },        { 6501, "InvalidParameter" },    { 6502, "PackageTooLarge" },
	{ 6503, "DownloadFailed" }, { 6504, "PackageNotFound" },     { 6505, "FlashWriteFailed" },
	{ 6506, "NoPackage" },      { 6507, "PackageVerifyFailed" }, { 6508, "UpgradeFailed" },
	{ 6509, "OutOfMemory" },
};

static Harness *
start_with_package(char **url)
{
	Harness *h = harness_new(NULL);

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	*url = harness_url(h, "update.pack");
	return h;
}

/* After a failed job the modem is usable again, still on its old firmware. */
static void
assert_idle_unchanged(Harness *h, GVariant *result)
{
	g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
	g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	g_autoptr(GVariant) rev = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");
	g_autoptr(GVariant) last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");

	g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
	g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, HARNESS_REV_FROM);
	if (result != NULL)
		g_assert_true(g_variant_equal(last, result));
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("ready"), 10000));
}

/* +CME ERROR: <code> in answer to AT+QFOTADL: the call fails with the name, no job starts.
 * All ten codes run one after the other on one daemon: it must come back to idle and
 * accept the next request after every refusal. */
static void
test_sync_errors(void)
{
	g_autofree char *url = NULL;
	g_autoptr(Harness) h = start_with_package(&url);
	g_autoptr(GVariant) last_before = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");

	for (guint i = 0; i < G_N_ELEMENTS(module_errors); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GVariant) last = NULL;
		guint64 since;
		guint mark = harness_tty_mark(h);

		g_test_message("+CME ERROR: %d", module_errors[i].code);
		harness_control(h, "error %d sync", module_errors[i].code);
		since = harness_mark(h);
		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade",
		                     g_variant_new("(s)", url), NULL, &error);
		harness_assert_error(error, module_errors[i].name);
		/* The command did go out: the module refused it. */
		g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL=\""), >=, 0);

		harness_round_trip(h);
		g_free(harness_command(h, NULL, "AT", 0, NULL));
		harness_round_trip(h);
		g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"),
		                 ==, 0);
		g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Progress"),
		                 ==, 0);
		/* Nothing started, so nothing finished. */
		last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
		g_assert_true(g_variant_equal(last, last_before));
		assert_idle_unchanged(h, NULL);
	}
}

static void
run_failing_job(Harness *h, const char *url, int code, const char *name, GVariant **out_result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(h);

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 60000);
	harness_message_variant("Finished", result);
	g_assert_false(harness_dict_bool(result, "success"));
	if (code != 0)
		g_assert_cmpint(harness_dict_int(result, "code"), ==, code);
	if (!harness_error_name_is(harness_dict_str(result, "error"), name))
		g_error("Finished error \"%s\", expected %s", harness_dict_str(result, "error"),
		        name);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpuint(strlen(harness_dict_str(result, "message")), >, 0);
	assert_idle_unchanged(h, result);
	if (out_result != NULL)
		*out_result = g_steal_pointer(&result);
}

/* The module accepts the command and reports the code in HTTPEND (or END). */
static void
test_async_error(gconstpointer data)
{
	guint i = GPOINTER_TO_UINT(data) & 0xff;
	const char *where = (GPOINTER_TO_UINT(data) & 0x100) ? "end" : "httpend";
	g_autofree char *url = NULL;
	g_autoptr(Harness) h = start_with_package(&url);

	harness_control(h, "error %d %s", module_errors[i].code, where);
	run_failing_job(h, url, module_errors[i].code, module_errors[i].name, NULL);
}

static void
test_http_404(void)
{
	g_autofree char *url = NULL;
	g_autoptr(Harness) h = start_with_package(&url);
	g_autofree char *missing = harness_url(h, "no-such.pack");

	run_failing_job(h, missing, 6504, "PackageNotFound", NULL);
}

static void
test_http_500(void)
{
	g_autofree char *url = NULL;
	g_autoptr(Harness) h = start_with_package(&url);
	g_autofree char *status = harness_url(h, "status/500");

	run_failing_job(h, status, 6503, "DownloadFailed", NULL);
}

static void
test_wrong_base(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;

	/* A delta for another source version: the module fails the update with END,6508. */
	harness_make_package(h, "other.pack", "BC65", "BC65JAR01A00", HARNESS_REV_TO, NULL);
	url = harness_url(h, "other.pack");
	run_failing_job(h, url, 6508, "UpgradeFailed", NULL);
}

static void
test_corrupt(void)
{
	const char *const corrupt[] = { "--corrupt", NULL };
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;

	harness_make_package(h, "bad.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, corrupt);
	url = harness_url(h, "bad.pack");
	run_failing_job(h, url, 6507, "PackageVerifyFailed", NULL);
}

static void
test_too_large(void)
{
	const char *const sim_args[] = { "--max-package", "1024", NULL };
	const char *const big[] = { "--payload-size", "65536", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;

	harness_make_package(h, "big.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, big);
	url = harness_url(h, "big.pack");
	run_failing_job(h, url, 6502, "PackageTooLarge", NULL);
}

static void
test_revision_unchanged(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;

	/* The module reports success but comes back on the same firmware. */
	harness_make_package(h, "same.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_FROM, NULL);
	url = harness_url(h, "same.pack");
	run_failing_job(h, url, 0, "RevisionUnchanged", &result);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_FROM);
}

/* Built twice (meson: ERRORS_PART 1 and 2) so that each half stays well inside the per-test
 * timeout under ASan: part 1 the synchronous path and the HTTP/package cases, part 2 the
 * URC path. */
#ifndef ERRORS_PART
#define ERRORS_PART 0
#endif

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (ERRORS_PART != 2)
		g_test_add_func("/errors/sync/all-codes", test_sync_errors);
	for (guint i = 0; ERRORS_PART != 1 && i < G_N_ELEMENTS(module_errors); i++) {
		g_autofree char *async_path = g_strdup_printf(
		        "/errors/httpend/%d-%s", module_errors[i].code, module_errors[i].name);
		g_autofree char *end_path = g_strdup_printf(
		        "/errors/end/%d-%s", module_errors[i].code, module_errors[i].name);

		g_test_add_data_func(async_path, GUINT_TO_POINTER(i), test_async_error);
		/* FOTA_err 6508 is the one code the seed gives for END. */
		if (module_errors[i].code == 6508)
			g_test_add_data_func(end_path, GUINT_TO_POINTER(i | 0x100),
			                     test_async_error);
	}
	if (ERRORS_PART != 2) {
		g_test_add_func("/errors/http-404", test_http_404);
		g_test_add_func("/errors/http-500", test_http_500);
		g_test_add_func("/errors/wrong-base-revision", test_wrong_base);
		g_test_add_func("/errors/corrupt-package", test_corrupt);
		g_test_add_func("/errors/package-too-large", test_too_large);
		g_test_add_func("/errors/revision-unchanged", test_revision_unchanged);
	}
	return g_test_run();
}
