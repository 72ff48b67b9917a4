// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fetcher.c: libcurl multi driven by a GLib main loop on a worker thread.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); each socket becomes a GLib fd source and the timer a GLib
 * timeout, all on the fetcher's own context, run by its thread ("dfotad-fetch", started at
 * the first download and stopped with the fetcher). libcurl's global init (OpenSSL), every
 * read of the body and every copy of it happen there, so a fast download never stalls the AT
 * queue of the daemon's main loop. Results and progress reach the caller's context: the task
 * completes there, and progress is marshalled there. We never call into curl from inside one
 * of its own callbacks: completion and cancellation are handled after
 * curl_multi_socket_action() returns, or from a GCancellable source.
 */
#include "dfota-fetcher.h"

#include <curl/curl.h>
#include <glib-unix.h>

#include "dfota-error.h"
#include "dfota-redact.h"
#include "dfotad-config.h"

#define DEFAULT_CONNECT_TIMEOUT_S 30
#define DEFAULT_LOW_SPEED_TIME_S 60
#define DEFAULT_MAX_REDIRECTS 5
#define DEFAULT_DEADLINE_S 1800
#define UNKNOWN_TOTAL_PROGRESS_STEP (64 * 1024)
#define PRESIZE_MAX (8u << 20)

/* Progress on its way from the worker to the caller's context, latest value wins: the worker
 * overwrites the report and schedules a delivery only when none is pending, so a download
 * faster than the caller's loop never queues more than one report (the Percent published
 * then moves by more than one step at a time). `closed` is read and written in the caller's
 * context only (set when the task completes there). Shared by refcount (g_atomic_rc_box). */
typedef struct {
	GMutex lock;
	gboolean pending;
	guint64 now, total;
	gboolean closed;
	GCancellable *cancellable; /* the task's, or NULL */
	DfotaFetchProgressFunc progress;
	gpointer progress_data;
} ProgressGate;

static void
gate_clear(gpointer data)
{
	ProgressGate *gate = data;

	g_mutex_clear(&gate->lock);
	g_clear_object(&gate->cancellable);
}

static void
gate_release(ProgressGate *gate)
{
	g_atomic_rc_box_release_full(gate, gate_clear);
}

typedef struct {
	DfotaFetcher *fetcher; /* not a reference: the fetcher outlives its transfers */
	GTask *task;
	ProgressGate *gate; /* g_atomic_rc_box */
	CURL *easy;
	char *url;   /* as given: for libcurl only */
	char *shown; /* redacted (dfota-redact.h): for every message */
	GByteArray *body;
	GChecksum *sha256; /* of the body so far, fed as it arrives, on the worker */
	guint64 max_size;
	gint last_percent;
	guint64 last_reported;
	guint64 serial;            /* names the transfer in cancellation notes */
	gulong cancel_handler;     /* on gate->cancellable, 0 when none */
	GError *abort_error;       /* why a callback stopped the transfer */
	DfotaFetchOptions options; /* a copy; ca_file owned */
	char errbuf[CURL_ERROR_SIZE];
} Transfer;

struct _DfotaFetcher {
	GObject parent_instance;

	gboolean disposed;
	/* The worker; everything below it is touched by the worker thread only. */
	GThread *thread;
	GMainLoop *loop;
	GMainContext *context;
	CURLM *multi;
	GSource *timer;
	GHashTable *sockets; /* curl_socket_t → GSource* */
	guint64 serials;
	GList *transfers; /* Transfer* */
};

G_DEFINE_TYPE(DfotaFetcher, dfota_fetcher, G_TYPE_OBJECT)

/* libcurl's global state is process-wide and must be set up once before any handle exists;
 * doing it lazily keeps an idle daemon (and its start-up) free of TLS initialisation. Only
 * the fetcher's worker thread calls it. */
static gpointer
curl_init_once(gpointer unused)
{
	return GINT_TO_POINTER(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static gboolean
ensure_curl(GError **error)
{
	static GOnce once = G_ONCE_INIT;

	if (GPOINTER_TO_INT(g_once(&once, curl_init_once, NULL)))
		return TRUE;
	g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
	                    "Cannot initialise libcurl");
	return FALSE;
}

static void check_done(DfotaFetcher *self);

static void
transfer_free(Transfer *t)
{
	if (t->cancel_handler) /* waits for a handler running in another thread to return */
		g_cancellable_disconnect(t->gate->cancellable, t->cancel_handler);
	if (t->easy)
		curl_easy_cleanup(t->easy);
	g_clear_pointer(&t->body, g_byte_array_unref);
	g_clear_pointer(&t->sha256, g_checksum_free);
	g_clear_error(&t->abort_error);
	g_clear_object(&t->task);
	gate_release(t->gate);
	g_free((char *)t->options.ca_file);
	g_free(t->url);
	g_free(t->shown);
	g_free(t);
}

/* The end of a transfer on its way to the caller's context, behind the progress reports sent
 * before it: it closes the gate (no report after it), then completes the task there. */
typedef struct {
	GTask *task;
	ProgressGate *gate;
	GError *error;
	GBytes *bytes;
	char *sha256;
} Completion;

/* What the task returns: the body and its digest, both made on the worker. */
typedef struct {
	GBytes *bytes;
	char *sha256;
} FetchResult;

static void
fetch_result_free(gpointer data)
{
	FetchResult *r = data;

	g_clear_pointer(&r->bytes, g_bytes_unref);
	g_free(r->sha256);
	g_free(r);
}

static gboolean
deliver_completion(gpointer data)
{
	Completion *c = data;

	FetchResult *r;

	c->gate->closed = TRUE;
	if (c->error) {
		g_task_return_error(c->task, g_steal_pointer(&c->error));
		return G_SOURCE_REMOVE;
	}
	r = g_new0(FetchResult, 1);
	r->bytes = g_steal_pointer(&c->bytes);
	r->sha256 = g_steal_pointer(&c->sha256);
	g_task_return_pointer(c->task, r, fetch_result_free);
	return G_SOURCE_REMOVE;
}

static void
completion_free(gpointer data)
{
	Completion *c = data;

	g_object_unref(c->task);
	gate_release(c->gate);
	g_clear_error(&c->error);
	g_clear_pointer(&c->bytes, g_bytes_unref);
	g_free(c->sha256);
	g_free(c);
}

/* Takes @t out of the multi handle and completes its task with @error (owned) or its body. */
static void
transfer_complete(Transfer *t, GError *error)
{
	DfotaFetcher *self = t->fetcher;
	Completion *c = g_new0(Completion, 1);

	self->transfers = g_list_remove(self->transfers, t);
	curl_multi_remove_handle(self->multi, t->easy);
	c->task = g_steal_pointer(&t->task);
	c->gate = g_atomic_rc_box_acquire(t->gate);
	c->error = error;
	if (!error) {
		c->bytes = g_byte_array_free_to_bytes(g_steal_pointer(&t->body));
		c->sha256 = g_strdup(g_checksum_get_string(t->sha256));
	}
	g_main_context_invoke_full(g_task_get_context(c->task), G_PRIORITY_DEFAULT,
	                           deliver_completion, c, completion_free);
	transfer_free(t);
}

static gboolean
is_https(const char *url)
{
	return g_ascii_strncasecmp(url, "https://", 8) == 0;
}

/* "scheme://host" of @url (never its credentials, path or query, which may be secrets). */
static char *
scheme_and_host(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	char *out;

	if (u && url &&
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
		curl_url_get(u, CURLUPART_HOST, &host, 0);
	}
	out = g_strdup_printf("%s://%s", scheme ? scheme : "?", host ? host : "?");
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

/* The redirect that left https:// (curl refuses it: CURLOPT_REDIR_PROTOCOLS_STR), or NULL. */
static GError *
downgrade_error(Transfer *t, CURLcode code)
{
	long redirects = 0;
	const char *where = NULL;
	g_autofree char *target = NULL;

	if (code != CURLE_UNSUPPORTED_PROTOCOL || !is_https(t->url))
		return NULL;
	curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &where);
	if (redirects == 0 || !where || is_https(where))
		return NULL;
	target = scheme_and_host(where);
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
	                   "Refused a redirect to %s: a download that started on https:// is "
	                   "never continued without TLS",
	                   target);
}

static GError *
error_for_result(Transfer *t, CURLcode code)
{
	long status = 0;
	GError *downgrade;

	if (t->abort_error)
		return g_steal_pointer(&t->abort_error);
	if (code == CURLE_ABORTED_BY_CALLBACK || code == CURLE_WRITE_ERROR) {
		GCancellable *c = g_task_get_cancellable(t->task);
		if (c && g_cancellable_is_cancelled(c))
			return g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
			                   "The download of %s was cancelled", t->shown);
	}
	downgrade = downgrade_error(t, code);
	if (downgrade)
		return downgrade;
	if (code == CURLE_OPERATION_TIMEDOUT) {
		curl_off_t spent_us = 0;
		guint deadline_s =
		        t->options.deadline_s ? t->options.deadline_s : DEFAULT_DEADLINE_S;

		/* The stall bound (fetch-timeout) ends in the same curl code; only the overall
		 * deadline has used up its whole time. */
		curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &spent_us);
		if (spent_us + 100000 >= (curl_off_t)deadline_s * 1000000)
			return g_error_new(
			        DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
			        "The download did not finish within fetch-deadline (%u s): "
			        "%s",
			        deadline_s, t->shown);
	}
	if (code != CURLE_OK) {
		/* libcurl's own text may quote a URL (a redirect's Location, for one). */
		g_autofree char *why =
		        dfota_text_redact_urls(t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
		/* The URL last: redacted text reads a URL up to a space, a ':' after it would be
		 * taken for part of its last value. */
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                   "Cannot fetch the package (%s) from %s", why, t->shown);
	}
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400 || status == 0)
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED, "HTTP %ld from %s",
		                   status, t->shown);
	if (status >= 300)
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                   "HTTP %ld (a redirect without a usable Location) from %s",
		                   status, t->shown);
	return NULL;
}

/* In the caller's context, where the task completes: the delivery and the completion travel
 * the same way, in order. Nothing is delivered after the completion, nor once the caller
 * cancelled (it may have let go of progress_data). */
static gboolean
deliver_progress(gpointer data)
{
	ProgressGate *gate = data;
	guint64 now, total;

	g_mutex_lock(&gate->lock);
	gate->pending = FALSE;
	now = gate->now;
	total = gate->total;
	g_mutex_unlock(&gate->lock);
	if (!gate->closed && !(gate->cancellable && g_cancellable_is_cancelled(gate->cancellable)))
		gate->progress(now, total, gate->progress_data);
	return G_SOURCE_REMOVE;
}

static void
report_progress(Transfer *t, guint64 now, guint64 total, gboolean force)
{
	gboolean schedule;
	gint percent;

	if (t->gate->progress == NULL)
		return;
	if (total > 0) {
		percent = (gint)(MIN(now, total) * 100 / total);
		if (!force && percent == t->last_percent)
			return;
		t->last_percent = percent;
	} else if (!force && now < t->last_reported + UNKNOWN_TOTAL_PROGRESS_STEP) {
		return;
	}
	t->last_reported = now;
	g_mutex_lock(&t->gate->lock);
	t->gate->now = now;
	t->gate->total = total;
	schedule = !t->gate->pending;
	t->gate->pending = TRUE;
	g_mutex_unlock(&t->gate->lock);
	if (schedule)
		g_main_context_invoke_full(g_task_get_context(t->task), G_PRIORITY_DEFAULT,
		                           deliver_progress, g_atomic_rc_box_acquire(t->gate),
		                           (GDestroyNotify)gate_release);
}

static void
check_done(DfotaFetcher *self)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(self->multi, &left)) != NULL) {
		Transfer *t = NULL;
		GError *error;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		error = error_for_result(t, msg->data.result);
		if (error == NULL) {
			curl_off_t total = 0;
			curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
			report_progress(t, t->body->len, total > 0 ? (guint64)total : t->body->len,
			                t->last_reported != t->body->len);
		}
		transfer_complete(t, error);
	}
}

static void
socket_action(DfotaFetcher *self, curl_socket_t fd, int mask)
{
	int running = 0;

	curl_multi_socket_action(self->multi, fd, mask, &running);
	check_done(self);
}

static gboolean
on_socket(gint fd, GIOCondition condition, gpointer user_data)
{
	DfotaFetcher *self = DFOTA_FETCHER(user_data);
	int mask = 0;

	if (condition & (G_IO_IN | G_IO_HUP))
		mask |= CURL_CSELECT_IN;
	if (condition & G_IO_OUT)
		mask |= CURL_CSELECT_OUT;
	if (condition & G_IO_ERR)
		mask |= CURL_CSELECT_ERR;
	/* curl may replace or remove this very source from inside; a destroyed source is not
	 * dispatched again whatever we return. */
	socket_action(self, fd, mask);
	return G_SOURCE_CONTINUE;
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	DfotaFetcher *self = userp;
	GIOCondition cond = 0;
	GSource *source;

	g_hash_table_remove(self->sockets, GINT_TO_POINTER(fd));
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (what & CURL_POLL_OUT)
		cond |= G_IO_OUT | G_IO_ERR;
	source = g_unix_fd_source_new(fd, cond);
	g_source_set_callback(source, G_SOURCE_FUNC(on_socket), self, NULL);
	g_source_set_static_name(source, "dfota-fetcher-socket");
	g_source_attach(source, self->context);
	g_hash_table_insert(self->sockets, GINT_TO_POINTER(fd), source);
	return 0;
}

static gboolean
on_timer(gpointer user_data)
{
	DfotaFetcher *self = DFOTA_FETCHER(user_data);

	g_clear_pointer(&self->timer, g_source_unref);
	socket_action(self, CURL_SOCKET_TIMEOUT, 0);
	return G_SOURCE_REMOVE;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	DfotaFetcher *self = userp;

	if (self->timer) {
		g_source_destroy(self->timer);
		g_clear_pointer(&self->timer, g_source_unref);
	}
	if (timeout_ms < 0)
		return 0;
	/* Never act from inside curl: even "now" goes through the loop. */
	self->timer =
	        timeout_ms == 0 ? g_idle_source_new() : g_timeout_source_new((guint)timeout_ms);
	g_source_set_callback(self->timer, on_timer, self, NULL);
	g_source_set_static_name(self->timer, "dfota-fetcher-timer");
	g_source_attach(self->timer, self->context);
	return 0;
}

static gboolean
is_cancelled(Transfer *t)
{
	GCancellable *c = t->task ? g_task_get_cancellable(t->task) : NULL;

	return c != NULL && g_cancellable_is_cancelled(c);
}

static GError *
too_large_error(Transfer *t, guint64 length)
{
	return g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
	                   "The package at %s is %" G_GUINT64_FORMAT " bytes, more than "
	                   "max-package-size %" G_GUINT64_FORMAT,
	                   t->shown, length, t->max_size);
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	Transfer *t = userp;
	size_t len = size * nmemb;
	curl_off_t length = -1;
	long status = 0;

	if (is_cancelled(t))
		return 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300)
		return len; /* an error page: the status is what we report */
	curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	if (length > 0 && (guint64)length > t->max_size) {
		t->abort_error = too_large_error(t, (guint64)length);
		return 0;
	}
	if ((guint64)t->body->len + len > t->max_size) {
		/* No (or a lying) Content-Length: the body itself tells. */
		t->abort_error = g_error_new(
		        DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
		        "The package at %s is more than %" G_GUINT64_FORMAT " bytes, more than "
		        "max-package-size %" G_GUINT64_FORMAT,
		        t->shown, (guint64)t->body->len + len, t->max_size);
		return 0;
	}
	if (t->body->len == 0 && length > 0) {
		/* One allocation for the announced body instead of a copy per doubling; capped,
		 * since a header alone is no reason to allocate a large max-package-size. */
		g_byte_array_set_size(t->body, (guint)MIN((guint64)length, PRESIZE_MAX));
		g_byte_array_set_size(t->body, 0);
	}
	g_byte_array_append(t->body, (const guint8 *)data, (guint)len);
	g_checksum_update(t->sha256, (const guchar *)data, (gssize)len);
	return len;
}

static int
xferinfo_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	Transfer *t = userp;
	long status = 0;

	if (is_cancelled(t))
		return 1;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	/* dltotal/dlnow of a redirect's or an error's body mean nothing to the caller. */
	if (status < 200 || status >= 300)
		return 0;
	if (dltotal > 0 && (guint64)dltotal > t->max_size) {
		/* Known from the headers: stop before the body even starts. */
		t->abort_error = too_large_error(t, (guint64)dltotal);
		return 1;
	}
	if (dlnow > 0)
		report_progress(t, (guint64)dlnow, dltotal > 0 ? (guint64)dltotal : 0, FALSE);
	return 0;
}

/* Cancellation crosses threads: the caller cancels in its thread, the transfer lives in the
 * worker. A GCancellableSource attached to the worker's context would do, but GLib 2.74 leaks
 * such a source when the cancel races with its disposal in another thread (seen under
 * LeakSanitizer). So the "cancelled" handler, in the cancelling thread, only sends a note to
 * the worker; the worker looks the transfer up by serial number, since it may be gone. */
typedef struct {
	DfotaFetcher *fetcher; /* its worker context outlives the connection (disconnected first) */
	guint64 serial;
} CancelNote;

static gboolean
cancel_in_worker(gpointer data)
{
	CancelNote *note = data;

	for (GList *l = note->fetcher->transfers; l; l = l->next) {
		Transfer *t = l->data;

		if (t->serial == note->serial) {
			transfer_complete(t, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
			                                 "The download of %s was cancelled",
			                                 t->shown));
			break;
		}
	}
	return G_SOURCE_REMOVE;
}

/* Any thread. Always deferred (an idle source), even in the worker itself: the transfer may
 * still be being set up when the cancellable is connected already cancelled. */
static void
on_cancelled(GCancellable *cancellable, gpointer data)
{
	const CancelNote *note = data;
	GSource *idle = g_idle_source_new();

	g_source_set_callback(idle, cancel_in_worker, g_memdup2(note, sizeof *note), g_free);
	g_source_set_static_name(idle, "dfota-fetcher-cancel");
	g_source_attach(idle, note->fetcher->context);
	g_source_unref(idle);
}

static gboolean
setup_easy(Transfer *t, const DfotaFetchOptions *o, GError **error)
{
	CURL *e = t->easy;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, t->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	/* Never a downgrade: a download that starts on TLS stays on TLS through redirects. */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, is_https(t->url) ? "https" : "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)(o->max_redirects ? o->max_redirects : DEFAULT_MAX_REDIRECTS));
	SET(CURLOPT_CONNECTTIMEOUT,
	    (long)(o->connect_timeout_s ? o->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S));
	SET(CURLOPT_TIMEOUT_MS, (long)(o->deadline_s ? o->deadline_s : DEFAULT_DEADLINE_S) * 1000L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME,
	    (long)(o->low_speed_time_s ? o->low_speed_time_s : DEFAULT_LOW_SPEED_TIME_S));
	SET(CURLOPT_FAILONERROR, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "dfotad/" DFOTAD_VERSION);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_PRIVATE, t);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, t);
	SET(CURLOPT_NOPROGRESS, 0L);
	if (o->ca_file) {
		/* The configured bundle replaces the system's trust, it does not extend it. */
		SET(CURLOPT_CAINFO, o->ca_file);
		SET(CURLOPT_CAPATH, NULL);
	}
#undef SET
	if (rc != CURLE_OK) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		            "Cannot set up the download (%s) of %s", curl_easy_strerror(rc),
		            t->shown);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ensure_multi(DfotaFetcher *self, GError **error)
{
	if (self->multi)
		return TRUE;
	if (!ensure_curl(error))
		return FALSE;
	self->multi = curl_multi_init();
	if (self->multi == NULL) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                    "Cannot create a libcurl multi handle");
		return FALSE;
	}
	curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
	curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
	return TRUE;
}

/* Hands @t (whose task is still pending) to the multi handle; completes the task on error. */
static void
transfer_start(DfotaFetcher *self, Transfer *t)
{
	GCancellable *cancellable = t->gate->cancellable;
	GError *error = NULL;
	CURLMcode mrc;

	if (g_cancellable_set_error_if_cancelled(cancellable, &error) ||
	    !ensure_multi(self, &error))
		goto fail;
	t->easy = curl_easy_init();
	if (t->easy == NULL) {
		error = g_error_new_literal(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                            "Cannot create a libcurl handle");
		goto fail;
	}
	if (!setup_easy(t, &t->options, &error))
		goto fail;
	mrc = curl_multi_add_handle(self->multi, t->easy);
	if (mrc != CURLM_OK) {
		error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                    "Cannot start the download (%s) of %s",
		                    curl_multi_strerror(mrc), t->shown);
		goto fail;
	}
	self->transfers = g_list_prepend(self->transfers, t);
	if (cancellable) {
		CancelNote *note = g_new0(CancelNote, 1);

		note->fetcher = self;
		note->serial = t->serial = ++self->serials;
		t->cancel_handler =
		        g_cancellable_connect(cancellable, G_CALLBACK(on_cancelled), note, g_free);
	}
	return;
fail:
	/* Nothing was reported yet: the task can complete from here (GTask takes it to its
	 * context). */
	g_task_return_error(t->task, error);
	transfer_free(t);
}

/* In the worker: the transfer's first step. */
static gboolean
start_in_worker(gpointer data)
{
	Transfer *t = data;

	transfer_start(t->fetcher, t);
	return G_SOURCE_REMOVE;
}

static gpointer
worker_main(gpointer data)
{
	DfotaFetcher *self = data; /* alive until dispose has joined this thread */

	g_main_context_push_thread_default(self->context);
	g_main_loop_run(self->loop);
	g_main_context_pop_thread_default(self->context);
	return NULL;
}

static void
ensure_worker(DfotaFetcher *self)
{
	if (self->thread)
		return;
	self->context = g_main_context_new();
	self->loop = g_main_loop_new(self->context, FALSE);
	self->thread = g_thread_new("dfotad-fetch", worker_main, self);
}

void
dfota_fetcher_fetch(DfotaFetcher *self, const char *url, const DfotaFetchOptions *options,
                    DfotaFetchProgressFunc progress, gpointer progress_data,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	Transfer *t;

	g_return_if_fail(DFOTA_IS_FETCHER(self));
	g_return_if_fail(url != NULL && options != NULL);

	/* No source object: a task must not keep the fetcher alive, so that disposing of the
	 * fetcher (daemon shutdown) cancels what still runs. */
	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, dfota_fetcher_fetch);
	if (g_task_return_error_if_cancelled(task))
		return;
	if (self->disposed) {
		g_autofree char *shown = dfota_url_redact(url);
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED,
		                        "The daemon is shutting down: cannot fetch %s", shown);
		return;
	}
	t = g_new0(Transfer, 1);
	t->fetcher = self;
	t->url = g_strdup(url);
	t->shown = dfota_url_redact(url);
	t->body = g_byte_array_new();
	t->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
	t->max_size = options->max_size ? options->max_size : G_MAXUINT64;
	t->last_percent = -1;
	t->options = *options;
	t->options.ca_file = g_strdup(options->ca_file);
	t->gate = g_atomic_rc_box_new0(ProgressGate);
	g_mutex_init(&t->gate->lock);
	t->gate->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
	t->gate->progress = progress;
	t->gate->progress_data = progress_data;
	t->task = g_steal_pointer(&task);
	/* From here on @t belongs to the worker. */
	ensure_worker(self);
	g_main_context_invoke(self->context, start_in_worker, t);
}

GBytes *
dfota_fetcher_fetch_finish(DfotaFetcher *self, GAsyncResult *result, char **sha256, GError **error)
{
	FetchResult *r;
	GBytes *bytes;

	if (sha256)
		*sha256 = NULL;
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_fetcher_fetch, NULL);
	r = g_task_propagate_pointer(G_TASK(result), error);
	if (!r)
		return NULL;
	bytes = g_steal_pointer(&r->bytes);
	if (sha256)
		*sha256 = g_steal_pointer(&r->sha256);
	fetch_result_free(r);
	return bytes;
}

DfotaFetcher *
dfota_fetcher_new(void)
{
	return g_object_new(DFOTA_TYPE_FETCHER, NULL);
}

static void
destroy_source(gpointer data)
{
	g_source_destroy(data);
	g_source_unref(data);
}

/* In the worker: ends what runs and stops the loop. */
static gboolean
stop_in_worker(gpointer data)
{
	DfotaFetcher *self = data;

	while (self->transfers) {
		Transfer *t = self->transfers->data;
		transfer_complete(t, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                                 "The download of %s was stopped: the daemon is "
		                                 "shutting down",
		                                 t->shown));
	}
	if (self->multi) {
		curl_multi_cleanup(self->multi);
		self->multi = NULL;
	}
	g_hash_table_remove_all(self->sockets);
	if (self->timer) {
		g_source_destroy(self->timer);
		g_clear_pointer(&self->timer, g_source_unref);
	}
	g_main_loop_quit(self->loop);
	return G_SOURCE_REMOVE;
}

static void
dfota_fetcher_dispose(GObject *object)
{
	DfotaFetcher *self = DFOTA_FETCHER(object);

	self->disposed = TRUE;
	if (self->thread) {
		/* After every transfer started before (the context runs them in order). */
		g_main_context_invoke(self->context, stop_in_worker, self);
		g_thread_join(g_steal_pointer(&self->thread));
		g_clear_pointer(&self->loop, g_main_loop_unref);
	}
	G_OBJECT_CLASS(dfota_fetcher_parent_class)->dispose(object);
}

static void
dfota_fetcher_finalize(GObject *object)
{
	DfotaFetcher *self = DFOTA_FETCHER(object);

	g_hash_table_unref(self->sockets);
	if (self->context)
		g_main_context_unref(self->context);
	G_OBJECT_CLASS(dfota_fetcher_parent_class)->finalize(object);
}

static void
dfota_fetcher_init(DfotaFetcher *self)
{
	self->sockets = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, destroy_source);
}

static void
dfota_fetcher_class_init(DfotaFetcherClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_fetcher_dispose;
	object_class->finalize = dfota_fetcher_finalize;
}
