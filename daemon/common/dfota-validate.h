// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-validate.h: argument checks that run before anything reaches the tty.
 * Pure functions: strings in, a named GError (domain DFOTA_ERROR) out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A URL the module itself downloads (AT+QFOTADL, seed 3.1/3.3): "http://", at most 511
 * bytes, a host (name or address, not resolved), port 1–65535 when given, printable ASCII
 * only and no '"'. DFOTA_ERROR_INVALID_URL with a message naming the broken rule. */
gboolean dfota_validate_module_url(const char *url, GError **error);

/* A URL the gateway downloads with libcurl: as above but "http://" or "https://" and at most
 * 2048 bytes (libcurl has no 511-byte limit; signed object-store URLs are often longer). */
gboolean dfota_validate_host_url(const char *url, GError **error);

/* The longest UFS file name the module takes (seed 3.3 note). */
#define DFOTA_UFS_NAME_MAX_BYTES 58

/* A UFS file name: 1–58 bytes, no '/', '\\', '"', control characters or non-ASCII.
 * DFOTA_ERROR_INVALID_FILENAME. */
gboolean dfota_validate_filename(const char *name, GError **error);

/* A passthrough AT command line (org.dfotad1.Modem.Command): starts with AT (any case), at
 * most 1024 bytes of printable ASCII, splits into V.250 commands (dfota-cmdline.h), and none
 * of them breaks the channel, enters a prompt or data mode, or bypasses the jobs.
 * DFOTA_ERROR_INVALID_COMMAND, the message names the command and what to use instead. */
gboolean dfota_validate_command(const char *command, GError **error);

/* Incremental 16-bit XOR checksum of the module's file commands: the data taken as
 * big-endian 16-bit words, a last odd byte counting as a high byte. */
typedef struct {
	guint16 sum;
	gboolean have_high; /* an odd byte is pending */
	guint8 high;
} DfotaXor16;

void dfota_xor16_init(DfotaXor16 *x);
void dfota_xor16_update(DfotaXor16 *x, const guint8 *data, gsize len);
guint16 dfota_xor16_finish(const DfotaXor16 *x);
guint16 dfota_xor16(const guint8 *data, gsize len);

G_END_DECLS
