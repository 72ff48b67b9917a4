// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine.h: the job logic as a pure machine, (state, event) → (state, effects).
 *
 * No main loop, no timers, no I/O: DfotaFota feeds it events (method calls, command replies,
 * parsed URCs, boot lines, timer expiries, tty loss, revision reads, host transfer results, a
 * journalled job at start) and turns the effects it returns into I/O, in their order. Each
 * job kind is a static list of steps (dfota_job_machine_steps()); the machine walks it.
 */
#pragma once

#include <gio/gio.h>

#include "at-parse.h"
#include "dfota-job.h"

G_BEGIN_DECLS

typedef struct {
	guint download_timeout_s;
	guint update_timeout_s;
	guint reboot_timeout_s;
} DfotaJobMachineConfig;

typedef enum {
	/* A method call: kind, source (as given, for the command), filename, sha256,
	 * from_revision/from_sub_edition (what the module runs now), fallback_via_host, id. */
	DFOTA_JM_EV_START,
	/* The preflight passed (ok) or refused the job (error). */
	DFOTA_JM_EV_PREFLIGHT_DONE,
	/* The reply to AT+QFOTADL: ok, or error (code: the module's, -1 when none). */
	DFOTA_JM_EV_COMMAND_REPLY,
	DFOTA_JM_EV_URC,       /* a parsed +QIND: "FOTA" URC (urc) */
	DFOTA_JM_EV_BOOT_LINE, /* RDY and the boot banners: the module restarted (line) */
	/* Lines a module prints around a restart that are not one: APP RDY, POWERED DOWN,
	 * "Last upgrade was not finished,continue upgrade" (line). Logged. */
	DFOTA_JM_EV_MODULE_LINE,
	DFOTA_JM_EV_INITIALIZED, /* the module answered its initialisation after a restart */
	DFOTA_JM_EV_TIMER,       /* the job's timer expired; module_answers: the modem is up */
	DFOTA_JM_EV_TTY_LOST,
	/* The revision read for verification: ok with revision/sub_edition, or error. */
	DFOTA_JM_EV_REVISION,
	DFOTA_JM_EV_HOST_PROGRESS, /* done/total of the fetch or upload in progress */
	/* The package is in hand (ok, digest: its SHA-256 in lowercase hex) or not (error). */
	DFOTA_JM_EV_FETCH_DONE,
	DFOTA_JM_EV_UPLOAD_DONE, /* fota.pack is in UFS (ok) or not (error) */
	/* fetch-mcu-file: the downloaded file found in UFS (ok, size) or not (error may be
	 * NULL). */
	DFOTA_JM_EV_MCU_STAT,
	/* The journal opened (daemon start or the module identified): the job it records (job,
	 * NULL for none; a fresh id in id), resumed, or adopted by a forced update that began
	 * before the record could be read. */
	DFOTA_JM_EV_RESUME,
	DFOTA_JM_EV_DELETE_DONE, /* the partial fota.pack of an interrupted job: ok = deleted */
	/* The module could not be identified in time (DFOTA_JM_FX_ARM_HOLD_TIMER): the FOTA URCs
	 * held for a recorded job are followed without it (module_answers as for TIMER). */
	DFOTA_JM_EV_HOLD_EXPIRED,
} DfotaJmEventType;

typedef struct {
	DfotaJmEventType type;
	gint64 now; /* µs since the epoch */
	gboolean ok;
	const GError *error;
	int code;
	const DfotaFotaUrc *urc;
	const char *line;
	gboolean module_answers; /* START, TIMER: the modem is ready (line: its state if not) */
	const char *revision;
	const char *sub_edition;
	guint64 done, total, size;
	const char *digest;
	/* DFOTA_JM_EV_START */
	DfotaJobKind kind;
	guint64 id;
	const char *source;
	const char *filename;
	const char *sha256;
	gboolean fallback_via_host;
	const char *expect_revision; /* from-revision: refused unless the module runs it */
	/* DFOTA_JM_EV_RESUME: the job, taken over by the machine */
	DfotaJob *job;
} DfotaJmEvent;

typedef enum {
	DFOTA_JM_FX_REFUSE, /* fail the method call (error); nothing was started */
	/* reply to the method call: the job runs (Job set to result, its public keys, which
	 * stand even when the job finishes within the same batch of effects) */
	DFOTA_JM_FX_ACCEPT,
	DFOTA_JM_FX_PREFLIGHT,        /* check the network (upgrade, fetch-mcu) or fota.pack */
	DFOTA_JM_FX_SEND_COMMAND,     /* text: the AT+QFOTADL line to send */
	DFOTA_JM_FX_ARM_TIMER,        /* seconds */
	DFOTA_JM_FX_CANCEL_TIMER,     /* */
	DFOTA_JM_FX_JOURNAL_JOB,      /* record the job (dfota_job_to_record) */
	DFOTA_JM_FX_JOURNAL_PROGRESS, /* record phase/percent */
	DFOTA_JM_FX_PROGRESS,         /* publish phase/percent (Progress, properties) */
	DFOTA_JM_FX_JOB_CHANGED,      /* the Job property changed (via-host) */
	DFOTA_JM_FX_QUERY_REVISION,   /* re-read the identity: DFOTA_JM_EV_REVISION follows */
	DFOTA_JM_FX_HOST_FETCH,       /* fetch text (the URL given at start) with libcurl */
	DFOTA_JM_FX_HOST_UPLOAD,      /* upload the package as fota.pack */
	DFOTA_JM_FX_STAT_MCU_FILE,    /* look for text in UFS: DFOTA_JM_EV_MCU_STAT follows */
	DFOTA_JM_FX_DELETE_PARTIAL,   /* delete fota.pack: DFOTA_JM_EV_DELETE_DONE follows */
	DFOTA_JM_FX_FINISH,           /* result (a{sv}): LastResult, Finished; the job is over */
	DFOTA_JM_FX_LOG,              /* level, text */
	/* seconds: until the journal opens, FOTA URCs with no job are held for the job it may
	 * record; DFOTA_JM_EV_HOLD_EXPIRED when it does not open in time */
	DFOTA_JM_FX_ARM_HOLD_TIMER,
	DFOTA_JM_FX_CANCEL_HOLD_TIMER,
} DfotaJmEffectType;

typedef struct {
	DfotaJmEffectType type;
	char *text;
	char *phase;
	guint percent;
	guint seconds;
	GLogLevelFlags level;
	int code; /* FINISH; LOG when has_code */
	gboolean has_code;
	guint64 id;
	GError *error;
	GVariant *result; /* FINISH: the result; JOURNAL_JOB: the record; ACCEPT: the Job */
} DfotaJmEffect;

typedef struct {
	DfotaJobMachineConfig cfg;
	DfotaJob *job;        /* NULL when idle */
	gboolean accepted;    /* the method call was answered (or the job needs no answer) */
	gboolean job_changed; /* the Job's public fields changed: JOB_CHANGED follows the record */
	char *url;            /* the URL as given (commands, libcurl); never published */
	GPtrArray *early;     /* DfotaFotaUrc that raced the reply to AT+QFOTADL */
	guint timer_s;        /* the timer last armed */
	/* Before the journal opens (the module not yet identified), a job of ours may be on
	 * record: FOTA URCs with no job, and the restarts between them, are held for it. */
	gboolean journal_open;
	gboolean hold_expired;
	gboolean hold_armed;
	gboolean replaying; /* following held URCs: history, not live */
	GPtrArray *held;    /* DfotaFotaUrc; a private event value marks a restart */
} DfotaJobMachine;

void dfota_job_machine_init(DfotaJobMachine *m, const DfotaJobMachineConfig *cfg);
void dfota_job_machine_clear(DfotaJobMachine *m);

/* Feeds @ev to @m; appends the effects to @effects (a GArray of DfotaJmEffect made with
 * dfota_job_machine_effects_new()), to be carried out in order. */
void dfota_job_machine_step(DfotaJobMachine *m, const DfotaJmEvent *ev, GArray *effects);
GArray *dfota_job_machine_effects_new(void);
/* TRUE when @ev would start a job (a method call, a forced update, a held one) and so needs a
 * fresh job id in ev->id from the journal. */
gboolean dfota_job_machine_wants_id(const DfotaJobMachine *m, const DfotaJmEvent *ev);
/* How many fresh ids @ev may use: ev->id is the first of that many consecutive ones (the
 * held URCs a journal opening replays may start more than one job). */
guint dfota_job_machine_ids_wanted(const DfotaJobMachine *m, const DfotaJmEvent *ev);

/* The steps a kind goes through, in order, ending with DFOTA_JOB_STEP_NONE; @fallback: the
 * steps of the upgrade's fallback-via-host branch. */
const DfotaJobStep *dfota_job_machine_steps(DfotaJobKind kind, gboolean fallback);
const char *dfota_job_step_to_string(DfotaJobStep step);
/* The phase a step publishes on entry, or NULL when it keeps the previous one. */
const char *dfota_job_step_phase(DfotaJobStep step);
/* What a step does, one line (docs/design.md's table). */
const char *dfota_job_step_describe(DfotaJobStep step);
/* The markdown table of every kind's steps, as docs/design.md shows it. */
char *dfota_job_machine_steps_markdown(void);

G_END_DECLS
