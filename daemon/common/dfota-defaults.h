// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-defaults.h: the defaults of the tunables that more than one layer needs.
 *
 * The configuration table (dfota-config.c) takes its defaults from here, and the lower layers
 * fall back on the same values when a caller leaves a field at 0, so a default lives in one
 * place.
 */
#pragma once

/* command-timeout-ms: one AT command, from the write of its last byte to its final result. */
#define DFOTA_DEFAULT_COMMAND_TIMEOUT_MS 5000

/* upload-timeout: the module's inactivity bound in AT+QFUPL (its <timeout_s>), and the
 * daemon's bound on an upload whose module takes no data. */
#define DFOTA_DEFAULT_UPLOAD_TIMEOUT_S 10

/* identity-timeout: how long after boot a failing or incomplete identity answer (ATI,
 * AT+CGSN=1) is asked again before the daemon gives up until the next boot. */
#define DFOTA_DEFAULT_IDENTITY_TIMEOUT_S 10
