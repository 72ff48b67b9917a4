// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness-modes.h: what the tests of the seed modes and the file system (test-files, test-mcu,
 * test-local, test-host) share on top of harness.h: checks of what the simulator received,
 * of the phases and results of a job, Files calls that pass an fd, helper processes (a second
 * simulator for a second modem, a TLS httpd) and the host-side upgrade's failure path.
 * Helpers whose name ends in _at take the modem's object path; the others act on Modem/0.
 */
#pragma once

#include "harness.h"

G_BEGIN_DECLS

#define HM_MODEM1_PATH "/org/dfotad1/Modem/1"

/* ---- what the simulator received ---- */

/* Fails the test when a line since @from is neither one the daemon may send at any time
 * (initialisation, identity and network refreshes, harness_wait_finished()'s "AT") nor starts
 * with one of @allowed (NULL-terminated, may be NULL). @who names the tty in the message. */
void hm_assert_lines_only(GPtrArray *lines, guint from, const char *const *allowed,
                          const char *who);

/* hm_assert_lines_only() on the harness's simulator. */
void hm_assert_tty_only(Harness *h, guint from, const char *const *allowed);

/* Number of lines (index >= @from) that start with @prefix. */
guint hm_count_lines(GPtrArray *lines, guint from, const char *prefix);
guint hm_count_tty(Harness *h, guint from, const char *prefix);

/* ---- waiting ---- */

/* Iterates the default main context until @cond holds or @timeout_ms passed. D-Bus messages
 * (the harness's filter wakes the context), replies of async calls and child exits wake it; a
 * slow tick re-checks conditions on files. Unlike the harness's own wait, it does not stop
 * early when a harness process exits. */
gboolean hm_wait_cond(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms);

/* ---- directories and helper processes ---- */

/* A directory of the test's own, for what must exist before the harness starts the daemon.
 * Removed when freed, kept (and named) when the test failed or DFOTA_TEST_KEEP is set. */
typedef struct {
	char *path;
} HmDir;

HmDir *hm_dir_new(void);
void hm_dir_free(HmDir *d);
char *hm_dir_file(HmDir *d, const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmDir, hm_dir_free)

/* A test CA and a certificate for 127.0.0.1 in @dir (ca.pem, server.pem, server.key). */
void hm_make_test_ca(const char *dir, const char *ca_name);

/* A helper process tracked by PID; it gets SIGTERM when the test process dies. */
typedef struct _HmAux HmAux;

/* Starts @argv with stdout and stderr into the file @out and waits until @ready_file exists
 * and holds @ready_text; fails the test when it exits or does not get there in time. */
HmAux *hm_aux_start(const char *const *argv, const char *out, const char *ready_file,
                    const char *ready_text);

/* SIGTERM (SIGKILL after a deadline); prints its output when the test failed. */
void hm_aux_free(HmAux *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmAux, hm_aux_free)

/* A second dfota-sim on its own pty in its own directory (an HmDir): revision
 * HARNESS_REV_FROM, an IMEI of its own, time scale 0.02, then @args (NULL-terminated, may be
 * NULL). */
typedef struct _HmSim HmSim;

HmSim *hm_sim_start(const char *const *args);
void hm_sim_free(HmSim *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmSim, hm_sim_free)

/* The lines this simulator received from the host (its log's "> " lines, prefix stripped),
 * and how many there are so far (a marker). */
GPtrArray *hm_sim_tty_lines(HmSim *s);
guint hm_sim_tty_mark(HmSim *s);

/* A harness whose daemon has Modem/0 on the harness's simulator and Modem/1 (HM_MODEM1_PATH)
 * on @sim, configured in a group "[modem @group]" with @modem_keys ("key=value\n" lines) after
 * the [daemon] group's @daemon_keys (the same form). Waits until Modem/1 is ready. */
Harness *hm_harness_with_second_modem(HmSim *sim, const char *daemon_keys, const char *group,
                                      const char *modem_keys);

/* ---- calls and UFS ---- */

/* Calls @iface.@method on the modem at @path over the main connection, passing @fd as the
 * message's only fd (none when @fd < 0). */
GVariant *hm_call_at(Harness *h, const char *path, const char *iface, const char *method,
                     GVariant *params, int fd, GError **error);
GVariant *hm_call_fd(Harness *h, const char *iface, const char *method, GVariant *params, int fd,
                     GError **error);

/* open(2) with O_CLOEXEC (mode 0600 when creating); fails the test when it fails. */
int hm_open(const char *path, int flags);

/* Files.Upload of the file at @file as @name. */
void hm_upload_at(Harness *h, const char *path, const char *file, const char *name, GError **error);
void hm_upload(Harness *h, const char *file, const char *name, GError **error);

/* Files.Download of @name into a new file in the harness's directory; its contents, or NULL
 * when the call failed. */
GBytes *hm_download_at(Harness *h, const char *path, const char *name, GError **error);
GBytes *hm_download(Harness *h, const char *name, GError **error);

/* Files.List: the size of @name, or -1 when it is not listed. */
gint64 hm_ufs_size_at(Harness *h, const char *path, const char *name);
gint64 hm_ufs_size(Harness *h, const char *name);

/* @size random bytes from @seed (reproducible) written to @file; returns them. */
GBytes *hm_random_file(const char *file, gsize size, guint32 seed);

/* ---- jobs ---- */

/* The phases the job on @path entered since @since, comma-separated, without the final
 * "idle"; checks every Progress: percent at most 100 and never decreasing within one stay in a
 * phase. *@fetch_max (may be NULL) gets the highest percent announced while fetching. */
char *hm_job_phases_at(Harness *h, const char *path, guint64 since, guint *fetch_max);
char *hm_job_phases(Harness *h, guint64 since);

/* After a round trip through the daemon: no Finished since @since. */
void hm_assert_no_finished(Harness *h, guint64 since);

/* Fota is idle with no job and LastResult @result; the modem is ready. */
void hm_assert_idle_with_result(Harness *h, GVariant *result);

/* Modem.Revision is @expected. */
void hm_assert_revision(Harness *h, const char *expected);

/* harness_wait_finished(), and the result printed into the test's log. */
GVariant *hm_wait_finished(Harness *h, guint64 since, guint timeout_ms);

/* The same for the modem at @path: waits for its Finished, then does a round trip through the
 * daemon and asserts that it came exactly once. Returns the result dictionary. */
GVariant *hm_wait_finished_at(Harness *h, guint64 since, const char *path, guint timeout_ms);

/* A result of success: "success" true, "code" 0, "error" empty. */
void hm_assert_succeeded(GVariant *result);

/* A result of failure with the error org.dfotad1.Error.@error_name. */
void hm_assert_failed(GVariant *result, const char *error_name);

/* ---- host-side upgrades ---- */

/* UpgradeViaHost's options: "sha256" and "from-revision" when not NULL. */
GVariant *hm_options(const char *sha256, const char *from_revision);

char *hm_sha256_of(const char *file);

/* The file @name in the harness's HTTP root (where harness_make_package() writes). */
char *hm_www_path(Harness *h, const char *name);

/* One UpgradeViaHost that is accepted and ends with @error_name, code -1, before anything
 * reached the module; Fota is idle again and the revision unchanged. Returns the result. */
GVariant *hm_via_host_fails(Harness *h, const char *url, GVariant *opts, const char *error_name);

G_END_DECLS
