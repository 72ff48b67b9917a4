// SPDX-License-Identifier: LGPL-2.1-or-later
/* ddi-client.h: the HTTP side of hawkBit's Direct Device Integration API, blocking (libcurl's
 * easy interface), for the bridge's one DDI worker thread. Every request carries the
 * configured Authorization header; JSON bodies go through json-glib. */
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
} DdiClient;

/* One HTTP exchange. status is the HTTP status, 0 when no complete response came (curl_error
 * then says why; for an HTTP error status both are set). */
typedef struct {
	long status;
	char *body;
	char *curl_error;
	char *retry_after;
} DdiResponse;

void ddi_response_clear(DdiResponse *r);

/* "{server}/{tenant}/controller/v1/{controller-id}" (+ @suffix when not NULL). */
char *ddi_controller_url(DdiClient *c, const char *suffix);

/* GET @url with Accept: application/hal+json. */
void ddi_get(DdiClient *c, const char *url, DdiResponse *out);

/* @method ("PUT" or "POST") @node as JSON to @url. */
void ddi_send_json(DdiClient *c, const char *method, const char *url, JsonNode *node,
                   DdiResponse *out);

/* Downloads @url into @path, resuming with a Range request from the file's current size when
 * it exists. Returns the HTTP status (200/206 on success) or 0 (curl_error set). */
void ddi_download(DdiClient *c, const char *url, const char *path, DdiResponse *out);

/* Parses @r's body as a JSON object; NULL when it is not one. */
JsonObject *ddi_response_object(const DdiResponse *r, JsonParser **parser_out);

G_END_DECLS
