// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-journal.h: what the daemon must not forget, per modem, in the state directory.
 *
 * One file per modem identity (port and IMEI, so a record never attaches to another
 * module) holding the next job id, the job in progress with the step it reached, and the
 * last result. Every write replaces the whole file atomically (temp file, fsync, rename,
 * fsync of the directory): after a power cut the file is either the old or the new version,
 * never a mix. The state directory is the only thing that may write these files, but a disk
 * can corrupt them and a hostile local user with access to it can replace them: every file
 * that is not exactly what this code writes (not a regular file, a symbolic link, too large,
 * not UTF-8, not the GVariant text of the record, a key of the wrong type, an unknown job
 * kind, a phase or step that does not exist, an id that could wrap) is moved aside to
 * <name>.corrupt-<µs since the epoch> with one warning that names it and the reason, and the
 * journal starts empty; ids then continue above the time in µs (and above the old file's
 * next-id when that alone was readable), so an id that may have been issued is never reused. A record is written only when a job changes step (a handful of times per
 * job), by the daemon on a worker thread (the _async writes below); percent updates cost no
 * fsync (see below). Job ids cost none either, except when a block of them is reserved: at
 * open and once every 64 ids, one synchronous durable write on the caller's (main) loop.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DfotaJournal DfotaJournal;

/* The largest record and side file read back; anything larger is moved aside unread. */
#define DFOTA_JOURNAL_MAX_BYTES (64 * 1024)
#define DFOTA_JOURNAL_PROGRESS_MAX_BYTES 64
/* Ids stay below this (2^62): far above any count of jobs and above the time-derived ids
 * (µs since the epoch), far enough below 2^64 that taking ids can never wrap. */
#define DFOTA_JOURNAL_ID_MAX (G_GUINT64_CONSTANT(1) << 62)

/* Creates @state_dir (mode 0700, with its parents) if needed and checks that it is a
 * directory the daemon can write: FALSE with a message that names it otherwise. */
gboolean dfota_journal_prepare_dir(const char *state_dir, GError **error);

/* Parses and checks the text of a record (pure: no I/O), what dfota_journal_open() does with
 * the bytes it read. TRUE with *@next_id (>= 1, < DFOTA_JOURNAL_ID_MAX, above every id in the
 * record), *@job and *@last_result (a{sv} with only the known keys, each of its documented
 * type, or NULL) when the record is sound; unknown keys are dropped. FALSE with
 * G_IO_ERROR_INVALID_DATA and the reason otherwise, with *@job and *@last_result NULL and
 * *@next_id the record's next-id when that alone could be read and is in range, else 0. */
gboolean dfota_journal_parse(const char *text, gsize len, guint64 *next_id, GVariant **job,
                             GVariant **last_result, GError **error);

/* Parses the side file's line (pure). TRUE with the job id, phase (of at most 24 characters,
 * transfer full) and percent (0-100) it names; FALSE for anything else (a torn write). */
gboolean dfota_journal_parse_progress(const char *text, gsize len, guint64 *job_id, char **phase,
                                      guint *percent);

/* Opens (creating @state_dir with mode 0700 if needed) the record of the modem on @port
 * with @imei. Never fails: a bad record is moved aside and an empty one used; problems are
 * logged. */
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

/* The same two writes without waiting for the disk on the caller's main loop: the record is
 * written on a worker thread (dfota-journal-writer.h), writes land in the order made, and
 * @done runs in the caller's main context once the record is on disk (@error NULL) or could
 * not be written (@error set, logged). What depends on the record (a Progress of the step, a
 * Finished) is published from @done, never before. The in-memory record (get_job(),
 * get_last_result()) changes at once. @done is not called when the journal is freed first
 * (freeing waits for the write itself); @destroy frees @user_data in every case. */
typedef void (*DfotaJournalDoneFunc)(const GError *error, gpointer user_data);
void dfota_journal_set_job_async(DfotaJournal *self, GVariant *job, DfotaJournalDoneFunc done,
                                 gpointer user_data, GDestroyNotify destroy);
void dfota_journal_finish_job_async(DfotaJournal *self, GVariant *result, DfotaJournalDoneFunc done,
                                    gpointer user_data, GDestroyNotify destroy);

/* Waits, up to @end_time (g_get_monotonic_time()), for the asynchronous writes under way to
 * reach the disk: the daemon stopping. TRUE when none is left; their @done still comes
 * through the main context, or never if the journal is freed first. */
gboolean dfota_journal_flush(DfotaJournal *self, gint64 end_time);

G_END_DECLS
