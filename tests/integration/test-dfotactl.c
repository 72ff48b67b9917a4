// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-dfotactl.c: the bundled client against the real daemon (exit statuses and output as
 * the command-line contract says). */
#include "harness.h"

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
	return g_test_run();
}
