// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ufs-private.h: what dfota-ufs.c and dfota-ufs-upload.c share, and nobody else. */
#pragma once

#include "dfota-ufs.h"

G_BEGIN_DECLS

/* The module's block in AT+QFUPL's acknowledged mode (one 'A' per block). */
#define UFS_BLOCK 1024

/* The information lines of a command sent on the channel (dfota_at_channel_send_finish()). */
char **dfota_ufs_lines_finish(GObject *channel, GAsyncResult *result, GError **error);

/* The module refused a file command: +CME ERROR (any code) or a bare ERROR. Modules answer a
 * missing file with any of these, so a refusal alone never says whether the file is there. */
gboolean dfota_ufs_is_refusal(const GError *error);

typedef struct {
	guint64 free_bytes;
	guint64 total_bytes;
} DfotaUfsSpace;

/* The +QFLDS line of an AT+QFLDS="UFS" answer; DFOTA_ERROR_COMMAND_FAILED without one. */
gboolean dfota_ufs_parse_space(char **lines, DfotaUfsSpace *space, GError **error);

G_END_DECLS
