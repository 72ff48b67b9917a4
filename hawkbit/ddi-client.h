// SPDX-License-Identifier: LGPL-2.1-or-later
/* ddi-client.h: the HTTP side of hawkBit's Direct Device Integration API, blocking (libcurl's
 * easy interface), for the bridge's one DDI worker thread. Every request to the configured
 * server carries the configured Authorization header (links elsewhere get none); JSON bodies go through json-glib. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	char *server; /* base URL without a trailing slash */
	char *tenant;
	char *controller_id;
	char *auth_header;   /* "Authorization: TargetToken …" or NULL */
	char *ca_file;       /* NULL: the system's bundle */
	volatile gint *stop; /* non-zero: abort transfers at once */
	gint64 max_download; /* a download's file grows to at most this many bytes; 0: no cap */
} DdiClient;

/* One HTTP exchange. status is the HTTP status, 0 when no complete response came (curl_error
 * then says why; for an HTTP error status both are set). */
typedef struct {
	long status;
	char *body;
	char *curl_error;
	char *retry_after;
	char *content_range;
	gboolean too_large; /* a download stopped at the client's max_download */
} DdiResponse;

void ddi_response_clear(DdiResponse *r);

/* "{server}/{tenant}/controller/v1/{controller-id}" (+ @suffix when not NULL). */
char *ddi_controller_url(DdiClient *c, const char *suffix);

/* TRUE when @url has the scheme, host and port of @server (the one the token is for). */
gboolean ddi_same_origin(const char *server, const char *url);

/* GET @url with Accept: application/hal+json. */
void ddi_get(DdiClient *c, const char *url, DdiResponse *out);

/* @method ("PUT" or "POST") @node as JSON to @url. */
void ddi_send_json(DdiClient *c, const char *method, const char *url, JsonNode *node,
                   DdiResponse *out);

/* Downloads @url into @path, resuming with a Range request from the file's current size when
 * it exists. A server that ignores the Range or answers 416 gets the file from its start once;
 * a 416 naming the file's own size means it is complete. Sets the HTTP status (200/206 on
 * success) or 0 (curl_error set). */
void ddi_download(DdiClient *c, const char *url, const char *path, DdiResponse *out);

/* Parses @r's body as a JSON object; NULL when it is not one. */
JsonObject *ddi_response_object(const DdiResponse *r, JsonParser **parser_out);

G_END_DECLS
