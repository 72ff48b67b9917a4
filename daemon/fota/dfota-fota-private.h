// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota-private.h: what dfota-fota.c (module side) and dfota-fota-host.c (gateway side)
 * share. Not installed, not used outside the fota layer. */
#pragma once

#include "dfota-fota.h"
#include "dfota-job.h"
#include "dfota-job-machine.h"
#include "dfota-journal.h"

G_BEGIN_DECLS

struct _DfotaFota {
	GObject parent_instance;

	DfotaModem *modem;
	DfotaFetcher *fetcher;
	DfotaFotaConfig cfg;
	DfotaJournal *journal; /* opened once the module's IMEI is known */

	DfotaJobMachine machine; /* the job logic; everything here is I/O around it */
	DfotaFotaStartedFunc started_cb;
	gpointer started_data;
	int pending_fd; /* UpgradeFromFile: read once the job is accepted */
	guint64 pending_size;
	GCancellable *job_cancellable;      /* cancelled when the job ends: stale callbacks */
	GCancellable *transfer_cancellable; /* Cancel() of a host-side phase */
	GBytes *package;                    /* host kinds: the package, in memory (bounded) */
	guint timer_id;
	guint hold_timer_id; /* DFOTA_JM_FX_ARM_HOLD_TIMER */
	char *phase;         /* published: what the last Progress said */
	guint percent;
	GVariant *last_result;
	GVariant
	        *job_shown; /* the Job property from ACCEPT to FINISH (the machine's may be gone) */

	/* The journal is written on a worker thread (dfota_journal_set_job_async()); the effects
	 * after a record wait for it to be on disk, and so do the events that come meanwhile:
	 * the machine sees them, and its effects are carried out, in the order they came. */
	GArray *pending_fx; /* DfotaJmEffect of the batch being carried out, or NULL */
	guint pending_pos;  /* the next one */
	gint held_accept;   /* index in pending_fx of an ACCEPT held for the next record, or -1 */
	gboolean journal_busy; /* a record is on its way to the disk */
	gboolean running;      /* carrying out effects: an event from inside waits its turn */
	GQueue queued;         /* FotaQueued: events that came while busy or running */
	guint timer_gen;       /* ARM/CANCEL_TIMER: a queued expiry of an older timer is stale */
	guint hold_gen;        /* the same for the hold timer */
	gboolean disposed;     /* no more effects: the modem is gone */
};

/* Ties an async callback to the job that started it. */
typedef struct {
	DfotaFota *self;
	GCancellable *job_cancellable;
} FotaCall;

FotaCall *fota_call_new(DfotaFota *self);
void fota_call_free(FotaCall *call);
DfotaFota *fota_call_self(FotaCall *call);

/* Feeds @ev (now filled in) to the machine and carries out its effects. */
void fota_feed(DfotaFota *self, DfotaJmEvent *ev);
/* Starts a job of a method call (DFOTA_JM_EV_START with the modem's state filled in). */
void fota_start(DfotaFota *self, DfotaJmEvent *ev, DfotaFotaStartedFunc started,
                gpointer user_data);
/* The same for UpgradeFromFile: @fd (taken) is kept for the job when it starts, closed when
 * the call is refused. */
void fota_start_fd(DfotaFota *self, DfotaJmEvent *ev, int fd, guint64 size,
                   DfotaFotaStartedFunc started, gpointer user_data);

/* dfota-fota.c: one effect of the machine as I/O; the end of a job, published once its
 * result is on disk. */
void fota_run_effect(DfotaFota *self, DfotaJmEffect *fx);
void fota_finish_publish(DfotaFota *self, GVariant *result);
/* dfota-fota-order.c: records @record (a step) or, with @finish, the result @record, on the
 * journal's worker; what follows waits for it. */
void fota_record_write(DfotaFota *self, GVariant *record, gboolean finish);
/* TRUE when a record is on its way to the disk and the effects waiting for it start a host
 * transfer (HOST_FETCH or HOST_UPLOAD). */
gboolean fota_order_transfer_pending(DfotaFota *self);
/* Frees what the queue of events holds (finalize). */
void fota_order_clear(DfotaFota *self);

/* dfota-fota-host.c: the gateway-side I/O. */
void fota_host_fetch(DfotaFota *self, const char *url);
void fota_host_upload(DfotaFota *self);
void fota_host_delete_partial(DfotaFota *self);
/* The options of the host kinds and UpgradeWithOptions; FALSE with InvalidArgument. */
typedef struct {
	char *sha256;
	char *from_revision;
	gboolean fallback_via_host;
} FotaOptions;
void fota_options_clear(FotaOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FotaOptions, fota_options_clear)
gboolean fota_parse_options(GVariant *options, gboolean module_download, FotaOptions *out,
                            GError **error);

G_END_DECLS
