// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota-host.c: the gateway-side I/O of the host kinds (beyond the seed).
 *
 * fetching: the package comes from libcurl (UpgradeViaHost, and the fallback of
 * UpgradeWithOptions) or from the caller's fd (UpgradeFromFile), into memory bounded by
 * max-package-size; uploading: AT+QFUPL into UFS as fota.pack. What follows is the job
 * machine's. Only these two phases can be cancelled.
 */
#include "dfota-fota-private.h"

#include <string.h>
#include <unistd.h>

#include "dfota-error.h"
#include "dfota-fdio.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

#define PACKAGE_NAME "fota.pack"

void
fota_options_clear(FotaOptions *o)
{
	g_clear_pointer(&o->sha256, g_free);
	g_clear_pointer(&o->from_revision, g_free);
}

static gboolean
is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_isxdigit(*s))
			return FALSE;
	return TRUE;
}

/* @module_download: the options of UpgradeWithOptions (fallback-via-host known, sha256 only
 * with it), else those of the host kinds. */
gboolean
fota_parse_options(GVariant *options, gboolean module_download, FotaOptions *out, GError **error)
{
	GVariantIter iter;
	const char *key;
	GVariant *value;

	if (!options)
		return TRUE;
	g_variant_iter_init(&iter, options);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) v = value;

		if (g_str_equal(key, "sha256")) {
			if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) ||
			    !is_hex64(g_variant_get_string(v, NULL))) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
				            "Option sha256 must be a string of 64 hex digits");
				return FALSE;
			}
			g_free(out->sha256);
			out->sha256 = g_ascii_strdown(g_variant_get_string(v, NULL), -1);
		} else if (g_str_equal(key, "from-revision")) {
			if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) ||
			    !*g_variant_get_string(v, NULL)) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
				            "Option from-revision must be a non-empty string");
				return FALSE;
			}
			g_free(out->from_revision);
			out->from_revision = g_variant_dup_string(v, NULL);
		} else if (module_download && g_str_equal(key, "fallback-via-host")) {
			if (!g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN)) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
				            "Option fallback-via-host must be a boolean");
				return FALSE;
			}
			out->fallback_via_host = g_variant_get_boolean(v);
		} else {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
			            "Unknown option \"%s\"; the known options are %s", key,
			            module_download
			                    ? "from-revision (s), fallback-via-host (b) and "
			                      "sha256 (s)"
			                    : "sha256 (s) and from-revision (s)");
			return FALSE;
		}
	}
	if (module_download && out->sha256 && !out->fallback_via_host) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		            "Option sha256 is checked on the gateway's fallback only: give it with "
		            "fallback-via-host true (the module verifies its own download)");
		return FALSE;
	}
	return TRUE;
}

static void
host_progress(guint64 done, guint64 total, gpointer user_data)
{
	DfotaFota *self = user_data;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_HOST_PROGRESS, .done = done, .total = total };

	fota_feed(self, &ev);
}

/* @digest: the package's SHA-256, computed where it was read (the fetcher's thread, or chunk by
 * chunk for an fd): hashing a package of up to max-package-size here would hold the main loop,
 * and every other modem's commands, for milliseconds. */
static void
package_done(DfotaFota *self, GBytes *package, const char *digest, const GError *error)
{
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_FETCH_DONE, .ok = package != NULL, .error = error };

	if (package) {
		g_clear_pointer(&self->package, g_bytes_unref);
		self->package = g_bytes_ref(package);
	}
	ev.digest = digest;
	fota_feed(self, &ev);
}

/* One callback for both sources of a package: libcurl and the caller's fd. */
static void
fetch_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autofree char *digest = NULL;
	g_autoptr(GBytes) package =
	        g_async_result_is_tagged(res, dfota_fetcher_fetch)
	                ? dfota_fetcher_fetch_finish(self ? self->fetcher : NULL, res, &digest,
	                                             &error)
	                : dfota_fdio_read_all_finish(res, &digest, &error);

	if (self)
		package_done(self, package, digest, error);
	fota_call_free(call);
}

void
fota_host_fetch(DfotaFota *self, const char *url)
{
	DfotaFetchOptions fopts = {
		.ca_file = self->cfg.ca_file,
		.max_size = self->cfg.max_package_size,
		.low_speed_time_s = self->cfg.fetch_timeout_s,
		.deadline_s = self->cfg.fetch_deadline_s,
	};
	int fd = self->pending_fd;

	/* Kept when Cancel() made it already (see dfota_fota_cancel()); release_io() drops it at
	 * the end of every job. */
	if (!self->transfer_cancellable)
		self->transfer_cancellable = g_cancellable_new();
	if (self->machine.job->kind == DFOTA_JOB_KIND_UPGRADE_FROM_FILE) {
		self->pending_fd = -1;
		dfota_fdio_read_all(fd, self->cfg.max_package_size, self->pending_size,
		                    self->cfg.fetch_timeout_s, host_progress, self,
		                    self->transfer_cancellable, fetch_done, fota_call_new(self));
		return;
	}
	dfota_fetcher_fetch(self->fetcher, url, &fopts, host_progress, self,
	                    self->transfer_cancellable, fetch_done, fota_call_new(self));
}

static void
upload_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_UPLOAD_DONE };

	ev.ok = dfota_ufs_upload_finish(res, &error);
	ev.error = error;
	if (self) {
		g_clear_pointer(&self->package, g_bytes_unref);
		fota_feed(self, &ev);
	}
	fota_call_free(call);
}

/* No port to upload through: reported from the main loop, never from inside the effects that
 * asked for the upload. */
static gboolean
upload_no_port(gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);

	if (self) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                                  "The modem's port is gone; the package cannot be "
		                                  "uploaded");
		DfotaJmEvent ev = { .type = DFOTA_JM_EV_UPLOAD_DONE, .error = e };
		fota_feed(self, &ev);
	}
	fota_call_free(call);
	return G_SOURCE_REMOVE;
}

void
fota_host_upload(DfotaFota *self)
{
	DfotaAtChannel *channel = dfota_modem_get_channel(self->modem);
	const DfotaModemConfig *mcfg = dfota_modem_get_config(self->modem);
	DfotaUfsUploadOptions opts = {
		.streaming = mcfg->rtscts,
		.module_timeout_s = self->cfg.upload_timeout_s,
		.command_timeout_ms = mcfg->command_timeout_ms,
	};

	if (!channel) {
		g_idle_add(upload_no_port, fota_call_new(self));
		return;
	}
	dfota_ufs_upload(channel, PACKAGE_NAME, self->package, &opts, host_progress, self,
	                 self->transfer_cancellable, upload_done, fota_call_new(self));
}

void
dfota_fota_upgrade_via_host(DfotaFota *self, const char *url, GVariant *options,
                            DfotaFotaStartedFunc started, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(FotaOptions) opts = { 0 };
	DfotaJmEvent ev = { .kind = DFOTA_JOB_KIND_UPGRADE_VIA_HOST, .source = url };

	if (!dfota_validate_host_url(url, &error) ||
	    !fota_parse_options(options, FALSE, &opts, &error)) {
		started(error, user_data);
		return;
	}
	ev.sha256 = opts.sha256;
	ev.expect_revision = opts.from_revision;
	fota_start(self, &ev, started, user_data);
}

void
dfota_fota_upgrade_from_fd(DfotaFota *self, int fd, GVariant *options, DfotaFotaStartedFunc started,
                           gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(FotaOptions) opts = { 0 };
	guint64 size = 0;
	DfotaJmEvent ev = { .kind = DFOTA_JOB_KIND_UPGRADE_FROM_FILE, .source = "fd" };

	if (!dfota_fdio_check_readable(fd, &size, &error) ||
	    !fota_parse_options(options, FALSE, &opts, &error)) {
		if (fd >= 0)
			close(fd);
		started(error, user_data);
		return;
	}
	if (size > self->cfg.max_package_size) {
		close(fd);
		error = g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
		                    "The package is %" G_GUINT64_FORMAT " bytes, more than "
		                    "max-package-size (%" G_GUINT64_FORMAT ")",
		                    size, self->cfg.max_package_size);
		started(error, user_data);
		return;
	}
	ev.sha256 = opts.sha256;
	ev.expect_revision = opts.from_revision;
	fota_start_fd(self, &ev, fd, size, started, user_data);
}

/* ---- cancel and restart --------------------------------------------------------------------- */

gboolean
dfota_fota_cancel(DfotaFota *self, GError **error)
{
	DfotaJob *job = self->machine.job;

	if (!job || !self->machine.accepted) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_NOT_CANCELLABLE, "No job is running");
		return FALSE;
	}
	if (job->step != DFOTA_JOB_STEP_FETCHING && job->step != DFOTA_JOB_STEP_UPLOADING) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_NOT_CANCELLABLE,
		            "The job is %s on the module, which offers no way to stop it; only the "
		            "gateway-side phases fetching and uploading can be cancelled",
		            job->phase);
		return FALSE;
	}
	/* A transfer under way, or one that starts once the record on its way to the disk is
	 * written (it then starts cancelled). A job resumed at uploading has neither: it only
	 * deletes the partial file, which cannot be stopped. */
	if (!self->transfer_cancellable && fota_order_transfer_pending(self))
		self->transfer_cancellable = g_cancellable_new();
	if (!self->transfer_cancellable) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_NOT_CANCELLABLE,
		            "The job is %s but no transfer is running; it cannot be cancelled now",
		            job->phase);
		return FALSE;
	}
	g_message("job %" G_GUINT64_FORMAT ": cancel requested while %s", job->id, job->phase);
	g_cancellable_cancel(self->transfer_cancellable);
	return TRUE;
}

static void
delete_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_DELETE_DONE };

	ev.ok = dfota_ufs_delete_finish(res, &error);
	if (self)
		fota_feed(self, &ev);
	fota_call_free(call);
}

/* No port: nothing could be deleted; reported from the main loop as upload_no_port() is. */
static gboolean
delete_no_port(gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_DELETE_DONE };

	if (self)
		fota_feed(self, &ev);
	fota_call_free(call);
	return G_SOURCE_REMOVE;
}

void
fota_host_delete_partial(DfotaFota *self)
{
	DfotaAtChannel *channel = dfota_modem_get_channel(self->modem);
	if (!channel) {
		g_idle_add(delete_no_port, fota_call_new(self));
		return;
	}
	dfota_ufs_delete(channel, PACKAGE_NAME,
	                 dfota_modem_get_config(self->modem)->command_timeout_ms, NULL, delete_done,
	                 fota_call_new(self));
}
