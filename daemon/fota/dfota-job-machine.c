// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine.c: the job logic, pure (see dfota-job-machine.h).
 *
 * Every step is journalled before it acts: an effect that publishes or depends on a step
 * comes after the JOURNAL effect that records it. Once accepted, a job ends with exactly one
 * FINISH on every path; a job that was never accepted ends with one REFUSE.
 */
#include "dfota-job-machine-private.h"

#include <string.h>

#include "dfota-error.h"
#include "dfota-redact.h"
#include "dfota-validate.h"

/* The step after @step in @job's list (the fallback branch once it runs). */
DfotaJobStep
jm_next_step(const DfotaJob *job, DfotaJobStep step)
{
	const DfotaJobStep *st = dfota_job_machine_steps(job->kind, job->via_host);
	guint i = 0;

	/* In the fallback branch STARTING comes twice: the second follows UPLOADING. */
	if (job->via_host && step == DFOTA_JOB_STEP_STARTING)
		while (st[i] != DFOTA_JOB_STEP_NONE && st[i] != DFOTA_JOB_STEP_UPLOADING)
			i++;
	for (; st[i] != DFOTA_JOB_STEP_NONE; i++)
		if (st[i] == step)
			return st[i + 1];
	return DFOTA_JOB_STEP_NONE;
}

/* ---- the steps ------------------------------------------------------------------------------ */

static void handle_urc(DfotaJobMachine *m, GArray *fx, gint64 now, const DfotaFotaUrc *u);

static void replay_early(DfotaJobMachine *m, GArray *fx, gint64 now);

static void
accept(DfotaJobMachine *m, GArray *fx, gint64 now, DfotaJobStep step)
{
	m->accepted = TRUE;
	/* First, so that the logs after it carry the job's id even if it ends in this batch. */
	jm_push(fx, DFOTA_JM_FX_ACCEPT)->result = g_variant_ref_sink(dfota_job_to_public(m->job));
	jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
	          "job %" G_GUINT64_FORMAT " (%s) accepted: %s, from revision %s", m->job->id,
	          dfota_job_kind_to_string(m->job->kind), m->job->source, m->job->from_revision);
	jm_set_step(m, fx, step, 0);
	replay_early(m, fx, now);
}

void
jm_verify(DfotaJobMachine *m, GArray *fx)
{
	jm_push(fx, DFOTA_JM_FX_CANCEL_TIMER);
	jm_set_step(m, fx, DFOTA_JOB_STEP_VERIFYING, 0);
	jm_push(fx, DFOTA_JM_FX_QUERY_REVISION);
}

void
jm_start_host_fetch(DfotaJobMachine *m, GArray *fx)
{
	g_return_if_fail(m->url != NULL);
	jm_set_step(m, fx, DFOTA_JOB_STEP_FETCHING, 0);
	jm_push(fx, DFOTA_JM_FX_HOST_FETCH)->text = g_strdup(m->url);
}

/* The module's own download failed (an HTTPEND error, or silence past the download
 * timeout): the fallback takes over when asked for, else the job ends with @error. */
static void
download_failed(DfotaJobMachine *m, GArray *fx, gint64 now, const GError *error, int code)
{
	DfotaJob *job = m->job;

	if (!job->fallback_via_host || job->via_host || job->kind != DFOTA_JOB_KIND_UPGRADE) {
		jm_finish(m, fx, now, error, code, NULL, NULL);
		return;
	}
	if (!m->url) {
		/* A job resumed from its record: the URL as given is not journalled, so the
		 * gateway cannot fetch the package. */
		g_autoptr(GError) e = g_error_new(error->domain, error->code,
		                                  "%s; the fallback via the gateway could not run "
		                                  "because the daemon restarted during the job",
		                                  error->message);
		jm_finish(m, fx, now, e, code, NULL, NULL);
		return;
	}
	job->via_host = TRUE;
	job->first_failure =
	        g_strdup_printf("%s: %s", dfota_error_short_name(error), error->message);
	jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
	          "job %" G_GUINT64_FORMAT ": the module's download failed (%s); the gateway "
	          "fetches the package itself",
	          job->id, error->message);
	jm_push(fx, DFOTA_JM_FX_CANCEL_TIMER);
	m->job_changed = TRUE; /* shown with the FETCHING record, after it */
	jm_start_host_fetch(m, fx);
}

/* An HTTPEND or END code: 6500–6509 keep their own name; anything else a field module says
 * (HTTP or socket errors such as 12, 601, 702) keeps its number under the phase's failure. */
static GError *
module_code_error(int code, gboolean download)
{
	if (dfota_module_code_is_known(code))
		return dfota_error_from_cme(code);
	if (download)
		return g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_DOWNLOAD_FAILED,
		                   "The module's download failed with code %d (HTTPEND); check the "
		                   "URL, the server and the module's network, then try again",
		                   code);
	return g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_UPGRADE_FAILED,
	                   "The module's update failed with code %d (END); the old firmware "
	                   "should still run",
	                   code);
}

static void
handle_urc(DfotaJobMachine *m, GArray *fx, gint64 now, const DfotaFotaUrc *u)
{
	DfotaJob *job = m->job;
	const DfotaJobMachineConfig *cfg = &m->cfg;

	switch (u->event) {
	case DFOTA_FOTA_EVENT_HTTPSTART:
		if (job->step == DFOTA_JOB_STEP_DOWNLOADING)
			jm_arm(m, fx, cfg->download_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_DOWNLOADING:
		if (job->step != DFOTA_JOB_STEP_DOWNLOADING)
			break;
		jm_publish(m, fx, "downloading", (guint)MAX(u->value, 0));
		jm_arm(m, fx, cfg->download_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_HTTPEND:
		if (job->step != DFOTA_JOB_STEP_DOWNLOADING)
			break;
		if (u->value != 0) {
			g_autoptr(GError) error = module_code_error(u->value, TRUE);
			download_failed(m, fx, now, error, u->value);
			break;
		}
		jm_publish(m, fx, "downloading", 100);
		if (job->kind == DFOTA_JOB_KIND_FETCH_MCU_FILE) {
			jm_push(fx, DFOTA_JM_FX_CANCEL_TIMER);
			jm_push(fx, DFOTA_JM_FX_STAT_MCU_FILE)->text =
			        g_strdup(*job->filename ? job->filename : "mcu_update.bin");
		} else {
			jm_arm(m, fx, cfg->update_timeout_s);
		}
		break;
	case DFOTA_FOTA_EVENT_START:
		if (!dfota_job_kind_upgrades(job->kind) || job->step < DFOTA_JOB_STEP_STARTING)
			break;
		job->command_accepted = TRUE;
		if (job->step == DFOTA_JOB_STEP_UPDATING && job->percent > 0) {
			/* The update starts over: the module restarted (a power cut, seen by a
			 * daemon that was down at that moment) and resumes in forced mode. */
			job->power_cut = TRUE;
			jm_set_step(m, fx, DFOTA_JOB_STEP_REBOOTING, 0);
		}
		job->updating_done = FALSE;
		jm_set_step(m, fx, DFOTA_JOB_STEP_UPDATING, 0);
		jm_arm(m, fx, cfg->update_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_UPDATING:
		if (!dfota_job_kind_upgrades(job->kind) || job->step < DFOTA_JOB_STEP_STARTING)
			break;
		job->command_accepted = TRUE;
		/* START may be skipped: the first UPDATING enters the step. */
		if (job->step != DFOTA_JOB_STEP_UPDATING)
			jm_set_step(m, fx, DFOTA_JOB_STEP_UPDATING, 0);
		if (u->value >= 100 && !job->updating_done) {
			job->updating_done = TRUE;
			jm_journal_job(m, fx);
		}
		jm_publish(m, fx, "updating", (guint)MAX(u->value, 0));
		jm_arm(m, fx, cfg->update_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_END:
		if (!dfota_job_kind_upgrades(job->kind) || job->step < DFOTA_JOB_STEP_STARTING)
			break;
		if (u->value != 0) {
			g_autoptr(GError) error = module_code_error(u->value, FALSE);
			jm_finish(m, fx, now, error, u->value, NULL, NULL);
			break;
		}
		job->end_seen = TRUE;
		jm_publish(m, fx, "updating", 100);
		jm_set_step(m, fx, DFOTA_JOB_STEP_REBOOTING, 0);
		jm_arm(m, fx, cfg->reboot_timeout_s);
		break;
	case DFOTA_FOTA_EVENT_UNKNOWN:
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
		          "job %" G_GUINT64_FORMAT ": FOTA state \"%s\" not known; ignored",
		          job->id, u->name ? u->name : "");
		break;
	}
}

static DfotaFotaUrc *
urc_copy(const DfotaFotaUrc *u)
{
	DfotaFotaUrc *c = g_new0(DfotaFotaUrc, 1);

	c->event = u->event;
	c->value = u->value;
	c->name = g_strdup(u->name);
	return c;
}

static void
urc_free(gpointer p)
{
	DfotaFotaUrc *u = p;

	dfota_fota_urc_clear(u);
	g_free(u);
}

#define HOLD_MAX 256
#define HOLD_WAIT_S 5
#define HELD_BOOT ((DfotaFotaEvent)0x7f)

static void
on_urc(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	const DfotaFotaUrc *u = ev->urc;

	if (!m->job && !m->journal_open && !m->hold_expired) {
		/* A restarted daemon's job may be on record: its progress goes on from the
		 * record instead of a new job starting at 0. Replayed when the journal opens, or
		 * as a job of their own if the module cannot be identified in time. */
		if (m->held->len < HOLD_MAX)
			g_ptr_array_add(m->held, urc_copy(u));
		if (!m->hold_armed) {
			m->hold_armed = TRUE;
			jm_push(fx, DFOTA_JM_FX_ARM_HOLD_TIMER)->seconds = HOLD_WAIT_S;
		}
		return;
	}
	if (!m->job) {
		if (u->event != DFOTA_FOTA_EVENT_START && u->event != DFOTA_FOTA_EVENT_UPDATING) {
			jm_fx_log(fx, G_LOG_LEVEL_MESSAGE, "FOTA URC with no job: %s",
			          u->name ? u->name : "");
			return;
		}
		/* Forced upgrade mode (seed 3.1 note): the module resumed an update on its own. */
		m->job = dfota_job_new(DFOTA_JOB_KIND_FORCED_RESUME, "module");
		m->job->id = ev->id;
		m->job->started = ev->now;
		g_free(m->job->from_revision);
		/* Held URCs are history: the revision read since may already be the new one, so
		 * the old one is unknown rather than wrong. */
		m->job->from_revision = g_strdup(ev->revision && !m->replaying ? ev->revision : "");
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
		          "the module resumed a firmware update on its own (forced upgrade mode)");
		accept(m, fx, ev->now, DFOTA_JOB_STEP_UPDATING);
		jm_arm(m, fx, m->cfg.update_timeout_s);
	} else if (!m->accepted) {
		g_ptr_array_add(m->early, urc_copy(u));
		return;
	}
	handle_urc(m, fx, ev->now, u);
}

static void on_initialized(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);

/* Follows the held URCs (the journal opened, or will not in time). @id: the first of the
 * ids taken for the jobs they start (dfota_job_machine_ids_wanted()), each job its own;
 * @ev: module_answers for the restart among them. */
void
jm_replay_held(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev, guint64 id)
{
	g_autoptr(GPtrArray) held = m->held;

	m->held = g_ptr_array_new_with_free_func(urc_free);
	if (m->hold_armed) {
		m->hold_armed = FALSE;
		jm_push(fx, DFOTA_JM_FX_CANCEL_HOLD_TIMER);
	}
	m->replaying = TRUE;
	for (guint i = 0; i < held->len; i++) {
		DfotaFotaUrc *u = held->pdata[i];
		DfotaJmEvent e = { .type = DFOTA_JM_EV_URC, .now = ev->now, .urc = u, .id = id };

		if (u->event != HELD_BOOT) {
			gboolean idle = m->job == NULL;

			on_urc(m, fx, &e);
			if (idle && m->job && id)
				id++;
		} else if (i + 1 == held->len && ev->module_answers)
			/* The module restarted and has been initialised since (that is what opened
			 * the journal): its revision tells the outcome now. */
			on_initialized(m, fx, ev);
	}
	m->replaying = FALSE;
}

static gboolean
starts_job(const DfotaFotaUrc *u)
{
	return u->event == DFOTA_FOTA_EVENT_START || u->event == DFOTA_FOTA_EVENT_UPDATING;
}

guint
dfota_job_machine_ids_wanted(const DfotaJobMachine *m, const DfotaJmEvent *ev)
{
	guint n = 0;

	switch (ev->type) {
	case DFOTA_JM_EV_START:
		return !m->job && ev->module_answers ? 1 : 0;
	case DFOTA_JM_EV_URC:
		return !m->job && (m->journal_open || m->hold_expired) && starts_job(ev->urc) ? 1
		                                                                              : 0;
	case DFOTA_JM_EV_RESUME:
		/* A forced update followed meanwhile with no record takes one; the held URCs
		 * start at most one job per run of START/UPDATING (only other URCs end one). */
		if (m->job && !ev->job)
			n++;
		for (guint i = 0; i < m->held->len; i++)
			if (starts_job(m->held->pdata[i]) &&
			    (i == 0 || !starts_job(m->held->pdata[i - 1])))
				n++;
		return n;
	default:
		return 0;
	}
}

gboolean
dfota_job_machine_wants_id(const DfotaJobMachine *m, const DfotaJmEvent *ev)
{
	return dfota_job_machine_ids_wanted(m, ev) > 0;
}

static void
on_hold_expired(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	m->hold_armed = FALSE;
	if (m->journal_open)
		return;
	m->hold_expired = TRUE;
	jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
	          "the module reports a firmware update but could not be identified within %d s: "
	          "following it without its record",
	          HOLD_WAIT_S);
	jm_replay_held(m, fx, ev, ev->id);
}

static void
replay_early(DfotaJobMachine *m, GArray *fx, gint64 now)
{
	g_autoptr(GPtrArray) early = m->early;

	m->early = g_ptr_array_new_with_free_func(urc_free);
	for (guint i = 0; i < early->len && m->job; i++)
		handle_urc(m, fx, now, early->pdata[i]);
}

static char *
qfotadl_command(const DfotaJobMachine *m, const char *given_filename)
{
	switch (m->job->kind) {
	case DFOTA_JOB_KIND_UPGRADE:
		return g_strdup_printf("AT+QFOTADL=\"%s\"", m->url);
	case DFOTA_JOB_KIND_FETCH_MCU_FILE:
		if (given_filename && *given_filename)
			return g_strdup_printf("AT+QFOTADL=2,\"%s\",\"%s\"", m->url,
			                       given_filename);
		return g_strdup_printf("AT+QFOTADL=2,\"%s\"", m->url);
	default:
		return g_strdup("AT+QFOTADL=1");
	}
}

static void
on_start(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	g_autoptr(GError) error = NULL;
	DfotaJob *job;

	if (m->job) {
		error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_BUSY,
		                    "A job is already running on this modem (job %" G_GUINT64_FORMAT
		                    ", %s); wait for its Finished signal",
		                    m->job->id, dfota_job_kind_to_string(m->job->kind));
		jm_push(fx, DFOTA_JM_FX_REFUSE)->error = g_steal_pointer(&error);
		return;
	}
	if (!ev->module_answers) {
		jm_push(fx, DFOTA_JM_FX_REFUSE)->error =
		        g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                    "The modem is %s, not ready; see the State property",
		                    ev->line ? ev->line : "not ready");
		return;
	}
	if (ev->expect_revision && g_strcmp0(ev->expect_revision, ev->revision) != 0) {
		jm_push(fx, DFOTA_JM_FX_REFUSE)->error =
		        g_error_new(DFOTA_ERROR, DFOTA_ERROR_REVISION_MISMATCH,
		                    "The package is for revision %s but the module runs %s; "
		                    "nothing was sent",
		                    ev->expect_revision, ev->revision ? ev->revision : "");
		return;
	}
	job = m->job = dfota_job_new(ev->kind, ev->source);
	m->url = g_strdup(ev->source);
	job->id = ev->id;
	job->started = ev->now;
	g_free(job->from_revision);
	job->from_revision = g_strdup(ev->revision ? ev->revision : "");
	g_free(job->from_sub_edition);
	job->from_sub_edition = g_strdup(ev->sub_edition ? ev->sub_edition : "");
	g_free(job->filename);
	job->filename = g_strdup(ev->filename ? ev->filename : "");
	job->sha256 = g_strdup(ev->sha256);
	job->fallback_via_host = ev->fallback_via_host;
	if (dfota_job_kind_is_host(job->kind)) {
		accept(m, fx, ev->now, DFOTA_JOB_STEP_FETCHING);
		jm_push(fx, DFOTA_JM_FX_HOST_FETCH)->text = g_strdup(m->url);
		return;
	}
	jm_push(fx, DFOTA_JM_FX_PREFLIGHT);
}

/* The name the module gives a fetched MCU file (seed 3.3): the requested one, else the URL's
 * last path segment when legal, else mcu_update.bin. Taken from the URL as given: the job's
 * source is redacted, and a URL that reads more than one way keeps no path there. */
static char *
mcu_file_name(const char *url, const char *filename)
{
	const char *path;
	g_autofree char *name = NULL;

	if (filename && *filename)
		return g_strdup(filename);
	path = strstr(url, "://");
	path = path ? path + 3 + strcspn(path + 3, "/?#") : NULL;
	if (path && *path == '/') {
		g_autofree char *p = g_strndup(path, strcspn(path, "?#"));
		name = g_strdup(strrchr(p, '/') + 1);
	}
	if (name && *name && strlen(name) <= DFOTA_UFS_NAME_MAX_BYTES) {
		gboolean legal = TRUE;
		for (const char *p = name; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
				legal = FALSE;
		if (legal)
			return g_steal_pointer(&name);
	}
	return g_strdup("mcu_update.bin");
}

static void
on_preflight_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	g_autofree char *command = NULL;

	if (!m->job || m->job->step != DFOTA_JOB_STEP_PREFLIGHT)
		return;
	if (!ev->ok) {
		jm_refuse(m, fx, ev->error);
		return;
	}
	command = qfotadl_command(m, m->job->filename);
	if (m->job->kind == DFOTA_JOB_KIND_FETCH_MCU_FILE) {
		char *name = mcu_file_name(m->url, m->job->filename);
		g_free(m->job->filename);
		m->job->filename = name;
	}
	jm_set_step(m, fx, DFOTA_JOB_STEP_STARTING, 0);
	jm_push(fx, DFOTA_JM_FX_SEND_COMMAND)->text = g_steal_pointer(&command);
}

/* A host job whose AT+QFOTADL=1 went out without a seen answer (no answer, the tty lost):
 * the module may be flashing the package, so the job follows the update; silence past the
 * update timeout lets the revision decide (on_timer). */
static void
host_listen(DfotaJobMachine *m, GArray *fx, const char *why)
{
	jm_fx_log(fx, G_LOG_LEVEL_MESSAGE, "%s: listening for the module's update", why);
	jm_set_step(m, fx, DFOTA_JOB_STEP_UPDATING, 0);
	jm_arm(m, fx, m->cfg.update_timeout_s);
}

static void
on_command_reply(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	if (!job || job->step != DFOTA_JOB_STEP_STARTING)
		return;
	if (!ev->ok && m->accepted && dfota_job_is_host(job) &&
	    (g_error_matches(ev->error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT) ||
	     g_error_matches(ev->error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST))) {
		/* No answer is no refusal: the module may be flashing the uploaded package. */
		host_listen(m, fx, "no answer to AT+QFOTADL=1");
		return;
	}
	if (!ev->ok) {
		jm_finish(m, fx, ev->now, ev->error, ev->code, NULL, NULL);
		return;
	}
	if (m->accepted) {
		/* Host kinds: accepted long ago; the module now flashes the uploaded package.
		 * Recorded, so that a restarted daemon follows the update instead of deleting
		 * the package, and published: the package left the gateway's hands. */
		job->command_accepted = TRUE;
		jm_set_step(m, fx, DFOTA_JOB_STEP_UPDATING, 0);
		jm_arm(m, fx, m->cfg.update_timeout_s);
		return;
	}
	accept(m, fx, ev->now, jm_next_step(job, DFOTA_JOB_STEP_STARTING));
	if (m->job && m->job->step == DFOTA_JOB_STEP_DOWNLOADING)
		jm_arm(m, fx, m->cfg.download_timeout_s);
	else if (m->job && m->job->step == DFOTA_JOB_STEP_UPDATING)
		jm_arm(m, fx, m->cfg.update_timeout_s);
}

static void
on_boot_line(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	/* While FOTA URCs wait for the record, the module's restarts are part of their story. */
	if (m->held->len > 0 && m->held->len < HOLD_MAX) {
		DfotaFotaUrc *mark = g_new0(DfotaFotaUrc, 1);
		mark->event = HELD_BOOT;
		mark->value = -1;
		g_ptr_array_add(m->held, mark);
	}
	if (!job || !m->accepted)
		return;
	switch (job->step) {
	case DFOTA_JOB_STEP_STARTING:
	case DFOTA_JOB_STEP_DOWNLOADING:
		if (dfota_job_is_host(job))
			break;
		jm_fail(m, fx, ev->now, -1,
		        "The module restarted while downloading: the package is lost and the old "
		        "firmware runs; start the job again");
		break;
	case DFOTA_JOB_STEP_UPDATING:
		if (job->updating_done) {
			/* Field modules reboot at once after UPDATING 100, their END lost. */
			jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
			          "job %" G_GUINT64_FORMAT
			          ": the module restarted after UPDATING 100 "
			          "without END; its revision will tell",
			          job->id);
		} else {
			/* Seed 3.1 note: after a power cut while updating, the module resumes. */
			job->power_cut = TRUE;
			jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
			          "job %" G_GUINT64_FORMAT ": the module restarted while updating; "
			          "waiting for it to resume the update",
			          job->id);
		}
		jm_set_step(m, fx, DFOTA_JOB_STEP_REBOOTING, 0);
		jm_arm(m, fx, m->cfg.reboot_timeout_s);
		break;
	default:
		break;
	}
}

static void
on_initialized(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	if (!job || !m->accepted)
		return;
	if ((job->step == DFOTA_JOB_STEP_REBOOTING && (job->end_seen || job->updating_done)) ||
	    job->step == DFOTA_JOB_STEP_VERIFYING)
		jm_verify(m, fx);
}

static void
on_timer(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;
	g_autoptr(GError) error = NULL;

	if (!job || !m->accepted)
		return;
	if (job->step == DFOTA_JOB_STEP_UPDATING && dfota_job_is_host(job) &&
	    !job->command_accepted && ev->module_answers) {
		/* Whether the module took AT+QFOTADL=1 was never seen, and it said nothing
		 * since: it may have finished while the port was closed; the revision tells. */
		jm_verify(m, fx);
		return;
	}
	if (job->step == DFOTA_JOB_STEP_REBOOTING && ev->module_answers) {
		/* The module answers but no reboot (or no forced update after a power cut) was
		 * seen in time: let the revision tell. */
		jm_verify(m, fx);
		return;
	}
	error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
	                    "Nothing from the module for %u s while %s; the job is abandoned "
	                    "(see the download-timeout, update-timeout and reboot-timeout "
	                    "settings)",
	                    m->timer_s, job->phase);
	if (job->step == DFOTA_JOB_STEP_DOWNLOADING)
		download_failed(m, fx, ev->now, error, -1);
	else
		jm_finish(m, fx, ev->now, error, -1, NULL, NULL);
}

static void
on_tty_lost(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	if (!job || !m->accepted)
		return;
	switch (job->step) {
	case DFOTA_JOB_STEP_UPDATING:  /* the module may be flashing on its own: wait for it */
	case DFOTA_JOB_STEP_REBOOTING: /* within the timeout */
	case DFOTA_JOB_STEP_FETCHING:  /* the gateway-side download goes on */
	case DFOTA_JOB_STEP_UPLOADING: /* the upload fails by itself with ModemLost */
		return;
	case DFOTA_JOB_STEP_STARTING:
		if (dfota_job_is_host(job)) {
			/* a module rebooting into its updater may take its port with it */
			host_listen(m, fx, "the tty went away after AT+QFOTADL=1");
			return;
		}
		jm_fail(m, fx, ev->now, -1, "The modem's port %s went away during the job",
		        ev->line ? ev->line : "");
		break;
	default:
		jm_fail(m, fx, ev->now, -1, "The modem's port %s went away during the job",
		        ev->line ? ev->line : "");
	}
}

static void
on_revision(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;
	const char *rev = ev->revision ? ev->revision : "";
	const char *sub = ev->sub_edition ? ev->sub_edition : "";
	gboolean changed;

	if (!job || job->step != DFOTA_JOB_STEP_VERIFYING)
		return;
	if (!ev->ok) {
		jm_fail(m, fx, ev->now, job->end_seen ? 0 : -1,
		        "The module came back but its revision could not be read (%s); the outcome "
		        "is unknown",
		        ev->error ? ev->error->message : "no answer");
		return;
	}
	jm_publish(m, fx, "verifying", 100);
	/* Compared whole and exactly: BC65JAR01A02_BETA0203 is not BC65JAR01A02. */
	changed = *job->from_revision && g_strcmp0(rev, job->from_revision) != 0;
	if (!job->end_seen && !changed && job->updating_done && !job->power_cut) {
		/* UPDATING reached 100 but the old firmware still runs: the module may resume
		 * in forced-upgrade mode; wait for it once. */
		job->power_cut = TRUE;
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
		          "job %" G_GUINT64_FORMAT ": still %s after UPDATING 100; waiting for the "
		          "module to resume the update",
		          job->id, rev);
		jm_set_step(m, fx, DFOTA_JOB_STEP_REBOOTING, 0);
		jm_arm(m, fx, m->cfg.reboot_timeout_s);
		return;
	}
	if (!job->end_seen && !changed && dfota_job_is_host(job) && !job->command_accepted &&
	    !job->updating_done) {
		/* AT+QFOTADL=1 went out, its answer was never seen, and the old firmware runs. */
		g_autoptr(GError) e =
		        g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
		                    "The module did not start updating (it still runs "
		                    "%s); the uploaded fota.pack is left in UFS, where "
		                    "UpgradeLocal starts it",
		                    rev);
		jm_finish(m, fx, ev->now, e, -1, NULL, NULL);
		return;
	}
	if (!job->end_seen && !changed) {
		jm_fail(m, fx, ev->now, -1,
		        "The module restarted during the update and came back running %s without "
		        "finishing it; the job is lost",
		        rev);
		return;
	}
	if (!job->end_seen && !job->updating_done) {
		/* The firmware changed but the module never said its update succeeded. */
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                                  "The module came back running %s%s%s but never "
		                                  "reported the update finished (no END,0 nor "
		                                  "UPDATING 100); its outcome is not confirmed",
		                                  rev, *sub ? " " : "", sub);
		jm_finish(m, fx, ev->now, e, -1, rev, NULL);
		return;
	}
	if (job->end_seen && *job->from_revision && g_strcmp0(rev, job->from_revision) == 0 &&
	    g_strcmp0(sub, job->from_sub_edition) == 0) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_REVISION_UNCHANGED,
		                                  "The module reported success (END,0) but still "
		                                  "runs %s%s%s: the package did not change the "
		                                  "firmware",
		                                  rev, *sub ? " " : "", sub);
		jm_finish(m, fx, ev->now, e, 0, rev, NULL);
		return;
	}
	jm_finish(m, fx, ev->now, NULL, 0, rev, NULL);
}

static void
on_mcu_stat(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;
	const char *name;
	GVariantBuilder b;

	if (!job || job->kind != DFOTA_JOB_KIND_FETCH_MCU_FILE ||
	    job->step != DFOTA_JOB_STEP_DOWNLOADING)
		return;
	name = *job->filename ? job->filename : "mcu_update.bin";
	if (!ev->ok) {
		g_autoptr(GError) e = g_error_new(
		        DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_UNKNOWN,
		        "The module reported the download complete but %s is not in "
		        "UFS%s%s",
		        name, ev->error ? ": " : "", ev->error ? ev->error->message : "");
		jm_finish(m, fx, ev->now, e, -1, NULL, NULL);
		return;
	}
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "file", g_variant_new_string(name));
	g_variant_builder_add(&b, "{sv}", "size", g_variant_new_uint64(ev->size));
	jm_finish(m, fx, ev->now, NULL, 0, ev->revision, g_variant_builder_end(&b));
}

void
dfota_job_machine_step(DfotaJobMachine *m, const DfotaJmEvent *ev, GArray *fx)
{
	switch (ev->type) {
	case DFOTA_JM_EV_START:
		on_start(m, fx, ev);
		break;
	case DFOTA_JM_EV_PREFLIGHT_DONE:
		on_preflight_done(m, fx, ev);
		break;
	case DFOTA_JM_EV_COMMAND_REPLY:
		on_command_reply(m, fx, ev);
		break;
	case DFOTA_JM_EV_URC:
		on_urc(m, fx, ev);
		break;
	case DFOTA_JM_EV_BOOT_LINE:
		on_boot_line(m, fx, ev);
		break;
	case DFOTA_JM_EV_MODULE_LINE:
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE, "the module says \"%s\"%s",
		          ev->line ? ev->line : "", m->job ? " during the job" : "");
		break;
	case DFOTA_JM_EV_INITIALIZED:
		on_initialized(m, fx, ev);
		break;
	case DFOTA_JM_EV_TIMER:
		on_timer(m, fx, ev);
		break;
	case DFOTA_JM_EV_TTY_LOST:
		on_tty_lost(m, fx, ev);
		break;
	case DFOTA_JM_EV_REVISION:
		on_revision(m, fx, ev);
		break;
	case DFOTA_JM_EV_HOST_PROGRESS:
		jm_on_host_progress(m, fx, ev);
		break;
	case DFOTA_JM_EV_FETCH_DONE:
		jm_on_fetch_done(m, fx, ev);
		break;
	case DFOTA_JM_EV_UPLOAD_DONE:
		jm_on_upload_done(m, fx, ev);
		break;
	case DFOTA_JM_EV_MCU_STAT:
		on_mcu_stat(m, fx, ev);
		break;
	case DFOTA_JM_EV_RESUME:
		jm_on_resume(m, fx, ev);
		break;
	case DFOTA_JM_EV_DELETE_DONE:
		jm_on_delete_done(m, fx, ev);
		break;
	case DFOTA_JM_EV_HOLD_EXPIRED:
		on_hold_expired(m, fx, ev);
		break;
	}
}

void
dfota_job_machine_init(DfotaJobMachine *m, const DfotaJobMachineConfig *cfg)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->early = g_ptr_array_new_with_free_func(urc_free);
	m->held = g_ptr_array_new_with_free_func(urc_free);
}

void
dfota_job_machine_clear(DfotaJobMachine *m)
{
	jm_release(m);
	g_clear_pointer(&m->early, g_ptr_array_unref);
	g_clear_pointer(&m->held, g_ptr_array_unref);
}
