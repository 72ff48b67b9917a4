// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-job-machine.c: the pure job machine, fed transcripts as event sequences.
 *
 * Each transcript line is one event in a small language (below) and the effects it must give,
 * as tokens that must appear in that order among the event's effects. A randomized test feeds
 * thousands of seeded random event orders and checks the invariants on every path.
 */
#include <string.h>

#include "dfota-error.h"
#include <glib/gstdio.h>

#include "dfota-job-machine.h"
#include "dfota-journal.h"

#define REV_FROM "BC65JAR01A01"
#define REV_TO "BC65JAR01A02"
#define URL "http://224.168.203.812:3029/update.pack"
#define DIGEST "aa"

static const DfotaJobMachineConfig cfg = {
	.download_timeout_s = 600,
	.update_timeout_s = 300,
	.reboot_timeout_s = 180,
};

/* ---- effects as tokens ---------------------------------------------------------------------- */

static char *
effect_token(const DfotaJmEffect *e)
{
	switch (e->type) {
	case DFOTA_JM_FX_REFUSE:
		return g_strdup_printf("refuse:%s", dfota_error_short_name(e->error));
	case DFOTA_JM_FX_ACCEPT:
		return g_strdup("accept");
	case DFOTA_JM_FX_PREFLIGHT:
		return g_strdup("preflight");
	case DFOTA_JM_FX_SEND_COMMAND:
		return g_strdup_printf("send:%s", e->text);
	case DFOTA_JM_FX_ARM_TIMER:
		return g_strdup_printf("arm:%u", e->seconds);
	case DFOTA_JM_FX_CANCEL_TIMER:
		return g_strdup("cancel");
	case DFOTA_JM_FX_JOURNAL_JOB: {
		guint32 step = 0;
		g_variant_lookup(e->result, "step", "u", &step);
		return g_strdup_printf("journal:%s", dfota_job_step_to_string(step));
	}
	case DFOTA_JM_FX_JOURNAL_PROGRESS:
		return g_strdup_printf("jprogress:%s:%u", e->phase, e->percent);
	case DFOTA_JM_FX_PROGRESS:
		return g_strdup_printf("%s:%u", e->phase, e->percent);
	case DFOTA_JM_FX_JOB_CHANGED:
		return g_strdup("job");
	case DFOTA_JM_FX_QUERY_REVISION:
		return g_strdup("query");
	case DFOTA_JM_FX_HOST_FETCH:
		return g_strdup("fetch");
	case DFOTA_JM_FX_HOST_UPLOAD:
		return g_strdup("upload");
	case DFOTA_JM_FX_STAT_MCU_FILE:
		return g_strdup_printf("stat:%s", e->text);
	case DFOTA_JM_FX_DELETE_PARTIAL:
		return g_strdup("delete");
	case DFOTA_JM_FX_FINISH:
		if (!e->error)
			return g_strdup("finish:ok");
		return g_strdup_printf("finish:%s:%d", dfota_error_short_name(e->error), e->code);
	case DFOTA_JM_FX_LOG:
		return g_strdup("log");
	case DFOTA_JM_FX_ARM_HOLD_TIMER:
		return g_strdup_printf("hold:%u", e->seconds);
	case DFOTA_JM_FX_CANCEL_HOLD_TIMER:
		return g_strdup("unhold");
	}
	return g_strdup("?");
}

/* ---- events from text ------------------------------------------------------------------------ */

/*
 * start KIND [ARG] [fallback] [expect=REV] [sha=HEX]  method call (module at REV_FROM, ready)
 * start-notready KIND                                  method call while the modem is not ready
 * preflight ok|fail       reply ok|CODE|timeout|lost  (CODE: the module's, or -1)
 * urc LINE                boot                         line TEXT (APP RDY, POWERED DOWN, …)
 * init                    timer [up]                   lost
 * rev REV [SUB] | rev-fail
 * progress DONE TOTAL     fetch ok DIGEST | fetch fail | fetch cancelled
 * upload ok|fail          mcu ok SIZE | mcu fail       delete ok|fail
 * resume STEP PHASE PCT [end] [host] [fallback] [accepted]
 *                         a journalled job of kind upgrade
 * journal                 the journal opened with no job on record
 * hold-expired            the module was not identified in time
 */
typedef struct {
	DfotaJobMachine m;
	GArray *fx;
	GError *error;
	DfotaFotaUrc urc;
	guint64 next_id;
} Run;

static void
run_init(Run *r)
{
	memset(r, 0, sizeof(*r));
	dfota_job_machine_init(&r->m, &cfg);
	r->fx = dfota_job_machine_effects_new();
	r->next_id = 1;
}

static void
run_clear(Run *r)
{
	dfota_job_machine_clear(&r->m);
	g_array_unref(r->fx);
	g_clear_error(&r->error);
	dfota_fota_urc_clear(&r->urc);
}

static gboolean
kind_of(const char *s, DfotaJobKind *kind)
{
	return dfota_job_kind_from_string(s, kind);
}

/* Feeds one event; its effects are left in r->fx (cleared first). */
static void
feed(Run *r, const char *text)
{
	g_auto(GStrv) w = g_strsplit(text, " ", -1);
	DfotaJmEvent ev = { .now = 1000 };
	g_autoptr(DfotaJob) resumed = NULL;
	guint ids;

	g_array_set_size(r->fx, 0);
	g_clear_error(&r->error);
	dfota_fota_urc_clear(&r->urc);
	ev.revision = REV_FROM;
	ev.sub_edition = "";
	if (g_str_equal(w[0], "start") || g_str_equal(w[0], "start-notready")) {
		g_assert_true(kind_of(w[1], &ev.kind));
		ev.type = DFOTA_JM_EV_START;
		ev.module_answers = g_str_equal(w[0], "start");
		ev.line = "initializing";
		ev.source = ev.kind == DFOTA_JOB_KIND_UPGRADE_LOCAL ? "UFS:fota.pack" : URL;
		for (guint i = 2; w[i]; i++) {
			if (g_str_equal(w[i], "fallback"))
				ev.fallback_via_host = TRUE;
			else if (g_str_has_prefix(w[i], "expect="))
				ev.expect_revision = w[i] + 7;
			else if (g_str_has_prefix(w[i], "sha="))
				ev.sha256 = w[i] + 4;
			else if (g_str_has_prefix(w[i], "name="))
				ev.filename = w[i] + 5;
			else
				ev.source = w[i];
		}
	} else if (g_str_equal(w[0], "preflight")) {
		ev.type = DFOTA_JM_EV_PREFLIGHT_DONE;
		ev.ok = g_str_equal(w[1], "ok");
		if (!ev.ok)
			r->error =
			        g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY, "not registered");
	} else if (g_str_equal(w[0], "reply")) {
		ev.type = DFOTA_JM_EV_COMMAND_REPLY;
		ev.ok = g_str_equal(w[1], "ok");
		if (!ev.ok && g_str_equal(w[1], "timeout")) {
			ev.code = -1;
			r->error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT, "no answer");
		} else if (!ev.ok && g_str_equal(w[1], "lost")) {
			ev.code = -1;
			r->error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, "tty lost");
		} else if (!ev.ok) {
			ev.code = atoi(w[1]);
			r->error = ev.code > 0 ? dfota_error_from_cme(ev.code)
			                       : g_error_new(DFOTA_ERROR,
			                                     DFOTA_ERROR_COMMAND_FAILED, "ERROR");
		}
	} else if (g_str_equal(w[0], "urc")) {
		ev.type = DFOTA_JM_EV_URC;
		g_assert_true(dfota_fota_urc_parse(text + 4, &r->urc));
		ev.urc = &r->urc;
	} else if (g_str_equal(w[0], "boot")) {
		ev.type = DFOTA_JM_EV_BOOT_LINE;
		ev.line = "RDY";
	} else if (g_str_equal(w[0], "line")) {
		ev.type = DFOTA_JM_EV_MODULE_LINE;
		ev.line = text + 5;
	} else if (g_str_equal(w[0], "init")) {
		ev.type = DFOTA_JM_EV_INITIALIZED;
	} else if (g_str_equal(w[0], "timer")) {
		ev.type = DFOTA_JM_EV_TIMER;
		ev.module_answers = w[1] && g_str_equal(w[1], "up");
	} else if (g_str_equal(w[0], "lost")) {
		ev.type = DFOTA_JM_EV_TTY_LOST;
		ev.line = "/dev/ttyUSB0";
	} else if (g_str_equal(w[0], "rev")) {
		ev.type = DFOTA_JM_EV_REVISION;
		ev.ok = TRUE;
		ev.revision = w[1];
		ev.sub_edition = w[1] && w[2] ? w[2] : "";
	} else if (g_str_equal(w[0], "rev-fail")) {
		ev.type = DFOTA_JM_EV_REVISION;
		r->error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT, "no answer");
	} else if (g_str_equal(w[0], "progress")) {
		ev.type = DFOTA_JM_EV_HOST_PROGRESS;
		ev.done = g_ascii_strtoull(w[1], NULL, 10);
		ev.total = g_ascii_strtoull(w[2], NULL, 10);
	} else if (g_str_equal(w[0], "fetch")) {
		ev.type = DFOTA_JM_EV_FETCH_DONE;
		ev.ok = g_str_equal(w[1], "ok");
		ev.digest = ev.ok ? w[2] : NULL;
		if (g_str_equal(w[1], "cancelled"))
			r->error = g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
		else if (!ev.ok)
			r->error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED, "HTTP 404");
	} else if (g_str_equal(w[0], "upload")) {
		ev.type = DFOTA_JM_EV_UPLOAD_DONE;
		ev.ok = g_str_equal(w[1], "ok");
		if (!ev.ok)
			r->error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT, "stalled");
	} else if (g_str_equal(w[0], "mcu")) {
		ev.type = DFOTA_JM_EV_MCU_STAT;
		ev.ok = g_str_equal(w[1], "ok");
		ev.size = ev.ok ? g_ascii_strtoull(w[2], NULL, 10) : 0;
	} else if (g_str_equal(w[0], "delete")) {
		ev.type = DFOTA_JM_EV_DELETE_DONE;
		ev.ok = g_str_equal(w[1], "ok");
	} else if (g_str_equal(w[0], "journal")) {
		ev.type = DFOTA_JM_EV_RESUME;
		ev.module_answers = TRUE;
	} else if (g_str_equal(w[0], "hold-expired")) {
		ev.type = DFOTA_JM_EV_HOLD_EXPIRED;
		ev.module_answers = TRUE;
	} else if (g_str_equal(w[0], "resume")) {
		guint step;

		ev.type = DFOTA_JM_EV_RESUME;
		resumed = dfota_job_new(DFOTA_JOB_KIND_UPGRADE, URL);
		for (step = 0; step <= DFOTA_JOB_STEP_VERIFYING; step++)
			if (g_str_equal(dfota_job_step_to_string(step), w[1]))
				break;
		g_assert_cmpuint(step, <=, DFOTA_JOB_STEP_VERIFYING);
		resumed->step = step;
		resumed->id = 7;
		g_free(resumed->phase);
		resumed->phase = g_strdup(w[2]);
		resumed->percent = (guint)atoi(w[3]);
		g_free(resumed->from_revision);
		resumed->from_revision = g_strdup(REV_FROM);
		for (guint i = 4; w[i]; i++) {
			if (g_str_equal(w[i], "end"))
				resumed->end_seen = TRUE;
			else if (g_str_equal(w[i], "host"))
				resumed->kind = DFOTA_JOB_KIND_UPGRADE_VIA_HOST;
			else if (g_str_equal(w[i], "fallback"))
				resumed->fallback_via_host = TRUE;
			else if (g_str_equal(w[i], "accepted"))
				resumed->command_accepted = TRUE;
		}
		ev.job = g_steal_pointer(&resumed);
		r->next_id = MAX(r->next_id, 8);
	} else {
		g_error("unknown event \"%s\"", text);
	}
	ev.error = r->error;
	/* As the journal hands them out: consecutive, never twice. */
	ids = dfota_job_machine_ids_wanted(&r->m, &ev);
	if (ids > 0) {
		ev.id = r->next_id;
		r->next_id += ids;
	}
	dfota_job_machine_step(&r->m, &ev, r->fx);
}

static char *
tokens(GArray *fx)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < fx->len; i++) {
		g_autofree char *t = effect_token(&g_array_index(fx, DfotaJmEffect, i));
		if (g_str_equal(t, "log"))
			continue;
		g_string_append_printf(s, "%s%s", s->len ? " " : "", t);
	}
	return g_string_free(s, FALSE);
}

/* TRUE when every token of @expect appears in @got, in order. "" expects nothing in particular,
 * "none" no effect but logs. */
static gboolean
in_order(const char *got, const char *expect)
{
	g_auto(GStrv) g = g_strsplit(got, " ", -1);
	g_auto(GStrv) e = g_strsplit(expect, " ", -1);
	guint gi = 0;

	if (g_str_equal(expect, "none"))
		return !*got;
	for (guint ei = 0; e[ei]; ei++) {
		while (g[gi] && !g_str_equal(g[gi], e[ei]))
			gi++;
		if (!g[gi])
			return FALSE;
		gi++;
	}
	return TRUE;
}

typedef struct {
	const char *event;
	const char *expect;
} Line;

static void
run_transcript(gconstpointer data)
{
	const Line *lines = data;
	Run r;

	run_init(&r);
	/* The journal opens when the module is identified, before any method call; transcripts
	 * that begin with a URC or a record test what comes before that. */
	if (!g_str_has_prefix(lines[0].event, "urc ") &&
	    !g_str_has_prefix(lines[0].event, "resume "))
		feed(&r, "journal");
	for (guint i = 0; lines[i].event; i++) {
		g_autofree char *got = NULL;

		feed(&r, lines[i].event);
		got = tokens(r.fx);
		if (!in_order(got, lines[i].expect))
			g_error("after \"%s\": expected \"%s\" in \"%s\"", lines[i].event,
			        lines[i].expect, got);
	}
	run_clear(&r);
}

/* ---- the transcripts ------------------------------------------------------------------------- */

/* Seed chapter 4 (the complete example), in the seed's own spelling. */
static const Line seed_upgrade[] = {
	{ "start upgrade", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=\"" URL "\"" },
	{ "reply ok", "accept journal:downloading downloading:0 arm:600" },
	{ "urc +QIND: \"FOTA\",\"HTTPSTART\"", "arm:600" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",0%", "arm:600" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",10%", "jprogress:downloading:10 downloading:10" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",100%", "downloading:100" },
	{ "urc +QIND: \"FOTA\",\"HTTPPEND\",0", "arm:300" },
	{ "urc +QIND: \"FOTA\",\"START\"", "journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",0%", "arm:300" },
	{ "urc +QIND: \"FOTA\", \"UPDATING\", 10%", "updating:10" },
	{ "urc +QIND: \"FOTA\", \"UPDATING\", 100%", "journal:updating updating:100" },
	{ "urc +QIND: \"FOTA\", \"END\", 0", "journal:rebooting rebooting:0 arm:180" },
	{ "boot", "" },
	{ "init", "cancel journal:verifying verifying:0 query" },
	{ "rev " REV_TO, "verifying:100 finish:ok" },
	{ NULL, NULL },
};

/* Seed 3.2 (local upgrade) and the forced-upgrade note after a power cut. */
static const Line seed_local_power_cut[] = {
	{ "start upgrade-local", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=1" },
	{ "reply ok", "accept journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"START\"", "" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",30%", "updating:30" },
	{ "boot", "journal:rebooting rebooting:0 arm:180" },
	{ "init", "" },
	{ "urc +QIND: \"FOTA\",\"START\"", "journal:updating updating:0" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",10%", "updating:10" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "boot", "" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* Seed 3.3, the name taken from the URL. */
static const Line seed_mcu[] = {
	{ "start fetch-mcu-file http://h/fw/mcu.bin?x=1", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=2,\"http://h/fw/mcu.bin?x=1\"" },
	{ "reply ok", "accept downloading:0" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",50%", "downloading:50" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "downloading:100 cancel stat:mcu.bin" },
	{ "mcu ok 1234", "finish:ok" },
	{ NULL, NULL },
};

static const Line seed_mcu_named[] = {
	{ "start fetch-mcu-file name=app.bin", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=2,\"" URL "\",\"app.bin\"" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",6504", "finish:PackageNotFound:6504" },
	{ NULL, NULL },
};

/* Field: no DOWNLOADING at all, minutes of silence, then HTTPEND: still downloading. */
static const Line field_no_downloading[] = {
	{ "start upgrade", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=\"" URL "\"" },
	{ "reply ok", "downloading:0" },
	{ "urc +QIND: \"FOTA\",\"HTTPSTART\"", "arm:600" },
	{ "line APP RDY", "none" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "downloading:100" },
	{ NULL, NULL },
};

/* Field: HTTPEND and END codes outside 6500-6509 keep their number. */
static const Line field_httpend_702[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",702", "finish:DownloadFailed:702" },
	{ NULL, NULL },
};

static const Line field_httpend_12[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",12", "finish:DownloadFailed:12" },
	{ NULL, NULL },
};

static const Line field_end_601[] = {
	{ "start upgrade-local", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"END\",601", "finish:UpgradeFailed:601" },
	{ NULL, NULL },
};

/* Field: unnamed states logged, START skipped, END lost in an immediate reboot. */
static const Line field_no_start_no_end[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOAD START\"", "none" },
	{ "urc +QIND: \"FOTA\",\"FTPSTART\"", "none" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "downloading:100" },
	{ "urc +QIND: \"FOTA\",\"RESTORE\"", "none" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",50", "journal:updating updating:0 updating:50" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",100", "updating:100" },
	{ "line POWERED DOWN", "none" },
	{ "boot", "journal:rebooting rebooting:0 arm:180" },
	{ "line APP RDY", "none" },
	{ "init", "query" },
	{ "rev " REV_TO "_BETA0203", "finish:ok" },
	{ NULL, NULL },
};

/* A new revision without END,0 or UPDATING 100 is not reported as success. */
static const Line field_changed_unconfirmed[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "downloading:100" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",30%", "updating:30" },
	{ "boot", "rebooting:0 arm:180" },
	{ "timer up", "query" },
	{ "rev " REV_TO, "finish:ModemLost:-1" },
	{ NULL, NULL },
};

/* Field: UPDATING 100, reboot, still the old revision: wait once for a forced resume. */
static const Line field_no_end_old_revision[] = {
	{ "start upgrade-local", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",100", "updating:100" },
	{ "boot", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_FROM, "journal:rebooting rebooting:0 arm:180" },
	{ "timer up", "query" },
	{ "rev " REV_FROM, "finish:ModemLost:-1" },
	{ NULL, NULL },
};

/* Revisions compared whole: a suffix alone is a different firmware, END,0 with none is not. */
static const Line field_revision_unchanged[] = {
	{ "start upgrade-local", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_FROM, "finish:RevisionUnchanged:0" },
	{ NULL, NULL },
};

/* Quectel's fault tests: power cut exactly at START, and right after END,0. */
static const Line fault_cut_at_start[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "" },
	{ "urc +QIND: \"FOTA\",\"START\"", "updating:0" },
	{ "boot", "rebooting:0 arm:180" },
	{ "line Last upgrade was not finished,continue upgrade", "none" },
	{ "init", "" },
	{ "urc +QIND: \"FOTA\",\"START\"", "updating:0" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",100%", "updating:100" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "boot", "" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

static const Line fault_cut_at_start_no_resume[] = {
	{ "start upgrade-local", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"START\"", "" },
	{ "boot", "rebooting:0" },
	{ "init", "" },
	{ "timer up", "query" },
	{ "rev " REV_FROM, "finish:ModemLost:-1" },
	{ NULL, NULL },
};

/* AT+CFUN=0 during the download: the module reports an HTTPEND error within minutes. */
static const Line fault_cfun0[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",20%", "downloading:20" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",701", "finish:DownloadFailed:701" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",701", "none" },
	{ NULL, NULL },
};

/* Refusals: nothing journalled, nothing sent. */
static const Line refusals[] = {
	{ "start-notready upgrade", "refuse:NotReady" },
	{ "start upgrade expect=BC65JAR01A00", "refuse:RevisionMismatch" },
	{ "start upgrade expect=" REV_FROM, "preflight" },
	{ "start upgrade-local", "refuse:Busy" },
	{ "preflight fail", "refuse:NotReady" },
	{ "start upgrade-local", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=1" },
	{ "reply 6506", "refuse:NoPackage" },
	{ NULL, NULL },
};

/* URCs that race the OK of AT+QFOTADL are handled once the job is accepted. */
static const Line early_urcs[] = {
	{ "start upgrade", "" },
	{ "preflight ok", "" },
	{ "urc +QIND: \"FOTA\",\"HTTPSTART\"", "" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",30%", "" },
	{ "reply ok", "accept downloading:0 downloading:30" },
	{ NULL, NULL },
};

/* Timeouts, tty loss, and a restart while downloading. */
static const Line download_timeout[] = {
	{ "start upgrade", "" },          { "preflight ok", "" }, { "reply ok", "accept" },
	{ "timer", "finish:Timeout:-1" }, { NULL, NULL },
};

static const Line lost_while_downloading[] = {
	{ "start upgrade", "" },           { "preflight ok", "" }, { "reply ok", "accept" },
	{ "lost", "finish:ModemLost:-1" }, { NULL, NULL },
};

static const Line reboot_while_downloading[] = {
	{ "start upgrade", "" },           { "preflight ok", "" }, { "reply ok", "accept" },
	{ "boot", "finish:ModemLost:-1" }, { NULL, NULL },
};

/* The host kinds, and the fallback of an upgrade. */
static const Line host_upgrade[] = {
	{ "start upgrade-via-host sha=" DIGEST, "accept journal:fetching fetching:0 fetch" },
	{ "progress 50 100", "fetching:50" },
	{ "fetch ok " DIGEST, "fetching:100 journal:uploading uploading:0 upload" },
	{ "progress 10 100", "uploading:10" },
	{ "lost", "" },
	{ "upload ok", "uploading:100 journal:starting send:AT+QFOTADL=1" },
	{ "reply ok", "journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"START\"", "journal:updating arm:300" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

static const Line host_checksum[] = {
	{ "start upgrade-from-file sha=" DIGEST, "fetch" },
	{ "fetch ok bb", "finish:ChecksumMismatch:-1" },
	{ NULL, NULL },
};

static const Line host_cancelled[] = {
	{ "start upgrade-via-host", "fetch" },
	{ "fetch cancelled", "finish:Cancelled:-1" },
	{ NULL, NULL },
};

static const Line fallback_via_host[] = {
	{ "start upgrade fallback", "preflight" },
	{ "preflight ok", "send:AT+QFOTADL=\"" URL "\"" },
	{ "reply ok", "accept downloading:0" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",702", "cancel journal:fetching job fetching:0 fetch" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",50%", "none" },
	{ "fetch ok " DIGEST, "journal:uploading upload" },
	{ "upload ok", "journal:starting send:AT+QFOTADL=1" },
	{ "reply ok", "journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",100%", "updating:100" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

static const Line fallback_after_timeout_fails[] = {
	{ "start upgrade fallback sha=" DIGEST, "" },
	{ "preflight ok", "" },
	{ "reply ok", "accept" },
	{ "timer", "journal:fetching job fetching:0 fetch" },
	{ "fetch fail", "finish:FetchFailed:-1" },
	{ NULL, NULL },
};

/* A journalled job after a daemon restart. */
static const Line resume_rebooting[] = {
	{ "resume rebooting rebooting 0 end", "accept rebooting:0 query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

static const Line resume_uploading[] = {
	{ "resume uploading uploading 40 host", "accept uploading:40 delete" },
	{ "delete ok", "finish:Interrupted:-1" },
	{ NULL, NULL },
};

static const Line resume_starting[] = {
	{ "resume starting downloading 20", "accept journal:downloading arm:600" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",10%", "" },
	{ "urc +QIND: \"FOTA\",\"DOWNLOADING\",30%", "downloading:30" },
	{ NULL, NULL },
};

/* AT+QFOTADL=1 was answered OK before the restart: the module may be flashing, so the job
 * follows it and verifies the revision; fota.pack is not deleted. */
static const Line resume_host_command_accepted[] = {
	{ "resume starting uploading 100 host accepted", "accept journal:updating arm:300" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",40%", "updating:40" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* AT+QFOTADL=1 went out after the upload, but its answer was never seen: the module may be
 * flashing the package, so the job follows it rather than delete the package under it. */
static const Line resume_host_command_unknown[] = {
	{ "resume starting uploading 100 host",
	  "accept uploading:100 journal:updating updating:0" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",40%", "updating:40" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* ... and when the module had not taken it, the revision says so and the job ends saying
 * where the package is; when it finished while the port was closed, the revision says that. */
static const Line resume_host_command_not_taken[] = {
	{ "resume starting uploading 100 host", "accept journal:updating arm:300" },
	{ "timer up", "query" },
	{ "rev " REV_FROM, "finish:Timeout:-1" },
	{ NULL, NULL },
};

static const Line resume_host_command_done_unseen[] = {
	{ "resume starting uploading 100 host", "accept journal:updating arm:300" },
	{ "timer up", "query" },
	{ "rev " REV_TO, "finish:ModemLost:-1" },
	{ NULL, NULL },
};

/* A module silent through the timeout says nothing either way. */
static const Line resume_host_command_silent[] = {
	{ "resume starting uploading 100 host", "accept journal:updating arm:300" },
	{ "timer", "finish:Timeout:-1" },
	{ NULL, NULL },
};

/* No answer to AT+QFOTADL=1 is no refusal: the job listens for the update. */
static const Line host_command_timeout[] = {
	{ "start upgrade-from-file", "fetch" },
	{ "fetch ok " DIGEST, "journal:uploading uploading:0 upload" },
	{ "upload ok", "uploading:100 journal:starting send:AT+QFOTADL=1" },
	{ "reply timeout", "journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",50%", "updating:50" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* The tty lost right after AT+QFOTADL=1 (a module rebooting into its updater may take its
 * USB port along): the job follows the update instead of failing; the reply's ModemLost that
 * follows changes nothing. */
static const Line host_command_tty_lost[] = {
	{ "start upgrade-from-file", "fetch" },
	{ "fetch ok " DIGEST, "journal:uploading uploading:0 upload" },
	{ "upload ok", "uploading:100 journal:starting send:AT+QFOTADL=1" },
	{ "lost", "journal:updating updating:0 arm:300" },
	{ "reply lost", "none" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* ... and the other order: the reply's ModemLost first. */
static const Line host_command_reply_lost[] = {
	{ "start upgrade-from-file", "fetch" },
	{ "fetch ok " DIGEST, "journal:uploading uploading:0 upload" },
	{ "upload ok", "uploading:100 journal:starting send:AT+QFOTADL=1" },
	{ "reply lost", "journal:updating updating:0 arm:300" },
	{ "lost", "none" },
	{ NULL, NULL },
};

/* A forced update followed before the record was found keeps what it saw of the module. */
static const Line forced_then_host_record[] = {
	{ "urc +QIND: \"FOTA\",\"UPDATING\",20%", "hold:5" },
	{ "hold-expired", "accept updating:0 updating:20" },
	{ "resume starting uploading 100 host", "journal:updating job" },
	/* the module was seen updating: silence past the timeout is not "never started" */
	{ "timer up", "finish:Timeout:-1" },
	{ NULL, NULL },
};

/* The URL is not on record: after a restart the fallback cannot run, and the job ends once. */
static const Line resume_fallback_httpend[] = {
	{ "resume downloading downloading 20 fallback", "accept downloading:20 arm:600" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",702", "finish:DownloadFailed:702" },
	{ "timer", "none" },
	{ NULL, NULL },
};

/* A forced upgrade with no job of ours. */
static const Line forced_resume[] = {
	{ "journal", "none" },
	{ "urc +QIND: \"FOTA\",\"HTTPEND\",0", "" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",0%", "accept journal:updating updating:0 arm:300" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",40%", "updating:40" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev-fail", "finish:ModemLost:0" },
	{ NULL, NULL },
};

/* A forced update followed before the module was identified, then its record found: the
 * running job becomes the recorded one. */
static const Line forced_then_record[] = {
	{ "urc +QIND: \"FOTA\",\"UPDATING\",20%", "hold:5" },
	{ "hold-expired", "accept updating:0 updating:20" },
	{ "resume updating updating 60", "journal:updating job" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",30%", "updating:30" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

/* FOTA URCs before the journal opens are held for the job it may record, restarts with them. */
static const Line held_then_record[] = {
	{ "urc +QIND: \"FOTA\",\"UPDATING\",60%", "hold:5" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",70%", "none" },
	{ "boot", "none" },
	{ "resume updating updating 50", "accept updating:50 unhold updating:60 updating:70" },
	{ "urc +QIND: \"FOTA\",\"END\",0", "rebooting:0" },
	{ "init", "query" },
	{ "rev " REV_TO, "finish:ok" },
	{ NULL, NULL },
};

static const Line held_then_no_record[] = {
	{ "urc +QIND: \"FOTA\",\"START\"", "hold:5" },
	{ "urc +QIND: \"FOTA\",\"UPDATING\",10%", "none" },
	{ "journal", "unhold accept journal:updating updating:0 updating:10" },
	{ NULL, NULL },
};

/* ---- invariants on random paths ---------------------------------------------------------------- */

/* The event lists join macros to literals on purpose ("rev " REV_FROM). */
/* NOLINTBEGIN(bugprone-suspicious-missing-comma) */
static const char *const random_events[] = {
	"preflight ok",
	"preflight fail",
	"reply ok",
	"reply 6503",
	"reply -1",
	"reply timeout",
	"reply lost",
	"urc +QIND: \"FOTA\",\"HTTPSTART\"",
	"urc +QIND: \"FOTA\",\"DOWNLOADING\",10%",
	"urc +QIND: \"FOTA\",\"DOWNLOADING\",60%",
	"urc +QIND: \"FOTA\",\"HTTPEND\",0",
	"urc +QIND: \"FOTA\",\"HTTPEND\",702",
	"urc +QIND: \"FOTA\",\"START\"",
	"urc +QIND: \"FOTA\",\"UPDATING\",30%",
	"urc +QIND: \"FOTA\",\"UPDATING\",100%",
	"urc +QIND: \"FOTA\",\"END\",0",
	"urc +QIND: \"FOTA\",\"END\",6508",
	"urc +QIND: \"FOTA\",\"RESTORE\"",
	"boot",
	"line APP RDY",
	"line POWERED DOWN",
	"init",
	"timer",
	"timer up",
	"lost",
	"rev " REV_FROM,
	"rev " REV_TO,
	"rev-fail",
	"progress 30 100",
	"progress 90 100",
	"fetch ok " DIGEST,
	"fetch fail",
	"upload ok",
	"upload fail",
	"mcu ok 10",
	"mcu fail",
	"delete ok",
	"journal",
	"hold-expired",
};

static const char *const random_starts[] = {
	"start upgrade",
	"start upgrade fallback",
	"start upgrade-local",
	"start upgrade-via-host sha=" DIGEST,
	"start upgrade-from-file",
	"start fetch-mcu-file",
	"urc +QIND: \"FOTA\",\"START\"",
	"resume updating updating 50",
	"resume rebooting rebooting 0 end",
	"resume fetching fetching 10 host",
	"resume downloading downloading 20 fallback",
	"resume starting uploading 100 host accepted",
	"resume starting uploading 100 host",
};
/* NOLINTEND(bugprone-suspicious-missing-comma) */

typedef struct {
	gboolean running;  /* a job was started (accepted or pending) */
	gboolean accepted; /* ACCEPT seen */
	guint finished;
	char *phase;
	guint percent;
	gboolean journalled; /* this event's effects recorded the job's step */
	gboolean progressed; /* this event's effects recorded a percent */
	gboolean module_ok;  /* END,0 or UPDATING 100 was fed (or is on the resumed record) */
	guint64 last_id;     /* the id of the last job accepted */
	gboolean flashing;   /* AT+QFOTADL=1 went out (or a record past it was resumed) */
} Watch;

static gboolean
step_in_list(const DfotaJob *job)
{
	const DfotaJobStep *st = dfota_job_machine_steps(job->kind, job->via_host);

	if (job->step == DFOTA_JOB_STEP_PREFLIGHT)
		return TRUE; /* before acceptance every kind may be checked */
	for (guint i = 0; st[i] != DFOTA_JOB_STEP_NONE; i++)
		if (st[i] == job->step)
			return TRUE;
	/* a resumed record may sit in any step the daemon wrote */
	return FALSE;
}

/* Checks the effects of one event against the invariants. */
static void
check_effects(Run *r, Watch *w, const char *event)
{
	gboolean resumed = g_str_has_prefix(event, "resume ");

	w->journalled = FALSE;
	w->progressed = FALSE;
	if (strstr(event, "\"END\",0") || strstr(event, "\"UPDATING\",100%") ||
	    (resumed && g_str_has_suffix(event, " end")))
		w->module_ok = TRUE;
	if (resumed && !g_str_has_prefix(event, "resume uploading") &&
	    !g_str_has_prefix(event, "resume fetching"))
		w->flashing = TRUE;
	for (guint i = 0; i < r->fx->len; i++) {
		DfotaJmEffect *e = &g_array_index(r->fx, DfotaJmEffect, i);

		switch (e->type) {
		case DFOTA_JM_FX_ACCEPT:
			/* The Job it shows stands until FINISH, even if the job is gone. */
			g_assert_nonnull(e->result);
			{
				guint64 id = 0;
				g_assert_true(g_variant_lookup(e->result, "id", "t", &id));
				g_assert_cmpuint(id, >, w->last_id);
				w->last_id = id;
			}
			g_assert_false(w->accepted);
			w->accepted = TRUE;
			w->running = TRUE;
			break;
		case DFOTA_JM_FX_JOURNAL_JOB:
			g_assert_true(w->accepted);
			w->journalled = TRUE;
			break;
		case DFOTA_JM_FX_JOURNAL_PROGRESS:
			g_assert_true(w->accepted);
			w->progressed = TRUE;
			break;
		case DFOTA_JM_FX_JOB_CHANGED:
			/* The Job a client reads is on record first. */
			if (w->accepted && !w->journalled)
				g_error("after \"%s\": the Job changed before the journal", event);
			break;
		case DFOTA_JM_FX_PROGRESS:
			/* Percent never decreases within one stay in a phase, and what is
			 * published is on record first (a resumed job's first Progress is the
			 * record itself). */
			g_assert_true(w->accepted);
			if (!resumed && !w->journalled && !w->progressed)
				g_error("after \"%s\": Progress %s:%u before the journal", event,
				        e->phase, e->percent);
			if (g_strcmp0(w->phase, e->phase) == 0 && w->percent > e->percent)
				g_error("after \"%s\": %s went from %u to %u", event, e->phase,
				        w->percent, e->percent);
			g_free(w->phase);
			w->phase = g_strdup(e->phase);
			w->percent = e->percent;
			break;
		case DFOTA_JM_FX_DELETE_PARTIAL:
			/* Never the package under a module that may be flashing it. */
			if (w->flashing)
				g_error("after \"%s\": fota.pack deleted after AT+QFOTADL=1",
				        event);
			break;
		case DFOTA_JM_FX_SEND_COMMAND:
			if (g_strcmp0(e->text, "AT+QFOTADL=1") == 0)
				w->flashing = TRUE;
			/* fall through */
		case DFOTA_JM_FX_HOST_FETCH:
		case DFOTA_JM_FX_HOST_UPLOAD:
		case DFOTA_JM_FX_QUERY_REVISION:
			if (e->type == DFOTA_JM_FX_HOST_FETCH && !e->text)
				g_error("after \"%s\": a fetch with no URL", event);
			/* The step these act in is on record first (once there is a record). */
			if (w->accepted && !w->journalled)
				g_error("after \"%s\": effect %u acts before the journal", event,
				        e->type);
			break;
		case DFOTA_JM_FX_FINISH: {
			gboolean success = FALSE;
			const char *from = NULL, *to = NULL, *kind = NULL;

			g_assert_true(w->accepted);
			w->finished++;
			g_assert_cmpuint(w->finished, ==, 1);
			g_variant_lookup(e->result, "success", "b", &success);
			g_variant_lookup(e->result, "from-revision", "&s", &from);
			g_variant_lookup(e->result, "to-revision", "&s", &to);
			g_variant_lookup(e->result, "kind", "&s", &kind);
			/* Never success without a changed revision (when the old one is known). */
			if (success && g_strcmp0(kind, "fetch-mcu-file") != 0 && from && *from)
				g_assert_cmpstr(from, !=, to);
			g_assert_true(success == (e->error == NULL));
			/* Never success unless the module said so (END,0 or UPDATING 100). */
			if (success && g_strcmp0(kind, "fetch-mcu-file") != 0)
				g_assert_true(w->module_ok);
			break;
		}
		case DFOTA_JM_FX_REFUSE:
			if (!r->m.job) {
				g_assert_false(w->accepted);
				w->running = FALSE;
			}
			break;
		default:
			break;
		}
	}
	if (r->m.job && r->m.accepted)
		g_assert_true(step_in_list(r->m.job) || r->m.job->kind == DFOTA_JOB_KIND_UPGRADE);
}

static void
test_random_paths(void)
{
	GRand *rand = g_rand_new_with_seed(20261205);
	guint jobs = 0, finished = 0;

	for (guint path = 0; path < 4000; path++) {
		Run r;
		Watch w = { 0 };
		const char *start =
		        random_starts[g_rand_int_range(rand, 0, G_N_ELEMENTS(random_starts))];

		run_init(&r);
		if (path % 4 != 0)
			feed(&r, "journal");
		feed(&r, start);
		w.running = r.m.job != NULL;
		check_effects(&r, &w, start);
		for (guint n = 0; n < 60 && r.m.job; n++) {
			const char *ev = random_events[g_rand_int_range(
			        rand, 0, G_N_ELEMENTS(random_events))];
			feed(&r, ev);
			check_effects(&r, &w, ev);
		}
		if (w.accepted) {
			jobs++;
			finished += w.finished;
			/* Once accepted, a job that is over said so exactly once. */
			if (!r.m.job)
				g_assert_cmpuint(w.finished, ==, 1);
		}
		g_free(w.phase);
		run_clear(&r);
	}
	g_test_message("%u accepted jobs, %u finished within 60 events", jobs, finished);
	g_assert_cmpuint(finished, >, jobs / 2);
	g_rand_free(rand);
}

/* An HTTPEND error that raced the OK ends the job as it is accepted: ACCEPT still shows it. */
static void
test_accept_then_finish(void)
{
	Run r;
	guint64 accepted = 0, finished = 0;
	gint accept_at = -1, finish_at = -1;

	run_init(&r);
	feed(&r, "journal");
	feed(&r, "start upgrade");
	feed(&r, "preflight ok");
	feed(&r, "urc +QIND: \"FOTA\",\"HTTPEND\",702");
	feed(&r, "reply ok");
	for (guint i = 0; i < r.fx->len; i++) {
		const DfotaJmEffect *e = &g_array_index(r.fx, DfotaJmEffect, i);
		if (e->type == DFOTA_JM_FX_LOG)
			/* Logged once the Job is shown, so the log carries its id. */
			g_assert_cmpint(accept_at, >=, 0);
		if (e->type == DFOTA_JM_FX_ACCEPT) {
			accept_at = (gint)i;
			g_assert_true(g_variant_lookup(e->result, "id", "t", &accepted));
		} else if (e->type == DFOTA_JM_FX_FINISH) {
			finish_at = (gint)i;
			g_assert_true(g_variant_lookup(e->result, "id", "t", &finished));
		}
	}
	g_assert_cmpint(accept_at, >=, 0);
	g_assert_cmpint(finish_at, >, accept_at);
	g_assert_cmpuint(accepted, !=, 0);
	g_assert_cmpuint(accepted, ==, finished);
	g_assert_null(r.m.job);
	run_clear(&r);
}

/* Held URCs that start two jobs give each its own id, in order. */
static void
test_held_two_jobs(void)
{
	Run r;
	guint64 ids[2] = { 0 };
	guint accepts = 0, finishes = 0;

	run_init(&r);
	feed(&r, "urc +QIND: \"FOTA\",\"START\"");
	feed(&r, "urc +QIND: \"FOTA\",\"END\",6508");
	feed(&r, "urc +QIND: \"FOTA\",\"START\"");
	feed(&r, "urc +QIND: \"FOTA\",\"UPDATING\",10%");
	feed(&r, "journal");
	for (guint i = 0; i < r.fx->len; i++) {
		const DfotaJmEffect *e = &g_array_index(r.fx, DfotaJmEffect, i);
		if (e->type == DFOTA_JM_FX_ACCEPT) {
			g_assert_cmpuint(accepts, <, 2);
			g_assert_true(g_variant_lookup(e->result, "id", "t", &ids[accepts++]));
		} else if (e->type == DFOTA_JM_FX_FINISH) {
			finishes++;
		}
	}
	g_assert_cmpuint(accepts, ==, 2);
	g_assert_cmpuint(finishes, ==, 1);
	g_assert_cmpuint(ids[0], !=, 0);
	g_assert_cmpuint(ids[1], >, ids[0]);
	g_assert_cmpuint(r.m.job->id, ==, ids[1]);
	run_clear(&r);
}

/* A forced update followed before the record was read takes every field of the record. */
static void
test_adopt_record(void)
{
	Run r;
	DfotaJob *rec = dfota_job_new(DFOTA_JOB_KIND_UPGRADE, URL);
	DfotaJmEvent ev = { .type = DFOTA_JM_EV_RESUME, .now = 2000, .module_answers = TRUE };

	run_init(&r);
	feed(&r, "urc +QIND: \"FOTA\",\"UPDATING\",20%");
	feed(&r, "hold-expired");
	g_assert_nonnull(r.m.job);
	rec->id = 7;
	rec->step = DFOTA_JOB_STEP_REBOOTING;
	g_free(rec->from_revision);
	rec->from_revision = g_strdup(REV_FROM);
	g_free(rec->from_sub_edition);
	rec->from_sub_edition = g_strdup("01");
	g_free(rec->filename);
	rec->filename = g_strdup("pkg.bin");
	rec->fallback_via_host = TRUE;
	rec->via_host = TRUE;
	rec->power_cut = TRUE;
	rec->first_failure = g_strdup("DownloadFailed: code 702");
	ev.job = rec;
	g_array_set_size(r.fx, 0);
	dfota_job_machine_step(&r.m, &ev, r.fx);
	g_assert_cmpuint(r.m.job->id, ==, 7);
	g_assert_cmpint(r.m.job->kind, ==, DFOTA_JOB_KIND_UPGRADE);
	g_assert_cmpstr(r.m.job->from_revision, ==, REV_FROM);
	g_assert_cmpstr(r.m.job->from_sub_edition, ==, "01");
	g_assert_cmpstr(r.m.job->filename, ==, "pkg.bin");
	g_assert_true(r.m.job->fallback_via_host);
	g_assert_true(r.m.job->via_host);
	g_assert_true(r.m.job->power_cut);
	g_assert_cmpstr(r.m.job->first_failure, ==, "DownloadFailed: code 702");
	/* Where the module is now is the live job's. */
	g_assert_cmpint(r.m.job->step, ==, DFOTA_JOB_STEP_UPDATING);
	g_assert_cmpuint(r.m.job->percent, ==, 20);
	run_clear(&r);
}

/* The log line of a job's end carries the module's code (journald's DFOTAD_CODE). */
static void
test_finish_log_code(void)
{
	Run r;
	gboolean seen = FALSE;

	run_init(&r);
	feed(&r, "journal");
	feed(&r, "start upgrade");
	feed(&r, "preflight ok");
	feed(&r, "reply ok");
	feed(&r, "urc +QIND: \"FOTA\",\"HTTPEND\",702");
	for (guint i = 0; i < r.fx->len; i++) {
		const DfotaJmEffect *e = &g_array_index(r.fx, DfotaJmEffect, i);
		if (e->type == DFOTA_JM_FX_LOG && e->has_code) {
			g_assert_cmpint(e->code, ==, 702);
			g_assert_cmpint(e->level, ==, G_LOG_LEVEL_WARNING);
			seen = TRUE;
		}
	}
	g_assert_true(seen);
	run_clear(&r);
}

/* What the machine keeps of a job across a daemon restart survives the journal's checks. */
static void
test_record_survives_journal(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("test-job-machine-XXXXXX", &error);
	g_autoptr(DfotaJob) job = dfota_job_new(DFOTA_JOB_KIND_UPGRADE, URL);
	g_autoptr(DfotaJob) back = NULL;
	g_autoptr(GVariant) record = NULL;
	DfotaJournal *journal;

	g_assert_no_error(error);
	job->id = 3;
	job->step = DFOTA_JOB_STEP_REBOOTING;
	job->updating_done = TRUE;
	job->fallback_via_host = TRUE;
	job->via_host = TRUE;
	job->first_failure = g_strdup("DownloadFailed: code 702");
	job->command_accepted = TRUE;
	journal = dfota_journal_open(dir, "/dev/ttyUSB0", "866971030012345");
	g_assert_true(dfota_journal_set_job(journal, dfota_job_to_record(job), NULL));
	dfota_journal_free(journal);
	journal = dfota_journal_open(dir, "/dev/ttyUSB0", "866971030012345");
	record = dfota_journal_get_job(journal);
	back = dfota_job_from_record(record);
	g_assert_nonnull(back);
	g_assert_cmpuint(back->step, ==, DFOTA_JOB_STEP_REBOOTING);
	g_assert_true(back->updating_done);
	g_assert_true(back->fallback_via_host);
	g_assert_true(back->via_host);
	g_assert_cmpstr(back->first_failure, ==, "DownloadFailed: code 702");
	g_assert_true(back->command_accepted);
	dfota_journal_set_job(journal, NULL, NULL);
	dfota_journal_free(journal);
	{
		g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
		const char *name;

		while (d && (name = g_dir_read_name(d))) {
			g_autofree char *path = g_build_filename(dir, name, NULL);
			g_remove(path);
		}
	}
	g_rmdir(dir);
}

/* ---- the step table ------------------------------------------------------------------------- */

static void
test_steps_markdown(void)
{
	g_autofree char *md = dfota_job_machine_steps_markdown();

	g_assert_nonnull(strstr(md, "| `upgrade` | preflight → starting → downloading → updating → "
	                            "rebooting → verifying |"));
	g_assert_nonnull(strstr(md, "| `forced-resume` | updating → rebooting → verifying |"));
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		const Line *lines;
	} transcripts[] = {
		{ "seed/upgrade", seed_upgrade },
		{ "seed/local-power-cut", seed_local_power_cut },
		{ "seed/mcu", seed_mcu },
		{ "seed/mcu-named", seed_mcu_named },
		{ "field/no-downloading", field_no_downloading },
		{ "field/httpend-702", field_httpend_702 },
		{ "field/httpend-12", field_httpend_12 },
		{ "field/end-601", field_end_601 },
		{ "field/no-start-no-end", field_no_start_no_end },
		{ "field/no-end-old-revision", field_no_end_old_revision },
		{ "field/changed-unconfirmed", field_changed_unconfirmed },
		{ "field/revision-unchanged", field_revision_unchanged },
		{ "fault/cut-at-start", fault_cut_at_start },
		{ "fault/cut-at-start-no-resume", fault_cut_at_start_no_resume },
		{ "fault/cfun0", fault_cfun0 },
		{ "refusals", refusals },
		{ "early-urcs", early_urcs },
		{ "download-timeout", download_timeout },
		{ "lost-while-downloading", lost_while_downloading },
		{ "reboot-while-downloading", reboot_while_downloading },
		{ "host/upgrade", host_upgrade },
		{ "host/checksum", host_checksum },
		{ "host/cancelled", host_cancelled },
		{ "fallback/via-host", fallback_via_host },
		{ "fallback/after-timeout-fails", fallback_after_timeout_fails },
		{ "resume/rebooting", resume_rebooting },
		{ "resume/uploading", resume_uploading },
		{ "resume/starting", resume_starting },
		{ "resume/fallback-httpend", resume_fallback_httpend },
		{ "resume/host-command-accepted", resume_host_command_accepted },
		{ "resume/host-command-unknown", resume_host_command_unknown },
		{ "resume/host-command-not-taken", resume_host_command_not_taken },
		{ "resume/host-command-done-unseen", resume_host_command_done_unseen },
		{ "resume/host-command-silent", resume_host_command_silent },
		{ "host/command-timeout", host_command_timeout },
		{ "host/command-tty-lost", host_command_tty_lost },
		{ "host/command-reply-lost", host_command_reply_lost },
		{ "forced-then-host-record", forced_then_host_record },
		{ "forced-resume", forced_resume },
		{ "forced-then-record", forced_then_record },
		{ "held-then-record", held_then_record },
		{ "held-then-no-record", held_then_no_record },
	};

	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(transcripts); i++) {
		g_autofree char *path = g_strdup_printf("/job-machine/%s", transcripts[i].name);
		g_test_add_data_func(path, transcripts[i].lines, run_transcript);
	}
	g_test_add_func("/job-machine/random-paths", test_random_paths);
	g_test_add_func("/job-machine/steps-markdown", test_steps_markdown);
	g_test_add_func("/job-machine/finish-log-code", test_finish_log_code);
	g_test_add_func("/job-machine/adopt-record", test_adopt_record);
	g_test_add_func("/job-machine/held-two-jobs", test_held_two_jobs);
	g_test_add_func("/job-machine/accept-then-finish", test_accept_then_finish);
	g_test_add_func("/job-machine/record-survives-journal", test_record_survives_journal);
	return g_test_run();
}
