// SPDX-License-Identifier: LGPL-2.1-or-later
/* ddi-json.h: hawkBit's DDI documents as the bridge reads and writes them (field names are
 * hawkBit's own: _links, deployment.chunks[].artifacts[], hashes.sha256, config.polling.sleep,
 * status.execution, status.result.finished/progress, status.details). Pure functions. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The poll interval when the server names none (or a malformed one). */
#define DDI_DEFAULT_POLL_S 300

/* The artifact a deployment installs; the strings point into the parsed document. */
typedef struct {
	const char *download; /* _links.download (or download-http) */
	const char *download_http;
	gint64 size; /* -1 when not given */
	const char *sha256;
	const char *filename;
} DdiArtifact;

/* A feedback body: id, status.execution, status.result.finished, status.result.progress
 * {cnt, of} when @of > 0, and status.details from @details, NULL-terminated key, value pairs
 * written as "key: value". */
JsonNode *ddi_feedback_body(const char *id, const char *execution, const char *finished, int cnt,
                            int of, const char *const *details);

/* Which of the five steps of a job a dfotad phase is, for result.progress. */
int ddi_phase_step(const char *phase);

/* @o's member @name if it is an object / a string; NULL otherwise (also for a NULL @o). */
JsonObject *ddi_obj_member(JsonObject *o, const char *name);
const char *ddi_str_member(JsonObject *o, const char *name);

/* "_links.<name>.href", or NULL. */
const char *ddi_link_href(JsonObject *o, const char *name);

/* "id" as text (hawkBit sends a string, some versions a number), or NULL. */
char *ddi_id_member(JsonObject *o);

/* An id the bridge puts into URLs and file names: 1-64 of [A-Za-z0-9_-]. */
gboolean ddi_id_is_safe(const char *id);

/* config.polling.sleep "HH:MM:SS" in seconds, at least 1; DDI_DEFAULT_POLL_S when missing or
 * malformed. */
guint ddi_parse_sleep(const char *s);

/* The one artifact named "*.pack" in deployment.chunks; FALSE with a message in *why when
 * there is none, several, no download link or a malformed sha256. */
gboolean ddi_find_artifact(JsonObject *deployment, DdiArtifact *a, char **why);

/* Retry-After in seconds (the HTTP-date form is not used by hawkBit), at most @max; 0 when
 * missing or malformed. */
guint ddi_parse_retry_after(const char *s, guint max);

/* The deepest nesting of arrays and objects the bridge parses. */
#define DDI_MAX_DEPTH 64

/* TRUE when @text (@len bytes) nests arrays and objects deeper than @max_depth; brackets in
 * strings do not count. */
gboolean ddi_json_too_deep(const char *text, gsize len, guint max_depth);

G_END_DECLS
