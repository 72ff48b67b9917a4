// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-at-parse.c: table tests of every parser, with every seed line verbatim. */
#include <string.h>

#include "at-parse.h"

/* ---- +QIND: "FOTA" — every spelling of the seed, verbatim, plus malformed lines ---- */

typedef struct {
	const char *line;
	gboolean is_fota;
	DfotaFotaEvent event;
	int value;
	const char *name;
} FotaCase;

static const FotaCase fota_cases[] = {
	/* 3.1 response table (placeholders kept verbatim: the value is not a number) */
	{ "+QIND: \"FOTA\", \"HTTPSTART\"", TRUE, DFOTA_FOTA_EVENT_HTTPSTART, -1, "HTTPSTART" },
	{ "+QIND: \"FOTA\", \"DOWNLOADING\", <percent>", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, -1,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\", \"HTTTPEND\", <HTTP_err>", TRUE, DFOTA_FOTA_EVENT_HTTPEND, -1,
	  "HTTTPEND" },
	{ "+QIND: \"FOTA\", \"START\"", TRUE, DFOTA_FOTA_EVENT_START, -1, "START" },
	{ "+QIND: \"FOTA\", \"UPDATING\", <percent>", TRUE, DFOTA_FOTA_EVENT_UPDATING, -1,
	  "UPDATING" },
	{ "+QIND: \"FOTA\", \"END\", <FOTA_err>", TRUE, DFOTA_FOTA_EVENT_END, -1, "END" },
	/* 3.1 note (forced upgrade after power loss) */
	{ "+QIND: \"FOTA\", \"UPDATING\", 0%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 0, "UPDATING" },
	{ "+QIND: \"FOTA\", \"UPDATING\", 10%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 10, "UPDATING" },
	{ "+QIND: \"FOTA\", \"END\", 0", TRUE, DFOTA_FOTA_EVENT_END, 0, "END" },
	/* 3.2 */
	{ "+QIND: \"FOTA\",\"START\"", TRUE, DFOTA_FOTA_EVENT_START, -1, "START" },
	{ "+QIND: \"FOTA\",\"UPDATING\",<percent>", TRUE, DFOTA_FOTA_EVENT_UPDATING, -1,
	  "UPDATING" },
	{ "+QIND: \"FOTA\",\"END\",<FOTA_err>", TRUE, DFOTA_FOTA_EVENT_END, -1, "END" },
	{ "+QIND: \"FOTA\",\"UPDATING\",0%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 0, "UPDATING" },
	{ "+QIND: \"FOTA\",\"UPDATING\",10%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 10, "UPDATING" },
	{ "+QIND: \"FOTA\",\"END\",0", TRUE, DFOTA_FOTA_EVENT_END, 0, "END" },
	/* 3.3 */
	{ "+QIND: \"FOTA\",\"HTTPSTART\"", TRUE, DFOTA_FOTA_EVENT_HTTPSTART, -1, "HTTPSTART" },
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",<percent>", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, -1,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\",\"HTTPEND\",<HTTP_err>", TRUE, DFOTA_FOTA_EVENT_HTTPEND, -1, "HTTPEND" },
	/* 4.1 and 4.4 */
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",0%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 0,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",10%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 10,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",100%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 100,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\",\"HTTPPEND\",0", TRUE, DFOTA_FOTA_EVENT_HTTPEND, 0, "HTTPPEND" },
	{ "+QIND: \"FOTA\",\"UPDATING\",100%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 100, "UPDATING" },
	{ "+QIND: \"FOTA\", \"UPDATING\", 100%", TRUE, DFOTA_FOTA_EVENT_UPDATING, 100, "UPDATING" },
	/* 4.2 and 4.5 */
	{ "+QIND: \"FOTA\", \"DOWNLOADING\", 0%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 0,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\", \"DOWNLOADING\", 10%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 10,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\", \"DOWNLOADING\", 100%", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 100,
	  "DOWNLOADING" },
	{ "+QIND: \"FOTA\",\"HTTPEND\",0", TRUE, DFOTA_FOTA_EVENT_HTTPEND, 0, "HTTPEND" },
	{ "+QIND: \"FOTA\", \"HTTPPEND\", 0", TRUE, DFOTA_FOTA_EVENT_HTTPEND, 0, "HTTPPEND" },
	/* error codes of chapter 5 in URCs */
	{ "+QIND: \"FOTA\",\"HTTPEND\",6504", TRUE, DFOTA_FOTA_EVENT_HTTPEND, 6504, "HTTPEND" },
	{ "+QIND: \"FOTA\",\"END\",6508", TRUE, DFOTA_FOTA_EVENT_END, 6508, "END" },
	/* other spellings we accept */
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",55", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 55,
	  "DOWNLOADING" },
	{ "+QIND:\"FOTA\",\"downloading\",5 %", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, 5,
	  "downloading" },
	{ "+QIND: FOTA,START", TRUE, DFOTA_FOTA_EVENT_START, -1, "START" },
	{ "+QIND: \"FOTA\",\"NEWEVENT\",3", TRUE, DFOTA_FOTA_EVENT_UNKNOWN, 3, "NEWEVENT" },
	{ "+QIND: \"FOTA\",\"DOWNLOADING\",abc", TRUE, DFOTA_FOTA_EVENT_DOWNLOADING, -1,
	  "DOWNLOADING" },
	/* not a FOTA URC */
	{ "+QIND: \"FOTA\"", FALSE, 0, -1, NULL },
	{ "+QIND: \"FOTA\",\"\"", FALSE, 0, -1, NULL },
	{ "+QIND: \"FOTA\",\"END", FALSE, 0, -1, NULL },
	{ "+QIND: \"FOTA\",\"END\",0,1", FALSE, 0, -1, NULL },
	{ "+QIND: \"FOTA\"x,\"END\"", FALSE, 0, -1, NULL },
	{ "+QIND: \"PSM\",\"ENTER\"", FALSE, 0, -1, NULL },
	{ "+QIND: ", FALSE, 0, -1, NULL },
	{ "+QIND", FALSE, 0, -1, NULL },
	{ "QIND: \"FOTA\",\"END\",0", FALSE, 0, -1, NULL },
	{ "+CEREG: 1", FALSE, 0, -1, NULL },
	{ "", FALSE, 0, -1, NULL },
	{ NULL, FALSE, 0, -1, NULL },
};

static void
test_fota_urc(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(fota_cases); i++) {
		const FotaCase *c = &fota_cases[i];
		DfotaFotaUrc urc;
		gboolean ok = dfota_fota_urc_parse(c->line, &urc);

		if (ok != c->is_fota)
			g_error("%s: expected %s", c->line, c->is_fota ? "FOTA URC" : "rejection");
		if (!ok)
			continue;
		g_assert_cmpint(urc.event, ==, c->event);
		g_assert_cmpint(urc.value, ==, c->value);
		g_assert_cmpstr(urc.name, ==, c->name);
		dfota_fota_urc_clear(&urc);
	}
}

/* ---- final results ---- */

static void
test_final(void)
{
	static const struct {
		const char *line;
		DfotaAtFinal final;
		int code;
	} cases[] = {
		{ "OK", DFOTA_AT_FINAL_OK, -1 },
		{ "ERROR", DFOTA_AT_FINAL_ERROR, -1 },
		{ " OK ", DFOTA_AT_FINAL_OK, -1 },
		{ "+CME ERROR: 6504", DFOTA_AT_FINAL_CME_ERROR, 6504 },
		{ "+CME ERROR:30", DFOTA_AT_FINAL_CME_ERROR, 30 },
		{ "+CME ERROR: <HTTP_err>", DFOTA_AT_FINAL_CME_ERROR, -1 }, /* seed 3.1 verbatim */
		{ "+CME ERROR: SIM not inserted", DFOTA_AT_FINAL_CME_ERROR, -1 },
		{ "+CMS ERROR: 500", DFOTA_AT_FINAL_CMS_ERROR, 500 },
		{ "NO CARRIER", DFOTA_AT_FINAL_NO_CARRIER, -1 },
		{ "OKAY", DFOTA_AT_FINAL_NONE, -1 },
		{ "ERRORS", DFOTA_AT_FINAL_NONE, -1 },
		{ "+CME ERROR", DFOTA_AT_FINAL_NONE, -1 },
		{ "CONNECT", DFOTA_AT_FINAL_NONE, -1 },
		{ "+COPS: 0,2,\"46011\",9", DFOTA_AT_FINAL_NONE, -1 },
		{ "", DFOTA_AT_FINAL_NONE, -1 },
		{ NULL, DFOTA_AT_FINAL_NONE, -1 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		int code = 12345;
		g_assert_cmpint(dfota_at_parse_final(cases[i].line, &code), ==, cases[i].final);
		g_assert_cmpint(code, ==, cases[i].code);
	}
	g_assert_cmpint(dfota_at_parse_final("OK", NULL), ==, DFOTA_AT_FINAL_OK);
	g_assert_true(dfota_at_is_connect("CONNECT"));
	g_assert_true(dfota_at_is_connect("CONNECT 115200"));
	g_assert_false(dfota_at_is_connect("CONNECTED"));
	g_assert_false(dfota_at_is_connect("OK"));
	g_assert_false(dfota_at_is_connect(NULL));
}

static void
test_expected_prefix(void)
{
	static const struct {
		const char *command;
		const char *prefix;
	} cases[] = {
		/* every command of the seed's transcripts */
		{ "AT+COPS?", "+COPS:" },
		{ "AT+CGDCONT?", "+CGDCONT:" },
		{ "AT+CGDCONT=1,\"IP\"", "+CGDCONT:" },
		{ "AT+CGACT=1,1", "+CGACT:" },
		{ "AT+QFOTADL=\"http://224.168.203.812:3029/update.pack\"", "+QFOTADL:" },
		{ "AT+QFOTADL=2,\"http://224.168.203.812:3029/test.bin\"", "+QFOTADL:" },
		{ "AT+QFOTADL=1", "+QFOTADL:" },
		{ "AT+QFOTADL=?", "+QFOTADL:" },
		{ "AT+QFLST", "+QFLST:" },
		{ "AT+CESQ", "+CESQ:" },
		{ "AT+CGPADDR", "+CGPADDR:" },
		{ "ATI", NULL },
		/* others */
		{ "AT+CEREG?", "+CEREG:" },
		{ "at+qflst=\"a\"", "+QFLST:" },
		{ "AT", NULL },
		{ "ATE0", NULL },
		{ "AT+", NULL },
		{ "+COPS?", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *p = dfota_at_expected_prefix(cases[i].command);
		g_assert_cmpstr(p, ==, cases[i].prefix);
	}
}

static void
test_expected_prefixes(void)
{
	static const struct {
		const char *command;
		const char *prefixes; /* joined with ' '; NULL for none */
	} cases[] = {
		{ "AT+CGMR;+CEREG?", "+CGMR: +CEREG:" },
		{ "AT+CGMR;+CGSN=1", "+CGMR: +CGSN:" },
		{ "ATI;+CGSN=1", "+CGSN:" },
		{ "ATI+CGSN=1", "+CGSN:" },
		{ "at + cesq ; + cereg ?", "+CESQ: +CEREG:" },
		{ "AT+CESQ;+CESQ", "+CESQ:" },
		{ "AT+X=\"+Y;+Z\";+W", "+X: +W:" },
		{ "AT$QCPWRUP;^SYSINFO", "$QCPWRUP: ^SYSINFO:" },
		{ "AT+CEREG?", "+CEREG:" },
		{ "ATI", NULL },
		{ "AT", NULL },
		{ "ATE0V1", NULL },
		/* does not split: the first command's prefix, as before */
		{ "AT+CGMR&F", "+CGMR:" },
		{ "+COPS?", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(GStrv) p = dfota_at_expected_prefixes(cases[i].command);
		g_autofree char *joined = p ? g_strjoinv(" ", p) : NULL;

		g_assert_cmpstr(joined, ==, cases[i].prefixes);
	}
	g_assert_null(dfota_at_expected_prefixes(NULL));
}

static void
test_ati(void)
{
	const char *const with_sub[] = { "Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A01",
		                         "SubEdition: V02", NULL };
	const char *const plain[] = { "Quectel_Ltd", "Quectel_BC92", "Revision: BC92JBR01A02",
		                      NULL };
	const char *const no_rev[] = { "Quectel_Ltd", "Quectel_BC65", NULL };
	const char *const lone[] = { NULL };
	DfotaAtIdentity id;

	g_assert_true(dfota_at_parse_ati(with_sub, &id));
	g_assert_cmpstr(id.manufacturer, ==, "Quectel_Ltd");
	g_assert_cmpstr(id.model, ==, "Quectel_BC65");
	g_assert_cmpstr(id.revision, ==, "BC65JAR01A01");
	g_assert_cmpstr(id.sub_edition, ==, "V02");
	dfota_at_identity_clear(&id);
	g_assert_true(dfota_at_parse_ati(plain, &id));
	g_assert_cmpstr(id.model, ==, "Quectel_BC92");
	g_assert_cmpstr(id.revision, ==, "BC92JBR01A02");
	g_assert_null(id.sub_edition);
	dfota_at_identity_clear(&id);
	g_assert_false(dfota_at_parse_ati(no_rev, &id));
	g_assert_null(id.manufacturer);
	g_assert_false(dfota_at_parse_ati(lone, &id));
	g_assert_false(dfota_at_parse_ati(NULL, &id));

	/* Field answers: a revision with a suffix is taken whole; anything short of
	 * manufacturer, model and a non-empty revision is incomplete. */
	{
		const char *const suffix[] = { "Quectel_Ltd", "Quectel_BC65",
			                       "Revision: BC65JAR01A02_BETA0203", NULL };
		const char *const only_maker[] = { "Quectel_Ltd", NULL };
		const char *const empty_rev[] = { "Quectel_Ltd", "Quectel_BC65",
			                          "Revision: ", NULL };
		const char *const no_model[] = { "Quectel_Ltd", "Revision: BC65JAR01A01", NULL };

		g_assert_true(dfota_at_parse_ati(suffix, &id));
		g_assert_cmpstr(id.revision, ==, "BC65JAR01A02_BETA0203");
		dfota_at_identity_clear(&id);
		g_assert_false(dfota_at_parse_ati(only_maker, &id));
		g_assert_false(dfota_at_parse_ati(empty_rev, &id));
		g_assert_false(dfota_at_parse_ati(no_model, &id));
		g_assert_null(id.manufacturer);
	}
}

static void
test_cops(void)
{
	static const struct {
		const char *line;
		gboolean ok;
		int mode;
		gboolean registered;
		const char *oper;
		DfotaAtRat rat;
	} cases[] = {
		{ "+COPS: 0,2,\"46011\",9", TRUE, 0, TRUE, "46011", DFOTA_AT_RAT_NBIOT }, /* 4.1 */
		{ "+COPS: 0,2,\"46000\",0", TRUE, 0, TRUE, "46000", DFOTA_AT_RAT_GSM },   /* 4.2 */
		{ "+COPS: 0", TRUE, 0, FALSE, NULL, DFOTA_AT_RAT_UNKNOWN },
		{ "+COPS: 1,0,\"CMCC\",3", TRUE, 1, TRUE, "CMCC", DFOTA_AT_RAT_GSM },
		{ "+COPS: 0,2,\"46011\",7", TRUE, 0, TRUE, "46011", DFOTA_AT_RAT_UNKNOWN },
		{ "+COPS: 0,2,\"46011\"", TRUE, 0, TRUE, "46011", DFOTA_AT_RAT_UNKNOWN },
		{ "+COPS: 2,2,\"\"", TRUE, 2, FALSE, NULL, DFOTA_AT_RAT_UNKNOWN },
		{ "+COPS: x", FALSE, 0, FALSE, NULL, 0 },
		{ "+COPS:", FALSE, 0, FALSE, NULL, 0 },
		{ "+COPS: 0,2,\"46011,9", FALSE, 0, FALSE, NULL, 0 },
		{ "+CEREG: 0,1", FALSE, 0, FALSE, NULL, 0 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		DfotaAtCops cops;
		gboolean ok = dfota_at_parse_cops(cases[i].line, &cops);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (!ok)
			continue;
		g_assert_cmpint(cops.mode, ==, cases[i].mode);
		g_assert_cmpint(cops.registered, ==, cases[i].registered);
		g_assert_cmpstr(cops.oper, ==, cases[i].oper);
		g_assert_cmpint(cops.rat, ==, cases[i].rat);
		dfota_at_cops_clear(&cops);
	}
	g_assert_cmpstr(dfota_at_rat_to_string(DFOTA_AT_RAT_NBIOT), ==, "nb-iot");
	g_assert_cmpstr(dfota_at_rat_to_string(DFOTA_AT_RAT_GSM), ==, "gsm");
	g_assert_cmpstr(dfota_at_rat_to_string(DFOTA_AT_RAT_UNKNOWN), ==, "unknown");
}

static void
test_cgdcont(void)
{
	DfotaAtCgdcont c;

	/* 4.1 */
	g_assert_true(dfota_at_parse_cgdcont(
	        "+CGDCONT: 1,\"IP\",\"cmnbiot\",\"100.68.194.234\",0,0", &c));
	g_assert_cmpint(c.cid, ==, 1);
	g_assert_cmpstr(c.pdp_type, ==, "IP");
	g_assert_cmpstr(c.apn, ==, "cmnbiot");
	g_assert_cmpstr(c.address, ==, "100.68.194.234");
	dfota_at_cgdcont_clear(&c);
	/* 4.2: empty APN */
	g_assert_true(dfota_at_parse_cgdcont("+CGDCONT: 1,\"IP\",,\"100.68.194.234\",0,0", &c));
	g_assert_cmpstr(c.pdp_type, ==, "IP");
	g_assert_null(c.apn);
	g_assert_cmpstr(c.address, ==, "100.68.194.234");
	dfota_at_cgdcont_clear(&c);
	g_assert_true(dfota_at_parse_cgdcont("+CGDCONT: 1,\"IP\"", &c));
	g_assert_null(c.address);
	dfota_at_cgdcont_clear(&c);
	g_assert_false(dfota_at_parse_cgdcont("+CGDCONT: x,\"IP\"", &c));
	g_assert_false(dfota_at_parse_cgdcont("+CGDCONT: 1", &c));
	g_assert_false(dfota_at_parse_cgdcont("+CGDCONT: 1,\"IP", &c));
}

static void
test_cesq_cgpaddr_cgact_imei(void)
{
	DfotaAtCesq q;
	int cid = 0, state = 0;
	char *addr = NULL;
	char *imei;

	g_assert_true(dfota_at_parse_cesq("+CESQ: 99,99,255,255,12,45", &q));
	g_assert_cmpint(q.rxlev, ==, -1);
	g_assert_cmpint(q.ber, ==, -1);
	g_assert_cmpint(q.rscp, ==, -1);
	g_assert_cmpint(q.ecno, ==, -1);
	g_assert_cmpint(q.rsrq, ==, 12);
	g_assert_cmpint(q.rsrp, ==, 45);
	g_assert_true(dfota_at_parse_cesq("+CESQ:30,0,255,255,255,255", &q));
	g_assert_cmpint(q.rxlev, ==, 30);
	g_assert_cmpint(q.ber, ==, 0);
	g_assert_cmpint(q.rsrp, ==, -1);
	g_assert_false(dfota_at_parse_cesq("+CESQ: 1,2,3", &q));
	g_assert_false(dfota_at_parse_cesq("+CESQ: 1,2,3,4,5,x", &q));
	g_assert_false(dfota_at_parse_cesq("+CESQ: 1,2,3,4,5,-6", &q));
	g_assert_false(dfota_at_parse_cesq("+CSQ: 1,2", &q));

	g_assert_true(dfota_at_parse_cgpaddr("+CGPADDR: 1,\"100.68.194.234\"", &cid, &addr));
	g_assert_cmpint(cid, ==, 1);
	g_assert_cmpstr(addr, ==, "100.68.194.234");
	g_clear_pointer(&addr, g_free);
	g_assert_true(dfota_at_parse_cgpaddr("+CGPADDR: 0,100.68.194.234", &cid, &addr));
	g_assert_cmpint(cid, ==, 0);
	g_assert_cmpstr(addr, ==, "100.68.194.234");
	g_clear_pointer(&addr, g_free);
	g_assert_true(dfota_at_parse_cgpaddr("+CGPADDR: 1", &cid, &addr));
	g_assert_null(addr);
	g_assert_true(dfota_at_parse_cgpaddr("+CGPADDR: 1,\"\"", &cid, &addr));
	g_assert_null(addr);
	g_assert_false(dfota_at_parse_cgpaddr("+CGPADDR: ", &cid, &addr));
	g_assert_false(dfota_at_parse_cgpaddr("+CGPADDR: a,1.2.3.4", &cid, &addr));

	g_assert_true(dfota_at_parse_cgact("+CGACT: 1,1", &cid, &state));
	g_assert_cmpint(cid, ==, 1);
	g_assert_cmpint(state, ==, 1);
	g_assert_false(dfota_at_parse_cgact("+CGACT: 1", &cid, &state));
	g_assert_false(dfota_at_parse_cgact("+CGACT: 1,x", &cid, &state));

	imei = dfota_at_parse_imei("+CGSN: 866123456789012");
	g_assert_cmpstr(imei, ==, "866123456789012");
	g_free(imei);
	imei = dfota_at_parse_imei("866123456789012");
	g_assert_cmpstr(imei, ==, "866123456789012");
	g_free(imei);
	imei = dfota_at_parse_imei("+CGSN: \"866123456789012\"");
	g_assert_cmpstr(imei, ==, "866123456789012");
	g_free(imei);
	g_assert_null(dfota_at_parse_imei("86612345678901"));
	g_assert_null(dfota_at_parse_imei("8661234567890123"));
	g_assert_null(dfota_at_parse_imei("+CGSN: 86612345678901x"));
	g_assert_null(dfota_at_parse_imei("OK"));
	g_assert_null(dfota_at_parse_imei(NULL));
}

static void
test_files(void)
{
	static const struct {
		const char *line;
		gboolean ok;
		const char *name;
		guint64 size;
	} qflst[] = {
		{ "+QFLST: \"fota.pack\",20135", TRUE, "fota.pack", 20135 }, /* 4.3 */
		{ "+QFLST: \"test.bin\",93368", TRUE, "test.bin", 93368 },   /* 4.4 */
		{ "+QFLST: \"test.bin\", 93368", TRUE, "test.bin", 93368 },  /* 4.5 */
		{ "+QFLST: \"a,b.bin\",1", TRUE, "a,b.bin", 1 },
		{ "+QFLST: \"big\",4294967296", TRUE, "big", G_GUINT64_CONSTANT(4294967296) },
		{ "+QFLST: \"x\"", FALSE, NULL, 0 },
		{ "+QFLST: \"\",5", FALSE, NULL, 0 },
		{ "+QFLST: \"x\",-5", FALSE, NULL, 0 },
		{ "+QFLST: \"x\",5k", FALSE, NULL, 0 },
		{ "+QFLST: \"x,5", FALSE, NULL, 0 },
		{ "+QFLDS: 1,2", FALSE, NULL, 0 },
		/* Field firmware: the drive prefix, directory entries, no space or a space. */
		{ "+QFLST: \"UFS:fota.pack\",20135", TRUE, "fota.pack", 20135 },
		{ "+QFLST: \"ufs:mcu.bin\", 7", TRUE, "mcu.bin", 7 },
		{ "+QFLST:\"UFS:a.bin\",0", TRUE, "a.bin", 0 },
		{ "+QFLST: \"security/\",0", TRUE, "security/", 0 },
		{ "+QFLST: \"UFS:security/\", 0", TRUE, "security/", 0 },
		{ "+QFLST: \"UFS:\",5", FALSE, NULL, 0 },
		{ "+QFLST: \"UFS:UFS:b.bin\",5", TRUE, "b.bin", 5 },
		{ "+QFLST: \"UFS:UFS:\",5", FALSE, NULL, 0 },
	};
	guint64 a = 0, b = 0;
	guint16 sum = 0;

	for (gsize i = 0; i < G_N_ELEMENTS(qflst); i++) {
		char *name = NULL;
		guint64 size = 0;
		gboolean ok = dfota_at_parse_qflst(qflst[i].line, &name, &size);
		g_assert_cmpint(ok, ==, qflst[i].ok);
		if (!ok)
			continue;
		g_assert_cmpstr(name, ==, qflst[i].name);
		g_assert_cmpuint(size, ==, qflst[i].size);
		g_free(name);
	}
	g_assert_true(dfota_at_qflst_is_directory("security/"));
	g_assert_true(dfota_at_qflst_is_directory("a/b/"));
	g_assert_false(dfota_at_qflst_is_directory("fota.pack"));
	g_assert_false(dfota_at_qflst_is_directory(""));
	g_assert_false(dfota_at_qflst_is_directory(NULL));
	g_assert_true(dfota_at_parse_qflds("+QFLDS: 250000,524288", &a, &b));
	g_assert_cmpuint(a, ==, 250000);
	g_assert_cmpuint(b, ==, 524288);
	g_assert_true(dfota_at_parse_qflds("+QFLDS:1, 2", &a, &b));
	g_assert_false(dfota_at_parse_qflds("+QFLDS: 1", &a, &b));

	g_assert_true(dfota_at_parse_transfer_result("+QFUPL: 1024,3a5c", "+QFUPL:", &a, &sum));
	g_assert_cmpuint(a, ==, 1024);
	g_assert_cmpuint(sum, ==, 0x3a5c);
	g_assert_true(dfota_at_parse_transfer_result("+QFDWL: 20135, FFFF", "+QFDWL:", &a, &sum));
	g_assert_cmpuint(a, ==, 20135);
	g_assert_cmpuint(sum, ==, 0xffff);
	g_assert_true(dfota_at_parse_transfer_result("+QFDWL: 1,0", "+QFDWL:", &a, &sum));
	g_assert_cmpuint(sum, ==, 0);
	/* Checksums in either case, with or without zero padding. */
	{
		static const struct {
			const char *line;
			guint16 sum;
		} sums[] = {
			{ "+QFUPL: 5000,3a5c", 0x3a5c }, { "+QFUPL: 5000,3A5C", 0x3a5c },
			{ "+QFUPL: 5000,a5c", 0x0a5c },  { "+QFUPL: 5000,0a5c", 0x0a5c },
			{ "+QFUPL: 5000,0A5C", 0x0a5c }, { "+QFUPL: 5000,f", 0x000f },
			{ "+QFUPL: 5000,000f", 0x000f }, { "+QFUPL: 5000,0000000f", 0x000f },
			{ "+QFUPL:5000, 00Ab", 0x00ab },
		};
		for (gsize i = 0; i < G_N_ELEMENTS(sums); i++) {
			sum = 0;
			g_assert_true(
			        dfota_at_parse_transfer_result(sums[i].line, "+QFUPL:", &a, &sum));
			g_assert_cmpuint(a, ==, 5000);
			g_assert_cmphex(sum, ==, sums[i].sum);
		}
	}
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1,0x12", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1,1 2", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1024,3a5c", "+QFDWL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1024,13a5c", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1024,xyz", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1024", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: ,3a5c", "+QFUPL:", &a, &sum));
	g_assert_false(dfota_at_parse_transfer_result("+QFUPL: 1,-1", "+QFUPL:", &a, &sum));
}

static void
test_boot_urc(void)
{
	g_assert_true(dfota_at_is_boot_urc("RDY"));
	g_assert_true(dfota_at_is_boot_urc("REBOOT_CAUSE_APPLICATION_AT"));
	g_assert_false(dfota_at_is_boot_urc("+CPIN: READY"));
	g_assert_false(dfota_at_is_boot_urc("OK"));
	g_assert_false(dfota_at_is_boot_urc("RDYX"));
	g_assert_false(dfota_at_is_boot_urc(NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/at-parse/fota-urc", test_fota_urc);
	g_test_add_func("/at-parse/final", test_final);
	g_test_add_func("/at-parse/expected-prefix", test_expected_prefix);
	g_test_add_func("/at-parse/expected-prefixes", test_expected_prefixes);
	g_test_add_func("/at-parse/ati", test_ati);
	g_test_add_func("/at-parse/cops", test_cops);
	g_test_add_func("/at-parse/cgdcont", test_cgdcont);
	g_test_add_func("/at-parse/cesq-cgpaddr-cgact-imei", test_cesq_cgpaddr_cgact_imei);
	g_test_add_func("/at-parse/files", test_files);
	g_test_add_func("/at-parse/boot-urc", test_boot_urc);
	return g_test_run();
}
