// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine-effects.c: how the job machine writes its effects: the effect list,
 * journal-before-publish, entering a step, refusing and finishing a job. Pure, like the rest
 * of the machine (dfota-job-machine.h). */
#include "dfota-job-machine-private.h"

#include <string.h>

#include "dfota-error.h"
#include "dfota-redact.h"

/* ---- effects ----------------------------------------------------------------------------- */

static void
effect_clear(gpointer data)
{
	DfotaJmEffect *fx = data;

	g_free(fx->text);
	g_free(fx->phase);
	g_clear_error(&fx->error);
	g_clear_pointer(&fx->result, g_variant_unref);
}

GArray *
dfota_job_machine_effects_new(void)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(DfotaJmEffect));

	g_array_set_clear_func(a, effect_clear);
	return a;
}

DfotaJmEffect *
jm_push(GArray *fx, DfotaJmEffectType type)
{
	DfotaJmEffect e = { .type = type };

	g_array_append_val(fx, e);
	return &g_array_index(fx, DfotaJmEffect, fx->len - 1);
}

G_GNUC_PRINTF(3, 4)
void
jm_fx_log(GArray *fx, GLogLevelFlags level, const char *format, ...)
{
	DfotaJmEffect *e = jm_push(fx, DFOTA_JM_FX_LOG);
	va_list ap;

	e->level = level;
	va_start(ap, format);
	e->text = g_strdup_vprintf(format, ap);
	va_end(ap);
}

void
jm_arm(DfotaJobMachine *m, GArray *fx, guint seconds)
{
	m->timer_s = seconds;
	jm_push(fx, DFOTA_JM_FX_ARM_TIMER)->seconds = seconds;
}

void
jm_journal_job(DfotaJobMachine *m, GArray *fx)
{
	if (m->accepted)
		jm_push(fx, DFOTA_JM_FX_JOURNAL_JOB)->result =
		        g_variant_ref_sink(dfota_job_to_record(m->job));
	/* The Job a client reads is on record first: the shell shows it once written. */
	if (m->job_changed) {
		m->job_changed = FALSE;
		jm_push(fx, DFOTA_JM_FX_JOB_CHANGED);
	}
}

void
jm_progress(GArray *fx, const char *phase, guint percent)
{
	DfotaJmEffect *e = jm_push(fx, DFOTA_JM_FX_PROGRESS);

	e->phase = g_strdup(phase);
	e->percent = percent;
}

/* Within one stay in a phase the percent never decreases (a module repeating 10% after 20%
 * is ignored); a restarted daemon goes on from the journalled figure. */
void
jm_publish(DfotaJobMachine *m, GArray *fx, const char *phase, guint percent)
{
	DfotaJob *job = m->job;

	percent = MIN(percent, 100);
	if (!m->accepted)
		return;
	if (g_strcmp0(job->phase, phase) == 0 && percent <= job->percent)
		return;
	g_free(job->phase);
	job->phase = g_strdup(phase);
	job->percent = percent;
	if (m->accepted) {
		DfotaJmEffect *e = jm_push(fx, DFOTA_JM_FX_JOURNAL_PROGRESS);
		e->id = job->id;
		e->phase = g_strdup(phase);
		e->percent = percent;
	}
	jm_progress(fx, phase, percent);
}

/* Enters @step: journalled first, then published. Entering another phase starts a new stay
 * in it at @percent; staying in the same phase keeps its percent (never decreases). */
void
jm_set_step(DfotaJobMachine *m, GArray *fx, DfotaJobStep step, guint percent)
{
	DfotaJob *job = m->job;
	const char *phase = dfota_job_step_phase(step);

	job->step = step;
	if (phase && m->accepted && g_strcmp0(job->phase, phase) != 0) {
		g_free(job->phase);
		job->phase = g_strdup(phase);
		job->percent = MIN(percent, 100);
		jm_journal_job(m, fx);
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE, "job %" G_GUINT64_FORMAT ": %s", job->id, phase);
		jm_progress(fx, job->phase, job->percent);
		return;
	}
	jm_journal_job(m, fx);
	if (phase)
		jm_publish(m, fx, phase, percent);
}

void
jm_release(DfotaJobMachine *m)
{
	g_clear_pointer(&m->job, dfota_job_free);
	g_clear_pointer(&m->url, g_free);
	m->accepted = FALSE;
	m->job_changed = FALSE;
	g_ptr_array_set_size(m->early, 0);
}

void
jm_refuse(DfotaJobMachine *m, GArray *fx, const GError *error)
{
	jm_push(fx, DFOTA_JM_FX_REFUSE)->error = g_error_copy(error);
	jm_release(m);
}

/* Ends the job. @error NULL means success. @extra (a{sv}, floating, may be NULL) adds keys. */
void
jm_finish(DfotaJobMachine *m, GArray *fx, gint64 now, const GError *error, int code,
          const char *to_revision, GVariant *extra)
{
	DfotaJob *job = m->job;
	GVariantBuilder b;
	GVariantIter iter;
	const char *key;
	GVariant *value;
	g_autoptr(GVariant) pub = NULL;
	g_autoptr(GVariant) extra_ref = extra ? g_variant_ref_sink(extra) : NULL;
	g_autoptr(GError) both = NULL;
	g_autofree char *message = NULL;
	DfotaJmEffect *e;

	if (!m->accepted) {
		g_autoptr(GError) r = error ? g_error_copy(error)
		                            : g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                                          "The job ended before it started");
		jm_refuse(m, fx, r);
		return;
	}
	if (error && job->via_host && job->first_failure) {
		both = g_error_new(error->domain, error->code,
		                   "%s (the gateway's fallback, after the module's own download "
		                   "failed: %s)",
		                   error->message, job->first_failure);
		error = both;
	}
	/* Messages can quote a URL (the fetcher's, libcurl's, the AT command's). */
	message = dfota_text_redact_urls(error ? error->message : "The job succeeded");
	pub = g_variant_ref_sink(dfota_job_to_public(job));
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
	g_variant_builder_add(&b, "{sv}", "finished", g_variant_new_uint64((guint64)now));
	if (extra_ref) {
		g_variant_iter_init(&iter, extra_ref);
		while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
			g_variant_builder_add(&b, "{sv}", key, value);
			g_variant_unref(value);
		}
	}
	if (error)
		jm_fx_log(fx, G_LOG_LEVEL_WARNING,
		          "job %" G_GUINT64_FORMAT " (%s) failed: %s: %s (code %d)", job->id,
		          dfota_job_kind_to_string(job->kind), dfota_error_short_name(error),
		          message, code);
	else
		jm_fx_log(fx, G_LOG_LEVEL_MESSAGE,
		          "job %" G_GUINT64_FORMAT " (%s) succeeded: %s -> %s", job->id,
		          dfota_job_kind_to_string(job->kind), job->from_revision,
		          to_revision ? to_revision : "");
	/* The log line of the end carries the module's code (journald field DFOTAD_CODE). */
	g_array_index(fx, DfotaJmEffect, fx->len - 1).has_code = TRUE;
	g_array_index(fx, DfotaJmEffect, fx->len - 1).code = code;
	jm_push(fx, DFOTA_JM_FX_CANCEL_TIMER);
	e = jm_push(fx, DFOTA_JM_FX_FINISH);
	e->result = g_variant_ref_sink(g_variant_builder_end(&b));
	e->code = code;
	if (error)
		e->error = g_error_copy(error);
	jm_release(m);
}

G_GNUC_PRINTF(5, 6)
void
jm_fail(DfotaJobMachine *m, GArray *fx, gint64 now, int code, const char *format, ...)
{
	g_autoptr(GError) error = NULL;
	va_list ap;

	va_start(ap, format);
	error = g_error_new_valist(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, format, ap);
	va_end(ap);
	jm_finish(m, fx, now, error, code, NULL, NULL);
}
