// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ufs.h: the module's UFS file system over Quectel's FILE AT commands.
 *
 * AT+QFLDS="UFS", AT+QFLST, AT+QFDEL, AT+QFUPL (data phase, acknowledged 1 KiB blocks or
 * streamed with RTS/CTS), AT+QFDWL (data phase). Responses are accepted with or without a
 * space after commas, names with or without the "UFS:" drive prefix (shown without it), and
 * checksums in either case with or without zero padding. Sizes and the module's 16-bit XOR
 * checksum are checked against the daemon's own. A command on a file that the module refuses
 * (+CME ERROR of any code, or a bare ERROR) fails with DFOTA_ERROR_FILE_NOT_FOUND when the
 * full AT+QFLST list does not show the file, else with the module's own answer. All
 * operations run on a DfotaAtChannel, whose queue keeps them from interleaving with anything
 * else.
 */
#pragma once

#include <gio/gio.h>
#include "dfota-at-channel.h"

G_BEGIN_DECLS

typedef struct {
	char *name;
	guint64 size;
} DfotaUfsFile;

void dfota_ufs_file_free(DfotaUfsFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfotaUfsFile, dfota_ufs_file_free)

/* AT+QFLST: a GPtrArray of DfotaUfsFile (owned); directory entries ("security/") are left
 * out. */
void dfota_ufs_list(DfotaAtChannel *channel, guint timeout_ms, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *dfota_ufs_list_finish(GAsyncResult *result, GError **error);

/* AT+QFLDS="UFS". */
void dfota_ufs_query_space(DfotaAtChannel *channel, guint timeout_ms, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean dfota_ufs_query_space_finish(GAsyncResult *result, guint64 *free_bytes,
                                      guint64 *total_bytes, GError **error);

/* AT+QFDEL="<name>"; DFOTA_ERROR_FILE_NOT_FOUND when there is no such file. */
void dfota_ufs_delete(DfotaAtChannel *channel, const char *name, guint timeout_ms,
                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean dfota_ufs_delete_finish(GAsyncResult *result, GError **error);

typedef void (*DfotaUfsProgressFunc)(guint64 done, guint64 total, gpointer user_data);

typedef struct {
	gboolean streaming;     /* flow=rtscts: no per-block ACK waits (ackmode 0) */
	guint module_timeout_s; /* the <timeout_s> of AT+QFUPL: the module's inactivity bound */
	guint command_timeout_ms;
} DfotaUfsUploadOptions;

/* Writes @data into UFS as @name (replacing an existing file: it is deleted first). Checks the
 * free space first (DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE with free and needed sizes when it
 * does not fit). Uses ackmode 1 (the next 1 KiB block only after the module's 'A') unless
 * @options->streaming. Verifies the size and checksum the module reports
 * (DFOTA_ERROR_CHECKSUM_MISMATCH otherwise) and deletes the partial file on every failure.
 * @cancellable: stops sending; the daemon then waits for the module to leave data mode (it
 * does after module_timeout_s without bytes), deletes the partial file and completes with
 * G_IO_ERROR_CANCELLED. @progress is called as bytes are acknowledged/written.
 * A module that stops taking bytes (no acknowledgement, or no drain while streaming, for
 * module_timeout_s while bytes remain; or a data phase it ends short or refuses before every
 * byte went) completes the upload with DFOTA_ERROR_TIMEOUT within module_timeout_s of the
 * stall. The data phase then still ends on the channel (the module's late answer, or the
 * channel's timeout and resynchronisation), and the partial file is deleted after it, so a
 * command queued next comes after both. */
void dfota_ufs_upload(DfotaAtChannel *channel, const char *name, GBytes *data,
                      const DfotaUfsUploadOptions *options, DfotaUfsProgressFunc progress,
                      gpointer progress_data, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data);
gboolean dfota_ufs_upload_finish(GAsyncResult *result, GError **error);

/* Reads the UFS file @name with AT+QFDWL and returns its bytes, checked against the size and
 * checksum the module reports (DFOTA_ERROR_CHECKSUM_MISMATCH). A missing file fails with
 * DFOTA_ERROR_FILE_NOT_FOUND, whatever the module answers. @max_size bounds memory use. */
void dfota_ufs_download(DfotaAtChannel *channel, const char *name, guint64 max_size,
                        guint timeout_ms, DfotaUfsProgressFunc progress, gpointer progress_data,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data);
GBytes *dfota_ufs_download_finish(GAsyncResult *result, GError **error);

G_END_DECLS
