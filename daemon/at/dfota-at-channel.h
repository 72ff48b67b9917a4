// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel.h: the serialized AT command queue on top of a DfotaSerial.
 *
 * FIFO queue, exactly one command in flight. Each command's timeout counts from the moment
 * its bytes are written. Lines that answer the command in flight are collected: a line with
 * the command's own expected prefix (AT+CEREG? → "+CEREG:"; for a chained line such as
 * AT+CGMR;+CEREG? the prefix of any of its commands) always belongs to it; a line with
 * a URC prefix the callers named (dfota_at_channel_add_urc_prefix(), _add_urc_handler()) does
 * not; anything else while a command is in flight is an information line. Echo of the
 * command is dropped. Every line that is not part of a response is emitted as "urc" and
 * dispatched to the handlers registered for its prefix.
 *
 * After a timeout the channel resynchronises before the next command goes out: it waits
 * until the line has been quiet for quiet-ms (late answers are discarded), then sends ATI and
 * checks its answer (a late OK cannot pass for it), repeating with back-off.
 *
 * Data phases (AT+QFUPL, AT+QFDWL) use dfota_at_channel_send_data(): the command stays in
 * flight during the whole transfer, so nothing else can interleave.
 *
 * Any other command that the module answers with a "> " prompt or CONNECT is taken out of
 * that mode at once (ESC; "+++" after 1 s of silence for CONNECT), and completes with
 * DFOTA_ERROR_COMMAND_FAILED once the final result (or its timeout) comes: no command can
 * leave the module waiting for data.
 */
#pragma once

#include <gio/gio.h>
#include "dfota-serial.h"

G_BEGIN_DECLS

#define DFOTA_TYPE_AT_CHANNEL (dfota_at_channel_get_type())
G_DECLARE_FINAL_TYPE(DfotaAtChannel, dfota_at_channel, DFOTA, AT_CHANNEL, GObject)

#define DFOTA_AT_CHANNEL_DEFAULT_MAX_QUEUE 32
#define DFOTA_AT_CHANNEL_DEFAULT_QUIET_MS 300

typedef enum {
	DFOTA_AT_FLAG_NONE = 0,
	/* Counts against the queue bound (passthrough commands from D-Bus clients): when
	 * max-queue such commands already wait, the send fails with DFOTA_ERROR_BUSY. The
	 * daemon's own commands are not bounded (there are only ever a few of them). */
	DFOTA_AT_FLAG_BOUNDED = 1 << 0,
} DfotaAtFlags;

/* Takes a reference on @serial and listens to its "data" and "lost" signals. */
DfotaAtChannel *dfota_at_channel_new(DfotaSerial *serial);

void dfota_at_channel_set_max_queue(DfotaAtChannel *self, guint max_queue);
void dfota_at_channel_set_quiet_ms(DfotaAtChannel *self, guint quiet_ms);
/* How long the resync probe (ATI) may take before it is retried (default 3000 ms). */
void dfota_at_channel_set_probe_timeout_ms(DfotaAtChannel *self, guint probe_timeout_ms);

/* Queues @command (without CR; the channel appends "\r"); @timeout_ms 0 means no timeout
 * (callers substitute their default first). Completes with the information
 * lines, or: DFOTA_ERROR_COMMAND_FAILED (bare ERROR), DFOTA_MODULE_ERROR (+CME ERROR
 * 6500–6509), DFOTA_ERROR_CME_ERROR (other codes, message "+CME ERROR: <n>"),
 * DFOTA_ERROR_TIMEOUT, DFOTA_ERROR_BUSY (bounded queue full), DFOTA_ERROR_MODEM_LOST (tty gone
 * or channel closed), G_IO_ERROR_CANCELLED (@cancellable fired while still waiting in the
 * queue; a command already written runs to its end and its answer is discarded). */
void dfota_at_channel_send(DfotaAtChannel *self, const char *command, guint timeout_ms,
                           DfotaAtFlags flags, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);

/* The information lines (NULL-terminated, possibly empty; free with g_strfreev). */
char **dfota_at_channel_send_finish(DfotaAtChannel *self, GAsyncResult *result, GError **error);

/* Data phases. After @command is answered with CONNECT, @on_connect runs once and the
 * channel is in data mode: received bytes go to @on_raw first, whenever no partial line is
 * buffered; it returns how many it consumed, the rest is framed into lines as usual (a final
 * result ends data mode and completes the command with its information lines, e.g.
 * "+QFUPL: 1024,3a5c"). @timeout_ms is an inactivity timeout in data mode: every received
 * byte and every dfota_at_channel_write_raw() restarts it. */
typedef void (*DfotaAtConnectFunc)(DfotaAtChannel *channel, gpointer user_data);
typedef gsize (*DfotaAtRawFunc)(DfotaAtChannel *channel, const guint8 *data, gsize len,
                                gpointer user_data);

void dfota_at_channel_send_data(DfotaAtChannel *self, const char *command, guint timeout_ms,
                                DfotaAtConnectFunc on_connect, DfotaAtRawFunc on_raw,
                                gpointer data_user_data, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

/* Writes raw bytes in data mode (fails with DFOTA_ERROR_MODEM_LOST when gone, and with
 * G_IO_ERROR_NOT_CONNECTED when not in data mode). */
gboolean dfota_at_channel_write_raw(DfotaAtChannel *self, const void *data, gsize len,
                                    GError **error);

/* Once the module is unresponsive, the quiet before each further probe (default 12 s). Keep it
 * above the module's data-phase inactivity bound (AT+QFUPL's timeout), so that a module left
 * in a data phase, which takes probes as data, gets the silence it needs to leave it. */
void dfota_at_channel_set_unresponsive_quiet_ms(DfotaAtChannel *self, guint ms);

/* The serial under the channel (transfer none), e.g. for its "drained" signal when streaming
 * a data phase with back-pressure. */
DfotaSerial *dfota_at_channel_get_serial(DfotaAtChannel *self);

/* Bytes written but not yet taken by the kernel (for streaming with back-pressure). */
gsize dfota_at_channel_get_pending(DfotaAtChannel *self);

/* Lines starting with @prefix ("+CEREG:", …) are unsolicited, handled or not, unless they carry
 * an expected prefix of the command in flight. The channel knows only the URCs it acts on
 * itself (+QATSLEEP, +QATWAKEUP, the boot lines such as RDY); the layers above name the
 * module's others when they set the channel up. Adding a prefix again changes nothing. */
void dfota_at_channel_add_urc_prefix(DfotaAtChannel *self, const char *prefix);

/* URC handlers by prefix ("+QIND:", "RDY", …); a handler's prefix counts as a URC prefix
 * while it is registered. A line matching several prefixes goes to each. Returns an id for dfota_at_channel_remove_urc_handler(). */
typedef void (*DfotaAtUrcFunc)(DfotaAtChannel *channel, const char *line, gpointer user_data);
guint dfota_at_channel_add_urc_handler(DfotaAtChannel *self, const char *prefix,
                                       DfotaAtUrcFunc func, gpointer user_data,
                                       GDestroyNotify destroy);
void dfota_at_channel_remove_urc_handler(DfotaAtChannel *self, guint id);

/* AT command lines written to the tty since the channel was made (resync probes and wake-ups
 * included: they are bytes the module has to answer). */
guint64 dfota_at_channel_get_commands_written(DfotaAtChannel *self);

/* Number of bounded (passthrough) commands waiting, and all commands waiting. */
guint dfota_at_channel_get_queue_length(DfotaAtChannel *self); /* bounded ones */
guint dfota_at_channel_get_waiting(DfotaAtChannel *self);      /* all */

/* Fails every queued and in-flight command with DFOTA_ERROR_MODEM_LOST and refuses new ones;
 * the serial is not closed (its owner does that). Idempotent. */
void dfota_at_channel_shutdown(DfotaAtChannel *self);

/*
 * Signals:
 *   "urc"  (const char *line)   every unsolicited line, as received without CR/LF
 *   "lost" (GError *error)      the serial was lost; all commands already failed ModemLost
 *   "resynced" (void)           a resynchronisation after a timeout succeeded
 *   "unresponsive" (void)       3 resync probes in a row went unanswered: waiting commands
 *                               failed with ModemLost, new ones are refused until the
 *                               channel (still probing with back-off) emits "resynced"
 *   "command-written" (void)    one more AT command line was written to the tty
 */

G_END_DECLS
