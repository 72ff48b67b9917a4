// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job.h: one firmware job: its kind, the step it reached, and how it is recorded.
 *
 * A job is plain data; DfotaFota drives it through its steps. The record (a{sv}) is what
 * the journal stores before each step acts, and what a restarted daemon resumes from.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	DFOTA_JOB_KIND_UPGRADE,
	DFOTA_JOB_KIND_UPGRADE_LOCAL,
	DFOTA_JOB_KIND_UPGRADE_VIA_HOST,
	DFOTA_JOB_KIND_UPGRADE_FROM_FILE,
	DFOTA_JOB_KIND_FETCH_MCU_FILE,
	DFOTA_JOB_KIND_FORCED_RESUME,
} DfotaJobKind;

/* The steps, in the order a job goes through them; each kind skips those it has no use for. */
typedef enum {
	DFOTA_JOB_STEP_PREFLIGHT,   /* checks before anything is sent (not yet accepted) */
	DFOTA_JOB_STEP_FETCHING,    /* host kinds: libcurl download or reading the caller's fd */
	DFOTA_JOB_STEP_UPLOADING,   /* host kinds: AT+QFUPL into UFS as fota.pack */
	DFOTA_JOB_STEP_STARTING,    /* AT+QFOTADL sent, its OK awaited */
	DFOTA_JOB_STEP_DOWNLOADING, /* the module downloads: HTTPSTART … HTTPEND */
	DFOTA_JOB_STEP_UPDATING,    /* the module flashes: START … END */
	DFOTA_JOB_STEP_REBOOTING,   /* END,0 seen (or power cut): waiting for the module */
	DFOTA_JOB_STEP_VERIFYING,   /* re-reading the identity */
	DFOTA_JOB_STEP_NONE = 255,  /* ends a kind's list of steps */
} DfotaJobStep;

typedef struct {
	guint64 id;
	DfotaJobKind kind;
	char *source;   /* URL (redacted: dfota-redact.h), "fd", "UFS:fota.pack" or "module" */
	gint64 started; /* µs since the epoch */
	char *from_revision;
	char *from_sub_edition;
	char *filename; /* fetch-mcu-file: its name in UFS (requested, else from the URL) */
	char *sha256;   /* host kinds: expected digest or NULL */
	DfotaJobStep step;
	char *phase; /* the published phase of the step */
	guint percent;
	gboolean end_seen;          /* the module reported END,0 */
	gboolean power_cut;         /* the module restarted during updating (seed 3.1 note) */
	gboolean updating_done;     /* UPDATING reached 100 (END may be lost in a reboot) */
	gboolean fallback_via_host; /* upgrade: fetch the URL on the gateway if the module fails */
	gboolean via_host;          /* upgrade: the fallback runs (host steps from now on) */
	char *first_failure;        /* via_host: why the module's own download failed */
	gboolean command_accepted;  /* host steps: the module answered OK to AT+QFOTADL=1 */
} DfotaJob;

const char *dfota_job_kind_to_string(DfotaJobKind kind);
gboolean dfota_job_kind_from_string(const char *s, DfotaJobKind *kind);
/* TRUE for the kinds whose package is flashed (every kind but fetch-mcu-file). */
gboolean dfota_job_kind_upgrades(DfotaJobKind kind);
/* TRUE for the kinds with gateway-side phases (fetching/uploading). */
gboolean dfota_job_kind_is_host(DfotaJobKind kind);
/* TRUE when @job is in or past gateway-side phases (a host kind, or the via-host fallback). */
gboolean dfota_job_is_host(const DfotaJob *job);

/* @source is stored redacted (dfota_text_redact_urls()). */
DfotaJob *dfota_job_new(DfotaJobKind kind, const char *source);
void dfota_job_free(DfotaJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfotaJob, dfota_job_free)

/* The Job property: id, kind, source, started, from-revision, via-host (when true).
 * Floating. */
GVariant *dfota_job_to_public(const DfotaJob *job);
/* The journal record: the public keys plus step, phase, percent and the job's private
 * state. Floating. */
GVariant *dfota_job_to_record(const DfotaJob *job);
/* Rebuilds a job from a record; NULL when the record is not one. */
DfotaJob *dfota_job_from_record(GVariant *record);

G_END_DECLS
