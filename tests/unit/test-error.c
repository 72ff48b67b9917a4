// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-error.c: error domains, their D-Bus names and messages. */
#include <gio/gio.h>

#include "dfota-error.h"

/* Each code with its name and words its own message must hold (and no other code's). */
static const struct {
	int code;
	const char *name;
	const char *says;
} module_names[] = {
	{ 6500, "Unknown", "unknown error" },
	{ 6501, "InvalidParameter", "rejected a parameter" },
	{ 6502, "PackageTooLarge", "too large" },
	{ 6503, "DownloadFailed", "failed to download" },
	{ 6504, "PackageNotFound", "could not find the package" },
	{ 6505, "FlashWriteFailed", "write the package to flash" },
	{ 6506, "NoPackage", "no package" },
	{ 6507, "PackageVerifyFailed", "verification" },
	{ 6508, "UpgradeFailed", "failed to upgrade" },
	{ 6509, "OutOfMemory", "out of memory" },
};

static const char *const daemon_names[] = {
	"Busy",
	"InvalidUrl",
	"InvalidFilename",
	"InvalidCommand",
	"InvalidArgument",
	"NotReady",
	"ModemLost",
	"Timeout",
	"CommandFailed",
	"CmeError",
	"Cancelled",
	"NotCancellable",
	"ChecksumMismatch",
	"RevisionMismatch",
	"RevisionUnchanged",
	"Interrupted",
	"FetchFailed",
	"AccessDenied",
	"FileNotFound",
};

static void
test_module_names(void)
{
	dfota_error_register_dbus();
	dfota_error_register_dbus(); /* idempotent */
	for (gsize i = 0; i < G_N_ELEMENTS(module_names); i++) {
		g_autoptr(GError) error = dfota_error_from_cme(module_names[i].code);
		g_autofree char *dbus_name = NULL;
		g_autofree char *expected =
		        g_strconcat("org.dfotad1.Error.", module_names[i].name, NULL);

		g_assert_error(error, DFOTA_MODULE_ERROR, module_names[i].code);
		g_assert_true(dfota_module_code_is_known(module_names[i].code));
		g_assert_cmpstr(dfota_error_short_name(error), ==, module_names[i].name);
		dbus_name = g_dbus_error_encode_gerror(error);
		g_assert_cmpstr(dbus_name, ==, expected);
		/* The message carries the code and is more than the name. */
		g_autofree char *code = g_strdup_printf("%d", module_names[i].code);
		g_assert_nonnull(strstr(error->message, code));
		g_assert_cmpuint(strlen(error->message), >, 30);
		for (gsize j = 0; j < G_N_ELEMENTS(module_names); j++) {
			if (j == i)
				g_assert_nonnull(strstr(error->message, module_names[j].says));
			else
				g_assert_null(strstr(error->message, module_names[j].says));
		}
		{
			g_autoptr(GError) remote = g_dbus_error_new_for_dbus_error(expected, "x");
			g_assert_error(remote, DFOTA_MODULE_ERROR, module_names[i].code);
		}
	}
	g_assert_false(dfota_module_code_is_known(6500 + (int)G_N_ELEMENTS(module_names)));
}

static void
test_daemon_names(void)
{
	g_assert_cmpuint(G_N_ELEMENTS(daemon_names), ==, DFOTA_ERROR_FILE_NOT_FOUND + 1);
	for (gsize i = 0; i < G_N_ELEMENTS(daemon_names); i++) {
		g_autoptr(GError) error = g_error_new_literal(DFOTA_ERROR, (int)i, "x");
		g_autofree char *dbus_name = g_dbus_error_encode_gerror(error);
		g_autofree char *expected =
		        g_strconcat("org.dfotad1.Error.", daemon_names[i], NULL);

		g_assert_cmpstr(dbus_name, ==, expected);
		g_assert_cmpstr(dfota_error_short_name(error), ==, daemon_names[i]);
	}
}

static void
test_dbus_round_trip(void)
{
	g_autoptr(GError) remote = NULL;
	g_autoptr(GError) local = NULL;

	dfota_error_register_dbus();
	remote = g_dbus_error_new_for_dbus_error("org.dfotad1.Error.PackageNotFound", "gone");
	g_assert_error(remote, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_NOT_FOUND);
	local = g_dbus_error_new_for_dbus_error("org.dfotad1.Error.Busy", "busy");
	g_assert_error(local, DFOTA_ERROR, DFOTA_ERROR_BUSY);
}

static void
test_cme_and_unknown(void)
{
	g_autoptr(GError) cme = dfota_error_from_cme(30);
	g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "x");
	g_autoptr(GError) six504 = dfota_error_from_cme(6504);

	g_assert_error(cme, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
	g_assert_cmpstr(cme->message, ==, "+CME ERROR: 30");
	g_assert_cmpstr(dfota_error_short_name(cme), ==, "CmeError");
	g_assert_cmpstr(dfota_error_short_name(other), ==, "Failed");
	g_assert_cmpstr(dfota_error_short_name(NULL), ==, "Failed");
	g_assert_false(dfota_module_code_is_known(6499));
	g_assert_false(dfota_module_code_is_known(6510));
	g_assert_false(dfota_module_code_is_known(0));
	g_assert_cmpstr(six504->message, ==,
	                "The module could not find the package at the URL (6504): check the URL "
	                "and the server");
	{
		g_autoptr(GError) e6510 = dfota_error_from_cme(6510);
		g_assert_error(e6510, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
		g_assert_cmpstr(e6510->message, ==, "+CME ERROR: 6510");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/error/module-names", test_module_names);
	g_test_add_func("/error/daemon-names", test_daemon_names);
	g_test_add_func("/error/dbus-round-trip", test_dbus_round_trip);
	g_test_add_func("/error/cme-and-unknown", test_cme_and_unknown);
	return g_test_run();
}
