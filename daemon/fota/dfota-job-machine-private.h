// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-machine-private.h: what dfota-job-machine.c (module side) and
 * dfota-job-machine-host.c (gateway side, restarts) share: appending effects, entering steps,
 * publishing, finishing. Not used outside the machine. */
#pragma once

#include "dfota-job-machine.h"

G_BEGIN_DECLS

DfotaJmEffect *jm_push(GArray *fx, DfotaJmEffectType type);
G_GNUC_PRINTF(3, 4) void jm_fx_log(GArray *fx, GLogLevelFlags level, const char *format, ...);
void jm_arm(DfotaJobMachine *m, GArray *fx, guint seconds);
void jm_journal_job(DfotaJobMachine *m, GArray *fx);
void jm_progress(GArray *fx, const char *phase, guint percent);
void jm_publish(DfotaJobMachine *m, GArray *fx, const char *phase, guint percent);
void jm_set_step(DfotaJobMachine *m, GArray *fx, DfotaJobStep step, guint percent);
void jm_release(DfotaJobMachine *m);
void jm_refuse(DfotaJobMachine *m, GArray *fx, const GError *error);
void jm_finish(DfotaJobMachine *m, GArray *fx, gint64 now, const GError *error, int code,
               const char *to_revision, GVariant *extra);
void jm_verify(DfotaJobMachine *m, GArray *fx);
DfotaJobStep jm_next_step(const DfotaJob *job, DfotaJobStep step);
void jm_start_host_fetch(DfotaJobMachine *m, GArray *fx);
G_GNUC_PRINTF(5, 6)
void jm_fail(DfotaJobMachine *m, GArray *fx, gint64 now, int code, const char *format, ...);
void jm_replay_held(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev, guint64 id);
void jm_on_host_progress(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);
void jm_on_fetch_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);
void jm_on_upload_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);
void jm_on_delete_done(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);
void jm_on_resume(DfotaJobMachine *m, GArray *fx, const DfotaJmEvent *ev);

G_END_DECLS
