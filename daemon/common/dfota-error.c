// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-error.c: the module and daemon error domains, and their D-Bus names. */
#include "dfota-error.h"

#include <gio/gio.h>
#include <string.h>

#define DFOTA_DBUS_ERROR_PREFIX "org.dfotad1.Error."

/* One row per module code (seed chapter 5): its D-Bus name and what the caller hears, which
 * says what happened and what to do. */
typedef struct {
	int code;
	const char *dbus_name;
	const char *message;
} ModuleCode;

#define MODULE_CODE(code, name, message)                                         \
	{                                                                        \
		DFOTA_MODULE_ERROR_##code, DFOTA_DBUS_ERROR_PREFIX name, message \
	}

static const ModuleCode module_codes[] = {
	MODULE_CODE(UNKNOWN, "Unknown",
	            "The module reported an unknown error (6500): retry, and power-cycle the "
	            "module if it persists"),
	MODULE_CODE(INVALID_PARAMETER, "InvalidParameter",
	            "The module rejected a parameter (6501): check the URL and the file name"),
	MODULE_CODE(PACKAGE_TOO_LARGE, "PackageTooLarge",
	            "The package is too large for the module (6502): use a smaller delta package"),
	MODULE_CODE(DOWNLOAD_FAILED, "DownloadFailed",
	            "The module failed to download the package (6503): check the network "
	            "registration and the server"),
	MODULE_CODE(PACKAGE_NOT_FOUND, "PackageNotFound",
	            "The module could not find the package at the URL (6504): check the URL and "
	            "the server"),
	MODULE_CODE(FLASH_WRITE_FAILED, "FlashWriteFailed",
	            "The module failed to write the package to flash (6505): free space in UFS and "
	            "retry"),
	MODULE_CODE(NO_PACKAGE, "NoPackage",
	            "There is no package in the module's file system (6506): upload fota.pack "
	            "first"),
	MODULE_CODE(PACKAGE_VERIFY_FAILED, "PackageVerifyFailed",
	            "The package failed the module's verification (6507): check that the delta "
	            "package matches the running firmware"),
	MODULE_CODE(UPGRADE_FAILED, "UpgradeFailed",
	            "The module failed to upgrade (6508): check that the delta package matches the "
	            "running firmware"),
	MODULE_CODE(OUT_OF_MEMORY, "OutOfMemory",
	            "The module ran out of memory (6509): reboot the module and retry"),
};

static const ModuleCode *
module_code_lookup(int code)
{
	for (gsize i = 0; i < G_N_ELEMENTS(module_codes); i++) {
		if (module_codes[i].code == code)
			return &module_codes[i];
	}
	return NULL;
}

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
	{ DFOTA_ERROR_FILE_NOT_FOUND, DFOTA_DBUS_ERROR_PREFIX "FileNotFound" },
};

G_STATIC_ASSERT(G_N_ELEMENTS(module_codes) ==
                DFOTA_MODULE_ERROR_OUT_OF_MEMORY - DFOTA_MODULE_ERROR_UNKNOWN + 1);
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_entries) == DFOTA_ERROR_FILE_NOT_FOUND + 1);

GQuark
dfota_module_error_quark(void)
{
	static gsize quark = 0;
	static gsize entries_ready = 0;
	static GDBusErrorEntry module_entries[G_N_ELEMENTS(module_codes)];

	if (g_once_init_enter(&entries_ready)) {
		for (gsize i = 0; i < G_N_ELEMENTS(module_codes); i++) {
			module_entries[i].error_code = module_codes[i].code;
			module_entries[i].dbus_error_name = module_codes[i].dbus_name;
		}
		g_once_init_leave(&entries_ready, 1);
	}
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

const char *
dfota_error_short_name(const GError *error)
{
	const ModuleCode *module_code;

	if (error == NULL)
		return "Failed";
	if (error->domain == DFOTA_MODULE_ERROR) {
		module_code = module_code_lookup(error->code);
		return module_code ? module_code->dbus_name + strlen(DFOTA_DBUS_ERROR_PREFIX)
		                   : "Failed";
	}
	if (error->domain == DFOTA_ERROR) {
		for (gsize i = 0; i < G_N_ELEMENTS(daemon_entries); i++) {
			if (daemon_entries[i].error_code == error->code)
				return daemon_entries[i].dbus_error_name +
				       strlen(DFOTA_DBUS_ERROR_PREFIX);
		}
	}
	return "Failed";
}

gboolean
dfota_module_code_is_known(int code)
{
	return module_code_lookup(code) != NULL;
}

GError *
dfota_error_from_cme(int code)
{
	const ModuleCode *module_code = module_code_lookup(code);

	if (module_code)
		return g_error_new_literal(DFOTA_MODULE_ERROR, code, module_code->message);
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_CME_ERROR, "+CME ERROR: %d", code);
}
