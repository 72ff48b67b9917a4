// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine-host.c: the machine's gateway-side steps (fetching, uploading, the
 * fallback's continuation) and a journalled job found when the journal opens. */
#include "dfota-job-machine-private.h"

#include "dfota-error.h"

static void
host_fail(DfotaJobMachine *m, GArray *fx, gint64 now, const GError *error, const char *phase)
{
	if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_autoptr(GError) e = g_error_new(
		        DFOTA_ERROR, DFOTA_ERROR_CANCELLED, "Cancelled while %s%s", phase,
		        g_str_equal(phase, "uploading") ? "; the partial fota.pack was deleted"
		                                        : "");
		jm_finish(m, fx, now, e, -1, NULL, NULL);
		return;
	}
	/* The module never saw this package: whatever went wrong, it gave no code. */
	jm_finish(m, fx, now, error, -1, NULL, NULL);
}

void
jm_on_host_progress(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	if (!m->job || !ev->total)
		return;
	if (m->job->step == DFOTA_JOB_STEP_FETCHING)
		jm_publish(m, fx, "fetching", (guint)(MIN(ev->done, ev->total) * 100 / ev->total));
	else if (m->job->step == DFOTA_JOB_STEP_UPLOADING)
		jm_publish(m, fx, "uploading", (guint)(MIN(ev->done, ev->total) * 100 / ev->total));
}

void
jm_on_fetch_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	if (!job || job->step != DFOTA_JOB_STEP_FETCHING)
		return;
	if (!ev->ok) {
		host_fail(m, fx, ev->now, ev->error, "fetching");
		return;
	}
	jm_publish(m, fx, "fetching", 100);
	if (job->sha256 && g_strcmp0(ev->digest, job->sha256) != 0) {
		g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH,
		                                  "The package's SHA-256 is %s, not the expected "
		                                  "%s; nothing was uploaded",
		                                  ev->digest ? ev->digest : "", job->sha256);
		jm_finish(m, fx, ev->now, e, -1, NULL, NULL);
		return;
	}
	jm_set_step(m, fx, jm_next_step(job, DFOTA_JOB_STEP_FETCHING), 0);
	jm_push(fx, DFOTA_JM_FX_HOST_UPLOAD);
}

void
jm_on_upload_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = m->job;

	if (!job || job->step != DFOTA_JOB_STEP_UPLOADING)
		return;
	if (!ev->ok) {
		host_fail(m, fx, ev->now, ev->error, "uploading");
		return;
	}
	jm_publish(m, fx, "uploading", 100);
	jm_set_step(m, fx, jm_next_step(job, DFOTA_JOB_STEP_UPLOADING), 0);
	jm_push(fx, DFOTA_JM_FX_SEND_COMMAND)->text = g_strdup("AT+QFOTADL=1");
}

static void
host_interrupted(DfotaJobMachine *m, GArray *fx, gint64 now)
{
	if (m->job->step == DFOTA_JOB_STEP_UPLOADING) {
		/* The module may have sat in AT+QFUPL data mode: it has left it by the time it
		 * answered the initialisation, so the partial file can go. */
		jm_push(fx, DFOTA_JM_FX_DELETE_PARTIAL);
		return;
	}
	g_autoptr(GError) e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_INTERRUPTED,
	                                  "The daemon restarted while the job was %s; start "
	                                  "the upgrade again",
	                                  m->job->phase);
	jm_finish(m, fx, now, e, -1, NULL, NULL);
}

void
jm_on_delete_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	g_autoptr(GError) e = NULL;

	if (!m->job || !m->accepted || !dfota_job_is_host(m->job) ||
	    m->job->step != DFOTA_JOB_STEP_UPLOADING)
		return;
	e = g_error_new(DFOTA_ERROR, DFOTA_ERROR_INTERRUPTED,
	                "The daemon restarted while the job was %s; %s; start the upgrade again",
	                m->job->phase,
	                ev->ok ? "the partial fota.pack was deleted"
	                       : "no partial fota.pack was left in UFS");
	jm_finish(m, fx, ev->now, e, -1, NULL, NULL);
}

/* Returns TRUE when it gave ev->id to the job. */
static gboolean
resume(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	DfotaJob *job = ev->job;

	if (m->job) {
		/* A forced update began before the module was identified: it is the recorded
		 * job when there is one, else a job of its own with a fresh id. */
		if (job) {
			/* Every recorded field is kept; where the module is now (step, phase,
			 * percent) and what it has reported since are the live job's. */
			DfotaJob *live = m->job;

			job->step = live->step;
			g_free(job->phase);
			job->phase = g_steal_pointer(&live->phase);
			job->percent = live->percent;
			job->end_seen = job->end_seen || live->end_seen;
			job->command_accepted = job->command_accepted || live->command_accepted;
			job->power_cut = job->power_cut || live->power_cut;
			job->updating_done = live->updating_done;
			if (!*job->from_revision) {
				g_free(job->from_revision);
				job->from_revision = g_steal_pointer(&live->from_revision);
			}
			m->job = job;
			dfota_job_free(live);
		} else {
			m->job->id = ev->id;
		}
		m->job_changed = TRUE;
		jm_journal_job(m, fx);
		return !job;
	}
	if (!job)
		return FALSE;
	m->job = job;
	m->accepted = TRUE;
	jm_push(fx, DFOTA_JM_FX_ACCEPT)->result = g_variant_ref_sink(dfota_job_to_public(job));
	jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
	          "resuming job %" G_GUINT64_FORMAT " (%s) recorded at %s %u%%", job->id,
	          dfota_job_kind_to_string(job->kind), job->phase, job->percent);
	jm_progress(fx, job->phase, job->percent);
	switch (job->step) {
	case DFOTA_JOB_STEP_PREFLIGHT:
	case DFOTA_JOB_STEP_FETCHING:
	case DFOTA_JOB_STEP_UPLOADING:
		host_interrupted(m, fx, ev->now);
		break;
	case DFOTA_JOB_STEP_STARTING:
		if (dfota_job_is_host(job)) {
			/* The upload is complete and AT+QFOTADL=1 may have gone out: when the module
			 * took it (known, or its answer never seen) it may be flashing the package,
			 * so the job follows the update instead of deleting the package under it. */
			if (!job->command_accepted)
				jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
				          "whether the module took AT+QFOTADL=1 is unknown: "
				          "listening for its update");
			jm_set_step(m, fx, DFOTA_JOB_STEP_UPDATING, 0);
			jm_arm(m, fx, m->cfg.update_timeout_s);
			break;
		}
		/* Whether the module took the command is unknown: listen for it. */
		jm_set_step(m, fx, DFOTA_JOB_STEP_DOWNLOADING, job->percent);
		jm_arm(m, fx, m->cfg.download_timeout_s);
		break;
	case DFOTA_JOB_STEP_DOWNLOADING:
		jm_arm(m, fx, m->cfg.download_timeout_s);
		break;
	case DFOTA_JOB_STEP_UPDATING:
		jm_arm(m, fx, m->cfg.update_timeout_s);
		break;
	case DFOTA_JOB_STEP_REBOOTING:
	case DFOTA_JOB_STEP_VERIFYING:
		if (job->end_seen || job->updating_done)
			jm_verify(m, fx);
		else
			jm_arm(m, fx, m->cfg.reboot_timeout_s);
		break;
	default:
		break;
	}
	return FALSE;
}

/* The journal opened: the job it records resumes (or a forced update followed meanwhile
 * becomes it), then the URCs held for it are followed. */
void
jm_on_resume(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev)
{
	gboolean taken;

	m->journal_open = TRUE;
	taken = resume(m, fx, ev);
	jm_replay_held(m, fx, ev, taken && ev->id ? ev->id + 1 : ev->id);
}
