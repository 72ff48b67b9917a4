// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-private.h: what bridge.c (the poll loop, deployments, following a job) and
 * bridge-report.c (feedback and configData: what the bridge tells hawkBit) share. */
#pragma once

#include "bridge-state.h"
#include "bridge.h"
#include "ddi-client.h"

#define DFOTAD_NAME "org.dfotad1"
#define IFACE_MODEM "org.dfotad1.Modem"
#define IFACE_FOTA "org.dfotad1.Fota"
#define ERROR_PREFIX "org.dfotad1.Error."
#define CALL_TIMEOUT_MS 60000
#define MAX_BACKOFF_S 300
/* At most one proceeding feedback per this interval (hawkBit keeps at most 1000 per action). */
#define FEEDBACK_INTERVAL_US (3 * G_USEC_PER_SEC)
#define DOWNLOAD_ATTEMPTS 5
/* The largest artifact the bridge downloads (firmware packs are a few MiB). */
#define MAX_ARTIFACT_BYTES (64 * 1024 * 1024)
#define BRIDGE_VERSION "0.1.0"
#define LOST_AFTER_US (180 * G_USEC_PER_SEC)
/* How long a restarted bridge waits for dfotad before it enters the poll loop. */
#define RESUME_WAIT_US (30 * G_USEC_PER_SEC)

typedef enum { EV_QUIT, EV_PROGRESS, EV_FINISHED, EV_DAEMON_UP } EventType;

typedef struct {
	EventType type;
	char *phase;
	guint percent;
	GVariant *result;
} Event;

struct _Bridge {
	BridgeConfig *config;
	GDBusConnection *bus;
	char *modem_path;
	char *state_dir;
	DdiClient ddi;
	GAsyncQueue *events;
	GThread *thread;
	volatile gint stop;
	guint subs[2];
	guint watch;

	BridgeState *state;
	guint poll_s;
	guint failures;
	char *config_sent;        /* the configData "data" last acknowledged */
	GHashTable *cancels_seen; /* cancel action ids answered with rejected */

	/* The job being followed. */
	char *action_id;
	char *last_phase;
	guint last_percent;
	gint64 last_feedback_us;
	gboolean feedback_pending;
	gint64 no_trace_since_us;
	guint retry_after_s; /* from the last refused poll's Retry-After */
};

/* ---- dfotad (bridge.c) ---- */

/* Properties.Get on the modem object; NULL when dfotad does not answer. */
GVariant *bridge_dfotad_property(Bridge *b, const char *iface, const char *name);

/* A string property, "" when missing (e.g. Imei on an older dfotad) or unreadable. */
char *bridge_dfotad_string(Bridge *b, const char *iface, const char *name);

/* "id" of a Job/LastResult dictionary, 0 when absent. */
guint64 bridge_dict_id(GVariant *dict);

/* The state's action is gone from hawkBit (410): finished without a report, its artifact
 * removed. */
void bridge_drop_action(Bridge *b);

/* What a failed start call (its D-Bus error name @remote, NULL for a local error such as a
 * timeout) means for the action. */
typedef enum {
	START_NOT_STARTED, /* dfotad said so: try again on a later poll */
	START_UNKNOWN,     /* no answer: dfotad may have started the job */
	START_DENIED,      /* the bus refused the bridge: close the action */
	START_REFUSED,     /* the action cannot run: close it */
} StartFailure;

StartFailure bridge_classify_start_error(const char *remote);

/* ---- reports to hawkBit (bridge-report.c) ---- */

/* POSTs @node to @url: TRUE when hawkBit took it (2xx) or has dropped the action (410). */
gboolean bridge_post_feedback(Bridge *b, const char *url, JsonNode *node, gboolean *gone);

/* A phase or percent change of the followed action: a proceeding feedback now, or when the
 * interval has passed (phase NULL: just flush a pending one that is due). */
void bridge_note_progress(Bridge *b, const char *phase, guint percent);

/* The one closed feedback of the state's action: recorded in the state first, sent, and the
 * action finished once hawkBit has it. */
void bridge_close_failure(Bridge *b, const char *error_name, const char *message);
void bridge_close_from_result(Bridge *b, GVariant *result);

/* Sends a closed feedback kept in the state by an earlier attempt. */
void bridge_retry_closing(Bridge *b);

/* configData when hawkBit asks for it (@requested), on the first poll after the bridge
 * starts, or when the modem's data changed since the last one sent. */
void bridge_send_config_data(Bridge *b, gboolean requested);

/* Feedback on a cancel action. */
void bridge_cancel_feedback(Bridge *b, const char *cancel_id, const char *execution,
                            const char *finished, const char *reason);
