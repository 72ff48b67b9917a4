// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job.c: a job's data and its journal record. */
#include "dfota-job.h"

#include "dfota-redact.h"

static const char *const kind_names[] = {
	[DFOTA_JOB_KIND_UPGRADE] = "upgrade",
	[DFOTA_JOB_KIND_UPGRADE_LOCAL] = "upgrade-local",
	[DFOTA_JOB_KIND_UPGRADE_VIA_HOST] = "upgrade-via-host",
	[DFOTA_JOB_KIND_UPGRADE_FROM_FILE] = "upgrade-from-file",
	[DFOTA_JOB_KIND_FETCH_MCU_FILE] = "fetch-mcu-file",
	[DFOTA_JOB_KIND_FORCED_RESUME] = "forced-resume",
};

const char *
dfota_job_kind_to_string(DfotaJobKind kind)
{
	if ((guint)kind < G_N_ELEMENTS(kind_names))
		return kind_names[kind];
	return "upgrade";
}

gboolean
dfota_job_kind_from_string(const char *s, DfotaJobKind *kind)
{
	for (guint i = 0; i < G_N_ELEMENTS(kind_names); i++) {
		if (g_strcmp0(s, kind_names[i]) == 0) {
			*kind = (DfotaJobKind)i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
dfota_job_kind_upgrades(DfotaJobKind kind)
{
	return kind != DFOTA_JOB_KIND_FETCH_MCU_FILE;
}

gboolean
dfota_job_kind_is_host(DfotaJobKind kind)
{
	return kind == DFOTA_JOB_KIND_UPGRADE_VIA_HOST || kind == DFOTA_JOB_KIND_UPGRADE_FROM_FILE;
}

gboolean
dfota_job_is_host(const DfotaJob *job)
{
	return dfota_job_kind_is_host(job->kind) || job->via_host;
}

DfotaJob *
dfota_job_new(DfotaJobKind kind, const char *source)
{
	DfotaJob *job = g_new0(DfotaJob, 1);

	job->kind = kind;
	/* Shown on the bus, journalled and logged: never with a URL's secrets. What needs the URL
	 * as given (the AT+QFOTADL line, libcurl) takes it from the method call, and a job
	 * resumed from its record no longer needs it. A record written by an older daemon is
	 * redacted here as it is read. */
	job->source = dfota_text_redact_urls(source);
	job->started = g_get_real_time();
	job->from_revision = g_strdup("");
	job->from_sub_edition = g_strdup("");
	job->filename = g_strdup("");
	job->phase = g_strdup("idle");
	job->step = DFOTA_JOB_STEP_PREFLIGHT;
	return job;
}

void
dfota_job_free(DfotaJob *job)
{
	if (!job)
		return;
	g_free(job->source);
	g_free(job->from_revision);
	g_free(job->from_sub_edition);
	g_free(job->filename);
	g_free(job->sha256);
	g_free(job->phase);
	g_free(job->first_failure);
	g_free(job);
}

static void
add_public(GVariantBuilder *b, const DfotaJob *job)
{
	g_variant_builder_add(b, "{sv}", "id", g_variant_new_uint64(job->id));
	g_variant_builder_add(b, "{sv}", "kind",
	                      g_variant_new_string(dfota_job_kind_to_string(job->kind)));
	g_variant_builder_add(b, "{sv}", "source", g_variant_new_string(job->source));
	g_variant_builder_add(b, "{sv}", "started", g_variant_new_uint64((guint64)job->started));
	g_variant_builder_add(b, "{sv}", "from-revision", g_variant_new_string(job->from_revision));
	if (job->via_host)
		g_variant_builder_add(b, "{sv}", "via-host", g_variant_new_boolean(TRUE));
}

GVariant *
dfota_job_to_public(const DfotaJob *job)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	add_public(&b, job);
	return g_variant_builder_end(&b);
}

GVariant *
dfota_job_to_record(const DfotaJob *job)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	add_public(&b, job);
	g_variant_builder_add(&b, "{sv}", "step", g_variant_new_uint32(job->step));
	g_variant_builder_add(&b, "{sv}", "phase", g_variant_new_string(job->phase));
	g_variant_builder_add(&b, "{sv}", "percent", g_variant_new_uint32(job->percent));
	g_variant_builder_add(&b, "{sv}", "from-sub-edition",
	                      g_variant_new_string(job->from_sub_edition));
	g_variant_builder_add(&b, "{sv}", "filename", g_variant_new_string(job->filename));
	g_variant_builder_add(&b, "{sv}", "end-seen", g_variant_new_boolean(job->end_seen));
	g_variant_builder_add(&b, "{sv}", "power-cut", g_variant_new_boolean(job->power_cut));
	g_variant_builder_add(&b, "{sv}", "updating-done",
	                      g_variant_new_boolean(job->updating_done));
	g_variant_builder_add(&b, "{sv}", "fallback-via-host",
	                      g_variant_new_boolean(job->fallback_via_host));
	if (job->first_failure)
		g_variant_builder_add(&b, "{sv}", "first-failure",
		                      g_variant_new_string(job->first_failure));
	if (job->command_accepted)
		g_variant_builder_add(&b, "{sv}", "command-accepted", g_variant_new_boolean(TRUE));
	return g_variant_builder_end(&b);
}

DfotaJob *
dfota_job_from_record(GVariant *record)
{
	const char *kind_s = NULL, *source = NULL, *s = NULL;
	DfotaJobKind kind;
	DfotaJob *job;
	guint64 started = 0;
	guint32 step = 0, percent = 0;

	if (!record || !g_variant_is_of_type(record, G_VARIANT_TYPE_VARDICT))
		return NULL;
	if (!g_variant_lookup(record, "kind", "&s", &kind_s) ||
	    !dfota_job_kind_from_string(kind_s, &kind) ||
	    !g_variant_lookup(record, "source", "&s", &source))
		return NULL;
	job = dfota_job_new(kind, source);
	g_variant_lookup(record, "id", "t", &job->id);
	if (g_variant_lookup(record, "started", "t", &started))
		job->started = (gint64)started;
	if (g_variant_lookup(record, "from-revision", "&s", &s)) {
		g_free(job->from_revision);
		job->from_revision = g_strdup(s);
	}
	if (g_variant_lookup(record, "from-sub-edition", "&s", &s)) {
		g_free(job->from_sub_edition);
		job->from_sub_edition = g_strdup(s);
	}
	if (g_variant_lookup(record, "filename", "&s", &s)) {
		g_free(job->filename);
		job->filename = g_strdup(s);
	}
	if (g_variant_lookup(record, "phase", "&s", &s)) {
		g_free(job->phase);
		job->phase = g_strdup(s);
	}
	if (g_variant_lookup(record, "step", "u", &step) && step <= DFOTA_JOB_STEP_VERIFYING)
		job->step = (DfotaJobStep)step;
	if (g_variant_lookup(record, "percent", "u", &percent))
		job->percent = MIN(percent, 100);
	g_variant_lookup(record, "end-seen", "b", &job->end_seen);
	g_variant_lookup(record, "power-cut", "b", &job->power_cut);
	g_variant_lookup(record, "updating-done", "b", &job->updating_done);
	g_variant_lookup(record, "fallback-via-host", "b", &job->fallback_via_host);
	g_variant_lookup(record, "via-host", "b", &job->via_host);
	g_variant_lookup(record, "command-accepted", "b", &job->command_accepted);
	if (g_variant_lookup(record, "first-failure", "&s", &s))
		job->first_failure = g_strdup(s);
	return job;
}
