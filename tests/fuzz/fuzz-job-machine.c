// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-job-machine.c: dfota_job_machine_step() (daemon/fota/dfota-job-machine*.c) fed event
 * orders chosen by the input, checking the machine's invariants after every event.
 *
 * Input: byte 0 picks how the job begins (a method call of each kind, a forced update's URC,
 * a journalled job); every further byte picks one event (its high bits a percent or code where
 * the event has one; the journal opening and the hold expiring are events too). Invariants: exactly one FINISH per accepted job and none without ACCEPT;
 * Percent never decreasing within one stay in a phase; a step's journal record before the
 * command, transfer or query it starts, and every published percent on record first (but a
 * resumed record's own); never success when the revision did not change.
 */
#include "fuzz-common.h"

#include "dfota-error.h"
#include "dfota-job-machine.h"

#define REV_FROM "BC65JAR01A01"
#define REV_TO "BC65JAR01A02"

typedef struct {
	gboolean accepted;
	guint finished;
	char phase[32];
	guint percent;
} Watch;

static void
check(const DfotaJobMachine *m, GArray *fx, Watch *w, gboolean resumed)
{
	gboolean journalled = FALSE, progressed = FALSE;

	for (guint i = 0; i < fx->len; i++) {
		const DfotaJmEffect *e = &g_array_index(fx, DfotaJmEffect, i);

		switch (e->type) {
		case DFOTA_JM_FX_ACCEPT:
			/* Held URCs replayed at once may hold a second job after the first ended. */
			FUZZ_CHECK(!w->accepted || w->finished == 1, "accepted while a job runs");
			w->accepted = TRUE;
			w->finished = 0;
			w->phase[0] = '\0';
			w->percent = 0;
			break;
		case DFOTA_JM_FX_JOURNAL_JOB:
			FUZZ_CHECK(w->accepted, "journal before accept");
			journalled = TRUE;
			break;
		case DFOTA_JM_FX_JOURNAL_PROGRESS:
			progressed = TRUE;
			break;
		case DFOTA_JM_FX_PROGRESS:
			FUZZ_CHECK(w->accepted, "progress before accept");
			FUZZ_CHECK(resumed || journalled || progressed,
			           "progress %s:%u not on record", e->phase, e->percent);
			FUZZ_CHECK(strcmp(w->phase, e->phase) != 0 || e->percent >= w->percent,
			           "%s went from %u to %u", e->phase, w->percent, e->percent);
			g_strlcpy(w->phase, e->phase, sizeof(w->phase));
			w->percent = e->percent;
			break;
		case DFOTA_JM_FX_SEND_COMMAND:
		case DFOTA_JM_FX_HOST_FETCH:
		case DFOTA_JM_FX_HOST_UPLOAD:
		case DFOTA_JM_FX_QUERY_REVISION:
			FUZZ_CHECK(!w->accepted || journalled, "effect %d before its record",
			           e->type);
			break;
		case DFOTA_JM_FX_FINISH: {
			gboolean success = FALSE;
			const char *from = "", *to = "", *kind = "";

			FUZZ_CHECK(w->accepted, "finish without accept");
			w->finished++;
			FUZZ_CHECK(w->finished == 1, "finished %u times", w->finished);
			g_variant_lookup(e->result, "success", "b", &success);
			g_variant_lookup(e->result, "from-revision", "&s", &from);
			g_variant_lookup(e->result, "to-revision", "&s", &to);
			g_variant_lookup(e->result, "kind", "&s", &kind);
			FUZZ_CHECK(!success || strcmp(kind, "fetch-mcu-file") == 0 || !*from ||
			                   strcmp(from, to) != 0,
			           "success from %s to %s", from, to);
			break;
		}
		default:
			break;
		}
	}
	FUZZ_CHECK(m->job || !w->accepted || w->finished == 1, "job gone without Finished");
}

static const char *const urcs[] = {
	"+QIND: \"FOTA\",\"HTTPSTART\"",     "+QIND: \"FOTA\",\"DOWNLOADING\",%u%%",
	"+QIND: \"FOTA\",\"HTTPEND\",%u",    "+QIND: \"FOTA\",\"START\"",
	"+QIND: \"FOTA\",\"UPDATING\",%u%%", "+QIND: \"FOTA\",\"END\",%u",
	"+QIND: \"FOTA\",\"RESTORE\"",       "+QIND: \"FOTA\",\"HTTPEND\",0",
	"+QIND: \"FOTA\",\"END\",0",         "+QIND: \"FOTA\",\"UPDATING\",100",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const DfotaJobMachineConfig cfg = { 600, 300, 180 };
	DfotaJobMachine m;
	GArray *fx;
	Watch w = { 0 };
	guint64 id = 1;

	if (size == 0)
		return 0;
	fx = dfota_job_machine_effects_new();
	dfota_job_machine_init(&m, &cfg);
	for (size_t i = 0; i < size && i < 512; i++) {
		DfotaJmEvent ev = { .now = (gint64)i, .revision = REV_FROM, .sub_edition = "" };
		DfotaFotaUrc u = { 0 };
		g_autoptr(GError) error = NULL;
		g_autofree char *line = NULL;
		guint arg = data[i] >> 5; /* 0..7 */
		gboolean resumed = FALSE;

		g_array_set_size(fx, 0);
		if (i == 0) {
			switch (data[0] % 9) {
			case 6:
				ev.type = DFOTA_JM_EV_URC;
				g_assert(dfota_fota_urc_parse("+QIND: \"FOTA\",\"START\"", &u));
				ev.urc = &u;
				ev.id = id++;
				break;
			case 7:
			case 8:
				ev.type = DFOTA_JM_EV_RESUME;
				ev.job = dfota_job_new(arg & 1 ? DFOTA_JOB_KIND_UPGRADE_VIA_HOST
				                               : DFOTA_JOB_KIND_UPGRADE,
				                       "http://h/p");
				ev.job->id = 9;
				ev.job->step = (DfotaJobStep)(arg % (DFOTA_JOB_STEP_VERIFYING + 1));
				g_free(ev.job->from_revision);
				ev.job->from_revision = g_strdup(REV_FROM);
				ev.job->end_seen = data[0] % 9 == 8;
				resumed = TRUE;
				break;
			default:
				ev.type = DFOTA_JM_EV_START;
				ev.kind = (DfotaJobKind)(data[0] % 6 % 5);
				ev.source = "http://h/p.pack";
				ev.module_answers = TRUE;
				ev.fallback_via_host = arg & 1;
				ev.sha256 = arg & 2 ? "aa" : NULL;
				ev.id = id++;
				break;
			}
		} else {
			switch (data[i] % 24) {
			case 0 ... 9:
				/* urcs[] holds literal formats, each with at most one "%u". */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
				line = g_strdup_printf(urcs[data[i] % 10],
				                       data[i] % 10 == 2 || data[i] % 10 == 5
				                               ? (arg ? 6500 + arg : 702)
				                               : arg * 15);
#pragma GCC diagnostic pop
				g_assert(dfota_fota_urc_parse(line, &u));
				ev.type = DFOTA_JM_EV_URC;
				ev.urc = &u;
				ev.id = id++;
				break;
			case 10:
				ev.type = DFOTA_JM_EV_PREFLIGHT_DONE;
				ev.ok = arg != 0;
				break;
			case 11:
				ev.type = DFOTA_JM_EV_COMMAND_REPLY;
				ev.ok = arg != 0;
				ev.code = arg ? -1 : 6503;
				break;
			case 12:
				ev.type = DFOTA_JM_EV_BOOT_LINE;
				break;
			case 13:
				ev.type = DFOTA_JM_EV_INITIALIZED;
				break;
			case 14:
				ev.type = DFOTA_JM_EV_TIMER;
				ev.module_answers = arg & 1;
				break;
			case 15:
				ev.type = DFOTA_JM_EV_TTY_LOST;
				break;
			case 16:
				ev.type = DFOTA_JM_EV_REVISION;
				ev.ok = arg != 0;
				ev.revision = arg & 1 ? REV_TO : REV_FROM;
				break;
			case 17:
				ev.type = DFOTA_JM_EV_HOST_PROGRESS;
				ev.done = arg;
				ev.total = 7;
				break;
			case 18:
				ev.type = DFOTA_JM_EV_FETCH_DONE;
				ev.ok = arg != 0;
				ev.digest = arg & 1 ? "aa" : "bb";
				break;
			case 19:
				ev.type = DFOTA_JM_EV_UPLOAD_DONE;
				ev.ok = arg != 0;
				break;
			case 20:
				ev.type = DFOTA_JM_EV_MCU_STAT;
				ev.ok = arg != 0;
				ev.size = arg;
				break;
			case 21:
				ev.type = DFOTA_JM_EV_DELETE_DONE;
				ev.ok = arg & 1;
				break;
			case 22:
				if (arg & 1) {
					/* the journal opens with no record: held URCs are followed */
					ev.type = DFOTA_JM_EV_RESUME;
					ev.module_answers = arg & 2;
					ev.id = id++;
				} else if (arg & 2) {
					ev.type = DFOTA_JM_EV_HOLD_EXPIRED;
				} else {
					ev.type = DFOTA_JM_EV_MODULE_LINE;
					ev.line = "APP RDY";
				}
				break;
			default:
				ev.type = DFOTA_JM_EV_START;
				ev.kind = DFOTA_JOB_KIND_UPGRADE_LOCAL;
				ev.source = "UFS:fota.pack";
				ev.module_answers = TRUE;
				break;
			}
			if ((ev.type == DFOTA_JM_EV_PREFLIGHT_DONE ||
			     ev.type == DFOTA_JM_EV_COMMAND_REPLY ||
			     ev.type == DFOTA_JM_EV_REVISION || ev.type == DFOTA_JM_EV_FETCH_DONE ||
			     ev.type == DFOTA_JM_EV_UPLOAD_DONE) &&
			    !ev.ok)
				error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT, "failed");
			ev.error = error;
		}
		dfota_job_machine_step(&m, &ev, fx);
		check(&m, fx, &w, resumed);
		dfota_fota_urc_clear(&u);
		if (!m.job && w.accepted)
			break;
	}
	dfota_job_machine_clear(&m);
	g_array_unref(fx);
	return 0;
}
