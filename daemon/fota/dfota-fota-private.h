// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota-private.h: what dfota-fota.c (module side) and dfota-fota-host.c (gateway side)
 * share. Not installed, not used outside the fota layer. */
#pragma once

#include "dfota-fota.h"
#include "dfota-job.h"
#include "dfota-journal.h"

G_BEGIN_DECLS

struct _DfotaFota {
	GObject parent_instance;

	DfotaModem *modem;
	DfotaFetcher *fetcher;
	DfotaFotaConfig cfg;
	DfotaJournal *journal; /* opened once the module's IMEI is known */

	DfotaJob *job;     /* the current job, accepted or being started */
	gboolean accepted; /* the method's reply was sent (or the job needs none) */
	gboolean accepted_or_recorded;
	DfotaFotaStartedFunc started_cb;
	gpointer started_data;
	GCancellable *job_cancellable;      /* cancelled when the job ends: stale callbacks */
	GCancellable *transfer_cancellable; /* Cancel() of a host-side phase */
	GPtrArray *early_urcs;              /* FOTA URCs that raced the OK of AT+QFOTADL */
	/* FOTA URCs with no job before the journal opened, kept for a recorded job */
	GPtrArray *pre_journal_urcs;
	guint pre_journal_timer;
	gboolean pre_journal_expired;
	gboolean replaying;    /* handling pre_journal_urcs: history, not live */
	char *pending_command; /* the AT+QFOTADL to send after the network preflight */
	GBytes *package;       /* host kinds: the package, in memory (bounded) */
	guint timer_id;
	guint timer_seconds;
	GVariant *last_result;
};

/* Ties an async callback to the job that started it. */
typedef struct {
	DfotaFota *self;
	GCancellable *job_cancellable;
} FotaCall;

FotaCall *fota_call_new(DfotaFota *self);
void fota_call_free(FotaCall *call);
DfotaFota *fota_call_self(FotaCall *call);

gboolean fota_begin(DfotaFota *self, DfotaJobKind kind, const char *source,
                    DfotaFotaStartedFunc started, gpointer user_data);
void fota_accept(DfotaFota *self, DfotaJobStep step, const char *phase, guint percent);
void fota_refuse(DfotaFota *self, const GError *error);
void fota_set_step(DfotaFota *self, DfotaJobStep step, const char *phase, guint percent);
void fota_publish(DfotaFota *self, const char *phase, guint percent);
void fota_arm_timer(DfotaFota *self, guint seconds);
void fota_finish(DfotaFota *self, const GError *error, int code, const char *to_revision,
                 GVariant *extra);
void fota_finish_error(DfotaFota *self, GError *error, int code);
void fota_send_qfotadl(DfotaFota *self, const char *command);
void fota_handle_urc_line(DfotaFota *self, const char *line);
void fota_ensure_journal(DfotaFota *self);

/* dfota-fota-host.c: a host-side job found in the journal after a restart ends Interrupted
 * once the partial fota.pack is deleted. */
void fota_host_interrupted(DfotaFota *self);

G_END_DECLS
