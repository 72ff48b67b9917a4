// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota.c: drives one job at a time through its steps and publishes its progress.
 *
 * The module-side half (QFOTADL, URCs, reboot, verification) lives here; the host-side
 * phases (fetching, uploading) in dfota-fota-host.c. Every step is journalled before it
 * acts (fota_set_step), so a restarted daemon resumes from the record.
 */
#include "dfota-fota-private.h"

#include <string.h>

#include "dfota-error.h"
#include "dfota-log.h"
#include "dfota-redact.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

G_DEFINE_TYPE(DfotaFota, dfota_fota, G_TYPE_OBJECT)

#define JOB_LOG(self, level, code, ...)                                                      \
	dfota_log_job((level), dfota_modem_get_config((self)->modem)->name, (self)->job->id, \
	              (self)->job->phase, (code), __VA_ARGS__)

enum { PROP_0, PROP_PHASE, PROP_PERCENT, PROP_JOB, PROP_LAST_RESULT, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void fota_verify(DfotaFota *self);

void
dfota_fota_config_clear(DfotaFotaConfig *cfg)
{
	g_clear_pointer(&cfg->state_dir, g_free);
	g_clear_pointer(&cfg->ca_file, g_free);
}

/* ---- job calls: async callbacks that belong to one job ------------------------------------ */

FotaCall *
fota_call_new(DfotaFota *self)
{
	FotaCall *call = g_new0(FotaCall, 1);

	call->self = g_object_ref(self);
	call->job_cancellable = g_object_ref(self->job_cancellable);
	return call;
}

void
fota_call_free(FotaCall *call)
{
	g_object_unref(call->self);
	g_object_unref(call->job_cancellable);
	g_free(call);
}

/* Returns the job's DfotaFota when the job this call belongs to is still the current one,
 * else NULL (the call is stale and its result must be dropped). */
DfotaFota *
fota_call_self(FotaCall *call)
{
	if (g_cancellable_is_cancelled(call->job_cancellable))
		return NULL;
	return call->self;
}

/* ---- publishing ---------------------------------------------------------------------------- */

static void
fota_journal_save(DfotaFota *self)
{
	if (self->journal && self->job && self->accepted_or_recorded)
		dfota_journal_set_job(self->journal, dfota_job_to_record(self->job), NULL);
}

static void
fota_disarm_timer(DfotaFota *self)
{
	g_clear_handle_id(&self->timer_id, g_source_remove);
}

static gboolean fota_on_timeout(gpointer user_data);

void
fota_arm_timer(DfotaFota *self, guint seconds)
{
	fota_disarm_timer(self);
	self->timer_seconds = seconds;
	self->timer_id = g_timeout_add_seconds(seconds, fota_on_timeout, self);
}

/* Publishes @phase/@percent: a new phase starts wherever @percent says; within one stay in a
 * phase the percent never decreases (a module repeating 10% after 20% is ignored). */
void
fota_publish(DfotaFota *self, const char *phase, guint percent)
{
	DfotaJob *job = self->job;

	percent = MIN(percent, 100);
	if (g_strcmp0(job->phase, phase) == 0 && percent <= job->percent)
		return;
	if (g_strcmp0(job->phase, phase) != 0) {
		g_free(job->phase);
		job->phase = g_strdup(phase);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
	}
	if (job->percent != percent) {
		job->percent = percent;
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
	}
	g_debug("job %" G_GUINT64_FORMAT ": %s %u%%", job->id, phase, percent);
	/* A restarted daemon goes on from here, never below (Percent never decreases). */
	if (self->journal && self->accepted_or_recorded)
		dfota_journal_set_progress(self->journal, job->id, phase, percent);
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, phase, percent);
}

/* Enters @step: journalled first, then published. Entering another phase starts a new stay
 * in it at @percent; staying in the same phase keeps its percent (never decreases). */
void
fota_set_step(DfotaFota *self, DfotaJobStep step, const char *phase, guint percent)
{
	DfotaJob *job = self->job;
	gboolean new_phase = phase && g_strcmp0(job->phase, phase) != 0;

	job->step = step;
	if (new_phase && self->accepted) {
		g_free(job->phase);
		job->phase = g_strdup(phase);
		job->percent = MIN(percent, 100);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
		fota_journal_save(self);
		JOB_LOG(self, G_LOG_LEVEL_MESSAGE, DFOTA_LOG_NO_CODE,
		        "job %" G_GUINT64_FORMAT ": %s", job->id, phase);
		g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, job->phase, job->percent);
		return;
	}
	fota_journal_save(self);
	if (phase && self->accepted)
		fota_publish(self, phase, percent);
}

/* ---- the end of a job ------------------------------------------------------------------------ */

static void
fota_release(DfotaFota *self)
{
	fota_disarm_timer(self);
	if (self->job_cancellable)
		g_cancellable_cancel(self->job_cancellable);
	g_clear_object(&self->job_cancellable);
	g_clear_object(&self->transfer_cancellable);
	g_clear_pointer(&self->package, g_bytes_unref);
	g_clear_pointer(&self->job, dfota_job_free);
	g_ptr_array_set_size(self->early_urcs, 0);
	self->accepted = FALSE;
	self->accepted_or_recorded = FALSE;
	self->started_cb = NULL;
	self->started_data = NULL;
}

/* A job that was never accepted: the method fails, nothing was started, no Finished. */
void
fota_refuse(DfotaFota *self, const GError *error)
{
	DfotaFotaStartedFunc cb = self->started_cb;
	gpointer data = self->started_data;
	g_autoptr(GError) copy = g_error_copy(error);
	g_autofree char *shown = dfota_text_redact_urls(error->message);

	g_message("job refused: %s", shown);
	if (self->journal && self->accepted_or_recorded)
		dfota_journal_set_job(self->journal, NULL, NULL);
	fota_release(self);
	if (cb)
		cb(copy, data);
}

/* Ends the current job. @error NULL means success. @extra (a{sv}, may be NULL) adds keys. */
void
fota_finish(DfotaFota *self, const GError *error, int code, const char *to_revision,
            GVariant *extra)
{
	GVariantBuilder b;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) extra_ref = extra ? g_variant_ref_sink(extra) : NULL;
	g_autoptr(GVariant) pub = NULL;
	GVariantIter iter;
	const char *key;
	GVariant *value;
	/* Messages can quote a URL (the fetcher's, libcurl's, the AT command's). */
	g_autofree char *message =
	        dfota_text_redact_urls(error ? error->message : "The job succeeded");

	if (!self->job)
		return;
	if (!self->accepted) {
		g_autoptr(GError) e = error ? g_error_copy(error)
		                            : g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                                          "The job ended before it started");
		fota_refuse(self, e);
		return;
	}
	pub = g_variant_ref_sink(dfota_job_to_public(self->job));
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_iter_init(&iter, pub);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_variant_builder_add(&b, "{sv}", key, value);
		g_variant_unref(value);
	}
	g_variant_builder_add(&b, "{sv}", "success", g_variant_new_boolean(error == NULL));
	g_variant_builder_add(&b, "{sv}", "code", g_variant_new_int32(code));
	/* The full D-Bus error name, as a method call of the same failure would return it. */
	g_variant_builder_add(
	        &b, "{sv}", "error",
	        error ? g_variant_new_take_string(g_strconcat("org.dfotad1.Error.",
	                                                      dfota_error_short_name(error), NULL))
	              : g_variant_new_string(""));
	g_variant_builder_add(&b, "{sv}", "message", g_variant_new_string(message));
	g_variant_builder_add(&b, "{sv}", "to-revision",
	                      g_variant_new_string(to_revision ? to_revision : ""));
	g_variant_builder_add(&b, "{sv}", "finished", g_variant_new_uint64(g_get_real_time()));
	if (extra_ref) {
		g_variant_iter_init(&iter, extra_ref);
		while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
			g_variant_builder_add(&b, "{sv}", key, value);
			g_variant_unref(value);
		}
	}
	result = g_variant_ref_sink(g_variant_builder_end(&b));

	if (error)
		JOB_LOG(self, G_LOG_LEVEL_WARNING, code,
		        "job %" G_GUINT64_FORMAT " (%s) failed: %s: %s (code %d)", self->job->id,
		        dfota_job_kind_to_string(self->job->kind), dfota_error_short_name(error),
		        message, code);
	else
		JOB_LOG(self, G_LOG_LEVEL_MESSAGE, code,
		        "job %" G_GUINT64_FORMAT " (%s) succeeded: %s -> %s", self->job->id,
		        dfota_job_kind_to_string(self->job->kind), self->job->from_revision,
		        to_revision ? to_revision : "");

	if (self->journal)
		dfota_journal_finish_job(self->journal, result, NULL);
	g_clear_pointer(&self->last_result, g_variant_unref);
	self->last_result = g_variant_ref(result);
	fota_release(self);
	dfota_modem_set_job_active(self->modem, FALSE);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_RESULT]);
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, "idle", 0u);
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0, result);
}

void
fota_finish_error(DfotaFota *self, GError *error, int code)
{
	fota_finish(self, error, code, NULL, NULL);
}

/* ---- starting ---------------------------------------------------------------------------------- */

/* Creates the job of a method call, or refuses it at once (Busy, NotReady). */
gboolean
fota_begin(DfotaFota *self, DfotaJobKind kind, const char *source, DfotaFotaStartedFunc started,
           gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	DfotaModemState state = dfota_modem_get_state(self->modem);

	if (self->job) {
		error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_BUSY,
		                    "A job is already running on this modem (job %" G_GUINT64_FORMAT
		                    ", %s); wait for its Finished signal",
		                    self->job->id, dfota_job_kind_to_string(self->job->kind));
	} else if (state != DFOTA_MODEM_STATE_READY) {
		error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                    "The modem is %s, not ready; see the State property",
		                    dfota_modem_state_to_string(state));
	}
	if (error) {
		started(error, user_data);
		return FALSE;
	}
	self->job = dfota_job_new(kind, source);
	g_free(self->job->from_revision);
	self->job->from_revision = g_strdup(dfota_modem_get_revision(self->modem));
	g_free(self->job->from_sub_edition);
	self->job->from_sub_edition = g_strdup(dfota_modem_get_sub_edition(self->modem));
	self->job_cancellable = g_cancellable_new();
	self->started_cb = started;
	self->started_data = user_data;
	if (self->journal)
		self->job->id = dfota_journal_take_job_id(self->journal);
	return TRUE;
}

/* The method's reply goes out first, then the job's first Progress. */
void
fota_accept(DfotaFota *self, DfotaJobStep step, const char *phase, guint percent)
{
	DfotaFotaStartedFunc cb = self->started_cb;
	gpointer data = self->started_data;
	g_autoptr(GPtrArray) early = NULL;

	self->started_cb = NULL;
	self->started_data = NULL;
	self->accepted = TRUE;
	self->accepted_or_recorded = TRUE;
	JOB_LOG(self, G_LOG_LEVEL_MESSAGE, DFOTA_LOG_NO_CODE,
	        "job %" G_GUINT64_FORMAT " (%s) accepted: %s, from revision %s", self->job->id,
	        dfota_job_kind_to_string(self->job->kind), self->job->source,
	        self->job->from_revision);
	if (cb)
		cb(NULL, data);
	dfota_modem_set_job_active(self->modem, TRUE);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
	fota_set_step(self, step, phase, percent);

	/* URCs that raced the OK of AT+QFOTADL. */
	early = g_steal_pointer(&self->early_urcs);
	self->early_urcs = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < early->len && self->job; i++)
		fota_handle_urc_line(self, early->pdata[i]);
}

static void
qfotadl_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_modem_command_finish(DFOTA_MODEM(source), res, &error);

	if (!self)
		goto out;
	if (!lines) {
		int code = error->domain == DFOTA_MODULE_ERROR ? error->code : -1;
		fota_finish_error(self, error, code);
		goto out;
	}
	if (self->accepted) {
		/* Host kinds: accepted long ago; the module now flashes the uploaded package. */
		fota_arm_timer(self, self->cfg.update_timeout_s);
	} else if (self->job->kind == DFOTA_JOB_KIND_UPGRADE_LOCAL) {
		fota_accept(self, DFOTA_JOB_STEP_UPDATING, "updating", 0);
		if (self->job)
			fota_arm_timer(self, self->cfg.update_timeout_s);
	} else {
		fota_accept(self, DFOTA_JOB_STEP_DOWNLOADING, "downloading", 0);
		if (self->job && self->job->step == DFOTA_JOB_STEP_DOWNLOADING)
			fota_arm_timer(self, self->cfg.download_timeout_s);
	}
out:
	fota_call_free(call);
}

void
fota_send_qfotadl(DfotaFota *self, const char *command)
{
	fota_set_step(self, DFOTA_JOB_STEP_STARTING, NULL, 0);
	dfota_modem_command(self->modem, command, 0, DFOTA_AT_FLAG_NONE, NULL, qfotadl_done,
	                    fota_call_new(self));
}

static void
network_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;

	if (!dfota_modem_ensure_network_finish(DFOTA_MODEM(source), res, &error)) {
		if (self)
			fota_refuse(self, error);
	} else if (self) {
		fota_send_qfotadl(self, self->pending_command);
	}
	if (self)
		g_clear_pointer(&self->pending_command, g_free);
	fota_call_free(call);
}

void
dfota_fota_upgrade(DfotaFota *self, const char *url, DfotaFotaStartedFunc started,
                   gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	if (!dfota_validate_module_url(url, &error)) {
		started(error, user_data);
		return;
	}
	if (!fota_begin(self, DFOTA_JOB_KIND_UPGRADE, url, started, user_data))
		return;
	self->pending_command = g_strdup_printf("AT+QFOTADL=\"%s\"", url);
	dfota_modem_ensure_network(self->modem, NULL, network_done, fota_call_new(self));
}

/* The name the module gives a fetched MCU file (seed 3.3): the requested one, else the URL's
 * last path segment when legal, else mcu_update.bin. Taken from the URL as given: the job's
 * source is redacted, and a URL that reads more than one way keeps no path there. */
static char *
mcu_file_name(const char *url, const char *filename)
{
	const char *path, *slash;
	g_autofree char *name = NULL;

	if (filename && *filename)
		return g_strdup(filename);
	path = strstr(url, "://");
	path = path ? path + 3 + strcspn(path + 3, "/?#") : NULL;
	path = path && *path == '/' ? path : NULL;
	if (path) {
		gsize end = strcspn(path, "?#");
		g_autofree char *p = g_strndup(path, end);
		slash = strrchr(p, '/');
		name = g_strdup(slash + 1);
	}
	if (name && *name && strlen(name) <= 58) {
		gboolean legal = TRUE;
		for (const char *p = name; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
				legal = FALSE;
		if (legal)
			return g_steal_pointer(&name);
	}
	return g_strdup("mcu_update.bin");
}

void
dfota_fota_fetch_mcu_file(DfotaFota *self, const char *url, const char *filename,
                          DfotaFotaStartedFunc started, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	if (!dfota_validate_module_url(url, &error) ||
	    (filename && *filename && !dfota_validate_filename(filename, &error))) {
		started(error, user_data);
		return;
	}
	if (!fota_begin(self, DFOTA_JOB_KIND_FETCH_MCU_FILE, url, started, user_data))
		return;
	g_free(self->job->filename);
	self->job->filename = mcu_file_name(url, filename);
	if (filename && *filename)
		self->pending_command =
		        g_strdup_printf("AT+QFOTADL=2,\"%s\",\"%s\"", url, filename);
	else
		self->pending_command = g_strdup_printf("AT+QFOTADL=2,\"%s\"", url);
	dfota_modem_ensure_network(self->modem, NULL, network_done, fota_call_new(self));
}

static void
local_list_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = dfota_ufs_list_finish(res, &error);
	gboolean found = FALSE;

	if (!self)
		goto out;
	if (!files) {
		fota_refuse(self, error);
		goto out;
	}
	for (guint i = 0; i < files->len; i++) {
		DfotaUfsFile *f = files->pdata[i];
		if (g_str_equal(f->name, "fota.pack") && f->size > 0)
			found = TRUE;
	}
	if (!found) {
		g_autoptr(GError) e =
		        g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_NO_PACKAGE,
		                    "There is no fota.pack in the module's UFS; upload "
		                    "one first (org.dfotad1.Files.Upload)");
		fota_refuse(self, e);
		goto out;
	}
	fota_send_qfotadl(self, "AT+QFOTADL=1");
out:
	fota_call_free(call);
}

void
dfota_fota_upgrade_local(DfotaFota *self, DfotaFotaStartedFunc started, gpointer user_data)
{
	DfotaAtChannel *channel;

	if (!fota_begin(self, DFOTA_JOB_KIND_UPGRADE_LOCAL, "UFS:fota.pack", started, user_data))
		return;
	channel = dfota_modem_get_channel(self->modem);
	dfota_ufs_list(channel, dfota_modem_get_config(self->modem)->command_timeout_ms, NULL,
	               local_list_done, fota_call_new(self));
}

const DfotaFotaConfig *
dfota_fota_get_config(DfotaFota *self)
{
	return &self->cfg;
}

gboolean
dfota_fota_is_busy(DfotaFota *self)
{
	return self->job != NULL;
}

/* ---- following the module -------------------------------------------------------------------- */

static void
mcu_stat_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = dfota_ufs_list_finish(res, &error);
	g_autofree char *name = NULL;
	guint64 size = 0;
	gboolean found = FALSE;
	GVariantBuilder b;

	if (!self)
		goto out;
	name = g_strdup(*self->job->filename ? self->job->filename : "mcu_update.bin");
	for (guint i = 0; files && i < files->len; i++) {
		DfotaUfsFile *f = files->pdata[i];
		if (g_str_equal(f->name, name)) {
			size = f->size;
			found = TRUE;
		}
	}
	if (!found) {
		g_autoptr(GError) e =
		        g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_UNKNOWN,
		                    "The module reported the download complete but %s "
		                    "is not in UFS%s%s",
		                    name, error ? ": " : "", error ? error->message : "");
		fota_finish(self, e, -1, NULL, NULL);
		goto out;
	}
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "file", g_variant_new_string(name));
	g_variant_builder_add(&b, "{sv}", "size", g_variant_new_uint64(size));
	fota_finish(self, NULL, 0, dfota_modem_get_revision(self->modem),
	            g_variant_builder_end(&b));
out:
	fota_call_free(call);
}

static void
fota_on_event(DfotaFota *self, const DfotaFotaUrc *u)
{
	DfotaJob *job = self->job;
	g_autoptr(GError) error = NULL;

	switch (u->event) {
	case DFOTA_FOTA_EVENT_HTTPSTART:
		if (job->step == DFOTA_JOB_STEP_DOWNLOADING)
			fota_arm_timer(self, self->cfg.download_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_DOWNLOADING:
		if (job->step != DFOTA_JOB_STEP_DOWNLOADING)
			break;
		fota_publish(self, "downloading", MAX(u->value, 0));
		fota_arm_timer(self, self->cfg.download_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_HTTPEND:
		if (job->step != DFOTA_JOB_STEP_DOWNLOADING)
			break;
		if (u->value != 0) {
			error = dfota_error_from_cme(u->value);
			fota_finish_error(self, error, u->value);
			break;
		}
		fota_publish(self, "downloading", 100);
		if (job->kind == DFOTA_JOB_KIND_FETCH_MCU_FILE) {
			fota_disarm_timer(self);
			dfota_ufs_list(dfota_modem_get_channel(self->modem),
			               dfota_modem_get_config(self->modem)->command_timeout_ms,
			               NULL, mcu_stat_done, fota_call_new(self));
		} else {
			fota_arm_timer(self, self->cfg.update_timeout_s);
		}
		break;
	case DFOTA_FOTA_EVENT_START:
		if (!dfota_job_kind_upgrades(job->kind))
			break;
		if (job->step == DFOTA_JOB_STEP_UPDATING && job->percent > 0) {
			/* The update starts over: the module restarted (a power cut, seen by a
			 * daemon that was down at that moment) and resumes in forced mode. */
			job->power_cut = TRUE;
			fota_set_step(self, DFOTA_JOB_STEP_REBOOTING, "rebooting", 0);
		}
		fota_set_step(self, DFOTA_JOB_STEP_UPDATING, "updating", 0);
		fota_arm_timer(self, self->cfg.update_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_UPDATING:
		if (!dfota_job_kind_upgrades(job->kind))
			break;
		if (job->step != DFOTA_JOB_STEP_UPDATING)
			fota_set_step(self, DFOTA_JOB_STEP_UPDATING, "updating", 0);
		fota_publish(self, "updating", MAX(u->value, 0));
		fota_arm_timer(self, self->cfg.update_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_END:
		if (!dfota_job_kind_upgrades(job->kind))
			break;
		if (u->value != 0) {
			error = dfota_error_from_cme(u->value);
			fota_finish_error(self, error, u->value);
			break;
		}
		job->end_seen = TRUE;
		fota_publish(self, "updating", 100);
		fota_set_step(self, DFOTA_JOB_STEP_REBOOTING, "rebooting", 0);
		fota_arm_timer(self, self->cfg.reboot_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_UNKNOWN:
		g_message("job %" G_GUINT64_FORMAT ": unknown FOTA event \"%s\" ignored", job->id,
		          u->name ? u->name : "");
		break;
	}
}

static void
fota_start_forced_resume(DfotaFota *self)
{
	self->job = dfota_job_new(DFOTA_JOB_KIND_FORCED_RESUME, "module");
	g_free(self->job->from_revision);
	/* Replayed URCs are history: the revision read since may already be the new one, so
	 * the old one is unknown rather than wrong. */
	self->job->from_revision =
	        g_strdup(self->replaying ? "" : dfota_modem_get_revision(self->modem));
	self->job_cancellable = g_cancellable_new();
	if (self->journal)
		self->job->id = dfota_journal_take_job_id(self->journal);
	g_message("the module resumed a firmware update on its own (forced upgrade mode)");
	fota_accept(self, DFOTA_JOB_STEP_UPDATING, "updating", 0);
	if (self->job)
		fota_arm_timer(self, self->cfg.update_timeout_s);
}

#define PRE_JOURNAL_MAX_URCS 256
#define PRE_JOURNAL_WAIT_S 5

static void fota_replay_pre_journal(DfotaFota *self);

static gboolean
fota_on_pre_journal_timeout(gpointer user_data)
{
	DfotaFota *self = user_data;

	self->pre_journal_timer = 0;
	self->pre_journal_expired = TRUE;
	g_message("the module reports a firmware update but could not be identified within %d s: "
	          "following it without its record",
	          PRE_JOURNAL_WAIT_S);
	fota_replay_pre_journal(self);
	return G_SOURCE_REMOVE;
}

void
fota_handle_urc_line(DfotaFota *self, const char *line)
{
	DfotaFotaUrc u = { 0 };

	if (!dfota_fota_urc_parse(line, &u))
		return;
	if (self->job && !self->accepted) {
		g_ptr_array_add(self->early_urcs, g_strdup(line));
	} else if (!self->job && !self->journal && !self->pre_journal_expired) {
		/* Before the module is identified, a job of ours may be on record (a daemon
		 * restarted mid-job): keep the URCs for it, so its progress goes on from the record
		 * instead of a new job starting at 0. Replayed when the journal opens, or as a job
		 * of their own if the module cannot be identified in time. */
		if (self->pre_journal_urcs->len < PRE_JOURNAL_MAX_URCS)
			g_ptr_array_add(self->pre_journal_urcs, g_strdup(line));
		if (!self->pre_journal_timer)
			self->pre_journal_timer = g_timeout_add_seconds(
			        PRE_JOURNAL_WAIT_S, fota_on_pre_journal_timeout, self);
	} else {
		if (!self->job &&
		    (u.event == DFOTA_FOTA_EVENT_START || u.event == DFOTA_FOTA_EVENT_UPDATING))
			fota_start_forced_resume(self);
		if (self->job)
			fota_on_event(self, &u);
		else
			g_message("FOTA URC with no job: %s", line);
	}
	dfota_fota_urc_clear(&u);
}

static void
on_modem_urc(DfotaModem *modem, const char *line, gpointer user_data)
{
	DfotaFota *self = DFOTA_FOTA(user_data);

	/* While FOTA URCs wait for the record, the module's restarts are part of their story. */
	if (dfota_at_is_boot_urc(line) && self->pre_journal_urcs->len > 0 &&
	    self->pre_journal_urcs->len < PRE_JOURNAL_MAX_URCS) {
		g_ptr_array_add(self->pre_journal_urcs, g_strdup(line));
		return;
	}
	fota_handle_urc_line(self, line);
}

static void
on_modem_rebooted(DfotaModem *modem, gpointer user_data)
{
	DfotaFota *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!self->job || !self->accepted)
		return;
	switch (self->job->step) {
	case DFOTA_JOB_STEP_STARTING:
	case DFOTA_JOB_STEP_DOWNLOADING:
		if (self->job->kind != DFOTA_JOB_KIND_UPGRADE &&
		    self->job->kind != DFOTA_JOB_KIND_FETCH_MCU_FILE)
			break;
		error = g_error_new(
		        DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		        "The module restarted while downloading: the package is lost and "
		        "the old firmware runs; start the job again");
		fota_finish_error(self, error, -1);
		break;
	case DFOTA_JOB_STEP_UPDATING:
		/* Seed 3.1 note: after a power cut while updating, the module resumes by itself. */
		self->job->power_cut = TRUE;
		g_message("job %" G_GUINT64_FORMAT ": the module restarted while updating; waiting "
		          "for it to resume the update",
		          self->job->id);
		fota_set_step(self, DFOTA_JOB_STEP_REBOOTING, "rebooting", 0);
		fota_arm_timer(self, self->cfg.reboot_timeout_s);
		break;
	default:
		break;
	}
}

static void
on_modem_initialized(DfotaModem *modem, gpointer user_data)
{
	DfotaFota *self = user_data;

	fota_ensure_journal(self);
	if (!self->job || !self->accepted)
		return;
	if ((self->job->step == DFOTA_JOB_STEP_REBOOTING && self->job->end_seen) ||
	    self->job->step == DFOTA_JOB_STEP_VERIFYING)
		fota_verify(self);
}

static void
on_modem_lost(DfotaModem *modem, gpointer user_data)
{
	DfotaFota *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!self->job || !self->accepted)
		return;
	if (self->job->step == DFOTA_JOB_STEP_UPDATING ||
	    self->job->step == DFOTA_JOB_STEP_REBOOTING)
		return; /* the module may be flashing on its own: wait for it within the timeout */
	if (self->job->step == DFOTA_JOB_STEP_FETCHING)
		return; /* the gateway-side download goes on; the upload will need the port */
	if (self->job->step == DFOTA_JOB_STEP_UPLOADING)
		return; /* the upload fails by itself with ModemLost */
	error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
	                    "The modem's port %s went away during the job",
	                    dfota_modem_get_port(self->modem));
	fota_finish_error(self, error, -1);
}

static gboolean
fota_on_timeout(gpointer user_data)
{
	DfotaFota *self = user_data;
	g_autoptr(GError) error = NULL;
	DfotaModemState state = dfota_modem_get_state(self->modem);

	self->timer_id = 0;
	if (!self->job)
		return G_SOURCE_REMOVE;
	if (self->job->step == DFOTA_JOB_STEP_REBOOTING &&
	    (state == DFOTA_MODEM_STATE_BUSY || state == DFOTA_MODEM_STATE_READY)) {
		/* The module answers but no reboot (or no forced update after a power cut) was
		 * seen in time: let the revision tell. */
		fota_verify(self);
		return G_SOURCE_REMOVE;
	}
	error = g_error_new(
	        DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
	        "Nothing from the module for %u s while %s; the job is abandoned "
	        "(see the download-timeout, update-timeout and reboot-timeout settings)",
	        self->timer_seconds, self->job->phase);
	fota_finish_error(self, error, -1);
	return G_SOURCE_REMOVE;
}

/* ---- verification ---------------------------------------------------------------------------- */

static void
verify_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	const char *rev, *sub;
	DfotaJob *job;

	if (!self)
		goto out;
	job = self->job;
	if (!dfota_modem_refresh_finish(DFOTA_MODEM(source), res, &error)) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                                  "The module came back but its revision could not "
		                                  "be read (%s); the outcome is unknown",
		                                  error->message);
		fota_finish_error(self, e, job->end_seen ? 0 : -1);
		goto out;
	}
	rev = dfota_modem_get_revision(self->modem);
	sub = dfota_modem_get_sub_edition(self->modem);
	fota_publish(self, "verifying", 100);
	if (!job->end_seen) {
		/* Power cut while updating and no forced update reported. */
		if (*job->from_revision && g_strcmp0(rev, job->from_revision) != 0) {
			fota_finish(self, NULL, 0, rev, NULL);
		} else {
			g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
			                                  "The module restarted during the update "
			                                  "and came back running %s without "
			                                  "finishing it; the job is lost",
			                                  rev);
			fota_finish(self, e, -1, rev, NULL);
		}
	} else if (*job->from_revision && g_strcmp0(rev, job->from_revision) == 0 &&
	           g_strcmp0(sub, job->from_sub_edition) == 0) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_REVISION_UNCHANGED,
		                                  "The module reported success (END,0) but still "
		                                  "runs %s%s%s: the package did "
		                                  "not change the firmware",
		                                  rev, *sub ? " " : "", sub);
		fota_finish(self, e, 0, rev, NULL);
	} else {
		fota_finish(self, NULL, 0, rev, NULL);
	}
out:
	fota_call_free(call);
}

static void
fota_verify(DfotaFota *self)
{
	fota_disarm_timer(self);
	fota_set_step(self, DFOTA_JOB_STEP_VERIFYING, "verifying", 0);
	dfota_modem_refresh(self->modem, NULL, verify_done, fota_call_new(self));
}

/* ---- the journal and resuming after a restart ------------------------------------------------ */

static void
fota_resume_recorded(DfotaFota *self, DfotaJob *job)
{
	g_autoptr(GError) error = NULL;

	self->job = job;
	self->job_cancellable = g_cancellable_new();
	self->accepted = TRUE;
	self->accepted_or_recorded = TRUE;
	g_message("resuming job %" G_GUINT64_FORMAT " (%s) recorded in %s at %s %u%%", job->id,
	          dfota_job_kind_to_string(job->kind), dfota_journal_get_path(self->journal),
	          job->phase, job->percent);
	dfota_modem_set_job_active(self->modem, TRUE);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, job->phase, job->percent);

	switch (job->step) {
	case DFOTA_JOB_STEP_PREFLIGHT:
	case DFOTA_JOB_STEP_FETCHING:
	case DFOTA_JOB_STEP_UPLOADING:
		fota_host_interrupted(self);
		break;
	case DFOTA_JOB_STEP_STARTING:
		if (dfota_job_kind_is_host(job->kind)) {
			fota_host_interrupted(self);
			break;
		}
		/* Whether the module took the command is unknown: listen for it. */
		fota_set_step(self, DFOTA_JOB_STEP_DOWNLOADING, "downloading", job->percent);
		fota_arm_timer(self, self->cfg.download_timeout_s);
		break;
	case DFOTA_JOB_STEP_DOWNLOADING:
		fota_arm_timer(self, self->cfg.download_timeout_s);
		break;
	case DFOTA_JOB_STEP_UPDATING:
		fota_arm_timer(self, self->cfg.update_timeout_s);
		break;
	case DFOTA_JOB_STEP_REBOOTING:
	case DFOTA_JOB_STEP_VERIFYING:
		if (job->end_seen)
			fota_verify(self);
		else
			fota_arm_timer(self, self->cfg.reboot_timeout_s);
		break;
	}
}

/* URCs that came while the daemon (re)started, before the record could be read. */
static void
fota_replay_pre_journal(DfotaFota *self)
{
	g_autoptr(GPtrArray) urcs = g_steal_pointer(&self->pre_journal_urcs);

	g_clear_handle_id(&self->pre_journal_timer, g_source_remove);
	self->pre_journal_urcs = g_ptr_array_new_with_free_func(g_free);
	self->replaying = TRUE;
	for (guint i = 0; i < urcs->len; i++) {
		const char *line = urcs->pdata[i];

		if (!dfota_at_is_boot_urc(line)) {
			fota_handle_urc_line(self, line);
		} else if (self->job && self->accepted &&
		           self->job->step == DFOTA_JOB_STEP_REBOOTING && self->job->end_seen &&
		           i + 1 == urcs->len &&
		           (dfota_modem_get_state(self->modem) == DFOTA_MODEM_STATE_BUSY ||
		            dfota_modem_get_state(self->modem) == DFOTA_MODEM_STATE_READY)) {
			/* The module rebooted after END,0 and has been initialised since (that is
			 * what opened the journal): its revision tells the outcome now. */
			fota_verify(self);
		}
	}
	self->replaying = FALSE;
}

/* A result recorded by an older daemon may still carry a URL's secrets: every string in it
 * is shown redacted. A new reference. */
static GVariant *
redact_result(GVariant *result)
{
	GVariantBuilder b;
	GVariantIter iter;
	const char *key;
	GVariant *value;

	if (!g_variant_is_of_type(result, G_VARIANT_TYPE_VARDICT))
		return g_variant_ref(result);
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_iter_init(&iter, result);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
			g_variant_builder_add(&b, "{sv}", key,
			                      g_variant_new_take_string(dfota_text_redact_urls(
			                              g_variant_get_string(value, NULL))));
		else
			g_variant_builder_add(&b, "{sv}", key, value);
		g_variant_unref(value);
	}
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

void
fota_ensure_journal(DfotaFota *self)
{
	g_autoptr(GVariant) record = NULL;
	g_autoptr(GVariant) last = NULL;
	DfotaJob *recorded;

	if (self->journal || !*dfota_modem_get_imei(self->modem))
		return;
	self->journal = dfota_journal_open(self->cfg.state_dir, dfota_modem_get_port(self->modem),
	                                   dfota_modem_get_imei(self->modem));
	last = dfota_journal_get_last_result(self->journal);
	if (last && !self->last_result) {
		self->last_result = redact_result(last);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_RESULT]);
	}
	record = dfota_journal_get_job(self->journal);
	recorded = dfota_job_from_record(record);
	if (self->job) {
		/* A forced update began before we knew the module: it is the recorded job. */
		if (recorded) {
			self->job->id = recorded->id;
			self->job->kind = recorded->kind;
			g_free(self->job->source);
			self->job->source = g_strdup(recorded->source);
			self->job->started = recorded->started;
			g_free(self->job->from_revision);
			self->job->from_revision = g_strdup(recorded->from_revision);
			dfota_job_free(recorded);
		} else {
			self->job->id = dfota_journal_take_job_id(self->journal);
		}
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
		fota_journal_save(self);
		fota_replay_pre_journal(self);
		return;
	}
	if (recorded)
		fota_resume_recorded(self, recorded);
	fota_replay_pre_journal(self);
}

/* ---- public accessors --------------------------------------------------------------------------- */

const char *
dfota_fota_get_phase(DfotaFota *self)
{
	return self->job && self->accepted ? self->job->phase : "idle";
}

guint
dfota_fota_get_percent(DfotaFota *self)
{
	return self->job && self->accepted ? self->job->percent : 0;
}

GVariant *
dfota_fota_get_job(DfotaFota *self)
{
	if (self->job && self->accepted)
		return g_variant_ref_sink(dfota_job_to_public(self->job));
	return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

GVariant *
dfota_fota_get_last_result(DfotaFota *self)
{
	if (self->last_result)
		return g_variant_ref(self->last_result);
	return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

/* ---- GObject --------------------------------------------------------------------------------- */

static void
dfota_fota_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	DfotaFota *self = DFOTA_FOTA(object);

	switch (prop_id) {
	case PROP_PHASE:
		g_value_set_string(value, dfota_fota_get_phase(self));
		break;
	case PROP_PERCENT:
		g_value_set_uint(value, dfota_fota_get_percent(self));
		break;
	case PROP_JOB:
		g_value_take_variant(value, dfota_fota_get_job(self));
		break;
	case PROP_LAST_RESULT:
		g_value_take_variant(value, dfota_fota_get_last_result(self));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
dfota_fota_dispose(GObject *object)
{
	DfotaFota *self = DFOTA_FOTA(object);

	if (self->modem)
		g_signal_handlers_disconnect_by_data(self->modem, self);
	fota_disarm_timer(self);
	if (self->transfer_cancellable)
		g_cancellable_cancel(self->transfer_cancellable);
	g_clear_object(&self->modem);
	g_clear_object(&self->fetcher);
	G_OBJECT_CLASS(dfota_fota_parent_class)->dispose(object);
}

static void
dfota_fota_finalize(GObject *object)
{
	DfotaFota *self = DFOTA_FOTA(object);

	fota_release(self);
	g_ptr_array_unref(self->early_urcs);
	g_clear_handle_id(&self->pre_journal_timer, g_source_remove);
	g_ptr_array_unref(self->pre_journal_urcs);
	g_free(self->pending_command);
	g_clear_pointer(&self->last_result, g_variant_unref);
	g_clear_pointer(&self->journal, dfota_journal_free);
	dfota_fota_config_clear(&self->cfg);
	G_OBJECT_CLASS(dfota_fota_parent_class)->finalize(object);
}

static void
dfota_fota_class_init(DfotaFotaClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = dfota_fota_get_property;
	object_class->dispose = dfota_fota_dispose;
	object_class->finalize = dfota_fota_finalize;

	props[PROP_PHASE] = g_param_spec_string("phase", NULL, NULL, "idle",
	                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_PERCENT] = g_param_spec_uint("percent", NULL, NULL, 0, 100, 0,
	                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_JOB] = g_param_spec_variant("job", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
	                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_LAST_RESULT] =
	        g_param_spec_variant("last-result", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
	                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);

	signals[SIGNAL_PROGRESS] =
	        g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
	signals[SIGNAL_FINISHED] =
	        g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}

static void
dfota_fota_init(DfotaFota *self)
{
	self->early_urcs = g_ptr_array_new_with_free_func(g_free);
	self->pre_journal_urcs = g_ptr_array_new_with_free_func(g_free);
}

DfotaFota *
dfota_fota_new(DfotaModem *modem, DfotaFetcher *fetcher, const DfotaFotaConfig *cfg)
{
	DfotaFota *self = g_object_new(DFOTA_TYPE_FOTA, NULL);

	self->modem = g_object_ref(modem);
	self->fetcher = fetcher ? g_object_ref(fetcher) : NULL;
	self->cfg = *cfg;
	self->cfg.state_dir = g_strdup(cfg->state_dir);
	self->cfg.ca_file = g_strdup(cfg->ca_file);
	g_signal_connect(modem, "urc", G_CALLBACK(on_modem_urc), self);
	g_signal_connect(modem, "rebooted", G_CALLBACK(on_modem_rebooted), self);
	g_signal_connect(modem, "initialized", G_CALLBACK(on_modem_initialized), self);
	g_signal_connect(modem, "lost", G_CALLBACK(on_modem_lost), self);
	fota_ensure_journal(self);
	return self;
}
