// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-journal-writer.h: the journal's durable writes, off the caller's main loop.
 *
 * A write replaces a file atomically and durably (temp file, fsync, rename, fsync of the
 * directory: g_file_set_contents_full() with CONSISTENT | DURABLE), 1-3 ms of disk waits
 * that would otherwise hold every modem's commands on the daemon's main loop. Writes run on a
 * worker thread, one at a time and in the order submitted (a later record never lands
 * before an earlier one); each reports back in the main context of its submitter, only
 * once the file is on disk, which is what lets the caller publish what depends on it then.
 * Internal to the journal (dfota-journal.c).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DfotaJournalWriter DfotaJournalWriter;

/* @error: NULL when the file is on disk; owned by the writer. Runs in the submitter's
 * thread-default main context, never from inside dfota_journal_writer_submit(). */
typedef void (*DfotaJournalWrittenFunc)(const GError *error, gpointer user_data);

/* Starts the writer's thread; when it cannot, writes are made synchronously by the submitter
 * (logged once), still reported through the main context. */
DfotaJournalWriter *dfota_journal_writer_new(void);

/* Writes @text (taken) to @path after every write submitted before. @done gets the outcome
 * unless the writer is freed first; @destroy (may be NULL) frees @user_data in every case. */
void dfota_journal_writer_submit(DfotaJournalWriter *self, const char *path, char *text,
                                 DfotaJournalWrittenFunc done, gpointer user_data,
                                 GDestroyNotify destroy);

/* Blocks until every submitted write has reached the disk (or failed); their @done
 * callbacks still come later through the main context. For a synchronous write that must not
 * be overtaken by an older one. */
void dfota_journal_writer_wait(DfotaJournalWriter *self);

/* As dfota_journal_writer_wait() but gives up at @end_time (g_get_monotonic_time()); TRUE
 * when every write is over. */
gboolean dfota_journal_writer_wait_until(DfotaJournalWriter *self, gint64 end_time);

/* Tests: writes are made as if the worker thread could not be started. */
void dfota_journal_writer_test_no_thread(DfotaJournalWriter *self);

/* Waits for the writes under way (a step submitted is on disk when the daemon stops), then
 * lets go: @done callbacks not yet delivered are dropped, their @destroy still called. */
void dfota_journal_writer_free(DfotaJournalWriter *self);

/* The synchronous write every submitted one does: the file is the old or the new text after
 * a power cut, never a mix. */
gboolean dfota_journal_write_file(const char *path, const char *text, GError **error);

G_END_DECLS
