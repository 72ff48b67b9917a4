// SPDX-License-Identifier: LGPL-2.1-or-later
/* ddi-client.c: blocking libcurl requests for the DDI worker thread. Transfers abort as soon as
 * the bridge is told to stop (the progress callback reads the stop flag). */
#include "ddi-client.h"
#include "ddi-json.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT_S 15L
#define REQUEST_TIMEOUT_S 60L
/* Downloads over a slow link: abort only when less than 1 byte/s flowed for this long. */
#define LOW_SPEED_TIME_S 60L
/* Bodies of API answers are small; a larger one is not hawkBit's. */
#define MAX_BODY (256 * 1024)

void
ddi_response_clear(DdiResponse *r)
{
	g_clear_pointer(&r->body, g_free);
	g_clear_pointer(&r->curl_error, g_free);
	g_clear_pointer(&r->retry_after, g_free);
	g_clear_pointer(&r->content_range, g_free);
	r->status = 0;
	r->too_large = FALSE;
}

char *
ddi_controller_url(DdiClient *c, const char *suffix)
{
	return g_strdup_printf("%s/%s/controller/v1/%s%s%s", c->server, c->tenant, c->controller_id,
	                       suffix != NULL ? "/" : "", suffix != NULL ? suffix : "");
}

static size_t
on_body(char *data, size_t size, size_t n, void *user)
{
	GString *s = user;

	if (s->len + size * n > MAX_BODY)
		return 0;
	g_string_append_len(s, data, (gssize)(size * n));
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *user)
{
	DdiResponse *r = user;
	size_t len = size * n;

	if (len > 12 && g_ascii_strncasecmp(data, "Retry-After:", 12) == 0) {
		g_free(r->retry_after);
		r->retry_after = g_strstrip(g_strndup(data + 12, len - 12));
	} else if (len > 14 && g_ascii_strncasecmp(data, "Content-Range:", 14) == 0) {
		g_free(r->content_range);
		r->content_range = g_strstrip(g_strndup(data + 14, len - 14));
	}
	return len;
}

static int
on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	DdiClient *c = user;

	return c->stop != NULL && g_atomic_int_get(c->stop) ? 1 : 0;
}

static int
port_of(GUri *u)
{
	int port = g_uri_get_port(u);

	if (port > 0)
		return port;
	return g_ascii_strcasecmp(g_uri_get_scheme(u), "https") == 0 ? 443 : 80;
}

gboolean
ddi_same_origin(const char *server, const char *url)
{
	g_autoptr(GUri) a = g_uri_parse(server, G_URI_FLAGS_NONE, NULL);
	g_autoptr(GUri) b = url != NULL ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;

	return a != NULL && b != NULL && g_uri_get_host(a) != NULL && g_uri_get_host(b) != NULL &&
	       g_ascii_strcasecmp(g_uri_get_scheme(a), g_uri_get_scheme(b)) == 0 &&
	       g_ascii_strcasecmp(g_uri_get_host(a), g_uri_get_host(b)) == 0 &&
	       port_of(a) == port_of(b);
}

static CURL *
new_easy(DdiClient *c, const char *url, struct curl_slist **headers, DdiResponse *out)
{
	CURL *e = curl_easy_init();

	g_assert(e != NULL);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "dfota-hawkbit");
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, out);
	if (c->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	/* The token goes only to the configured server, never to a link it names elsewhere. */
	if (c->auth_header != NULL && ddi_same_origin(c->server, url))
		*headers = curl_slist_append(*headers, c->auth_header);
	return e;
}

static CURLcode
perform(CURL *e, struct curl_slist *headers, DdiResponse *out)
{
	CURLcode rc;

	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
	if (rc != CURLE_OK) {
		out->curl_error = g_strdup(curl_easy_strerror(rc));
		/* An HTTP error keeps its status; any other failure has no usable answer. */
		if (rc != CURLE_HTTP_RETURNED_ERROR)
			out->status = 0;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(e);
	return rc;
}

static void
request(DdiClient *c, const char *method, const char *url, const char *json, DdiResponse *out)
{
	struct curl_slist *headers = NULL;
	g_autoptr(GString) body = g_string_new(NULL);
	CURL *e;

	ddi_response_clear(out);
	e = new_easy(c, url, &headers, out);
	headers = curl_slist_append(headers, "Accept: application/hal+json");
	curl_easy_setopt(e, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	if (json != NULL) {
		headers =
		        curl_slist_append(headers, "Content-Type: application/json;charset=UTF-8");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
	}
	perform(e, headers, out);
	out->body = g_string_free(g_steal_pointer(&body), FALSE);
}

void
ddi_get(DdiClient *c, const char *url, DdiResponse *out)
{
	request(c, "GET", url, NULL, out);
}

void
ddi_send_json(DdiClient *c, const char *method, const char *url, JsonNode *node, DdiResponse *out)
{
	g_autofree char *json = json_to_string(node, FALSE);

	request(c, method, url, json, out);
}

typedef struct {
	FILE *f;
	gint64 have;
	gint64 max; /* 0: no cap */
	gboolean over;
} DownloadSink;

static size_t
on_file_data(char *data, size_t size, size_t n, void *user)
{
	DownloadSink *sink = user;
	size_t len = size * n;

	if (sink->max > 0 && sink->have + (gint64)len > sink->max) {
		sink->over = TRUE;
		return 0;
	}
	sink->have += (gint64)len;
	return fwrite(data, 1, len, sink->f);
}

/* The complete size that a 416 answer's Content-Range names, -1 when it names none. */
static gint64
unsatisfied_range_size(const char *content_range)
{
	guint64 v;

	if (content_range == NULL || !g_str_has_prefix(content_range, "bytes */") ||
	    !g_ascii_string_to_unsigned(content_range + 8, 10, 0, G_MAXINT64, &v, NULL))
		return -1;
	return (gint64)v;
}

static void
download(DdiClient *c, const char *url, const char *path, gboolean may_restart, DdiResponse *out)
{
	struct curl_slist *headers = NULL;
	struct stat st;
	curl_off_t have = 0;
	DownloadSink sink;
	CURLcode rc;
	FILE *f;
	CURL *e;

	ddi_response_clear(out);
	if (stat(path, &st) == 0)
		have = st.st_size;
	f = fopen(path, "ab");
	if (f == NULL) {
		out->curl_error = g_strdup_printf("cannot write %s: %s", path, g_strerror(errno));
		return;
	}
	sink = (DownloadSink){ f, have, c->max_download, FALSE };
	e = new_easy(c, url, &headers, out);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_file_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
	if (have > 0)
		curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, have);
	rc = perform(e, headers, out);
	if (sink.over) {
		(void)fclose(f);
		g_free(out->curl_error);
		out->curl_error = g_strdup_printf("the file grew beyond %" G_GINT64_FORMAT
		                                  " bytes; transfer stopped",
		                                  c->max_download);
		out->status = 0;
		out->too_large = TRUE;
		return;
	}
	if (fclose(f) != 0 && out->curl_error == NULL) {
		out->status = 0;
		out->curl_error = g_strdup_printf("cannot write %s: %s", path, g_strerror(errno));
		return;
	}
	if (have == 0)
		return;
	/* 416 naming the size the file has: it is complete already. */
	if (out->status == 416 && unsatisfied_range_size(out->content_range) == (gint64)have) {
		g_clear_pointer(&out->curl_error, g_free);
		out->status = 206;
		return;
	}
	/* A server that ignores Range (curl refuses its whole-file answer) or cannot serve it:
	 * start the file over, once. */
	if (may_restart && (rc == CURLE_RANGE_ERROR || out->status == 416 ||
	                    (out->curl_error == NULL && out->status == 200))) {
		if (truncate(path, 0) == 0)
			download(c, url, path, FALSE, out);
	}
}

void
ddi_download(DdiClient *c, const char *url, const char *path, DdiResponse *out)
{
	download(c, url, path, TRUE, out);
}

JsonObject *
ddi_response_object(const DdiResponse *r, JsonParser **parser_out)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root;

	/* A deeply nested document would exhaust the worker thread's stack in the parser. */
	if (r->body == NULL || ddi_json_too_deep(r->body, strlen(r->body), DDI_MAX_DEPTH) ||
	    !json_parser_load_from_data(parser, r->body, -1, NULL))
		return NULL;
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	*parser_out = g_steal_pointer(&parser);
	return json_node_get_object(root);
}
