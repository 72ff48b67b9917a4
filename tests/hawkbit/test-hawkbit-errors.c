// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-hawkbit-errors.c: dfota-hawkbit when things go wrong: a missing artifact, a hash
 * mismatch, a deployment without a .pack artifact, a module error code, credentials hawkBit
 * refuses, and cancel actions while the job can and can no longer be cancelled. */
#include "hawkbit-fixture.h"

static JsonObject *
run_failing(Hb *b, const char *id, const char *artifact_extra, const char *error_name)
{
	g_autofree char *action = hb_action(id, "forced", NULL, artifact_extra);
	g_autofree char *full = g_strconcat("org.dfotad1.Error.", error_name, NULL);
	JsonObject *closed;

	hb_script(b, "{\"action\": %s}", action);
	closed = hb_wait_closed(b, id);
	g_test_message("action %s closed: %s %s: %s", id, hb_finished(closed),
	               hb_detail(closed, "error"), hb_detail(closed, "message"));
	g_assert_cmpstr(hb_finished(closed), ==, "failure");
	g_assert_cmpstr(hb_detail(closed, "error"), ==, full);
	g_assert_nonnull(hb_detail(closed, "message"));
	g_assert_cmpstr(hb_detail(closed, "from-revision"), ==, HARNESS_REV_FROM);
	return closed;
}

/* The bridge's own failures close the action before the module is touched; the module's
 * error code reaches hawkBit in the closed feedback's details. */
static void
test_failures(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autoptr(JsonObject) missing = NULL;
	g_autoptr(JsonObject) mismatch = NULL;
	g_autoptr(JsonObject) no_pack = NULL;
	g_autoptr(JsonObject) module = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);

	hb_config(b, NULL);
	hb_bridge_start(b);

	missing = run_failing(b, "41", ", \"status\": 404", "FetchFailed");
	g_assert_nonnull(strstr(hb_detail(missing, "message"), "404"));
	/* A 404 is final: fetched once, not retried. */
	g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 1);

	mismatch = run_failing(b, "42",
	                       ", \"sha256\": "
	                       "\"00000000000000000000000000000000000000000000000000000000000000"
	                       "00\"",
	                       "ChecksumMismatch");
	g_assert_nonnull(strstr(hb_detail(mismatch, "message"), "sha256"));

	{
		g_autofree char *action = g_strdup_printf(
		        "{\"id\": \"43\", \"update\": \"forced\", \"artifacts\": "
		        "[{\"filename\": \"update.bin\", \"file\": \"update.pack\"}]}");

		hb_script(b, "{\"action\": %s}", action);
		no_pack = hb_wait_closed(b, "43");
		g_assert_cmpstr(hb_finished(no_pack), ==, "failure");
		g_assert_nonnull(strstr(hb_detail(no_pack, "message"), ".pack"));
	}

	{
		g_autoptr(JsonObject) no_hash = NULL;
		g_autoptr(JsonObject) too_big = NULL;
		guint fetched = hb_count(b, "GET", "/artifacts/update.pack", NULL);

		/* Without a sha256 hash a host download is not installed. */
		no_hash = run_failing(b, "45", ", \"sha256\": null", "InvalidArgument");
		g_assert_nonnull(strstr(hb_detail(no_hash, "message"), "no sha256 hash"));
		/* Neither is fetched; an artifact announced above the cap is refused. */
		too_big = run_failing(b, "46", ", \"size\": 100000000", "InvalidArgument");
		g_assert_nonnull(strstr(hb_detail(too_big, "message"), "64 MiB"));
		g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, fetched);
	}

	/* None of it reached the module. */
	harness_round_trip(b->h);
	hm_assert_no_finished(b->h, since);
	g_assert_cmpuint(hm_count_tty(b->h, tty, "AT+QF"), ==, 0);

	/* The module fails the flash write: its code in the details. */
	harness_control(b->h, "error 6505 end");
	module = run_failing(b, "44", NULL, "FlashWriteFailed");
	g_assert_cmpstr(hb_detail(module, "code"), ==, "6505");
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_failed(result, "FlashWriteFailed");
	for (guint i = 41; i <= 46; i++) {
		g_autofree char *part = g_strdup_printf("/deploymentBase/%u/feedback", i);

		g_assert_cmpuint(hb_count(b, "POST", part, "closed"), ==, 1);
	}
}

static gboolean
log_says_401(gpointer data)
{
	const char *what[] = { ((Hb *)data)->bridge_out, "(HTTP 401)" };

	return hb_file_has(what);
}

/* Wrong token: hawkBit answers 401; the bridge says so clearly and backs off. */
static void
test_unauthorized(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, "TargetToken right");
	g_autofree char *action = hb_action("51", "forced", NULL, NULL);
	g_autoptr(JsonParser) p = NULL;
	JsonArray *reqs;
	double t2, t3;

	hb_script(b, "{\"action\": %s}", action);
	hb_config(b, "target-token=wrong\n");
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, 4));
	g_assert_true(hm_wait_cond(log_says_401, b, HB_WAIT_MS));
	g_assert_cmpuint(hb_count(b, "GET", "/deploymentBase/", NULL), ==, 0);
	g_assert_cmpuint(hb_count(b, "POST", "/", NULL), ==, 0);
	hb_assert_auth(b, "TargetToken wrong");
	/* Back-off: the pause between refused polls grows (1 s, 2 s, 4 s, ...). */
	reqs = hb_requests(b, &p);
	t2 = json_object_get_double_member(json_array_get_object_element(reqs, 2), "time");
	t3 = json_object_get_double_member(json_array_get_object_element(reqs, 3), "time");
	g_test_message("third pause %.2f s", t3 - t2);
	g_assert_cmpfloat(t3 - t2, >=, 3.5);
}

/* The server answers 503 with Retry-After: the bridge waits at least that long, then, with the
 * server back, runs the deployment. */
static void
test_server_errors(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *action = hb_action("52", "forced", NULL, NULL);
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(JsonParser) p = NULL;
	JsonArray *reqs;
	double t1, t2;

	hb_script(b, "{\"status\": 503, \"retry_after\": 3, \"action\": %s}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, 3));
	reqs = hb_requests(b, &p);
	t1 = json_object_get_double_member(json_array_get_object_element(reqs, 1), "time");
	t2 = json_object_get_double_member(json_array_get_object_element(reqs, 2), "time");
	g_test_message("pause after a 503 with Retry-After: 3: %.2f s", t2 - t1);
	g_assert_cmpfloat(t2 - t1, >=, 2.9);
	g_assert_cmpuint(hb_count(b, "GET", "/deploymentBase/", NULL), ==, 0);

	hb_script(b, "{\"action\": %s}", action);
	closed = hb_wait_closed(b, "52");
	hb_assert_closed_success(closed);
}

static gboolean
phase_is_uploading(GVariant *v)
{
	return g_strcmp0(g_variant_get_string(v, NULL), "uploading") == 0;
}

/* A cancel action while dfotad uploads (cancellable): Cancel, job Cancelled, cancel feedback
 * closed/success. Another while the module updates (not cancellable): rejected with the
 * reason, the deployment goes on to its one closed feedback. */
static void
test_cancel(void)
{
	/* Slow flash writes during the upload, and module steps slow enough that a cancel polled
	 * during the update still finds it running on a loaded machine. */
	const char *const sim_args[] = { "--ack-turnaround", "400", "--time-scale", "2", NULL };
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ .sim_args = sim_args }, NULL);
	g_autofree char *first = hb_action("61", "forced", NULL, NULL);
	g_autofree char *second = hb_action("62", "forced", NULL, NULL);
	g_autoptr(JsonObject) cancel_fb = NULL;
	g_autoptr(JsonObject) rejected = NULL;
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) result2 = NULL;
	guint64 since = harness_mark(b->h);
	guint64 since2;

	hb_script(b, "{\"action\": %s}", first);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(harness_wait_property_cond(b->h, HARNESS_IFACE_FOTA, "Phase",
	                                         phase_is_uploading, HB_WAIT_MS));
	hb_script(b, "{\"action\": %s, \"cancel\": {\"id\": \"71\", \"stopId\": \"61\"}}", first);
	g_assert_true(hb_wait_count(b, "POST", "/cancelAction/71/feedback", NULL, 1));
	cancel_fb = hb_last(b, "POST", "/cancelAction/71/feedback", NULL);
	g_assert_cmpstr(hb_execution(cancel_fb), ==, "closed");
	g_assert_cmpstr(hb_finished(cancel_fb), ==, "success");
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_failed(result, "Cancelled");
	hm_assert_revision(b->h, HARNESS_REV_FROM);

	since2 = harness_mark(b->h);
	hb_script(b, "{\"action\": %s}", second);
	g_assert_true(harness_wait_property(b->h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("updating"), HB_WAIT_MS));
	hb_script(b, "{\"action\": %s, \"cancel\": {\"id\": \"72\", \"stopId\": \"62\"}}", second);
	g_assert_true(hb_wait_count(b, "POST", "/cancelAction/72/feedback", NULL, 1));
	rejected = hb_last(b, "POST", "/cancelAction/72/feedback", NULL);
	g_assert_cmpstr(hb_execution(rejected), ==, "rejected");
	g_assert_nonnull(hb_detail(rejected, "message"));
	g_test_message("rejected: %s", hb_detail(rejected, "message"));
	closed = hb_wait_closed(b, "62");
	hb_assert_closed_success(closed);
	result2 = harness_wait_finished(b->h, since2, HB_WAIT_MS);
	hm_assert_succeeded(result2);
	/* The cancelled action was never reported as a deployment outcome; each cancel once. */
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/61/feedback", "closed"), ==, 0);
	g_assert_cmpuint(hb_count(b, "POST", "/cancelAction/71/feedback", NULL), ==, 1);
	g_assert_cmpuint(hb_count(b, "POST", "/cancelAction/72/feedback", NULL), ==, 1);
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/62/feedback", "closed"), ==, 1);
	/* The upload took seconds: its progress was reported, rate-limited. */
	g_assert_cmpuint(hb_assert_feedback_spacing(b, "62", 1.5), >=, 3);
	g_assert_true(hb_proceeding_seen(b, "62", "uploading"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hawkbit/failures", test_failures);
	g_test_add_func("/hawkbit/unauthorized", test_unauthorized);
	g_test_add_func("/hawkbit/server-errors", test_server_errors);
	g_test_add_func("/hawkbit/cancel", test_cancel);
	return g_test_run();
}
