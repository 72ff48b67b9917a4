// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-state.c: the bridge's action.state, a GKeyFile written atomically. */
#include "bridge-state.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_DONE 32

static const char *const stage_names[] = { "none", "downloading", "starting", "running",
	                                   "closing" };

void
bridge_state_free(BridgeState *s)
{
	if (s == NULL)
		return;
	g_free(s->path);
	g_free(s->action_id);
	g_free(s->closed_body);
	g_free(s->closed_url);
	g_ptr_array_unref(s->done);
	g_free(s);
}

static void
clear_action(BridgeState *s)
{
	g_clear_pointer(&s->action_id, g_free);
	g_clear_pointer(&s->closed_body, g_free);
	g_clear_pointer(&s->closed_url, g_free);
	s->stage = BRIDGE_STAGE_NONE;
	s->job_id = 0;
	s->started_us = 0;
}

BridgeState *
bridge_state_load(const char *dir)
{
	BridgeState *s = g_new0(BridgeState, 1);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *stage = NULL;
	g_auto(GStrv) done = NULL;

	s->path = g_build_filename(dir, "action.state", NULL);
	s->done = g_ptr_array_new_with_free_func(g_free);
	if (!g_key_file_load_from_file(kf, s->path, G_KEY_FILE_NONE, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_autofree char *aside = g_strconcat(s->path, ".bad", NULL);

			g_warning("state file %s unreadable (%s); moved aside to %s", s->path,
			          error->message, aside);
			(void)g_rename(s->path, aside);
		}
		return s;
	}
	done = g_key_file_get_string_list(kf, "done", "actions", NULL, NULL);
	for (guint i = 0; done != NULL && done[i] != NULL; i++)
		g_ptr_array_add(s->done, g_strdup(done[i]));
	s->action_id = g_key_file_get_string(kf, "action", "id", NULL);
	stage = g_key_file_get_string(kf, "action", "stage", NULL);
	for (guint i = 0; stage != NULL && i < G_N_ELEMENTS(stage_names); i++)
		if (strcmp(stage, stage_names[i]) == 0)
			s->stage = (BridgeStage)i;
	s->job_id = g_key_file_get_uint64(kf, "action", "job-id", NULL);
	s->started_us = g_key_file_get_int64(kf, "action", "started", NULL);
	s->closed_body = g_key_file_get_string(kf, "action", "closed-body", NULL);
	s->closed_url = g_key_file_get_string(kf, "action", "closed-url", NULL);
	if (s->action_id == NULL || s->stage == BRIDGE_STAGE_NONE ||
	    (s->stage == BRIDGE_STAGE_CLOSING && (s->closed_body == NULL || s->closed_url == NULL)))
		clear_action(s);
	return s;
}

gboolean
bridge_state_save(BridgeState *s, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *data = NULL;
	g_autofree char *tmp = g_strconcat(s->path, ".tmp", NULL);
	gsize len;
	int fd;

	if (s->done->len > 0)
		g_key_file_set_string_list(kf, "done", "actions",
		                           (const char *const *)s->done->pdata, s->done->len);
	if (s->action_id != NULL) {
		g_key_file_set_string(kf, "action", "id", s->action_id);
		g_key_file_set_string(kf, "action", "stage", stage_names[s->stage]);
		g_key_file_set_uint64(kf, "action", "job-id", s->job_id);
		g_key_file_set_int64(kf, "action", "started", s->started_us);
		if (s->closed_body != NULL)
			g_key_file_set_string(kf, "action", "closed-body", s->closed_body);
		if (s->closed_url != NULL)
			g_key_file_set_string(kf, "action", "closed-url", s->closed_url);
	}
	data = g_key_file_to_data(kf, &len, NULL);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (gssize)len || fsync(fd) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot write %s: %s",
		            tmp, g_strerror(e));
		return FALSE;
	}
	close(fd);
	if (rename(tmp, s->path) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		            "cannot rename %s: %s", tmp, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

void
bridge_state_begin(BridgeState *s, const char *action_id, BridgeStage stage)
{
	clear_action(s);
	s->action_id = g_strdup(action_id);
	s->stage = stage;
}

void
bridge_state_mark_done(BridgeState *s, const char *action_id)
{
	if (bridge_state_is_done(s, action_id))
		return;
	g_ptr_array_add(s->done, g_strdup(action_id));
	while (s->done->len > MAX_DONE)
		g_ptr_array_remove_index(s->done, 0);
}

void
bridge_state_finish(BridgeState *s)
{
	if (s->action_id != NULL)
		bridge_state_mark_done(s, s->action_id);
	clear_action(s);
}

gboolean
bridge_state_is_done(BridgeState *s, const char *action_id)
{
	for (guint i = 0; i < s->done->len; i++)
		if (strcmp(s->done->pdata[i], action_id) == 0)
			return TRUE;
	return FALSE;
}
