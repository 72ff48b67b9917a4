// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel-private.h: what the parts of DfotaAtChannel share. The core
 * (dfota-at-channel.c) runs the queue, frames and routes lines; the resync part
 * (dfota-at-channel-resync.c) gets back in step after a timeout and wakes the module; the data
 * part (dfota-at-channel-data.c) runs data phases and leaves prompts and data modes nobody
 * asked for; the URC part (dfota-at-channel-urc.c) keeps the prefixes and handlers. */
#pragma once

#include "dfota-at-channel.h"
#include "dfota-line-reader.h"

G_BEGIN_DECLS

typedef enum { STATE_RUNNING, STATE_QUIET, STATE_PROBE, STATE_CLOSED } ChannelState;

/* What a command is, which decides how its lines and its end are handled. */
typedef enum {
	COMMAND_KIND_AT,              /* a caller's command (dfota_at_channel_send) */
	COMMAND_KIND_DATA,            /* a caller's data phase (dfota_at_channel_send_data) */
	COMMAND_KIND_PROBE,           /* the resync probe (ATI) */
	COMMAND_KIND_WAKE,            /* the throw-away AT that wakes a sleeping module */
	COMMAND_KIND_WAKE_THEN_PROBE, /* a wake-up sent before a resync probe */
} CommandKind;

/* Where the module is with the command in flight. A prompt or data mode the module entered
 * for a command the channel did not send as a data command is left at once, and the command
 * fails. */
typedef enum {
	MODE_COMMAND = 0, /* lines, then a final result */
	MODE_DATA,        /* a data command's CONNECT came: bytes go to its raw handler */
	MODE_LEFT_PROMPT, /* "> " to another command: ESC sent */
	MODE_LEFT_DATA,   /* CONNECT to another command: "+++" sent after the guard time */
} CommandMode;

typedef struct {
	char *text;               /* as written to the tty */
	char *shown;              /* for logs and messages: a URL in it redacted (dfota-redact.h) */
	char **expected_prefixes; /* of every extended command in the line; NULL for none */
	guint timeout_ms;
	DfotaAtFlags flags;
	GTask *task;      /* NULL for the internal resync probe */
	gboolean watched; /* while queued: its cancellable is watched (cancel.c) */
	GPtrArray *lines;
	CommandKind kind;
	CommandMode mode;
	DfotaAtConnectFunc on_connect;
	DfotaAtRawFunc on_raw;
	gpointer data_user_data;
} Command;

typedef struct _CancelWatch CancelWatch;

typedef struct {
	guint id;
	char *prefix;
	DfotaAtUrcFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
} UrcHandler;

struct _DfotaAtChannel {
	GObject parent_instance;

	DfotaSerial *serial;
	gulong data_id;
	gulong lost_id;
	GMainContext *context;
	DfotaLineReader *reader;
	ChannelState state;
	GQueue queue; /* Command*, waiting */
	Command *current;
	/* The command timer: one source for the channel's life, never re-created. It fires at
	 * or before command_deadline_us (0: none) and re-arms itself when the deadline moved
	 * on; see restart_command_timer(). */
	GSource *command_timer;
	gint64 command_deadline_us;
	GSource *quiet_source;
	GSource *kick_source;
	GSource *guard_source; /* escape guard time before "+++" */
	gboolean at_chunk_end; /* the line being handled is the last of what was read */
	guint max_queue;
	guint quiet_ms;
	guint probe_timeout_ms;
	guint backoff_ms;
	GPtrArray *handlers;       /* UrcHandler* */
	GPtrArray *cancel_watches; /* CancelWatch*: the cancellables of queued commands */
	GPtrArray *urc_prefixes;   /* char*: lines that are unsolicited, handled or not */
	guint next_handler_id;
	gboolean asleep; /* +QATSLEEP seen and no sign of life since */
	guint failed_probes;
	gboolean unresponsive;
	guint unresponsive_quiet_ms;
	guint64 commands_written; /* AT command lines handed to the tty, probes included */
};

enum {
	SIGNAL_URC,
	SIGNAL_LOST,
	SIGNAL_RESYNCED,
	SIGNAL_UNRESPONSIVE,
	SIGNAL_COMMAND_WRITTEN,
	N_SIGNALS
};

/* dfota-at-channel.c */
extern guint at_channel_signals[N_SIGNALS];
void write_command(DfotaAtChannel *self, Command *cmd);
void finish_current(DfotaAtChannel *self, GError *error);
void schedule_next(DfotaAtChannel *self);
void command_free(Command *cmd);
Command *command_new(const char *text, guint timeout_ms, CommandKind kind);
void clear_source(GSource **source);
GSource *add_timeout(DfotaAtChannel *self, guint ms, GSourceFunc func, const char *name);
gboolean write_or_lose(DfotaAtChannel *self, const void *data, gsize len);
void restart_command_timer(DfotaAtChannel *self);
void stop_command_timer(DfotaAtChannel *self);
void enqueue(DfotaAtChannel *self, Command *cmd, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data, gpointer tag);

/* dfota-at-channel-data.c */
GError *left_mode_error(const Command *cmd);
void leave_data_mode(DfotaAtChannel *self, Command *cmd);
void check_prompt(DfotaAtChannel *self);

/* dfota-at-channel-resync.c */
void start_quiet(DfotaAtChannel *self, guint ms);
void probe_done(DfotaAtChannel *self, gboolean ok);
void send_wake(DfotaAtChannel *self, gboolean then_probe);
void wake_done(DfotaAtChannel *self);

/* dfota-at-channel-cancel.c */
void watch_command(DfotaAtChannel *self, Command *cmd, GCancellable *cancellable);
void unwatch_command(DfotaAtChannel *self, Command *cmd);
void cancel_watch_free(CancelWatch *w);

/* dfota-at-channel-urc.c */
void urc_handler_free(UrcHandler *h);
gboolean is_urc_line(DfotaAtChannel *self, const char *line);

G_END_DECLS
