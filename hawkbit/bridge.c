// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge.c: polls hawkBit's DDI API and turns its deployments into dfotad jobs: the poll loop,
 * deployments (download, start), following a job, cancel actions, restarts. What is reported
 * back to hawkBit is in bridge-report.c. */
#include "bridge-private.h"
#include "ddi-json.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* ---- events from the main loop ------------------------------------------------------------ */

static void
event_free(gpointer data)
{
	Event *e = data;

	g_free(e->phase);
	g_clear_pointer(&e->result, g_variant_unref);
	g_free(e);
}

static void
push(Bridge *b, EventType type, const char *phase, guint percent, GVariant *result)
{
	Event *e = g_new0(Event, 1);

	e->type = type;
	e->phase = g_strdup(phase);
	e->percent = percent;
	e->result = result != NULL ? g_variant_ref(result) : NULL;
	g_async_queue_push(b->events, e);
}

static void
on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *member, GVariant *params, gpointer data)
{
	Bridge *b = data;

	if (strcmp(member, "Progress") == 0 &&
	    g_variant_is_of_type(params, G_VARIANT_TYPE("(su)"))) {
		const char *phase;
		guint percent;

		g_variant_get(params, "(&su)", &phase, &percent);
		push(b, EV_PROGRESS, phase, percent, NULL);
	} else if (strcmp(member, "Finished") == 0 &&
	           g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})"))) {
		g_autoptr(GVariant) result = g_variant_get_child_value(params, 0);

		push(b, EV_FINISHED, NULL, 0, result);
	}
}

static void
on_daemon_appeared(GDBusConnection *c, const char *name, const char *owner, gpointer data)
{
	push(data, EV_DAEMON_UP, NULL, 0, NULL);
}

/* Waits up to @timeout_ms for an event; NULL on timeout. */
static Event *
next_event(Bridge *b, gint64 timeout_ms)
{
	if (g_atomic_int_get(&b->stop))
		return NULL;
	return g_async_queue_timeout_pop(b->events, MAX(timeout_ms, 0) * 1000);
}

/* Sleeps @seconds, or less when told to stop; dfotad's events meanwhile are dropped. */
static void
sleep_s(Bridge *b, guint seconds)
{
	gint64 until = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;

	while (!g_atomic_int_get(&b->stop)) {
		gint64 left = until - g_get_monotonic_time();
		Event *e;

		if (left <= 0)
			return;
		e = next_event(b, left / 1000 + 1);
		if (e != NULL)
			event_free(e);
	}
}

/* ---- dfotad ---------------------------------------------------------------------------------- */

GVariant *
bridge_dfotad_property(Bridge *b, const char *iface, const char *name)
{
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	        b->bus, DFOTAD_NAME, b->modem_path, "org.freedesktop.DBus.Properties", "Get",
	        g_variant_new("(ss)", iface, name), G_VARIANT_TYPE("(v)"),
	        G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL, NULL);
	GVariant *value = NULL;

	if (reply != NULL)
		g_variant_get(reply, "(v)", &value);
	return value;
}

char *
bridge_dfotad_string(Bridge *b, const char *iface, const char *name)
{
	g_autoptr(GVariant) v = bridge_dfotad_property(b, iface, name);

	return v != NULL && g_variant_is_of_type(v, G_VARIANT_TYPE_STRING)
	               ? g_variant_dup_string(v, NULL)
	               : g_strdup("");
}

guint64
bridge_dict_id(GVariant *dict)
{
	guint64 id = 0;

	if (dict != NULL && g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT))
		g_variant_lookup(dict, "id", "t", &id);
	return id;
}

static gint64
dict_started(GVariant *dict)
{
	guint64 t = 0;

	if (dict != NULL && g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT))
		g_variant_lookup(dict, "started", "t", &t);
	return (gint64)t;
}

/* GET @url as a JSON object. *status gets the HTTP status (0: no answer). */
static JsonObject *
get_object(Bridge *b, const char *url, long *status, JsonParser **parser)
{
	DdiResponse r = { 0 };
	JsonObject *o = NULL;

	ddi_get(&b->ddi, url, &r);
	*status = r.status;
	if (r.status == 0)
		g_warning("GET %s: %s", url, r.curl_error);
	else if (r.status == 401 || r.status == 403)
		g_warning("hawkBit refused this controller (HTTP %ld): check target-token or "
		          "gateway-token in the configuration, and that the tenant allows it",
		          r.status);
	else if (r.status == 200 && (o = ddi_response_object(&r, parser)) == NULL)
		g_warning("GET %s: the answer is not a JSON object", url);
	else if (r.status != 200)
		g_warning("GET %s: HTTP %ld", url, r.status);
	/* 429 and 503 may say when to come back; a longer wait than the longest back-off is
	 * capped to it. */
	b->retry_after_s = r.status == 429 || r.status == 503
	                           ? ddi_parse_retry_after(r.retry_after, MAX_BACKOFF_S)
	                           : 0;
	ddi_response_clear(&r);
	return o;
}

void
bridge_drop_action(Bridge *b)
{
	g_autofree char *name = g_strdup_printf("artifact-%s.pack", b->state->action_id);
	g_autofree char *path = g_build_filename(b->state_dir, name, NULL);

	g_message("action %s: gone from hawkBit (HTTP 410); dropped", b->state->action_id);
	(void)g_unlink(path);
	bridge_state_finish(b->state);
	(void)bridge_state_save(b->state, NULL);
}

/* ---- following a job ------------------------------------------------------------------------- */

static void handle_cancel(Bridge *b, const char *href, gboolean running);
static guint backoff(Bridge *b);

/* Looks at dfotad's Job and LastResult for the followed job: TRUE (and the action closed) when
 * it has ended. A dfotad that has just restarted shows neither for a while (it resumes the job
 * from its journal once the modem answers), so only a later job, or no trace of ours for
 * LOST_AFTER_US, means the job is lost. */
static gboolean
check_job(Bridge *b)
{
	g_autoptr(GVariant) job = bridge_dfotad_property(b, IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = NULL;
	guint64 ours = b->state->job_id;

	if (job == NULL) {
		b->no_trace_since_us = 0;
		return FALSE; /* dfotad is away; its return brings the answer */
	}
	if (ours != 0 && bridge_dict_id(job) == ours) {
		b->no_trace_since_us = 0;
		return FALSE;
	}
	last = bridge_dfotad_property(b, IFACE_FOTA, "LastResult");
	if (ours != 0 && last != NULL && bridge_dict_id(last) == ours) {
		bridge_close_from_result(b, last);
		return TRUE;
	}
	if (ours != 0 && bridge_dict_id(job) < ours && bridge_dict_id(last) < ours) {
		if (b->no_trace_since_us == 0)
			b->no_trace_since_us = g_get_monotonic_time();
		if (g_get_monotonic_time() - b->no_trace_since_us < LOST_AFTER_US)
			return FALSE;
	}
	b->no_trace_since_us = 0;
	bridge_close_failure(
	        b, "ModemLost",
	        "dfotad no longer knows the job this action started (its state was lost)");
	return TRUE;
}

/* Polls the controller base while a job runs: only a cancelAction matters then. Returns the
 * seconds to the next poll (backing off while the server fails). */
static guint
poll_during_job(Bridge *b)
{
	g_autofree char *url = ddi_controller_url(&b->ddi, NULL);
	g_autoptr(JsonParser) parser = NULL;
	long status;
	JsonObject *o = get_object(b, url, &status, &parser);
	const char *cancel = ddi_link_href(o, "cancelAction");

	if (o == NULL)
		return backoff(b);
	b->failures = 0;
	if (cancel != NULL)
		handle_cancel(b, cancel, TRUE);
	return b->poll_s;
}

/* Follows dfotad's job until its Finished; returns when the action is closed or the bridge
 * stops (then the state keeps it for the next start). */
static void
follow_job(Bridge *b)
{
	gint64 next_poll = g_get_monotonic_time() + (gint64)b->poll_s * G_USEC_PER_SEC;

	g_free(b->action_id);
	b->action_id = g_strdup(b->state->action_id);
	if (check_job(b))
		return;
	while (!g_atomic_int_get(&b->stop) && b->state->stage == BRIDGE_STAGE_RUNNING) {
		gint64 now = g_get_monotonic_time();
		gint64 wait = next_poll - now;
		Event *e;

		if (b->feedback_pending)
			wait = MIN(wait, b->last_feedback_us + FEEDBACK_INTERVAL_US - now);
		e = next_event(b, wait / 1000 + 1);
		if (e == NULL) {
			bridge_note_progress(b, NULL, 0);
			if (g_get_monotonic_time() >= next_poll) {
				guint s = b->poll_s;

				if (!check_job(b))
					s = poll_during_job(b);
				next_poll = g_get_monotonic_time() + (gint64)s * G_USEC_PER_SEC;
			}
			continue;
		}
		if (e->type == EV_PROGRESS && strcmp(e->phase, "idle") != 0) {
			bridge_note_progress(b, e->phase, e->percent);
		} else if (e->type == EV_FINISHED &&
		           bridge_dict_id(e->result) == b->state->job_id) {
			bridge_close_from_result(b, e->result);
		} else if (e->type == EV_DAEMON_UP) {
			check_job(b);
		}
		event_free(e);
	}
}

/* Reads dfotad's Job (or, for a job that ended at once, LastResult) after a start. */
static guint64
started_job_id(Bridge *b, guint64 previous)
{
	g_autoptr(GVariant) job = bridge_dfotad_property(b, IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = NULL;

	if (bridge_dict_id(job) > previous)
		return bridge_dict_id(job);
	last = bridge_dfotad_property(b, IFACE_FOTA, "LastResult");
	return bridge_dict_id(last) > previous ? bridge_dict_id(last) : 0;
}

StartFailure
bridge_classify_start_error(const char *remote)
{
	if (remote == NULL)
		return START_UNKNOWN; /* a timeout or a lost connection */
	if (strcmp(remote, ERROR_PREFIX "Busy") == 0 ||
	    strcmp(remote, ERROR_PREFIX "NotReady") == 0 ||
	    strcmp(remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0)
		return START_NOT_STARTED;
	if (strcmp(remote, "org.freedesktop.DBus.Error.NoReply") == 0 ||
	    strcmp(remote, "org.freedesktop.DBus.Error.Disconnected") == 0 ||
	    strcmp(remote, "org.freedesktop.DBus.Error.Timeout") == 0 ||
	    strcmp(remote, "org.freedesktop.DBus.Error.TimedOut") == 0)
		return START_UNKNOWN;
	if (strcmp(remote, "org.freedesktop.DBus.Error.AccessDenied") == 0 ||
	    strcmp(remote, "org.freedesktop.DBus.Error.AuthFailed") == 0)
		return START_DENIED;
	return START_REFUSED;
}

/* Settles a STARTING stage from dfotad's @job and @last: RUNNING when a job started at or
 * after the start call exists, DOWNLOADING (start it again) when none did. */
static void
settle_starting(Bridge *b, GVariant *job, GVariant *last)
{
	BridgeState *s = b->state;

	if (bridge_dict_id(job) > 0 && dict_started(job) >= s->started_us - G_USEC_PER_SEC)
		s->job_id = bridge_dict_id(job);
	else if (bridge_dict_id(last) > 0 && dict_started(last) >= s->started_us - G_USEC_PER_SEC)
		s->job_id = bridge_dict_id(last);
	s->stage = s->job_id > 0 ? BRIDGE_STAGE_RUNNING : BRIDGE_STAGE_DOWNLOADING;
	(void)bridge_state_save(s, NULL);
}

/* A STARTING stage whose start call got no answer: settled when dfotad answers. TRUE when it
 * is settled (RUNNING or DOWNLOADING), FALSE while dfotad stays silent. */
static gboolean
try_settle_starting(Bridge *b)
{
	g_autoptr(GVariant) job = bridge_dfotad_property(b, IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = NULL;

	if (job == NULL)
		return FALSE;
	last = bridge_dfotad_property(b, IFACE_FOTA, "LastResult");
	settle_starting(b, job, last);
	g_message("action %s: %s", b->state->action_id,
	          b->state->stage == BRIDGE_STAGE_RUNNING ? "dfotad had started its job"
	                                                  : "dfotad had not started its job");
	return TRUE;
}

/* Calls @method; on success the action is RUNNING with dfotad's job id. FALSE when the call
 * failed for now (the action is tried again on a later poll). A call without an answer leaves
 * the action STARTING until dfotad tells whether the job started. */
static gboolean
start_job(Bridge *b, const char *method, GVariant *params, GUnixFDList *fds)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) save_error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) before = bridge_dfotad_property(b, IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = bridge_dfotad_property(b, IFACE_FOTA, "LastResult");
	guint64 previous = MAX(bridge_dict_id(before), bridge_dict_id(last));

	b->state->stage = BRIDGE_STAGE_STARTING;
	b->state->started_us = g_get_real_time();
	b->state->job_id = 0;
	if (!bridge_state_save(b->state, &save_error))
		g_warning("%s", save_error->message);
	/* Drop what was queued before this job. */
	for (Event *e; (e = g_async_queue_try_pop(b->events)) != NULL;) {
		if (e->type == EV_QUIT)
			g_async_queue_push_front(b->events, g_steal_pointer(&e));
		else
			event_free(e);
		if (e == NULL)
			break;
	}
	reply = g_dbus_connection_call_with_unix_fd_list_sync(
	        b->bus, DFOTAD_NAME, b->modem_path, IFACE_FOTA, method, params, NULL,
	        G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, fds, NULL, NULL, &error);
	if (reply == NULL) {
		g_autofree char *remote = g_dbus_error_get_remote_error(error);

		g_dbus_error_strip_remote_error(error);
		switch (bridge_classify_start_error(remote)) {
		case START_NOT_STARTED:
			g_message("action %s: %s not possible now (%s: %s); trying again later",
			          b->state->action_id, method, remote, error->message);
			b->state->stage = BRIDGE_STAGE_DOWNLOADING;
			if (!bridge_state_save(b->state, &save_error))
				g_warning("%s", save_error->message);
			return FALSE;
		case START_UNKNOWN:
			g_warning("action %s: %s got no answer (%s: %s); asking dfotad whether the "
			          "job started",
			          b->state->action_id, method, remote != NULL ? remote : "error",
			          error->message);
			if (!try_settle_starting(b) || b->state->stage != BRIDGE_STAGE_RUNNING)
				return FALSE;
			bridge_note_progress(b, "started", 0);
			return TRUE;
		case START_DENIED:
		case START_REFUSED:
			break;
		}
		if (bridge_classify_start_error(remote) == START_DENIED) {
			g_autofree char *msg =
			        g_strdup_printf("dfotad denied the bridge %s (%s: %s); check the "
			                        "D-Bus policy for the "
			                        "bridge's user",
			                        method, remote, error->message);

			bridge_close_failure(b, "AccessDenied", msg);
		} else if (g_str_has_prefix(remote, ERROR_PREFIX)) {
			bridge_close_failure(b, remote + strlen(ERROR_PREFIX), error->message);
		} else {
			g_autofree char *msg = g_strdup_printf(
			        "dfotad refused %s (%s: %s); is it older than this bridge?", method,
			        remote, error->message);

			bridge_close_failure(b, "Unknown", msg);
		}
		return TRUE;
	}
	b->state->job_id = started_job_id(b, previous);
	b->state->stage = BRIDGE_STAGE_RUNNING;
	if (!bridge_state_save(b->state, &save_error))
		g_warning("%s", save_error->message);
	g_message("action %s: dfotad job %" G_GUINT64_FORMAT " started", b->state->action_id,
	          b->state->job_id);
	bridge_note_progress(b, "started", 0);
	return TRUE;
}

/* ---- deployments ----------------------------------------------------------------------------- */

static char *
sha256_of(const char *path, gint64 *size)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GMappedFile) map = g_mapped_file_new(path, FALSE, NULL);

	if (map == NULL)
		return NULL;
	g_checksum_update(sum, (const guchar *)g_mapped_file_get_contents(map),
	                  g_mapped_file_get_length(map));
	*size = (gint64)g_mapped_file_get_length(map);
	return g_strdup(g_checksum_get_string(sum));
}

/* Downloads the artifact into the state directory, resuming; checks size and hash. TRUE when
 * the file is ready; otherwise the action was closed, or (*retry) should be tried again. */
static gboolean
download_artifact(Bridge *b, const DdiArtifact *a, const char *path, gboolean *retry)
{
	DdiResponse r = { 0 };
	g_autofree char *sha = NULL;
	gint64 have = 0;
	GStatBuf st;

	*retry = FALSE;
	if (a->size > MAX_ARTIFACT_BYTES) {
		g_autofree char *msg =
		        g_strdup_printf("artifact %s is %" G_GINT64_FORMAT
		                        " bytes; the bridge takes at most %d MiB",
		                        a->filename, a->size, MAX_ARTIFACT_BYTES / (1024 * 1024));

		bridge_close_failure(b, "InvalidArgument", msg);
		return FALSE;
	}
	if (a->sha256 == NULL) {
		bridge_close_failure(b, "InvalidArgument", "the artifact has no sha256 hash");
		return FALSE;
	}
	if (a->size < 0)
		g_message("action %s: hawkBit announced no size for %s; relying on its sha256 hash",
		          b->state->action_id, a->filename);
	for (guint attempt = 0; attempt < DOWNLOAD_ATTEMPTS; attempt++) {
		if (g_atomic_int_get(&b->stop))
			return *retry = TRUE, FALSE;
		if (attempt > 0)
			sleep_s(b, 1u << MIN(attempt, 5u));
		if (a->size >= 0 && g_stat(path, &st) == 0 && st.st_size >= a->size) {
			if (st.st_size == a->size)
				break;
			(void)g_unlink(path); /* more than announced: start over */
		}
		ddi_download(&b->ddi, a->download, path, &r);
		if (r.curl_error == NULL && (r.status == 200 || r.status == 206)) {
			ddi_response_clear(&r);
			break;
		}
		g_warning("action %s: download of %s: HTTP %ld: %s", b->state->action_id,
		          a->filename, r.status, r.curl_error != NULL ? r.curl_error : "");
		if (g_atomic_int_get(&b->stop)) {
			ddi_response_clear(&r);
			return *retry = TRUE, FALSE;
		}
		/* A missing or forbidden artifact will not appear by retrying. */
		if (r.too_large || r.status == 404 || r.status == 410 || r.status == 403 ||
		    r.status == 401 || attempt + 1 == DOWNLOAD_ATTEMPTS) {
			g_autofree char *msg =
			        r.status != 0 ? g_strdup_printf("download of %s failed: HTTP %ld",
			                                        a->filename, r.status)
			                      : g_strdup_printf("download of %s failed: %s",
			                                        a->filename, r.curl_error);

			ddi_response_clear(&r);
			(void)g_unlink(path);
			bridge_close_failure(b, "FetchFailed", msg);
			return FALSE;
		}
		ddi_response_clear(&r);
	}
	sha = sha256_of(path, &have);
	if (sha == NULL || (a->size >= 0 && have != a->size)) {
		g_autofree char *msg =
		        g_strdup_printf("%s: %" G_GINT64_FORMAT
		                        " bytes received, the server announced %" G_GINT64_FORMAT,
		                        a->filename, have, a->size);

		(void)g_unlink(path);
		bridge_close_failure(b, "ChecksumMismatch", msg);
		return FALSE;
	}
	if (a->sha256 != NULL && g_ascii_strcasecmp(sha, a->sha256) != 0) {
		g_autofree char *msg = g_strdup_printf(
		        "%s: sha256 %s, hawkBit announced %s; the module was not touched",
		        a->filename, sha, a->sha256);

		(void)g_unlink(path);
		bridge_close_failure(b, "ChecksumMismatch", msg);
		return FALSE;
	}
	return TRUE;
}

static GVariant *
sha_options(const char *sha256, gboolean fallback)
{
	GVariantBuilder vb;

	g_variant_builder_init(&vb, G_VARIANT_TYPE_VARDICT);
	if (fallback)
		g_variant_builder_add(&vb, "{sv}", "fallback-via-host",
		                      g_variant_new_boolean(TRUE));
	if (sha256 != NULL) {
		g_autofree char *lower = g_ascii_strdown(sha256, -1);

		g_variant_builder_add(&vb, "{sv}", "sha256", g_variant_new_string(lower));
	}
	return g_variant_builder_end(&vb);
}

/* A cancel that came while the bridge downloaded: looked for before dfotad is asked to start,
 * so that a cancelled action never reaches the module. TRUE when the action was cancelled. */
static gboolean
cancelled_before_start(Bridge *b)
{
	g_autofree char *url = ddi_controller_url(&b->ddi, NULL);
	g_autofree char *id = g_strdup(b->state->action_id);
	g_autoptr(JsonParser) parser = NULL;
	long status;
	JsonObject *o = get_object(b, url, &status, &parser);
	const char *cancel = ddi_link_href(o, "cancelAction");

	if (cancel == NULL)
		return FALSE;
	handle_cancel(b, cancel, FALSE);
	return b->state->action_id == NULL || strcmp(b->state->action_id, id) != 0;
}

static void
run_deployment(Bridge *b, const DdiArtifact *a)
{
	g_autofree char *name = g_strdup_printf("artifact-%s.pack", b->state->action_id);
	g_autofree char *path = g_build_filename(b->state_dir, name, NULL);
	g_autoptr(GUnixFDList) fds = NULL;
	gboolean retry;
	int fd;

	if (b->config->download_module) {
		if (a->download_http == NULL) {
			bridge_close_failure(
			        b, "InvalidUrl",
			        "download=module needs the artifact's download-http link (an "
			        "anonymous http:// download); hawkBit sent none");
			return;
		}
		if (start_job(b, "UpgradeWithOptions",
		              g_variant_new("(s@a{sv})", a->download_http,
		                            sha_options(a->sha256, TRUE)),
		              NULL) &&
		    b->state->stage == BRIDGE_STAGE_RUNNING)
			follow_job(b);
		return;
	}
	bridge_note_progress(b, "artifact-download", 0);
	if (b->state->action_id == NULL)
		return; /* hawkBit has dropped it */
	if (!download_artifact(b, a, path, &retry))
		return;
	if (cancelled_before_start(b)) {
		(void)g_unlink(path);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bridge_close_failure(b, "FetchFailed", g_strerror(errno));
		return;
	}
	fds = g_unix_fd_list_new_from_array(&fd, 1);
	if (start_job(b, "UpgradeFromFile",
	              g_variant_new("(h@a{sv})", 0, sha_options(a->sha256, FALSE)), fds) &&
	    b->state->stage == BRIDGE_STAGE_RUNNING) {
		(void)g_unlink(path);
		follow_job(b);
	}
	if (b->state->stage != BRIDGE_STAGE_DOWNLOADING && b->state->stage != BRIDGE_STAGE_STARTING)
		(void)g_unlink(path);
}

static void
handle_deployment(Bridge *b, const char *href)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autofree char *id = NULL;
	g_autofree char *why = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *o, *deployment;
	const char *update, *window;
	DdiArtifact a = { 0 };
	long status;

	o = get_object(b, href, &status, &parser);
	if (o == NULL) {
		if (status == 410 && b->state->action_id != NULL)
			bridge_drop_action(b);
		return;
	}
	id = ddi_id_member(o);
	if (!ddi_id_is_safe(id)) {
		g_warning("deploymentBase without a usable id; ignored");
		return;
	}
	if (bridge_state_is_done(b->state, id))
		return;
	deployment = ddi_obj_member(o, "deployment");
	update = ddi_str_member(deployment, "update");
	window = ddi_str_member(deployment, "maintenanceWindow");
	if (update == NULL || strcmp(update, "skip") == 0) {
		g_debug("action %s: update is skip; nothing to do", id);
		return;
	}
	if (window != NULL && strcmp(window, "unavailable") == 0) {
		g_message("action %s: waiting for its maintenance window", id);
		return;
	}
	if (b->state->action_id == NULL || strcmp(b->state->action_id, id) != 0) {
		bridge_state_begin(b->state, id, BRIDGE_STAGE_DOWNLOADING);
		if (!bridge_state_save(b->state, &error))
			g_warning("%s", error->message);
		g_message("action %s: deployment (update %s)", id, update);
	}
	if (b->action_id == NULL || strcmp(b->action_id, id) != 0) {
		/* A new action: its first report goes out at once. */
		g_free(b->action_id);
		b->action_id = g_strdup(id);
		g_clear_pointer(&b->last_phase, g_free);
		b->last_feedback_us = 0;
	}
	if (!ddi_find_artifact(deployment, &a, &why)) {
		bridge_close_failure(b, "InvalidArgument", why);
		return;
	}
	run_deployment(b, &a);
}

/* ---- cancel ---------------------------------------------------------------------------------- */

static void
handle_cancel(Bridge *b, const char *href, gboolean running)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autofree char *id = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	JsonObject *o, *ca;
	const char *stop_id;
	long status;

	o = get_object(b, href, &status, &parser);
	id = ddi_id_member(o);
	ca = ddi_obj_member(o, "cancelAction");
	stop_id = ddi_str_member(ca, "stopId");
	if (!ddi_id_is_safe(id) || stop_id == NULL)
		return;
	if (g_hash_table_contains(b->cancels_seen, id))
		return;
	if (!running || b->state->action_id == NULL || strcmp(stop_id, b->state->action_id) != 0) {
		/* Nothing of it runs here: it will not start either. */
		g_message("cancel of action %s: not running here; acknowledged", stop_id);
		bridge_state_mark_done(b->state, stop_id);
		if (b->state->action_id != NULL && strcmp(stop_id, b->state->action_id) == 0)
			bridge_state_finish(b->state);
		(void)bridge_state_save(b->state, NULL);
		bridge_cancel_feedback(b, id, "closed", "success",
		                       "the action had not reached the module; it will not run");
		return;
	}
	reply = g_dbus_connection_call_sync(b->bus, DFOTAD_NAME, b->modem_path, IFACE_FOTA,
	                                    "Cancel", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
	                                    CALL_TIMEOUT_MS, NULL, &error);
	if (reply == NULL) {
		g_autofree char *remote = g_dbus_error_get_remote_error(error);
		g_autofree char *msg = NULL;

		g_dbus_error_strip_remote_error(error);
		if (g_strcmp0(remote, ERROR_PREFIX "NotCancellable") != 0) {
			/* dfotad away, busy or slow: the cancel is asked for again on the next poll. */
			g_message("cancel of action %s failed for now (%s: %s); trying again",
			          stop_id, remote != NULL ? remote : "error", error->message);
			return;
		}
		msg = g_strdup_printf("the job is past its cancellable phases: %s", error->message);
		g_message("cancel of action %s rejected: %s", stop_id, msg);
		g_hash_table_add(b->cancels_seen, g_strdup(id));
		bridge_cancel_feedback(b, id, "rejected", "none", msg);
		return;
	}
	/* The job ends with Cancelled; the action ends with the cancel's own feedback. */
	g_message("action %s cancelled", stop_id);
	bridge_cancel_feedback(b, id, "closed", "success",
	                       "cancelled before the module was touched");
	bridge_state_finish(b->state);
	(void)bridge_state_save(b->state, NULL);
}

/* ---- the poll loop --------------------------------------------------------------------------- */

static guint
backoff(Bridge *b)
{
	guint s = MAX(b->poll_s, 1u);

	b->failures++;
	for (guint i = 1; i < b->failures && s < MAX_BACKOFF_S; i++)
		s *= 2;
	return MAX(MIN(s, (guint)MAX_BACKOFF_S), b->retry_after_s);
}

/* Artifacts of actions that are over (dropped, cancelled, closed while the file stayed). */
static void
remove_stale_artifacts(Bridge *b)
{
	g_autoptr(GDir) dir = g_dir_open(b->state_dir, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = NULL;

		if (!g_str_has_prefix(name, "artifact-") || !g_str_has_suffix(name, ".pack"))
			continue;
		path = g_build_filename(b->state_dir, name, NULL);
		(void)g_unlink(path);
	}
}

/* One poll of the controller base; returns the seconds to sleep. */
static guint
poll_once(Bridge *b)
{
	g_autofree char *url = ddi_controller_url(&b->ddi, NULL);
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *o;
	const char *href;
	long status;

	bridge_retry_closing(b);
	if (b->state->action_id == NULL)
		remove_stale_artifacts(b);
	o = get_object(b, url, &status, &parser);
	if (o == NULL)
		return backoff(b);
	b->failures = 0;
	b->poll_s = ddi_parse_sleep(
	        ddi_str_member(ddi_obj_member(ddi_obj_member(o, "config"), "polling"), "sleep"));
	bridge_send_config_data(b, ddi_link_href(o, "configData") != NULL);
	if (b->state->stage == BRIDGE_STAGE_CLOSING)
		return b->poll_s;
	/* A start call without an answer: never started again before dfotad tells. */
	if (b->state->stage == BRIDGE_STAGE_STARTING && !try_settle_starting(b))
		return b->poll_s;
	if (b->state->stage == BRIDGE_STAGE_RUNNING) {
		follow_job(b);
		return b->poll_s;
	}
	if ((href = ddi_link_href(o, "cancelAction")) != NULL)
		handle_cancel(b, href, FALSE);
	else if ((href = ddi_link_href(o, "deploymentBase")) != NULL)
		handle_deployment(b, href);
	return b->poll_s;
}

/* After a restart: the action the state names is reported or followed, never started again. */
static void
resume(Bridge *b)
{
	BridgeState *s = b->state;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	gint64 until;

	if (s->action_id != NULL) {
		/* The bridge before the restart may have just reported: keep the interval. */
		b->action_id = g_strdup(s->action_id);
		b->last_feedback_us = g_get_monotonic_time();
	}
	if (s->stage == BRIDGE_STAGE_CLOSING)
		bridge_retry_closing(b);
	if (s->stage != BRIDGE_STAGE_STARTING && s->stage != BRIDGE_STAGE_RUNNING)
		return;
	/* Wait a while for dfotad: it knows what became of the job. */
	until = g_get_monotonic_time() + RESUME_WAIT_US;
	while (!g_atomic_int_get(&b->stop) &&
	       (job = bridge_dfotad_property(b, IFACE_FOTA, "Job")) == NULL) {
		gint64 left = until - g_get_monotonic_time();
		Event *e;

		if (left <= 0)
			break;
		e = next_event(b, MIN(left / 1000 + 1, 5000));
		if (e != NULL)
			event_free(e);
	}
	if (job == NULL) {
		if (!g_atomic_int_get(&b->stop))
			g_message(
			        "action %s: dfotad does not answer yet; the poll loop settles the "
			        "action once it does",
			        s->action_id);
		return;
	}
	last = bridge_dfotad_property(b, IFACE_FOTA, "LastResult");
	/* Did the call reach dfotad before the bridge stopped? */
	if (s->stage == BRIDGE_STAGE_STARTING)
		settle_starting(b, job, last);
	if (s->stage == BRIDGE_STAGE_RUNNING) {
		g_message("action %s: following dfotad job %" G_GUINT64_FORMAT " after a restart",
		          s->action_id, s->job_id);
		follow_job(b);
	}
}

static gpointer
worker(gpointer data)
{
	Bridge *b = data;

	resume(b);
	while (!g_atomic_int_get(&b->stop)) {
		guint s = poll_once(b);

		sleep_s(b, s);
	}
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

Bridge *
bridge_new(BridgeConfig *config, GDBusConnection *bus, const char *state_dir)
{
	Bridge *b = g_new0(Bridge, 1);
	g_autofree char *auth = NULL;

	b->config = config;
	b->bus = g_object_ref(bus);
	b->modem_path = g_strdup_printf("/org/dfotad1/Modem/%u", config->modem);
	b->state_dir = g_strdup(state_dir);
	b->events = g_async_queue_new_full(event_free);
	b->poll_s = 1;
	b->cancels_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	b->state = bridge_state_load(state_dir);
	b->ddi.server = config->server;
	b->ddi.tenant = config->tenant;
	b->ddi.controller_id = config->controller_id;
	b->ddi.ca_file = config->ca_file;
	b->ddi.stop = &b->stop;
	b->ddi.max_download = MAX_ARTIFACT_BYTES;
	if (config->target_token != NULL)
		b->ddi.auth_header =
		        g_strdup_printf("Authorization: TargetToken %s", config->target_token);
	else if (config->gateway_token != NULL)
		b->ddi.auth_header =
		        g_strdup_printf("Authorization: GatewayToken %s", config->gateway_token);
	b->subs[0] = g_dbus_connection_signal_subscribe(
	        bus, DFOTAD_NAME, IFACE_FOTA, "Progress", b->modem_path, NULL,
	        G_DBUS_SIGNAL_FLAGS_NONE, on_signal, b, NULL);
	b->subs[1] = g_dbus_connection_signal_subscribe(
	        bus, DFOTAD_NAME, IFACE_FOTA, "Finished", b->modem_path, NULL,
	        G_DBUS_SIGNAL_FLAGS_NONE, on_signal, b, NULL);
	b->watch = g_bus_watch_name_on_connection(bus, DFOTAD_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
	                                          on_daemon_appeared, NULL, b, NULL);
	return b;
}

void
bridge_start(Bridge *b)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	b->thread = g_thread_new("ddi", worker, b);
}

void
bridge_stop(Bridge *b)
{
	if (b->thread == NULL)
		return;
	g_atomic_int_set(&b->stop, 1);
	push(b, EV_QUIT, NULL, 0, NULL);
	g_thread_join(g_steal_pointer(&b->thread));
	curl_global_cleanup();
}

void
bridge_free(Bridge *b)
{
	if (b == NULL)
		return;
	bridge_stop(b);
	for (guint i = 0; i < G_N_ELEMENTS(b->subs); i++)
		g_dbus_connection_signal_unsubscribe(b->bus, b->subs[i]);
	g_bus_unwatch_name(b->watch);
	g_async_queue_unref(b->events);
	g_hash_table_unref(b->cancels_seen);
	bridge_state_free(b->state);
	g_free(b->ddi.auth_header);
	g_free(b->action_id);
	g_free(b->last_phase);
	g_free(b->config_sent);
	g_free(b->modem_path);
	g_free(b->state_dir);
	g_object_unref(b->bus);
	g_free(b);
}
