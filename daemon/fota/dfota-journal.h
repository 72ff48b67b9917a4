/* dfota-journal.h: what the daemon must not forget, per modem, in the state directory.
 *
 * One file per modem identity (port and IMEI, so a record never attaches to another
 * module) holding the next job id, the job in progress with the step it reached, and the
 * last result. Every write replaces the whole file atomically (temp file, fsync, rename,
 * fsync of the directory): after a power cut the file is either the old or the new version,
 * never a mix. A file that cannot be parsed is moved aside with a warning and the journal
 * starts empty. The main loop writes only when a job changes step (a handful of times per
 * job); percent updates and job ids cost no fsync (see below).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DfotaJournal DfotaJournal;

/* Opens (creating @state_dir with mode 0700 if needed) the record of the modem on @port
 * with @imei. Never fails: an unreadable record is moved aside and an empty one used;
 * problems are logged. */
DfotaJournal *dfota_journal_open(const char *state_dir, const char *port, const char *imei);
void dfota_journal_free(DfotaJournal *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfotaJournal, dfota_journal_free)

const char *dfota_journal_get_path(DfotaJournal *self);

/* Takes the next job id (increasing, starting at 1, never reused). Ids come from a block
 * reserved on disk when the journal opens, so this normally writes nothing. */
guint64 dfota_journal_take_job_id(DfotaJournal *self);

/* The job in progress (a{sv}), or NULL, with the percent of the side file when that names the
 * same job and phase and is further along. Transfer full. */
GVariant *dfota_journal_get_job(DfotaJournal *self);
/* Records @job (a{sv}, consumed if floating, NULL for none) as the job in progress, durably,
 * before it returns: a step is on disk before the daemon publishes or acts on it. */
gboolean dfota_journal_set_job(DfotaJournal *self, GVariant *job, GError **error);

/* Records how far the job in progress got within its phase, cheaply: a few bytes written in
 * place to a side file next to the record, with no temp file and no fsync, so that percent
 * updates (up to a hundred per phase) cost the main loop microseconds and the flash nothing
 * worth counting. A daemon killed and restarted reads it back (the kernel still holds it); a
 * power cut may lose or tear it, which costs nothing: the record itself is never touched,
 * a side file that does not parse or does not name the recorded job and phase is ignored,
 * and the module restarts its update at 0 after a power cut anyway. */
void dfota_journal_set_progress(DfotaJournal *self, guint64 job_id, const char *phase,
                                guint percent);

/* The last result (a{sv}), or NULL. Transfer full. */
GVariant *dfota_journal_get_last_result(DfotaJournal *self);
/* Stores @result as the last result and forgets the job in progress, in one durable write. */
gboolean dfota_journal_finish_job(DfotaJournal *self, GVariant *result, GError **error);

G_END_DECLS
