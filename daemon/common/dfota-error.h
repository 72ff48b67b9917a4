// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-error.h: the daemon's two error domains and their D-Bus names.
 *
 * DFOTA_MODULE_ERROR carries the module's own codes (seed chapter 5) as values, so a
 * +CME ERROR: 6504 and a +QIND: "FOTA","HTTPEND",6504 become the same GError.
 * DFOTA_ERROR carries everything the daemon itself decides. Every name is mapped to
 * org.dfotad1.Error.<Name> once, by dfota_error_register_dbus().
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFOTA_MODULE_ERROR (dfota_module_error_quark())
GQuark dfota_module_error_quark(void);

typedef enum {
	DFOTA_MODULE_ERROR_UNKNOWN = 6500,
	DFOTA_MODULE_ERROR_INVALID_PARAMETER = 6501,
	DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE = 6502,
	DFOTA_MODULE_ERROR_DOWNLOAD_FAILED = 6503,
	DFOTA_MODULE_ERROR_PACKAGE_NOT_FOUND = 6504,
	DFOTA_MODULE_ERROR_FLASH_WRITE_FAILED = 6505,
	DFOTA_MODULE_ERROR_NO_PACKAGE = 6506,
	DFOTA_MODULE_ERROR_PACKAGE_VERIFY_FAILED = 6507,
	DFOTA_MODULE_ERROR_UPGRADE_FAILED = 6508,
	DFOTA_MODULE_ERROR_OUT_OF_MEMORY = 6509,
} DfotaModuleError;

#define DFOTA_ERROR (dfota_error_quark())
GQuark dfota_error_quark(void);

typedef enum {
	DFOTA_ERROR_BUSY,
	DFOTA_ERROR_INVALID_URL,
	DFOTA_ERROR_INVALID_FILENAME,
	DFOTA_ERROR_INVALID_COMMAND,
	DFOTA_ERROR_INVALID_ARGUMENT,
	DFOTA_ERROR_NOT_READY,
	DFOTA_ERROR_MODEM_LOST,
	DFOTA_ERROR_TIMEOUT,
	DFOTA_ERROR_COMMAND_FAILED,
	DFOTA_ERROR_CME_ERROR,
	DFOTA_ERROR_CANCELLED,
	DFOTA_ERROR_NOT_CANCELLABLE,
	DFOTA_ERROR_CHECKSUM_MISMATCH,
	DFOTA_ERROR_REVISION_MISMATCH,
	DFOTA_ERROR_REVISION_UNCHANGED,
	DFOTA_ERROR_INTERRUPTED,
	DFOTA_ERROR_FETCH_FAILED,
	DFOTA_ERROR_ACCESS_DENIED,
	DFOTA_ERROR_FILE_NOT_FOUND,
} DfotaError;

/* Registers both domains with GDBus so that returning a GError of either domain from a
 * method handler sends org.dfotad1.Error.<Name>. Idempotent. */
void dfota_error_register_dbus(void);

/* The short name ("Busy", "PackageNotFound", …) of @error when it belongs to one of the two
 * domains, else "Failed". Used for LastResult's "error" key. */
const char *dfota_error_short_name(const GError *error);

/* TRUE when @code is one of the module's error codes 6500–6509. */
gboolean dfota_module_code_is_known(int code);

/* A new GError for the module's @code: DFOTA_MODULE_ERROR for 6500–6509 (message names the
 * code and says what it means), DFOTA_ERROR_CME_ERROR with "+CME ERROR: <code>" otherwise. */
GError *dfota_error_from_cme(int code);

G_END_DECLS
