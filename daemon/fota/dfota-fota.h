// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota.h: the firmware jobs of one modem (org.dfotad1.Fota, D-Bus agnostic).
 *
 * One job at a time. The job logic is the pure machine of dfota-job-machine.h (each kind an
 * explicit list of steps, each step journalled before it acts); DfotaFota turns its events
 * into the machine's input and its effects into I/O. DfotaFota is the only writer of phase,
 * percent, job and last-result; it emits "finished" exactly once per started job, on every
 * path.
 */
#pragma once

#include <gio/gio.h>
#include "dfota-modem.h"
#include "dfota-fetcher.h"

G_BEGIN_DECLS

#define DFOTA_TYPE_FOTA (dfota_fota_get_type())
G_DECLARE_FINAL_TYPE(DfotaFota, dfota_fota, DFOTA, FOTA, GObject)

typedef struct {
	char *state_dir;
	guint download_timeout_s; /* no DOWNLOADING URC for this long → Timeout */
	guint update_timeout_s;   /* no UPDATING URC for this long → Timeout */
	guint reboot_timeout_s;   /* module not back this long after END,0 → Timeout */
	guint upload_timeout_s;   /* the module's own inactivity bound in AT+QFUPL */
	guint fetch_timeout_s;    /* host download below 1 byte/s this long → FetchFailed */
	guint fetch_deadline_s;   /* host download not done this long after its start → Timeout */
	guint64 max_package_size;
	char *ca_file;
} DfotaFotaConfig;

void dfota_fota_config_clear(DfotaFotaConfig *cfg);

/* @fetcher is shared by all modems (one libcurl multi handle). */
DfotaFota *dfota_fota_new(DfotaModem *modem, DfotaFetcher *fetcher, const DfotaFotaConfig *cfg);

/* Called once a method's job was accepted (error NULL; the job's first Progress comes after
 * this returns) or refused (nothing started, no "finished" will follow). */
typedef void (*DfotaFotaStartedFunc)(GError *error, gpointer user_data);

/* Seed 3.1: AT+QFOTADL="<url>". */
void dfota_fota_upgrade(DfotaFota *self, const char *url, DfotaFotaStartedFunc started,
                        gpointer user_data);
/* As dfota_fota_upgrade() with @options a{sv}: "from-revision" s (RevisionMismatch before a byte
 * is sent), "fallback-via-host" b (the gateway fetches @url itself when the module's download
 * fails, same job), "sha256" s (the fallback's check; only with fallback-via-host). */
void dfota_fota_upgrade_with_options(DfotaFota *self, const char *url, GVariant *options,
                                     DfotaFotaStartedFunc started, gpointer user_data);
/* Seed 3.2: AT+QFOTADL=1 after checking fota.pack with AT+QFLST. */
void dfota_fota_upgrade_local(DfotaFota *self, DfotaFotaStartedFunc started, gpointer user_data);
/* Seed 3.3: AT+QFOTADL=2,"<url>"[,"<filename>"] (empty @filename omits it). */
void dfota_fota_fetch_mcu_file(DfotaFota *self, const char *url, const char *filename,
                               DfotaFotaStartedFunc started, gpointer user_data);
/* Host-side: fetch @url with libcurl (or read @fd), verify, upload as fota.pack, upgrade.
 * @options a{sv}: "sha256" s, "from-revision" s. */
void dfota_fota_upgrade_via_host(DfotaFota *self, const char *url, GVariant *options,
                                 DfotaFotaStartedFunc started, gpointer user_data);
void dfota_fota_upgrade_from_fd(DfotaFota *self, int fd, GVariant *options,
                                DfotaFotaStartedFunc started, gpointer user_data);

/* Cancels a job in a host-side phase; DFOTA_ERROR_NOT_CANCELLABLE otherwise. */
gboolean dfota_fota_cancel(DfotaFota *self, GError **error);

const DfotaFotaConfig *dfota_fota_get_config(DfotaFota *self);

/* The daemon is stopping, its main loop over: waits up to @timeout_ms for the journal's
 * record under way to reach the disk, then answers the method calls still waiting on a job
 * (NotReady) and carries out nothing more. Call before dropping the last reference: async
 * calls under way hold references whose callbacks never run once the loop has quit. */
void dfota_fota_shutdown(DfotaFota *self, guint timeout_ms);

/* TRUE while a job runs or is being started (passthrough commands get Busy). */
gboolean dfota_fota_is_busy(DfotaFota *self);

const char *dfota_fota_get_phase(DfotaFota *self);
guint dfota_fota_get_percent(DfotaFota *self);
GVariant *dfota_fota_get_job(DfotaFota *self);         /* a{sv}, never NULL */
GVariant *dfota_fota_get_last_result(DfotaFota *self); /* a{sv}, never NULL */

/*
 * Properties (notify): "phase" s, "percent" u, "job" a{sv}, "last-result" a{sv}.
 * Signals:
 *   "progress" (const char *phase, guint percent)  after the properties were updated
 *   "finished" (GVariant *result)                  after every property (and the modem's
 *                                                  State) was updated; exactly once per job
 */

G_END_DECLS
