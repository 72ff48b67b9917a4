// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota-host.c: the gateway-side phases of host upgrades (beyond the seed).
 *
 * fetching: the package comes from libcurl (UpgradeViaHost) or from the caller's fd
 * (UpgradeFromFile), into memory bounded by max-package-size; optional sha256 check;
 * uploading: AT+QFUPL into UFS as fota.pack; then the seed's local upgrade (AT+QFOTADL=1),
 * followed by the module-side code in dfota-fota.c. Only these two phases can be cancelled.
 */
#include "dfota-fota-private.h"

#include <string.h>
#include <unistd.h>

#include "dfota-error.h"
#include "dfota-fdio.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

#define PACKAGE_NAME "fota.pack"

typedef struct {
	char *sha256;
	char *from_revision;
} HostOptions;

static void
host_options_clear(HostOptions *o)
{
	g_clear_pointer(&o->sha256, g_free);
	g_clear_pointer(&o->from_revision, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HostOptions, host_options_clear)

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

static gboolean
parse_options(GVariant *options, HostOptions *out, GError **error)
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
			out->sha256 = g_ascii_strdown(g_variant_get_string(v, NULL), -1);
		} else if (g_str_equal(key, "from-revision")) {
			if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) ||
			    !*g_variant_get_string(v, NULL)) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
				            "Option from-revision must be a non-empty string");
				return FALSE;
			}
			out->from_revision = g_variant_dup_string(v, NULL);
		} else {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
			            "Unknown option \"%s\"; the known options are sha256 (s) and "
			            "from-revision (s)",
			            key);
			return FALSE;
		}
	}
	return TRUE;
}

/* Everything that can be checked before a byte moves. */
static gboolean
host_precheck(DfotaFota *self, GVariant *options, HostOptions *opts, GError **error)
{
	const char *rev = dfota_modem_get_revision(self->modem);

	if (!parse_options(options, opts, error))
		return FALSE;
	if (opts->from_revision && dfota_modem_get_state(self->modem) == DFOTA_MODEM_STATE_READY &&
	    g_strcmp0(opts->from_revision, rev) != 0) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_REVISION_MISMATCH,
		            "The package is for revision %s but the module runs %s",
		            opts->from_revision, rev);
		return FALSE;
	}
	return TRUE;
}

static void
host_progress(guint64 done, guint64 total, gpointer user_data)
{
	DfotaFota *self = user_data;

	if (!self->job || !total)
		return;
	if (self->job->step == DFOTA_JOB_STEP_FETCHING)
		fota_publish(self, "fetching", (guint)(done * 100 / total));
	else if (self->job->step == DFOTA_JOB_STEP_UPLOADING)
		fota_publish(self, "uploading", (guint)(done * 100 / total));
}

static void
host_fail(DfotaFota *self, const GError *error, const char *phase)
{
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_autoptr(GError) e = g_error_new(
		        DFOTA_ERROR, DFOTA_ERROR_CANCELLED, "Cancelled while %s%s", phase,
		        g_str_equal(phase, "uploading") ? "; the partial fota.pack was deleted"
		                                        : "");
		fota_finish(self, e, -1, NULL, NULL);
		return;
	}
	/* The module never saw this package: whatever went wrong, it gave no code. */
	fota_finish(self, error, -1, NULL, NULL);
}

static void
upload_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;

	if (!dfota_ufs_upload_finish(res, &error)) {
		if (self)
			host_fail(self, error, "uploading");
		goto out;
	}
	if (!self)
		goto out;
	fota_publish(self, "uploading", 100);
	g_clear_pointer(&self->package, g_bytes_unref);
	g_clear_object(&self->transfer_cancellable);
	fota_send_qfotadl(self, "AT+QFOTADL=1");
out:
	fota_call_free(call);
}

static void
host_upload(DfotaFota *self)
{
	DfotaAtChannel *channel = dfota_modem_get_channel(self->modem);
	const DfotaModemConfig *mcfg = dfota_modem_get_config(self->modem);
	DfotaUfsUploadOptions opts = {
		.streaming = mcfg->rtscts,
		.module_timeout_s = self->cfg.upload_timeout_s,
		.command_timeout_ms = mcfg->command_timeout_ms,
	};

	if (self->job->sha256) {
		g_autofree char *digest =
		        g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, self->package);
		if (!g_str_equal(digest, self->job->sha256)) {
			g_autoptr(GError) e =
			        g_error_new(DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH,
			                    "The package's SHA-256 is %s, not the "
			                    "expected %s; nothing was uploaded",
			                    digest, self->job->sha256);
			fota_finish(self, e, -1, NULL, NULL);
			return;
		}
	}
	if (!channel) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                                  "The modem's port is gone; the package cannot be "
		                                  "uploaded");
		fota_finish(self, e, -1, NULL, NULL);
		return;
	}
	fota_set_step(self, DFOTA_JOB_STEP_UPLOADING, "uploading", 0);
	dfota_ufs_upload(channel, PACKAGE_NAME, self->package, &opts, host_progress, self,
	                 self->transfer_cancellable, upload_done, fota_call_new(self));
}

static void
fetch_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) package = dfota_fetcher_fetch_finish(DFOTA_FETCHER(source), res, &error);

	if (!self)
		goto out;
	if (!package) {
		host_fail(self, error, "fetching");
		goto out;
	}
	fota_publish(self, "fetching", 100);
	self->package = g_steal_pointer(&package);
	host_upload(self);
out:
	fota_call_free(call);
}

static void
host_start(DfotaFota *self, HostOptions *opts)
{
	self->job->sha256 = g_steal_pointer(&opts->sha256);
	self->transfer_cancellable = g_cancellable_new();
	fota_accept(self, DFOTA_JOB_STEP_FETCHING, "fetching", 0);
}

void
dfota_fota_upgrade_via_host(DfotaFota *self, const char *url, GVariant *options,
                            DfotaFotaStartedFunc started, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(HostOptions) opts = { 0 };
	DfotaFetchOptions fopts = { 0 };

	if (!dfota_validate_host_url(url, &error) || !host_precheck(self, options, &opts, &error)) {
		started(error, user_data);
		return;
	}
	if (!fota_begin(self, DFOTA_JOB_KIND_UPGRADE_VIA_HOST, url, started, user_data))
		return;
	host_start(self, &opts);
	fopts.ca_file = self->cfg.ca_file;
	fopts.max_size = self->cfg.max_package_size;
	fopts.low_speed_time_s = self->cfg.fetch_timeout_s;
	fopts.deadline_s = self->cfg.fetch_deadline_s;
	dfota_fetcher_fetch(self->fetcher, url, &fopts, host_progress, self,
	                    self->transfer_cancellable, fetch_done, fota_call_new(self));
}

/* ---- reading the caller's fd --------------------------------------------------------------- */

static void
fd_read_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) package = dfota_fdio_read_all_finish(res, &error);

	if (!self)
		goto out;
	if (!package) {
		host_fail(self, error, "fetching");
		goto out;
	}
	fota_publish(self, "fetching", 100);
	self->package = g_steal_pointer(&package);
	host_upload(self);
out:
	fota_call_free(call);
}

void
dfota_fota_upgrade_from_fd(DfotaFota *self, int fd, GVariant *options, DfotaFotaStartedFunc started,
                           gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(HostOptions) opts = { 0 };
	guint64 size = 0;

	if (!dfota_fdio_check_readable(fd, &size, &error) ||
	    !host_precheck(self, options, &opts, &error)) {
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
	if (!fota_begin(self, DFOTA_JOB_KIND_UPGRADE_FROM_FILE, "fd", started, user_data)) {
		close(fd);
		return;
	}
	host_start(self, &opts);
	dfota_fdio_read_all(fd, self->cfg.max_package_size, size, self->cfg.fetch_timeout_s,
	                    host_progress, self, self->transfer_cancellable, fd_read_done,
	                    fota_call_new(self));
}

/* ---- cancel and restart --------------------------------------------------------------------- */

gboolean
dfota_fota_cancel(DfotaFota *self, GError **error)
{
	if (!self->job || !self->accepted) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_NOT_CANCELLABLE, "No job is running");
		return FALSE;
	}
	if (!self->transfer_cancellable || (self->job->step != DFOTA_JOB_STEP_FETCHING &&
	                                    self->job->step != DFOTA_JOB_STEP_UPLOADING)) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_NOT_CANCELLABLE,
		            "The job is %s on the module, which offers no way to stop it; only the "
		            "gateway-side phases fetching and uploading can be cancelled",
		            self->job->phase);
		return FALSE;
	}
	g_message("job %" G_GUINT64_FORMAT ": cancel requested while %s", self->job->id,
	          self->job->phase);
	g_cancellable_cancel(self->transfer_cancellable);
	return TRUE;
}

static void
interrupted_delete_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	gboolean deleted = dfota_ufs_delete_finish(res, &error);

	if (self) {
		g_autoptr(GError) e = g_error_new(
		        DFOTA_ERROR, DFOTA_ERROR_INTERRUPTED,
		        "The daemon restarted while the job was %s; %s; start the upgrade again",
		        self->job->phase,
		        deleted ? "the partial fota.pack was deleted"
		                : "no partial fota.pack was left in UFS");
		fota_finish(self, e, -1, NULL, NULL);
	}
	fota_call_free(call);
}

void
fota_host_interrupted(DfotaFota *self)
{
	DfotaAtChannel *channel = dfota_modem_get_channel(self->modem);

	if (self->job->step == DFOTA_JOB_STEP_FETCHING || !channel) {
		g_autoptr(GError) e =
		        g_error_new(DFOTA_ERROR, DFOTA_ERROR_INTERRUPTED,
		                    "The daemon restarted while the job was %s; start "
		                    "the upgrade again",
		                    self->job->phase);
		fota_finish(self, e, -1, NULL, NULL);
		return;
	}
	/* The module may have sat in AT+QFUPL data mode: it has left it by the time it answered
	 * the initialisation, so the partial file can go. */
	dfota_ufs_delete(channel, PACKAGE_NAME,
	                 dfota_modem_get_config(self->modem)->command_timeout_ms, NULL,
	                 interrupted_delete_done, fota_call_new(self));
}
