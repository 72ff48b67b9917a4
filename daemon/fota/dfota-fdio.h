// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fdio.h: file descriptors that D-Bus callers pass (UpgradeFromFile, Files.Upload,
 * Files.Download). The daemon never opens a path a caller names: it reads or writes the fd
 * it was given, asynchronously, with a bound on what it keeps in memory. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A readable regular file, pipe or socket; *size is its size for a regular file, else 0.
 * DFOTA_ERROR_INVALID_ARGUMENT naming what is wrong otherwise. */
gboolean dfota_fdio_check_readable(int fd, guint64 *size, GError **error);
/* A writable regular file, pipe or socket. */
gboolean dfota_fdio_check_writable(int fd, GError **error);

typedef void (*DfotaFdioProgressFunc)(guint64 done, guint64 total, gpointer user_data);

/* Reads @fd (taken over: closed when done) to its end. More than @max_size bytes fail with
 * DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE; an empty input with DFOTA_ERROR_INVALID_ARGUMENT, and
 * so does an fd that gives no byte for @stall_s seconds (0: no bound), so that a caller who
 * holds a pipe open and silent cannot hold the modem. @total (0 = unknown) is only for
 * progress. A pipe or socket is switched to non-blocking mode. */
void dfota_fdio_read_all(int fd, guint64 max_size, guint64 total, guint stall_s,
                         DfotaFdioProgressFunc progress, gpointer progress_data,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data);
/* The data, with its SHA-256 in lowercase hex in *@sha256 (transfer full; may be NULL) when
 * wanted: hashed chunk by chunk as it was read, so the end costs no pass over it all. */
GBytes *dfota_fdio_read_all_finish(GAsyncResult *result, char **sha256, GError **error);

/* Writes @data to @fd (taken over: closed when done). An fd that takes no byte for @stall_s
 * seconds (a pipe nobody reads) fails with DFOTA_ERROR_INVALID_ARGUMENT. */
void dfota_fdio_write_all(int fd, GBytes *data, guint stall_s, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
gboolean dfota_fdio_write_all_finish(GAsyncResult *result, GError **error);

G_END_DECLS
