// SPDX-License-Identifier: LGPL-2.1-or-later
/* ddi-json.c: reading and writing hawkBit's DDI documents. Pure functions on json-glib
 * values: no I/O, no bridge state. */
#include "ddi-json.h"

#include <stdio.h>
#include <string.h>

static void
add_detail(JsonBuilder *jb, const char *key, const char *value)
{
	g_autofree char *line = g_strdup_printf("%s: %s", key, value != NULL ? value : "");

	json_builder_add_string_value(jb, line);
}

/* A feedback body; @details: NULL-terminated key, value pairs. */
JsonNode *
ddi_feedback_body(const char *id, const char *execution, const char *finished, int cnt, int of,
                  const char *const *details)
{
	g_autoptr(JsonBuilder) jb = json_builder_new();

	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "id");
	json_builder_add_string_value(jb, id);
	json_builder_set_member_name(jb, "status");
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "execution");
	json_builder_add_string_value(jb, execution);
	json_builder_set_member_name(jb, "result");
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "finished");
	json_builder_add_string_value(jb, finished);
	if (of > 0) {
		json_builder_set_member_name(jb, "progress");
		json_builder_begin_object(jb);
		json_builder_set_member_name(jb, "cnt");
		json_builder_add_int_value(jb, cnt);
		json_builder_set_member_name(jb, "of");
		json_builder_add_int_value(jb, of);
		json_builder_end_object(jb);
	}
	json_builder_end_object(jb);
	json_builder_set_member_name(jb, "details");
	json_builder_begin_array(jb);
	for (guint i = 0; details != NULL && details[i] != NULL && details[i + 1] != NULL; i += 2)
		add_detail(jb, details[i], details[i + 1]);
	json_builder_end_array(jb);
	json_builder_end_object(jb);
	json_builder_end_object(jb);
	return json_builder_get_root(jb);
}

/* Which of the five steps a dfotad phase is, for result.progress. */
int
ddi_phase_step(const char *phase)
{
	if (strcmp(phase, "fetching") == 0 || strcmp(phase, "uploading") == 0 ||
	    strcmp(phase, "downloading") == 0)
		return 2;
	if (strcmp(phase, "updating") == 0)
		return 3;
	if (strcmp(phase, "rebooting") == 0)
		return 4;
	if (strcmp(phase, "verifying") == 0)
		return 5;
	return 1;
}

JsonObject *
ddi_obj_member(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

const char *
ddi_str_member(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
	               ? json_node_get_string(n)
	               : NULL;
}

/* "_links.<name>.href" */
const char *
ddi_link_href(JsonObject *o, const char *name)
{
	return ddi_str_member(ddi_obj_member(ddi_obj_member(o, "_links"), name), "href");
}

/* "id" as text: hawkBit sends it as a string; some versions as a number. */
char *
ddi_id_member(JsonObject *o)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, "id") : NULL;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return NULL;
	if (json_node_get_value_type(n) == G_TYPE_STRING)
		return g_strdup(json_node_get_string(n));
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
	return NULL;
}

gboolean
ddi_id_is_safe(const char *id)
{
	if (id == NULL || *id == '\0' || strlen(id) > 64)
		return FALSE;
	for (const char *p = id; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			return FALSE;
	return TRUE;
}

/* "HH:MM:SS" → seconds, at least 1 (a server asking for 00:00:00 gets one poll a second);
 * DDI_DEFAULT_POLL_S when missing or malformed. */
guint
ddi_parse_sleep(const char *s)
{
	guint h, m, sec;
	char extra;

	if (s == NULL || sscanf(s, "%u:%u:%u%c", &h, &m, &sec, &extra) != 3 || m > 59 || sec > 59 ||
	    h > 24 * 7)
		return DDI_DEFAULT_POLL_S;
	return MAX(h * 3600 + m * 60 + sec, 1u);
}

/* The one ".pack" artifact of the chunks; a message in *why when there is none or several. */
gboolean
ddi_find_artifact(JsonObject *deployment, DdiArtifact *a, char **why)
{
	JsonNode *chunks = json_object_get_member(deployment, "chunks");
	guint found = 0;

	if (chunks != NULL && JSON_NODE_HOLDS_ARRAY(chunks)) {
		JsonArray *ca = json_node_get_array(chunks);

		for (guint i = 0; i < json_array_get_length(ca); i++) {
			JsonNode *cn = json_array_get_element(ca, i);
			JsonNode *arts = JSON_NODE_HOLDS_OBJECT(cn)
			                         ? json_object_get_member(json_node_get_object(cn),
			                                                  "artifacts")
			                         : NULL;
			JsonArray *aa;

			if (arts == NULL || !JSON_NODE_HOLDS_ARRAY(arts))
				continue;
			aa = json_node_get_array(arts);
			for (guint j = 0; j < json_array_get_length(aa); j++) {
				JsonNode *an = json_array_get_element(aa, j);
				JsonObject *ao = JSON_NODE_HOLDS_OBJECT(an)
				                         ? json_node_get_object(an)
				                         : NULL;
				const char *name = ddi_str_member(ao, "filename");
				JsonNode *size;

				if (name == NULL || !g_str_has_suffix(name, ".pack"))
					continue;
				if (found++ > 0)
					continue;
				a->filename = name;
				a->download = ddi_link_href(ao, "download");
				a->download_http = ddi_link_href(ao, "download-http");
				a->sha256 = ddi_str_member(ddi_obj_member(ao, "hashes"), "sha256");
				size = json_object_get_member(ao, "size");
				a->size = size != NULL && JSON_NODE_HOLDS_VALUE(size) &&
				                          json_node_get_value_type(size) ==
				                                  G_TYPE_INT64
				                  ? json_node_get_int(size)
				                  : -1;
			}
		}
	}
	if (found == 0) {
		*why = g_strdup("the deployment has no .pack artifact");
		return FALSE;
	}
	if (found > 1) {
		*why = g_strdup_printf("the deployment has %u .pack artifacts; dfotad installs one",
		                       found);
		return FALSE;
	}
	if (a->download == NULL)
		a->download = a->download_http;
	if (a->download == NULL) {
		*why = g_strdup_printf("artifact %s has no download link", a->filename);
		return FALSE;
	}
	if (a->sha256 != NULL &&
	    (strlen(a->sha256) != 64 || strspn(a->sha256, "0123456789abcdefABCDEF") != 64)) {
		*why = g_strdup_printf("artifact %s has a malformed sha256 hash", a->filename);
		return FALSE;
	}
	return TRUE;
}

gboolean
ddi_json_too_deep(const char *text, gsize len, guint max_depth)
{
	gboolean in_string = FALSE;
	guint depth = 0;

	for (gsize i = 0; i < len; i++) {
		char ch = text[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = FALSE;
		} else if (ch == '"') {
			in_string = TRUE;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max_depth)
				return TRUE;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		}
	}
	return FALSE;
}

guint
ddi_parse_retry_after(const char *s, guint max)
{
	gsize len = s != NULL ? strlen(s) : 0;
	guint64 v = 0;

	if (len == 0 || strspn(s, "0123456789") != len)
		return 0;
	/* Digits only: any value too long to read is above @max. */
	if (len > 18)
		return max;
	v = g_ascii_strtoull(s, NULL, 10);
	return v == 0 ? 0 : (guint)MIN(v, (guint64)max);
}
