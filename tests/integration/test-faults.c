// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-faults.c: module and port faults: power
 * cuts at a chosen percent while updating and while downloading, a forced upgrade nobody
 * recorded, tty loss and return (idle and during a job), a silent module, a sleeping module
 * and line noise. Faults come from the simulator's options and its control FIFO. */
#include "fault-helpers.h"

static const char *const idents[] = { "AT+CGSN=1", "ATI", "AT+CESQ", "AT+COPS?" };

/* The line that identifies each command's own answer, and the marks of the others'. */
static void
assert_own_answer(const char *command, const char *response)
{
	static const char *const marks[] = { "+CGSN: 866971030012345", "Quectel_BC65",
		                             "+CESQ: ", "+COPS: " };
	gboolean own = FALSE;

	for (guint i = 0; i < G_N_ELEMENTS(idents); i++) {
		gboolean has = strstr(response, marks[i]) != NULL;

		if (strcmp(command, idents[i]) == 0)
			own = has;
		else if (has)
			g_error("%s got another command's answer: \"%s\"", command, response);
	}
	if (!own)
		g_error("%s did not get its own answer: \"%s\"", command, response);
}

static void
assert_command_ok(Harness *h, const char *command)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *response = harness_command(h, NULL, command, 0, &error);

	g_assert_no_error(error);
	assert_own_answer(command, response);
}

/* ---- power cuts ---- */

/* Seed 3.1 note at a chosen percent: rebooting, updating again from 0, one Finished. */
static void
test_power_cut_updating(void)
{
	const char *const sim_args[] = { "--power-cut", "updating:40", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *trace = NULL;
	g_autofree char *phases = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since, id;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	id = fh_job_id(h);
	result = harness_wait_finished(h, since, 60000);
	trace = fh_progress_trace(h, since);
	phases = fh_phases(h, since);
	g_test_message("progress: %s", trace);
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,updating,rebooting,verifying");
	/* Cut at 40: the first stay in updating got there, and no further than the cut. */
	g_assert_nonnull(strstr(trace, "updating:40 rebooting:0 updating:0"));
	g_assert_true(fh_wait_state(h, "ready", 10000));
}

/* Seed: a download is lost with the power; the job ends at once, not at download-timeout. */
static void
test_power_cut_downloading(void)
{
	const char *const sim_args[] = { "--power-cut", "downloading:30", "--time-scale", "0.2",
		                         NULL };
	const char *const keys[] = { "download-timeout=120", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;
	gint64 t0, elapsed_ms;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	t0 = g_get_monotonic_time();
	fh_upgrade(h, url);
	result = harness_wait_finished(h, since, 60000);
	elapsed_ms = (g_get_monotonic_time() - t0) / 1000;
	g_test_message("Finished after %" G_GINT64_FORMAT " ms: %s", elapsed_ms,
	               fh_printed(result));
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "ModemLost"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, -1);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	/* Far below the 120 s download-timeout: the module's restart ended it. */
	g_assert_cmpint(elapsed_ms, <, 20000);
	g_assert_true(fh_wait_state(h, "ready", 20000));
	{
		g_autoptr(GVariant) rev = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");

		g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, HARNESS_REV_FROM);
	}
}

/* ---- tty loss ---- */

typedef struct {
	gboolean done;
	GError *error;
	char *response;
} AsyncCall;

static void
on_call_done(GObject *source, GAsyncResult *res, gpointer data)
{
	AsyncCall *c = data;
	g_autoptr(GVariant) ret =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);

	if (ret != NULL)
		g_variant_get(ret, "(s)", &c->response);
	c->done = TRUE;
	g_main_context_wakeup(NULL);
}

static void
command_async(Harness *h, const char *command, guint timeout_ms, AsyncCall *c)
{
	g_dbus_connection_call(harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH,
	                       HARNESS_IFACE_MODEM, "Command",
	                       g_variant_new("(su)", command, timeout_ms), G_VARIANT_TYPE("(s)"),
	                       G_DBUS_CALL_FLAGS_NONE, 60000, NULL, on_call_done, c);
}

static gboolean
cond_calls_done(Harness *h, gpointer data)
{
	AsyncCall *calls = data;

	for (guint i = 0; i < 3; i++) {
		if (!calls[i].done)
			return FALSE;
	}
	return TRUE;
}

/* USB unplug with one command in flight and two waiting: all fail with ModemLost, State
 * disconnected; after replug the modem is re-initialised and answers again. */
static void
test_unplug_idle(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	AsyncCall calls[3] = { { 0 } };
	guint mark = harness_tty_mark(h);

	/* The module holds the answer to the next command: it is in flight when the port goes. */
	harness_control(h, "delay 5000");
	command_async(h, "AT+CGSN=1", 20000, &calls[0]);
	command_async(h, "ATI", 20000, &calls[1]);
	command_async(h, "AT+CESQ", 20000, &calls[2]);
	g_assert_cmpint(harness_wait_tty(h, mark, "AT+CGSN=1", 10000), >=, 0);
	harness_control(h, "unplug");
	g_assert_true(harness_wait(h, cond_calls_done, calls, 15000, "the three commands"));
	for (guint i = 0; i < 3; i++) {
		harness_assert_error(calls[i].error, "ModemLost");
		g_clear_error(&calls[i].error);
	}
	g_assert_true(fh_wait_state(h, "disconnected", 10000));
	/* While it is gone, a command is refused at once, not queued. */
	{
		g_autoptr(GError) error = NULL;
		g_autofree char *r = harness_command(h, NULL, "ATI", 0, &error);

		g_assert_nonnull(error);
		g_test_message("command while unplugged: %s", error->message);
	}
	harness_control(h, "replug");
	g_assert_true(fh_wait_state(h, "ready", 30000));
	assert_command_ok(h, "AT+CGSN=1");
	assert_command_ok(h, "ATI");
}

/* The module may still be flashing when its port vanishes: the job waits for its return and
 * finishes once, successfully. */
static void
test_unplug_updating(void)
{
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since, id;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	id = fh_job_id(h);
	g_assert_true(fh_wait_progress(h, since, "updating", 20, 60000));
	harness_control(h, "unplug");
	g_assert_true(fh_wait_state(h, "disconnected", 10000));
	/* Still the same job, no Finished: the module may be upgrading on its own. */
	g_assert_cmpuint(fh_job_id(h), ==, id);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
	harness_control(h, "replug");

	result = harness_wait_finished(h, since, 60000);
	{
		g_autofree char *trace_trace = fh_progress_trace(h, since);
		g_test_message("progress: %s", trace_trace);
	}
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
	g_assert_true(fh_wait_state(h, "ready", 10000));
}

/* ---- silence ---- */

static void
test_silence(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *r = NULL;
	gint64 t0;

	assert_command_ok(h, "ATI");
	harness_control(h, "silence on");
	r = harness_command(h, NULL, "AT+CGSN=1", 1000, &error);
	harness_assert_error(error, "Timeout");
	g_clear_error(&error);
	/* After the resync probes fail, the modem counts as gone. */
	g_assert_true(fh_wait_state(h, "disconnected", 40000));
	t0 = g_get_monotonic_time();
	g_free(harness_command(h, NULL, "ATI", 0, &error));
	g_assert_nonnull(error);
	g_test_message("command while silent: %s", error->message);
	/* Refused at once rather than waiting for a timeout. */
	g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <, 2000);
	g_clear_error(&error);

	harness_control(h, "silence off");
	g_assert_true(fh_wait_state(h, "ready", 40000));
	assert_command_ok(h, "AT+CGSN=1");
	assert_command_ok(h, "AT+COPS?");
}

/* ---- sleep ---- */

static guint
count_urcs(Harness *h, guint64 since, const char *prefix)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *line;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
			continue;
		g_variant_get(ev->body, "(&s)", &line);
		if (g_str_has_prefix(line, prefix))
			n++;
	}
	return n;
}

typedef struct {
	guint64 since;
	const char *prefix;
} UrcWait;

static gboolean
cond_urc(Harness *h, gpointer data)
{
	UrcWait *uw = data;

	return count_urcs(h, uw->since, uw->prefix) > 0;
}

static gboolean
wait_urc(Harness *h, guint64 since, const char *prefix, guint timeout_ms)
{
	UrcWait uw = { since, prefix };

	return harness_wait(h, cond_urc, &uw, timeout_ms, prefix);
}

/* The module announces +QATSLEEP; the next command would be eaten by the wake-up. */
static void
test_sleep_control(void)
{
	g_autoptr(Harness) h = harness_new(NULL);

	for (guint i = 0; i < 4; i++) {
		guint64 since = harness_mark(h);
		guint mark = harness_tty_mark(h);

		harness_control(h, "sleep");
		g_assert_true(wait_urc(h, since, "+QATSLEEP", 10000));
		assert_command_ok(h, idents[i]);
		/* The command itself reached the awake module. */
		g_assert_cmpint(harness_tty_find(h, mark, idents[i]), >=, 0);
	}
}

/* The module falls asleep by itself after @data ms of quiet, again and again. */
static void
test_sleep_after(gconstpointer data)
{
	const char *const sim_args[] = { "--time-scale", "1", "--sleep-after", data, NULL };
	HarnessOptions opts = { .sim_args = sim_args, .no_wait_ready = TRUE };
	g_autoptr(Harness) h = harness_new(&opts);

	if (!fh_wait_state(h, "ready", 30000)) {
		g_autofree char *state = fh_state(h);

		g_test_fail_printf("a module that sleeps after %s ms idle never got initialised "
		                   "(State %s): its probes were eaten by the sleep? (dfotad.log)",
		                   (const char *)data, state);
		return;
	}

	for (guint i = 0; i < 6; i++) {
		guint64 since = harness_mark(h);

		g_assert_true(wait_urc(h, since, "+QATSLEEP", 10000));
		assert_command_ok(h, idents[i % G_N_ELEMENTS(idents)]);
	}
}

/* ---- noise ---- */

static void
test_noise(void)
{
	const char *const sim_args[] = { "--noise", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	guint extra = 0;

	for (guint i = 0; i < 200; i++) {
		const char *cmd = idents[i % G_N_ELEMENTS(idents)];
		g_autoptr(GError) error = NULL;
		g_autofree char *response = harness_command(h, NULL, cmd, 0, &error);

		g_assert_no_error(error);
		assert_own_answer(cmd, response);
		if (strcmp(cmd, "ATI") != 0 && strchr(response, '\n') != NULL) {
			if (extra++ == 0)
				g_test_message("e.g. %s: \"%s\"", cmd, response);
		}
	}
	g_test_message("answers with more than their own line: %u of 150", extra);
	harness_control(h, "noise off");
	assert_command_ok(h, "AT+CGSN=1");
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_func("/faults/power-cut-updating-40", test_power_cut_updating);
	g_test_add_func("/faults/power-cut-downloading", test_power_cut_downloading);
	g_test_add_func("/faults/unplug-idle", test_unplug_idle);
	g_test_add_func("/faults/unplug-updating", test_unplug_updating);
	g_test_add_func("/faults/silence", test_silence);
	g_test_add_func("/faults/sleep-control", test_sleep_control);
	g_test_add_data_func("/faults/sleep-after-2000", "2000", test_sleep_after);
	g_test_add_func("/faults/noise", test_noise);
	g_test_add_data_func("/faults/sleep-after-300", "300", test_sleep_after);
	return g_test_run();
}
