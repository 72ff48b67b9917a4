// SPDX-License-Identifier: LGPL-2.1-or-later
/* The module's own HTTP client: libcurl's easy interface in a worker thread.
 *
 * A thread keeps this file short and the main loop responsive (the simulator must keep
 * answering AT commands during a download). The worker only touches the SimHttp it owns and a
 * few atomics; the result goes back to the main context through an idle source, where it is
 * dropped if the transfer was cancelled meanwhile (power cut, reboot, unplug).
 */
#include "sim.h"

#include <curl/curl.h>

struct _SimHttp {
	gint refs;
	char *url;
	gsize max_bytes;
	long low_speed_s;
	gint cancelled;
	gint percent;
	GByteArray *body;
	gboolean too_large;
	SimHttpResult result;
	SimHttpDone done;
	gpointer user_data;
};

static void
http_unref(SimHttp *http)
{
	if (!g_atomic_int_dec_and_test(&http->refs))
		return;
	g_free(http->url);
	if (http->body)
		g_byte_array_unref(http->body);
	g_clear_pointer(&http->result.body, g_bytes_unref);
	g_free(http);
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
	SimHttp *http = user;
	gsize n = size * nmemb;

	if (http->body->len + n > http->max_bytes) {
		http->too_large = TRUE;
		return 0; /* aborts the transfer: no point in holding more than the limit */
	}
	g_byte_array_append(http->body, (const guint8 *)ptr, (guint)n);
	return n;
}

static int
on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	SimHttp *http = user;

	if (dltotal > 0)
		g_atomic_int_set(&http->percent, (gint)(dlnow * 100 / dltotal));
	if (dltotal > 0 && (guint64)dltotal > http->max_bytes) {
		http->too_large = TRUE;
		return 1;
	}
	return g_atomic_int_get(&http->cancelled) ? 1 : 0;
}

static gboolean
deliver(gpointer data)
{
	SimHttp *http = data;

	if (!g_atomic_int_get(&http->cancelled))
		http->done(&http->result, http->user_data);
	return G_SOURCE_REMOVE;
}

static gpointer
worker(gpointer data)
{
	SimHttp *http = data;
	CURL *curl = curl_easy_init();
	CURLcode rc;

	curl_easy_setopt(curl, CURLOPT_URL, http->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, http->low_speed_s);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, http);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, http);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http->result.http_status);
	curl_easy_cleanup(curl);

	http->result.curl_code = rc;
	http->result.too_large = http->too_large;
	if (rc == CURLE_OK)
		g_atomic_int_set(&http->percent, 100);
	http->result.body = g_byte_array_free_to_bytes(http->body);
	http->body = NULL;
	g_idle_add_full(G_PRIORITY_DEFAULT, deliver, http, (GDestroyNotify)http_unref);
	return NULL;
}

SimHttp *
sim_http_start(const char *url, gsize max_bytes, double low_speed_s, SimHttpDone done,
               gpointer user_data)
{
	SimHttp *http = g_new0(SimHttp, 1);

	http->refs = 2; /* the caller's and the worker's */
	http->url = g_strdup(url);
	http->max_bytes = max_bytes;
	http->low_speed_s = low_speed_s < 1 ? 1 : (long)low_speed_s;
	http->percent = -1;
	http->body = g_byte_array_new();
	http->done = done;
	http->user_data = user_data;
	g_thread_unref(g_thread_new("sim-http", worker, http));
	return http;
}

int
sim_http_percent(SimHttp *http)
{
	return g_atomic_int_get(&http->percent);
}

void
sim_http_cancel(SimHttp *http)
{
	g_atomic_int_set(&http->cancelled, 1);
	http_unref(http);
}
