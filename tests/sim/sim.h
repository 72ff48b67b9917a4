// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-sim: a simulated Quectel BC65/BC92 speaking AT on a pseudo-terminal.
 *
 * Standalone on purpose: it shares no code with daemon/, so a parser bug in the daemon cannot
 * hide behind the same bug here. One context struct (Sim) is passed everywhere.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <stdio.h>

#define SIM_BLOCK 1024

typedef enum {
	SIM_PHASE_NONE,
	SIM_PHASE_DOWNLOADING,
	SIM_PHASE_UPDATING,
	SIM_PHASE_AT_START, /* power cuts only: right after START */
	SIM_PHASE_AT_END,   /* power cuts only: right after END,0 */
} SimPhase;

/* What field modules do that the application note does not show (--field, "field"). */
typedef enum {
	SIM_FIELD_NO_DOWNLOADING = 1 << 0, /* no DOWNLOADING URCs: HTTPSTART, silence, HTTPEND */
	SIM_FIELD_NO_START = 1 << 1,       /* the first UPDATING comes without START */
	SIM_FIELD_NO_END = 1 << 2,         /* reboot at once after UPDATING 100, END lost */
	SIM_FIELD_UNKNOWN_STATES = 1 << 3, /* "DOWNLOAD START", "RESTORE", "FTPSTART", "FTPEND" */
	SIM_FIELD_APP_RDY = 1 << 4,        /* POWERED DOWN before a reboot, APP RDY after RDY */
	SIM_FIELD_LOST_DOWNLOAD = 1 << 5,  /* after HTTPSTART nothing: no progress, no HTTPEND */
} SimField;

typedef enum {
	SIM_INJECT_NONE,
	SIM_INJECT_SYNC,
	SIM_INJECT_HTTPEND,
	SIM_INJECT_END,
} SimInject;

typedef enum {
	SIM_CHECKSUM_LOWER,        /* "a5c": lowercase, no padding (what BC65 firmware prints) */
	SIM_CHECKSUM_UPPER,        /* "A5C" */
	SIM_CHECKSUM_PADDED,       /* "0a5c" */
	SIM_CHECKSUM_UPPER_PADDED, /* "0A5C" */
} SimChecksumStyle;

typedef enum {
	SIM_STALL_REPORT, /* after its <timeout_s> of silence: +QFUPL: <taken>,<sum> and OK */
	SIM_STALL_ERROR,  /* after its <timeout_s>: +CME ERROR: 421 (time out) */
	SIM_STALL_SILENT, /* after its <timeout_s>: back in command mode without a word */
} SimStallEnd;

typedef enum {
	SIM_IDENTITY_OK,
	SIM_IDENTITY_CME14,        /* +CME ERROR: 14 (SIM busy), as modules answer while booting */
	SIM_IDENTITY_ERROR,        /* a bare ERROR */
	SIM_IDENTITY_PARTIAL,      /* ATI without its Revision line; AT+CGSN, AT+CGMR: OK alone */
	SIM_IDENTITY_MANUFACTURER, /* ATI with only "Quectel_Ltd"; the others as partial */
	SIM_IDENTITY_SILENT,       /* no answer at all */
} SimIdentityFail;

typedef struct _SimFota SimFota;
typedef struct _SimUpload SimUpload;
typedef struct _SimHttp SimHttp;

typedef struct {
	char *name;
	GBytes *data;
} SimFile;

/* A parsed simulator package (see sim-package.c for the format). */
typedef struct {
	char *model;
	char *from;
	char *to;
	gsize payload_size;
} SimPackage;

typedef struct {
	/* options */
	char *link;
	char *model;
	char *revision;
	char *imei;
	char *log_path;
	char *control_path;
	gboolean gsm;
	gboolean unregistered;
	gboolean no_ip;
	gboolean seed_spelling;
	gboolean flow_rtscts;
	guint baud;
	guint rx_buffer;
	guint ack_turnaround_ms;
	double time_scale;
	gsize max_package;
	gsize ufs_size;
	guint sleep_after_ms;
	SimPhase cut_phase;
	int cut_pct;
	SimInject inject_kind;
	int inject_code;
	/* field behaviours of the file commands (sim-ufs.c) */
	gboolean ufs_prefix;    /* +QFLST names carry the "UFS:" drive */
	char **ufs_dirs;        /* directory entries +QFLST lists ("security/") */
	int checksum_style;     /* SimChecksumStyle */
	int missing_file_error; /* CME code for a missing file; 0: a bare ERROR */
	gsize upload_stall;     /* AT+QFUPL takes no bytes beyond this many (0: never) */
	int upload_stall_end;   /* SimStallEnd */
	/* identity just after boot (sim-at.c): the first queries fail or answer in part */
	int identity_fail_kind;     /* SimIdentityFail */
	guint identity_fail_count;  /* this many queries after each boot */
	guint identity_fail_secs;   /* or for this many wall-clock seconds after boot */
	gboolean identity_fail_app; /* or until APP RDY */
	guint identity_failed;      /* queries failed since the boot */
	gint64 boot_us;
	guint app_rdy_ms; /* "APP RDY" this long after "RDY" (0: never) */
	gboolean app_ready;
	guint app_rdy_timer;
	char *ati_urc;      /* an unsolicited line sent inside every ATI answer (NULL: none) */
	guint field;        /* SimField bits */
	gboolean radio_off; /* AT+CFUN=0: a download fails with HTTPEND 702 */

	GMainLoop *loop;
	FILE *log;

	/* pseudo-terminal */
	int master_fd;
	int slave_fd;
	char *slave_path;
	guint master_watch;
	guint input_resume_id;
	gboolean unplugged;
	int inotify_fd;
	guint inotify_watch;
	int slave_opens;

	/* control FIFO */
	int control_fd;
	int control_wfd;
	guint control_watch;
	GString *control_line;

	/* output queue (paced when baud > 0) */
	GByteArray *out;
	guint out_watch;
	guint out_timer;
	gint64 out_last_us;
	double out_credit;
	gsize hold_pos;
	gint64 hold_until_us;
	guint hold_timer;

	/* line assembly and power state */
	GString *line;
	gboolean dead;    /* rebooting or powered off: input discarded, nothing sent */
	gboolean silence; /* wedged: input ignored, nothing sent */
	gboolean asleep;
	gboolean noise;
	guint noise_timer;
	guint idle_timer;
	guint power_timer;
	int delay_next_ms;
	/* "hold start": the next accepted AT+QFOTADL gets its OK, then the job waits for
	 * "release"; "hold ok": its OK waits too (all output does) */
	enum { SIM_HOLD_NONE, SIM_HOLD_START, SIM_HOLD_OK } hold_fota;
	GRand *rand;

	/* module state */
	gboolean echo;
	int cmee;
	int qsclk;
	int cereg_n;
	gboolean pdp_defined;
	gboolean pdp_active;
	GPtrArray *files; /* SimFile*, in creation order */
	SimUpload *upload;
	SimFota *fota;
	gboolean forced_upgrade_pending;

	/* prompt ("> ") and data (CONNECT) modes of commands a host sends through; see sim-mode.c */
	int mode; /* SimMode */
	char *mode_cmd;
	GString *mode_data;
	gint64 last_input_us;
	guint plus_count;
	guint escape_timer;
	/* a chained line (AT+CGMR;+CGSN=1): the OK of every command but the last is held back */
	gboolean chain_hold_ok;
	int chain_final; /* 0 none yet, 1 OK, 2 error */
} Sim;

typedef enum {
	SIM_MODE_COMMAND = 0,
	SIM_MODE_PROMPT, /* bytes are data until Ctrl-Z (send) or ESC (cancel) */
	SIM_MODE_DATA,   /* bytes are data until "+++" between guard times of silence */
} SimMode;

/* sim-out.c: output queue, framing, log; sim-main.c: power states and input */
double sim_scaled_ms(Sim *sim, double ms);
void sim_write(Sim *sim, const void *data, gsize len);
void sim_send_line(Sim *sim, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void sim_send_error(Sim *sim, int code);
void sim_log(Sim *sim, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void sim_hold_output(Sim *sim, int ms);
/* Ends a sim_hold_output() now. */
void sim_release_output(Sim *sim);
void sim_reboot(Sim *sim, gboolean power_cut);
void sim_input_pause_until(Sim *sim, gint64 until_us);
/* A one-shot timer at @at_us (g_get_monotonic_time() clock) with microsecond precision: a
 * timerfd, where g_timeout_add() rounds to milliseconds and the line model needs the time of
 * a byte (11 us at 921600 baud). Returns a source id for g_source_remove(). */
guint sim_timer_at(gint64 at_us, GSourceFunc func, gpointer data);
void sim_feed_commands(Sim *sim, const guint8 *buf, gsize len);

/* sim-mode.c: prompt and data modes */
void sim_mode_enter_prompt(Sim *sim, const char *cmd);
void sim_mode_enter_data(Sim *sim, const char *cmd);
/* Feeds one byte received in a prompt or data mode. */
void sim_mode_feed(Sim *sim, guint8 c, gint64 now_us);
void sim_mode_reset(Sim *sim);

/* sim-at.c: the command interpreter */
void sim_at_execute(Sim *sim, const char *line);
gboolean sim_ip_up(Sim *sim);
gboolean sim_registered(Sim *sim);
char **sim_at_split_args(const char *s, gboolean *ok);
/* --identity-fail KIND:N, KIND:Ns or KIND:app (also the control command "identity-fail"). */
gboolean sim_parse_identity_fail(Sim *sim, const char *spec);
/* A boot (or the simulator's start): identity failures count from now, APP RDY follows. */
void sim_identity_boot(Sim *sim);

/* sim-ufs.c: in-memory file system and the file commands */
gsize sim_ufs_used(Sim *sim);
gsize sim_ufs_free(Sim *sim);
SimFile *sim_ufs_find(Sim *sim, const char *name);
gboolean sim_ufs_store(Sim *sim, const char *name, GBytes *data);
void sim_ufs_clear(Sim *sim);
void sim_ufs_command(Sim *sim, const char *cmd, const char *tail);
gboolean sim_upload_active(Sim *sim);
/* "+QFUPL: <size>,<sum>" / "+QFDWL: …" with the checksum as --checksum-style says. */
void sim_ufs_send_transfer_result(Sim *sim, const char *prefix, gsize size, guint16 sum);
gboolean sim_parse_upload_stall(Sim *sim, const char *spec);
gboolean sim_parse_checksum_style(Sim *sim, const char *style);
gboolean sim_parse_missing_file(Sim *sim, const char *answer);
void sim_upload_read(Sim *sim);
void sim_upload_feed(Sim *sim, const guint8 *buf, gsize len, gint64 now_us);
void sim_upload_abort(Sim *sim);

/* sim-package.c */
guint16 sim_xor16(const guint8 *data, gsize len);
gboolean sim_package_parse(const guint8 *data, gsize len, SimPackage *out);
void sim_package_clear(SimPackage *pkg);
int sim_make_package(const char *out, const char *model, const char *from, const char *to,
                     gsize payload_size, gboolean corrupt);

/* sim-fota.c */
void sim_fota_command(Sim *sim, const char *tail);
void sim_fota_cancel(Sim *sim);
SimPhase sim_fota_phase(Sim *sim);
void sim_fota_forced_upgrade(Sim *sim);
void sim_fota_free(Sim *sim);
/* "release": the output held by "hold ok" goes out, and the job held by "hold start|ok"
 * sets off. */
void sim_fota_release(Sim *sim);

/* sim-http.c: libcurl in a worker thread, result marshalled to the main context */
typedef struct {
	long http_status;
	int curl_code;
	gboolean too_large;
	GBytes *body;
} SimHttpResult;
typedef void (*SimHttpDone)(SimHttpResult *result, gpointer user_data);
SimHttp *sim_http_start(const char *url, gsize max_bytes, double low_speed_s, SimHttpDone done,
                        gpointer user_data);
/* percent 0..100 of the transfer, -1 while the total is unknown */
int sim_http_percent(SimHttp *http);
/* stops the transfer; the done callback will never run */
void sim_http_cancel(SimHttp *http);

/* sim-main.c: the pseudo-terminal */
gboolean sim_pty_open(Sim *sim, GError **error);
void sim_unplug(Sim *sim);
void sim_replug(Sim *sim);
void sim_sleep_now(Sim *sim);
void sim_idle_restart(Sim *sim);

/* sim-control.c: the control FIFO, noise and the fault options shared with it */
gboolean sim_control_open(Sim *sim, GError **error);
void sim_control_close(Sim *sim);
gboolean sim_parse_inject(Sim *sim, const char *code, const char *kind);
gboolean sim_parse_cut(Sim *sim, const char *phase, const char *pct);
/* A comma-separated list of SimField names, or "none". */
gboolean sim_parse_field(Sim *sim, const char *list);
void sim_noise_set(Sim *sim, gboolean on);
void sim_noise_emit(Sim *sim);
