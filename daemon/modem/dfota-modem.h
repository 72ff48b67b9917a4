// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem.h: one BC65/BC92 module behind one tty.
 *
 * Owns the DfotaSerial and the DfotaAtChannel on top of it. Opens the port (retrying with a
 * capped back-off while it is missing), waits for the module to answer, initialises it
 * (ATE0, AT+CMEE=1, ATI, AT+CGSN=1, network state) and re-initialises it after every module
 * reboot (RDY). A module that refuses the identity queries or answers them incompletely in
 * its first seconds (+CME ERROR: 14, ERROR, no answer, ATI without its Revision line) is
 * asked again once a second, and at once on "APP RDY", until identity-timeout after the boot;
 * only complete answers set Manufacturer, Model, Revision and Imei. Publishes what it knows as
 * GObject properties; the service layer mirrors them onto D-Bus.
 */
#pragma once

#include <gio/gio.h>
#include "dfota-at-channel.h"
#include "at-parse.h"

G_BEGIN_DECLS

#define DFOTA_TYPE_MODEM (dfota_modem_get_type())
G_DECLARE_FINAL_TYPE(DfotaModem, dfota_modem, DFOTA, MODEM, GObject)

typedef enum {
	DFOTA_MODEM_STATE_DISCONNECTED,
	DFOTA_MODEM_STATE_INITIALIZING,
	DFOTA_MODEM_STATE_READY,
	DFOTA_MODEM_STATE_BUSY,
	DFOTA_MODEM_STATE_REBOOTING,
} DfotaModemState;

const char *dfota_modem_state_to_string(DfotaModemState state);

typedef struct {
	char *name;       /* the config group's NAME, or "0" for --port */
	char *port;       /* tty path; NULL when found by USB identity */
	char *usb_serial; /* NULL = any */
	guint16 usb_vid;  /* 0 = any */
	guint16 usb_pid;
	guint baud;
	gboolean rtscts;
	guint command_timeout_ms;
	guint max_queue;
	guint quiet_ms;             /* resynchronisation quiet time after a timeout */
	guint data_phase_timeout_s; /* the module's AT+QFUPL inactivity bound (upload-timeout) */
	guint identity_timeout_s;   /* identity-timeout: identity asked again until this long
	                             * after boot */
} DfotaModemConfig;

void dfota_modem_config_clear(DfotaModemConfig *cfg);

/* Copies @cfg. Nothing happens until dfota_modem_start(). */
DfotaModem *dfota_modem_new(const DfotaModemConfig *cfg);

/* Opens the port and initialises the module, now or, while the port is missing or cannot be
 * opened, with a capped exponential back-off (State stays disconnected, the journal says
 * why). */
void dfota_modem_start(DfotaModem *self);

/* Closes the port and stops retrying. */
void dfota_modem_stop(DfotaModem *self);

DfotaModemState dfota_modem_get_state(DfotaModem *self);
const DfotaModemConfig *dfota_modem_get_config(DfotaModem *self);
const char *dfota_modem_get_port(DfotaModem *self);         /* the path in use */
const char *dfota_modem_get_manufacturer(DfotaModem *self); /* "" until known */
const char *dfota_modem_get_model(DfotaModem *self);
const char *dfota_modem_get_revision(DfotaModem *self);
const char *dfota_modem_get_sub_edition(DfotaModem *self); /* "" when none */
const char *dfota_modem_get_imei(DfotaModem *self);        /* "" until known */
gboolean dfota_modem_is_bc92(DfotaModem *self);
/* TRUE once ATI answered completely since the module's last boot (or the port's opening):
 * Revision is the running firmware's. FALSE while the identity is still being asked for,
 * and when identity-timeout ran out: Revision then still holds what was known before the
 * boot, and must not be taken as the firmware the module came back with. */
gboolean dfota_modem_identity_is_current(DfotaModem *self);
GVariant *dfota_modem_get_network(DfotaModem *self); /* a{sv}, never NULL */
GVariant *dfota_modem_get_device(DfotaModem *self);  /* a{sv}, never NULL */

/* The channel while the port is open, else NULL. */
DfotaAtChannel *dfota_modem_get_channel(DfotaModem *self);
/* AT command lines written to this modem's tty since the daemon started, over every time
 * the port was opened (dfotad_at_commands_total). */
guint64 dfota_modem_get_at_commands_total(DfotaModem *self);

/* While a job owns the modem, State reads "busy" where it would read "ready"; passthrough
 * commands are refused by the service. */
void dfota_modem_set_job_active(DfotaModem *self, gboolean active);

/* Sends @command through the channel (DFOTA_ERROR_NOT_READY when the port is not open). */
void dfota_modem_command(DfotaModem *self, const char *command, guint timeout_ms,
                         DfotaAtFlags flags, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
char **dfota_modem_command_finish(DfotaModem *self, GAsyncResult *result, GError **error);

/* Re-reads identity (ATI) and network (AT+CESQ, AT+COPS?, AT+CGPADDR). */
void dfota_modem_refresh(DfotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data);
gboolean dfota_modem_refresh_finish(DfotaModem *self, GAsyncResult *result, GError **error);

/* Network preflight of the jobs where the module downloads: registered (AT+COPS?), on a BC92
 * on GSM the PDP context configured and activated (AT+CGDCONT=1,"IP", AT+CGACT=1,1, seed 4.2),
 * then an IP address (AT+CGPADDR). DFOTA_ERROR_NOT_READY naming what is missing. */
void dfota_modem_ensure_network(DfotaModem *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean dfota_modem_ensure_network_finish(DfotaModem *self, GAsyncResult *result, GError **error);

/*
 * Properties (all notify): "state" (enum as uint), "manufacturer", "model", "revision",
 * "imei", "network" (GVariant a{sv}), "device" (GVariant a{sv}), "port".
 * Signals:
 *   "urc" (const char *line)   every URC line from the channel
 *   "rebooted" (void)          the module announced a power-on (RDY); re-initialisation runs
 *   "initialized" (void)       initialisation finished (after start or after a reboot); the
 *                              identity may be stale when identity-timeout ran out: see
 *                              dfota_modem_identity_is_current()
 *   "lost" (void)              the port went away; State is disconnected
 *   "at-command" (void)        one more AT command line was written to the tty
 */

G_END_DECLS
