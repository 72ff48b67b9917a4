/* dfota-journal.h: what the daemon must not forget, per modem, in the state directory.
 *
 * One file per modem identity (port and IMEI, so a record never attaches to another
 * module) holding the next job id, the job in progress with the step it reached, and the
 * last result. Every write replaces the whole file atomically (temp file, fsync, rename):
 * after a power cut the file is either the old or the new version, never a mix. A file that
 * cannot be parsed is moved aside with a warning and the journal starts empty.
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

/* Takes the next job id (increasing, starting at 1) and stores the counter durably. */
guint64 dfota_journal_take_job_id(DfotaJournal *self, GError **error);

/* The job in progress (a{sv}), or NULL. Transfer full. */
GVariant *dfota_journal_get_job(DfotaJournal *self);
/* Records @job (a{sv}, consumed if floating) as the job in progress, durably. */
gboolean dfota_journal_set_job(DfotaJournal *self, GVariant *job, GError **error);

/* The same without fsync: still atomic (a crash leaves the old or the new record), and what a
 * restarted daemon reads, but a power cut may lose it. For percent updates, which a power cut
 * resets anyway (the module restarts its update at 0). */
gboolean dfota_journal_set_job_lazy(DfotaJournal *self, GVariant *job, GError **error);

/* The last result (a{sv}), or NULL. Transfer full. */
GVariant *dfota_journal_get_last_result(DfotaJournal *self);
/* Stores @result as the last result and forgets the job in progress, in one write. */
gboolean dfota_journal_finish_job(DfotaJournal *self, GVariant *result, GError **error);

G_END_DECLS
