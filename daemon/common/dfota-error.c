// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-error.c: the module and daemon error domains, and their D-Bus names. */
#include "dfota-error.h"

#include <gio/gio.h>
#include <string.h>

#define DFOTA_DBUS_ERROR_PREFIX "org.dfotad1.Error."

/* The module's codes are not 0-based, so the table is indexed by code - 6500. */
static const GDBusErrorEntry module_entries[] = {
	{ DFOTA_MODULE_ERROR_UNKNOWN, DFOTA_DBUS_ERROR_PREFIX "Unknown" },
	{ DFOTA_MODULE_ERROR_INVALID_PARAMETER, DFOTA_DBUS_ERROR_PREFIX "InvalidParameter" },
	{ DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE, DFOTA_DBUS_ERROR_PREFIX "PackageTooLarge" },
	{ DFOTA_MODULE_ERROR_DOWNLOAD_FAILED, DFOTA_DBUS_ERROR_PREFIX "DownloadFailed" },
	{ DFOTA_MODULE_ERROR_PACKAGE_NOT_FOUND, DFOTA_DBUS_ERROR_PREFIX "PackageNotFound" },
	{ DFOTA_MODULE_ERROR_FLASH_WRITE_FAILED, DFOTA_DBUS_ERROR_PREFIX "FlashWriteFailed" },
	{ DFOTA_MODULE_ERROR_NO_PACKAGE, DFOTA_DBUS_ERROR_PREFIX "NoPackage" },
	{ DFOTA_MODULE_ERROR_PACKAGE_VERIFY_FAILED, DFOTA_DBUS_ERROR_PREFIX "PackageVerifyFailed" },
	{ DFOTA_MODULE_ERROR_UPGRADE_FAILED, DFOTA_DBUS_ERROR_PREFIX "UpgradeFailed" },
	{ DFOTA_MODULE_ERROR_OUT_OF_MEMORY, DFOTA_DBUS_ERROR_PREFIX "OutOfMemory" },
};

/* What happened and what to do, per module code (seed chapter 5). */
static const char *const module_messages[] = {
	"The module reported an unknown error (6500): retry, and power-cycle the module if it "
	"persists",
	"The module rejected a parameter (6501): check the URL and the file name",
	"The package is too large for the module (6502): use a smaller delta package",
	"The module failed to download the package (6503): check the network registration and "
	"the server",
	"The module could not find the package at the URL (6504): check the URL and the server",
	"The module failed to write the package to flash (6505): free space in UFS and retry",
	"There is no package in the module's file system (6506): upload fota.pack first",
	"The package failed the module's verification (6507): check that the delta package "
	"matches the running firmware",
	"The module failed to upgrade (6508): check that the delta package matches the running "
	"firmware",
	"The module ran out of memory (6509): reboot the module and retry",
};

static const GDBusErrorEntry daemon_entries[] = {
	{ DFOTA_ERROR_BUSY, DFOTA_DBUS_ERROR_PREFIX "Busy" },
	{ DFOTA_ERROR_INVALID_URL, DFOTA_DBUS_ERROR_PREFIX "InvalidUrl" },
	{ DFOTA_ERROR_INVALID_FILENAME, DFOTA_DBUS_ERROR_PREFIX "InvalidFilename" },
	{ DFOTA_ERROR_INVALID_COMMAND, DFOTA_DBUS_ERROR_PREFIX "InvalidCommand" },
	{ DFOTA_ERROR_INVALID_ARGUMENT, DFOTA_DBUS_ERROR_PREFIX "InvalidArgument" },
	{ DFOTA_ERROR_NOT_READY, DFOTA_DBUS_ERROR_PREFIX "NotReady" },
	{ DFOTA_ERROR_MODEM_LOST, DFOTA_DBUS_ERROR_PREFIX "ModemLost" },
	{ DFOTA_ERROR_TIMEOUT, DFOTA_DBUS_ERROR_PREFIX "Timeout" },
	{ DFOTA_ERROR_COMMAND_FAILED, DFOTA_DBUS_ERROR_PREFIX "CommandFailed" },
	{ DFOTA_ERROR_CME_ERROR, DFOTA_DBUS_ERROR_PREFIX "CmeError" },
	{ DFOTA_ERROR_CANCELLED, DFOTA_DBUS_ERROR_PREFIX "Cancelled" },
	{ DFOTA_ERROR_NOT_CANCELLABLE, DFOTA_DBUS_ERROR_PREFIX "NotCancellable" },
	{ DFOTA_ERROR_CHECKSUM_MISMATCH, DFOTA_DBUS_ERROR_PREFIX "ChecksumMismatch" },
	{ DFOTA_ERROR_REVISION_MISMATCH, DFOTA_DBUS_ERROR_PREFIX "RevisionMismatch" },
	{ DFOTA_ERROR_REVISION_UNCHANGED, DFOTA_DBUS_ERROR_PREFIX "RevisionUnchanged" },
	{ DFOTA_ERROR_INTERRUPTED, DFOTA_DBUS_ERROR_PREFIX "Interrupted" },
	{ DFOTA_ERROR_FETCH_FAILED, DFOTA_DBUS_ERROR_PREFIX "FetchFailed" },
	{ DFOTA_ERROR_ACCESS_DENIED, DFOTA_DBUS_ERROR_PREFIX "AccessDenied" },
};

G_STATIC_ASSERT(G_N_ELEMENTS(module_entries) == 10);
G_STATIC_ASSERT(G_N_ELEMENTS(module_messages) == 10);
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_entries) == DFOTA_ERROR_ACCESS_DENIED + 1);

GQuark
dfota_module_error_quark(void)
{
	static gsize quark = 0;

	/* g_dbus_error_register_error_domain() both creates the quark and maps the names, so
	 * a GError of this domain reaches D-Bus with its name even if nobody called
	 * dfota_error_register_dbus(). */
	g_dbus_error_register_error_domain("dfota-module-error-quark", &quark, module_entries,
	                                   G_N_ELEMENTS(module_entries));
	return (GQuark)quark;
}

GQuark
dfota_error_quark(void)
{
	static gsize quark = 0;

	g_dbus_error_register_error_domain("dfota-error-quark", &quark, daemon_entries,
	                                   G_N_ELEMENTS(daemon_entries));
	return (GQuark)quark;
}

void
dfota_error_register_dbus(void)
{
	(void)dfota_module_error_quark();
	(void)dfota_error_quark();
}

static const char *
entry_short_name(const GDBusErrorEntry *entries, gsize n, int code)
{
	for (gsize i = 0; i < n; i++) {
		if (entries[i].error_code == code)
			return entries[i].dbus_error_name + strlen(DFOTA_DBUS_ERROR_PREFIX);
	}
	return "Failed";
}

const char *
dfota_error_short_name(const GError *error)
{
	if (error == NULL)
		return "Failed";
	if (error->domain == DFOTA_MODULE_ERROR)
		return entry_short_name(module_entries, G_N_ELEMENTS(module_entries), error->code);
	if (error->domain == DFOTA_ERROR)
		return entry_short_name(daemon_entries, G_N_ELEMENTS(daemon_entries), error->code);
	return "Failed";
}

gboolean
dfota_module_code_is_known(int code)
{
	return code >= DFOTA_MODULE_ERROR_UNKNOWN && code <= DFOTA_MODULE_ERROR_OUT_OF_MEMORY;
}

GError *
dfota_error_from_cme(int code)
{
	if (dfota_module_code_is_known(code))
		return g_error_new_literal(DFOTA_MODULE_ERROR, code,
		                           module_messages[code - DFOTA_MODULE_ERROR_UNKNOWN]);
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_CME_ERROR, "+CME ERROR: %d", code);
}
