// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-hawkbit-restart.c: a deployment survives its surroundings: the hawkBit server down
 * while the job runs (the closed feedback waits and arrives once), the bridge killed mid-job
 * and restarted (it follows the job and reports it once, never starting it again), and dfotad
 * restarted mid-job (the bridge reports the job's real outcome). */
#include "hawkbit-fixture.h"

/* 100 ms module steps, so that the update lasts long enough to act in. */
static const char *const slow_sim[] = { "--time-scale", "0.5", NULL };

static void
start_and_wait_updating(Hb *b, const char *id)
{
	g_autofree char *action = hb_action(id, "forced", NULL, NULL);

	hb_script(b, "{\"action\": %s}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(harness_wait_property(b->h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("updating"), HB_WAIT_MS));
}

static void
assert_one_job(Hb *b, guint64 since, guint tty, const char *id)
{
	g_autofree char *part = g_strdup_printf("/deploymentBase/%s/feedback", id);
	guint polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);

	/* A few more polls: nothing is started or reported again. */
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 3));
	harness_round_trip(b->h);
	g_assert_cmpuint(hb_count(b, "POST", part, "closed"), ==, 1);
	g_assert_cmpuint(hm_count_tty(b->h, tty, "AT+QFUPL"), ==, 1);
	g_assert_cmpuint(harness_count_signals(b->h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	g_assert_cmpuint(hb_count(b, "POST", part, NULL), <=, 40);
	g_assert_cmpuint(hb_assert_feedback_spacing(b, id, 1.5), >=, 1);
}

static gboolean
log_says_feedback_failed(gpointer data)
{
	const char *what[] = { ((Hb *)data)->bridge_out, "feedback to" };

	return hb_file_has(what);
}

/* The server goes away while the module updates and comes back after the job ended. */
static void
test_server_down(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slow_sim }, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autoptr(JsonObject) closed = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	start_and_wait_updating(b, "81");
	hb_ddi_stop(b);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	/* The closed feedback could not go out; the bridge keeps it. */
	g_assert_true(hm_wait_cond(log_says_feedback_failed, b, HB_WAIT_MS));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/81/feedback", "closed"), ==, 0);
	hb_ddi_start(b);
	closed = hb_wait_closed(b, "81");
	hb_assert_closed_success(closed);
	assert_one_job(b, since, tty, "81");
}

/* SIGKILL of the bridge while the module updates; the restarted bridge follows the job. */
static void
test_bridge_killed(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slow_sim }, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autoptr(JsonObject) closed = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	start_and_wait_updating(b, "82");
	hb_bridge_kill(b);
	hb_bridge_start(b);
	closed = hb_wait_closed(b, "82");
	hb_assert_closed_success(closed);
	g_assert_cmpstr(hb_detail(closed, "job"), !=, NULL);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	assert_one_job(b, since, tty, "82");

	/* A server that offers the finished action again gets nothing: it is never run twice. */
	{
		g_autofree char *action = hb_action("82", "forced", NULL, NULL);
		guint reads = hb_count(b, "GET", "/deploymentBase/82", NULL);

		hb_script(b, "{\"reoffer_closed\": true, \"action\": %s}", action);
		g_assert_true(hb_wait_count(b, "GET", "/deploymentBase/82", NULL, reads + 3));
		g_assert_cmpuint(hb_count(b, "GET", "/artifacts/", NULL), ==, 1);
		g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/82/feedback", "closed"), ==,
		                 1);
		g_assert_cmpuint(hm_count_tty(b->h, tty, "AT+QFUPL"), ==, 1);
	}
}

/* SIGKILL of the bridge after the job ended but before it could report: the restarted bridge
 * reports the outcome from LastResult. */
static void
test_bridge_killed_while_server_down(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slow_sim }, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autoptr(JsonObject) closed = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	start_and_wait_updating(b, "83");
	hb_bridge_kill(b);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	hb_bridge_start(b);
	closed = hb_wait_closed(b, "83");
	hb_assert_closed_success(closed);
	assert_one_job(b, since, tty, "83");
}

/* dfotad killed and restarted while the module updates: it resumes the job; the bridge
 * reports the job's outcome once. */
static void
test_dfotad_restarted(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slow_sim }, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autoptr(JsonObject) closed = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	start_and_wait_updating(b, "84");
	fh_daemon_kill(b->h);
	fh_daemon_start(b->h);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	closed = hb_wait_closed(b, "84");
	hb_assert_closed_success(closed);
	hm_assert_succeeded(result);
	assert_one_job(b, since, tty, "84");
}

/* hawkBit closes the action on its own while the job runs (410 from then on): whichever
 * feedback meets the 410 first (a proceeding one at a phase change, or the closed one) drops
 * the action, and nothing is sent for it again. */
static void
test_action_gone(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slow_sim }, NULL);
	g_autofree char *action = hb_action("86", "forced", NULL, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autofree char *state = NULL;
	g_autofree char *state_file = g_build_filename(b->state_dir, "action.state", NULL);
	guint64 since = harness_mark(b->h);
	guint polls, feedback;

	start_and_wait_updating(b, "86");
	hb_script(b, "{\"action\": %s, \"gone\": [\"86\"]}", action);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 3));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/86/feedback", "closed"), <=, 1);
	feedback = hb_count(b, "POST", "/deploymentBase/86/feedback", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 5));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/86/feedback", NULL), ==, feedback);
	g_assert_true(g_file_get_contents(state_file, &state, NULL, NULL));
	g_assert_null(strstr(state, "[action]"));
	g_assert_nonnull(strstr(state, "86"));
}

typedef struct {
	const char *path;
} PartialFile;

static gboolean
partial_file_grew(gpointer data)
{
	GStatBuf st;

	return g_stat(((PartialFile *)data)->path, &st) == 0 && st.st_size > 2000;
}

/* SIGKILL of the bridge half way through its own download of the artifact: the restarted
 * bridge resumes it with a Range request and runs the action once. */
static void
test_bridge_killed_downloading(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *action = hb_action("87", "forced", NULL, ", \"bps\": 2000");
	g_autofree char *partial = g_build_filename(b->state_dir, "artifact-87.pack", NULL);
	PartialFile pf = { partial };
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(JsonObject) resumed = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	hb_script(b, "{\"action\": %s}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hm_wait_cond(partial_file_grew, &pf, HB_WAIT_MS));
	hb_bridge_kill(b);
	harness_round_trip(b->h);
	hm_assert_no_finished(b->h, since);
	hb_bridge_start(b);
	closed = hb_wait_closed(b, "87");
	hb_assert_closed_success(closed);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 2);
	resumed = hb_last(b, "GET", "/artifacts/update.pack", NULL);
	g_assert_nonnull(hb_str(hb_obj(resumed, "headers"), "Range"));
	g_test_message("resumed with %s", hb_str(hb_obj(resumed, "headers"), "Range"));
	assert_one_job(b, since, tty, "87");
	g_assert_false(g_file_test(partial, G_FILE_TEST_EXISTS));
}

/* hawkBit answers a proceeding feedback with 410 while the job runs: the bridge drops the
 * action (no closed feedback for it, the state finished); dfotad's job itself runs on. */
static void
test_gone_while_running(void)
{
	/* Slow enough for progress feedback during the job. */
	static const char *const slower_sim[] = { "--time-scale", "4", NULL };
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = slower_sim }, NULL);
	g_autofree char *action = hb_action("87", "forced", NULL, NULL);
	g_autoptr(GVariant) result = NULL;
	g_autofree char *state = NULL;
	g_autofree char *state_file = g_build_filename(b->state_dir, "action.state", NULL);
	guint64 since = harness_mark(b->h);
	guint feedback, polls;

	hb_script(b, "{\"action\": %s}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(harness_wait_property(b->h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("uploading"), HB_WAIT_MS));
	feedback = hb_count(b, "POST", "/deploymentBase/87/feedback", "proceeding");
	hb_script(b, "{\"action\": %s, \"gone\": [\"87\"]}", action);
	/* The next proceeding feedback gets 410. */
	if (!hb_wait_count(b, "POST", "/deploymentBase/87/feedback", "proceeding", feedback + 1)) {
		g_test_fail();
		return;
	}
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 3));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/87/feedback", "closed"), ==, 0);
	g_assert_true(g_file_get_contents(state_file, &state, NULL, NULL));
	g_assert_null(strstr(state, "[action]"));
	g_assert_nonnull(strstr(state, "87"));
}

/* configData goes out once after every start, also when hawkBit no longer asks for it: the
 * modem may have changed while the bridge was not running. */
static void
test_config_after_restart(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	guint polls;

	hb_script(b, "{\"config_data\": true}");
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "PUT", "/configData", NULL, 1));
	hb_bridge_kill(b);
	hb_script(b, "{}");
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "PUT", "/configData", NULL, 2));
	/* Only once: later polls send nothing while the data stay the same. */
	polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 3));
	g_assert_cmpuint(hb_count(b, "PUT", "/configData", NULL), ==, 2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hawkbit/server-down", test_server_down);
	g_test_add_func("/hawkbit/bridge-killed", test_bridge_killed);
	g_test_add_func("/hawkbit/bridge-killed-job-ends", test_bridge_killed_while_server_down);
	g_test_add_func("/hawkbit/dfotad-restarted", test_dfotad_restarted);
	g_test_add_func("/hawkbit/action-gone", test_action_gone);
	g_test_add_func("/hawkbit/config-after-restart", test_config_after_restart);
	g_test_add_func("/hawkbit/gone-while-running", test_gone_while_running);
	g_test_add_func("/hawkbit/bridge-killed-downloading", test_bridge_killed_downloading);
	return g_test_run();
}
