// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-report.c: what the bridge tells hawkBit: proceeding feedback (rate-limited), the one
 * closed feedback per action (kept in the state until hawkBit has it), cancel feedback and
 * configData. */
#include "bridge-private.h"

#include "ddi-json.h"

#include <string.h>

/* ---- feedback -------------------------------------------------------------------------------- */

/* POSTs @node to @url; TRUE when hawkBit took it (2xx) or dropped the action (410). */
gboolean
bridge_post_feedback(Bridge *b, const char *url, JsonNode *node, gboolean *gone)
{
	DdiResponse r = { 0 };
	gboolean ok;

	ddi_send_json(&b->ddi, "POST", url, node, &r);
	ok = (r.status >= 200 && r.status < 300) || r.status == 410;
	if (gone != NULL)
		*gone = r.status == 410;
	if (!ok)
		g_warning("feedback to %s failed: HTTP %ld %s", url, r.status,
		          r.curl_error != NULL ? r.curl_error : "");
	if (r.status == 410)
		g_message("hawkBit closed the action already (HTTP 410); dropping it");
	ddi_response_clear(&r);
	return ok;
}

static char *
action_feedback_url(Bridge *b, const char *action_id)
{
	g_autofree char *suffix = g_strdup_printf("deploymentBase/%s/feedback", action_id);

	return ddi_controller_url(&b->ddi, suffix);
}

static void
send_proceeding(Bridge *b, const char *phase, guint percent)
{
	g_autofree char *pct = g_strdup_printf("%u", percent);
	const char *details[] = { "phase", phase, "percent", pct, NULL };
	g_autoptr(JsonNode) node = ddi_feedback_body(b->action_id, "proceeding", "none",
	                                             ddi_phase_step(phase), 5, details);
	g_autofree char *url = action_feedback_url(b, b->action_id);

	gboolean gone = FALSE;

	b->last_feedback_us = g_get_monotonic_time();
	b->feedback_pending = FALSE;
	bridge_post_feedback(b, url, node, &gone);
	if (gone && b->state->action_id != NULL && strcmp(b->state->action_id, b->action_id) == 0)
		bridge_drop_action(b);
}

/* A phase or percent change: reported now when it is the action's first report or the interval
 * has passed since the last one, otherwise once it has. */
void
bridge_note_progress(Bridge *b, const char *phase, guint percent)
{
	if (phase != NULL) {
		if (b->last_phase != NULL && strcmp(b->last_phase, phase) == 0 &&
		    b->last_percent == percent)
			return;
		g_free(b->last_phase);
		b->last_phase = g_strdup(phase);
		b->last_percent = percent;
		b->feedback_pending = TRUE;
	}
	if (b->feedback_pending && b->last_phase != NULL &&
	    (b->last_feedback_us == 0 ||
	     g_get_monotonic_time() - b->last_feedback_us >= FEEDBACK_INTERVAL_US))
		send_proceeding(b, b->last_phase, b->last_percent);
}

/* Records the closed feedback, then sends it; the state keeps it until hawkBit has it. */
static void
close_action(Bridge *b, gboolean success, const char *const *details)
{
	g_autoptr(JsonNode) node = ddi_feedback_body(
	        b->state->action_id, "closed", success ? "success" : "failure", 0, 0, details);
	g_autoptr(GError) error = NULL;

	g_message("action %s: closed, %s", b->state->action_id, success ? "success" : "failure");
	g_free(b->state->closed_body);
	b->state->closed_body = json_to_string(node, FALSE);
	g_free(b->state->closed_url);
	b->state->closed_url = action_feedback_url(b, b->state->action_id);
	b->state->stage = BRIDGE_STAGE_CLOSING;
	if (!bridge_state_save(b->state, &error))
		g_warning("%s", error->message);
	if (bridge_post_feedback(b, b->state->closed_url, node, NULL)) {
		bridge_state_finish(b->state);
		if (!bridge_state_save(b->state, &error))
			g_warning("%s", error->message);
	}
}

/* A pending closed feedback from before (a failed POST, a restart): sent again. */
void
bridge_retry_closing(Bridge *b)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GError) error = NULL;

	if (b->state->stage != BRIDGE_STAGE_CLOSING)
		return;
	node = json_from_string(b->state->closed_body, NULL);
	if (node == NULL || bridge_post_feedback(b, b->state->closed_url, node, NULL)) {
		bridge_state_finish(b->state);
		if (!bridge_state_save(b->state, &error))
			g_warning("%s", error->message);
	}
}

void
bridge_close_failure(Bridge *b, const char *error_name, const char *message)
{
	g_autofree char *full = g_strconcat(ERROR_PREFIX, error_name, NULL);
	g_autofree char *from = bridge_dfotad_string(b, IFACE_MODEM, "Revision");
	const char *details[] = { "error",         full, "code",        "-1", "message", message,
		                  "from-revision", from, "to-revision", "",   NULL };

	g_warning("action %s failed: %s: %s", b->state->action_id, error_name, message);
	close_action(b, FALSE, details);
}

/* The closed feedback from dfotad's result dictionary. */
void
bridge_close_from_result(Bridge *b, GVariant *result)
{
	gboolean success = FALSE;
	gint32 code = -1;
	const char *err = "", *message = "", *from = "", *to = "";
	g_autofree char *code_s = NULL;
	g_autofree char *job = NULL;

	g_variant_lookup(result, "success", "b", &success);
	g_variant_lookup(result, "code", "i", &code);
	g_variant_lookup(result, "error", "&s", &err);
	g_variant_lookup(result, "message", "&s", &message);
	g_variant_lookup(result, "from-revision", "&s", &from);
	g_variant_lookup(result, "to-revision", "&s", &to);
	code_s = g_strdup_printf("%d", code);
	job = g_strdup_printf("%" G_GUINT64_FORMAT, bridge_dict_id(result));
	{
		const char *details[] = { "error",       err,     "code",          code_s,
			                  "message",     message, "from-revision", from,
			                  "to-revision", to,      "job",           job,
			                  NULL };

		close_action(b, success, details);
	}
}

/* ---- configData ------------------------------------------------------------------------------ */

void
bridge_send_config_data(Bridge *b, gboolean requested)
{
	g_autofree char *model = bridge_dfotad_string(b, IFACE_MODEM, "Model");
	g_autofree char *revision = bridge_dfotad_string(b, IFACE_MODEM, "Revision");
	g_autofree char *imei = bridge_dfotad_string(b, IFACE_MODEM, "Imei");
	g_autoptr(JsonBuilder) jb = json_builder_new();
	g_autoptr(JsonNode) node = NULL;
	g_autofree char *data_text = NULL;
	g_autofree char *url = NULL;
	DdiResponse r = { 0 };

	/* Nothing worth reporting until dfotad knows the modem. Sent when hawkBit asks for it,
	 * once after the bridge starts (the data may have changed while it was not running),
	 * and whenever the data change. */
	if (*model == '\0' || *revision == '\0')
		return;
	data_text = g_strdup_printf("%s\n%s\n%s", model, revision, imei);
	if (!requested && b->config_sent != NULL && strcmp(b->config_sent, data_text) == 0)
		return;
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "mode");
	json_builder_add_string_value(jb, "merge");
	json_builder_set_member_name(jb, "data");
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "model");
	json_builder_add_string_value(jb, model);
	json_builder_set_member_name(jb, "revision");
	json_builder_add_string_value(jb, revision);
	json_builder_set_member_name(jb, "imei");
	json_builder_add_string_value(jb, imei);
	json_builder_set_member_name(jb, "bridge-version");
	json_builder_add_string_value(jb, BRIDGE_VERSION);
	json_builder_end_object(jb);
	json_builder_end_object(jb);
	node = json_builder_get_root(jb);
	url = ddi_controller_url(&b->ddi, "configData");
	ddi_send_json(&b->ddi, "PUT", url, node, &r);
	if (r.status >= 200 && r.status < 300) {
		g_message("configData sent: model %s, revision %s", model, revision);
		g_free(b->config_sent);
		b->config_sent = g_steal_pointer(&data_text);
	} else {
		g_warning("configData PUT failed: HTTP %ld %s", r.status,
		          r.curl_error != NULL ? r.curl_error : "");
	}
	ddi_response_clear(&r);
}

void
bridge_cancel_feedback(Bridge *b, const char *cancel_id, const char *execution,
                       const char *finished, const char *reason)
{
	g_autofree char *suffix = g_strdup_printf("cancelAction/%s/feedback", cancel_id);
	g_autofree char *url = ddi_controller_url(&b->ddi, suffix);
	const char *details[] = { "message", reason, NULL };
	g_autoptr(JsonNode) node = ddi_feedback_body(cancel_id, execution, finished, 0, 0, details);

	bridge_post_feedback(b, url, node, NULL);
}
