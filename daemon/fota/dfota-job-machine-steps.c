// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine-steps.c: the list of steps of each job kind, what each step does, and the
 * table docs/design.md shows (dfota-job-steps prints it). The machine walks these lists. */
#include "dfota-job-machine.h"

#define END DFOTA_JOB_STEP_NONE

static const DfotaJobStep steps_upgrade[] = {
	DFOTA_JOB_STEP_PREFLIGHT,
	DFOTA_JOB_STEP_STARTING,
	DFOTA_JOB_STEP_DOWNLOADING,
	DFOTA_JOB_STEP_UPDATING,
	DFOTA_JOB_STEP_REBOOTING,
	DFOTA_JOB_STEP_VERIFYING,
	END,
};
static const DfotaJobStep steps_upgrade_fallback[] = {
	DFOTA_JOB_STEP_PREFLIGHT,   DFOTA_JOB_STEP_STARTING,
	DFOTA_JOB_STEP_DOWNLOADING, DFOTA_JOB_STEP_FETCHING,
	DFOTA_JOB_STEP_UPLOADING,   DFOTA_JOB_STEP_STARTING,
	DFOTA_JOB_STEP_UPDATING,    DFOTA_JOB_STEP_REBOOTING,
	DFOTA_JOB_STEP_VERIFYING,   END,
};
static const DfotaJobStep steps_upgrade_local[] = {
	DFOTA_JOB_STEP_PREFLIGHT, DFOTA_JOB_STEP_STARTING,  DFOTA_JOB_STEP_UPDATING,
	DFOTA_JOB_STEP_REBOOTING, DFOTA_JOB_STEP_VERIFYING, END,
};
static const DfotaJobStep steps_host[] = {
	DFOTA_JOB_STEP_FETCHING,
	DFOTA_JOB_STEP_UPLOADING,
	DFOTA_JOB_STEP_STARTING,
	DFOTA_JOB_STEP_UPDATING,
	DFOTA_JOB_STEP_REBOOTING,
	DFOTA_JOB_STEP_VERIFYING,
	END,
};
static const DfotaJobStep steps_fetch_mcu_file[] = {
	DFOTA_JOB_STEP_PREFLIGHT,
	DFOTA_JOB_STEP_STARTING,
	DFOTA_JOB_STEP_DOWNLOADING,
	END,
};
static const DfotaJobStep steps_forced_resume[] = {
	DFOTA_JOB_STEP_UPDATING,
	DFOTA_JOB_STEP_REBOOTING,
	DFOTA_JOB_STEP_VERIFYING,
	END,
};

const DfotaJobStep *
dfota_job_machine_steps(DfotaJobKind kind, gboolean fallback)
{
	switch (kind) {
	case DFOTA_JOB_KIND_UPGRADE:
		return fallback ? steps_upgrade_fallback : steps_upgrade;
	case DFOTA_JOB_KIND_UPGRADE_LOCAL:
		return steps_upgrade_local;
	case DFOTA_JOB_KIND_UPGRADE_VIA_HOST:
	case DFOTA_JOB_KIND_UPGRADE_FROM_FILE:
		return steps_host;
	case DFOTA_JOB_KIND_FETCH_MCU_FILE:
		return steps_fetch_mcu_file;
	case DFOTA_JOB_KIND_FORCED_RESUME:
		return steps_forced_resume;
	}
	return steps_upgrade;
}

static const struct {
	const char *name;
	const char *phase; /* published on entering the step; NULL keeps the previous one */
	const char *what;
} step_info[] = {
	[DFOTA_JOB_STEP_PREFLIGHT] = { "preflight", NULL,
	                               "checks before a byte is sent: network and IP address "
	                               "(module downloads) or fota.pack in UFS (local)" },
	[DFOTA_JOB_STEP_FETCHING] = { "fetching", "fetching",
	                              "the gateway downloads the package (libcurl) or reads the "
	                              "caller's fd; optional SHA-256 check" },
	[DFOTA_JOB_STEP_UPLOADING] = { "uploading", "uploading",
	                               "AT+QFUPL writes the package into UFS as fota.pack" },
	[DFOTA_JOB_STEP_STARTING] = { "starting", NULL, "AT+QFOTADL sent, its OK awaited" },
	[DFOTA_JOB_STEP_DOWNLOADING] = { "downloading", "downloading",
	                                 "the module downloads: HTTPSTART, DOWNLOADING, HTTPEND "
	                                 "(fetch-mcu-file then finds its file in UFS)" },
	[DFOTA_JOB_STEP_UPDATING] = { "updating", "updating",
	                              "the module flashes: START, UPDATING, END (START may be "
	                              "skipped)" },
	[DFOTA_JOB_STEP_REBOOTING] = { "rebooting", "rebooting",
	                               "END,0, UPDATING 100 or a power cut: waiting for the "
	                               "module to come back (or to resume in forced mode)" },
	[DFOTA_JOB_STEP_VERIFYING] = { "verifying", "verifying",
	                               "the revision is read again: success only if it changed" },
};

const char *
dfota_job_step_to_string(DfotaJobStep step)
{
	if ((guint)step < G_N_ELEMENTS(step_info))
		return step_info[step].name;
	return "none";
}

const char *
dfota_job_step_phase(DfotaJobStep step)
{
	if ((guint)step < G_N_ELEMENTS(step_info))
		return step_info[step].phase;
	return NULL;
}

const char *
dfota_job_step_describe(DfotaJobStep step)
{
	if ((guint)step < G_N_ELEMENTS(step_info))
		return step_info[step].what;
	return "";
}

char *
dfota_job_machine_steps_markdown(void)
{
	static const struct {
		DfotaJobKind kind;
		gboolean fallback;
		const char *label;
	} rows[] = {
		{ DFOTA_JOB_KIND_UPGRADE, FALSE, "`upgrade`" },
		{ DFOTA_JOB_KIND_UPGRADE, TRUE, "`upgrade` with `fallback-via-host`" },
		{ DFOTA_JOB_KIND_UPGRADE_LOCAL, FALSE, "`upgrade-local`" },
		{ DFOTA_JOB_KIND_UPGRADE_VIA_HOST, FALSE, "`upgrade-via-host`" },
		{ DFOTA_JOB_KIND_UPGRADE_FROM_FILE, FALSE, "`upgrade-from-file`" },
		{ DFOTA_JOB_KIND_FETCH_MCU_FILE, FALSE, "`fetch-mcu-file`" },
		{ DFOTA_JOB_KIND_FORCED_RESUME, FALSE, "`forced-resume`" },
	};
	GString *s = g_string_new("| kind | steps |\n|---|---|\n");

	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		const DfotaJobStep *st = dfota_job_machine_steps(rows[i].kind, rows[i].fallback);

		g_string_append_printf(s, "| %s | ", rows[i].label);
		for (guint j = 0; st[j] != END; j++)
			g_string_append_printf(s, "%s%s", j ? " → " : "",
			                       dfota_job_step_to_string(st[j]));
		g_string_append(s, " |\n");
	}
	g_string_append(s, "\n| step | what happens |\n|---|---|\n");
	for (guint i = 0; i < G_N_ELEMENTS(step_info); i++)
		g_string_append_printf(s, "| %s | %s |\n", step_info[i].name, step_info[i].what);
	return g_string_free(s, FALSE);
}
