// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota.c: the I/O around the job machine (dfota-job-machine.h).
 *
 * Modem signals, command replies, timers and host transfers become machine events; the
 * machine's effects become AT commands, timers, journal writes, properties and signals, in
 * the order the machine gives them. The gateway-side I/O lives in dfota-fota-host.c.
 */
#include "dfota-fota-private.h"

#include <string.h>
#include <unistd.h>

#include "dfota-error.h"
#include "dfota-log.h"
#include "dfota-redact.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

G_DEFINE_TYPE(DfotaFota, dfota_fota, G_TYPE_OBJECT)

enum { PROP_0, PROP_PHASE, PROP_PERCENT, PROP_JOB, PROP_LAST_RESULT, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

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

/* The job's DfotaFota while the job this call belongs to is still the current one, else
 * NULL (the call is stale and its result must be dropped). */
DfotaFota *
fota_call_self(FotaCall *call)
{
	if (g_cancellable_is_cancelled(call->job_cancellable))
		return NULL;
	return call->self;
}

/* ---- events in ---------------------------------------------------------------------------- */

static void
feed_simple(DfotaFota *self, DfotaJmEventType type)
{
	DfotaJmEvent ev = { .type = type };

	fota_feed(self, &ev);
}

static void
command_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_modem_command_finish(DFOTA_MODEM(source), res, &error);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_COMMAND_REPLY, .ok = lines != NULL };

	if (self) {
		ev.error = error;
		ev.code = error && error->domain == DFOTA_MODULE_ERROR ? error->code : -1;
		fota_feed(self, &ev);
	}
	fota_call_free(call);
}

static void
network_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_PREFLIGHT_DONE };

	ev.ok = dfota_modem_ensure_network_finish(DFOTA_MODEM(source), res, &error);
	ev.error = error;
	if (self)
		fota_feed(self, &ev);
	fota_call_free(call);
}

static gboolean
ufs_has(GPtrArray *files, const char *name, guint64 *size)
{
	for (guint i = 0; files && i < files->len; i++) {
		DfotaUfsFile *f = files->pdata[i];
		if (g_str_equal(f->name, name)) {
			*size = f->size;
			return TRUE;
		}
	}
	return FALSE;
}

static void
local_list_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = dfota_ufs_list_finish(res, &error);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_PREFLIGHT_DONE };
	guint64 size = 0;

	if (files && (!ufs_has(files, "fota.pack", &size) || size == 0))
		error = g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_NO_PACKAGE,
		                    "There is no fota.pack in the module's UFS; upload one first "
		                    "(org.dfotad1.Files.Upload)");
	ev.ok = error == NULL;
	ev.error = error;
	if (self)
		fota_feed(self, &ev);
	fota_call_free(call);
}

static void
mcu_stat_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = dfota_ufs_list_finish(res, &error);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_MCU_STAT };

	if (self && self->machine.job) {
		const char *name = self->machine.job->filename;
		ev.ok = ufs_has(files, *name ? name : "mcu_update.bin", &ev.size);
		ev.error = error;
		ev.revision = dfota_modem_get_revision(self->modem);
		fota_feed(self, &ev);
	}
	fota_call_free(call);
}

static void
verify_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FotaCall *call = user_data;
	DfotaFota *self = fota_call_self(call);
	g_autoptr(GError) error = NULL;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_REVISION };

	ev.ok = dfota_modem_refresh_finish(DFOTA_MODEM(source), res, &error);
	if (ev.ok && !dfota_modem_identity_is_current(DFOTA_MODEM(source))) {
		/* The identity rounds after the boot ran out and ATI answered in part again:
		 * Revision still holds what was read before the reboot, which would make an
		 * upgraded module look unchanged. */
		ev.ok = FALSE;
		g_set_error(&error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		            "the module's ATI answers after the reboot stayed incomplete");
	}
	ev.error = error;
	if (self) {
		ev.revision = dfota_modem_get_revision(self->modem);
		ev.sub_edition = dfota_modem_get_sub_edition(self->modem);
		fota_feed(self, &ev);
	}
	fota_call_free(call);
}

static gboolean
fota_on_timeout(gpointer user_data)
{
	DfotaFota *self = user_data;
	DfotaModemState state = dfota_modem_get_state(self->modem);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_TIMER };

	self->timer_id = 0;
	ev.module_answers = state == DFOTA_MODEM_STATE_BUSY || state == DFOTA_MODEM_STATE_READY;
	fota_feed(self, &ev);
	return G_SOURCE_REMOVE;
}

static gboolean
fota_on_hold_timeout(gpointer user_data)
{
	DfotaFota *self = user_data;
	DfotaModemState state = dfota_modem_get_state(self->modem);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_HOLD_EXPIRED };

	self->hold_timer_id = 0;
	ev.module_answers = state == DFOTA_MODEM_STATE_BUSY || state == DFOTA_MODEM_STATE_READY;
	fota_feed(self, &ev);
	return G_SOURCE_REMOVE;
}

/* ---- effects out ---------------------------------------------------------------------------- */

static void
set_published(DfotaFota *self, const char *phase, guint percent)
{
	gboolean phase_changed = g_strcmp0(self->phase, phase) != 0;
	gboolean percent_changed = self->percent != percent;

	/* Both are set before either is announced: no reader sees a new phase at an old
	 * percent. */
	g_free(self->phase);
	self->phase = g_strdup(phase);
	self->percent = percent;
	if (phase_changed)
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
	if (percent_changed)
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
}

/* The I/O a job held: stale callbacks are dropped from here on. */
static void
release_io(DfotaFota *self)
{
	self->timer_gen++;
	g_clear_handle_id(&self->timer_id, g_source_remove);
	if (self->job_cancellable)
		g_cancellable_cancel(self->job_cancellable);
	g_clear_object(&self->job_cancellable);
	if (self->transfer_cancellable)
		g_cancellable_cancel(self->transfer_cancellable);
	g_clear_object(&self->transfer_cancellable);
	g_clear_pointer(&self->package, g_bytes_unref);
	if (self->pending_fd >= 0)
		close(self->pending_fd);
	self->pending_fd = -1;
}

static void
do_refuse(DfotaFota *self, const GError *error)
{
	DfotaFotaStartedFunc cb = self->started_cb;
	gpointer data = self->started_data;
	g_autofree char *shown = dfota_text_redact_urls(error->message);

	g_message("job refused: %s", shown);
	self->started_cb = NULL;
	self->started_data = NULL;
	if (!self->machine.job)
		release_io(self);
	if (cb)
		cb((GError *)error, data);
}

static void
do_accept(DfotaFota *self, GVariant *job)
{
	DfotaFotaStartedFunc cb = self->started_cb;
	gpointer data = self->started_data;

	self->started_cb = NULL;
	self->started_data = NULL;
	if (!self->job_cancellable)
		self->job_cancellable = g_cancellable_new();
	g_clear_pointer(&self->job_shown, g_variant_unref);
	self->job_shown = g_variant_ref(job);
	if (cb)
		cb(NULL, data);
	dfota_modem_set_job_active(self->modem, TRUE);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
}

static void
do_preflight(DfotaFota *self)
{
	if (self->machine.job->kind == DFOTA_JOB_KIND_UPGRADE_LOCAL)
		dfota_ufs_list(dfota_modem_get_channel(self->modem),
		               dfota_modem_get_config(self->modem)->command_timeout_ms, NULL,
		               local_list_done, fota_call_new(self));
	else
		dfota_modem_ensure_network(self->modem, NULL, network_done, fota_call_new(self));
}

/* The job is over and its result on disk: publish it. */
void
fota_finish_publish(DfotaFota *self, GVariant *result)
{
	g_clear_pointer(&self->job_shown, g_variant_unref);
	g_clear_pointer(&self->last_result, g_variant_unref);
	self->last_result = g_variant_ref(result);
	release_io(self);
	self->started_cb = NULL;
	self->started_data = NULL;
	g_free(self->phase);
	self->phase = g_strdup("idle");
	self->percent = 0;
	dfota_modem_set_job_active(self->modem, FALSE);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PERCENT]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_RESULT]);
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, "idle", 0u);
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0, result);
}

static void
do_finish(DfotaFota *self, GVariant *result)
{
	if (self->journal)
		fota_record_write(self, result, TRUE);
	else
		fota_finish_publish(self, result);
}

void
fota_run_effect(DfotaFota *self, DfotaJmEffect *fx)
{
	DfotaJob *job = self->machine.job;

	switch (fx->type) {
	case DFOTA_JM_FX_REFUSE:
		do_refuse(self, fx->error);
		break;
	case DFOTA_JM_FX_ACCEPT:
		do_accept(self, fx->result);
		break;
	case DFOTA_JM_FX_PREFLIGHT:
		do_preflight(self);
		break;
	case DFOTA_JM_FX_SEND_COMMAND:
		dfota_modem_command(self->modem, fx->text, 0, DFOTA_AT_FLAG_NONE, NULL,
		                    command_done, fota_call_new(self));
		break;
	case DFOTA_JM_FX_ARM_TIMER:
		self->timer_gen++;
		g_clear_handle_id(&self->timer_id, g_source_remove);
		self->timer_id = g_timeout_add_seconds(fx->seconds, fota_on_timeout, self);
		break;
	case DFOTA_JM_FX_CANCEL_TIMER:
		self->timer_gen++;
		g_clear_handle_id(&self->timer_id, g_source_remove);
		break;
	case DFOTA_JM_FX_ARM_HOLD_TIMER:
		self->hold_gen++;
		g_clear_handle_id(&self->hold_timer_id, g_source_remove);
		self->hold_timer_id =
		        g_timeout_add_seconds(fx->seconds, fota_on_hold_timeout, self);
		break;
	case DFOTA_JM_FX_CANCEL_HOLD_TIMER:
		self->hold_gen++;
		g_clear_handle_id(&self->hold_timer_id, g_source_remove);
		break;
	case DFOTA_JM_FX_JOURNAL_JOB:
		if (self->journal)
			fota_record_write(self, fx->result, FALSE);
		break;
	case DFOTA_JM_FX_JOURNAL_PROGRESS:
		if (self->journal)
			dfota_journal_set_progress(self->journal, fx->id, fx->phase, fx->percent);
		break;
	case DFOTA_JM_FX_PROGRESS:
		set_published(self, fx->phase, fx->percent);
		g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, fx->phase, fx->percent);
		break;
	case DFOTA_JM_FX_JOB_CHANGED:
		if (job && self->job_shown) {
			g_variant_unref(self->job_shown);
			self->job_shown = g_variant_ref_sink(dfota_job_to_public(job));
		}
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_JOB]);
		break;
	case DFOTA_JM_FX_QUERY_REVISION:
		dfota_modem_refresh(self->modem, NULL, verify_done, fota_call_new(self));
		break;
	case DFOTA_JM_FX_HOST_FETCH:
		fota_host_fetch(self, fx->text);
		break;
	case DFOTA_JM_FX_HOST_UPLOAD:
		fota_host_upload(self);
		break;
	case DFOTA_JM_FX_STAT_MCU_FILE:
		dfota_ufs_list(dfota_modem_get_channel(self->modem),
		               dfota_modem_get_config(self->modem)->command_timeout_ms, NULL,
		               mcu_stat_done, fota_call_new(self));
		break;
	case DFOTA_JM_FX_DELETE_PARTIAL:
		fota_host_delete_partial(self);
		break;
	case DFOTA_JM_FX_FINISH:
		do_finish(self, fx->result);
		break;
	case DFOTA_JM_FX_LOG: {
		guint64 id = job ? job->id : 0;

		/* A job that ended within this batch: its id is still the one shown. */
		if (!job && self->job_shown)
			g_variant_lookup(self->job_shown, "id", "t", &id);
		dfota_log_job(fx->level, dfota_modem_get_config(self->modem)->name, id, self->phase,
		              fx->has_code ? fx->code : DFOTA_LOG_NO_CODE, "%s", fx->text);
		break;
	}
	}
}

/* ---- the methods of the module-side kinds --------------------------------------------------- */

void
dfota_fota_upgrade(DfotaFota *self, const char *url, DfotaFotaStartedFunc started,
                   gpointer user_data)
{
	dfota_fota_upgrade_with_options(self, url, NULL, started, user_data);
}

void
dfota_fota_upgrade_with_options(DfotaFota *self, const char *url, GVariant *options,
                                DfotaFotaStartedFunc started, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(FotaOptions) opts = { 0 };
	DfotaJmEvent ev = { .kind = DFOTA_JOB_KIND_UPGRADE, .source = url };

	if (!dfota_validate_module_url(url, &error) ||
	    !fota_parse_options(options, TRUE, &opts, &error)) {
		started(error, user_data);
		return;
	}
	ev.sha256 = opts.sha256;
	ev.expect_revision = opts.from_revision;
	ev.fallback_via_host = opts.fallback_via_host;
	fota_start(self, &ev, started, user_data);
}

void
dfota_fota_fetch_mcu_file(DfotaFota *self, const char *url, const char *filename,
                          DfotaFotaStartedFunc started, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	DfotaJmEvent ev = { .kind = DFOTA_JOB_KIND_FETCH_MCU_FILE, .source = url };

	if (!dfota_validate_module_url(url, &error) ||
	    (filename && *filename && !dfota_validate_filename(filename, &error))) {
		started(error, user_data);
		return;
	}
	ev.filename = filename;
	fota_start(self, &ev, started, user_data);
}

void
dfota_fota_upgrade_local(DfotaFota *self, DfotaFotaStartedFunc started, gpointer user_data)
{
	DfotaJmEvent ev = { .kind = DFOTA_JOB_KIND_UPGRADE_LOCAL, .source = "UFS:fota.pack" };

	fota_start(self, &ev, started, user_data);
}

const DfotaFotaConfig *
dfota_fota_get_config(DfotaFota *self)
{
	return &self->cfg;
}

void
dfota_fota_shutdown(DfotaFota *self, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

	if (self->disposed)
		return;
	if (self->journal && !dfota_journal_flush(self->journal, end))
		g_warning("journal %s: a record was still being written after %u ms; the daemon "
		          "stops without it",
		          dfota_journal_get_path(self->journal), timeout_ms);
	/* The main loop is over: no effect runs any more, and the method calls waiting on the
	 * job get their answer now. */
	self->disposed = TRUE;
	fota_order_clear(self);
}

gboolean
dfota_fota_is_busy(DfotaFota *self)
{
	/* From the machine taking the job (a call being started counts) until its Finished is
	 * published, which may come after the machine let go (the result still being written). */
	return self->machine.job != NULL || self->job_shown != NULL;
}

/* ---- following the module ------------------------------------------------------------------- */

static void fota_ensure_journal(DfotaFota *self);

static void
fota_handle_urc_line(DfotaFota *self, const char *line)
{
	DfotaFotaUrc u = { 0 };
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_URC, .urc = &u };

	if (!dfota_fota_urc_parse(line, &u))
		return;
	ev.revision = dfota_modem_get_revision(self->modem);
	fota_feed(self, &ev);
	dfota_fota_urc_clear(&u);
}

/* Lines a module prints around its restarts that are not one (field modules). */
static gboolean
is_module_line(const char *line)
{
	static const char *const lines[] = { "APP RDY", "POWERED DOWN", "NORMAL POWER DOWN",
		                             "Last upgrade was not finished" };
	g_autofree char *t = g_strstrip(g_strdup(line));

	for (guint i = 0; i < G_N_ELEMENTS(lines); i++)
		if (g_str_has_prefix(t, lines[i]))
			return TRUE;
	return FALSE;
}

static void
on_modem_urc(DfotaModem *modem, const char *line, gpointer user_data)
{
	DfotaFota *self = DFOTA_FOTA(user_data);

	if (is_module_line(line)) {
		DfotaJmEvent ev = { .type = DFOTA_JM_EV_MODULE_LINE, .line = line };
		fota_feed(self, &ev);
		return;
	}
	fota_handle_urc_line(self, line);
}

static void
on_modem_rebooted(DfotaModem *modem, gpointer user_data)
{
	feed_simple(DFOTA_FOTA(user_data), DFOTA_JM_EV_BOOT_LINE);
}

static void
on_modem_initialized(DfotaModem *modem, gpointer user_data)
{
	DfotaFota *self = user_data;

	fota_ensure_journal(self);
	feed_simple(self, DFOTA_JM_EV_INITIALIZED);
}

static void
on_modem_lost(DfotaModem *modem, gpointer user_data)
{
	DfotaFota *self = user_data;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_TTY_LOST,
		            .line = dfota_modem_get_port(self->modem) };

	fota_feed(self, &ev);
}

/* ---- the journal and resuming after a restart ------------------------------------------------ */

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

static void
fota_ensure_journal(DfotaFota *self)
{
	g_autoptr(GVariant) record = NULL;
	g_autoptr(GVariant) last = NULL;
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_RESUME };
	DfotaModemState state;
	guint ids;

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
	ev.job = dfota_job_from_record(record);
	state = dfota_modem_get_state(self->modem);
	ev.module_answers = state == DFOTA_MODEM_STATE_BUSY || state == DFOTA_MODEM_STATE_READY;
	ids = dfota_job_machine_ids_wanted(&self->machine, &ev);
	if (ids > 0)
		ev.id = dfota_journal_take_job_id(self->journal);
	/* Taken in one go, they are consecutive. */
	for (guint i = 1; i < ids; i++)
		dfota_journal_take_job_id(self->journal);
	fota_feed(self, &ev);
}

/* ---- public accessors --------------------------------------------------------------------------- */

const char *
dfota_fota_get_phase(DfotaFota *self)
{
	return self->phase;
}

guint
dfota_fota_get_percent(DfotaFota *self)
{
	return self->percent;
}

GVariant *
dfota_fota_get_job(DfotaFota *self)
{
	/* What ACCEPT and JOB_CHANGED published, each once the record before it was on disk; the
	 * machine's own job may be ahead of that. */
	if (self->job_shown)
		return g_variant_ref(self->job_shown);
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
	self->disposed = TRUE;
	fota_order_clear(self);
	release_io(self);
	g_clear_object(&self->modem);
	g_clear_object(&self->fetcher);
	G_OBJECT_CLASS(dfota_fota_parent_class)->dispose(object);
}

static void
dfota_fota_finalize(GObject *object)
{
	DfotaFota *self = DFOTA_FOTA(object);

	release_io(self);
	fota_order_clear(self);
	dfota_job_machine_clear(&self->machine);
	g_free(self->phase);
	g_clear_handle_id(&self->hold_timer_id, g_source_remove);
	g_clear_pointer(&self->job_shown, g_variant_unref);
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
	self->phase = g_strdup("idle");
	self->pending_fd = -1;
	self->held_accept = -1;
	g_queue_init(&self->queued);
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
	dfota_job_machine_init(
	        &self->machine,
	        &(DfotaJobMachineConfig){ .download_timeout_s = cfg->download_timeout_s,
	                                  .update_timeout_s = cfg->update_timeout_s,
	                                  .reboot_timeout_s = cfg->reboot_timeout_s });
	g_signal_connect(modem, "urc", G_CALLBACK(on_modem_urc), self);
	g_signal_connect(modem, "rebooted", G_CALLBACK(on_modem_rebooted), self);
	g_signal_connect(modem, "initialized", G_CALLBACK(on_modem_initialized), self);
	g_signal_connect(modem, "lost", G_CALLBACK(on_modem_lost), self);
	fota_ensure_journal(self);
	return self;
}
