// SPDX-License-Identifier: LGPL-2.1-or-later
/* at-parse.h: pure parsers for what a BC65/BC92 sends. Strings in, structs out, no I/O:
 * tested table-driven from the seed's transcripts and fuzzed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	DFOTA_AT_FINAL_NONE = 0, /* not a final result */
	DFOTA_AT_FINAL_OK,
	DFOTA_AT_FINAL_ERROR,
	DFOTA_AT_FINAL_CME_ERROR, /* *code set */
	DFOTA_AT_FINAL_CMS_ERROR, /* *code set */
	DFOTA_AT_FINAL_NO_CARRIER,
} DfotaAtFinal;

/* Classifies a whole line. "+CME ERROR: 6504" → CME_ERROR with *code 6504; a non-numeric
 * +CME ERROR text gives *code -1. */
DfotaAtFinal dfota_at_parse_final(const char *line, int *code);

/* TRUE for the intermediate "CONNECT" (optionally followed by text) of data commands. */
gboolean dfota_at_is_connect(const char *line);

/* The response prefix a command's answer lines carry: "AT+CEREG?" → "+CEREG:",
 * "at+qflst=\"a\"" → "+QFLST:", "ATI"/"AT" → NULL. Newly allocated. */
char *dfota_at_expected_prefix(const char *command);

/* The response prefixes of every extended command of a V.250 command line, in order and
 * without repeats: "AT+CGMR;+CEREG?" → { "+CGMR:", "+CEREG:" }, "ATI;+CGSN=1" → { "+CGSN:" }.
 * NULL when the line has none. A line that does not split gives its first command's prefix.
 * Free with g_strfreev(). */
char **dfota_at_expected_prefixes(const char *command);

/* ATI:  Quectel_Ltd / Quectel_BC65 / Revision: BC65JAR01A01 [/ SubEdition: V02] */
typedef struct {
	char *manufacturer;
	char *model;
	char *revision;
	char *sub_edition; /* NULL when the module reports none */
} DfotaAtIdentity;
gboolean dfota_at_parse_ati(const char *const *lines, DfotaAtIdentity *out);
void dfota_at_identity_clear(DfotaAtIdentity *id);

/* +CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp> (99/255 = unknown, stored as -1). */
typedef struct {
	int rxlev, ber, rscp, ecno, rsrq, rsrp;
} DfotaAtCesq;
gboolean dfota_at_parse_cesq(const char *line, DfotaAtCesq *out);

/* +COPS: <mode>[,<format>,"<oper>"[,<AcT>]]: registered when an operator is present. AcT 9 →
 * nb-iot; 0, 1, 3 → gsm; other or absent → unknown. */
typedef enum {
	DFOTA_AT_RAT_UNKNOWN = 0,
	DFOTA_AT_RAT_NBIOT,
	DFOTA_AT_RAT_GSM,
} DfotaAtRat;
typedef struct {
	int mode;
	gboolean registered;
	char *oper; /* NULL when absent */
	DfotaAtRat rat;
} DfotaAtCops;
gboolean dfota_at_parse_cops(const char *line, DfotaAtCops *out);
void dfota_at_cops_clear(DfotaAtCops *cops);
const char *dfota_at_rat_to_string(DfotaAtRat rat); /* "nb-iot", "gsm", "unknown" */

/* +CGPADDR: <cid>[,<address>] (address quoted or not). *address NULL when none. */
gboolean dfota_at_parse_cgpaddr(const char *line, int *cid, char **address);

/* +CGACT: <cid>,<state> */
gboolean dfota_at_parse_cgact(const char *line, int *cid, int *state);

/* +CGDCONT: <cid>,"<PDP_type>",["<APN>"],"<PDP_addr>",… (seed 4.1/4.2; APN may be empty).
 * Strings NULL when empty or absent. */
typedef struct {
	int cid;
	char *pdp_type;
	char *apn;
	char *address;
} DfotaAtCgdcont;
gboolean dfota_at_parse_cgdcont(const char *line, DfotaAtCgdcont *out);
void dfota_at_cgdcont_clear(DfotaAtCgdcont *ctx);

/* +CGSN: <imei> or a bare line of 15 digits. Newly allocated or NULL. */
char *dfota_at_parse_imei(const char *line);

/* +QIND: "FOTA",<event>[,<value>] in every spelling the seed uses: spaces or none after
 * commas, HTTPEND / HTTPPEND / HTTTPEND, percent with or without '%'. */
typedef enum {
	DFOTA_FOTA_EVENT_UNKNOWN = 0, /* a +QIND: "FOTA" line with an event we do not know */
	DFOTA_FOTA_EVENT_HTTPSTART,
	DFOTA_FOTA_EVENT_DOWNLOADING, /* value = percent */
	DFOTA_FOTA_EVENT_HTTPEND,     /* value = HTTP_err */
	DFOTA_FOTA_EVENT_START,
	DFOTA_FOTA_EVENT_UPDATING, /* value = percent */
	DFOTA_FOTA_EVENT_END,      /* value = FOTA_err */
} DfotaFotaEvent;
typedef struct {
	DfotaFotaEvent event;
	int value;  /* -1 when absent */
	char *name; /* the event as spelt in the line, unquoted */
} DfotaFotaUrc;
/* FALSE when @line is not a +QIND: "FOTA" URC at all. */
gboolean dfota_fota_urc_parse(const char *line, DfotaFotaUrc *out);
void dfota_fota_urc_clear(DfotaFotaUrc *urc);

/* +QFLST: "<name>",<size>, with or without a space after the comma. A "UFS:" drive prefix
 * is removed from the name. Directory entries ("security/",0) parse too: see below. */
gboolean dfota_at_parse_qflst(const char *line, char **name, guint64 *size);
/* TRUE when a +QFLST name is a directory entry (it ends in '/'): not a file. */
gboolean dfota_at_qflst_is_directory(const char *name);
/* +QFLDS: <free>,<total> */
gboolean dfota_at_parse_qflds(const char *line, guint64 *free_bytes, guint64 *total_bytes);
/* +QFUPL: <size>,<hex checksum> and +QFDWL: <size>,<hex checksum> (prefix given by caller). */
gboolean dfota_at_parse_transfer_result(const char *line, const char *prefix, guint64 *size,
                                        guint16 *checksum);

/* TRUE when @line is one of the module's power-on URCs ("RDY", "+CPIN: READY" is not: only RDY
 * and the Quectel boot banners). */
gboolean dfota_at_is_boot_urc(const char *line);

G_END_DECLS
