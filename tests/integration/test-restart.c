// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-restart.c: jobs survive the daemon: SIGKILL mid-download,
 * mid-update and mid-reboot with a restart on the same state directory, a power cut while
 * the daemon itself restarts, a forced upgrade with no journalled job, a host-side job cut
 * during its upload or right after AT+QFOTADL=1, and a corrupt journal. */
#include "fault-helpers.h"

#define REV_3 "BC65JAR01A03"

/* Percent never decreases within one stay in a phase (trace "phase:pct phase:pct ..."). */
static void
assert_monotonic(const char *trace)
{
	g_auto(GStrv) items = g_strsplit(trace, " ", -1);
	g_autofree char *phase = NULL;
	guint last = 0;

	for (guint i = 0; items[i] != NULL && *items[i] != '\0'; i++) {
		char *colon = strrchr(items[i], ':');
		guint pct;

		g_assert_nonnull(colon);
		*colon = '\0';
		pct = (guint)atoi(colon + 1);
		if (g_strcmp0(phase, items[i]) == 0 && pct < last)
			g_error("%s went back from %u to %u: %s", phase, last, pct, trace);
		g_free(phase);
		phase = g_strdup(items[i]);
		last = pct;
	}
}

static void
assert_upgrade_result(GVariant *result, guint64 id, const char *kind, const char *from,
                      const char *to)
{
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, kind);
	if (id != 0)
		g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, from);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, to);
}

static void
assert_idle_after(Harness *h, GVariant *result, const char *revision)
{
	g_autoptr(GVariant) last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_autoptr(GVariant) rev = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");
	g_autofree char *state = fh_state(h);

	g_assert_true(g_variant_equal(last, result));
	g_assert_cmpuint(fh_job_id(h), ==, 0);
	g_assert_cmpstr(state, ==, "ready");
	if (revision != NULL)
		g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, revision);
}

/* Percent of the last (or first) Progress of @phase since @since; G_MAXUINT when none. */
static guint
phase_percent(Harness *h, guint64 since, const char *phase, gboolean first)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint found = G_MAXUINT;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *p;
		guint32 pct;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0)
			continue;
		g_variant_get(ev->body, "(&su)", &p, &pct);
		if (strcmp(p, phase) != 0)
			continue;
		found = pct;
		if (first)
			break;
	}
	return found;
}

static guint
last_percent(Harness *h, guint64 since, const char *phase)
{
	return phase_percent(h, since, phase, FALSE);
}

static guint
first_percent(Harness *h, guint64 since, const char *phase)
{
	return phase_percent(h, since, phase, TRUE);
}

typedef struct {
	const char *phase;
	guint percent;
} KillPoint;

/* SIGKILL while the job is in @kp->phase at >= @kp->percent, restart on the same state dir:
 * same job id, remaining progress reported, one Finished with the true outcome. */
static void
test_kill_restart(gconstpointer data)
{
	const KillPoint *kp = data;
	/* 100 ms module steps, so that each phase lasts long enough to be hit. */
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *after = NULL;
	g_autofree char *all = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since, restarted, id;
	guint last_before;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	id = fh_job_id(h);
	g_assert_cmpuint(id, >, 0);
	g_assert_true(fh_wait_progress(h, since, kp->phase, kp->percent, 60000));
	fh_daemon_kill(h);
	restarted = harness_mark(h);
	last_before = last_percent(h, since, kp->phase);
	fh_daemon_start(h);

	result = harness_wait_finished(h, since, 90000);
	all = fh_progress_trace(h, since);
	after = fh_progress_trace(h, restarted);
	g_test_message("progress before and after the restart: %s", all);
	g_test_message("after the restart: %s", after);
	assert_upgrade_result(result, id, "upgrade", HARNESS_REV_FROM, HARNESS_REV_TO);
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	assert_idle_after(h, result, HARNESS_REV_TO);
	assert_monotonic(after);
	/* The restarted daemon reported the job's remaining progress, from where it was. */
	if (strcmp(kp->phase, "rebooting") == 0) {
		g_assert_true(fh_progress_seen(h, restarted, "verifying", 0));
	} else {
		/* How far the module got while no daemon listened depends on how fast the new
		 * one starts (valgrind): the rest of the update must be reported in any case. */
		g_assert_true(fh_progress_seen(h, restarted, "updating", 100));
		g_assert_true(fh_progress_seen(h, restarted, "rebooting", 0));
	}
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	/* Contract: Percent never decreases within one stay in a phase, and a restart of the
	 * daemon is no new stay for the client watching it. */
	if (strcmp(kp->phase, "rebooting") != 0 &&
	    first_percent(h, restarted, kp->phase) < last_before)
		g_test_fail_printf("Percent went back after the restart: %s was at %u before the "
		                   "kill, the restarted daemon announced %u (progress: %s)",
		                   kp->phase, last_before, first_percent(h, restarted, kp->phase),
		                   all);
}

/* Power cut while the daemon is down mid-update: on its return it sees the module in forced
 * upgrade mode and still reports everything under the original job. */
static void
test_power_cut_while_restarting(void)
{
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *after = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since, restarted, id;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	id = fh_job_id(h);
	g_assert_true(fh_wait_progress(h, since, "updating", 30, 60000));
	fh_daemon_kill(h);
	harness_control(h, "powercut now");
	restarted = harness_mark(h);
	fh_daemon_start(h);

	result = harness_wait_finished(h, since, 90000);
	after = fh_progress_trace(h, restarted);
	g_test_message("after the restart: %s", after);
	assert_upgrade_result(result, id, "upgrade", HARNESS_REV_FROM, HARNESS_REV_TO);
	assert_idle_after(h, result, HARNESS_REV_TO);
	assert_monotonic(after);
	/* The module resumed from 0 (seed 3.1 note), reported under the same job. */
	g_assert_true(fh_progress_seen(h, restarted, "updating", 0));
	g_assert_true(fh_progress_seen(h, restarted, "updating", 100));
	g_assert_true(strstr(after, "updating:0") != NULL);
}

/* A module in forced-upgrade mode that no journal knows about: a job of kind forced-resume
 * with its own Finished. The job that put it there belonged to a daemon whose state is gone. */
static void
test_forced_resume_unknown(void)
{
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *state = NULL;
	g_autoptr(GPtrArray) files = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since, restarted, old_id;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	old_id = fh_job_id(h);
	g_assert_true(fh_wait_progress(h, since, "updating", 10, 60000));
	fh_daemon_kill(h);
	/* Another daemon instance: nothing of the old one's state survives. */
	state = fh_state_dir(h);
	files = fh_state_files(h);
	for (guint i = 0; i < files->len; i++) {
		g_autofree char *path = g_build_filename(state, files->pdata[i], NULL);

		g_assert_cmpint(g_unlink(path), ==, 0);
	}
	harness_control(h, "powercut now");
	restarted = harness_mark(h);
	fh_daemon_start(h);

	result = harness_wait_finished(h, restarted, 90000);
	{
		g_autofree char *after_trace = fh_progress_trace(h, restarted);
		g_test_message("after the restart: %s", after_trace);
	}
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "forced-resume");
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	/* The module came up updating before this daemon ever read its revision: the old one
	 * may be unknown, but never something else. */
	if (*harness_dict_str(result, "from-revision") != '\0')
		g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpuint(harness_dict_uint64(result, "id"), >, 0);
	g_test_message("old job id %" G_GUINT64_FORMAT ", forced-resume id %" G_GUINT64_FORMAT,
	               old_id, harness_dict_uint64(result, "id"));
	assert_idle_after(h, result, HARNESS_REV_TO);
	g_assert_true(fh_progress_seen(h, restarted, "updating", 100));
	/* One Finished in all: the old job had no record left to finish. */
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
}

static gboolean
has_file(GVariant *files, const char *name)
{
	GVariantIter iter;
	const char *n;
	guint64 size;

	g_variant_iter_init(&iter, files);
	while (g_variant_iter_next(&iter, "(&st)", &n, &size)) {
		if (strcmp(n, name) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Starts UpgradeViaHost of @url: its job id; @since and @tty_mark from just before. */
static guint64
start_via_host(Harness *h, const char *url, guint64 *since, guint *tty_mark)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	guint64 id;

	*since = harness_mark(h);
	*tty_mark = harness_tty_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url,
	                                   g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
	                     NULL, &error);
	g_assert_no_error(error);
	id = fh_job_id(h);
	g_assert_cmpuint(id, >, 0);
	return id;
}

/* UpgradeViaHost cut by a restart while uploading: Interrupted, the partial fota.pack gone. */
static void
test_host_upload_interrupted(void)
{
	/* 300 ms per 1 KiB block of flash writing: the upload of ~20 KiB takes seconds. */
	const char *const sim_args[] = { "--ack-turnaround", "300", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) files = NULL;
	guint64 since, restarted, id;
	guint tty_mark;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	id = start_via_host(h, url, &since, &tty_mark);
	g_assert_true(fh_wait_progress(h, since, "uploading", 10, 60000));
	g_assert_cmpint(harness_tty_find(h, tty_mark, "AT+QFUPL="), >=, 0);
	fh_daemon_kill(h);
	restarted = harness_mark(h);
	fh_daemon_start(h);

	/* The resumed job is at uploading but has no transfer left to stop (it only deletes the
	 * partial file): Cancel is refused, whether it comes before or after the deletion. */
	g_assert_true(fh_wait_progress(h, restarted, "uploading", 0, 35000));
	{
		g_autoptr(GVariant) cancel =
		        harness_call(h, NULL, HARNESS_IFACE_FOTA, "Cancel", NULL, NULL, &error);

		harness_assert_error(error, "NotCancellable");
		g_clear_error(&error);
	}

	/* Generous for a module that sits out its QFUPL timeout (10 s) before answering. */
	if (!harness_wait_signals(h, since, HARNESS_IFACE_FOTA, "Finished", 1, 35000)) {
		g_test_fail_printf("no Finished within 35 s of the restart: the module is still in "
		                   "AT+QFUPL data mode? (see dfotad.log and sim.log)");
		return;
	}
	result = harness_wait_finished(h, since, 1000);
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "Interrupted"));
	g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-via-host");
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_nonnull(strstr(harness_dict_str(result, "message"), "fota.pack"));
	g_assert_true(fh_wait_state(h, "ready", 30000));

	files = harness_call(h, NULL, HARNESS_IFACE_FILES, "List", NULL, NULL, &error);
	g_assert_no_error(error);
	g_test_message("UFS after the interrupted job: %s", fh_printed(files));
	{
		g_autoptr(GVariant) list = g_variant_get_child_value(files, 0);

		g_assert_false(has_file(list, "fota.pack"));
	}
}

/* A host job killed once the package is in UFS and AT+QFOTADL=1 has gone out: with "hold
 * start" the module answers OK and waits; with "hold ok" its OK waits too, so the killed
 * daemon never saw it. Either way the module then flashes the package while the daemon is
 * down or restarting: the restarted daemon follows the update (it neither deletes fota.pack
 * under the module nor calls the job interrupted) and reports one truthful Finished. */
typedef struct {
	const char *hold;       /* "start" or "ok" */
	gboolean release_later; /* after the restarted daemon took the job up again */
} KillAfterCommand;

static void
test_kill_after_command(gconstpointer data)
{
	const KillAfterCommand *kc = data;
	const char *hold = kc->hold;
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *trace = NULL;
	guint64 since, restarted, id;
	guint tty_mark;
	int command;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	harness_control(h, "hold %s", hold);
	id = start_via_host(h, url, &since, &tty_mark);
	g_assert_cmpint(harness_wait_tty(h, tty_mark, "(AT+QFOTADL accepted", 60000), >=, 0);
	if (strcmp(hold, "start") == 0)
		/* the daemon took the OK: the package is the module's now */
		g_assert_true(fh_wait_progress(h, since, "updating", 0, 30000));
	else
		g_assert_false(fh_progress_seen(h, since, "updating", 0));
	fh_daemon_kill(h);
	restarted = harness_mark(h);
	if (!kc->release_later) {
		/* the module goes on while no daemon listens: its URCs wait in the pty */
		harness_control(h, "release");
		fh_daemon_start(h);
	} else {
		/* the restarted daemon follows the job from its record, then hears it live */
		fh_daemon_start(h);
		g_assert_true(fh_wait_progress(h, restarted, "updating", 0, 60000));
		harness_control(h, "release");
	}

	result = harness_wait_finished(h, since, 90000);
	trace = fh_progress_trace(h, since);
	g_test_message("progress: %s", trace);
	assert_upgrade_result(result, id, "upgrade-via-host", HARNESS_REV_FROM, HARNESS_REV_TO);
	assert_idle_after(h, result, HARNESS_REV_TO);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	/* no AT+QFDEL of the package the module was flashing */
	command = harness_tty_find(h, tty_mark, "AT+QFOTADL=1");
	g_assert_cmpint(command, >=, 0);
	g_assert_cmpint(harness_tty_find(h, (guint)command, "AT+QFDEL=\"fota.pack\""), ==, -1);
}

/* A journal that cannot be parsed is moved aside with a warning; the daemon works on. */
static void
test_corrupt_journal(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = NULL;
	g_autofree char *url2 = NULL;
	g_autofree char *state = fh_state_dir(h);
	g_autofree char *log = NULL;
	g_autoptr(GPtrArray) files = NULL;
	g_autoptr(GPtrArray) after = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) last = NULL;
	guint64 since;
	guint journals = 0, aside = 0;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	harness_make_package(h, "update2.pack", "BC65", HARNESS_REV_TO, REV_3, NULL);
	url = harness_url(h, "update.pack");
	url2 = harness_url(h, "update2.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	result = harness_wait_finished(h, since, 60000);
	g_assert_true(harness_dict_bool(result, "success"));
	g_clear_pointer(&result, g_variant_unref);

	fh_daemon_kill(h);
	files = fh_state_files(h);
	for (guint i = 0; i < files->len; i++) {
		g_autofree char *path = g_build_filename(state, files->pdata[i], NULL);
		g_autoptr(GError) error = NULL;

		if (!g_str_has_suffix(files->pdata[i], ".journal"))
			continue;
		journals++;
		g_file_set_contents(path, "{'next-id': <uint64 7>, 'job': <{'id': <", -1, &error);
		g_assert_no_error(error);
	}
	g_assert_cmpuint(journals, ==, 1);
	fh_daemon_start(h);
	g_assert_true(fh_wait_state(h, "ready", 30000));

	after = fh_state_files(h);
	for (guint i = 0; i < after->len; i++) {
		g_test_message("state file: %s", (char *)after->pdata[i]);
		if (strstr(after->pdata[i], ".journal.corrupt-") != NULL)
			aside++;
	}
	g_assert_cmpuint(aside, ==, 1);
	log = fh_daemon_log(h);
	g_assert_nonnull(strstr(log, "moved aside"));
	last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_assert_cmpuint(g_variant_n_children(last), ==, 0);

	/* And it still runs jobs. */
	since = harness_mark(h);
	fh_upgrade(h, url2);
	result = harness_wait_finished(h, since, 60000);
	assert_upgrade_result(result, 0, "upgrade", HARNESS_REV_TO, REV_3);
	assert_idle_after(h, result, REV_3);
}

static const KillPoint kill_downloading = { "downloading", 30 };
static const KillPoint kill_updating = { "updating", 30 };
static const KillPoint kill_rebooting = { "rebooting", 0 };

static void
stop_call_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GError **error = data;
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, error);

	if (reply) /* a reply is a failure of the test too: answered as NotReady below */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the call succeeded");
}

/* A method call whose job is still being started when the daemon is stopped (SIGTERM) gets
 * an answer, NotReady, rather than being dropped with the daemon's connection. */
static void
test_stop_answers_pending_call(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = harness_url(h, "update.pack");
	g_autoptr(GError) error = NULL;
	GError *call_error = NULL;
	g_autofree char *name = NULL;
	guint tty_mark = harness_tty_mark(h);
	GSubprocess *proc;

	/* The module answers nothing (whatever else the daemon may send first): the job waits
	 * in its preflight, whose first command is AT+COPS?. */
	harness_control(h, "silence on");
	g_dbus_connection_call(harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH,
	                       HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url), NULL,
	                       G_DBUS_CALL_FLAGS_NONE, 30000, NULL, stop_call_done, &call_error);
	g_assert_cmpint(harness_wait_tty(h, tty_mark, "AT+COPS?", 10000), >=, 0);
	proc = g_steal_pointer(&h->daemon_proc);
	g_subprocess_send_signal(proc, SIGTERM);
	while (!call_error)
		g_main_context_iteration(NULL, TRUE);
	g_test_message("the call's answer: %s", call_error->message);
	g_assert_true(g_dbus_error_is_remote_error(call_error));
	name = g_dbus_error_get_remote_error(call_error);
	g_assert_cmpstr(name, ==, "org.dfotad1.Error.NotReady");
	g_clear_error(&call_error);
	g_subprocess_wait(proc, NULL, &error);
	g_assert_no_error(error);
	g_object_unref(proc);
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_data_func("/restart/kill-downloading", &kill_downloading, test_kill_restart);
	g_test_add_data_func("/restart/kill-updating", &kill_updating, test_kill_restart);
	g_test_add_data_func("/restart/kill-rebooting", &kill_rebooting, test_kill_restart);
	g_test_add_func("/restart/power-cut-while-restarting", test_power_cut_while_restarting);
	g_test_add_func("/restart/forced-resume-unknown-job", test_forced_resume_unknown);
	g_test_add_func("/restart/corrupt-journal", test_corrupt_journal);
	g_test_add_func("/restart/host-upload-interrupted", test_host_upload_interrupted);
	static const KillAfterCommand after_ok = { "start", FALSE };
	static const KillAfterCommand after_ok_live = { "start", TRUE };
	static const KillAfterCommand before_ok_seen = { "ok", FALSE };

	g_test_add_data_func("/restart/host-kill-after-ok", &after_ok, test_kill_after_command);
	g_test_add_data_func("/restart/host-kill-after-ok-live", &after_ok_live,
	                     test_kill_after_command);
	g_test_add_data_func("/restart/host-kill-before-ok-seen", &before_ok_seen,
	                     test_kill_after_command);
	g_test_add_func("/restart/stop-answers-pending-call", test_stop_answers_pending_call);
	return g_test_run();
}
