// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fetcher.h: the gateway's own downloads (host-side upgrades), libcurl multi driven
 * by a GLib main loop of the fetcher's own, on a worker thread started at the first download:
 * curl's sockets are GLib fd sources and its timer a GLib timeout there. libcurl's global
 * init, the reads and the copies of the body stay off the daemon's main loop; the task
 * completes and progress is reported in the context of the caller of dfota_fetcher_fetch().
 * libcurl is initialised on the first download, not at start (an idle daemon does not pay
 * for it, and has no such thread).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DFOTA_TYPE_FETCHER (dfota_fetcher_get_type())
G_DECLARE_FINAL_TYPE(DfotaFetcher, dfota_fetcher, DFOTA, FETCHER, GObject)

typedef struct {
	const char *ca_file;     /* NULL: the system's CA bundle */
	guint64 max_size;        /* larger bodies fail with PACKAGE_TOO_LARGE */
	guint connect_timeout_s; /* 0: 30 */
	guint low_speed_time_s;  /* abort when below 1 byte/s for this long; 0: 60 */
	guint max_redirects;     /* 0: 5 */
	guint deadline_s;        /* the whole download, however it trickles; 0: 1800 */
} DfotaFetchOptions;

typedef void (*DfotaFetchProgressFunc)(guint64 done, guint64 total, gpointer user_data);

DfotaFetcher *dfota_fetcher_new(void);

/* Downloads @url (http:// or https://) into memory. Fails with
 * DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE (Content-Length or body over max_size, noticed as
 * soon as known), DFOTA_ERROR_FETCH_FAILED ("HTTP 404 from …", curl's error text, a stall under 1 byte/s
 * for low_speed_time_s, a redirect from https:// to http://), DFOTA_ERROR_TIMEOUT (not done
 * deadline_s after its start), or G_IO_ERROR_CANCELLED. Redirects may go from http:// to
 * https://, never back. @progress gets (bytes so far, total or 0 when unknown). */
void dfota_fetcher_fetch(DfotaFetcher *self, const char *url, const DfotaFetchOptions *options,
                         DfotaFetchProgressFunc progress, gpointer progress_data,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data);
/* The body, with its SHA-256 in lowercase hex in *@sha256 (transfer full; may be NULL) when
 * it is wanted: computed on the worker as the body arrives, so that a large package costs the
 * caller's main loop no hashing. */
GBytes *dfota_fetcher_fetch_finish(DfotaFetcher *self, GAsyncResult *result, char **sha256,
                                   GError **error);

G_END_DECLS
