// SPDX-License-Identifier: LGPL-2.1-or-later
/* hawkbit-fixture.h: the dfota-hawkbit integration tests' fixture: the harness (private bus,
 * dfotad, simulator), the DDI stand-in (ddi-server.py) and the bridge, all real processes
 * tracked by PID; waits on the stand-in's request log and on D-Bus signals, never on sleeps.
 *
 * Header-only (static functions), as fault-helpers.h: each test is built from one file. */
#pragma once

#include "fault-helpers.h"
#include "harness-modes.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#define HB_WAIT_MS 90000

typedef struct {
	Harness *h;
	char *script;
	char *log;
	char *port_file;
	char *state_dir;
	char *conf;
	char *ddi_out;
	char *bridge_out;
	guint port;
	GSubprocess *ddi;
	GSubprocess *bridge;
	const char *token; /* what the stand-in requires */
	char *tls_cert;    /* set before hb_ddi_start: the stand-in speaks https */
	char *tls_key;
} Hb;

static inline void
hb_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static inline gboolean
hb_file_has(gpointer data)
{
	const char *const *what = data;
	g_autofree char *text = NULL;

	return g_file_get_contents(what[0], &text, NULL, NULL) && strstr(text, what[1]) != NULL;
}

static inline gboolean
hb_exited(gpointer data)
{
	return g_subprocess_get_identifier(data) == NULL;
}

static inline GSubprocess *
hb_spawn(const char *const *argv, const char *out)
{
	g_autoptr(GSubprocessLauncher) l =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(GError) error = NULL;
	GSubprocess *p;

	g_subprocess_launcher_set_child_setup(l, hb_child_setup, NULL, NULL);
	g_subprocess_launcher_set_stdout_file_path(l, NULL);
	{
		/* Append, so that a restarted process keeps the earlier output. */
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		g_assert_cmpint(fd, >=, 0);
		g_subprocess_launcher_take_stdout_fd(l, fd);
	}
	p = g_subprocess_launcher_spawnv(l, argv, &error);
	g_assert_no_error(error);
	g_subprocess_wait_async(p, NULL, NULL, NULL);
	g_test_message("started pid %s: %s", g_subprocess_get_identifier(p), argv[0]);
	return p;
}

static inline void
hb_stop(GSubprocess **p, int sig)
{
	if (*p == NULL)
		return;
	if (!hb_exited(*p)) {
		g_subprocess_send_signal(*p, sig);
		if (!hm_wait_cond(hb_exited, *p, 10000)) {
			g_subprocess_force_exit(*p);
			g_subprocess_wait(*p, NULL, NULL);
		}
	}
	g_clear_object(p);
}

/* Writes the stand-in's script atomically. */
static inline void G_GNUC_PRINTF(2, 3) hb_script(Hb *b, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_file_set_contents(b->script, text, -1, &error);
	g_assert_no_error(error);
}

static inline void
hb_ddi_start(Hb *b)
{
	g_autofree char *port = g_strdup_printf("%u", b->port);
	const char *argv[] = { fh_require_env("PYTHON"),
		               fh_require_env("DDI_SERVER"),
		               "--script",
		               b->script,
		               "--log",
		               b->log,
		               "--root",
		               b->h->http_root,
		               "--port-file",
		               b->port_file,
		               "--port",
		               port,
		               "--token",
		               b->token != NULL ? b->token : "",
		               "--tls-cert",
		               b->tls_cert != NULL ? b->tls_cert : "",
		               "--tls-key",
		               b->tls_key != NULL ? b->tls_key : "",
		               NULL };
	const char *ready[] = { b->port_file, "\n" };
	g_autofree char *text = NULL;

	(void)g_unlink(b->port_file);
	b->ddi = hb_spawn(argv, b->ddi_out);
	if (!hm_wait_cond(hb_file_has, ready, 20000))
		g_error("the DDI stand-in did not start");
	g_assert_true(g_file_get_contents(b->port_file, &text, NULL, NULL));
	b->port = (guint)g_ascii_strtoull(text, NULL, 10);
	g_assert_cmpuint(b->port, >, 0);
}

static inline void
hb_ddi_stop(Hb *b)
{
	hb_stop(&b->ddi, SIGTERM);
}

/* Writes hawkbit.conf ([client] with the stand-in's URL, controller gw-1, @extra lines). */
static inline void
hb_config(Hb *b, const char *extra)
{
	g_autofree char *text = g_strdup_printf("[client]\nserver=%s://127.0.0.1:%u\n"
	                                        "controller-id=gw-1\n%s",
	                                        b->tls_cert != NULL ? "https" : "http", b->port,
	                                        extra != NULL ? extra : "");
	g_autoptr(GError) error = NULL;

	g_file_set_contents(b->conf, text, -1, &error);
	g_assert_no_error(error);
}

static inline void
hb_bridge_start(Hb *b)
{
	const char *argv[] = { fh_require_env("DFOTA_HAWKBIT"),
		               "--session",
		               "--config",
		               b->conf,
		               "--state-dir",
		               b->state_dir,
		               "--verbose",
		               NULL };

	g_setenv("DBUS_SESSION_BUS_ADDRESS", b->h->bus_address, TRUE);
	b->bridge = hb_spawn(argv, b->bridge_out);
}

static inline void
hb_bridge_kill(Hb *b)
{
	g_test_message("SIGKILL dfota-hawkbit");
	hb_stop(&b->bridge, SIGKILL);
}

static inline Hb *
hb_new(const HarnessOptions *opts, const char *token)
{
	Hb *b = g_new0(Hb, 1);
	const char *dir;

	b->h = harness_new(opts);
	dir = harness_tmpdir(b->h);
	b->token = token;
	b->script = g_build_filename(dir, "ddi-script.json", NULL);
	b->log = g_build_filename(dir, "ddi-log.json", NULL);
	b->port_file = g_build_filename(dir, "ddi.port", NULL);
	b->state_dir = g_build_filename(dir, "hawkbit-state", NULL);
	b->conf = g_build_filename(dir, "hawkbit.conf", NULL);
	b->ddi_out = g_build_filename(dir, "ddi.out", NULL);
	b->bridge_out = g_build_filename(dir, "dfota-hawkbit.out", NULL);
	harness_make_package(b->h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	hb_script(b, "{}");
	hb_ddi_start(b);
	return b;
}

static inline void
hb_print(const char *path)
{
	g_autofree char *text = NULL;

	g_file_get_contents(path, &text, NULL, NULL);
	g_printerr("==== %s ====\n%s\n", path, text != NULL ? text : "");
}

static inline void
hb_free(Hb *b)
{
	gboolean clean = TRUE;

	if (b->bridge != NULL && !hb_exited(b->bridge)) {
		g_subprocess_send_signal(b->bridge, SIGTERM);
		if (!hm_wait_cond(hb_exited, b->bridge, 10000))
			clean = FALSE;
		else
			clean = g_subprocess_get_if_exited(b->bridge) &&
			        g_subprocess_get_exit_status(b->bridge) == 0;
	}
	hb_stop(&b->bridge, SIGKILL);
	hb_ddi_stop(b);
	if (!clean)
		g_test_fail_printf("dfota-hawkbit did not stop cleanly on SIGTERM");
	if (g_test_failed()) {
		hb_print(b->bridge_out);
		hb_print(b->log);
	}
	harness_free(b->h);
	g_free(b->script);
	g_free(b->log);
	g_free(b->port_file);
	g_free(b->state_dir);
	g_free(b->conf);
	g_free(b->ddi_out);
	g_free(b->bridge_out);
	g_free(b->tls_cert);
	g_free(b->tls_key);
	g_free(b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Hb, hb_free)

/* ---- the stand-in's request log ---- */

static inline JsonArray *
hb_requests(Hb *b, JsonParser **parser)
{
	g_autoptr(JsonParser) p = json_parser_new();
	JsonNode *root;

	if (!json_parser_load_from_file(p, b->log, NULL))
		return NULL;
	root = json_parser_get_root(p);
	if (root == NULL || !JSON_NODE_HOLDS_ARRAY(root))
		return NULL;
	*parser = g_steal_pointer(&p);
	return json_node_get_array(root);
}

static inline const char *
hb_str(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL && json_object_has_member(o, name) ? json_object_get_member(o, name)
	                                                           : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
	               ? json_node_get_string(n)
	               : NULL;
}

static inline JsonObject *
hb_obj(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL && json_object_has_member(o, name) ? json_object_get_member(o, name)
	                                                           : NULL;

	return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* A feedback's status.execution, or NULL when @req is no feedback. */
static inline const char *
hb_execution(JsonObject *req)
{
	return hb_str(hb_obj(hb_obj(req, "body"), "status"), "execution");
}

static inline const char *
hb_finished(JsonObject *req)
{
	return hb_str(hb_obj(hb_obj(hb_obj(req, "body"), "status"), "result"), "finished");
}

/* The detail line "@key: …" of a feedback, or NULL. */
static inline const char *
hb_detail(JsonObject *req, const char *key)
{
	JsonObject *status = hb_obj(hb_obj(req, "body"), "status");
	JsonArray *d = status != NULL && json_object_has_member(status, "details")
	                       ? json_object_get_array_member(status, "details")
	                       : NULL;
	g_autofree char *prefix = g_strconcat(key, ": ", NULL);

	for (guint i = 0; d != NULL && i < json_array_get_length(d); i++) {
		const char *line = json_array_get_string_element(d, i);

		if (line != NULL && g_str_has_prefix(line, prefix))
			return line + strlen(prefix);
	}
	return NULL;
}

typedef struct {
	const char *method;
	const char *path_part; /* substring of the path */
	const char *execution; /* NULL: any */
} HbMatch;

static inline gboolean
hb_matches(JsonObject *req, const HbMatch *m)
{
	const char *method = hb_str(req, "method");
	const char *path = hb_str(req, "path");

	return method != NULL && path != NULL && strcmp(method, m->method) == 0 &&
	       strstr(path, m->path_part) != NULL &&
	       (m->execution == NULL || g_strcmp0(hb_execution(req), m->execution) == 0);
}

static inline guint
hb_count(Hb *b, const char *method, const char *path_part, const char *execution)
{
	g_autoptr(JsonParser) p = NULL;
	JsonArray *a = hb_requests(b, &p);
	HbMatch m = { method, path_part, execution };
	guint n = 0;

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++)
		if (hb_matches(json_array_get_object_element(a, i), &m))
			n++;
	return n;
}

/* The last matching request, copied (NULL when none). */
static inline JsonObject *
hb_last(Hb *b, const char *method, const char *path_part, const char *execution)
{
	g_autoptr(JsonParser) p = NULL;
	JsonArray *a = hb_requests(b, &p);
	HbMatch m = { method, path_part, execution };
	JsonObject *found = NULL;

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++)
		if (hb_matches(json_array_get_object_element(a, i), &m))
			found = json_array_get_object_element(a, i);
	return found != NULL ? json_object_ref(found) : NULL;
}

typedef struct {
	Hb *b;
	HbMatch m;
	guint n;
} HbWait;

static inline gboolean
hb_cond_count(gpointer data)
{
	HbWait *w = data;

	return hb_count(w->b, w->m.method, w->m.path_part, w->m.execution) >= w->n;
}

/* Waits until at least @n matching requests were logged. */
static inline gboolean
hb_wait_count(Hb *b, const char *method, const char *path_part, const char *execution, guint n)
{
	HbWait w = { b, { method, path_part, execution }, n };

	return hm_wait_cond(hb_cond_count, &w, HB_WAIT_MS);
}

/* Waits for the action's closed feedback and returns it. */
static inline JsonObject *
hb_wait_closed(Hb *b, const char *action_id)
{
	g_autofree char *part = g_strdup_printf("/deploymentBase/%s/feedback", action_id);

	if (!hb_wait_count(b, "POST", part, "closed", 1))
		g_error("no closed feedback for action %s", action_id);
	return hb_last(b, "POST", part, "closed");
}

/* Every request carried @auth (NULL: none at all). */
static inline void
hb_assert_auth(Hb *b, const char *auth)
{
	g_autoptr(JsonParser) p = NULL;
	JsonArray *a = hb_requests(b, &p);

	g_assert_nonnull(a);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *req = json_array_get_object_element(a, i);

		g_assert_cmpstr(hb_str(hb_obj(req, "headers"), "Authorization"), ==, auth);
	}
}

/* The proceeding feedback of @action_id came at least @min_s seconds apart. The bridge keeps
 * 3 s between them; the stand-in stamps them on arrival, so a test passes a margin below that
 * for a loaded machine (without the rate limit they come a fraction of a second apart).
 * Returns how many there were. */
static inline guint
hb_assert_feedback_spacing(Hb *b, const char *action_id, double min_s)
{
	g_autoptr(JsonParser) p = NULL;
	JsonArray *a = hb_requests(b, &p);
	g_autofree char *part = g_strdup_printf("/deploymentBase/%s/feedback", action_id);
	HbMatch m = { "POST", part, "proceeding" };
	double last = -1;
	guint n = 0;

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonObject *req = json_array_get_object_element(a, i);
		double t;

		if (!hb_matches(req, &m))
			continue;
		t = json_object_get_double_member(req, "time");
		g_test_message("proceeding at %.2f: %s %s", t, hb_detail(req, "phase"),
		               hb_detail(req, "percent"));
		if (last >= 0 && t - last < min_s)
			g_test_fail_printf("two proceeding feedbacks %.2f s apart", t - last);
		last = t;
		n++;
	}
	return n;
}

/* A proceeding feedback of @action_id reported @phase, with result.progress {cnt, of: 5}. */
static inline gboolean
hb_proceeding_seen(Hb *b, const char *action_id, const char *phase)
{
	g_autoptr(JsonParser) p = NULL;
	JsonArray *a = hb_requests(b, &p);
	g_autofree char *part = g_strdup_printf("/deploymentBase/%s/feedback", action_id);
	HbMatch m = { "POST", part, "proceeding" };

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonObject *req = json_array_get_object_element(a, i);
		JsonObject *progress =
		        hb_obj(hb_obj(hb_obj(hb_obj(req, "body"), "status"), "result"), "progress");

		if (hb_matches(req, &m) && g_strcmp0(hb_detail(req, "phase"), phase) == 0 &&
		    progress != NULL && json_object_get_int_member(progress, "of") == 5 &&
		    json_object_get_int_member(progress, "cnt") >= 1)
			return TRUE;
	}
	return FALSE;
}

/* The closed feedback of a successful upgrade from HARNESS_REV_FROM to HARNESS_REV_TO. */
static inline void
hb_assert_closed_success(JsonObject *closed)
{
	g_test_message("closed: %s %s: %s", hb_finished(closed), hb_detail(closed, "error"),
	               hb_detail(closed, "message"));
	g_assert_cmpstr(hb_finished(closed), ==, "success");
	g_assert_cmpstr(hb_detail(closed, "error"), ==, "");
	g_assert_cmpstr(hb_detail(closed, "code"), ==, "0");
	g_assert_cmpstr(hb_detail(closed, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpstr(hb_detail(closed, "to-revision"), ==, HARNESS_REV_TO);
}

/* "action": a deployment of update.pack with @update (and @window, when not NULL). */
static inline char *
hb_action(const char *id, const char *update, const char *window, const char *artifact_extra)
{
	return g_strdup_printf(
	        "{\"id\": \"%s\", \"download\": \"forced\", \"update\": \"%s\"%s%s%s, "
	        "\"artifacts\": [{\"filename\": \"update.pack\"%s}]}",
	        id, update, window != NULL ? ", \"maintenanceWindow\": \"" : "",
	        window != NULL ? window : "", window != NULL ? "\"" : "",
	        artifact_extra != NULL ? artifact_extra : "");
}
