// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-hawkbit.c: dfota-hawkbit against the DDI stand-in, the real dfotad and the simulator
 * on a private bus: a full deployment with host download, configData, the
 * deployment's update types and maintenance window, and the feedback hawkBit gets. */
#include "hawkbit-fixture.h"

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#define TOKEN "TargetToken 3f2a9c1e"
/* Proceeding feedback is rate-limited; a job of this test's length stays far below this. */
#define MAX_FEEDBACK 40

typedef struct {
	int fd;
	GString *got;
} NotifySocket;

static gboolean
notify_ready(gpointer data)
{
	NotifySocket *ns = data;
	char buf[4096];
	gssize n;

	while ((n = recv(ns->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		g_string_append_len(ns->got, buf, n);
		g_string_append_c(ns->got, '\n');
	}
	return strstr(ns->got->str, "READY=1") != NULL;
}

/* download=host: the bridge fetches the artifact with its token (resuming after a cut), dfotad
 * installs it from the file; configData once, again after the revision changed; one closed. */
static void
test_host_download(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, TOKEN);
	g_autofree char *action = hb_action("11", "forced", NULL, ", \"cut_once\": true");
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(JsonObject) config = NULL;
	g_autoptr(JsonObject) resumed = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(b->h);
	JsonObject *data;
	guint feedback;

	g_autofree char *notify_path = g_build_filename(harness_tmpdir(b->h), "notify", NULL);
	NotifySocket ns = { socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), g_string_new(NULL) };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	/* The unit is Type=notify: READY=1 on the socket systemd passes. */
	g_assert_cmpint(ns.fd, >=, 0);
	g_strlcpy(addr.sun_path, notify_path, sizeof addr.sun_path);
	g_assert_cmpint(bind(ns.fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
	hb_script(b, "{\"config_data\": true, \"action\": %s}", action);
	hb_config(b, "target-token=3f2a9c1e\n");
	g_setenv("NOTIFY_SOCKET", notify_path, TRUE);
	hb_bridge_start(b);
	g_unsetenv("NOTIFY_SOCKET");
	g_assert_true(hm_wait_cond(notify_ready, &ns, HB_WAIT_MS));
	g_test_message("notify: %s", ns.got->str);
	close(ns.fd);
	g_string_free(ns.got, TRUE);

	closed = hb_wait_closed(b, "11");
	hb_assert_closed_success(closed);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-from-file");
	hm_assert_revision(b->h, HARNESS_REV_TO);

	/* The download was cut once and resumed with a Range request. */
	g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 2);
	resumed = hb_last(b, "GET", "/artifacts/update.pack", NULL);
	g_assert_nonnull(hb_str(hb_obj(resumed, "headers"), "Range"));

	/* configData: model, revision and IMEI, then once more with the new revision. */
	g_assert_true(hb_wait_count(b, "PUT", "/configData", NULL, 2));
	config = hb_last(b, "PUT", "/configData", NULL);
	g_assert_cmpstr(hb_str(hb_obj(config, "body"), "mode"), ==, "merge");
	data = hb_obj(hb_obj(config, "body"), "data");
	g_assert_cmpstr(hb_str(data, "model"), ==, "Quectel_BC65");
	g_assert_cmpstr(hb_str(data, "revision"), ==, HARNESS_REV_TO);
	g_assert_nonnull(hb_str(data, "imei"));
	g_assert_nonnull(hb_str(data, "bridge-version"));

	/* Feedback: proceeding with phase details, exactly one closed, bounded. */
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/11/feedback", "proceeding"), >=, 1);
	feedback = hb_count(b, "POST", "/deploymentBase/11/feedback", NULL);
	g_test_message("%u feedback messages", feedback);
	g_assert_cmpuint(feedback, <=, MAX_FEEDBACK);
	hb_assert_feedback_spacing(b, "11", 1.5);
	/* A few more polls: the closed action is not run or reported again. */
	{
		guint polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);

		g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 3));
	}
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/11/feedback", "closed"), ==, 1);
	g_assert_cmpuint(hb_count(b, "PUT", "/configData", NULL), ==, 2);
	g_assert_cmpuint(harness_count_signals(b->h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	hb_assert_auth(b, TOKEN);
}

/* A resumed download the server will not serve as a range (it answers 200 with the whole file,
 * or 416): the file is fetched again from its start, once, and the action succeeds. */
static void
test_resume_refused(void)
{
	const char *extras[] = { ", \"cut_once\": true, \"ignore_range\": true",
		                 ", \"cut_once\": true, \"range_416\": true" };

	for (guint i = 0; i < G_N_ELEMENTS(extras); i++) {
		g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, TOKEN);
		g_autofree char *action = hb_action("21", "forced", NULL, extras[i]);
		g_autoptr(JsonObject) closed = NULL;
		g_autoptr(JsonObject) again = NULL;

		g_test_message("artifact%s", extras[i]);
		hb_script(b, "{\"action\": %s}", action);
		hb_config(b, "target-token=3f2a9c1e\n");
		hb_bridge_start(b);
		closed = hb_wait_closed(b, "21");
		hb_assert_closed_success(closed);
		/* Cut, refused range, whole file. */
		g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 3);
		again = hb_last(b, "GET", "/artifacts/update.pack", NULL);
		g_assert_null(hb_str(hb_obj(again, "headers"), "Range"));
	}
}

/* update "skip" does nothing; a maintenance window "unavailable" waits; once "available" the
 * deployment runs. */
static void
test_skip_and_window(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *skip = hb_action("21", "skip", NULL, NULL);
	g_autofree char *closed_window = hb_action("21", "forced", "unavailable", NULL);
	g_autofree char *open_window = hb_action("21", "forced", "available", NULL);
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);
	guint n;

	/* 00:00:00 asks for polls without pause: the bridge polls once a second. */
	hb_script(b, "{\"sleep\": \"00:00:00\", \"action\": %s}", skip);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "GET", "/deploymentBase/21", NULL, 3));
	g_assert_cmpuint(hb_count(b, "POST", "/feedback", NULL), ==, 0);
	g_assert_cmpuint(hb_count(b, "GET", "/artifacts/", NULL), ==, 0);

	hb_script(b, "{\"action\": %s}", closed_window);
	n = hb_count(b, "GET", "/deploymentBase/21", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/deploymentBase/21", NULL, n + 3));
	g_assert_cmpuint(hb_count(b, "POST", "/feedback", NULL), ==, 0);
	harness_round_trip(b->h);
	hm_assert_no_finished(b->h, since);
	/* Nothing of a job reached the module. */
	g_assert_cmpuint(hm_count_tty(b->h, tty, "AT+QF"), ==, 0);

	hb_script(b, "{\"action\": %s}", open_window);
	closed = hb_wait_closed(b, "21");
	hb_assert_closed_success(closed);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
}

/* A cancel for an action that has not started here: acknowledged closed/success, and the
 * action is never run. */
static void
test_cancel_before_start(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *action = hb_action("24", "skip", NULL, NULL);
	g_autoptr(JsonObject) fb = NULL;
	guint64 since = harness_mark(b->h);
	guint polls;

	g_autofree char *state = g_build_filename(b->state_dir, "action.state", NULL);
	g_autofree char *aside = g_strconcat(state, ".bad", NULL);

	/* A state file that does not parse is moved aside with a warning, never a crash. */
	g_assert_cmpint(g_mkdir_with_parents(b->state_dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(state, "[action\nid=\xff\n", -1, NULL));
	hb_script(b, "{\"action\": %s, \"cancel\": {\"id\": \"25\", \"stopId\": \"24\"}}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hb_wait_count(b, "POST", "/cancelAction/25/feedback", NULL, 1));
	fb = hb_last(b, "POST", "/cancelAction/25/feedback", NULL);
	g_assert_cmpstr(hb_execution(fb), ==, "closed");
	g_assert_cmpstr(hb_finished(fb), ==, "success");
	polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 2));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/24/", NULL), ==, 0);
	g_assert_cmpuint(hb_count(b, "POST", "/cancelAction/25/feedback", NULL), ==, 1);
	harness_round_trip(b->h);
	hm_assert_no_finished(b->h, since);
	g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
}

static gboolean
log_says_certificate(gpointer data)
{
	const char *what[] = { ((Hb *)data)->bridge_out, "certificate" };

	return hb_file_has(what);
}

/* An https:// server with a private CA: refused without ca-file (the bridge says why), used
 * with it, artifact download included. */
static void
test_https(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *action = hb_action("26", "forced", NULL, NULL);
	g_autofree char *ca = g_build_filename(harness_tmpdir(b->h), "ca.pem", NULL);
	g_autofree char *ca_line = g_strdup_printf("ca-file=%s\n", ca);
	g_autoptr(JsonObject) closed = NULL;

	hm_make_test_ca(harness_tmpdir(b->h), "dfota-hawkbit test CA");
	hb_ddi_stop(b);
	b->tls_cert = g_build_filename(harness_tmpdir(b->h), "server.pem", NULL);
	b->tls_key = g_build_filename(harness_tmpdir(b->h), "server.key", NULL);
	hb_ddi_start(b);
	hb_script(b, "{\"action\": %s}", action);

	/* The system's CAs do not know the test CA. */
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hm_wait_cond(log_says_certificate, b, HB_WAIT_MS));
	g_assert_cmpuint(hb_count(b, "GET", "/", NULL), ==, 0);
	hb_stop(&b->bridge, SIGTERM);

	hb_config(b, ca_line);
	hb_bridge_start(b);
	closed = hb_wait_closed(b, "26");
	hb_assert_closed_success(closed);
	g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 1);
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

/* A cancel while the bridge downloads the artifact: the download ends, the module is never
 * asked, the cancel is acknowledged closed/success. */
static void
test_cancel_while_downloading(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, NULL);
	g_autofree char *action = hb_action("27", "forced", NULL, ", \"bps\": 2000");
	g_autofree char *partial = g_build_filename(b->state_dir, "artifact-27.pack", NULL);
	PartialFile pf = { partial };
	g_autoptr(JsonObject) fb = NULL;
	guint64 since = harness_mark(b->h);
	guint tty = harness_tty_mark(b->h);
	guint polls;

	hb_script(b, "{\"action\": %s}", action);
	hb_config(b, NULL);
	hb_bridge_start(b);
	g_assert_true(hm_wait_cond(partial_file_grew, &pf, HB_WAIT_MS));
	hb_script(b, "{\"action\": %s, \"cancel\": {\"id\": \"28\", \"stopId\": \"27\"}}", action);
	g_assert_true(hb_wait_count(b, "POST", "/cancelAction/28/feedback", NULL, 1));
	fb = hb_last(b, "POST", "/cancelAction/28/feedback", NULL);
	g_assert_cmpstr(hb_execution(fb), ==, "closed");
	g_assert_cmpstr(hb_finished(fb), ==, "success");
	polls = hb_count(b, "GET", "/controller/v1/gw-1", NULL);
	g_assert_true(hb_wait_count(b, "GET", "/controller/v1/gw-1", NULL, polls + 2));
	harness_round_trip(b->h);
	hm_assert_no_finished(b->h, since);
	g_assert_cmpuint(hm_count_tty(b->h, tty, "AT+QF"), ==, 0);
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/27/feedback", "closed"), ==, 0);
	g_assert_false(g_file_test(partial, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hawkbit/host-download", test_host_download);
	g_test_add_func("/hawkbit/skip-and-window", test_skip_and_window);
	g_test_add_func("/hawkbit/resume-refused", test_resume_refused);
	g_test_add_func("/hawkbit/cancel-before-start", test_cancel_before_start);
	g_test_add_func("/hawkbit/https", test_https);
	g_test_add_func("/hawkbit/cancel-while-downloading", test_cancel_while_downloading);
	return g_test_run();
}
