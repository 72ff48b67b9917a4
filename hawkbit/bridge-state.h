// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-state.h: what the bridge keeps in its state directory so that a restart neither runs
 * an action twice nor loses its outcome: the action in progress (its stage, dfotad's job id,
 * the closed feedback not yet acknowledged) and the ids of the actions already finished. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	BRIDGE_STAGE_NONE,
	BRIDGE_STAGE_DOWNLOADING, /* the bridge fetches the artifact; nothing asked of dfotad yet */
	BRIDGE_STAGE_STARTING,    /* the Upgrade… call is on its way; job id not known yet */
	BRIDGE_STAGE_RUNNING,     /* dfotad runs job_id */
	BRIDGE_STAGE_CLOSING,     /* the outcome is known; closed_body waits to be acknowledged */
} BridgeStage;

typedef struct {
	char *path;
	char *action_id;
	BridgeStage stage;
	guint64 job_id;
	gint64 started_us; /* wall clock when the Upgrade… call was made */
	char *closed_body; /* JSON of the closed feedback (CLOSING) */
	char *closed_url;  /* where it goes */
	GPtrArray *done;   /* finished action ids, newest last, bounded */
} BridgeState;

/* Loads @dir/action.state; a missing file is an empty state, an unreadable one is logged and
 * treated as empty (after being moved aside). */
BridgeState *bridge_state_load(const char *dir);
void bridge_state_free(BridgeState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeState, bridge_state_free)

/* Writes the state atomically (temporary file, fsync, rename). */
gboolean bridge_state_save(BridgeState *s, GError **error);

/* Starts @action_id in @stage, clearing what belonged to the previous action. */
void bridge_state_begin(BridgeState *s, const char *action_id, BridgeStage stage);

/* Marks the current action finished (its id joins done) and clears it. */
void bridge_state_finish(BridgeState *s);

/* Adds @action_id to done (for actions that never ran, e.g. cancelled before they started). */
void bridge_state_mark_done(BridgeState *s, const char *action_id);

gboolean bridge_state_is_done(BridgeState *s, const char *action_id);

G_END_DECLS
